import './quiet-env.ts';
import assert from 'node:assert/strict';
import { ReceiveMessageCommand, DeleteMessageBatchCommand, SendMessageBatchCommand, type Message } from '@aws-sdk/client-sqs';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { DynamoAuditLog } from '../../shared/adapters/aws/dynamo-audit-log.ts';
import { DynamoKeyMap, DynamoListingIndex, DynamoPollStateStore } from '../../shared/adapters/aws/dynamo-sync-state.ts';
import { DynamoTenantStore } from '../../shared/adapters/aws/dynamo-tenant-store.ts';
import { DynamoOAuthTokenStore } from '../../shared/adapters/aws/dynamo-oauth-tokens.ts';
import { DynamoTenantHolds } from '../../shared/adapters/aws/dynamo-tenant-holds.ts';
import { SqsMessageControl, SqsRecordQueue } from '../../shared/adapters/aws/sqs-queue.ts';
import { LocalCipher } from '../../shared/adapters/local/local-cipher.ts';
import { createHttpClient, sleep } from '../../shared/clients/http.ts';
import type { StoredTenant, TenantConfigInput } from '../../shared/config/tenant.ts';
import { parseCustomerRow } from '../../shared/domain/customer.ts';
import { organizationContentHash } from '../../shared/domain/organization.ts';
import { NO_MAPPED_FIELDS } from '../../shared/config/field-mapping.ts';
import { createTenantClients } from '../../shared/runtime/tenant-clients.ts';
import { powertoolsTelemetry } from '../../shared/runtime/observability.ts';
import { entityRegistry } from '../../shared/flows/registry.ts';
import { createFieldCache } from '../../shared/flows/field-resolver.ts';
import type { PollDeps } from '../../shared/flows/poll.ts';
import { handleWriterBatch, type WriterBatchDeps } from '../../shared/flows/writer-batch.ts';
import { registerTenant } from '../../shared/operations/register-tenant.ts';
import type { RecordMessage } from '../../shared/ports/index.ts';
import type { Dependencies } from '../../shared/runtime/dependencies.ts';
import { startLocalAws, type LocalAws } from '../../scripts/local/aws-stand-ins.ts';
import { runCli, type Io } from '../../scripts/cli/run.ts';
import { startPipedriveSim, type PipedriveSim, type PipedriveSimOptions } from '../../scripts/simulators/pipedrive/index.ts';
import {
  startQadSim,
  type QadContactRow,
  type QadCustomerRow,
  type QadItemRow,
  type QadPriceRow,
  type QadSim,
  type QadSimTenant,
} from '../../scripts/simulators/qad/index.ts';

export const TENANT = 'acme';
export const API_TOKEN = 'test-api-token-secret-value';
export const QAD_PASSWORD = 'test-qad-password-secret';
const BASE_PATH = '/acme/clouderp';

export interface Harness {
  aws: LocalAws;
  pd: PipedriveSim;
  qad: QadSim;
  qadTenant: QadSimTenant;
  tenant: StoredTenant;
  deps: PollDeps & WriterBatchDeps;
  clock: { ms: number; now(): number };
  /** The dependencies the operator CLI takes: the flows' plus cipher, SQS and the queue URLs. */
  cliDeps(): Dependencies;
  /** Receives (and deletes) everything on the records queue (or the products queue). */
  drainMessages(queue?: 'records' | 'products' | 'orders'): Promise<RecordMessage[]>;
  /** Receives up to 10 messages as a Lambda SQS event, without deleting them. */
  receiveEvent(): Promise<SQSEvent>;
  dlqMessages(): Promise<Message[]>;
  keyFieldCode(): string | undefined;
  close(): Promise<void>;
}

/**
 * Real parts on loopback for flow tests: dynalite, local-aws-sqs, both simulators, the tenant
 * registered through the operator's path, and the flows' dependencies built from the same
 * adapters production uses, with a clock the test controls.
 */
export async function startHarness(
  options: {
    customers?: QadCustomerRow[];
    contacts?: QadContactRow[];
    items?: QadItemRow[];
    prices?: QadPriceRow[];
    pageSize?: number;
    pipedrive?: Partial<PipedriveSimOptions>;
    qadToday?: () => string;
    config?: Partial<TenantConfigInput>;
    claimLeaseMs?: number;
  } = {},
): Promise<Harness> {
  const clock = {
    ms: Date.now(),
    now() {
      return this.ms;
    },
    /** Field and key-field leases wait for each other a little; real time, since other writers are real. */
    sleep,
  };
  const qad = await startQadSim({
    tenants: [
      {
        basePath: BASE_PATH,
        clientId: 'connector',
        username: 'sync',
        password: QAD_PASSWORD,
        workspaceId: '10USA_10USACO',
        customers: options.customers ?? [],
        contacts: options.contacts ?? [],
        items: options.items ?? [],
        prices: options.prices ?? [],
      },
    ],
    ...(options.qadToday && { today: options.qadToday }),
  });
  const pd = await startPipedriveSim({ apiToken: API_TOKEN, plan: 'ultimate', ...options.pipedrive });
  const aws = await startLocalAws({ maxReceiveCount: 5, visibilityTimeoutSeconds: 30, prefix: `t${Math.floor(Math.random() * 1e9)}` });
  const cipher = new LocalCipher();
  const tenants = new DynamoTenantStore(aws.dynamo, aws.env.CONNECTIONS_TABLE);
  const tenant = await registerTenant(
    { tenants, cipher },
    {
      tenantId: TENANT,
      qad: {
        baseUrl: qad.tenant(BASE_PATH).baseUrl,
        clientId: 'connector',
        username: 'sync',
        workspaceId: '10USA_10USACO',
        customers: { pageSize: options.pageSize ?? 500 },
      },
      pipedrive: { apiBaseUrl: pd.url },
      ...options.config,
      // Flow tests run without mapped fields unless they bring a mapping (test/integration/field-mapping.test.ts does).
      mapping: { fields: NO_MAPPED_FIELDS, ...options.config?.mapping },
    },
    { qadPassword: QAD_PASSWORD, pipedriveApiToken: API_TOKEN },
  );
  const pollState = new DynamoPollStateStore(aws.dynamo, aws.env.SYNC_STATE_TABLE);
  const oauthTokens = new DynamoOAuthTokenStore(aws.dynamo, aws.env.SYNC_STATE_TABLE);
  const http = createHttpClient({ defaultTimeoutMs: 5_000 });
  const queues = new Map(Object.entries(aws.queues).map(([name, q]) => [name, new SqsRecordQueue(aws.sqs, q.url)]));
  const deps: PollDeps & WriterBatchDeps = {
    tenants,
    pollState,
    fields: createFieldCache(),
    keyMap: new DynamoKeyMap(aws.dynamo, aws.env.SYNC_STATE_TABLE),
    listing: new DynamoListingIndex(aws.dynamo, aws.env.SYNC_STATE_TABLE),
    audit: new DynamoAuditLog(aws.dynamo, aws.env.AUDIT_TABLE, 30, () => clock.now()),
    queueFor: (entity) => queues.get(entityRegistry.byEntity(entity).queue)!,
    messages: new SqsMessageControl(aws.sqs, aws.queueUrl, aws.dlqUrl),
    registry: entityRegistry,
    queue: 'records',
    telemetry: powertoolsTelemetry,
    retryBaseSeconds: 10,
    holds: new DynamoTenantHolds(aws.dynamo, aws.env.SYNC_STATE_TABLE),
    clients: createTenantClients({ cipher, http, oauthTokens }),
    clock,
    claimLeaseMs: options.claimLeaseMs ?? 60_000,
  };

  async function receive(queueUrl: string): Promise<Message[]> {
    const res = await aws.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        AttributeNames: ['All'],
        MessageAttributeNames: ['All'],
        WaitTimeSeconds: 0,
      }),
    );
    return res.Messages ?? [];
  }

  return {
    aws,
    pd,
    qad,
    qadTenant: qad.tenant(BASE_PATH),
    tenant,
    deps,
    clock,
    cliDeps: () => ({
      ...deps,
      cipher,
      oauthTokens,
      http,
      sqs: aws.sqs,
      queueUrls: Object.fromEntries(Object.entries(aws.queues).map(([name, q]) => [name, { queue: q.url, dlq: q.dlqUrl }])),
    }),
    async drainMessages(queue = 'records') {
      const url = aws.queue(queue).url;
      const out: RecordMessage[] = [];
      for (let batch = await receive(url); batch.length > 0; batch = await receive(url)) {
        out.push(...batch.map((m) => JSON.parse(m.Body ?? '{}') as RecordMessage));
        await aws.sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: url,
            Entries: batch.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
          }),
        );
      }
      return out;
    },
    async receiveEvent() {
      const messages = await receive(aws.queueUrl);
      return {
        Records: messages.map((m) =>
          sqsRecord({
            messageId: m.MessageId!,
            receiptHandle: m.ReceiptHandle!,
            body: m.Body ?? '',
            receiveCount: Number(m.Attributes?.ApproximateReceiveCount ?? '1'),
            counts: Object.fromEntries(Object.entries(m.MessageAttributes ?? {}).map(([name, v]) => [name, Number(v.StringValue)])),
          }),
        ),
      };
    },
    async dlqMessages() {
      const all: Message[] = [];
      for (let batch = await receive(aws.dlqUrl); batch.length > 0; batch = await receive(aws.dlqUrl)) all.push(...batch);
      return all;
    },
    keyFieldCode() {
      return pd.customFields('organization').find((f) => f.field_name === 'QAD Customer Code')?.field_code;
    },
    async close() {
      await pd.close();
      await qad.close();
      await aws.close();
    },
  };
}

/** A customer row with sensible defaults; pass what the test cares about. */
export function customerRow(code: string, name: string, modDate: string, extra: Partial<QadCustomerRow> = {}): QadCustomerRow {
  return {
    'cm_mstr.cm_addr': code,
    'cm_mstr.cm_curr': 'EUR',
    'cm_mstr.cm_cr_terms': '30D',
    'cm_mstr.cm_site': '10-100',
    'cm_mstr.cm_cr_limit': 10000,
    'cm_mstr.cm_domain': '10USA',
    'cm_mstr.cm_mod_date': modDate,
    'ad_mstr.ad_name': name,
    'ad_mstr.ad_line1': 'Main Street 1',
    'ad_mstr.ad_line2': '',
    'ad_mstr.ad_line3': '',
    'ad_mstr.ad_city': 'Berlin',
    'ad_mstr.ad_state': '',
    'ad_mstr.ad_zip': '10115',
    'ad_mstr.ad_country': 'DE',
    'ad_mstr.ad_phone': '+49 30 1234567',
    'ad_mstr.ad_email': 'info@example.com',
    'ad_mstr.ad_mod_date': modDate,
    ...extra,
  };
}

export function recordMessage(record: unknown, key: string, hash: string, entity: RecordMessage['entity'] = 'organization'): RecordMessage {
  return { v: 2, tenantId: TENANT, entity, key, hash, record, pollId: 'test' };
}

/** One message as a Lambda SQS event carries it to a writer (the in-memory flow tests build their events with it too). */
export function sqsRecord(message: {
  messageId: string;
  receiptHandle: string;
  body: string;
  receiveCount: number;
  /** Numeric message attributes, by name (a writer's failed attempts and dependency waits). */
  counts?: Record<string, number>;
}): SQSRecord {
  return {
    messageId: message.messageId,
    receiptHandle: message.receiptHandle,
    body: message.body,
    attributes: {
      ApproximateReceiveCount: String(message.receiveCount),
      SentTimestamp: '0',
      SenderId: 'test',
      ApproximateFirstReceiveTimestamp: '0',
    },
    messageAttributes: Object.fromEntries(
      Object.entries(message.counts ?? {}).map(([name, n]) => [name, { dataType: 'Number', stringValue: String(n) }]),
    ),
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:records',
    awsRegion: 'us-east-1',
  };
}

export function contactRow(id: string, customer: string, name: string, extra: Partial<QadContactRow> = {}): QadContactRow {
  return {
    'ct_mstr.ct_id': id,
    'ct_mstr.ct_cust': customer,
    'ct_mstr.ct_name': name,
    'ct_mstr.ct_email': `${id.toLowerCase()}@example.com`,
    'ct_mstr.ct_phone': '+49 30 555',
    'ct_mstr.ct_title': 'Buyer',
    'ct_mstr.ct_primary': true,
    'ct_mstr.ct_active': true,
    'ct_mstr.ct_mod_date': '2026-11-20',
    ...extra,
  };
}

export function itemRow(part: string, name: string, extra: Partial<QadItemRow> = {}): QadItemRow {
  return {
    'pt_mstr.pt_part': part,
    'pt_mstr.pt_desc1': name,
    'pt_mstr.pt_desc2': '',
    'pt_mstr.pt_um': 'EA',
    'pt_mstr.pt_prod_line': '1000',
    'pt_mstr.pt_status': 'ACTIVE',
    'pt_mstr.pt_price': 10,
    'pt_mstr.pt_mod_date': '2026-11-01',
    ...extra,
  };
}

export function priceRow(part: string, currency: string, price: number, modDate = '2026-11-01'): QadPriceRow {
  return {
    'pi_mstr.pi_list': 'STD',
    'pi_mstr.pi_part_code': part,
    'pi_mstr.pi_curr': currency,
    'pi_mstr.pi_list_price': price,
    'pi_mstr.pi_mod_date': modDate,
  };
}

/** The queue body a customer poll would send for this customer, as a writer batch receives it. */
export function organizationMessageBody(code: string, name: string, tenantId = TENANT): string {
  const parsed = parseCustomerRow(customerRow(code, name, '2026-11-20'));
  if (!parsed.ok) throw new Error(`test customer ${code} does not parse: ${parsed.reason}`);
  return JSON.stringify({ ...recordMessage(parsed.record, code, organizationContentHash(parsed.record)), tenantId });
}

/** Writes everything the poll enqueued, as the SQS event source would. */
export async function runWriters(harness: Harness): Promise<void> {
  for (let event = await harness.receiveEvent(); event.Records.length > 0; event = await harness.receiveEvent()) {
    const res = await handleWriterBatch(harness.deps, event);
    assert.deepEqual(res.batchItemFailures, []);
    // Successful records are deleted by the event source; here, by hand.
    await harness.aws.sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: harness.aws.queueUrl,
        Entries: event.Records.map((r, i) => ({ Id: String(i), ReceiptHandle: r.receiptHandle })),
      }),
    );
  }
}

/** Puts raw bodies (well-formed or not) on the records queue, in order. */
export async function enqueueBodies(harness: Harness, bodies: string[]): Promise<void> {
  await harness.aws.sqs.send(
    new SendMessageBatchCommand({
      QueueUrl: harness.aws.queueUrl,
      Entries: bodies.map((MessageBody, i) => ({ Id: String(i), MessageBody })),
    }),
  );
}

/** What one CLI run printed, and its exit code. */
export interface CliRun {
  code: number;
  out: string;
  err: string;
}

/** Runs the operator CLI in-process against the harness's stack. */
export function cli(harness: Harness, argv: string[], files: Record<string, string> = {}, deps = harness.cliDeps()): Promise<CliRun> {
  return runCliWith(argv, files, deps);
}

/** Runs the operator CLI in-process with `files` as the only files it can read; without `deps`, as an operator runs it. */
export async function runCliWith(argv: string[], files: Record<string, string>, deps?: Dependencies): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = {
    out: (l) => out.push(l),
    err: (l) => err.push(l),
    readFile: (path) => {
      const content = files[path];
      if (content === undefined) throw new Error(`ENOENT: ${path}`);
      return content;
    },
  };
  const code = await runCli(argv, io, deps);
  return { code, out: out.join('\n'), err: err.join('\n') };
}
