import { Duration } from 'aws-cdk-lib';
import type { SecretSystem } from '../shared/config/tenant.ts';
import { entityRegistry } from '../shared/flows/registry.ts';
import { pascal } from './names.ts';

/**
 * What the connector runs, as data derived from the entity registry (shared/flows/registry.ts): a poll
 * function per registered flow, a writer per work queue. The stack derives functions, queues, grants,
 * schedules, alarms and dashboard rows from these lists; adding an entity is a registry entry.
 *
 * - a poller reads one QAD entity on a schedule and sends records to a work queue;
 * - a writer consumes exactly one work queue and writes to a target system;
 * - each work queue has a DLQ, and its visibility timeout follows its writer's timeout.
 */

/** The system whose credentials a function may decrypt: the KMS encryption context `system` it is held to. */
export type CredentialSystem = SecretSystem;

/** Work queue names; env vars are `<NAME>_QUEUE_URL` / `<NAME>_DLQ_URL`. They come from the entity registry. */
export type WorkQueueName = string;
export const WORK_QUEUES: readonly WorkQueueName[] = entityRegistry.queues.map((q) => q.name);

export interface FunctionSpec {
  /** Construct id, PascalCase, unique. */
  readonly id: string;
  /** Handler file under functions/, exporting `handler`. */
  readonly entry: string;
  readonly description: string;
  readonly timeout: Duration;
  readonly memorySize: number;
  /** Whose credentials it decrypts (kms:Decrypt is conditioned on these encryption contexts). */
  readonly decrypts: readonly CredentialSystem[];
  /** This function's own environment: which flow it polls, or which queue it consumes. */
  readonly environment: Readonly<Record<string, string>>;
}

export interface PollerSpec extends FunctionSpec {
  /** Poll name: the schedule key in context `schedules` and the `entity` in the scheduled input. */
  readonly entity: string;
  /** Queue it sends records to. */
  readonly sendsTo: WorkQueueName;
}

export interface WriterSpec extends FunctionSpec {
  /** The queue it consumes. One writer per queue. */
  readonly consumes: WorkQueueName;
  readonly batchSize: number;
  /**
   * How long the event source gathers records for one batch (none: it hands on what one receive got). Lambda requires
   * at least 1 s for a batch over 10.
   */
  readonly maxBatchingWindow?: Duration;
}

export const POLLERS: readonly PollerSpec[] = entityRegistry.flows.map((flow) => ({
  id: `Poll${pascal(flow.poll)}`,
  entity: flow.poll,
  entry: 'poll.ts',
  description:
    flow.source === 'qad'
      ? `Polls QAD ${flow.poll} changed since the watermark and queues them for Pipedrive`
      : `Polls ${flow.poll} in Pipedrive and queues them for QAD`,
  timeout: Duration.minutes(5),
  memorySize: 512,
  // QAD to read and Pipedrive for the first sync's one listing and the key field; Pipedrive alone where it is the source.
  decrypts: flow.source === 'qad' ? ['qad', 'pipedrive'] : ['pipedrive'],
  environment: { POLL_NAME: flow.poll },
  sendsTo: flow.queue,
}));

/**
 * Records per writer invocation of a bulk queue. A writer keeps up to a tenth of its tenant's burst limit in flight
 * (shared/flows/tenant-slots.ts); a batch of 10 capped that at 10 and its slowest record held the next receive, so
 * premium and ultimate stayed near 0.8 of their rate at Pipedrive's latency. Fifty keeps the slots full for most of
 * the batch and spreads each batch's own DynamoDB reads and audit write over five times the records. A batch over 10
 * needs a batching window, so a queue holding fewer waits up to that second before its writer starts: a prompt queue
 * (won deals) keeps batches of 10 handed on at once, where a second would only delay each order and put all of a
 * few dozen deals into one container.
 */
export const BULK_BATCH_SIZE = 50;
const PROMPT_BATCH_SIZE = 10;

export const WRITERS: readonly WriterSpec[] = entityRegistry.queues.map((queue) => ({
  id: queue.writer,
  entry: 'write.ts',
  description: `Consumes the ${queue.name} queue: ${queue.description}`,
  timeout: Duration.seconds(60),
  memorySize: 512,
  decrypts: queue.decrypts,
  environment: { WORK_QUEUE: queue.name },
  consumes: queue.name,
  ...(queue.traffic === 'bulk' ? { batchSize: BULK_BATCH_SIZE, maxBatchingWindow: Duration.seconds(1) } : { batchSize: PROMPT_BATCH_SIZE }),
}));

/** With context `webhooks=true`: the function behind the webhook endpoint, queueing won deals for the QAD writer. */
export const WEBHOOK_RECEIVER: FunctionSpec & { readonly sendsTo: WorkQueueName } = {
  id: 'ReceiveWebhooks',
  entry: 'webhook.ts',
  description: 'Authenticates Pipedrive webhook deliveries and queues deals that became won for the QAD writer',
  // Pipedrive retries a slow answer: the work is a read, a decrypt (cached) and a send, well under a second warm.
  timeout: Duration.seconds(10),
  memorySize: 512,
  decrypts: ['webhook'],
  environment: {},
  sendsTo: entityRegistry.byEntity('salesOrder').queue,
};

/** SQS guidance: visibility timeout at least six times the consuming function's timeout, plus its batching window. */
export const VISIBILITY_TIMEOUT_FACTOR = 6;

/** The stack's default schedule per poll, from the registry; cdk context `schedules` overrides any of them. */
export const DEFAULT_SCHEDULES: Readonly<Record<string, string>> = Object.fromEntries(
  entityRegistry.flows.map((f) => [f.poll, f.schedule]),
);
