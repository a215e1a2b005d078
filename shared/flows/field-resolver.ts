import type { FieldMappingEntry, QadSource } from '../config/field-mapping.ts';
import { ClaimHeldError, FieldDriftError, PermanentError } from '../domain/errors.ts';
import {
  checkFieldsExist,
  describeProblems,
  fieldDefinitionSchema,
  parseFieldList,
  readMappedValues,
  resolveFields,
  type FieldDefinition,
  type FieldProblem,
  type NamedValue,
  type ResolvedFields,
} from '../domain/custom-fields.ts';
import type { PipedriveClient, PipedriveFieldEntity } from '../ports/pipedrive.ts';
import type { AuditLog, Clock, EntityName, PollStateStore, Telemetry } from '../ports/index.ts';

/**
 * Field definitions per tenant and entity, per warm container, and the name -> code resolution on
 * top of them. The fields list costs 10 tokens, so it is read once and again only:
 * - on a miss (a mapped name or option not in the cached list), once;
 * - after a Pipedrive 400 that names a custom field (`invalidateFields`);
 * - when the cached list is older than MAX_AGE_MS (so a rename is noticed by a long-lived container).
 * A mapped field that still is not there after a fresh read is drift: the tenant's writes for that
 * entity are held (FieldDriftError), audited once and counted; never sent without the value.
 */

/** What resolving fields needs: this container's field cache, leases and marks in sync state, the audit, the clock, the drift metric. */
export interface FieldResolverDeps {
  fields: FieldCache;
  pollState: PollStateStore;
  audit: AuditLog;
  clock: Clock;
  telemetry: Telemetry;
}

const MAX_AGE_MS = 15 * 60_000;
const LEASE_MS = 30_000;

interface Cached {
  defs: FieldDefinition[];
  at: number;
  /** Which read of this container produced it: a write that failed on definitions read before it started may retry with fresh ones. */
  generation: number;
}

/**
 * One container's field state, built with its dependencies (never a module global): another container of the
 * same tenant, in Lambda or in the local run, reads the definitions and learns of a drift for itself.
 */
export interface FieldCache {
  /** The number of field lists this container has read so far. */
  reads: number;
  /** tenant|entity -> the definitions, or the read that will give them. */
  readonly definitions: Map<string, Promise<Cached>>;
  /** Reads in flight per tenant|entity: concurrent refreshes on a miss share one read. */
  readonly inflight: Map<string, Promise<Cached>>;
  /** tenant|entity -> the problems last reported, so a drift is audited once per container, not per record. */
  readonly drifted: Map<string, string>;
  /** Fields whose code is already remembered in DynamoDB (see `remember`). */
  readonly remembered: Set<string>;
  /** tenant|entity|name -> the key field's code (key-fields.ts). */
  readonly keyCodes: Map<string, string>;
}

export function createFieldCache(): FieldCache {
  return { reads: 0, definitions: new Map(), inflight: new Map(), drifted: new Map(), remembered: new Set(), keyCodes: new Map() };
}

/** The number of field lists this container has read so far. */
export const fieldReadGeneration = (fields: FieldCache): number => fields.reads;

/**
 * A field this container just created (or saw created) joins the cached definitions, so the other
 * writers of this container find it without another 10-token read.
 */
export async function addToCache(fields: FieldCache, tenantId: string, entity: PipedriveFieldEntity, field: unknown): Promise<void> {
  const parsed = fieldDefinitionSchema.safeParse(field);
  const key = `${tenantId}|${entity}`;
  const hit = fields.definitions.get(key);
  if (!parsed.success || !hit) return;
  const cached = await hit.catch(() => undefined);
  if (!cached || cached.defs.some((d) => d.field_code === parsed.data.field_code)) return;
  fields.definitions.set(key, Promise.resolve({ ...cached, defs: [...cached.defs, parsed.data] }));
}

/** What this container has cached of the entity's definitions, without reading anything ([] when nothing). */
async function cachedDefinitions(fields: FieldCache, tenantId: string, entity: PipedriveFieldEntity): Promise<FieldDefinition[]> {
  return (await fields.definitions.get(`${tenantId}|${entity}`)?.catch(() => undefined))?.defs ?? [];
}

/** Forget a tenant's cached definitions of one entity: the next resolution reads them again. */
export function invalidateFields(fields: FieldCache, tenantId: string, entity: PipedriveFieldEntity): void {
  fields.definitions.delete(`${tenantId}|${entity}`);
}

const auditEntity = (entity: PipedriveFieldEntity): EntityName => (entity === 'deal' ? 'salesOrder' : entity);

/**
 * The entity's field definitions, from the cache unless `fresh` or too old; `fetched` says whether
 * this call read them. `fresh: 'shared'` joins a read already in flight (a miss refresh);
 * `fresh: true` always starts one (under a lease, where only a read begun now will do).
 */
export async function fieldDefinitions(
  fields: FieldCache,
  tenantId: string,
  pipedrive: PipedriveClient,
  entity: PipedriveFieldEntity,
  now: () => number,
  fresh: boolean | 'shared' = false,
): Promise<{ defs: FieldDefinition[]; fetched: boolean; at: number; generation: number }> {
  const key = `${tenantId}|${entity}`;
  const { definitions: cache, inflight } = fields;
  const running = inflight.get(key);
  if (fresh === 'shared' && running) {
    const joined = await running;
    return { defs: joined.defs, fetched: true, at: joined.at, generation: joined.generation };
  }
  const hit = cache.get(key);
  if (hit && !fresh) {
    const cached = await hit.catch(() => undefined);
    if (cached && now() - cached.at < MAX_AGE_MS)
      return { defs: cached.defs, fetched: false, at: cached.at, generation: cached.generation };
  }
  const generation = ++fields.reads;
  const load = (async (): Promise<Cached> => {
    const defs = parseFieldList(await pipedrive.listFields(entity));
    return { defs, at: now(), generation };
  })();
  cache.set(key, load);
  inflight.set(key, load);
  void load
    .finally(() => {
      if (inflight.get(key) === load) inflight.delete(key);
    })
    .catch(() => undefined);
  try {
    const loaded = await load;
    return { defs: loaded.defs, fetched: true, at: loaded.at, generation: loaded.generation };
  } catch (error) {
    if (cache.get(key) === load) cache.delete(key);
    throw error;
  }
}

const scopeOf = (entity: PipedriveFieldEntity, name: string) => `field:${entity}:${name}`;

/**
 * Whether a create that failed may still land (a timeout, a lost answer, a 5xx: anything but a refusal). Its lease is
 * then left to expire instead of released: a writer taking it at once would not find the field in the list yet and
 * would make a second one.
 */
export const createMayStillLand = (error: unknown): boolean => !(error instanceof PermanentError);

/** The code this tenant's field of that name had when the connector last saw it, if ever. */
async function rememberedCode(
  deps: FieldResolverDeps,
  tenantId: string,
  entity: PipedriveFieldEntity,
  name: string,
): Promise<string | undefined> {
  return (await deps.pollState.get(tenantId, scopeOf(entity, name))).watermark;
}

/** Remembers that the field exists (its code), so that its disappearance later is drift, not "never there". */
async function remember(
  deps: FieldResolverDeps,
  tenantId: string,
  entity: PipedriveFieldEntity,
  codes: Record<string, string>,
): Promise<void> {
  for (const [name, code] of Object.entries(codes)) {
    const key = `${tenantId}|${entity}|${name}|${code}`;
    if (deps.fields.remembered.has(key)) continue;
    if ((await rememberedCode(deps, tenantId, entity, name)) !== code) {
      const owner = `remember-${deps.clock.now()}-${Math.random()}`;
      if (await deps.pollState.acquire(tenantId, scopeOf(entity, name), owner, LEASE_MS, deps.clock.now())) {
        await deps.pollState.finish(tenantId, scopeOf(entity, name), owner, {
          watermark: code,
          lastPolledAt: new Date(deps.clock.now()).toISOString(),
        });
      } else continue;
    }
    deps.fields.remembered.add(key);
  }
}

/**
 * Creates the mapped fields that are missing and have never existed in this company (their entry
 * allows it), once, under a DynamoDB lease per field so that concurrent writers never make two.
 * Under the lease the definitions are read again: a concurrent writer may just have made the field.
 * A field that existed once (a remembered code) and is gone is drift, never re-created.
 * Answers whether the caller should resolve again (a field was created or found under the lease).
 */
async function createNeverSeen(
  deps: FieldResolverDeps,
  tenantId: string,
  pipedrive: PipedriveClient,
  entity: PipedriveFieldEntity,
  problems: readonly FieldProblem[],
  entries: readonly FieldMappingEntry[],
): Promise<boolean> {
  let created = false;
  let again = false;
  for (const problem of problems) {
    if (problem.kind !== 'field-missing') continue;
    const entry = entries.find((e) => e.pipedrive === problem.field);
    if (!entry?.create) continue;
    const create = entry.create;
    const scope = scopeOf(entity, entry.pipedrive);
    const named = (defs: FieldDefinition[]) =>
      defs.find((d) => d.field_name === entry.pipedrive && d.is_custom_field !== false)?.field_code;
    let settled = false;
    for (let attempt = 0; attempt < 10 && !settled; attempt++) {
      const owner = `field-${process.pid}-${deps.clock.now()}-${Math.random()}`;
      if (await deps.pollState.acquire(tenantId, scope, owner, LEASE_MS, deps.clock.now())) {
        settled = true;
        let code: string | undefined;
        let creating = false;
        try {
          // Under the lease: this container's cache first (a writer here may just have made it), then a fresh read
          // (a writer elsewhere may have).
          code =
            named((await fieldDefinitions(deps.fields, tenantId, pipedrive, entity, () => deps.clock.now())).defs) ??
            named((await fieldDefinitions(deps.fields, tenantId, pipedrive, entity, () => deps.clock.now(), true)).defs);
          if (code) again = true;
          else if ((await rememberedCode(deps, tenantId, entity, entry.pipedrive)) !== undefined) {
            // It existed and is gone or renamed: drift, for a person to fix; never a second field.
            await deps.pollState.release(tenantId, scope, owner);
            break;
          } else {
            creating = true;
            const made = await pipedrive.createField(entity, {
              field_name: entry.pipedrive,
              field_type: create.type,
              ...(create.options && { options: create.options.map((label) => ({ label })) }),
            });
            creating = false;
            code = made.field_code;
            await addToCache(deps.fields, tenantId, entity, made);
            await deps.audit.record({
              tenantId,
              entity: auditEntity(entity),
              key: `field:${entry.pipedrive}`,
              action: 'field-created',
              reason: `created the ${entity} field "${entry.pipedrive}" (${create.type}, ${code}) for mapped QAD value ${entry.qad}`,
            });
            created = true;
            again = true;
          }
        } catch (error) {
          if (!creating || !createMayStillLand(error)) await deps.pollState.release(tenantId, scope, owner);
          throw error;
        }
        await deps.pollState.finish(tenantId, scope, owner, { watermark: code, lastPolledAt: new Date(deps.clock.now()).toISOString() });
        break;
      }
      await deps.clock.sleep(300);
      // Another writer holds the lease: once one of this container made the field, it is in the cache (no call needed).
      if (named(await cachedDefinitions(deps.fields, tenantId, entity))) settled = again = true;
    }
    // Still being created elsewhere: that is a wait, never drift (a held record would wait for a person for nothing).
    if (!settled)
      throw new ClaimHeldError(`the ${entity} field "${entry.pipedrive}" is being created by another writer`, LEASE_MS / 10_000);
  }
  return again || created;
}

/** Audits and counts a drift once per container and problem set; the held records are audited by the writer. */
async function reportDrift(
  deps: FieldResolverDeps,
  tenantId: string,
  entity: PipedriveFieldEntity,
  problems: readonly FieldProblem[],
  held?: number,
): Promise<void> {
  const signature = problems.map((p) => `${p.kind}:${p.field}:${p.message}`).join('|');
  const key = `${tenantId}|${entity}`;
  if (deps.fields.drifted.get(key) === signature && held === undefined) return;
  deps.fields.drifted.set(key, signature);
  deps.telemetry.fieldDrift(tenantId, entity);
  for (const p of problems) {
    await deps.audit.record({
      tenantId,
      entity: auditEntity(entity),
      key: `field:${p.field}`,
      action: 'drift',
      error: `${p.kind}: ${p.message}`,
      detail: { field: p.field, kind: p.kind, ...(held !== undefined && { recordsHeld: held }) },
      reason:
        `${entity} writes for this tenant are held${held !== undefined ? ` (${held} records held)` : ''} ` +
        `until the field "${p.field}" is fixed in Pipedrive or in mapping.fields.${entity}; nothing is written without it`,
    });
  }
}

async function reportCleared(deps: FieldResolverDeps, tenantId: string, entity: PipedriveFieldEntity): Promise<void> {
  const key = `${tenantId}|${entity}`;
  if (!deps.fields.drifted.has(key)) return;
  deps.fields.drifted.delete(key);
  await deps.audit.record({
    tenantId,
    entity: auditEntity(entity),
    key: '_fields',
    action: 'drift-cleared',
    reason: `the ${entity} field mapping resolves again; held records go through`,
  });
}

/**
 * Resolves a record's mapped values against the company's fields: cached definitions, one fresh
 * read on a miss, missing never-seen fields created once; else FieldDriftError (held, audited once).
 */
export async function resolveMappedFields(
  deps: FieldResolverDeps,
  tenantId: string,
  pipedrive: PipedriveClient,
  entity: PipedriveFieldEntity,
  entries: readonly FieldMappingEntry[],
  values: readonly NamedValue[],
  /** Definitions read after this read generation (e.g. by the key field's resolution in the same write) count as fresh. */
  freshAfterGeneration = Number.POSITIVE_INFINITY,
): Promise<{ fields: ResolvedFields; fetched: boolean; generation: number }> {
  const empty: ResolvedFields = { custom: {}, standard: {}, codes: {} };
  if (values.length === 0) return { fields: empty, fetched: false, generation: 0 };
  let { defs, fetched, generation } = await fieldDefinitions(deps.fields, tenantId, pipedrive, entity, () => deps.clock.now());
  fetched ||= generation > freshAfterGeneration;
  let result = resolveFields(defs, values);
  if (!result.ok && !fetched) {
    ({ defs, fetched, generation } = await fieldDefinitions(deps.fields, tenantId, pipedrive, entity, () => deps.clock.now(), 'shared'));
    result = resolveFields(defs, values);
  }
  if (!result.ok && (await createNeverSeen(deps, tenantId, pipedrive, entity, result.problems, entries))) {
    ({ defs, generation } = await fieldDefinitions(deps.fields, tenantId, pipedrive, entity, () => deps.clock.now()));
    result = resolveFields(defs, values);
  }
  if (!result.ok) {
    await reportDrift(deps, tenantId, entity, result.problems);
    throw new FieldDriftError(entity, describeProblems(entity, result.problems));
  }
  await remember(deps, tenantId, entity, result.fields.codes);
  await reportCleared(deps, tenantId, entity);
  return { fields: result.fields, fetched, generation };
}

/**
 * The poll's gate: do the mapped fields exist? Called once per poll and only when the poll has
 * changed records to send, it reads the definitions fresh (unless they were read since
 * `readSinceMs`, the poll's start), so a rename is noticed before anything is enqueued and
 * the writers of this container see it too. Writes nothing in Pipedrive: a field that never existed and may be created is
 * left to the writers. Answers the problems, [] when the entity may flow; the caller holds its
 * records and reports how many (`reportHeld`).
 */
export async function checkMappedFields(
  deps: FieldResolverDeps,
  tenantId: string,
  pipedrive: PipedriveClient,
  entity: PipedriveFieldEntity,
  entries: readonly FieldMappingEntry[],
  readSinceMs = Number.POSITIVE_INFINITY,
): Promise<FieldProblem[]> {
  if (entries.length === 0) return [];
  const names = entries.map((e) => e.pipedrive);
  const cached = await fieldDefinitions(deps.fields, tenantId, pipedrive, entity, () => deps.clock.now());
  const { defs } =
    cached.fetched || cached.at >= readSinceMs
      ? cached
      : await fieldDefinitions(deps.fields, tenantId, pipedrive, entity, () => deps.clock.now(), 'shared');
  const problems: FieldProblem[] = [];
  for (const problem of checkFieldsExist(defs, names)) {
    const entry = entries.find((e) => e.pipedrive === problem.field);
    const creatable =
      problem.kind === 'field-missing' &&
      entry?.create !== undefined &&
      (await rememberedCode(deps, tenantId, entity, problem.field)) === undefined;
    if (!creatable) problems.push(problem);
  }
  if (problems.length === 0) {
    const codes = Object.fromEntries(
      names.flatMap((n) => {
        const code = defs.find((d) => d.field_name === n && d.is_custom_field !== false)?.field_code;
        return code ? [[n, code]] : [];
      }),
    );
    await remember(deps, tenantId, entity, codes);
    await reportCleared(deps, tenantId, entity);
  }
  return problems;
}

/** Audits and counts a poll's hold with the number of records it kept back. */
export async function reportHeld(
  deps: FieldResolverDeps,
  tenantId: string,
  entity: PipedriveFieldEntity,
  problems: readonly FieldProblem[],
  held: number,
): Promise<void> {
  await reportDrift(deps, tenantId, entity, problems, held);
}

/** A deal's mapped values for its order, typed back from custom_fields; drift holds the deal. */
export async function readDealFields(
  deps: FieldResolverDeps,
  tenantId: string,
  pipedrive: PipedriveClient,
  entries: ReadonlyArray<FieldMappingEntry<'deal'>>,
  customFields: Record<string, unknown>,
): Promise<Partial<Record<QadSource<'deal'>, string>>> {
  if (entries.length === 0) return {};
  const first = await fieldDefinitions(deps.fields, tenantId, pipedrive, 'deal', () => deps.clock.now());
  let { defs } = first;
  const { fetched } = first;
  let read = readMappedValues(defs, customFields, entries);
  if (!read.ok && !fetched) {
    ({ defs } = await fieldDefinitions(deps.fields, tenantId, pipedrive, 'deal', () => deps.clock.now(), 'shared'));
    read = readMappedValues(defs, customFields, entries);
  }
  if (!read.ok && (await createNeverSeen(deps, tenantId, pipedrive, 'deal', read.problems, entries))) {
    ({ defs } = await fieldDefinitions(deps.fields, tenantId, pipedrive, 'deal', () => deps.clock.now()));
    read = readMappedValues(defs, customFields, entries);
  }
  if (!read.ok) {
    await reportDrift(deps, tenantId, 'deal', read.problems);
    throw new FieldDriftError('deal', describeProblems('deal', read.problems));
  }
  await remember(deps, tenantId, 'deal', read.codes);
  await reportCleared(deps, tenantId, 'deal');
  return read.values;
}

/** A Pipedrive 400 that names a custom field (`custom_fields.<hash>` or a cached code): the definitions may be stale. */
export function namesAField(message: string): boolean {
  return /custom_fields|field/iu.test(message) && /\b[0-9a-f]{40}\b|custom_fields\./u.test(message);
}
