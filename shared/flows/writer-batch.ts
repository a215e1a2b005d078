import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { StoredTenant } from '../config/tenant.ts';
import {
  DEPENDENCY_WAITS_ATTRIBUTE,
  DISABLED_CAUSE,
  errorMessage,
  FAILED_ATTEMPTS_ATTRIBUTE,
  outcomeOf,
  PermanentError,
  type ErrorOutcome,
} from '../domain/errors.ts';
import type { AuditLog, EntityName, MessageControl, RecordMessage, TenantHold, TenantHolds, TenantStore } from '../ports/index.ts';
import type { PipedriveClient } from '../ports/pipedrive.ts';
import { BatchAudit, listingMetaOncePer, readForBatch, type BatchReads, type BatchRecord } from './batch-scope.ts';
import { readOnce } from './read-once.ts';
import { parseRecordMessage } from './record-message.ts';
import type { EntityRegistry } from './registry.ts';
import { clearRecordHolds, holdRecord, recordTenantHold, waitOutcome } from './tenant-holds.ts';
import { recordsInFlight, TenantSlots } from './tenant-slots.ts';
import type { WriterDeps } from './write-record.ts';

export interface WriterBatchDeps extends WriterDeps {
  tenants: TenantStore;
  audit: AuditLog;
  /** Parked tenants and closed daily-budget gates: their records wait without calling Pipedrive. */
  holds: TenantHolds;
  /** Visibility and dead-lettering on the queue this writer consumes. */
  messages: MessageControl;
  /** First step of the retry backoff in seconds (10 in AWS; the local run may go faster). */
  retryBaseSeconds: number;
  /** Which flow writes each message's entity. */
  registry: EntityRegistry;
  /** The work queue this writer consumes: a message of an entity that belongs on another is refused. */
  queue: string;
}

/** The message being handled, as far as it could be read. */
interface Handling {
  record: SQSRecord;
  /** This attempt's number: 1 + the failed attempts the message carries (waits do not count). */
  attempt: number;
  /** How often the record already waited for another record. */
  dependencyWaits: number;
  tenantId: string;
  entity: EntityName;
  key: string;
  message?: RecordMessage;
  /** A tenant hold already recorded (found in DynamoDB, or earlier in this batch): not recorded again. */
  knownHold?: boolean;
}

/**
 * One SQS batch for a writer: Pipedrive (organizations, persons, products) or QAD (sales orders).
 * Records are handled several at a time per tenant (tenant-slots.ts: as many as its burst limit
 * warrants); a 429 stops the tenant's calls in every container (the client's shared burst wait), and
 * records not yet started wait for the reset without calling:
 * 1. read the message (a broken one is dead-lettered with its reason);
 * 2. find its tenant (missing: dead-lettered; disabled: held) and any hold on it (parked, budget gate);
 * 3. hand it to its entity's flow from the registry;
 * 4. on an error, the error policy (`outcomeOf` in shared/domain/errors.ts) says what happens and
 *    `applyOutcome` below does it: retry after N seconds, hold in DynamoDB, or dead-letter; every
 *    decision is audited and counted.
 * A retry is sent again as a new message with a delay, carrying its count of failed attempts, and this
 * receive is acknowledged: a wait costs no receive, so SQS's maxReceiveCount only catches writers that
 * crash or time out, and the policy's retry budget counts real failed attempts only.
 */
/**
 * A record is only started with this much of the invocation left: one record makes a few calls, each
 * bounded by the HTTP timeout. The rest of the batch is handed back (sent again at once, no receive spent)
 * instead of the whole batch coming back after a timeout because its last record overran.
 */
export const WRITER_TIME_RESERVE_MS = 20_000;

export async function handleWriterBatch(
  given: WriterBatchDeps,
  event: SQSEvent,
  /** The invocation's time left (Lambda's context.getRemainingTimeInMillis); unbounded without one. */
  remainingMs: () => number = () => Number.POSITIVE_INFINITY,
): Promise<SQSBatchResponse> {
  // The batch's decisions are audited in one write before it is acknowledged (a crash before that redelivers the
  // batch, whose records then decide and audit again), and the listing's marker is read once per batch.
  const audit = new BatchAudit(given.audit, given.clock);
  const scope: WriterBatchDeps = { ...given, audit, listing: listingMetaOncePer(given.listing) };
  const batchStartedAt = scope.clock.now();
  const tenants = new Map<string, Promise<StoredTenant | undefined>>();
  const tenantOf = (tenantId: string) => readOnce(tenants, tenantId, () => scope.tenants.get(tenantId));
  const deps: WriterBatchDeps = { ...scope, ...(await readForAll(scope, event, tenantOf)) };
  const holds = new Map<string, Promise<TenantHold | undefined>>();
  /** Tenants rate-limited earlier in this batch, with how long their other records wait. */
  const paused = new Map<string, number>();
  const slots = new TenantSlots(1);
  /** The last record of each key started in this batch. */
  const inBatch = new Map<string, Promise<void>>();
  const fallbackEntity = deps.registry.flows.find((f) => f.queue === deps.queue)?.entity ?? deps.queue;

  async function handleRecord(record: SQSRecord): Promise<void> {
    const attempt = countOf(record, FAILED_ATTEMPTS_ATTRIBUTE) + 1;
    const dependencyWaits = countOf(record, DEPENDENCY_WAITS_ATTRIBUTE);
    const parsed = parseRecordMessage(record.body);
    if (!parsed.ok) {
      const h = { record, attempt, dependencyWaits, tenantId: '_unknown', entity: fallbackEntity, key: `_message:${record.messageId}` };
      return applyOutcome(h, { action: 'failed', reason: parsed.reason, deadLetter: 'permanent' });
    }
    const m = parsed.value;
    // Copies of one record in a batch go one after the other: the second finds the first's work done, not its claim held.
    const same = `${m.tenantId}|${m.entity}|${m.key}`;
    const turn = (inBatch.get(same) ?? Promise.resolve())
      .catch(() => undefined)
      .then(() => slots.run(m.tenantId, () => handleMessage(record, m, attempt, dependencyWaits)));
    inBatch.set(same, turn);
    return turn;
  }

  async function handleMessage(record: SQSRecord, m: RecordMessage, attempt: number, dependencyWaits: number): Promise<void> {
    const h: Handling = { record, attempt, dependencyWaits, tenantId: m.tenantId, entity: m.entity, key: m.key, message: m };
    if (remainingMs() < WRITER_TIME_RESERVE_MS)
      return applyOutcome(h, {
        action: 'deferred',
        reason: 'handed back unstarted: the invocation is near its time limit',
        retryInSeconds: 0,
      });
    let pipedrive: PipedriveClient | undefined;
    const waitFor = paused.get(m.tenantId);
    if (waitFor !== undefined)
      return applyOutcome(h, {
        action: 'deferred',
        reason: `tenant rate-limited earlier in this batch; retry in ${waitFor}s`,
        retryInSeconds: waitFor,
      });

    try {
      const tenant = await tenantOf(m.tenantId);
      if (!tenant) throw new PermanentError(`tenant ${m.tenantId} does not exist`);
      // Disabled while its messages were in flight: kept, not dead-lettered, so enabling it resumes where it stopped.
      if (!tenant.config.enabled)
        return await applyOutcome(h, {
          action: 'deferred',
          reason: 'tenant disabled: message held until "connector tenant enable"',
          hold: DISABLED_CAUSE,
        });
      const flow = deps.registry.byEntity(m.entity);
      if (flow.queue !== deps.queue)
        throw new PermanentError(`a ${m.entity} message reached the ${deps.queue} queue: it belongs on the ${flow.queue} queue`);
      const hold = await readOnce(holds, m.tenantId, () => deps.holds.current(m.tenantId, deps.clock.now()));
      if (hold) return await applyOutcome({ ...h, knownHold: true }, waitOutcome(hold, deps.clock.now()));
      pipedrive = await deps.clients.pipedrive(tenant);
      let holdMarks: number | undefined;
      const onClaimed = (marks: number | undefined) => void (holdMarks = marks);
      const written = await flow.write(deps, tenant, m, { messageId: record.messageId, attempt, batchStartedAt, onClaimed });
      // Written: whatever held the record for a person or another record is settled (a replay after a fix too).
      if (SETTLED.has(written.action) && holdMarks !== undefined) await clearRecordHolds(deps, m, holdMarks);
      deps.telemetry.recordOutcome(m.tenantId, m.entity, written.action);
      deps.telemetry.info('record written', {
        tenantId: m.tenantId,
        entity: m.entity,
        key: m.key,
        messageId: record.messageId,
        ...written,
      });
    } catch (error) {
      const nowMs = deps.clock.now();
      const outcome = outcomeOf(error, { entity: m.entity, attempt, dependencyWaits, retryBaseSeconds: deps.retryBaseSeconds, nowMs });
      return await applyOutcome(h, outcome, error);
    } finally {
      // A tenant's first record of the batch goes alone; once its outcome is known (a 429 pauses the rest, a park or
      // a closed gate holds them) the others follow as many at a time as the burst limit its client has seen warrants.
      if (pipedrive) slots.setLimit(m.tenantId, recordsInFlight(pipedrive.rateLimits(), event.Records.length));
    }
  }

  /** Does what the policy decided: tenant hold, hold, dead letter or retry; audits and counts it. Throws to report a retry. */
  async function applyOutcome(h: Handling, outcome: ErrorOutcome, error?: unknown): Promise<void> {
    const { record, tenantId, entity, key } = h;
    if (outcome.tenantHold && !h.knownHold) {
      // The rest of the batch sees the hold at once, without asking DynamoDB or Pipedrive again.
      holds.set(tenantId, Promise.resolve(await recordTenantHold(deps, tenantId, entity, outcome.tenantHold)));
    }
    if (outcome.pauseTenantSeconds !== undefined) paused.set(tenantId, outcome.pauseTenantSeconds);
    // Kept in DynamoDB, not cycled through the queue towards the DLQ, until its cause is fixed; a record's own
    // hold once per record (a message bringing it again replaces the one held), audited when it begins.
    if (outcome.hold && outcome.holdPerRecord && h.message) {
      if (!(await holdRecord(deps, h.message, outcome.hold, { reason: outcome.reason }))) return;
    } else if (outcome.hold) await deps.holds.hold(tenantId, record.messageId, record.body, outcome.hold);
    const requeued = outcome.retryInSeconds !== undefined && !outcome.keepReceive && (await requeue(h, outcome.retryInSeconds, outcome));
    if (outcome.retryInSeconds !== undefined && !requeued) await deps.messages.setVisibility(record.receiptHandle, outcome.retryInSeconds);
    const cause = error === undefined ? undefined : errorMessage(error);
    await deps.audit.record({
      tenantId,
      entity,
      key,
      action: outcome.action,
      reason: outcome.reason,
      attempt: h.attempt,
      messageId: record.messageId,
      ...(cause !== undefined && { error: cause }),
      ...(h.message && { contentHash: h.message.hash }),
    });
    if (outcome.deadLetter) await deps.messages.deadLetter(record.body, cause ?? outcome.reason, outcome.deadLetter);
    deps.telemetry.recordOutcome(tenantId, entity, outcome.action);
    if (outcome.deadLetter) deps.telemetry.deadLettered(tenantId, entity);
    const log = { tenantId, entity, key, messageId: record.messageId, attempt: h.attempt, ...(cause !== undefined && { error: cause }) };
    if (outcome.retryInSeconds === undefined) {
      if (outcome.deadLetter) deps.telemetry.warn('permanent failure, dead-lettered', log);
      return;
    }
    deps.telemetry.warn('record will be retried', { ...log, delaySeconds: outcome.retryInSeconds });
    if (requeued) return;
    // SQS refused the new message: reported in batchItemFailures, so it comes back once its visibility runs out.
    throw new Error(`retry in ${outcome.retryInSeconds}s: ${outcome.reason}`);
  }

  /** Sends the message again after `seconds`; false if SQS would not take it (then this receive is retried instead). */
  async function requeue(h: Handling, seconds: number, outcome: ErrorOutcome): Promise<boolean> {
    const counts = {
      failedAttempts: h.attempt - 1 + (outcome.action === 'failed' ? 1 : 0),
      dependencyWaits: h.dependencyWaits + (outcome.dependencyWait ? 1 : 0),
    };
    try {
      await deps.messages.requeue(h.record.body, seconds, counts);
      return true;
    } catch (error) {
      deps.telemetry.warn('could not send the message again; its receive is retried', {
        messageId: h.record.messageId,
        error: errorMessage(error),
      });
      return false;
    }
  }

  const processor = new BatchProcessor(EventType.SQS);
  const response = await processPartialResponse(event, handleRecord, processor, {
    throwOnFullBatchFailure: false,
    processInParallel: true,
  });
  // Not written: the invocation fails and the whole batch comes back, to be decided and audited again.
  await audit.flush();
  return response;
}

/** The batch's reads for all its records (readForBatch), or none when they fail: then each record reads for itself. */
async function readForAll(
  deps: WriterBatchDeps,
  event: SQSEvent,
  tenantOf: (tenantId: string) => Promise<StoredTenant | undefined>,
): Promise<{ batchReads?: BatchReads }> {
  try {
    const records: BatchRecord[] = [];
    for (const record of event.Records) {
      const parsed = parseRecordMessage(record.body);
      const flow = parsed.ok ? deps.registry.flows.find((f) => f.entity === parsed.value.entity) : undefined;
      if (!parsed.ok || !flow?.definition || flow.queue !== deps.queue) continue;
      const tenant = await tenantOf(parsed.value.tenantId);
      if (tenant?.config.enabled) records.push({ tenant, entity: flow.definition, message: parsed.value });
    }
    return { batchReads: await readForBatch(deps, records) };
  } catch (error) {
    deps.telemetry.warn('could not read ahead for the batch; each record reads for itself', { error: errorMessage(error) });
    return {};
  }
}

/** Outcomes that mean the record is in the other system as QAD has it: nothing left to hold it for. */
const SETTLED: ReadonlySet<string> = new Set(['created', 'updated', 'unchanged']);

/** A count a message carries (sent again by a writer); a message fresh from a poll has none. */
function countOf(record: SQSRecord, attribute: string): number {
  const value = Number(record.messageAttributes[attribute]?.stringValue ?? '0');
  return Number.isInteger(value) && value >= 0 ? value : 0;
}
