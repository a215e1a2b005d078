import type { StoredTenant } from '../config/tenant.ts';
import {
  ambiguousCause,
  ClaimHeldError,
  errorMessage,
  possibleDuplicateCause,
  PermanentError,
  PipedriveGoneError,
  PipedriveNotFoundError,
  RateLimitedError,
  RetryLaterError,
} from '../domain/errors.ts';
import {
  chooseMatch,
  decideFirstStep,
  type EvidenceGroup,
  type FirstStep,
  type MatchResult,
  type NameCandidate,
} from '../domain/upsert-decision.ts';
import type { PipedriveClient, PipedriveCollection, RemoteRecord } from '../ports/pipedrive.ts';
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
  HoldCandidate,
  ListingLookup,
} from '../ports/index.ts';
import { hashWithDependency, type MappedLookup, type PipedriveBody, type SyncEntity } from './entities/entity.ts';
import { forgetKeyFields, resolveKeyField } from './key-fields.ts';
import { withMappedFields } from '../domain/custom-fields.ts';
import { fieldNames } from '../domain/redact.ts';
import { fieldReadGeneration, invalidateFields, namesAField, resolveMappedFields, type FieldCache } from './field-resolver.ts';
import { recordOf, releaseOptions, withClaim, type Claim, type DeliveryInfo } from './claim.ts';
import { holdRecord } from './tenant-holds.ts';
import { CHANGES_MAX_AGE_MS, changesSince } from './pipedrive-changes.ts';
import { readOnce } from './read-once.ts';
import type { BatchReads } from './batch-scope.ts';

export type { DeliveryInfo } from './claim.ts';

export interface WriterDeps {
  keyMap: KeyMap;
  listing: ListingIndex;
  pollState: PollStateStore;
  /** This container's field definitions and key-field codes (field-resolver.ts). */
  fields: FieldCache;
  audit: AuditLog;
  clients: TenantClients;
  clock: Clock;
  telemetry: Telemetry;
  /** Where a record a person must decide on (a possible duplicate) waits, acknowledged. */
  holds: TenantHolds;
  /** How long a claim protects a record from a concurrent delivery; longer than one invocation. */
  claimLeaseMs: number;
  /** What a writer batch read for all its records at its start (batch-scope.ts): asked first, a miss read at the time. */
  batchReads?: BatchReads;
}

/** `held`: kept for a person (a possible duplicate of `pipedriveId`) under the cause `via`, not written. */
export type WriteOutcome = { action: 'created' | 'updated' | 'unchanged' | 'held'; pipedriveId: number; via?: string };

/** How long a first-sync listing stands in for searches. After that, new records are searched. */
const LISTING_TRUST_MS = 6 * 3_600_000;

/** Whether the first-sync listing taken at `meta` still stands in for searches. */
export function listingTrusted(meta: { listedAt: string } | undefined, nowMs: number): meta is { listedAt: string } {
  return meta !== undefined && nowMs - Date.parse(meta.listedAt) < LISTING_TRUST_MS;
}

/** What a record asks the listing for: the tokens of all its evidence. */
export function listingTokensOf<R, Ctx>(entity: SyncEntity<R, Ctx>, record: R, context: Ctx): string[] {
  return entity.evidence(record, context).flatMap((g) => g.tokens);
}
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
  /** The hash recorded after a write: the message's, with the dependency's id as written (see SyncEntity.dependency). */
  hash: string;
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
  const asCreate = deps.batchReads?.isNew(tenantId, entity.entity, key) === true;
  const target = { tenantId, entity: entity.entity, key, what: `${entity.label} ${key}`, asCreate };
  return withClaim(deps, target, delivery, async (claim) => {
    const job: Job<R, Ctx> = { deps, entity, tenant, message, delivery, record, key, claim, hash: message.hash };
    const step = decideFirstStep(claim.entry, message.hash);
    if (step.kind === 'unchanged') {
      await audit(job, 'unchanged', step.pipedriveId, 'content hash unchanged since the last write');
      await deps.keyMap.release(tenantId, entity.entity, key, claim.owner, releaseOptions(claim));
      return { action: 'unchanged', pipedriveId: step.pipedriveId };
    }
    const lookup = mappedLookup(deps, tenantId);
    const context = await entity.context(record, lookup);
    if (entity.dependency) {
      const { entity: on, key: keyOf } = entity.dependency;
      job.hash = hashWithDependency(entity.hash(record, tenant.config), await lookup.pipedriveId(on, keyOf(record)));
    }
    const pipedrive = await deps.clients.pipedrive(tenant);
    const fields = await resolveFields(job, pipedrive, context);
    const found = await findTarget(job, pipedrive, step, fields.keyField, context);
    if (found?.kind === 'possibleDuplicate') return holdPossibleDuplicate(job, pipedrive, found);
    if (found?.kind === 'ambiguous') return holdAmbiguous(job, pipedrive, found);
    return upsert(job, pipedrive, fields, found, (gone, error) => replaceGone(job, pipedrive, fields, context, gone, error));
  });
}

/** The record's outcome, its content hash and the fields written: never the record's values (no contact details). */
function audit<R, Ctx>(
  job: Job<R, Ctx>,
  action: AuditAction,
  pipedriveId: number | undefined,
  reason: string,
  written?: PipedriveBody,
): Promise<void> {
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
    contentHash: job.message.hash,
    ...(written && { fields: fieldNames(written) }),
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
  const readsBefore = fieldReadGeneration(deps.fields);
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
      fieldReadGeneration(deps.fields) === readsBefore &&
      namesAField(error.message),
  };
}

function retryWithFreshFields<R, Ctx>(job: Job<R, Ctx>, error: PermanentError): RetryLaterError {
  invalidateFields(job.deps.fields, job.tenant.config.tenantId, job.entity.fieldEntity);
  forgetKeyFields(job.deps.fields, job.tenant.config.tenantId, job.entity.fieldEntity);
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
): Promise<Target | ForAPerson | undefined> {
  const { deps, entity, key, record, delivery, message } = job;
  const { tenantId } = job.tenant.config;
  if (step.kind === 'update') return { kind: 'target', id: step.pipedriveId, via: 'key map' };
  if (step.kind === 'recover') {
    const id = await findRecentlyCreated(job, pipedrive, keyField, step.since);
    if (id !== undefined) {
      // The record we made carries our key; record that it is ours, as a create would have.
      await deps.keyMap.claimPipedriveRecord(tenantId, entity.entity, id, key);
      return { kind: 'target', id, via: 'recovered pending create' };
    }
  }
  const recorded = await adoptRecordedId(job, pipedrive, keyField);
  if (recorded) return recorded;
  const match = await matchRecord({
    deps,
    entity,
    tenantId,
    pipedrive,
    keyField,
    record,
    context,
    delivery,
    rematch: message.rematch === true,
  });
  if (match.kind === 'ambiguous') return match;
  // Two QAD records must not share one Pipedrive record: the first to claim it wins.
  if (match.kind === 'matched' && (await deps.keyMap.claimPipedriveRecord(tenantId, entity.entity, match.pipedriveId, key)).owner === key)
    return { kind: 'target', id: match.pipedriveId, via: `matched by ${match.via}` };
  return match.kind === 'possibleDuplicate' ? match : undefined;
}

type Target = { kind: 'target'; id: number; via: string };
/** A match a person must settle: two equally good candidates, or only a near-identical one. */
type ForAPerson = Extract<MatchResult, { kind: 'ambiguous' | 'possibleDuplicate' }>;

/**
 * Someone linked the QAD record to a Pipedrive record before (the id in the customer's write-back
 * field): that record, if it still exists and carries no other QAD key, and no other QAD record owns it.
 */
async function adoptRecordedId<R, Ctx>(
  job: Job<R, Ctx>,
  pipedrive: PipedriveClient,
  keyField: string | undefined,
): Promise<Target | undefined> {
  const { deps, entity, key } = job;
  const { tenantId } = job.tenant.config;
  const id = entity.recordedId?.(job.record, job.tenant.config);
  if (id === undefined) return undefined;
  let remote: RemoteRecord;
  try {
    remote = await pipedrive.get(entity.collection, id);
  } catch (error) {
    if (error instanceof PipedriveNotFoundError) return undefined;
    throw error;
  }
  const carried = entity.keyValueOf(remote, keyField);
  if (carried !== null && carried !== key) return undefined;
  if ((await deps.keyMap.claimPipedriveRecord(tenantId, entity.entity, id, key)).owner !== key) return undefined;
  return { kind: 'target', id, via: 'the Pipedrive id recorded in QAD' };
}

/**
 * The record we wrote to is gone from Pipedrive. Merged (410), its survivor carries our key: adopt it
 * and move the key map. Deleted: write it again (its persons follow on their next read), or hold it
 * where the tenant says deletions are final. Matched by search, never by the first-sync listing,
 * which may still list the gone id.
 */
async function replaceGone<R, Ctx>(
  job: Job<R, Ctx>,
  pipedrive: PipedriveClient,
  fields: ResolvedFields,
  context: Ctx,
  gone: Target,
  error: PipedriveNotFoundError,
): Promise<WriteOutcome> {
  const { deps, entity, key, tenant, claim } = job;
  const { tenantId } = tenant.config;
  const what = error instanceof PipedriveGoneError ? 'was merged away' : 'was deleted';
  const how = `${entity.collection} ${gone.id} (${gone.via}) ${what} in Pipedrive`;
  const { byKey, evidence } = await entity.search(pipedrive, job.record, context, fields.keyField);
  const notGone = (ids: readonly number[]) => ids.filter((id) => id !== gone.id);
  const match = await decideMatch(
    deps.keyMap,
    entity,
    tenantId,
    key,
    notGone(byKey),
    evidence.map((g) => ({ ...g, candidates: g.candidates.filter((c) => c.id !== gone.id) })),
  );
  if (match.kind === 'ambiguous') return holdAmbiguous(job, pipedrive, match);
  if (match.kind === 'possibleDuplicate') return holdPossibleDuplicate(job, pipedrive, match);
  const adopt =
    match.kind === 'matched' && (await deps.keyMap.claimPipedriveRecord(tenantId, entity.entity, match.pipedriveId, key)).owner === key;
  // Held, the mapping stays: the next poll sees the record unchanged and does not send it again.
  if (!adopt && tenant.config.mapping.deletedInPipedrive === 'hold' && !(error instanceof PipedriveGoneError)) {
    const cause = `deleted-in-pipedrive:${entity.entity}`;
    const reason = `${how}; deletions in Pipedrive are final for this tenant: held (${cause}) for a person`;
    if (await holdRecord(deps, job.message, cause, { reason })) await audit(job, 'deferred', gone.id, reason);
    await deps.keyMap.release(tenantId, entity.entity, key, claim.owner, releaseOptions(claim));
    return { action: 'held', pipedriveId: gone.id, via: cause };
  }
  // Forgotten before writing elsewhere: a create whose answer is lost must be recovered, not the gone id retried.
  await deps.keyMap.forgetPipedriveId(tenantId, entity.entity, key, claim.owner);
  if (adopt)
    return upsert(job, pipedrive, fields, { kind: 'target', id: match.pipedriveId, via: `${how}; matched by ${match.via}, key map moved` });
  return upsert(job, pipedrive, fields, undefined, undefined, `${how} and nothing else carries this QAD key or matches it; created again`);
}

/**
 * Two or more Pipedrive records match equally well (two carry this QAD key, or share its name): we do not
 * guess. Held once for a person with the candidates' ids and names (read once, a GET each, so an operator page
 * can link them); a record sent again while still ambiguous neither adds a hold nor an audit entry. Settled by
 * a person typing this QAD key into one (or removing the other): the next look matches it, the write clears the hold.
 */
async function holdAmbiguous<R, Ctx>(
  job: Job<R, Ctx>,
  pipedrive: PipedriveClient,
  match: Extract<MatchResult, { kind: 'ambiguous' }>,
): Promise<WriteOutcome> {
  const { entity, key } = job;
  const cause = ambiguousCause(entity.entity);
  const reason =
    `ambiguous match: Pipedrive ${entity.collection} ${match.ids.join(' and ')} all match ${entity.label} ${key} by ${match.via}; ` +
    `set the QAD key on the one that is this ${entity.label} (and remove or merge the other)`;
  return holdForChoice(job, pipedrive, cause, match.ids, reason, `${reason}; held (${cause}) for a person`);
}

/**
 * Holds the record for a person's choice between the Pipedrive records `ids`, once per record and cause, with the
 * candidates' names (those held before when the ids are the same, else read); audited when the hold is new or its
 * candidates changed.
 */
async function holdForChoice<R, Ctx>(
  job: Job<R, Ctx>,
  pipedrive: PipedriveClient,
  cause: string,
  ids: readonly number[],
  reason: string,
  audited = reason,
): Promise<WriteOutcome> {
  const { deps, entity, key } = job;
  const { tenantId } = job.tenant.config;
  const before = (await deps.holds.heldRecord(tenantId, entity.entity, key)).find((h) => h.cause === cause);
  const same = before?.candidates !== undefined && before.candidates.map((c) => c.id).join() === ids.join();
  const candidates = same && before.candidates ? before.candidates : await candidatesOf(pipedrive, entity.collection, ids);
  const first = await holdRecord(deps, job.message, cause, { reason, candidates });
  // Once per problem: by the delivery whose put stored the hold (two that both found none race to it), or by one
  // that found other candidates held.
  if (first || (before !== undefined && !same)) await audit(job, 'deferred', ids[0], audited);
  await deps.keyMap.release(tenantId, entity.entity, key, job.claim.owner, releaseOptions(job.claim));
  return { action: 'held', pipedriveId: ids[0]!, via: cause };
}

/** The candidates' names, read once per choice; one gone meanwhile means the match may be settled: look again. */
async function candidatesOf(pipedrive: PipedriveClient, collection: PipedriveCollection, ids: readonly number[]): Promise<HoldCandidate[]> {
  const out: HoldCandidate[] = [];
  for (const id of ids) {
    const remote = await pipedrive.get(collection, id).catch((error: unknown) => {
      if (error instanceof PipedriveNotFoundError) return undefined;
      throw error;
    });
    if (!remote) throw new RetryLaterError(`Pipedrive ${collection} ${id}, a candidate for a person's choice, is gone; matching again`, 5);
    out.push({ id, name: remote.name });
  }
  return out;
}

/**
 * Only a near-identical record matches ("Grossmann" for "Großmann", full-width letters): creating
 * beside it may duplicate it, adopting it may merge two customers. The message waits for a person.
 */
async function holdPossibleDuplicate<R, Ctx>(
  job: Job<R, Ctx>,
  pipedrive: PipedriveClient,
  found: Extract<MatchResult, { kind: 'possibleDuplicate' }>,
): Promise<WriteOutcome> {
  const { entity, key } = job;
  const cause = possibleDuplicateCause(entity.entity);
  const ids = found.ids.join(' and ');
  const reason =
    `possible duplicate: ${entity.label} ${key} and Pipedrive ${entity.collection} ${ids} differ only by ${found.via}; ` +
    `held (${cause}) until a person sets the QAD key on the one that is this ${entity.label}, or renames it`;
  return holdForChoice(job, pipedrive, cause, found.ids, reason);
}

/** PATCH the target or POST a new record, then record the id and hash (which releases the claim). */
async function upsert<R, Ctx>(
  job: Job<R, Ctx>,
  pipedrive: PipedriveClient,
  fields: ResolvedFields,
  target: Target | undefined,
  /** What to write instead when the target is gone from Pipedrive; none when this is already the replacement. */
  replace?: (gone: Target, error: PipedriveNotFoundError) => Promise<WriteOutcome>,
  createdBecause = 'no Pipedrive record carries this QAD key or matches it; created',
): Promise<WriteOutcome> {
  const { deps, entity, tenant, key, claim } = job;
  const { tenantId } = tenant.config;
  const name = entity.entity;
  const afterWrite = (pipedriveId: number) =>
    entity.afterWrite?.({ audit: deps.audit, qad: (t) => deps.clients.qad(t) }, tenant, job.record, pipedriveId, job.delivery);

  if (target) {
    try {
      await sendLeavingOutRefused(job, fields.payload, (body) => pipedrive.update(entity.collection, target.id, body));
    } catch (error) {
      if (fields.staleFields(error)) throw retryWithFreshFields(job, error);
      if (!(error instanceof PipedriveNotFoundError) || !replace) throw error;
      return replace(target, error);
    }
    await audit(job, 'updated', target.id, `updated (${target.via})`, fields.payload);
    await afterWrite(target.id);
    await deps.keyMap.complete(tenantId, name, key, claim.owner, { pipedriveId: target.id, contentHash: job.hash });
    return { action: 'updated', pipedriveId: target.id, via: target.via };
  }

  // Another delivery takes the record over a lease after the marker (waitForUnknownOutcome): the POST goes out in
  // the first half of that lease or not at all, so the second half covers the call itself and no create comes late.
  // The claim's own marker serves while most of that half is left; else the create is marked pending anew.
  let markedAt = claim.pendingSince;
  if (markedAt === undefined || deps.clock.now() - Date.parse(markedAt) > deps.claimLeaseMs / 4) {
    markedAt = new Date(deps.clock.now()).toISOString();
    await deps.keyMap.markPendingCreate(tenantId, name, key, claim.owner, markedAt);
  }
  const sendWithinMs = Date.parse(markedAt) + deps.claimLeaseMs / 2 - deps.clock.now();
  claim.createSent = true;
  let created: { id: number };
  try {
    // A refused POST created nothing: sending it again without the refused part cannot duplicate.
    created = await sendLeavingOutRefused(job, fields.payload, (body) => pipedrive.create(entity.collection, body, { sendWithinMs }));
  } catch (error) {
    // A 429, a 4xx or a create not sent in time is nothing created, so the retry need not look for it.
    // Timeouts, resets and 5xx leave the marker: the create may have happened.
    if (error instanceof RateLimitedError || error instanceof PermanentError || error instanceof ClaimHeldError)
      await deps.keyMap.clearPendingCreate(tenantId, name, key, claim.owner);
    if (fields.staleFields(error)) throw retryWithFreshFields(job, error);
    throw error;
  }
  await deps.keyMap.claimPipedriveRecord(tenantId, name, created.id, key);
  await audit(job, 'created', created.id, createdBecause, fields.payload);
  await afterWrite(created.id);
  await deps.keyMap.complete(tenantId, name, key, claim.owner, { pipedriveId: created.id, contentHash: job.hash });
  return { action: 'created', pipedriveId: created.id };
}

/** The audit key of what a tenant's Pipedrive company lacks, reported once (and shown by `connector check`). */
export const LEFT_OUT_KEY = '_left-out';

/**
 * Sends the payload; what Pipedrive refuses and the entity may leave out (a currency the company
 * lacks) is left out and the rest sent, so one price never drops a whole product. Each thing left
 * out is audited once per tenant.
 */
async function sendLeavingOutRefused<R, Ctx>(
  job: Job<R, Ctx>,
  payload: PipedriveBody,
  send: (body: PipedriveBody) => Promise<RemoteRecord>,
): Promise<RemoteRecord> {
  const { deps, entity } = job;
  const { tenantId } = job.tenant.config;
  for (let body = payload; ;) {
    try {
      return await send(body);
    } catch (error) {
      const less = entity.withoutRefused?.(body, error);
      if (!less) throw error;
      const scope = `left-out:${entity.entity}:${less.leftOut}`;
      if (await deps.pollState.acquire(tenantId, scope, LEFT_OUT_KEY, REPORTED_FOR_MS, deps.clock.now()))
        await deps.audit.record({
          tenantId,
          entity: entity.entity,
          key: LEFT_OUT_KEY,
          action: 'skipped',
          reason:
            `Pipedrive refused ${less.leftOut} (the company does not have it): ${entity.collection} are written without it ` +
            `until it is added in Pipedrive and the records replayed; first seen on ${entity.label} ${job.key}`,
          error: errorMessage(error),
        });
      body = less.payload;
    }
  }
}

/** Something left out is reported once: the report's lease outlives any tenant. */
const REPORTED_FOR_MS = 100 * 365 * 24 * 3_600_000;

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

/** One record's look-ups of the records it depends on: its context and its hash ask for the same one, read once. */
function mappedLookup(deps: Pick<WriterDeps, 'keyMap' | 'batchReads'>, tenantId: string): MappedLookup {
  const read = new Map<string, Promise<number | undefined>>();
  return {
    pipedriveId: (entity, qadKey) =>
      readOnce(
        read,
        `${entity}|${qadKey}`,
        async () =>
          deps.batchReads?.mappedId(tenantId, entity, qadKey) ??
          (await deps.keyMap.getMany(tenantId, entity, [qadKey])).get(qadKey)?.pipedriveId,
      ),
  };
}

/**
 * After a crash between POST and the key-map write, the record exists but search may not show it
 * yet. Listing by update time is consistent, so look there, never in search. "Not there" is an
 * answer only from a read that began once the create had settled: one begun before may have missed
 * a create the server carried out while it read.
 */
async function findRecentlyCreated<R, Ctx>(
  job: Job<R, Ctx>,
  pipedrive: PipedriveClient,
  keyField: string | undefined,
  since: string,
): Promise<number | undefined> {
  const { deps, entity, key } = job;
  const sinceMs = Date.parse(since) - RECOVERY_SLACK_MS;
  const settledAt = Date.parse(since) + deps.claimLeaseMs;
  const nowMs = deps.clock.now();
  const scannedAfterMs = Math.min(settledAt, nowMs);
  const found = (await changesSince(pipedrive, entity, keyField, { sinceMs, scannedAfterMs, nowMs })).byKey.get(key)?.[0];
  if (found === undefined && scannedAfterMs < settledAt) await waitForUnknownOutcome(deps, since, `${entity.label} ${key}`);
  return found;
}

/** What matching one record needs. */
interface MatchInput<R, Ctx> {
  deps: WriterDeps;
  entity: SyncEntity<R, Ctx>;
  tenantId: string;
  pipedrive: PipedriveClient;
  keyField: string | undefined;
  record: R;
  context: Ctx;
  delivery: DeliveryInfo;
  /** Sent because Pipedrive changed under it (`RecordMessage.rematch`). */
  rematch: boolean;
}

async function matchRecord<R, Ctx>(input: MatchInput<R, Ctx>): Promise<MatchResult> {
  const { deps, entity, tenantId, pipedrive, keyField, record, context } = input;
  const key = entity.key(record);
  const listing = await deps.listing.meta(tenantId, entity.entity);
  if (listingTrusted(listing, deps.clock.now())) {
    const tokens = listingTokensOf(entity, record, context);
    const found =
      deps.batchReads?.listing(tenantId, entity.entity, key, tokens) ?? (await deps.listing.lookup(tenantId, entity.entity, key, tokens));
    const evidence = evidenceFromListing(entity, record, context, (t) => found.byToken.get(t) ?? []);
    const fromListing = await decideMatch(deps.keyMap, entity, tenantId, key, found.byKey, evidence);
    if (fromListing.kind === 'matched') return fromListing;
    // A miss, two candidates or a near-identical one: a person may have typed, keyed or renamed records since the
    // listing was read (the operator console settles a possible duplicate by writing our key into the one chosen).
    // Decide on the listing as it is now (a record changed since counts as it is now): consistent, unlike a
    // search, which lags behind edits. Only two candidates still there ask Pipedrive's search (a deletion).
    const now = await listingAsItIsNow(input, listing.listedAt, found);
    if (now.kind !== 'ambiguous') return now;
  }
  // Search errors propagate as "try later": a search that did not answer is not "not found".
  const { byKey, evidence } = await entity.search(pipedrive, record, context, keyField);
  return decideMatch(deps.keyMap, entity, tenantId, key, byKey, evidence);
}

/**
 * The listing's candidates for this record with what changed in Pipedrive since it was read: records typed by
 * hand (or renamed, merged, or given this QAD key) on go-live day and after. Listing by update time is consistent,
 * unlike search. A read begun up to `CHANGES_MAX_AGE_MS` before the batch serves its misses (a record people change
 * later is seen by a later read), extended by what changed since; a record changed since the listing counts as it is now.
 */
async function listingAsItIsNow<R, Ctx>(input: MatchInput<R, Ctx>, listedAt: string, listed: ListingLookup): Promise<MatchResult> {
  const { deps, entity, tenantId, pipedrive, keyField, record, context, delivery } = input;
  const nowMs = deps.clock.now();
  const sinceMs = Date.parse(listedAt) - RECOVERY_SLACK_MS;
  // Sent because Pipedrive changed moments ago (a merge's survivor took our key, the console keyed the chosen record):
  // only a read begun after its batch shows that.
  const scannedAfterMs = (delivery.batchStartedAt ?? nowMs) - (input.rematch ? 0 : CHANGES_MAX_AGE_MS);
  const changed = await changesSince(pipedrive, entity, keyField, { sinceMs, scannedAfterMs, nowMs });
  const unchanged = <T>(items: readonly T[], id: (item: T) => number) => items.filter((item) => !changed.ids.has(id(item)));
  const key = entity.key(record);
  const byKey = [...unchanged(listed.byKey, (id) => id), ...(changed.byKey.get(key) ?? [])];
  const evidence = evidenceFromListing(entity, record, context, (t) => [
    ...unchanged(listed.byToken.get(t) ?? [], (c) => c.id),
    ...(changed.byToken.get(t) ?? []),
  ]);
  return decideMatch(deps.keyMap, entity, tenantId, key, byKey, evidence);
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
