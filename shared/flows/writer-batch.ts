import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { StoredTenant } from '../config/tenant.ts';
import { ClaimHeldError, errorMessage, PermanentError, RateLimitedError, RetryLaterError } from '../domain/errors.ts';
import type { AuditLog, EntityName, MessageControl, RecordMessage, TenantHold, TenantHolds, TenantStore } from '../ports/index.ts';
import { countDeadLetter, countRecord, logger } from '../runtime/observability.ts';
import { withEntity } from './entities/index.ts';
import { parseRecordMessage } from './record-message.ts';
import { driftCause } from './field-gate.ts';
import { FieldDriftError } from './field-resolver.ts';
import { gateVisibilitySeconds, holdFromError } from './tenant-holds.ts';
import { WaitForDependency } from './entities/entity.ts';
import { writeRecord, type DeliveryInfo, type WriterDeps } from './write-record.ts';

export interface WriterBatchDeps extends WriterDeps {
  tenants: TenantStore;
  audit: AuditLog;
  /** Parked tenants and closed daily-budget gates: their records wait without calling Pipedrive. */
  holds: TenantHolds;
  /** Visibility and dead-lettering on the queue this writer consumes. */
  messages: MessageControl;
  /** Where a message too broken to name its entity is audited: the entity this queue carries. */
  fallbackEntity: EntityName;
  /** First step of the retry backoff in seconds (10 in AWS; the local run may go faster). */
  retryBaseSeconds: number;
}

/** Backoff for transient failures, from the receive count: base, 2 x base, 4 x base ... capped at 15 min. */
function backoffSeconds(attempt: number, base: number): number {
  return Math.min(base * 2 ** Math.max(0, attempt - 1), 900) + Math.floor(Math.random() * Math.max(1, base / 2));
}

/**
 * One SQS batch for a writer: Pipedrive (organizations, persons, products) or QAD (sales orders). Each record ends one of three ways:
 * - done (written, unchanged, or permanently failed: audited and dead-lettered at once);
 * - retry later: its visibility is set from the 429 reset or a backoff, and it is reported in
 *   batchItemFailures so SQS redelivers it (every receive counts toward maxReceiveCount);
 * - deferred without a call: after a tenant's first 429 in this batch, its other records wait too;
 * - held: a parked tenant's message is kept in DynamoDB and acknowledged (no receive loop, no DLQ);
 *   with the tenant's daily budget gate closed, it comes back after the reset, without a call.
 * Records are processed one by one so that a 429 stops the tenant's calls at once.
 */
export type WriteOne = (
  tenant: StoredTenant,
  message: RecordMessage,
  delivery: DeliveryInfo,
) => Promise<{ action: string; pipedriveId?: number; ref?: string }>;

/** The Pipedrive writer: organizations, persons and products. */
export function writeToPipedrive(deps: WriterDeps): WriteOne {
  return (tenant, m, delivery) => {
    if (m.entity === 'salesOrder')
      throw new PermanentError('a sales order message reached a Pipedrive writer: it belongs on the orders queue');
    return withEntity(m.entity, (entity) => writeRecord(deps, entity, tenant, m, delivery));
  };
}

export async function handleWriterBatch(
  deps: WriterBatchDeps,
  event: SQSEvent,
  writeOne: WriteOne = writeToPipedrive(deps),
): Promise<SQSBatchResponse> {
  const tenantCache = new Map<string, Promise<StoredTenant | undefined>>();
  const rateLimited = new Map<string, number>();
  const holdOf = new Map<string, Promise<TenantHold | undefined>>();

  /** A parked tenant's message is held and acknowledged; a gated one waits for the reset. Answers false when no hold applies. */
  async function waitOnHold(hold: TenantHold | undefined, record: SQSRecord, m: RecordMessage, attempt: number): Promise<boolean> {
    if (!hold) return false;
    if (hold.kind === 'parked') {
      await deps.holds.hold(m.tenantId, record.messageId, record.body);
      await deps.audit.record({
        tenantId: m.tenantId,
        entity: m.entity,
        key: m.key,
        action: 'deferred',
        reason: 'tenant parked: message held until Pipedrive is re-authorised',
        error: hold.reason,
        attempt,
        messageId: record.messageId,
      });
      countRecord(m.tenantId, m.entity, 'deferred');
      return true;
    }
    const delay = gateVisibilitySeconds(hold.untilMs, deps.clock.now());
    await deps.messages.setVisibility(record.receiptHandle, delay);
    await deps.audit.record({
      tenantId: m.tenantId,
      entity: m.entity,
      key: m.key,
      action: 'deferred',
      reason: `daily token budget spent: held until ${new Date(hold.untilMs).toISOString()}, retry in ${delay}s`,
      attempt,
      messageId: record.messageId,
    });
    countRecord(m.tenantId, m.entity, 'deferred');
    throw new Error('deferred: tenant daily budget gate closed');
  }

  async function handleRecord(record: SQSRecord): Promise<void> {
    const attempt = Number(record.attributes.ApproximateReceiveCount ?? '1');
    const delivery = { messageId: record.messageId, attempt };
    const message = parseRecordMessage(record.body);
    if (!message.ok) {
      await deps.audit.record({
        tenantId: '_unknown',
        entity: deps.fallbackEntity,
        key: `_message:${record.messageId}`,
        action: 'failed',
        reason: message.reason,
        messageId: record.messageId,
        attempt,
        snapshot: record.body,
      });
      await deps.messages.deadLetter(record.body, message.reason);
      return;
    }
    const m = message.value;
    const log = logger.createChild({ persistentKeys: { tenantId: m.tenantId, entity: m.entity, key: m.key, messageId: record.messageId } });
    const waitFor = rateLimited.get(m.tenantId);
    if (waitFor !== undefined) {
      await deps.messages.setVisibility(record.receiptHandle, waitFor);
      await deps.audit.record({
        tenantId: m.tenantId,
        entity: m.entity,
        key: m.key,
        action: 'deferred',
        reason: `tenant rate-limited earlier in this batch; retry in ${waitFor}s`,
        attempt,
        messageId: record.messageId,
      });
      countRecord(m.tenantId, m.entity, 'deferred');
      throw new Error('deferred: tenant rate-limited in this batch');
    }

    let tenant = tenantCache.get(m.tenantId);
    if (!tenant) tenantCache.set(m.tenantId, (tenant = deps.tenants.get(m.tenantId)));
    const stored = await tenant;
    if (!stored || !stored.config.enabled) {
      const reason = stored ? `tenant ${m.tenantId} is disabled` : `tenant ${m.tenantId} does not exist`;
      await deps.audit.record({
        tenantId: m.tenantId,
        entity: m.entity,
        key: m.key,
        action: 'failed',
        reason,
        attempt,
        messageId: record.messageId,
      });
      await deps.messages.deadLetter(record.body, reason);
      return;
    }

    let hold = holdOf.get(m.tenantId);
    if (!hold) holdOf.set(m.tenantId, (hold = deps.holds.current(m.tenantId, deps.clock.now())));
    if (await waitOnHold(await hold, record, m, attempt)) return;

    try {
      const outcome = await writeOne(stored, m, delivery);
      countRecord(m.tenantId, m.entity, outcome.action);
      log.info('record written', { ...outcome });
    } catch (error) {
      const tenantHold = await holdFromError(deps, m.tenantId, m.entity, error);
      if (tenantHold) {
        // The rest of the batch sees the hold at once, without asking DynamoDB or Pipedrive again.
        holdOf.set(m.tenantId, Promise.resolve(tenantHold));
        await waitOnHold(tenantHold, record, m, attempt);
        return;
      }
      if (error instanceof FieldDriftError) {
        // Kept in DynamoDB, not cycled through the queue towards the DLQ: the first poll that finds the fields fixed releases it.
        await deps.holds.hold(m.tenantId, record.messageId, record.body, driftCause(m.entity));
        await deps.audit.record({
          tenantId: m.tenantId,
          entity: m.entity,
          key: m.key,
          action: 'deferred',
          reason: 'a mapped field drifted: message held (never written without the field) until the field or the mapping is fixed',
          error: errorMessage(error),
          attempt,
          messageId: record.messageId,
        });
        countRecord(m.tenantId, m.entity, 'deferred');
        return;
      }
      if (error instanceof PermanentError) {
        await deps.audit.record({
          tenantId: m.tenantId,
          entity: m.entity,
          key: m.key,
          action: 'failed',
          reason: 'permanent error: dead-lettered, no retries',
          error: errorMessage(error),
          attempt,
          messageId: record.messageId,
          snapshot: m.record,
        });
        await deps.messages.deadLetter(record.body, errorMessage(error));
        countRecord(m.tenantId, m.entity, 'failed');
        countDeadLetter(m.tenantId, m.entity);
        log.warn('permanent failure, dead-lettered', { error: errorMessage(error) });
        return;
      }
      const delay = retryDelay(error, attempt, deps.retryBaseSeconds);
      if (error instanceof RateLimitedError) rateLimited.set(m.tenantId, delay);
      const action =
        error instanceof ClaimHeldError || error instanceof RateLimitedError || error instanceof WaitForDependency ? 'deferred' : 'failed';
      await deps.audit.record({
        tenantId: m.tenantId,
        entity: m.entity,
        key: m.key,
        action,
        reason: `will retry in ${delay}s`,
        error: errorMessage(error),
        attempt,
        messageId: record.messageId,
      });
      await deps.messages.setVisibility(record.receiptHandle, delay);
      countRecord(m.tenantId, m.entity, action);
      log.warn('record will be retried', { error: errorMessage(error), delaySeconds: delay, attempt });
      throw error;
    }
  }

  const processor = new BatchProcessor(EventType.SQS);
  return processPartialResponse(event, handleRecord, processor, { throwOnFullBatchFailure: false, processInParallel: false });
}

function retryDelay(error: unknown, attempt: number, base: number): number {
  if (error instanceof RateLimitedError) return error.resetSeconds + 1 + Math.floor(Math.random() * 3);
  // A record waiting for another (a person for its organization) waits a few backoff steps at once.
  if (error instanceof WaitForDependency) return base * 6;
  if (error instanceof RetryLaterError && error.delaySeconds !== undefined) return error.delaySeconds;
  return backoffSeconds(attempt, base);
}
