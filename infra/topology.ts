import { Duration } from 'aws-cdk-lib';

/**
 * What the connector runs, as data. Adding an entity or a flow is an edit here (plus its handler file and,
 * for a poller, a schedule in cdk.json); the stack derives functions, queues, grants, schedules, alarms and
 * dashboard rows from these lists.
 *
 * - a poller reads one QAD entity on a schedule and sends records to a work queue;
 * - a writer consumes exactly one work queue and writes to a target system;
 * - each work queue has a DLQ, and its visibility timeout follows its writer's timeout.
 */

/** The system whose credentials a function may decrypt: the KMS encryption context `system` it is held to. */
export type CredentialSystem = 'qad' | 'pipedrive';

/** Work queue names; env vars are `<NAME>_QUEUE_URL` / `<NAME>_DLQ_URL`. Add 'products' etc. here. */
export type WorkQueueName = 'records';
export const WORK_QUEUES: readonly WorkQueueName[] = ['records'];

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
}

export interface PollerSpec extends FunctionSpec {
  /** Entity name: the schedule key in context `schedules` and the `entity` in the scheduled input. */
  readonly entity: string;
  /** Queue it sends records to. */
  readonly sendsTo: WorkQueueName;
}

export interface WriterSpec extends FunctionSpec {
  /** The queue it consumes. One writer per queue. */
  readonly consumes: WorkQueueName;
  readonly batchSize: number;
}

export const POLLERS: readonly PollerSpec[] = [
  {
    id: 'PollCustomers',
    entity: 'customers',
    entry: 'poll-customers.ts',
    description: 'Polls QAD customers changed since the watermark and queues them for Pipedrive',
    timeout: Duration.minutes(5),
    memorySize: 512,
    // QAD to read; Pipedrive for the first sync's one listing of organizations and the key field.
    decrypts: ['qad', 'pipedrive'],
    sendsTo: 'records',
  },
];

export const WRITERS: readonly WriterSpec[] = [
  {
    id: 'WritePipedrive',
    entry: 'write-pipedrive.ts',
    description: 'Consumes queued records and upserts them into Pipedrive',
    timeout: Duration.seconds(60),
    memorySize: 512,
    decrypts: ['pipedrive'],
    consumes: 'records',
    batchSize: 10,
  },
];

/** SQS guidance: visibility timeout at least six times the consuming function's timeout. */
export const VISIBILITY_TIMEOUT_FACTOR = 6;
