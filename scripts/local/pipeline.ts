import { randomBytes } from 'node:crypto';
import { ScanCommand, UpdateItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { ChangeMessageVisibilityCommand, ReceiveMessageCommand, type Message } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { DynamoAuditLog } from '../../shared/adapters/aws/dynamo-audit-log.ts';
import { DynamoTenantStore } from '../../shared/adapters/aws/dynamo-tenant-store.ts';
import { DynamoTenantHolds } from '../../shared/adapters/aws/dynamo-tenant-holds.ts';
import { LocalCipher } from '../../shared/adapters/local/local-cipher.ts';
import { contactExclusion, parseContactRow } from '../../shared/domain/contact.ts';
import { customerPo, poPrefixOf } from '../../shared/domain/sales-order.ts';
import { normaliseName } from '../../shared/domain/text.ts';
import { registerTenant } from '../../shared/operations/register-tenant.ts';
import type { EntityName } from '../../shared/ports/index.ts';
import { DEAD_LETTER_CAUSE_ATTRIBUTE, type DeadLetterCause } from '../../shared/domain/errors.ts';
import { useLocalCipher } from '../../shared/runtime/dependencies.ts';
import { pollHandler, webhookHandler, writerHandler } from '../../shared/runtime/handlers.ts';
import { entityRegistry } from '../../shared/flows/registry.ts';
import {
  generateContacts,
  generateCustomers,
  generateItems,
  generatePrices,
  mutateCustomers,
  preexistingOrganizationNames,
  typedDuringSync,
} from '../simulators/dataset.ts';
import {
  startPipedriveSim,
  type PipedrivePlan,
  type PipedriveSim,
  type PipedriveSimStats,
  type SimDeal,
} from '../simulators/pipedrive/index.ts';
import { BURST_LIMIT } from '../simulators/pipedrive/rate-limit.ts';
import { startQadSim, type QadSim } from '../simulators/qad/index.ts';
import type { LatencyModel } from '../simulators/latency.ts';
import type { QadContactRow, QadCustomerRow, QadItemRow } from '../simulators/qad/types.ts';
import { startLocalAws, type LocalAws, type LocalQueue } from './aws-stand-ins.ts';
import { drainQueue, queueDepth } from './sqs-event-source.ts';
import { Chaos, CHAOS_HTTP_TIMEOUT_MS, CHAOS_SEARCH_LAG_MS } from './chaos.ts';
import type { FieldMappingInput } from '../../shared/config/field-mapping.ts';
import { tenantConfigSchema, type TenantConfigInput } from '../../shared/config/tenant.ts';
import { goneOrderState, newOrderState, statusText } from '../../shared/domain/deal-outcome.ts';
import { demoDealFields, effectiveMapping, seedCompanyFields } from './fields.ts';
import { authorizeDemoTenant, authReport, simulatorOAuth, tenantPipedrive, type AuthReport, type LocalAuth } from './oauth.ts';
import { LambdaStandIn, type InvocationStats } from './lambda-stand-in.ts';
import { startArtifactRuntime, type ArtifactRuntime } from './artifacts/runtime.ts';
import type { ArtifactFunction } from './artifacts/template.ts';
import type { IamReport } from './iam/identities.ts';
import type { Statement } from './iam/policy.ts';
import * as z from 'zod';
import { startWebhookEndpoint, type LocalWebhookEndpoint } from './webhook-endpoint.ts';
import { installWebhook } from '../../shared/operations/webhook.ts';
import { createTenantClients } from '../../shared/runtime/tenant-clients.ts';
import { createHttpClient } from '../../shared/clients/http.ts';
import { CONTEXT_DEFAULTS } from '../../infra/config.ts';
import { WRITERS } from '../../infra/topology.ts';

export interface PipelineOptions {
  customers: number;
  contactsPerCustomer: number;
  items: number;
  currencies: string[];
  seed: number;
  preexisting: number;
  plan: PipedrivePlan;
  writerConcurrency: number;
  /** Won deals seeded after the first sync: most on synced organizations and products, some that cannot map. */
  wonDeals?: number;
  /** Currencies the Pipedrive company has; default: those of the price list and of the customers. */
  pipedriveCurrencies?: string[];
  searchLagMs?: number;
  claimLeaseSeconds?: number;
  /** Inject faults at this rate per call (e.g. 0.05), with search lag and duplicate deliveries. */
  chaos?: number;
  maxReceiveCount?: number;
  /** The tenant's field mapping (`mapping.fields`; npm start --mapping FILE); default: the defaults. */
  fields?: FieldMappingInput;
  /** Pipedrive auth of the demo tenant (default token); with oauth the simulator's access tokens live `tokenTtlSeconds`. */
  auth?: LocalAuth;
  tokenTtlSeconds?: number;
  /** Seats of the Pipedrive company: its daily token budget is 30,000 x plan multiplier x seats (default 1). */
  seats?: number;
  /** What each remote service takes to answer (simulators and AWS stand-ins; default: at once). */
  latency?: LatencyModel;
  /** Records people type into Pipedrive while round 1 runs (after the first-sync listings were read), a third of each entity. */
  typedDuringSync?: number;
  /** The QAD order desk moves orders on before each round's order-status poll (default true; the bench does it itself). */
  orderDesk?: boolean;
  /**
   * Run the synthesized stack (`cdk synth` output in `cdkOut`): each function from its bundle in its own
   * container, with the template's environment, event-source settings and IAM enforced. Without it the
   * handlers run from the TypeScript sources in this process (the fast source mode).
   */
  artifacts?: { cdkOut: string; stackName: string; editStatements?: (fn: ArtifactFunction) => Statement[] };
  /**
   * Webhooks on (the stack synthesized with `-c webhooks=true` in artifact mode): the endpoint runs, the tenant's
   * webhook is installed through the operator's code, and round 1's deals become won one by one, each pushed by the
   * simulator (with these drops, duplicates and delays), the deal poll running afterwards as the safety net.
   */
  webhooks?: { dropRate: number; duplicateRate: number; maxDelayMs: number; winIntervalMs: number };
}

/** What round 1 measured of its won deals: win-to-order latency and who ordered each deal. */
export interface WinReport {
  deals: number;
  /** Deals that became an order before the deal poll ran (pushed), and after it (the poll caught a lost delivery). */
  orderedByWebhook: number;
  orderedByPoll: number;
  /** Deals that cannot map (rejected, audited): no order is expected. */
  notOrdered: number;
  /** Win to order of the deals ordered by webhook (none without webhooks). */
  latencyMs: Quantiles;
  /**
   * From the deal poll's start to the order, for the deals the poll ordered: with the poll alone a deal also waits for
   * the poll's next tick (up to its schedule's interval, 5 minutes in the stack), which the local run does not wait.
   */
  afterPollMs: Quantiles;
  /** With webhooks: what the simulator sent and what the endpoint answered. */
  deliveries?: ReturnType<PipedriveSim['webhooks']['stats']>;
  endpoint?: ReturnType<LocalWebhookEndpoint['stats']> & { answerMs: Quantiles };
}

export interface Quantiles {
  p50: number;
  p95: number;
  max: number;
}

/** The p50, p95 and maximum of some durations (nearest rank); zeros for none. */
export function quantiles(values: readonly number[]): Quantiles {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] ?? 0;
  return { p50: at(0.5), p95: at(0.95), max: sorted.at(-1) ?? 0 };
}

/** How Lambda's SQS event source feeds one writer: the template's settings in artifact mode, the stack's spec from sources. */
interface EventSourceSettings {
  batchSize: number;
  batchingWindowSeconds: number;
  concurrency: number;
  reportBatchItemFailures: boolean;
}

const pollResultSchema = z.object({
  summaries: z.array(z.looseObject({ unchanged: z.number().optional(), outcome: z.string(), error: z.string().optional() })),
});
const batchResponseSchema = z.object({ batchItemFailures: z.array(z.object({ itemIdentifier: z.string() })) });

export type Outcomes = Record<'created' | 'updated' | 'unchanged' | 'deferred' | 'failed', number> & {
  rejected?: number;
  conflict?: number;
  reasons?: Record<string, number>;
};
/** What the state report checks for loss and duplicates. */
type StateEntity = 'organizations' | 'persons' | 'products' | 'salesOrders';
/** What a round reports outcomes of: those, and the order statuses written back to deals. */
type ReportEntity = StateEntity | 'orderStatuses';
const REPORT_NAME: Partial<Record<EntityName, ReportEntity>> = {
  organization: 'organizations',
  person: 'persons',
  product: 'products',
  salesOrder: 'salesOrders',
  orderStatus: 'orderStatuses',
};

/** How long a round may take at premium's rate before its queues are left undrained (the next round goes on with them). */
const ROUND_DEADLINE_MS = 20 * 60_000;

export interface RoundReport {
  round: number;
  entities: Record<ReportEntity, Outcomes>;
  pipedrive: { calls: number; tokens: number; status429: number; byEndpoint: PipedriveSimStats['byEndpoint'] };
  qad: { calls: number };
  /** Handler invocations per function, as Lambda would count them. */
  lambda: Record<string, InvocationStats>;
  /** When each queue was being drained (epoch ms): the write phases. */
  drains: Array<{ queue: string; startMs: number; endMs: number }>;
  /** Orders the QAD order desk moved on (confirmed, shipped, invoiced, cancelled, deleted) before this round. */
  ordersChangedInQad: number;
  deadLetters: number;
  /** Dead letters by why they are there: a writer's permanent error or spent retry budget, or SQS's maxReceiveCount. */
  deadLettersByCause: DeadLettersByCause;
  drained: boolean;
  /** At the end of the round nothing was on a queue (waiting or retrying), held in DynamoDB, or pending a create. */
  settled: boolean;
  /** When not settled, what was left: see Pipeline.unsettled. */
  unsettled: Unsettled;
  elapsedMs: number;
}

/** Messages on the work queues (waiting, in flight or delayed), records held by cause, creates pending in the key map. */
export interface Unsettled {
  queued: number;
  held: Record<string, number>;
  pendingCreates: number;
  /** The first few key-map entries left pending (`<entity> <key>`), to look their histories up in the audit. */
  pendingKeys: string[];
}

export type DeadLettersByCause = Record<DeadLetterCause | 'maxReceiveCount', number>;

export interface StateReport {
  pipedrive: Record<'organizations' | 'persons' | 'products' | 'wonDeals', number>;
  qad: { customers: number; qualifyingContacts: number; items: number; salesOrders: number };
  /** Notes on deals saying the same thing twice: one note per distinct reason. */
  duplicates: Record<StateEntity | 'notes', number>;
  /** Rejected deals without a note saying why. */
  missing: Record<StateEntity | 'notes', number>;
  /**
   * Persons in another organization than their customer's; products whose prices differ from QAD's;
   * orders whose value or lines differ from their deal, or whose number is not on the deal; deals whose status
   * field does not say what QAD says of their order.
   */
  mismatched: { persons: number; products: number; salesOrders: number; orderStatuses: number };
  /** What the salesperson sees on the deals. */
  deals: { rejected: number; notes: number; withStatus: number; statusByKind: Record<string, number> };
}

export const TENANT_ID = 'demo';

/** The demo tenant sets no so_stat codes of its own: the config's defaults. */
const DEMO_STATUS_CODES = ((qad) => ({ cancelled: qad.cancelledStatuses, onHold: qad.onHoldStatuses }))(
  tenantConfigSchema.shape.qad.shape.orderStatus.parse(undefined),
);

/** The customer PO the demo tenant's orders carry for a deal (the default per-tenant reference). */
export const demoOrderPo = (dealId: number): string => customerPo(poPrefixOf(TENANT_ID, undefined), dealId);
export const API_TOKEN = 'local-demo-api-token-0123456789';
export const QAD_PASSWORD = 'local-demo-qad-password';
const KEY_FIELDS = { organization: 'QAD Customer Code', person: 'QAD Contact ID', deal: 'QAD Sales Order' } as const;

type PollHandler = (event: unknown) => Promise<{ summaries: Array<{ unchanged?: number; outcome: string; error?: string }> }>;
type WriteHandler = (event: SQSEvent) => Promise<SQSBatchResponse>;
/** A writer function's instance for each concurrent poller of its event source. */
type WriterInstances = (slot: number) => WriteHandler;

/**
 * The whole connector on this machine: both simulators seeded with a synthetic dataset, AWS
 * stood in by dynalite and local-aws-sqs, a tenant registered through the operator's code path,
 * and the Lambda handlers driven as the scheduler and the SQS event sources would drive them.
 */
export class LocalPipeline {
  private round = 0;
  /** What people type into Pipedrive during round 1 (`typedDuringSync`), and what of it has been typed. */
  private typing: (ReturnType<typeof typedDuringSync> & { typed: number }) | undefined;
  private constructor(
    readonly options: PipelineOptions,
    readonly pipedrive: PipedriveSim,
    readonly qad: QadSim,
    readonly aws: LocalAws,
    readonly qadBasePath: string,
    private readonly polls: Record<string, PollHandler>,
    private readonly writers: Record<string, WriterInstances>,
    /** The local cipher's key: handed to the operator CLI through `connectionFile()` in --serve mode. */
    private readonly cipherKey: Buffer,
    readonly chaos: Chaos | undefined,
    /** Counts invocations per function and names the running one (for attributing calls). */
    readonly lambda: LambdaStandIn,
    private readonly eventSources: Record<string, EventSourceSettings>,
    /** The synthesized functions and the local IAM, in artifact mode. */
    private readonly runtime: ArtifactRuntime | undefined,
  ) {}

  private drains: RoundReport['drains'] = [];
  /** The stack's HTTP API stand-in, with webhooks on. */
  private webhookEndpoint: LocalWebhookEndpoint | undefined;
  /** Round 1's measurement of pushed won deals, with webhooks on. */
  winReport: WinReport | undefined;

  /** What `connector --local FILE` needs to reach this run: the stand-ins' endpoints and the local cipher key. */
  connectionFile(): { env: Record<string, string>; cipherKey: string } {
    return {
      // The simulators listen on loopback, which the clients refuse elsewhere: the operator's commands must reach them.
      env: { ...this.aws.env, ...this.runtime?.operatorEnv, POWERTOOLS_LOG_LEVEL: 'SILENT', CONNECTOR_ALLOW_LOOPBACK_HTTP: 'true' },
      cipherKey: this.cipherKey.toString('base64'),
    };
  }

  static async start(options: PipelineOptions): Promise<LocalPipeline> {
    const today = new Date().toISOString().slice(0, 10);
    const customers = generateCustomers({ count: options.customers, seed: options.seed, today });
    const contacts = generateContacts(customers, options.contactsPerCustomer, options.seed);
    const items = generateItems({ count: options.items, seed: options.seed, today });
    const prices = generatePrices(items, options.currencies, options.seed);
    const qadBasePath = '/demo/clouderp';
    const qad = await startQadSim({
      ...(options.latency && { latency: options.latency.qad }),
      tenants: [
        {
          basePath: qadBasePath,
          clientId: 'connector',
          username: 'sync-user',
          password: QAD_PASSWORD,
          workspaceId: '10USA_10USACO',
          customers,
          contacts,
          items,
          prices,
        },
      ],
    });
    const chaos = options.chaos ? new Chaos(options.seed, options.chaos) : undefined;
    const pipedrive = await startPipedriveSim({
      apiToken: API_TOKEN,
      plan: options.plan,
      seats: options.seats ?? 1,
      ...(options.latency && { latency: options.latency.pipedrive }),
      ...simulatorOAuth(options.auth ?? 'token', options.tokenTtlSeconds ?? 3600),
      searchLagMs: options.searchLagMs ?? (chaos ? CHAOS_SEARCH_LAG_MS : 0),
      currencies:
        options.pipedriveCurrencies ?? [...new Set([...options.currencies, ...customers.map((c) => c['cm_mstr.cm_curr'])])].sort(),
    });

    // The fields the demo company made by hand (dropdowns, deal fields); the connector creates the other mapped ones.
    seedCompanyFields(pipedrive, effectiveMapping(options.fields));

    const preexistingItems = seedTypedByHand(pipedrive, { customers, contacts, items }, options.preexisting, options.seed);
    // Typed later, during round 1: matches of QAD records nobody had typed before.
    const handMade = new Set(preexistingOrganizationNames(customers, options.preexisting, options.seed).map((o) => o.code));
    const fresh = customers.filter((c) => !handMade.has(c['cm_mstr.cm_addr']));
    const freshCodes = new Set(fresh.map((c) => c['cm_mstr.cm_addr']));
    const typing = options.typedDuringSync
      ? typedDuringSync(
          {
            customers: fresh,
            contacts: contacts.filter((c) => freshCodes.has(c['ct_mstr.ct_cust'])),
            items: items.slice(preexistingItems),
          },
          options.typedDuringSync,
          options.seed,
        )
      : undefined;

    const aws = await startLocalAws({
      maxReceiveCount: options.maxReceiveCount ?? 10,
      visibilityTimeoutSeconds: 30,
      ...(options.latency && { latency: options.latency }),
    });
    // The local run's clock runs fast: short leases and backoffs so retries happen within a round.
    const fastClock = {
      // Short with chaos or webhooks: a duplicate delivery waits out a concurrent writer's lease.
      CLAIM_LEASE_SECONDS: String(options.claimLeaseSeconds ?? (chaos || options.webhooks ? 5 : 90)),
      RETRY_BASE_SECONDS: chaos ? '1' : '10',
      HTTP_TIMEOUT_MS: String(chaos ? CHAOS_HTTP_TIMEOUT_MS : 15_000),
    };
    Object.assign(process.env, aws.env, fastClock);
    const runtime = options.artifacts
      ? await startArtifactRuntime({
          ...options.artifacts,
          aws,
          // What the local run adds to each function's environment from the template: the simulators on
          // loopback HTTP, the fast clock, and quiet logs and metrics unless asked for.
          overrides: {
            ...fastClock,
            CONNECTOR_ALLOW_LOOPBACK_HTTP: 'true',
            POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'SILENT',
            POWERTOOLS_METRICS_DISABLED: process.env.POWERTOOLS_METRICS_DISABLED ?? 'true',
            AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
          },
        })
      : undefined;
    const cipherKey = randomBytes(32);
    const cipher = runtime?.cipher ?? new LocalCipher(cipherKey);
    if (!runtime) useLocalCipher(cipher);
    const config: TenantConfigInput = {
      tenantId: TENANT_ID,
      displayName: 'Local demo',
      qad: { baseUrl: qad.tenant(qadBasePath).baseUrl, clientId: 'connector', username: 'sync-user', workspaceId: '10USA_10USACO' },
      pipedrive: tenantPipedrive(options.auth ?? 'token', pipedrive.url, API_TOKEN).config,
      mapping: {
        organization: { keyFieldName: KEY_FIELDS.organization },
        person: { keyFieldName: KEY_FIELDS.person },
        fields: options.fields ?? {},
      },
    };
    await registerTenant({ tenants: new DynamoTenantStore(aws.dynamo, aws.env.CONNECTIONS_TABLE), cipher }, config, {
      qadPassword: QAD_PASSWORD,
      ...tenantPipedrive(options.auth ?? 'token', pipedrive.url, API_TOKEN).secret,
    });
    if (options.auth === 'oauth') await authorizeDemoTenant(aws, cipher, pipedrive, TENANT_ID);

    // The handlers functions/poll.ts and functions/write.ts build, one per function; they read the environment on their first invocation.
    const lambda = new LambdaStandIn();
    const polls: Record<string, PollHandler> = {};
    const writers: Record<string, WriterInstances> = {};
    const eventSources: Record<string, EventSourceSettings> = {};
    for (const f of entityRegistry.flows) {
      const fn = runtime?.pollFunction(f.poll);
      polls[f.poll] = fn
        ? lambda.wrap(kebab(fn.fn.name), async (event: unknown) => pollResultSchema.parse(await fn.container(0).invoke(event)))
        : sourcePoll(lambda, f.poll);
    }
    for (const q of entityRegistry.queues) {
      const fn = runtime?.writerFunction(q.name);
      const source = fn?.fn.eventSource;
      if (fn && !source) throw new Error(`${fn.fn.name} has no SQS event source in the template`);
      writers[q.name] = fn
        ? perSlot((slot) =>
            lambda.wrap(kebab(fn.fn.name), async (event: SQSEvent) => batchResponseSchema.parse(await fn.container(slot).invoke(event))),
          )
        : sourceWriter(lambda, q);
      const spec = WRITERS.find((w) => w.consumes === q.name);
      if (!spec) throw new Error(`the stack has no writer for the ${q.name} queue`);
      eventSources[q.name] = {
        batchSize: source?.batchSize ?? spec.batchSize,
        batchingWindowSeconds: source?.batchingWindowSeconds ?? spec.maxBatchingWindow?.toSeconds() ?? 0,
        // The local --concurrency, capped by the template's MaximumConcurrency as Lambda caps it.
        concurrency: Math.min(options.writerConcurrency, source?.maximumConcurrency ?? options.writerConcurrency),
        reportBatchItemFailures: source?.reportBatchItemFailures ?? true,
      };
    }
    const pipeline = new LocalPipeline(
      options,
      pipedrive,
      qad,
      aws,
      qadBasePath,
      polls,
      writers,
      cipherKey,
      chaos,
      lambda,
      eventSources,
      runtime,
    );
    if (typing) pipeline.typing = { ...typing, typed: 0 };
    if (options.webhooks) {
      const fn = runtime?.webhookFunction();
      if (runtime && !fn) throw new Error('the synthesized stack has no webhook function: synthesize it with -c webhooks=true');
      const handler = fn
        ? lambda.wrap(kebab(fn.fn.name), (event: unknown) => fn.container(0).invoke(event))
        : lambda.wrap('receive-webhooks', webhookHandler());
      pipeline.webhookEndpoint = await startWebhookEndpoint(handler, {
        rateLimit: CONTEXT_DEFAULTS.webhookRateLimit,
        burstLimit: CONTEXT_DEFAULTS.webhookBurstLimit,
      });
      // As an operator would: `connector webhook install demo` with the stack's URL.
      const tenants = new DynamoTenantStore(aws.dynamo, aws.env.CONNECTIONS_TABLE);
      const clients = createTenantClients({ cipher, http: createHttpClient({ defaultTimeoutMs: 15_000 }) });
      await installWebhook({ tenants, cipher, clients }, TENANT_ID, pipeline.webhookEndpoint.urlPrefix);
      const { winIntervalMs: _pace, ...chaos } = options.webhooks;
      pipedrive.webhooks.setChaos({ ...chaos, retryDelaysMs: [1_000, 5_000, 20_000] });
    }
    // Faults start once the data is seeded: the run's writes and reads take them, not the setup.
    if (chaos) {
      pipedrive.setFault(chaos.pipedriveHook);
      qad.setFault(chaos.qadHook);
    }
    return pipeline;
  }

  /** Changes a fraction of QAD customers, as people working in QAD would between polls. */
  changeQad(fraction: number): number {
    const tenant = this.qad.tenant(this.qadBasePath);
    const changes = mutateCustomers(tenant.customers(), fraction, this.options.seed + this.round);
    for (const change of changes) tenant.upsertCustomer(change);
    return changes.length;
  }

  /**
   * People type organizations (name variants) and products (item codes) into Pipedrive after the
   * first-sync listings were read and before the writers get to those customers and items.
   */
  private typeOrganizationsAndProducts(): void {
    if (!this.typing) return;
    for (const o of this.typing.organizations) this.pipedrive.seedOrganization({ name: o.name });
    for (const p of this.typing.products) this.pipedrive.seedProduct({ name: `${p.name} (typed)`, code: p.code });
    this.typing.typed += this.typing.organizations.length + this.typing.products.length;
  }

  /** And persons with a contact's email, inside the organization its customer now has, after the contacts' listing. */
  private typePersons(): void {
    if (!this.typing) return;
    const code = this.pipedrive.customFields('organization').find((f) => f.field_name === KEY_FIELDS.organization)?.field_code ?? '';
    const orgOf = new Map(this.pipedrive.organizations().map((o) => [o.custom_fields[code], o.id]));
    for (const p of this.typing.persons) {
      const orgId = orgOf.get(p.customerCode);
      if (orgId === undefined) continue;
      this.pipedrive.seedPerson({ name: p.name, org_id: orgId, emails: [{ value: p.email, primary: true }] });
      this.typing.typed++;
    }
  }

  /** Records typed into Pipedrive during the sync (`typedDuringSync`). */
  get typedDuringSync(): number {
    return this.typing?.typed ?? 0;
  }

  /**
   * People working in Pipedrive between rounds: `count` mapped organizations deleted, as many merged
   * into a hand-made duplicate (which survives and takes our key). A night then passes, so the next
   * round's polls are the daily full read that notices them.
   */
  async editPipedrive(count: number): Promise<{ deleted: number; merged: number }> {
    const code = this.pipedrive.customFields('organization').find((f) => f.field_name === KEY_FIELDS.organization)?.field_code ?? '';
    const mapped = this.pipedrive.organizations().filter((o) => typeof o.custom_fields[code] === 'string');
    const picked = mapped.filter((_, i) => i % Math.max(1, Math.floor(mapped.length / (2 * count))) === 0).slice(0, 2 * count);
    const toDelete = picked.filter((_, i) => i % 2 === 0);
    const toMerge = picked.filter((_, i) => i % 2 === 1);
    for (const o of toDelete) this.pipedrive.deleteRecord('organization', o.id);
    for (const o of toMerge)
      this.pipedrive.mergeRecords('organization', o.id, this.pipedrive.seedOrganization({ name: `${o.name} (sales)` }));
    await this.nightPasses();
    return { deleted: toDelete.length, merged: toMerge.length };
  }

  /** The last full reads move a day back: the next polls read everything, as the first schedule of a day does. */
  private async nightPasses(): Promise<void> {
    const dayAgo = new Date(Date.now() - 25 * 3_600_000).toISOString();
    for (const flow of entityRegistry.flows)
      await this.aws.dynamo
        .send(
          new UpdateItemCommand({
            TableName: this.aws.env.SYNC_STATE_TABLE,
            Key: { pk: { S: `T#${TENANT_ID}#${flow.entity}` }, sk: { S: 'state' } },
            UpdateExpression: 'SET fullReadAt = :f',
            ConditionExpression: 'attribute_exists(fullReadAt)',
            ExpressionAttributeValues: { ':f': { S: dayAgo } },
          }),
        )
        .catch((error: unknown) => {
          if (!(error instanceof Error && error.name === 'ConditionalCheckFailedException')) throw error;
        });
  }

  /** One scheduled poll; a failed poll is audited and, as the next schedule would, tried again. */
  private async poll(name: string): Promise<number> {
    const handler = this.polls[name];
    if (!handler) throw new Error(`no poll named ${name} in the registry`);
    for (let attempt = 1; ; attempt++) {
      const result = await handler({ entity: name, force: true });
      const failed = result.summaries.find((s) => s.outcome === 'failed');
      if (!failed) return result.summaries.reduce((sum, s) => sum + (s.unchanged ?? 0), 0);
      if (!this.chaos || attempt >= 20) throw new Error(`${name} poll failed: ${failed.error ?? 'unknown'}`);
      this.pollRetries++;
    }
  }

  /** Polls that failed under injected faults and ran again. */
  pollRetries = 0;

  /** The local IAM's count of the functions' AWS calls (artifact mode only; the source mode enforces none). */
  iam(): IamReport | undefined {
    return this.runtime?.iam.stats();
  }

  /** In artifact mode, how many containers each function of the stack has: one per concurrent slot it was invoked from. */
  containers(): Record<string, number> | undefined {
    return this.runtime && Object.fromEntries(this.runtime.functions.map((f) => [f.fn.name, f.containers()]));
  }

  private async drain(
    queue: LocalQueue,
    handler: WriterInstances,
    deadlineMs: number,
    onProgress: (batch: { received: number; failed: number }) => void,
    until?: AbortSignal,
  ) {
    const startMs = Date.now();
    const name = Object.entries(this.aws.queues).find(([, q]) => q === queue)?.[0] ?? '';
    const source = this.eventSources[name];
    if (!source) throw new Error(`no event source for queue ${name}`);
    const result = await drainQueue({
      sqs: this.aws.sqs,
      queueUrl: queue.url,
      queueArn: queue.arn,
      handlerFor: handler,
      concurrency: source.concurrency,
      batchSize: source.batchSize,
      batchingWindowMs: source.batchingWindowSeconds * 1000,
      reportBatchItemFailures: source.reportBatchItemFailures,
      deadlineMs,
      onBatch: onProgress,
      ...(this.chaos && { duplicate: () => this.chaos!.duplicateDelivery() }),
      ...(until && { until }),
    });
    this.drains.push({ queue: queue.url.split('/').pop() ?? queue.url, startMs, endMs: Date.now() });
    return result;
  }

  /**
   * One tick of every schedule. Customers and items are polled first and written in parallel
   * (two queues); contacts follow, so their organizations exist (a person that finds none waits).
   */
  async runRound(
    opts: { deadlineMs?: number; onProgress?: (done: number) => void; onStep?: (step: string) => void } = {},
  ): Promise<RoundReport> {
    const step = opts.onStep ?? (() => undefined);
    this.round++;
    this.pipedrive.resetStats();
    this.qad.resetStats();
    this.lambda.reset();
    this.drains = [];
    const from = new Date().toISOString();
    const started = Date.now();
    // A guard against a hang, not a target: a slower plan's burst limit stretches a round (lite's 10 calls/s: 5x premium's).
    const slower = Math.max(1, BURST_LIMIT.premium / BURST_LIMIT[this.options.plan]);
    const deadline = Date.now() + (opts.deadlineMs ?? ROUND_DEADLINE_MS * slower);
    let done = 0;
    const progress = ({ received, failed }: { received: number; failed: number }) => {
      done += received - failed;
      opts.onProgress?.(done);
    };
    step('polling customers');
    const organizations = await this.poll('customers');
    step('polling items');
    const unchanged: Record<ReportEntity, number> = {
      organizations,
      persons: 0,
      products: await this.poll('items'),
      salesOrders: 0,
      orderStatuses: 0,
    };
    if (this.round === 1) this.typeOrganizationsAndProducts();
    step('writing organizations and products');
    const [records, products] = await Promise.all([
      this.drain(this.aws.queue('records'), this.writers.records!, deadline, progress),
      this.drain(this.aws.queue('products'), this.writers.products!, deadline, progress),
    ]);
    step('polling contacts');
    unchanged.persons = await this.poll('contacts');
    if (this.round === 1) this.typePersons();
    step('writing persons');
    const persons = await this.drain(this.aws.queue('records'), this.writers.records!, deadline, progress);
    const winning = this.round === 1 && (this.options.wonDeals ?? 0) > 0;
    const watcher = winning ? setInterval(() => this.noteOrders(), 20) : undefined;
    if (winning && this.webhookEndpoint) await this.winDealsPushed(this.options.wonDeals ?? 0, deadline, progress);
    else if (winning) for (const id of this.seedWonDeals(this.options.wonDeals ?? 0, 'won')) this.wins.wonAt.set(id, Date.now());
    const pollStartedMs = Date.now();
    step('polling won deals');
    await this.poll('deals');
    step('writing sales orders');
    const orders = await this.drain(this.aws.queue('orders'), this.writers.orders!, deadline, progress);
    clearInterval(watcher);
    if (winning) this.winReport = this.measureWins(pollStartedMs);
    const ordersChangedInQad = this.round > 1 && this.options.orderDesk !== false ? this.orderDeskWorks() : 0;
    step('polling order statuses');
    unchanged.orderStatuses = await this.poll('order-status');
    step('writing order statuses');
    const statuses = await this.drain(this.aws.queue('records'), this.writers.records!, deadline, progress);
    step('counting outcomes');
    await new Promise((r) => setTimeout(r, 5));

    const empty = (): Outcomes => ({ created: 0, updated: 0, unchanged: 0, deferred: 0, failed: 0 });
    const entities: Record<ReportEntity, Outcomes> = {
      organizations: empty(),
      persons: empty(),
      products: empty(),
      salesOrders: { ...empty(), rejected: 0, conflict: 0, reasons: {} },
      orderStatuses: empty(),
    };
    for (const name of Object.keys(entities) as ReportEntity[]) entities[name].unchanged += unchanged[name];
    for (const entry of await this.auditLog().byTenant(TENANT_ID, from, new Date(Date.now() + 1).toISOString())) {
      if (entry.key.startsWith('_') || entry.key.startsWith('field:')) continue;
      const name = REPORT_NAME[entry.entity];
      if (!name) continue;
      const outcomes = entities[name];
      if (entry.action === 'rejected' || entry.action === 'conflict') {
        outcomes[entry.action] = (outcomes[entry.action] ?? 0) + 1;
        const reason = (entry.reason ?? '').replace(/\d+(\.\d+)?/gu, 'N');
        outcomes.reasons = { ...outcomes.reasons, [reason]: (outcomes.reasons?.[reason] ?? 0) + 1 };
      } else if (entry.action in outcomes) outcomes[entry.action as 'created']++;
    }
    const stats = this.pipedrive.stats();
    return {
      round: this.round,
      entities,
      pipedrive: { calls: stats.calls, tokens: stats.tokens, status429: stats.status429, byEndpoint: stats.byEndpoint },
      qad: { calls: this.qad.stats().calls },
      lambda: this.lambda.invocations(),
      drains: this.drains,
      ordersChangedInQad,
      deadLetters: await this.deadLetterCount(),
      deadLettersByCause: await this.deadLettersByCause(),
      drained: records.drained && products.drained && persons.drained && orders.drained && statuses.drained,
      ...(await this.settlement()),
      elapsedMs: Date.now() - started,
    };
  }

  /**
   * Won deals as sales people close them: mostly on synced organizations with synced products
   * (some with discounts), and a share that cannot become an order: an organization no QAD customer
   * is linked to, a product QAD does not have, no lines at all.
   */
  private seedWonDeals(count: number, status: 'won' | 'open'): number[] {
    const ids: number[] = [];
    const orgField = this.pipedrive.customFields('organization').find((f) => f.field_name === KEY_FIELDS.organization)?.field_code ?? '';
    const orgs = this.pipedrive.organizations().filter((o) => typeof o.custom_fields[orgField] === 'string');
    const currencyOf = new Map(
      this.qad
        .tenant(this.qadBasePath)
        .customers()
        .map((c) => [c['cm_mstr.cm_addr'], c['cm_mstr.cm_curr']]),
    );
    const products = this.pipedrive.products().filter((p) => p.code);
    const strayOrg = this.pipedrive.seedOrganization({ name: 'Prospect without a QAD account' });
    const foreign = this.pipedrive.seedProduct({ name: 'Consulting day (not a QAD item)', code: 'SERVICE-1' });
    let seed = this.options.seed;
    const next = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed % n;
    };
    for (let i = 0; i < count && orgs.length > 0 && products.length > 0; i++) {
      const org = orgs[next(orgs.length)]!;
      const currency = currencyOf.get(String(org.custom_fields[orgField])) ?? 'EUR';
      const kind = i % 10;
      const lineCount = 1 + next(3);
      const lines = Array.from({ length: lineCount }, (_, j) => ({
        product_id: kind === 8 && j === 0 ? foreign : products[next(products.length)]!.id,
        item_price: 10 + next(50_000) / 100,
        quantity: 1 + next(20),
        ...(j === 1 && { discount: 5 + next(10), discount_type: 'percentage' as const }),
        tax: 0,
      }));
      const id = this.pipedrive.seedDeal({
        title: `Deal ${i + 1}`,
        currency,
        status,
        org_id: kind === 9 ? strayOrg : org.id,
        ...(kind === 7 ? { lines: [], value: 1000 } : { lines }),
        custom_fields: demoDealFields(this.pipedrive, i, new Date().toISOString().slice(0, 10)),
      });
      ids.push(id);
    }
    return ids;
  }

  /** When each deal became won, and when its QAD order was first seen (by customer PO), in round 1 with webhooks. */
  private wins = { wonAt: new Map<number, number>(), orderedAt: new Map<string, number>() };

  /**
   * Sales people win deals one by one (`winIntervalMs` apart); the simulator pushes each
   * change to the endpoint while the orders writer works its queue, as the event source does. A watcher notes when
   * each QAD order appears. Returns once every delivery (and its retries) is done and the queue is empty.
   */
  private async winDealsPushed(count: number, deadlineMs: number, progress: (b: { received: number; failed: number }) => void) {
    const ids = this.seedWonDeals(count, 'open');
    let winning = true;
    const writer = (async () => {
      while (winning && Date.now() < deadlineMs) {
        await this.drain(this.aws.queue('orders'), this.writers.orders!, deadlineMs, progress);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    try {
      for (const id of ids) {
        this.pipedrive.updateDeal(id, { status: 'won' });
        this.wins.wonAt.set(id, Date.now());
        await new Promise((r) => setTimeout(r, this.options.webhooks?.winIntervalMs ?? 250));
      }
      await this.pipedrive.webhooks.idle();
    } finally {
      winning = false;
      await writer;
    }
    await this.drain(this.aws.queue('orders'), this.writers.orders!, deadlineMs, progress);
  }

  /** Notes when each QAD order is first seen (by customer PO). */
  private noteOrders(): void {
    for (const order of this.qad.tenant(this.qadBasePath).salesOrders())
      if (!this.wins.orderedAt.has(order.so_po)) this.wins.orderedAt.set(order.so_po, Date.now());
  }

  /** Win-to-order latency; an order first seen after the deal poll started is the poll's. */
  private measureWins(pollStartedMs: number): WinReport {
    this.noteOrders();
    const pushed: number[] = [];
    const afterPoll: number[] = [];
    for (const [id, wonAt] of this.wins.wonAt) {
      const orderedAt = this.wins.orderedAt.get(demoOrderPo(id));
      if (orderedAt === undefined) continue;
      if (orderedAt < pollStartedMs) pushed.push(orderedAt - wonAt);
      else afterPoll.push(orderedAt - pollStartedMs);
    }
    return {
      deals: this.wins.wonAt.size,
      orderedByWebhook: pushed.length,
      orderedByPoll: afterPoll.length,
      notOrdered: this.wins.wonAt.size - pushed.length - afterPoll.length,
      latencyMs: quantiles(pushed),
      afterPollMs: quantiles(afterPoll),
      ...(this.webhookEndpoint && {
        deliveries: this.pipedrive.webhooks.stats(),
        endpoint: { ...this.webhookEndpoint.stats(), answerMs: quantiles(this.webhookEndpoint.answerTimes()) },
      }),
    };
  }

  /** Orders deleted in QAD by the order desk, by customer PO: their deals were ordered, and must say the order is gone. */
  private readonly deletedOrders = new Map<string, string>();

  /**
   * The order desk at work between rounds: a quarter of the open orders move one step on (a confirmed ship date,
   * part of it shipped, all of it, an invoice, the invoice posted); one order is cancelled and one deleted.
   * Answers how many orders changed.
   */
  orderDeskWorks(): number {
    const qad = this.qad.tenant(this.qadBasePath);
    const orders = qad.salesOrders().filter((o) => o.so_stat === '' && !o.so_invoiced);
    let changed = 0;
    for (const [i, o] of orders.entries()) {
      if ((i + this.round) % 4 !== 0) continue;
      const shippedAll = Object.fromEntries(o.lines.map((l) => [l.sod_line, l.sod_qty_ord]));
      const shipped = o.lines.reduce((n, l) => n + l.sod_qty_ship, 0);
      if (!o.so_conf_date) qad.changeSalesOrder(o.so_nbr, { so_conf_date: o.so_due_date });
      else if (shipped === 0)
        qad.changeSalesOrder(o.so_nbr, { shipped: { [o.lines[0]!.sod_line]: Math.ceil(o.lines[0]!.sod_qty_ord / 2) } });
      else if (!o.so_inv_nbr) qad.changeSalesOrder(o.so_nbr, { shipped: shippedAll, so_inv_nbr: `INV-${o.so_nbr.slice(1)}` });
      else qad.changeSalesOrder(o.so_nbr, { so_invoiced: true });
      changed++;
    }
    const [cancel, remove] = orders.filter((_, i) => (i + this.round) % 4 === 2);
    if (cancel) qad.changeSalesOrder(cancel.so_nbr, { so_stat: 'X' });
    if (remove && qad.removeSalesOrder(remove.so_nbr)) this.deletedOrders.set(remove.so_po, remove.so_nbr);
    return changed + (cancel ? 1 : 0) + (remove ? 1 : 0);
  }

  /**
   * What the salesperson sees on the deals: each rejected deal has a note, no deal one reason twice, and each
   * ordered deal's status field says what QAD says of its order now (as the connector's own words put it).
   */
  private dealOutcomes(deals: SimDeal[], orderedOnce: ReadonlySet<string>) {
    const notes = this.pipedrive.notes();
    const notesOf = (id: number) => notes.filter((n) => n.deal_id === id).map((n) => n.content);
    const rejected = deals.filter((d) => !orderedOnce.has(demoOrderPo(d.id)));
    const duplicateNotes = deals.reduce((n, d) => n + notesOf(d.id).length - new Set(notesOf(d.id)).size, 0);
    const entry = effectiveMapping(this.options.fields).orderStatus.find((e) => e.qad === 'status');
    const statusField = this.pipedrive.customFields('deal').find((f) => f.field_name === entry?.pipedrive)?.field_code;
    const codes = DEMO_STATUS_CODES;
    const orders = new Map(
      this.qad
        .tenant(this.qadBasePath)
        .salesOrders()
        .map((o) => [o.so_po, o]),
    );
    const statusByKind: Record<string, number> = {};
    let differing = 0;
    let withStatus = 0;
    for (const deal of deals) {
      const shown = statusField ? deal.custom_fields[statusField] : undefined;
      if (typeof shown === 'string') {
        withStatus++;
        const kind = shown.startsWith('Ordered ') ? 'Ordered' : shown.replace(/ \(.*$|:.*$/u, '');
        statusByKind[kind] = (statusByKind[kind] ?? 0) + 1;
      }
      const order = orders.get(demoOrderPo(deal.id));
      const number = order?.so_nbr ?? this.deletedOrders.get(demoOrderPo(deal.id));
      if (!entry || number === undefined) continue;
      const state = order
        ? {
            ...newOrderState(order.so_nbr),
            statusCode: order.so_stat,
            confirmedShipDate: order.so_conf_date,
            ordered: order.lines.reduce((n, l) => n + l.sod_qty_ord, 0),
            shipped: order.lines.reduce((n, l) => n + l.sod_qty_ship, 0),
            invoiceNumber: order.so_inv_nbr,
            invoicePosted: order.so_invoiced,
          }
        : goneOrderState(number);
      if (shown !== statusText(state, codes)) differing++;
    }
    return {
      report: { rejected: rejected.length, notes: notes.length, withStatus, statusByKind },
      withoutNote: rejected.filter((d) => notesOf(d.id).length === 0).length,
      duplicateNotes,
      differing,
    };
  }

  private async unexplainedDeals(ids: number[]): Promise<number> {
    let n = 0;
    for (const id of ids) {
      // A won deal without an order must have been rejected with a reason (a duplicate delivery may have
      // audited a deferral after that; the message was gone by then).
      const history = await this.auditLog().history(TENANT_ID, 'salesOrder', String(id));
      if (!history.some((e) => e.action === 'rejected')) n++;
    }
    return n;
  }

  /**
   * Midnight UTC without waiting for it (the bench's first sync over several days): Pipedrive's daily token count starts
   * again, the tenant's budget gate has reached its time, and every function runs in a new container. A warm container's
   * client would stop believing the budget spent at midnight too (the reset time Pipedrive named); a new one has no such
   * memory. Source mode only: the synthesized functions' containers are worker threads this run cannot renew.
   */
  async midnight(): Promise<void> {
    if (this.runtime) throw new Error('midnight() runs the functions from the sources: start the pipeline without artifacts');
    this.pipedrive.startNewDay();
    await this.aws.dynamo
      .send(
        new UpdateItemCommand({
          TableName: this.aws.env.SYNC_STATE_TABLE,
          Key: { pk: { S: `T#${TENANT_ID}#holds` }, sk: { S: 'budget' } },
          UpdateExpression: 'SET untilMs = :now',
          ConditionExpression: 'attribute_exists(untilMs)',
          ExpressionAttributeValues: { ':now': { N: String(Date.now()) } },
        }),
      )
      .catch((error: unknown) => {
        if (!(error instanceof Error && error.name === 'ConditionalCheckFailedException')) throw error;
      });
    for (const f of entityRegistry.flows) this.polls[f.poll] = sourcePoll(this.lambda, f.poll);
    for (const q of entityRegistry.queues) this.writers[q.name] = sourceWriter(this.lambda, q);
  }

  /** Whether the tenant's daily budget gate is closed now (its writers hold what they receive until it opens). */
  async budgetGateClosed(): Promise<boolean> {
    const hold = await new DynamoTenantHolds(this.aws.dynamo, this.aws.env.SYNC_STATE_TABLE).current(TENANT_ID, Date.now());
    return hold?.kind === 'budget';
  }

  /** Lets every writer work its queue until it is empty, as the event sources would between schedules. */
  async drainAll(deadlineMs = Date.now() + 5 * 60_000): Promise<boolean> {
    const results = await Promise.all([
      this.drain(this.aws.queue('records'), this.writers.records!, deadlineMs, () => undefined),
      this.drain(this.aws.queue('products'), this.writers.products!, deadlineMs, () => undefined),
      this.drain(this.aws.queue('orders'), this.writers.orders!, deadlineMs, () => undefined),
    ]);
    return results.every((r) => r.drained);
  }

  /**
   * Runs as the deployed stack would until `signal` aborts (`npm start -- --serve`): every writer on its queue's
   * event source, and every poll on a schedule, so what an operator does with the CLI or the console (add a
   * tenant, replay, redrive, settle a hold) takes effect. Polls run each `pollEveryMs`, faster than in AWS;
   * a failed poll is reported and tried at the next tick, as the next schedule would.
   */
  async serve(opts: { pollEveryMs: number; signal: AbortSignal; onPollError: (poll: string, error: unknown) => void }): Promise<void> {
    const { signal } = opts;
    const writers = entityRegistry.queues.map((q) =>
      this.drain(this.aws.queue(q.name), this.writers[q.name]!, Number.POSITIVE_INFINITY, () => undefined, signal),
    );
    const schedules = (async () => {
      while (!signal.aborted) {
        for (const flow of entityRegistry.flows) {
          if (signal.aborted) break;
          await this.poll(flow.poll).catch((error: unknown) => opts.onPollError(flow.poll, error));
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, opts.pollEveryMs);
          signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
        });
      }
    })();
    await Promise.all([...writers, schedules]);
  }

  /** With OAuth: how often the access token was refreshed, and which tenants ended up parked. */
  authReport(): Promise<AuthReport> {
    return authReport(this.options.auth ?? 'token', this.aws, this.pipedrive, [TENANT_ID]);
  }

  auditLog(): DynamoAuditLog {
    return new DynamoAuditLog(this.aws.dynamo, this.aws.env.AUDIT_TABLE, 1);
  }

  async deadLetterCount(): Promise<number> {
    let total = 0;
    for (const q of Object.values(this.aws.queues)) {
      const depth = await queueDepth(this.aws.sqs, q.dlqUrl);
      total += depth.visible + depth.inFlight;
    }
    return total;
  }

  /**
   * Every DLQ's messages by cause, read without taking them: each is received and made visible again at once.
   * A writer's dead letter carries its cause; one SQS moved after maxReceiveCount receives carries none.
   */
  async deadLettersByCause(): Promise<DeadLettersByCause> {
    const out: DeadLettersByCause = { permanent: 0, retryBudget: 0, maxReceiveCount: 0 };
    for (const q of Object.values(this.aws.queues)) {
      const seen: Message[] = [];
      for (;;) {
        const res = await this.aws.sqs.send(
          new ReceiveMessageCommand({ QueueUrl: q.dlqUrl, MaxNumberOfMessages: 10, MessageAttributeNames: ['All'], VisibilityTimeout: 30 }),
        );
        if (!res.Messages?.length) break;
        seen.push(...res.Messages);
      }
      for (const m of seen) {
        const cause = m.MessageAttributes?.[DEAD_LETTER_CAUSE_ATTRIBUTE]?.StringValue;
        out[cause === 'permanent' || cause === 'retryBudget' ? cause : 'maxReceiveCount']++;
        await this.aws.sqs.send(
          new ChangeMessageVisibilityCommand({ QueueUrl: q.dlqUrl, ReceiptHandle: m.ReceiptHandle!, VisibilityTimeout: 0 }),
        );
      }
    }
    return out;
  }

  /** Nothing waiting or retrying on a work queue, nothing held in DynamoDB, no create left pending in the key map. */
  async settled(): Promise<boolean> {
    return (await this.settlement()).settled;
  }

  private async settlement(): Promise<{ settled: boolean; unsettled: Unsettled }> {
    const unsettled = await this.unsettled();
    const settled = unsettled.queued === 0 && unsettled.pendingCreates === 0 && Object.keys(unsettled.held).length === 0;
    return { settled, unsettled };
  }

  /** What keeps a round from settling: messages on the work queues, holds by cause, creates pending in the key map. */
  async unsettled(): Promise<Unsettled> {
    let queued = 0;
    for (const q of Object.values(this.aws.queues)) {
      const depth = await queueDepth(this.aws.sqs, q.url);
      queued += depth.visible + depth.inFlight + depth.delayed;
    }
    const held: Record<string, number> = {};
    let pendingCreates = 0;
    const pendingKeys: string[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.aws.dynamo.send(
        new ScanCommand({
          TableName: this.aws.env.SYNC_STATE_TABLE,
          FilterExpression: 'begins_with(sk, :held) OR attribute_exists(pendingCreateAt)',
          ExpressionAttributeValues: { ':held': { S: 'held#' } },
          ProjectionExpression: 'pk, sk, #cause',
          ExpressionAttributeNames: { '#cause': 'cause' },
          ExclusiveStartKey: start,
        }),
      );
      for (const item of page.Items ?? []) {
        if (!item.sk?.S?.startsWith('held#')) {
          pendingCreates++;
          // Key-map items: pk T#<tenant>#<entity>, sk key#<qad key>.
          if (pendingKeys.length < 20) pendingKeys.push(`${item.pk?.S?.split('#').at(-1)} ${item.sk?.S?.slice('key#'.length)}`);
        } else {
          const cause = item.cause?.S ?? 'parked';
          held[cause] = (held[cause] ?? 0) + 1;
        }
      }
      start = page.LastEvaluatedKey;
    } while (start);
    return { queued, held, pendingCreates, pendingKeys };
  }

  /** What ended up in Pipedrive, read back from the simulators and compared with QAD. */
  async state(): Promise<StateReport> {
    const field = (entity: 'organization' | 'person') =>
      this.pipedrive.customFields(entity).find((f) => f.field_name === KEY_FIELDS[entity])?.field_code;
    const keyed = <T extends { custom_fields: Record<string, unknown> }>(
      records: T[],
      code: string | undefined,
      keyOf?: (r: T) => unknown,
    ) => {
      const byKey = new Map<string, T[]>();
      for (const r of records) {
        const key = keyOf ? keyOf(r) : code ? r.custom_fields[code] : undefined;
        if (typeof key === 'string' && key !== '') byKey.set(key, [...(byKey.get(key) ?? []), r]);
      }
      return byKey;
    };
    const extra = (byKey: Map<string, unknown[]>) => [...byKey.values()].reduce((sum, list) => sum + list.length - 1, 0);
    const qadTenant = this.qad.tenant(this.qadBasePath);
    const customers = qadTenant.customers();
    const contacts = qadTenant.contacts().flatMap((row) => {
      const parsed = parseContactRow(row);
      return parsed.ok && !contactExclusion(parsed.record, 'active-with-email-or-phone') ? [parsed.record] : [];
    });
    const items = qadTenant.items();
    const priceList = qadTenant.prices().filter((p) => p['pi_mstr.pi_list'] === 'STD');

    const orgs = this.pipedrive.organizations();
    const orgByCode = keyed(orgs, field('organization'));
    // Hand-made organizations a customer should have matched but did not (same name, no code).
    const unlinkedNames = new Set(
      orgs.filter((o) => typeof o.custom_fields[field('organization') ?? ''] !== 'string').map((o) => normaliseName(o.name)),
    );
    const persons = this.pipedrive.persons();
    const personById = keyed(persons, field('person'));
    const personCode = field('person');
    const keyedPerson = (p: (typeof persons)[number]) => personCode !== undefined && typeof p.custom_fields[personCode] === 'string';
    // A hand-made person left unadopted beside the keyed person of a qualifying contact with its email is a duplicate of it;
    // beside a contact not in Pipedrive at all it is that contact's missing person, counted once, as missing.
    const syncedEmails = new Set(contacts.flatMap((c) => (c.email && personById.has(c.id) ? [c.email.toLowerCase()] : [])));
    const products = this.pipedrive.products();
    const productByCode = keyed(products, undefined, (p) => p.code);

    const deals = this.pipedrive.deals().filter((d) => d.status === 'won');
    const orders = qadTenant.salesOrders();
    const ordersByPo = new Map<string, number>();
    for (const o of orders) ordersByPo.set(o.so_po, (ordersByPo.get(o.so_po) ?? 0) + 1);
    // Ordered, and deleted in QAD afterwards by the order desk: not lost (its deal says so, checked below).
    const orderedOnce = new Set([...ordersByPo.keys(), ...this.deletedOrders.keys()]);
    const orderField = this.pipedrive.customFields('deal').find((f) => f.field_name === KEY_FIELDS.deal)?.field_code;
    const orderValue = (o: (typeof orders)[number]) =>
      Math.round(o.lines.reduce((sum, l) => sum + l.sod_qty_ord * l.sod_price * (1 - l.sod_disc_pct / 100), 0) * 100);
    const misOrdered = orders.filter((o) => {
      const deal = deals.find((d) => demoOrderPo(d.id) === o.so_po);
      return !deal || orderValue(o) !== Math.round(deal.value * 100) || !orderField || deal.custom_fields[orderField] !== o.so_nbr;
    }).length;

    const outcomes = this.dealOutcomes(deals, orderedOnce);
    const priceKey = (list: Array<{ currency: string; price: number }>) =>
      list
        .map((p) => `${p.currency}:${Number(p.price).toFixed(2)}`)
        .sort()
        .join(',');
    return {
      pipedrive: { organizations: orgs.length, persons: persons.length, products: products.length, wonDeals: deals.length },
      qad: { customers: customers.length, qualifyingContacts: contacts.length, items: items.length, salesOrders: orders.length },
      duplicates: {
        organizations: extra(orgByCode) + customers.filter((c) => unlinkedNames.has(normaliseName(c['ad_mstr.ad_name']))).length,
        persons:
          extra(personById) +
          persons.filter((p) => !keyedPerson(p) && p.emails.some((e) => syncedEmails.has(e.value.toLowerCase()))).length,
        products: extra(productByCode),
        salesOrders: [...ordersByPo.values()].reduce((sum, n) => sum + n - 1, 0),
        notes: outcomes.duplicateNotes,
      },
      missing: {
        organizations: customers.filter((c) => !orgByCode.has(c['cm_mstr.cm_addr'])).length,
        persons: contacts.filter((c) => !personById.has(c.id)).length,
        products: items.filter((i) => !productByCode.has(i['pt_mstr.pt_part'])).length,
        // Won deals that neither became an order nor were rejected with a reason are lost.
        salesOrders: await this.unexplainedDeals(deals.filter((d) => !orderedOnce.has(demoOrderPo(d.id))).map((d) => d.id)),
        notes: outcomes.withoutNote,
      },
      mismatched: {
        persons: contacts.filter((c) => {
          const person = personById.get(c.id)?.[0];
          const org = orgByCode.get(c.customerCode)?.[0];
          return person !== undefined && (org === undefined || person.org_id !== org.id);
        }).length,
        products: items.filter((i) => {
          const product = productByCode.get(i['pt_mstr.pt_part'])?.[0];
          const expected = priceList
            .filter((p) => p['pi_mstr.pi_part_code'] === i['pt_mstr.pt_part'])
            .map((p) => ({ currency: p['pi_mstr.pi_curr'], price: p['pi_mstr.pi_list_price'] }));
          return product !== undefined && priceKey(product.prices) !== priceKey(expected);
        }).length,
        salesOrders: misOrdered,
        orderStatuses: outcomes.differing,
      },
      deals: outcomes.report,
    };
  }

  async close(): Promise<void> {
    await this.webhookEndpoint?.close();
    await this.runtime?.close();
    await this.pipedrive.close();
    await this.qad.close();
    await this.aws.close();
  }
}

/**
 * What people already typed into Pipedrive by hand, a `share` of the dataset: organizations (some with other case or
 * spacing), a person with the same email inside each, and products with the item's code. Answers how many items.
 */
export function seedTypedByHand(
  pipedrive: PipedriveSim,
  data: { customers: QadCustomerRow[]; contacts: QadContactRow[]; items: QadItemRow[] },
  share: number,
  seed: number,
): number {
  for (const { code, name } of preexistingOrganizationNames(data.customers, share, seed)) {
    const orgId = pipedrive.seedOrganization({ name });
    const contact = data.contacts.find((c) => c['ct_mstr.ct_cust'] === code && c['ct_mstr.ct_email'] && c['ct_mstr.ct_active']);
    if (contact)
      pipedrive.seedPerson({
        name: contact['ct_mstr.ct_name'],
        org_id: orgId,
        emails: [{ value: contact['ct_mstr.ct_email'], primary: true }],
      });
  }
  const preexistingItems = Math.round(data.items.length * share);
  for (const item of data.items.slice(0, preexistingItems))
    pipedrive.seedProduct({ name: item['pt_mstr.pt_desc1'], code: item['pt_mstr.pt_part'] });
  return preexistingItems;
}

/** A poll function from the TypeScript sources: its dependencies are built on its first invocation, as a new container's. */
function sourcePoll(lambda: LambdaStandIn, poll: string): PollHandler {
  return lambda.wrap(`poll-${poll}`, pollHandler(poll));
}

/** A writer instance per concurrent slot of its event source, made on the slot's first batch, as Lambda starts instances. */
function perSlot(instance: (slot: number) => WriteHandler): WriterInstances {
  const instances = new Map<number, WriteHandler>();
  return (slot) => {
    let handler = instances.get(slot);
    if (!handler) instances.set(slot, (handler = instance(slot)));
    return handler;
  };
}

/**
 * From source, each slot's handler builds its own dependencies (clients, pacer, field cache, QAD sessions) as a container
 * of its own does.
 */
function sourceWriter(lambda: LambdaStandIn, queue: { name: string; writer: string }): WriterInstances {
  return perSlot(() => lambda.wrap(kebab(queue.writer), writerHandler(queue.name)));
}

/** `WritePipedrive` -> `write-pipedrive`: a function's name as the stack and the reports call it. */
function kebab(id: string): string {
  return id.replace(/([a-z0-9])([A-Z])/gu, '$1-$2').toLowerCase();
}
