import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { z } from 'zod';
import type { StoredTenant } from '../config/tenant.ts';
import { ClaimHeldError, errorMessage, PermanentError, RateLimitedError, RetryLaterError } from '../domain/errors.ts';
import type { AuditLog, EntityName, MessageControl, RecordMessage, TenantStore } from '../ports/index.ts';
import { countDeadLetter, countRecord, logger } from '../runtime/observability.ts';
import { withEntity } from './entities/index.ts';
import { WaitForDependency } from './entities/entity.ts';
import { writeRecord, type DeliveryInfo, type WriterDeps } from './write-record.ts';

export interface WriterBatchDeps extends WriterDeps {
  tenants: TenantStore;
  audit: AuditLog;
  /** Visibility and dead-lettering on the queue this writer consumes. */
  messages: MessageControl;
  /** Where a message too broken to name its entity is audited: the entity this queue carries. */
  fallbackEntity: EntityName;
  /** First step of the retry backoff in seconds (10 in AWS; the local run may go faster). */
  retryBaseSeconds: number;
}

const recordMessageSchema: z.ZodType<RecordMessage> = z.object({
  v: z.literal(1),
  tenantId: z.string().min(1),
  entity: z.enum(['organization', 'person', 'product', 'salesOrder']),
  key: z.string().min(1),
  hash: z.string().min(1),
  record: z.unknown(),
  pollId: z.string(),
});

/** Backoff for transient failures, from the receive count: base, 2 x base, 4 x base ... capped at 15 min. */
function backoffSeconds(attempt: number, base: number): number {
  return Math.min(base * 2 ** Math.max(0, attempt - 1), 900) + Math.floor(Math.random() * Math.max(1, base / 2));
}

/**
 * One SQS batch for a writer: Pipedrive (organizations, persons, products) or QAD (sales orders). Each record ends one of three ways:
 * - done (written, unchanged, or permanently failed: audited and dead-lettered at once);
 * - retry later: its visibility is set from the 429 reset or a backoff, and it is reported in
 *   batchItemFailures so SQS redelivers it (every receive counts toward maxReceiveCount);
 * - deferred without a call: after a tenant's first 429 in this batch, its other records wait too.
 * Records are processed one by one so that a 429 stops the tenant's calls at once.
 */
export type WriteOne = (tenant: StoredTenant, message: RecordMessage, delivery: DeliveryInfo) => Promise<{ action: string; pipedriveId?: number; ref?: string }>;

/** The Pipedrive writer: organizations, persons and products. */
export function writeToPipedrive(deps: WriterDeps): WriteOne {
  return (tenant, m, delivery) => {
    if (m.entity === 'salesOrder') throw new PermanentError('a sales order message reached a Pipedrive writer: it belongs on the orders queue');
    return withEntity(m.entity, (entity) => writeRecord(deps, entity, tenant, m, delivery));
  };
}

export async function handleWriterBatch(deps: WriterBatchDeps, event: SQSEvent, writeOne: WriteOne = writeToPipedrive(deps)): Promise<SQSBatchResponse> {
  const tenantCache = new Map<string, Promise<StoredTenant | undefined>>();
  const rateLimited = new Map<string, number>();

  async function handleRecord(record: SQSRecord): Promise<void> {
    const attempt = Number(record.attributes.ApproximateReceiveCount ?? '1');
    const delivery = { messageId: record.messageId, attempt };
    const message = parseMessage(record.body);
    if (!message.ok) {
      await deps.audit.record({ tenantId: '_unknown', entity: deps.fallbackEntity, key: `_message:${record.messageId}`, action: 'failed', reason: message.reason, messageId: record.messageId, attempt, snapshot: record.body });
      await deps.messages.deadLetter(record.body, message.reason);
      return;
    }
    const m = message.value;
    const log = logger.createChild({ persistentKeys: { tenantId: m.tenantId, entity: m.entity, key: m.key, messageId: record.messageId } });
    const waitFor = rateLimited.get(m.tenantId);
    if (waitFor !== undefined) {
      await deps.messages.setVisibility(record.receiptHandle, waitFor);
      await deps.audit.record({ tenantId: m.tenantId, entity: m.entity, key: m.key, action: 'deferred', reason: `tenant rate-limited earlier in this batch; retry in ${waitFor}s`, attempt, messageId: record.messageId });
      countRecord(m.tenantId, m.entity, 'deferred');
      throw new Error('deferred: tenant rate-limited in this batch');
    }

    let tenant = tenantCache.get(m.tenantId);
    if (!tenant) tenantCache.set(m.tenantId, (tenant = deps.tenants.get(m.tenantId)));
    const stored = await tenant;
    if (!stored || !stored.config.enabled) {
      const reason = stored ? `tenant ${m.tenantId} is disabled` : `tenant ${m.tenantId} does not exist`;
      await deps.audit.record({ tenantId: m.tenantId, entity: m.entity, key: m.key, action: 'failed', reason, attempt, messageId: record.messageId });
      await deps.messages.deadLetter(record.body, reason);
      return;
    }

    try {
      const outcome = await writeOne(stored, m, delivery);
      countRecord(m.tenantId, m.entity, outcome.action);
      log.info('record written', { ...outcome });
    } catch (error) {
      if (error instanceof PermanentError) {
        await deps.audit.record({ tenantId: m.tenantId, entity: m.entity, key: m.key, action: 'failed', reason: 'permanent error: dead-lettered, no retries', error: errorMessage(error), attempt, messageId: record.messageId, snapshot: m.record });
        await deps.messages.deadLetter(record.body, errorMessage(error));
        countRecord(m.tenantId, m.entity, 'failed');
        countDeadLetter(m.tenantId, m.entity);
        log.warn('permanent failure, dead-lettered', { error: errorMessage(error) });
        return;
      }
      const delay = retryDelay(error, attempt, deps.retryBaseSeconds);
      if (error instanceof RateLimitedError) rateLimited.set(m.tenantId, delay);
      const action = error instanceof ClaimHeldError || error instanceof RateLimitedError || error instanceof WaitForDependency ? 'deferred' : 'failed';
      await deps.audit.record({ tenantId: m.tenantId, entity: m.entity, key: m.key, action, reason: `will retry in ${delay}s`, error: errorMessage(error), attempt, messageId: record.messageId });
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

function parseMessage(body: string): { ok: true; value: RecordMessage } | { ok: false; reason: string } {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { ok: false, reason: 'message body is not JSON' };
  }
  const parsed = recordMessageSchema.safeParse(json);
  return parsed.success ? { ok: true, value: parsed.data } : { ok: false, reason: `message is not a record message: ${parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}` };
}
