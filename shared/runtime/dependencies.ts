import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { SQSClient } from '@aws-sdk/client-sqs';
import { readEnvironment } from '../config/environment.ts';
import { createHttpClient, type HttpClient } from '../clients/http.ts';
import { DynamoAuditLog } from '../adapters/aws/dynamo-audit-log.ts';
import { DynamoKeyMap, DynamoListingIndex, DynamoPollStateStore } from '../adapters/aws/dynamo-sync-state.ts';
import { DynamoTenantStore } from '../adapters/aws/dynamo-tenant-store.ts';
import { DynamoOAuthTokenStore } from '../adapters/aws/dynamo-oauth-tokens.ts';
import { DynamoTenantHolds } from '../adapters/aws/dynamo-tenant-holds.ts';
import { KmsCipher } from '../adapters/aws/kms-cipher.ts';
import { SqsMessageControl, SqsRecordQueue } from '../adapters/aws/sqs-queue.ts';
import type { Cipher, EntityName, OAuthTokenStore } from '../ports/index.ts';
import { createConnections } from '../flows/connections.ts';
import type { PollDeps } from '../flows/poll.ts';
import type { WriterBatchDeps } from '../flows/writer-batch.ts';
import { countPipedriveCall, countQadCall } from './observability.ts';
import { observeAwsClient, observeCipher, runtimeProbe } from './probe.ts';

/** The work queues: products have their own, so a backlog of items never holds up customers. */
export type WorkQueue = 'records' | 'products' | 'orders';
export const queueOf = (entity: EntityName): WorkQueue =>
  entity === 'product' ? 'products' : entity === 'salesOrder' ? 'orders' : 'records';

/** The local run's cipher, handed over in memory (never through the environment or a file). */
let localCipher: Cipher | undefined;
export function useLocalCipher(cipher: Cipher): void {
  localCipher = cipher;
}

/**
 * Everything a function needs, built once per container from its environment. The AWS SDK reads
 * AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL_SQS itself, which is how the local run points the
 * same code at dynalite and local-aws-sqs. `consumes` is the queue a writer reads.
 */
export type Dependencies = PollDeps &
  WriterBatchDeps & {
    cipher: Cipher;
    sqs: SQSClient;
    queueUrls: Record<WorkQueue, { queue: string; dlq: string }>;
    oauthTokens: OAuthTokenStore;
    http: HttpClient;
  };

export function buildDependencies(consumes: WorkQueue = 'records'): Dependencies {
  const env = readEnvironment();
  const dynamo = new DynamoDBClient({});
  const sqs = new SQSClient({});
  observeAwsClient('dynamodb', dynamo);
  observeAwsClient('sqs', sqs);
  let cipher: Cipher;
  if (env.CREDENTIALS_CIPHER === 'local') {
    if (!localCipher) throw new Error('CREDENTIALS_CIPHER=local is only for the local run, which installs its cipher first');
    cipher = observeCipher(localCipher);
  } else {
    const kms = new KMSClient({});
    observeAwsClient('kms', kms);
    cipher = new KmsCipher(kms, env.KMS_KEY_ID!);
  }
  const urls: Record<WorkQueue, { queue: string; dlq: string }> = {
    records: { queue: env.RECORDS_QUEUE_URL, dlq: env.RECORDS_DLQ_URL },
    products: { queue: env.PRODUCTS_QUEUE_URL, dlq: env.PRODUCTS_DLQ_URL },
    orders: { queue: env.ORDERS_QUEUE_URL, dlq: env.ORDERS_DLQ_URL },
  };
  const oauthTokens = new DynamoOAuthTokenStore(dynamo, env.SYNC_STATE_TABLE);
  const http = createHttpClient({ defaultTimeoutMs: env.HTTP_TIMEOUT_MS });
  const queues = {
    records: new SqsRecordQueue(sqs, urls.records.queue),
    products: new SqsRecordQueue(sqs, urls.products.queue),
    orders: new SqsRecordQueue(sqs, urls.orders.queue),
  };
  return {
    tenants: new DynamoTenantStore(dynamo, env.CONNECTIONS_TABLE),
    keyMap: new DynamoKeyMap(dynamo, env.SYNC_STATE_TABLE),
    listing: new DynamoListingIndex(dynamo, env.SYNC_STATE_TABLE),
    pollState: new DynamoPollStateStore(dynamo, env.SYNC_STATE_TABLE),
    audit: new DynamoAuditLog(dynamo, env.AUDIT_TABLE, env.AUDIT_RETENTION_DAYS),
    queueFor: (entity) => queues[queueOf(entity)],
    messages: new SqsMessageControl(sqs, urls[consumes].queue, urls[consumes].dlq),
    fallbackEntity: consumes === 'products' ? 'product' : consumes === 'orders' ? 'salesOrder' : 'organization',
    holds: new DynamoTenantHolds(dynamo, env.SYNC_STATE_TABLE),
    connections: createConnections({
      cipher,
      http,
      oauthTokens,
      onPipedriveCall: (t, c) => {
        countPipedriveCall(t, c.endpoint, c.status, c.ms);
        runtimeProbe().pipedriveCall?.(t, c);
      },
      onQadCall: (t, c) => countQadCall(t, c.endpoint, c.status, c.ms),
    }),
    clock: { now: () => Date.now() },
    claimLeaseMs: env.CLAIM_LEASE_SECONDS * 1000,
    retryBaseSeconds: env.RETRY_BASE_SECONDS,
    cipher,
    sqs,
    queueUrls: urls,
    oauthTokens,
    http,
  };
}
