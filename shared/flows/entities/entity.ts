import type { z } from 'zod';
import type { StoredTenant, TenantConfig } from '../../config/tenant.ts';
import type { WriteBackDeps } from '../write-back.ts';
import type { ParsedRow } from '../../domain/customer.ts';
import type { NamedValue } from '../../domain/custom-fields.ts';
import type { EvidenceGroup } from '../../domain/upsert-decision.ts';
import { foldName, nameSearchTerm, normaliseName } from '../../domain/text.ts';
import { contentHash } from '../../domain/content-hash.ts';
import type { PipedriveClient, PipedriveCollection, RemoteRecord } from '../../ports/pipedrive.ts';
import type { BrowseFilter, QadClient } from '../../ports/qad.ts';
import type { EntityName, KeyMap } from '../../ports/index.ts';
import type { EntityNames } from '../registry.ts';

/** A POST / PATCH body: entity fields, and custom fields by code. */
export type PipedriveBody = { custom_fields?: Record<string, unknown> } & Record<string, unknown>;

/** Looks up what another entity's sync already mapped, e.g. a contact's organization. */
export interface MappedLookup {
  pipedriveId(entity: EntityName, qadKey: string): Promise<number | undefined>;
}

/**
 * Everything that differs between customers -> organizations, contacts -> persons and
 * items -> products: its names (one row of the entity registry) and its behaviour. The poll and
 * write flows are written once against this. `R` is the parsed QAD record; `Ctx` what the payload
 * needs from other syncs (a person's organization id).
 */
export interface SyncEntity<R, Ctx> extends EntityNames {
  recordSchema: z.ZodType<R>;

  /** Pages of raw QAD rows changed on or after `since` (every row when undefined). */
  readChanged(qad: QadClient, config: TenantConfig, since: string | undefined): AsyncGenerator<unknown[]>;
  parse(row: unknown): ParsedRow<R>;
  /** Why a valid record does not sync under the tenant's rules (e.g. an inactive contact). */
  exclusion?(record: R, config: TenantConfig): string | undefined;
  key(record: R): string;
  /** The hash of what would be written: unchanged -> zero Pipedrive calls. */
  hash(record: R, config: TenantConfig): string;

  /** The tenant's mapped fields for this record, by Pipedrive field name (config mapping.fields); part of the hash. */
  mappedValues(record: R, config: TenantConfig): NamedValue[];
  /** The custom field holding the QAD key, or undefined where a standard field (product code) holds it. */
  keyFieldName(config: TenantConfig): string | undefined;
  /**
   * The record this one is written inside (a person's organization). Its Pipedrive id is part of the
   * hash the poll compares, so a record whose organization was written again elsewhere is sent again.
   */
  dependency?: { entity: EntityName; key(record: R): string };
  /** What the payload needs from other syncs; throws WaitForDependency until it exists. */
  context(record: R, lookup: MappedLookup): Promise<Ctx>;
  payload(record: R, keyFieldCode: string | undefined, context: Ctx, config: TenantConfig): PipedriveBody;
  /** After the Pipedrive record is written and before it is recorded (keys both ways: customers). */
  afterWrite?(
    deps: WriteBackDeps,
    tenant: StoredTenant,
    record: R,
    pipedriveId: number,
    delivery: { attempt: number; messageId: string },
  ): Promise<void>;
  /**
   * A part of the payload Pipedrive refused that may be left out (a price in a currency the company
   * lacks): the payload without it, and what was left out, named once per tenant. Undefined: not such a refusal.
   */
  withoutRefused?(payload: PipedriveBody, error: unknown): { payload: PipedriveBody; leftOut: string } | undefined;
  /** A Pipedrive id the QAD record already holds (a customer's write-back field): evidence before any search. */
  recordedId?(record: R, config: TenantConfig): number | undefined;
  keyValueOf(remote: RemoteRecord, keyFieldCode: string | undefined): string | null;
  /** Tokens a listed Pipedrive record can be matched on (a normalised name; an email within an organization). */
  listingTokens(remote: RemoteRecord): string[];
  /** The same tokens for a QAD record, grouped by kind of evidence in the order they count. */
  evidence(record: R, context: Ctx): Array<{ via: string; tokens: string[]; possibleDuplicate?: boolean }>;
  /** Searches when no fresh listing can decide. Errors propagate: a failed search is "try later". */
  search(
    pipedrive: PipedriveClient,
    record: R,
    context: Ctx,
    keyFieldCode: string | undefined,
  ): Promise<{ byKey: number[]; evidence: EvidenceGroup[] }>;
}

/**
 * Reads one QAD browse to its end. A browse with a unique key is read by key (`key gt last`, page 1
 * each time): by page number, a row deleted during the read shifts the next page and hides a row.
 */
export async function* browsePages(
  qad: QadClient,
  source: { browsePath: string; browseId: string; pageSize: number; keyField?: string | null },
  filters: BrowseFilter[],
): AsyncGenerator<unknown[]> {
  const MAX_PAGES = 100_000;
  const { keyField } = source;
  let after: string | undefined;
  /** Rows without a key (broken ones) come back on every page of a keyed read: each is passed on once. */
  const keyless = new Set<string>();
  for (let page = 1, hasMore = true; hasMore; page++) {
    if (page > MAX_PAGES) throw new Error(`QAD kept reporting more pages after ${MAX_PAGES}`);
    const byKey = keyField && after !== undefined ? [{ field: keyField, op: 'gt' as const, value: after }] : [];
    const result = await qad.browse({
      path: source.browsePath,
      browseId: source.browseId,
      page: keyField ? 1 : page,
      pageSize: source.pageSize,
      filters: [...filters, ...byKey],
    });
    hasMore = result.hasMore;
    if (!keyField) {
      yield result.rows;
      continue;
    }
    const keys = result.rows.map((row) => keyOf(row, keyField)).filter((k) => k !== undefined);
    if (!keys.every((k, i) => (i === 0 ? after === undefined || k > after : k >= keys[i - 1]!)))
      throw new Error(
        `QAD browse ${source.browseId} does not return its rows in ascending ${keyField} order, so it cannot be read by key; ` +
          'set its keyField to null in the tenant config to read it by page number',
      );
    yield result.rows.filter((row) => keyOf(row, keyField) !== undefined || firstTime(keyless, JSON.stringify(row)));
    // A page of keyless rows only cannot move the read on.
    if (keys.length === 0) return;
    after = keys.at(-1);
  }
}

function keyOf(row: unknown, field: string): string | undefined {
  const value = row !== null && typeof row === 'object' ? (row as Record<string, unknown>)[field] : undefined;
  return typeof value === 'string' || typeof value === 'number' ? String(value) : undefined;
}

function firstTime(seen: Set<string>, id: string): boolean {
  if (seen.has(id)) return false;
  seen.add(id);
  return true;
}

export function changedSinceFilter(field: string, since: string | undefined): BrowseFilter[] {
  return since ? [{ field, op: 'ge', value: since }] : [];
}

/** Listing tokens of a name (within a scope such as an organization): the same name, and a near-identical one. */
export const nameTokens = (scope: string, name: string): { same: string; near: string } => ({
  same: `${scope}name:${normaliseName(name)}`,
  near: `${scope}near:${foldName(name)}`,
});

/** The name evidence of a record, matching the listing's tokens: the same name, then a near-identical one for a person to judge. */
export function nameEvidence(
  scope: string,
  name: string,
  where = '',
): Array<{ via: string; tokens: string[]; possibleDuplicate?: boolean }> {
  const tokens = nameTokens(scope, name);
  return [
    { via: `name${where}`, tokens: [tokens.same] },
    { via: `near-identical name${where}`, tokens: [tokens.near], possibleDuplicate: true },
  ];
}

/**
 * Searches by name and decides locally, as the listing does: Pipedrive's exact_match compares raw
 * strings, so a name differing in spacing or composition would be missed (and created twice).
 */
export async function searchByName(
  pipedrive: PipedriveClient,
  collection: PipedriveCollection,
  name: string,
  where = '',
  organizationId?: number,
): Promise<EvidenceGroup[]> {
  const term = nameSearchTerm(name);
  const hits = await pipedrive.search(collection, {
    term: term ?? name,
    fields: 'name',
    exactMatch: term === undefined,
    ...(organizationId !== undefined && { organizationId }),
  });
  const candidates = (same: (hit: string) => boolean) => hits.filter((h) => same(h.name)).map((h) => ({ id: h.id, keyValue: null }));
  return [
    { via: `name${where}`, candidates: candidates((n) => normaliseName(n) === normaliseName(name)) },
    { via: `near-identical name${where}`, candidates: candidates((n) => foldName(n) === foldName(name)), possibleDuplicate: true },
  ];
}

/** A record's hash with the Pipedrive id of the record it is written inside (undefined while that is not mapped). */
export const hashWithDependency = (hash: string, dependencyId: number | undefined): string => contentHash([hash, dependencyId ?? null]);

/**
 * The hashes messages carry for these records: the content hash, with the Pipedrive id of what each
 * depends on folded in (a person moves when its organization is replaced). The poll and a replay's
 * re-read hash alike, so a replayed record compares with what was audited.
 */
export async function messageHashes<R, Ctx>(
  keyMap: Pick<KeyMap, 'getMany'>,
  entity: SyncEntity<R, Ctx>,
  tenant: StoredTenant,
  records: readonly R[],
): Promise<string[]> {
  const hashes = records.map((r) => entity.hash(r, tenant.config));
  if (!entity.dependency) return hashes;
  const { entity: on, key: keyOf } = entity.dependency;
  const mapped = await keyMap.getMany(tenant.config.tenantId, on, [...new Set(records.map(keyOf))]);
  return hashes.map((hash, i) => hashWithDependency(hash, mapped.get(keyOf(records[i]!))?.pipedriveId));
}
