import type { StoredTenant } from '../config/tenant.ts';
import { PermanentError, PipedriveNotFoundError, RateLimitedError, RetryLaterError } from '../domain/errors.ts';
import {
  chooseMatch,
  decideFirstStep,
  type EvidenceGroup,
  type FirstStep,
  type MatchResult,
  type NameCandidate,
} from '../domain/upsert-decision.ts';
import type { PipedriveClient } from '../ports/pipedrive.ts';
import type {
  AuditLog,
  Clock,
  TenantClients,
  KeyMap,
  ListingIndex,
  PollStateStore,
  RecordMessage,
  Telemetry,
  TenantHolds,
  AuditAction,
} from '../ports/index.ts';
import type { MappedLookup, PipedriveBody, SyncEntity } from './entities/entity.ts';
import { forgetKeyFields, resolveKeyField } from './key-fields.ts';
import { withMappedFields } from '../domain/custom-fields.ts';
import { fieldReadGeneration, invalidateFields, namesAField, resolveMappedFields } from './field-resolver.ts';
import { recordOf, withClaim, type Claim, type DeliveryInfo } from './claim.ts';
import { listPages } from './pipedrive-pages.ts';
import { addToListing, emptyListing } from './listing.ts';

export type { DeliveryInfo } from './claim.ts';

export interface WriterDeps {
  keyMap: KeyMap;
  listing: ListingIndex;
  pollState: PollStateStore;
  audit: AuditLog;
  clients: TenantClients;
  clock: Clock;
  telemetry: Telemetry;
  /** Where a record a person must decide on (a possible duplicate) waits, acknowledged. */
  holds: TenantHolds;
  /** How long a claim protects a record from a concurrent delivery; longer than one invocation. */
  claimLeaseMs: number;
}

/** `held`: kept for a person (a possible duplicate of `pipedriveId`) under the cause `via`, not written. */
export type WriteOutcome = { action: 'created' | 'updated' | 'unchanged' | 'held'; pipedriveId: number; via?: string };

/** The hold cause of a record whose only match is a near-identical Pipedrive record. */
export const possibleDuplicateCause = (entity: string): string => `possible-duplicate:${entity}`;

/** How long a first-sync listing stands in for searches. After that, new records are searched. */
const LISTING_TRUST_MS = 6 * 3_600_000;
/** How far before a pending create we look for it: clocks and update_time seconds differ a little. */
const RECOVERY_SLACK_MS = 5 * 60_000;

/** One record's write, as the steps below pass it along. */
interface Job<R, Ctx> {
  deps: WriterDeps;
  entity: SyncEntity<R, Ctx>;
  tenant: StoredTenant;
  message: RecordMessage;
  delivery: DeliveryInfo;
  record: R;
  key: string;
  claim: Claim;
}

/**
 * Upserts one QAD record into Pipedrive:
 * 1. claim the record (a conditional write; a concurrent delivery of it waits);
 * 2. unchanged content -> done; resolve what it depends on (a person's organization) or wait;
 * 3. resolve the key field and the mapped fields by name (a drifted field holds the record);
 * 4. find the target: a known Pipedrive id; a create that may have happened before a crash (found by
 *    listing recent updates, consistent unlike search); else a match from the first-sync listing or
 *    searches (a failed search is "try later", never "create"; two candidates are for a person);
 * 5. upsert: PATCH the target, or mark the create pending and POST; record id + hash, release the claim.
 */
export async function writeRecord<R, Ctx>(
  deps: WriterDeps,
  entity: SyncEntity<R, Ctx>,
  tenant: StoredTenant,
  message: RecordMessage,
  delivery: DeliveryInfo,
): Promise<WriteOutcome> {
  const { tenantId } = tenant.config;
  const record = recordOf(entity.recordSchema, message, entity.label, (r) => entity.key(r));
  const key = entity.key(record);
  const target = { tenantId, entity: entity.entity, key, what: `${entity.label} ${key}` };
  return withClaim(deps, target, delivery, async (claim) => {
    const job: Job<R, Ctx> = { deps, entity, tenant, message, delivery, record, key, claim };
    const step = decideFirstStep(claim.entry, message.hash);
    if (step.kind === 'unchanged') {
      await audit(job, 'unchanged', step.pipedriveId, 'content hash unchanged since the last write');
      await deps.keyMap.release(tenantId, entity.entity, key, claim.owner);
      return { action: 'unchanged', pipedriveId: step.pipedriveId };
    }
    const context = await entity.context(record, mappedLookup(deps.keyMap, tenantId));
    const pipedrive = await deps.clients.pipedrive(tenant);
    const fields = await resolveFields(job, pipedrive, context);
    const found = await findTarget(job, pipedrive, step, fields.keyField, context);
    if (found?.kind === 'possibleDuplicate') return holdPossibleDuplicate(job, found);
    return upsert(job, pipedrive, fields, found);
  });
}

function audit<R, Ctx>(job: Job<R, Ctx>, action: AuditAction, pipedriveId: number | undefined, reason: string): Promise<void> {
  const { tenantId } = job.tenant.config;
  const { attempt, messageId } = job.delivery;
  return job.deps.audit.record({
    tenantId,
    entity: job.entity.entity,
    key: job.key,
    action,
    ...(pipedriveId !== undefined && { pipedriveId }),
    reason,
    attempt,
    messageId,
    snapshot: job.record,
  });
}

interface ResolvedFields {
  keyField: string | undefined;
  payload: PipedriveBody;
  /** A 400 naming a field, answered while the definitions came from the cache: they may be stale. */
  staleFields(error: unknown): error is PermanentError;
}

/** The key field and the mapped fields by name -> code, typed per field type; a drifted field holds the record (FieldDriftError). */
async function resolveFields<R, Ctx>(job: Job<R, Ctx>, pipedrive: PipedriveClient, context: Ctx): Promise<ResolvedFields> {
  const { deps, entity, tenant, record } = job;
  const { tenantId } = tenant.config;
  const readsBefore = fieldReadGeneration();
  const keyField = await resolveKeyField(deps, tenantId, pipedrive, entity.fieldEntity, entity.keyFieldName(tenant.config));
  const entries = tenant.config.mapping.fields[entity.fieldEntity];
  const values = entity.mappedValues(record, tenant.config);
  const mapped = await resolveMappedFields(deps, tenantId, pipedrive, entity.fieldEntity, entries, values, readsBefore);
  return {
    keyField,
    payload: withMappedFields(entity.payload(record, keyField, context, tenant.config), mapped.fields),
    // With definitions read during this attempt the refusal is permanent; from the cache, read them again and retry.
    staleFields: (error): error is PermanentError =>
      error instanceof PermanentError &&
      !(error instanceof PipedriveNotFoundError) &&
      fieldReadGeneration() === readsBefore &&
      namesAField(error.message),
  };
}

function retryWithFreshFields<R, Ctx>(job: Job<R, Ctx>, error: PermanentError): RetryLaterError {
  invalidateFields(job.tenant.config.tenantId, job.entity.fieldEntity);
  forgetKeyFields(job.tenant.config.tenantId, job.entity.fieldEntity);
  const why = `Pipedrive refused a field value and the field definitions may be stale; read again and retried: ${error.message}`;
  return new RetryLaterError(why, 5);
}

/** The Pipedrive record this one is, if any: by the key map, a recovered create, or a match. */
async function findTarget<R, Ctx>(
  job: Job<R, Ctx>,
  pipedrive: PipedriveClient,
  step: FirstStep,
  keyField: string | undefined,
  context: Ctx,
): Promise<Target | Extract<MatchResult, { kind: 'possibleDuplicate' }> | undefined> {
  const { deps, entity, key } = job;
  const { tenantId } = job.tenant.config;
  if (step.kind === 'update') return { kind: 'target', id: step.pipedriveId, via: 'key map' };
  if (step.kind === 'recover') {
    const id = await findRecentlyCreated(pipedrive, entity, keyField, key, Date.parse(step.since) - RECOVERY_SLACK_MS);
    if (id !== undefined) {
      // The record we made carries our key; record that it is ours, as a create would have.
      await deps.keyMap.claimPipedriveRecord(tenantId, entity.entity, id, key);
      return { kind: 'target', id, via: 'recovered pending create' };
    }
    await waitForUnknownOutcome(deps, step.since, `${entity.label} ${key}`);
  }
  const match = await matchRecord(deps, entity, tenantId, pipedrive, keyField, job.record, context);
  if (match.kind === 'ambiguous') {
    const ids = match.ids.join(' and ');
    throw new PermanentError(
      `ambiguous match: Pipedrive ${entity.collection} ${ids} all match ${entity.label} ${key} by ${match.via}; ` +
        'link one by setting its QAD key and remove the other',
      { ids: match.ids },
    );
  }
  // Two QAD records must not share one Pipedrive record: the first to claim it wins.
  if (match.kind === 'matched' && (await deps.keyMap.claimPipedriveRecord(tenantId, entity.entity, match.pipedriveId, key)).owner === key)
    return { kind: 'target', id: match.pipedriveId, via: `matched by ${match.via}` };
  return match.kind === 'possibleDuplicate' ? match : undefined;
}

type Target = { kind: 'target'; id: number; via: string };

/**
 * Only a near-identical record matches ("Grossmann" for "Großmann", full-width letters): creating
 * beside it may duplicate it, adopting it may merge two customers. The message waits for a person.
 */
async function holdPossibleDuplicate<R, Ctx>(
  job: Job<R, Ctx>,
  found: Extract<MatchResult, { kind: 'possibleDuplicate' }>,
): Promise<WriteOutcome> {
  const { deps, entity, key, message, delivery } = job;
  const { tenantId } = job.tenant.config;
  const cause = possibleDuplicateCause(entity.entity);
  await deps.holds.hold(tenantId, delivery.messageId, JSON.stringify(message), cause);
  const ids = found.ids.join(' and ');
  await audit(
    job,
    'deferred',
    found.ids[0],
    `possible duplicate: ${entity.label} ${key} and Pipedrive ${entity.collection} ${ids} differ only by ${found.via}; ` +
      `held (${cause}) until a person sets the QAD key on the one that is this ${entity.label}, or renames it`,
  );
  await deps.keyMap.release(tenantId, entity.entity, key, job.claim.owner);
  return { action: 'held', pipedriveId: found.ids[0]!, via: cause };
}

/** PATCH the target or POST a new record, then record the id and hash (which releases the claim). */
async function upsert<R, Ctx>(
  job: Job<R, Ctx>,
  pipedrive: PipedriveClient,
  fields: ResolvedFields,
  target: Target | undefined,
): Promise<WriteOutcome> {
  const { deps, entity, tenant, key, claim, message } = job;
  const { tenantId } = tenant.config;
  const name = entity.entity;
  const afterWrite = (pipedriveId: number) =>
    entity.afterWrite?.({ audit: deps.audit, qad: (t) => deps.clients.qad(t) }, tenant, job.record, pipedriveId, job.delivery);

  if (target) {
    try {
      await pipedrive.update(entity.collection, target.id, fields.payload);
    } catch (error) {
      if (fields.staleFields(error)) throw retryWithFreshFields(job, error);
      if (!(error instanceof PipedriveNotFoundError)) throw error;
      // Deleted in Pipedrive since we mapped it: forget it and let the retry match or create afresh.
      await deps.keyMap.forgetPipedriveId(tenantId, name, key, claim.owner);
      throw new RetryLaterError(
        `${entity.collection} ${target.id} no longer exists in Pipedrive; ` +
          `the mapping was dropped and ${entity.label} ${key} will be matched again`,
        1,
      );
    }
    await audit(job, 'updated', target.id, `updated (${target.via})`);
    await afterWrite(target.id);
    await deps.keyMap.complete(tenantId, name, key, claim.owner, { pipedriveId: target.id, contentHash: message.hash });
    return { action: 'updated', pipedriveId: target.id, via: target.via };
  }

  await deps.keyMap.markPendingCreate(tenantId, name, key, claim.owner, new Date(deps.clock.now()).toISOString());
  let created: { id: number };
  try {
    created = await pipedrive.create(entity.collection, fields.payload);
  } catch (error) {
    // A 429 or a 4xx is Pipedrive saying no: nothing was created, so the retry need not look for it.
    // Timeouts, resets and 5xx leave the marker: the create may have happened.
    if (error instanceof RateLimitedError || error instanceof PermanentError)
      await deps.keyMap.clearPendingCreate(tenantId, name, key, claim.owner);
    if (fields.staleFields(error)) throw retryWithFreshFields(job, error);
    throw error;
  }
  await deps.keyMap.claimPipedriveRecord(tenantId, name, created.id, key);
  await audit(job, 'created', created.id, `no Pipedrive record carries this QAD key or matches it; created`);
  await afterWrite(created.id);
  await deps.keyMap.complete(tenantId, name, key, claim.owner, { pipedriveId: created.id, contentHash: message.hash });
  return { action: 'created', pipedriveId: created.id };
}

/**
 * A create whose answer never came (a timeout, a reset) may still be carried out by the server a
 * little later. Until a claim lease has passed since it was sent, "not found" means "not yet",
 * so the record waits instead of creating a second one.
 */
export async function waitForUnknownOutcome(deps: Pick<WriterDeps, 'clock' | 'claimLeaseMs'>, sentAt: string, what: string): Promise<void> {
  const settledAt = Date.parse(sentAt) + deps.claimLeaseMs;
  const wait = settledAt - deps.clock.now();
  if (wait > 0)
    throw new RetryLaterError(
      `the outcome of an earlier create for ${what} is not known yet; looking again once it has settled`,
      Math.ceil(wait / 1000),
    );
}

function mappedLookup(keyMap: KeyMap, tenantId: string): MappedLookup {
  return {
    async pipedriveId(entity, qadKey) {
      return (await keyMap.getMany(tenantId, entity, [qadKey])).get(qadKey)?.pipedriveId;
    },
  };
}

/**
 * After a crash between POST and the key-map write, the record exists but search may not show it
 * yet. Listing by update time (newest first) is consistent, so look there, never in search.
 */
async function findRecentlyCreated<R, Ctx>(
  pipedrive: PipedriveClient,
  entity: SyncEntity<R, Ctx>,
  keyField: string | undefined,
  key: string,
  sinceMs: number,
): Promise<number | undefined> {
  const updatedSince = pipedriveTime(sinceMs);
  for await (const items of listPages(pipedrive, entity.collection, { updatedSince, newestFirst: true })) {
    const found = items.find((remote) => entity.keyValueOf(remote, keyField) === key);
    if (found) return found.id;
  }
  return undefined;
}

async function matchRecord<R, Ctx>(
  deps: WriterDeps,
  entity: SyncEntity<R, Ctx>,
  tenantId: string,
  pipedrive: PipedriveClient,
  keyField: string | undefined,
  record: R,
  context: Ctx,
): Promise<MatchResult> {
  const key = entity.key(record);
  const listing = await deps.listing.meta(tenantId, entity.entity);
  if (listing && deps.clock.now() - Date.parse(listing.listedAt) < LISTING_TRUST_MS) {
    const tokens = entity.evidence(record, context).flatMap((g) => g.tokens);
    const found = await deps.listing.lookup(tenantId, entity.entity, key, tokens);
    const evidence = evidenceFromListing(entity, record, context, (t) => found.byToken.get(t) ?? []);
    const fromListing = await decideMatch(deps.keyMap, entity, tenantId, key, found.byKey, evidence);
    // A miss in the listing is not "not in Pipedrive": a person may have typed it since it was read.
    if (fromListing.kind === 'notFound')
      return matchChangedSince(deps, entity, tenantId, pipedrive, keyField, record, context, listing.listedAt);
    // The listing cannot decide between two candidates, and a person may have settled it since: ask Pipedrive.
    if (fromListing.kind !== 'ambiguous') return fromListing;
  }
  // Search errors propagate as "try later": a search that did not answer is not "not found".
  const { byKey, evidence } = await entity.search(pipedrive, record, context, keyField);
  return decideMatch(deps.keyMap, entity, tenantId, key, byKey, evidence);
}

/** RFC 3339 without milliseconds, as Pipedrive's `updated_since` takes it. */
const pipedriveTime = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/u, 'Z');

/**
 * Matches against what changed in Pipedrive since the listing was read: records typed by hand (or
 * renamed) on go-live day. Listing by update time is consistent, unlike search, and costs a page.
 */
async function matchChangedSince<R, Ctx>(
  deps: WriterDeps,
  entity: SyncEntity<R, Ctx>,
  tenantId: string,
  pipedrive: PipedriveClient,
  keyField: string | undefined,
  record: R,
  context: Ctx,
  listedAt: string,
): Promise<MatchResult> {
  const changed = emptyListing();
  const updatedSince = pipedriveTime(Date.parse(listedAt) - RECOVERY_SLACK_MS);
  for await (const items of listPages(pipedrive, entity.collection, { updatedSince }))
    for (const remote of items) addToListing(changed, entity, keyField, remote);
  const key = entity.key(record);
  const evidence = evidenceFromListing(entity, record, context, (t) => changed.byToken.get(t) ?? []);
  return decideMatch(deps.keyMap, entity, tenantId, key, changed.byKey.get(key) ?? [], evidence);
}

/** The record's evidence groups (name; email within the organization ...) with the listed candidates of each. */
export function evidenceFromListing<R, Ctx>(
  entity: SyncEntity<R, Ctx>,
  record: R,
  context: Ctx,
  candidates: (token: string) => NameCandidate[],
): EvidenceGroup[] {
  return entity.evidence(record, context).map((g) => ({ ...g, candidates: g.tokens.flatMap(candidates) }));
}

/** The writer's match decision: by key, else by evidence in order; records another QAD key owns are not candidates. */
export async function decideMatch<R, Ctx>(
  keyMap: KeyMap,
  entity: SyncEntity<R, Ctx>,
  tenantId: string,
  key: string,
  byKey: number[],
  evidence: EvidenceGroup[],
): Promise<MatchResult> {
  const owners = await keyMap.ownersOf(
    tenantId,
    entity.entity,
    evidence.flatMap((g) => g.candidates.map((c) => c.id)),
  );
  const ownedByOthers = new Set([...owners].filter(([, owner]) => owner !== key).map(([id]) => id));
  return chooseMatch(key, byKey, evidence, ownedByOthers);
}
