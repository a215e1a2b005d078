import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { SQSClient } from '@aws-sdk/client-sqs';
import { readEnvironment, readQueueUrls, type Environment } from '../config/environment.ts';
import { createHttpClient, sleep, type HttpClient } from '../clients/http.ts';
import { DynamoAuditLog } from '../adapters/aws/dynamo-audit-log.ts';
import { DynamoKeyMap, DynamoListingIndex, DynamoPollStateStore } from '../adapters/aws/dynamo-sync-state.ts';
import { DynamoTenantStore } from '../adapters/aws/dynamo-tenant-store.ts';
import { DynamoOAuthTokenStore } from '../adapters/aws/dynamo-oauth-tokens.ts';
import { DynamoTenantHolds } from '../adapters/aws/dynamo-tenant-holds.ts';
import { DynamoBurstPauses } from '../adapters/aws/dynamo-burst-pauses.ts';
import { KmsCipher } from '../adapters/aws/kms-cipher.ts';
import { SqsMessageControl, SqsRecordQueue } from '../adapters/aws/sqs-queue.ts';
import type { Cipher, Clock, OAuthTokenStore } from '../ports/index.ts';
import type { PollDeps } from '../flows/poll.ts';
import type { WriterBatchDeps } from '../flows/writer-batch.ts';
import { entityRegistry, type EntityRegistry } from '../flows/registry.ts';
import { createFieldCache } from '../flows/field-resolver.ts';
import type { WebhookDeps } from '../flows/webhook-receive.ts';
import { createTenantClients } from './tenant-clients.ts';
import { countPipedriveCall, countQadCall, powertoolsTelemetry } from './observability.ts';
import { observeAwsClient, observeCipher, runtimeProbe } from './probe.ts';

/** The local run's cipher, handed over in memory (never through the environment or a file). */
let localCipher: Cipher | undefined;
export function useLocalCipher(cipher: Cipher): void {
  localCipher = cipher;
}

export const systemClock: Clock = { now: () => Date.now(), sleep };

/**
 * Everything a function needs, built once per container from its environment. The AWS SDK reads
 * AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL_SQS itself, which is how the local run points the
 * same code at dynalite and local-aws-sqs. `consumes` is the work queue a writer reads.
 */
export type Dependencies = PollDeps &
  WriterBatchDeps & {
    cipher: Cipher;
    sqs: SQSClient;
    queueUrls: Record<string, { queue: string; dlq: string }>;
    oauthTokens: OAuthTokenStore;
    http: HttpClient;
  };

/**
 * The webhook function's dependencies: the connections table, the cipher (webhook secrets only, by its IAM) and
 * the queue won deals go to. Nothing else is built, so nothing else can be reached by mistake.
 */
export function buildWebhookDependencies(registry: EntityRegistry = entityRegistry): WebhookDeps {
  const env = readEnvironment();
  const orders = registry.byEntity('salesOrder').queue;
  const dynamo = new DynamoDBClient({});
  const sqs = new SQSClient({});
  const queue = new SqsRecordQueue(sqs, readQueueUrls([orders])[orders]!.queue);
  return {
    tenants: new DynamoTenantStore(dynamo, env.CONNECTIONS_TABLE),
    cipher: cipherOf(env),
    queueFor: (entity) => {
      if (registry.byEntity(entity).queue !== orders) throw new Error(`the webhook function sends to the ${orders} queue only`);
      return queue;
    },
    clock: systemClock,
    telemetry: powertoolsTelemetry,
  };
}

/** The credentials cipher: KMS in AWS, the local run's own in-memory one. */
function cipherOf(env: Environment): Cipher {
  if (env.CREDENTIALS_CIPHER === 'local') {
    if (!localCipher) throw new Error('CREDENTIALS_CIPHER=local is only for the local run, which installs its cipher first');
    return observeCipher(localCipher);
  }
  const kms = new KMSClient({});
  observeAwsClient('kms', kms);
  return new KmsCipher(kms, env.KMS_KEY_ID!);
}

export function buildDependencies(consumes?: string, registry: EntityRegistry = entityRegistry): Dependencies {
  const env = readEnvironment();
  const queueNames = registry.queues.map((q) => q.name);
  const queue = consumes ?? queueNames[0] ?? '';
  if (!queueNames.includes(queue)) throw new Error(`unknown work queue "${queue}" (known: ${queueNames.join(', ')})`);
  const urls = readQueueUrls(queueNames);
  const dynamo = new DynamoDBClient({});
  const sqs = new SQSClient({});
  observeAwsClient('dynamodb', dynamo);
  observeAwsClient('sqs', sqs);
  const cipher = cipherOf(env);
  const oauthTokens = new DynamoOAuthTokenStore(dynamo, env.SYNC_STATE_TABLE);
  const http = createHttpClient({ defaultTimeoutMs: env.HTTP_TIMEOUT_MS });
  const queues = new Map(queueNames.map((name) => [name, new SqsRecordQueue(sqs, urls[name]!.queue)]));
  return {
    registry,
    queue,
    tenants: new DynamoTenantStore(dynamo, env.CONNECTIONS_TABLE),
    keyMap: new DynamoKeyMap(dynamo, env.SYNC_STATE_TABLE),
    listing: new DynamoListingIndex(dynamo, env.SYNC_STATE_TABLE),
    pollState: new DynamoPollStateStore(dynamo, env.SYNC_STATE_TABLE),
    fields: createFieldCache(),
    audit: new DynamoAuditLog(dynamo, env.AUDIT_TABLE, env.AUDIT_RETENTION_DAYS),
    queueFor: (entity) => queues.get(registry.byEntity(entity).queue)!,
    messages: new SqsMessageControl(sqs, urls[queue]!.queue, urls[queue]!.dlq),
    holds: new DynamoTenantHolds(dynamo, env.SYNC_STATE_TABLE),
    clients: createTenantClients({
      cipher,
      http,
      oauthTokens,
      burstPauses: new DynamoBurstPauses(dynamo, env.SYNC_STATE_TABLE),
      onPipedriveCall: (t, c) => {
        countPipedriveCall(t, c.endpoint, c.status, c.ms);
        runtimeProbe().pipedriveCall?.(t, c);
      },
      onQadCall: (t, c) => countQadCall(t, c.endpoint, c.status, c.ms),
    }),
    clock: systemClock,
    telemetry: powertoolsTelemetry,
    claimLeaseMs: env.CLAIM_LEASE_SECONDS * 1000,
    retryBaseSeconds: env.RETRY_BASE_SECONDS,
    cipher,
    sqs,
    queueUrls: urls,
    oauthTokens,
    http,
  };
}
