/**
 * Generic state for the simulator: an entity store (records with standard attributes and custom field
 * values, plus the versions search sees) and a field registry per entity (standard and custom fields).
 * Entity-specific behaviour lives in entities.ts.
 */
import { createHash } from 'node:crypto';
import { validationError } from './http.ts';

export interface FieldOption {
  id: number;
  label: string;
}

export interface FieldSubfield {
  field_code: string;
  field_name: string;
  field_type: string;
}

export interface FieldDefinition {
  field_code: string;
  field_name: string;
  field_type: string;
  options: FieldOption[] | null;
  subfields: FieldSubfield[] | null;
  is_custom_field: boolean;
  is_optional_response_field: boolean;
}

/** One version of a record as search sees it. */
interface RecordVersion {
  atMs: number;
  attrs: Record<string, unknown>;
  custom: Record<string, unknown>;
}

export interface StoredRecord {
  id: number;
  /** add_time (may be set by the create body) */
  addTimeMs: number;
  /** update_time, bumped on every change */
  updatedMs: number;
  /** standard attributes (name, owner_id, address, ...) */
  attrs: Record<string, unknown>;
  /** custom field values that are set (code -> value); unset codes are absent */
  custom: Record<string, unknown>;
  /** versions, oldest first, for search with indexing lag */
  versions: RecordVersion[];
}

/** A record that is no longer there: deleted by a person, or merged into another (`mergedInto`). */
export interface GoneRecord {
  mergedInto?: number;
}

export class EntityStore {
  private readonly records = new Map<number, StoredRecord>();
  private readonly removed = new Map<number, GoneRecord>();
  private nextId = 1;

  create(attrs: Record<string, unknown>, custom: Record<string, unknown>, nowMs: number, addTimeMs?: number): StoredRecord {
    const record: StoredRecord = {
      id: this.nextId++,
      addTimeMs: addTimeMs ?? nowMs,
      updatedMs: nowMs,
      attrs: { ...attrs },
      custom: stripNulls(custom),
      versions: [],
    };
    record.versions.push(snapshot(record, nowMs));
    this.records.set(record.id, record);
    return record;
  }

  update(record: StoredRecord, attrs: Record<string, unknown>, custom: Record<string, unknown>, nowMs: number): StoredRecord {
    Object.assign(record.attrs, attrs);
    for (const [code, value] of Object.entries(custom)) {
      if (value === null) delete record.custom[code];
      else record.custom[code] = value;
    }
    record.updatedMs = nowMs;
    record.versions.push(snapshot(record, nowMs));
    return record;
  }

  get(id: number): StoredRecord | undefined {
    return this.records.get(id);
  }

  /** Removes a record from every read, list and search; `gone` remembers how it went. */
  remove(id: number, mergedInto?: number): void {
    if (!this.records.delete(id)) throw new Error(`no record ${id} to remove`);
    this.removed.set(id, mergedInto === undefined ? {} : { mergedInto });
  }

  gone(id: number): GoneRecord | undefined {
    return this.removed.get(id);
  }

  all(): StoredRecord[] {
    return [...this.records.values()];
  }

  /**
   * The record as search sees it at `cutoffMs` (changes after the cutoff are not indexed yet),
   * or undefined when it was created after the cutoff.
   */
  indexedVersion(record: StoredRecord, cutoffMs: number): { attrs: Record<string, unknown>; custom: Record<string, unknown> } | undefined {
    let found: RecordVersion | undefined;
    let foundAt = -1;
    record.versions.forEach((version, i) => {
      if (version.atMs <= cutoffMs) {
        found = version;
        foundAt = i;
      }
    });
    // older versions can never be seen again once a newer one is visible (time only moves forward)
    if (foundAt > 0) record.versions.splice(0, foundAt);
    return found;
  }
}

function stripNulls(values: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== null && v !== undefined));
}

function snapshot(record: StoredRecord, atMs: number): RecordVersion {
  return { atMs, attrs: structuredClone(record.attrs), custom: structuredClone(record.custom) };
}

// ---------------------------------------------------------------------------------------------
// Field definitions

export class FieldRegistry {
  private readonly custom: FieldDefinition[] = [];
  private sequence = 0;

  constructor(
    private readonly entity: string,
    private readonly standard: readonly FieldDefinition[],
    /** option ids are unique across the company, as in Pipedrive, so the sim hands out one counter */
    private readonly allocateOptionId: () => number,
    /** makes field codes differ per company, as Pipedrive's hashes do */
    private readonly companySalt = '',
  ) {}

  all(): FieldDefinition[] {
    return [...this.standard, ...this.custom];
  }

  customFields(): FieldDefinition[] {
    return [...this.custom];
  }

  customCodes(): string[] {
    return this.custom.map((f) => f.field_code);
  }

  byCode(code: string): FieldDefinition | undefined {
    return this.custom.find((f) => f.field_code === code);
  }

  /** Adds a custom field. Duplicate names are allowed, as in Pipedrive. */
  addCustom(def: { field_name: string; field_type: string; options?: readonly string[] }): FieldDefinition {
    this.sequence += 1;
    const code = createHash('sha1').update(`${this.companySalt}:${this.entity}:${this.sequence}:${def.field_name}`).digest('hex');
    const hasOptions = def.field_type === 'enum' || def.field_type === 'set';
    const field: FieldDefinition = {
      field_code: code,
      field_name: def.field_name,
      field_type: def.field_type,
      options: hasOptions ? (def.options ?? []).map((label) => ({ id: this.allocateOptionId(), label })) : null,
      subfields: null,
      is_custom_field: true,
      is_optional_response_field: false,
    };
    this.custom.push(field);
    return field;
  }

  /** Renames a custom field (a person editing it in Pipedrive): its code and values stay. */
  rename(code: string, newName: string): FieldDefinition {
    const field = this.byCode(code);
    if (field === undefined) throw new Error(`no custom field ${code}`);
    field.field_name = newName;
    return field;
  }

  /** Deletes a custom field: its code is gone, writes naming it are refused, reads no longer show it. */
  remove(code: string): boolean {
    const index = this.custom.findIndex((f) => f.field_code === code);
    if (index < 0) return false;
    this.custom.splice(index, 1);
    return true;
  }

  /** Removes one option of an enum or set field by label; answers whether it existed. */
  removeOption(code: string, label: string): boolean {
    const field = this.byCode(code);
    const before = field?.options?.length ?? 0;
    if (field?.options) field.options = field.options.filter((o) => o.label !== label);
    return (field?.options?.length ?? 0) < before;
  }

  /** Adds an option to an enum or set field; answers its id. */
  addOption(code: string, label: string): number {
    const field = this.byCode(code);
    if (field?.options == null) throw new Error(`field ${code} has no options`);
    const option = { id: this.allocateOptionId(), label };
    field.options.push(option);
    return option.id;
  }

  /**
   * Checks a `custom_fields` object from a request body: every key must be a custom field code of
   * this entity and every value must suit the field's type (null always clears).
   */
  checkCustomValues(values: Record<string, unknown>): Record<string, unknown> {
    for (const [code, value] of Object.entries(values)) {
      const field = this.byCode(code);
      if (field === undefined) throw validationError(`custom_fields.${code}: unknown custom field`);
      if (value === null) continue;
      const problem = customValueProblem(field, value);
      if (problem !== undefined) throw validationError(`custom_fields.${code}: ${problem}`);
    }
    return values;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIME = /^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$/;

function isDate(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  const m = DATE.exec(value);
  if (m === null) return false;
  const d = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().startsWith(value);
}

const ADDRESS_KEYS = new Set([
  'value',
  'country',
  'admin_area_level_1',
  'admin_area_level_2',
  'locality',
  'sublocality',
  'route',
  'street_number',
  'subpremise',
  'postal_code',
  'formatted_address',
]);

/** Why `value` does not suit the custom field, or undefined when it does. */
export function customValueProblem(field: FieldDefinition, value: unknown): string | undefined {
  const optionIds = new Set((field.options ?? []).map((o) => o.id));
  switch (field.field_type) {
    case 'varchar':
    case 'varchar_auto':
    case 'phone':
      if (typeof value !== 'string') return `must be a string for field type ${field.field_type}`;
      if (value.length > 255) return 'must be at most 255 characters';
      return undefined;
    case 'text':
      if (typeof value !== 'string') return 'must be a string for field type text';
      if (value.length > 65535) return 'must be at most 65535 characters';
      return undefined;
    case 'double':
      return typeof value === 'number' && Number.isFinite(value) ? undefined : 'must be a number for field type double';
    case 'monetary':
      if (!isRecord(value) || typeof value['value'] !== 'number' || !Number.isFinite(value['value'])) {
        return 'must be an object {value: number, currency: string} for field type monetary';
      }
      if (typeof value['currency'] !== 'string' || !/^[A-Z]{3}$/.test(value['currency']))
        return 'currency must be a 3-letter currency code';
      if (Object.keys(value).some((k) => k !== 'value' && k !== 'currency')) return 'monetary value accepts only value and currency';
      return undefined;
    case 'enum':
      if (typeof value !== 'number' || !Number.isInteger(value)) return 'must be an option id (integer) for field type enum';
      return optionIds.has(value) ? undefined : `option ${value} does not exist`;
    case 'set':
      if (!Array.isArray(value)) return 'must be an array of option ids for field type set';
      if (value.length === 0) return 'an empty array is not supported; send null to clear';
      for (const item of value) {
        if (typeof item !== 'number' || !Number.isInteger(item)) return 'must be an array of option ids (integers)';
        if (!optionIds.has(item)) return `option ${item} does not exist`;
      }
      return undefined;
    case 'date':
      return isDate(value) ? undefined : 'must be a date YYYY-MM-DD';
    case 'daterange':
      return isRecord(value) && isDate(value['start']) && isDate(value['until']) ? undefined : 'must be {start, until} dates YYYY-MM-DD';
    case 'time':
      return typeof value === 'string' && TIME.test(value) ? undefined : 'must be a time HH:MM or HH:MM:SS';
    case 'timerange':
      return isRecord(value) &&
        typeof value['start'] === 'string' &&
        TIME.test(value['start']) &&
        typeof value['until'] === 'string' &&
        TIME.test(value['until'])
        ? undefined
        : 'must be {start, until} times HH:MM';
    case 'address':
      if (!isRecord(value) || typeof value['value'] !== 'string') return 'must be an object with a string value for field type address';
      for (const [k, v] of Object.entries(value)) {
        if (!ADDRESS_KEYS.has(k)) return `unknown address property '${k}'`;
        if (typeof v !== 'string') return `address.${k} must be a string`;
      }
      return undefined;
    case 'org':
    case 'people':
    case 'user':
      return typeof value === 'number' && Number.isInteger(value) && value > 0
        ? undefined
        : `must be a positive integer id for field type ${field.field_type}`;
    default:
      return undefined;
  }
}

/** The string(s) search can match for a custom field value, by field type (others are not searchable). */
export function searchableCustomText(field: FieldDefinition, value: unknown): string | undefined {
  switch (field.field_type) {
    case 'varchar':
    case 'varchar_auto':
    case 'text':
    case 'phone':
      return typeof value === 'string' ? value : undefined;
    case 'double':
      return typeof value === 'number' ? String(value) : undefined;
    case 'monetary':
      return isRecord(value) && typeof value['value'] === 'number' ? String(value['value']) : undefined;
    case 'address':
      return isRecord(value) && typeof value['value'] === 'string' ? value['value'] : undefined;
    default:
      return undefined;
  }
}
