import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { CreateTableCommand, DynamoDBClient, type CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import dynalite from 'dynalite';
import { createRequestHandler } from 'local-aws-sqs';
import { MAX_VISIBILITY_SECONDS } from '../../shared/domain/errors.ts';
import { TABLES } from '../../shared/config/tables.ts';
import { queueEnvName } from '../../shared/config/environment.ts';
import { entityRegistry } from '../../shared/flows/registry.ts';
import { delayRequests, type Latency } from '../simulators/latency.ts';

export interface LocalAwsEnv {
  AWS_REGION: string;
  AWS_ACCESS_KEY_ID: string;
  AWS_SECRET_ACCESS_KEY: string;
  AWS_ENDPOINT_URL_DYNAMODB: string;
  AWS_ENDPOINT_URL_SQS: string;
  CONNECTIONS_TABLE: string;
  SYNC_STATE_TABLE: string;
  AUDIT_TABLE: string;
  CREDENTIALS_CIPHER: string;
  CONNECTOR_ALLOW_LOOPBACK_HTTP: string;
  /** `<QUEUE>_QUEUE_URL` and `<QUEUE>_DLQ_URL` for every work queue of the registry. */
  [queueUrl: string]: string;
}

export interface LocalQueue {
  url: string;
  arn: string;
  dlqUrl: string;
  dlqArn: string;
}

export interface LocalAws {
  env: LocalAwsEnv;
  dynamo: DynamoDBClient;
  sqs: SQSClient;
  /** Every work queue of the registry, by name. */
  queues: Record<string, LocalQueue>;
  /** One work queue, or an error naming the known ones. */
  queue(name: string): LocalQueue;
  /** The records queue, kept as the default for callers that handle one queue. */
  queueUrl: string;
  dlqUrl: string;
  dlqArn: string;
  close(): Promise<void>;
}

const CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };
const REGION = 'us-east-1';

function tableInputs(prefix: string): CreateTableCommandInput[] {
  const { connections, syncState, audit } = TABLES;
  return [
    {
      TableName: `${prefix}-connections`,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: connections.partitionKey, AttributeType: 'S' }],
      KeySchema: [{ AttributeName: connections.partitionKey, KeyType: 'HASH' }],
    },
    {
      TableName: `${prefix}-sync-state`,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: syncState.partitionKey, AttributeType: 'S' },
        { AttributeName: syncState.sortKey, AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: syncState.partitionKey, KeyType: 'HASH' },
        { AttributeName: syncState.sortKey, KeyType: 'RANGE' },
      ],
    },
    {
      TableName: `${prefix}-audit`,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: audit.partitionKey, AttributeType: 'S' },
        { AttributeName: audit.sortKey, AttributeType: 'S' },
        { AttributeName: audit.byTenantTime.partitionKey, AttributeType: 'S' },
        { AttributeName: audit.byTenantTime.sortKey, AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: audit.partitionKey, KeyType: 'HASH' },
        { AttributeName: audit.sortKey, KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: [
        {
          IndexName: audit.byTenantTime.indexName,
          KeySchema: [
            { AttributeName: audit.byTenantTime.partitionKey, KeyType: 'HASH' },
            { AttributeName: audit.byTenantTime.sortKey, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
    },
  ];
}

/**
 * In-process AWS for the local run and the integration tests: dynalite speaks DynamoDB and
 * local-aws-sqs speaks SQS (JSON protocol), both on loopback. Tables and queues are created with
 * the same keys and redrive policy as the stack. `env` is what the functions' environment holds.
 */
export async function startLocalAws(
  options: {
    maxReceiveCount?: number;
    visibilityTimeoutSeconds?: number;
    prefix?: string;
    /** Answer time of each DynamoDB and SQS request (default: at once). */
    latency?: { dynamo: Latency; sqs: Latency };
  } = {},
): Promise<LocalAws> {
  const prefix = options.prefix ?? 'connector';
  const dynaliteServer = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  delayRequests(dynaliteServer, options.latency?.dynamo);
  await new Promise<void>((resolve) => dynaliteServer.listen(0, '127.0.0.1', () => resolve()));
  const dynamoEndpoint = `http://127.0.0.1:${(dynaliteServer.address() as AddressInfo).port}`;
  const sqsServer = await startSqsServer(options.latency?.sqs);
  const sqsEndpoint = `http://127.0.0.1:${(sqsServer.address() as AddressInfo).port}`;

  const dynamo = new DynamoDBClient({ endpoint: dynamoEndpoint, region: REGION, credentials: CREDENTIALS });
  const sqs = new SQSClient({ endpoint: sqsEndpoint, region: REGION, credentials: CREDENTIALS });
  for (const input of tableInputs(prefix)) await dynamo.send(new CreateTableCommand(input));

  const createQueue = async (name: string): Promise<LocalQueue> => {
    const dlq = await sqs.send(
      new CreateQueueCommand({ QueueName: `${prefix}-${name}-dlq`, Attributes: { MessageRetentionPeriod: String(14 * 86_400) } }),
    );
    const arnOf = async (url: string) =>
      (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
    const dlqArn = await arnOf(dlq.QueueUrl!);
    const queue = await sqs.send(
      new CreateQueueCommand({
        QueueName: `${prefix}-${name}`,
        Attributes: {
          VisibilityTimeout: String(options.visibilityTimeoutSeconds ?? 30),
          MessageRetentionPeriod: String(4 * 86_400),
          RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: options.maxReceiveCount ?? 10 }),
        },
      }),
    );
    return { url: queue.QueueUrl!, arn: await arnOf(queue.QueueUrl!), dlqUrl: dlq.QueueUrl!, dlqArn };
  };
  const queues: Record<string, LocalQueue> = {};
  for (const { name } of entityRegistry.queues) queues[name] = await createQueue(name);
  const queue = (name: string): LocalQueue => {
    const q = queues[name];
    if (!q) throw new Error(`no work queue ${name} (known: ${Object.keys(queues).join(', ')})`);
    return q;
  };

  const env: LocalAwsEnv = {
    AWS_REGION: REGION,
    AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_DYNAMODB: dynamoEndpoint,
    AWS_ENDPOINT_URL_SQS: sqsEndpoint,
    CONNECTIONS_TABLE: `${prefix}-connections`,
    SYNC_STATE_TABLE: `${prefix}-sync-state`,
    AUDIT_TABLE: `${prefix}-audit`,
    ...Object.fromEntries(
      Object.entries(queues).flatMap(([name, q]) => [
        [`${queueEnvName(name)}_QUEUE_URL`, q.url],
        [`${queueEnvName(name)}_DLQ_URL`, q.dlqUrl],
      ]),
    ),
    CREDENTIALS_CIPHER: 'local',
    CONNECTOR_ALLOW_LOOPBACK_HTTP: 'true',
  };

  return {
    env,
    dynamo,
    sqs,
    queues,
    queue,
    queueUrl: queue('records').url,
    dlqUrl: queue('records').dlqUrl,
    dlqArn: queue('records').dlqArn,
    async close() {
      dynamo.destroy();
      sqs.destroy();
      await new Promise<void>((resolve) => dynaliteServer.close(() => resolve()));
      sqsServer.closeAllConnections?.();
      await new Promise<void>((resolve) => sqsServer.close(() => resolve()));
    },
  };
}

/**
 * local-aws-sqs on loopback, refusing what AWS refuses and it does not: a ChangeMessageVisibility that
 * would keep a message invisible past 12 hours from its receipt (AWS rejects it; it does not clamp).
 */
async function startSqsServer(latency: Latency | undefined): Promise<Server> {
  const { requestHandler, service } = createRequestHandler({ port: 0, hostname: '127.0.0.1', emulateQueueCreationLifecycle: false });
  const server = createServer((req, res) => {
    void (async () => {
      const target = String(req.headers['x-amz-target'] ?? '');
      // The single call only: a batch refuses per entry, which this front does not model (nothing here sends one).
      if (!target.endsWith('.ChangeMessageVisibility')) return requestHandler(req, res);
      const body = await readBody(req);
      const refusal = visibilityRefusal(body, Date.now());
      if (refusal) {
        res.statusCode = 400;
        res.setHeader('content-type', 'application/x-amz-json-1.0');
        res.setHeader('x-amzn-query-error', 'InvalidParameterValue;Sender');
        res.end(JSON.stringify({ __type: 'com.amazon.coral.service#InvalidParameterValueException', message: refusal }));
        return;
      }
      // The body was read here: hand local-aws-sqs a request that replays it.
      const replay = Object.assign(Readable.from([body]), { headers: req.headers, method: req.method, url: req.url });
      return requestHandler(replay as unknown as IncomingMessage, res);
    })();
  });
  delayRequests(server, latency);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  // Queue URLs carry the port, as createSqsServer sets it once listening.
  service.PORT = (server.address() as AddressInfo).port;
  return server;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Why AWS would refuse this visibility change, or undefined. local-aws-sqs's receipt handles carry their receive time. */
function visibilityRefusal(body: Buffer, nowMs: number): string | undefined {
  let request: {
    ReceiptHandle?: string;
    VisibilityTimeout?: number;
    Entries?: Array<{ ReceiptHandle?: string; VisibilityTimeout?: number }>;
  };
  try {
    request = JSON.parse(body.toString('utf8')) as typeof request;
  } catch {
    return undefined;
  }
  const { ReceiptHandle, VisibilityTimeout } = request;
  const receivedAt = receiveTimeOf(ReceiptHandle);
  if (receivedAt === undefined || VisibilityTimeout === undefined) return undefined;
  const total = Math.floor((nowMs - receivedAt) / 1000) + Number(VisibilityTimeout);
  if (total <= MAX_VISIBILITY_SECONDS) return undefined;
  return (
    `Value ${VisibilityTimeout} for parameter VisibilityTimeout is invalid. ` +
    `Reason: Total VisibilityTimeout for the message is beyond the limit [${MAX_VISIBILITY_SECONDS} seconds]`
  );
}

function receiveTimeOf(receiptHandle: string | undefined): number | undefined {
  if (!receiptHandle) return undefined;
  const text = Buffer.from(receiptHandle, 'base64').toString('utf8');
  try {
    const date = (JSON.parse(text.slice(text.indexOf('{'))) as { date?: unknown }).date;
    return typeof date === 'number' ? date : undefined;
  } catch {
    return undefined;
  }
}
