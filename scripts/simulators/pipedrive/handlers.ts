/**
 * Generic handlers for an entity: list, get, create, patch, search, and its field definitions
 * (list, create). Parameters and bodies arrive validated against the spec (spec.ts); these add the
 * rules the spec does not express (limits, custom field values, search term length, ...).
 */
import type { EntityDef } from './entities.ts';
import { decodeCursor, encodeCursor, gone, notFound, parseRfc3339, validationError } from './http.ts';
import type { ParsedParams } from './spec.ts';
import { EntityStore, FieldRegistry, searchableCustomText, type FieldDefinition, type StoredRecord } from './store.ts';

export const LIST_LIMIT_DEFAULT = 100;
export const LIST_LIMIT_MAX = 500;
/** Search wraps itemSearch, whose limit is 100 at most (pipedrive.md); the stricter of the two sources. */
export const SEARCH_LIMIT_MAX = 100;
export const IDS_MAX = 100;
export const CUSTOM_FIELDS_PARAM_MAX = 15;

export interface Envelope {
  success: true;
  data: unknown;
  additional_data?: Record<string, unknown>;
}

export interface EntityRuntime<TApi extends object> {
  def: EntityDef<TApi>;
  store: EntityStore;
  fields: FieldRegistry;
}

export interface HandlerContext {
  nowMs: number;
  searchLagMs: number;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function limitOf(params: ParsedParams, max: number): number {
  const limit = params['limit'];
  if (limit === undefined) return Math.min(LIST_LIMIT_DEFAULT, max);
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1) throw validationError('limit must be a positive integer');
  if (limit > max) throw validationError(`limit must be <= ${max}`);
  return limit;
}

function numberList(params: ParsedParams, name: string): number[] | undefined {
  const value = params[name];
  if (value === undefined) return undefined;
  const items = Array.isArray(value) ? value : [value];
  const out: number[] = [];
  for (const item of items) {
    const n = typeof item === 'number' ? item : typeof item === 'string' && /^\d+$/.test(item) ? Number(item) : Number.NaN;
    if (!Number.isInteger(n)) throw validationError(`${name} must be a comma-separated list of integers`);
    out.push(n);
  }
  return out;
}

function stringList(params: ParsedParams, name: string): string[] | undefined {
  const value = params[name];
  if (value === undefined) return undefined;
  return (Array.isArray(value) ? value : [value]).map(String);
}

/** Splits a create/patch body into standard attributes and custom field values, checking both. */
function splitBody<T extends object>(rt: EntityRuntime<T>, body: Record<string, unknown>, isCreate: boolean) {
  const { custom_fields: customRaw, add_time: addTimeRaw, ...attrs } = body;
  rt.def.checkAttrs(attrs, isCreate);
  let custom: Record<string, unknown> = {};
  if (customRaw !== undefined && customRaw !== null) {
    if (!isRecord(customRaw)) throw validationError('body.custom_fields must be object');
    custom = rt.fields.checkCustomValues(customRaw);
  }
  const addTimeMs = typeof addTimeRaw === 'string' ? parseRfc3339(addTimeRaw, 'body.add_time') : undefined;
  return { attrs, custom, addTimeMs };
}

function recordOr404<T extends object>(rt: EntityRuntime<T>, params: ParsedParams): StoredRecord {
  const id = params['id'];
  const record = typeof id === 'number' ? rt.store.get(id) : undefined;
  if (record !== undefined) return record;
  throw typeof id === 'number' && rt.store.gone(id)?.mergedInto !== undefined ? gone(rt.def.label) : notFound(rt.def.label);
}

function toApi<T extends object>(rt: EntityRuntime<T>, record: StoredRecord, onlyCustom?: readonly string[]): T {
  const codes = rt.fields.customCodes();
  return rt.def.toApi(record, onlyCustom === undefined ? codes : codes.filter((c) => onlyCustom.includes(c)));
}

function customFieldsParam<T extends object>(rt: EntityRuntime<T>, params: ParsedParams): string[] | undefined {
  const keys = stringList(params, 'custom_fields');
  if (keys !== undefined && keys.length > CUSTOM_FIELDS_PARAM_MAX) {
    throw validationError(`custom_fields accepts at most ${CUSTOM_FIELDS_PARAM_MAX} keys`);
  }
  return keys;
}

// ---------------------------------------------------------------------------------------------
// Records

type SortBy = 'id' | 'update_time' | 'add_time';

function sortValue(record: StoredRecord, sortBy: SortBy): number {
  // times compare at whole seconds, as the API shows them
  if (sortBy === 'update_time') return Math.floor(record.updatedMs / 1000);
  if (sortBy === 'add_time') return Math.floor(record.addTimeMs / 1000);
  return record.id;
}

export function listRecords<T extends object>(rt: EntityRuntime<T>, params: ParsedParams): Envelope {
  if (params['filter_id'] !== undefined) throw validationError('filter_id is not supported by the simulator');
  const limit = limitOf(params, LIST_LIMIT_MAX);
  const sortRaw = params['sort_by'] ?? 'id';
  if (sortRaw !== 'id' && sortRaw !== 'update_time' && sortRaw !== 'add_time') {
    throw validationError(`sort_by=${String(sortRaw)} is not supported by the simulator`);
  }
  const sortBy: SortBy = sortRaw;
  const direction = params['sort_direction'] === 'desc' ? 'desc' : 'asc';
  const onlyCustom = customFieldsParam(rt, params);

  let records = rt.store.all();
  const ids = numberList(params, 'ids');
  if (ids !== undefined) {
    if (ids.length > IDS_MAX) throw validationError(`ids accepts at most ${IDS_MAX} ids`);
    records = records.filter((r) => ids.includes(r.id));
  }
  const ownerId = params['owner_id'];
  if (typeof ownerId === 'number') records = records.filter((r) => r.attrs['owner_id'] === ownerId);
  const listFilter = rt.def.listFilter;
  if (listFilter !== undefined) records = records.filter((r) => listFilter.call(rt.def, r, params));
  const since = params['updated_since'];
  if (typeof since === 'string') {
    const sinceMs = parseRfc3339(since, 'updated_since');
    records = records.filter((r) => Math.floor(r.updatedMs / 1000) * 1000 >= sinceMs);
  }
  const until = params['updated_until'];
  if (typeof until === 'string') {
    const untilMs = parseRfc3339(until, 'updated_until');
    records = records.filter((r) => Math.floor(r.updatedMs / 1000) * 1000 < untilMs);
  }

  const sign = direction === 'asc' ? 1 : -1;
  const compare = (a: { v: number; id: number }, b: { v: number; id: number }): number => sign * (a.v - b.v || a.id - b.id);
  records.sort((a, b) => compare({ v: sortValue(a, sortBy), id: a.id }, { v: sortValue(b, sortBy), id: b.id }));

  // keyset cursor: the sort key of the first item of the next page
  if (typeof params['cursor'] === 'string') {
    const c = decodeCursor(params['cursor']);
    if (c['field'] !== sortBy || c['sortDirection'] !== direction || typeof c['fieldValue'] !== 'number' || typeof c['id'] !== 'number') {
      throw validationError('cursor does not match sort_by and sort_direction');
    }
    const marker = { v: c['fieldValue'], id: c['id'] };
    records = records.filter((r) => compare({ v: sortValue(r, sortBy), id: r.id }, marker) >= 0);
  }

  const page = records.slice(0, limit);
  const next = records[limit];
  return {
    success: true,
    data: page.map((r) => toApi(rt, r, onlyCustom)),
    additional_data: {
      next_cursor:
        next === undefined
          ? null
          : encodeCursor({ field: sortBy, fieldValue: sortValue(next, sortBy), sortDirection: direction, id: next.id }),
    },
  };
}

export function getRecord<T extends object>(rt: EntityRuntime<T>, params: ParsedParams): Envelope {
  return { success: true, data: toApi(rt, recordOr404(rt, params), customFieldsParam(rt, params)) };
}

export function createRecord<T extends object>(rt: EntityRuntime<T>, body: Record<string, unknown>, ctx: HandlerContext): Envelope {
  const { attrs, custom, addTimeMs } = splitBody(rt, body, true);
  const prepared = rt.def.prepareAttrs?.(attrs, undefined, ctx.nowMs) ?? attrs;
  const record = rt.store.create({ ...rt.def.defaults(), ...prepared }, custom, ctx.nowMs, addTimeMs);
  return { success: true, data: toApi(rt, record) };
}

export function patchRecord<T extends object>(
  rt: EntityRuntime<T>,
  params: ParsedParams,
  body: Record<string, unknown>,
  ctx: HandlerContext,
): Envelope {
  const record = recordOr404(rt, params);
  const { attrs, custom } = splitBody(rt, body, false);
  rt.store.update(record, rt.def.prepareAttrs?.(attrs, record.attrs, ctx.nowMs) ?? attrs, custom, ctx.nowMs);
  return { success: true, data: toApi(rt, record) };
}

// ---------------------------------------------------------------------------------------------
// Search

export function searchRecords<T extends object>(rt: EntityRuntime<T>, params: ParsedParams, ctx: HandlerContext): Envelope {
  const term = typeof params['term'] === 'string' ? params['term'].trim() : '';
  const exact = params['exact_match'] === true;
  const minLength = exact ? 1 : 2;
  if (term.length < minLength)
    throw validationError(`term must be at least ${minLength} characters long${exact ? '' : ' (1 with exact_match)'}`);
  const limit = limitOf(params, SEARCH_LIMIT_MAX);
  const fields = stringList(params, 'fields') ?? [...rt.def.searchFields];
  const needle = term.toLowerCase();
  const matches = (text: string): boolean => (exact ? text.toLowerCase() === needle : text.toLowerCase().includes(needle));
  const score = (text: string): number =>
    text.toLowerCase() === needle ? 1 : Math.round((needle.length / Math.max(text.length, 1)) * 1000) / 1000;

  const cutoffMs = ctx.nowMs - ctx.searchLagMs;
  const customFields = rt.fields.customFields();
  const hits: Array<{ score: number; item: Record<string, unknown> }> = [];
  for (const record of rt.store.all()) {
    const view = rt.store.indexedVersion(record, cutoffMs);
    if (view === undefined) continue;
    if (rt.def.searchFilter !== undefined && !rt.def.searchFilter(view.attrs, params)) continue;
    let best = 0;
    const texts = rt.def.searchText(view.attrs);
    for (const field of fields) {
      const value = texts[field];
      const list: readonly string[] = value === undefined ? [] : typeof value === 'string' ? [value] : value;
      for (const text of list) if (matches(text)) best = Math.max(best, score(text));
    }
    const matchedCustom: string[] = [];
    if (fields.includes('custom_fields')) {
      for (const field of customFields) {
        const text = searchableCustomText(field, view.custom[field.field_code]);
        if (text !== undefined && matches(text)) {
          matchedCustom.push(text);
          best = Math.max(best, score(text));
        }
      }
    }
    if (best > 0) hits.push({ score: best, item: rt.def.searchItem(record, view, matchedCustom) });
  }
  hits.sort((a, b) => b.score - a.score || Number(a.item['id']) - Number(b.item['id']));

  const offset = offsetCursor(params);
  const page = hits.slice(offset, offset + limit);
  const nextOffset = offset + limit;
  return {
    success: true,
    data: { items: page.map((h) => ({ result_score: h.score, item: h.item })) },
    additional_data: { next_cursor: nextOffset < hits.length ? encodeCursor({ offset: nextOffset }) : null },
  };
}

function offsetCursor(params: ParsedParams): number {
  if (typeof params['cursor'] !== 'string') return 0;
  const offset = decodeCursor(params['cursor'])['offset'];
  if (typeof offset !== 'number' || !Number.isInteger(offset) || offset < 0) throw validationError('cursor is invalid');
  return offset;
}

// ---------------------------------------------------------------------------------------------
// Field definitions

export function listFields<T extends object>(rt: EntityRuntime<T>, params: ParsedParams): Envelope {
  const limit = limitOf(params, LIST_LIMIT_MAX);
  const all = rt.fields.all();
  const offset = offsetCursor(params);
  const page = all.slice(offset, offset + limit);
  return {
    success: true,
    data: page.map((f) => structuredClone(f)),
    additional_data: { next_cursor: offset + limit < all.length ? encodeCursor({ offset: offset + limit }) : null },
  };
}

export function createField<T extends object>(rt: EntityRuntime<T>, body: Record<string, unknown>): Envelope {
  const fieldName = body['field_name'];
  const fieldType = body['field_type'];
  if (typeof fieldName !== 'string' || typeof fieldType !== 'string') throw validationError('field_name and field_type are required');
  if (fieldName.trim().length === 0) throw validationError('body.field_name must not be empty');
  const rawOptions = Array.isArray(body['options']) ? body['options'] : undefined;
  const labels = rawOptions?.map((o) => (isRecord(o) && typeof o['label'] === 'string' ? o['label'] : ''));
  const needsOptions = fieldType === 'enum' || fieldType === 'set';
  if (needsOptions && (labels === undefined || labels.length === 0)) {
    throw validationError(`options are required for field type ${fieldType}`);
  }
  if (!needsOptions && labels !== undefined) throw validationError(`options are only allowed for field types enum and set`);
  const field: FieldDefinition = rt.fields.addCustom({
    field_name: fieldName,
    field_type: fieldType,
    ...(labels ? { options: labels } : {}),
  });
  return { success: true, data: structuredClone(field) };
}
