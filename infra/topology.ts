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
export type WorkQueueName = 'records' | 'products' | 'orders';
/**
 * records: organizations and persons; products: items, on their own so an item backlog never holds up
 * customers; orders: won deals on their way to QAD.
 */
export const WORK_QUEUES: readonly WorkQueueName[] = ['records', 'products', 'orders'];

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

const poller = (entity: string, label: string, sendsTo: WorkQueueName): PollerSpec => ({
  id: `Poll${label}`,
  entity,
  entry: `poll-${entity}.ts`,
  description: `Polls QAD ${entity} changed since the watermark and queues them for Pipedrive`,
  timeout: Duration.minutes(5),
  memorySize: 512,
  // QAD to read; Pipedrive for the first sync's one listing and the key field.
  decrypts: ['qad', 'pipedrive'],
  sendsTo,
});

export const POLLERS: readonly PollerSpec[] = [
  poller('customers', 'Customers', 'records'),
  poller('contacts', 'Contacts', 'records'),
  poller('items', 'Items', 'products'),
  // Pipedrive is the source here; it needs no QAD secret to read won deals and their lines.
  {
    ...poller('deals', 'Deals', 'orders'),
    description: 'Polls won Pipedrive deals and their lines and queues them for QAD',
    decrypts: ['pipedrive'],
  },
];

const writer = (
  id: string,
  entry: string,
  description: string,
  consumes: WorkQueueName,
  decrypts: readonly CredentialSystem[] = ['pipedrive'],
): WriterSpec => ({
  id,
  entry,
  description,
  timeout: Duration.seconds(60),
  memorySize: 512,
  decrypts,
  consumes,
  batchSize: 10,
});

export const WRITERS: readonly WriterSpec[] = [
  writer('WritePipedrive', 'write-pipedrive.ts', 'Consumes queued customers and contacts and upserts them into Pipedrive', 'records'),
  writer('WriteProducts', 'write-products.ts', 'Consumes queued items and upserts them into Pipedrive as products', 'products'),
  // QAD to create the order; Pipedrive to resolve the deal's organization and products and write the order number back.
  writer('WriteQad', 'write-qad.ts', 'Consumes queued won deals and creates their QAD sales orders, exactly once', 'orders', [
    'qad',
    'pipedrive',
  ]),
];

/** SQS guidance: visibility timeout at least six times the consuming function's timeout. */
export const VISIBILITY_TIMEOUT_FACTOR = 6;
