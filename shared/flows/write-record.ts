import { randomUUID } from 'node:crypto';
import type { StoredTenant } from '../config/tenant.ts';
import { ClaimHeldError, PermanentError, RateLimitedError, RetryLaterError } from '../domain/errors.ts';
import { chooseMatch, decideFirstStep, type EvidenceGroup, type MatchResult } from '../domain/upsert-decision.ts';
import { PipedriveNotFoundError, type PipedriveClient } from '../clients/pipedrive-client.ts';
import type { AuditLog, Clock, KeyMap, ListingIndex, PollStateStore, RecordMessage } from '../ports/index.ts';
import type { Connections } from './connections.ts';
import type { MappedLookup, SyncEntity } from './entities/entity.ts';
import { forgetKeyFields, resolveKeyField } from './key-fields.ts';
import { withMappedFields } from '../domain/custom-fields.ts';
import { fieldReadGeneration, invalidateFields, namesAField, resolveMappedFields } from './field-resolver.ts';

export interface WriterDeps {
  keyMap: KeyMap;
  listing: ListingIndex;
  pollState: PollStateStore;
  audit: AuditLog;
  connections: Connections;
  clock: Clock;
  /** How long a claim protects a record from a concurrent delivery; longer than one invocation. */
  claimLeaseMs: number;
}

export interface DeliveryInfo {
  messageId: string;
  attempt: number;
}

export type WriteOutcome = { action: 'created' | 'updated' | 'unchanged'; pipedriveId: number; via?: string };

/** How long a first-sync listing stands in for searches. After that, new records are searched. */
const LISTING_TRUST_MS = 6 * 3_600_000;
/** How far before a pending create we look for it: clocks and update_time seconds differ a little. */
const RECOVERY_SLACK_MS = 5 * 60_000;

/** Another delivery holds this record; come back when its lease ends. */
export class ClaimWait extends ClaimHeldError {
  constructor(what: string, waitMs: number) {
    super(`${what} is being written by another delivery`, Math.max(1, Math.ceil(waitMs / 1000)));
  }
}

/**
 * Upserts one QAD record into Pipedrive:
 * 1. claim the record (a conditional write; a concurrent delivery of it waits);
 * 2. unchanged content -> done; resolve what it depends on (a person's organization) or wait;
 * 3. a known Pipedrive id -> PATCH; a create that may have happened before a crash -> find it by
 *    listing recent updates (consistent, unlike search);
 * 4. else match: the first-sync listing, or searches; a failed search throws "try later" and never
 *    falls through to create; two candidates on one piece of evidence is for a person to settle;
 * 5. mark the create pending, POST, record id + hash and release the claim.
 */
export async function writeRecord<R, C>(
  deps: WriterDeps,
  entity: SyncEntity<R, C>,
  tenant: StoredTenant,
  message: RecordMessage,
  delivery: DeliveryInfo,
): Promise<WriteOutcome> {
  const { tenantId } = tenant.config;
  const parsed = entity.recordSchema.safeParse(message.record);
  if (!parsed.success)
    throw new PermanentError(
      `message does not hold a valid ${entity.label}: ${parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`,
    );
  const record = parsed.data;
  const key = entity.key(record);
  const name = entity.entity;
  // Unique per processing, not per message: SQS may deliver one message (one MessageId) twice at once.
  const owner = `${delivery.messageId}#${randomUUID()}`;
  const claim = await deps.keyMap.claim(tenantId, name, key, owner, deps.claimLeaseMs, deps.clock.now());
  if (claim.held) throw new ClaimWait(`${entity.label} ${key}`, claim.until - deps.clock.now());

  try {
    const step = decideFirstStep(claim.entry, message.hash);
    const audit = (action: WriteOutcome['action'], pipedriveId: number, reason: string) =>
      deps.audit.record({
        tenantId,
        entity: name,
        key,
        action,
        pipedriveId,
        reason,
        attempt: delivery.attempt,
        messageId: delivery.messageId,
        snapshot: record,
      });

    if (step.kind === 'unchanged') {
      await audit('unchanged', step.pipedriveId, 'content hash unchanged since the last write');
      await deps.keyMap.release(tenantId, name, key, owner);
      return { action: 'unchanged', pipedriveId: step.pipedriveId };
    }

    const context = await entity.context(record, mappedLookup(deps.keyMap, tenantId));
    const pipedrive = await deps.connections.pipedrive(tenant);
    const fieldDeps = { locks: deps.pollState, audit: deps.audit, now: () => deps.clock.now() };
    const readsBefore = fieldReadGeneration();
    const keyField = await resolveKeyField(fieldDeps, tenantId, pipedrive, name, entity.keyFieldName(tenant.config));
    // Mapped fields by name -> code, typed per field type; a drifted field holds the record (FieldDriftError).
    const mapped = await resolveMappedFields(
      fieldDeps,
      tenantId,
      pipedrive,
      name,
      tenant.config.mapping.fields[name],
      entity.mappedValues(record, tenant.config),
      readsBefore,
    );
    const payload = withMappedFields(entity.payload(record, keyField, context, tenant.config), mapped.fields);
    /**
     * A 400 naming a custom field when no fields list was read during this attempt (the definitions came from the
     * cache): read them again and retry, not dead-letter. With definitions read during this attempt it is permanent.
     */
    const staleFields = (error: unknown): error is PermanentError =>
      error instanceof PermanentError &&
      !(error instanceof PipedriveNotFoundError) &&
      fieldReadGeneration() === readsBefore &&
      namesAField(error.message);
    const retryWithFreshFields = (error: PermanentError) => {
      invalidateFields(tenantId, name);
      forgetKeyFields(tenantId, name);
      return new RetryLaterError(
        `Pipedrive refused a field value and the field definitions may be stale; read again and retried: ${error.message}`,
        5,
      );
    };
    const afterWrite = (pipedriveId: number) =>
      entity.afterWrite?.({ audit: deps.audit, qad: (t) => deps.connections.qad(t) }, tenant, record, pipedriveId, delivery);

    let targetId: number | undefined;
    let via = 'key map';
    if (step.kind === 'update') {
      targetId = step.pipedriveId;
    } else if (step.kind === 'recover') {
      targetId = await findRecentlyCreated(pipedrive, entity, keyField, key, Date.parse(step.since) - RECOVERY_SLACK_MS);
      via = 'recovered pending create';
      if (targetId === undefined) await waitForUnknownOutcome(deps, step.since, `${entity.label} ${key}`);
      // The record we made carries our key; record that it is ours, as a create would have.
      else await deps.keyMap.claimPipedriveRecord(tenantId, name, targetId, key);
    }
    if (targetId === undefined) {
      const match = await matchRecord(deps, entity, tenantId, pipedrive, keyField, record, context);
      if (match.kind === 'ambiguous') {
        throw new PermanentError(
          `ambiguous match: Pipedrive ${entity.collection} ${match.ids.join(' and ')} all match ${entity.label} ${key} by ${match.via}; link one by setting its QAD key and remove the other`,
          { ids: match.ids },
        );
      }
      // Two QAD records must not share one Pipedrive record: the first to claim it wins.
      if (match.kind === 'matched' && (await deps.keyMap.claimPipedriveRecord(tenantId, name, match.pipedriveId, key)).owner === key) {
        targetId = match.pipedriveId;
        via = `matched by ${match.via}`;
      }
    }

    if (targetId !== undefined) {
      try {
        await pipedrive.update(entity.collection, targetId, payload);
      } catch (error) {
        if (staleFields(error)) throw retryWithFreshFields(error);
        if (!(error instanceof PipedriveNotFoundError)) throw error;
        // Deleted in Pipedrive since we mapped it: forget it and let the retry match or create afresh.
        await deps.keyMap.forgetPipedriveId(tenantId, name, key, owner);
        throw new RetryLaterError(
          `${entity.collection} ${targetId} no longer exists in Pipedrive; the mapping was dropped and ${entity.label} ${key} will be matched again`,
          1,
        );
      }
      await audit('updated', targetId, `updated (${via})`);
      await afterWrite(targetId);
      await deps.keyMap.complete(tenantId, name, key, owner, { pipedriveId: targetId, contentHash: message.hash });
      return { action: 'updated', pipedriveId: targetId, via };
    }

    await deps.keyMap.markPendingCreate(tenantId, name, key, owner, new Date(deps.clock.now()).toISOString());
    let created: { id: number };
    try {
      created = await pipedrive.create(entity.collection, payload);
    } catch (error) {
      // A 429 or a 4xx is Pipedrive saying no: nothing was created, so the retry need not look for it.
      // Timeouts, resets and 5xx leave the marker: the create may have happened.
      if (error instanceof RateLimitedError || error instanceof PermanentError)
        await deps.keyMap.clearPendingCreate(tenantId, name, key, owner);
      if (staleFields(error)) throw retryWithFreshFields(error);
      throw error;
    }
    await deps.keyMap.claimPipedriveRecord(tenantId, name, created.id, key);
    await audit('created', created.id, `no Pipedrive record carries this QAD key or matches it; created`);
    await afterWrite(created.id);
    await deps.keyMap.complete(tenantId, name, key, owner, { pipedriveId: created.id, contentHash: message.hash });
    return { action: 'created', pipedriveId: created.id };
  } catch (error) {
    await deps.keyMap.release(tenantId, name, key, owner).catch(() => undefined);
    throw error;
  }
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
async function findRecentlyCreated<R, C>(
  pipedrive: PipedriveClient,
  entity: SyncEntity<R, C>,
  keyField: string | undefined,
  key: string,
  sinceMs: number,
): Promise<number | undefined> {
  const updatedSince = new Date(sinceMs).toISOString().replace(/\.\d{3}Z$/u, 'Z');
  let cursor: string | undefined;
  do {
    const page = await pipedrive.list(entity.collection, { updatedSince, newestFirst: true, ...(cursor && { cursor }) });
    const found = page.items.find((remote) => entity.keyValueOf(remote, keyField) === key);
    if (found) return found.id;
    cursor = page.nextCursor;
  } while (cursor);
  return undefined;
}

async function matchRecord<R, C>(
  deps: WriterDeps,
  entity: SyncEntity<R, C>,
  tenantId: string,
  pipedrive: PipedriveClient,
  keyField: string | undefined,
  record: R,
  context: C,
): Promise<MatchResult> {
  const key = entity.key(record);
  const decide = async (byKey: number[], evidence: EvidenceGroup[]) => {
    const owners = await deps.keyMap.ownersOf(
      tenantId,
      entity.entity,
      evidence.flatMap((g) => g.candidates.map((c) => c.id)),
    );
    const ownedByOthers = new Set([...owners].filter(([, owner]) => owner !== key).map(([id]) => id));
    return chooseMatch(key, byKey, evidence, ownedByOthers);
  };
  const listing = await deps.listing.meta(tenantId, entity.entity);
  if (listing && deps.clock.now() - Date.parse(listing.listedAt) < LISTING_TRUST_MS) {
    const groups = entity.evidence(record, context);
    const found = await deps.listing.lookup(
      tenantId,
      entity.entity,
      key,
      groups.flatMap((g) => g.tokens),
    );
    const fromListing = await decide(
      found.byKey,
      groups.map((g) => ({ via: g.via, candidates: g.tokens.flatMap((t) => found.byToken.get(t) ?? []) })),
    );
    // The listing cannot decide between two candidates, and a person may have settled it since: ask Pipedrive.
    if (fromListing.kind !== 'ambiguous') return fromListing;
  }
  // Search errors propagate as "try later": a search that did not answer is not "not found".
  const { byKey, evidence } = await entity.search(pipedrive, record, context, keyField);
  return decide(byKey, evidence);
}
