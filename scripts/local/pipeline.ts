import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { DynamoAuditLog } from '../../shared/adapters/aws/dynamo-audit-log.ts';
import { DynamoTenantStore } from '../../shared/adapters/aws/dynamo-tenant-store.ts';
import { LocalCipher } from '../../shared/adapters/local/local-cipher.ts';
import type { TenantConfigInput } from '../../shared/config/tenant.ts';
import { registerTenant } from '../../shared/flows/register-tenant.ts';
import { normaliseName } from '../../shared/domain/text.ts';
import { useLocalCipher } from '../../shared/runtime/dependencies.ts';
import { generateCustomers, mutateCustomers, preexistingOrganizationNames } from '../../test/sim/dataset.ts';
import { startPipedriveSim, type PipedrivePlan, type PipedriveSim, type PipedriveSimStats } from '../../test/sim/pipedrive/index.ts';
import { startQadSim, type QadSim } from '../../test/sim/qad/index.ts';
import { startLocalAws, type LocalAws } from './aws-stand-ins.ts';
import { drainQueue, queueDepth } from './sqs-event-source.ts';

export interface PipelineOptions {
  customers: number;
  seed: number;
  preexisting: number;
  plan: PipedrivePlan;
  writerConcurrency: number;
  /** Fault and timing knobs for tests. */
  searchLagMs?: number;
  claimLeaseSeconds?: number;
  maxReceiveCount?: number;
}

export type Outcomes = Record<'created' | 'updated' | 'unchanged' | 'deferred' | 'failed', number>;

export interface RoundReport {
  round: number;
  entities: { organizations: Outcomes };
  pipedrive: { calls: number; tokens: number; status429: number; byEndpoint: PipedriveSimStats['byEndpoint'] };
  qad: { calls: number };
  deadLetters: number;
  drained: boolean;
  elapsedMs: number;
}

export interface StateReport {
  pipedrive: { organizations: number };
  qad: { customers: number };
  duplicates: { organizations: number };
  missing: { organizations: number };
}

export const TENANT_ID = 'demo';
const API_TOKEN = 'local-demo-api-token-0123456789';
const QAD_PASSWORD = 'local-demo-qad-password';
const KEY_FIELD_NAME = 'QAD Customer Code';

/** Handlers are imported after the environment is set: they read it when first invoked, as in Lambda. */
type PollHandler = (event: unknown) => Promise<unknown>;
type WriteHandler = (event: SQSEvent) => Promise<SQSBatchResponse>;

/**
 * The whole connector on this machine: both simulators seeded with a synthetic dataset, AWS
 * stood in by dynalite and local-aws-sqs, a tenant registered through the operator's code path,
 * and the Lambda handlers driven as the scheduler and the SQS event source would drive them.
 */
export class LocalPipeline {
  private round = 0;
  private constructor(
    readonly options: PipelineOptions,
    readonly pipedrive: PipedriveSim,
    readonly qad: QadSim,
    readonly aws: LocalAws,
    readonly qadBasePath: string,
    private readonly poll: PollHandler,
    private readonly write: WriteHandler,
  ) {}

  static async start(options: PipelineOptions): Promise<LocalPipeline> {
    const today = new Date().toISOString().slice(0, 10);
    const rows = generateCustomers({ count: options.customers, seed: options.seed, today });
    const qadBasePath = '/demo/clouderp';
    const qad = await startQadSim({ tenants: [{ basePath: qadBasePath, clientId: 'connector', username: 'sync-user', password: QAD_PASSWORD, workspaceId: '10USA_10USACO', customers: rows }] });
    const pipedrive = await startPipedriveSim({ apiToken: API_TOKEN, plan: options.plan, searchLagMs: options.searchLagMs ?? 0 });
    for (const { name } of preexistingOrganizationNames(rows, options.preexisting, options.seed)) pipedrive.seedOrganization({ name });

    const aws = await startLocalAws({ maxReceiveCount: options.maxReceiveCount ?? 10, visibilityTimeoutSeconds: 30 });
    Object.assign(process.env, aws.env, { CLAIM_LEASE_SECONDS: String(options.claimLeaseSeconds ?? 90) });
    const cipher = new LocalCipher();
    useLocalCipher(cipher);

    const config: TenantConfigInput = {
      tenantId: TENANT_ID,
      displayName: 'Local demo',
      qad: { baseUrl: qad.tenant(qadBasePath).baseUrl, clientId: 'connector', username: 'sync-user', workspaceId: '10USA_10USACO' },
      pipedrive: { apiBaseUrl: pipedrive.url },
      mapping: { organization: { keyFieldName: KEY_FIELD_NAME } },
    };
    await registerTenant({ tenants: new DynamoTenantStore(aws.dynamo, aws.env.CONNECTIONS_TABLE), cipher }, config, { qadPassword: QAD_PASSWORD, pipedriveApiToken: API_TOKEN });

    const { handler: poll } = await import('../../functions/poll-customers.ts');
    const { handler: write } = await import('../../functions/write-pipedrive.ts');
    return new LocalPipeline(options, pipedrive, qad, aws, qadBasePath, poll, write);
  }

  /** Changes a fraction of QAD customers, as people working in QAD would between polls. */
  changeQad(fraction: number): number {
    const tenant = this.qad.tenant(this.qadBasePath);
    const changes = mutateCustomers(tenant.customers(), fraction, this.options.seed + this.round);
    for (const change of changes) tenant.upsertCustomer(change);
    return changes.length;
  }

  /** One schedule tick: poll, then let the writers drain the queue. */
  async runRound(opts: { deadlineMs?: number; onProgress?: (done: number) => void } = {}): Promise<RoundReport> {
    this.round++;
    this.pipedrive.resetStats();
    this.qad.resetStats();
    const from = new Date().toISOString();
    const started = Date.now();
    const pollResult = (await this.poll({ entity: 'customers', force: true })) as { summaries: Array<{ unchanged: number; outcome: string; error?: string }> };
    const failedPoll = pollResult.summaries.find((s) => s.outcome === 'failed');
    if (failedPoll) throw new Error(`poll failed: ${failedPoll.error ?? 'unknown'}`);
    let done = 0;
    const drained = await drainQueue({
      sqs: this.aws.sqs,
      queueUrl: this.aws.queueUrl,
      queueArn: 'arn:aws:sqs:us-east-1:000000000000:connector-records',
      handler: this.write,
      concurrency: this.options.writerConcurrency,
      deadlineMs: Date.now() + (opts.deadlineMs ?? 15 * 60_000),
      onBatch: ({ received, failed }) => {
        done += received - failed;
        opts.onProgress?.(done);
      },
    });
    await new Promise((r) => setTimeout(r, 5));
    const to = new Date(Date.now() + 1).toISOString();
    const outcomes: Outcomes = { created: 0, updated: 0, unchanged: 0, deferred: 0, failed: 0 };
    outcomes.unchanged += pollResult.summaries.reduce((sum, s) => sum + s.unchanged, 0);
    for (const entry of await this.auditLog().byTenant(TENANT_ID, from, to)) {
      if (entry.entity !== 'organization' || entry.key.startsWith('_poll') || entry.key.startsWith('field:')) continue;
      if (entry.action in outcomes) outcomes[entry.action as keyof Outcomes]++;
    }
    const stats = this.pipedrive.stats();
    return {
      round: this.round,
      entities: { organizations: outcomes },
      pipedrive: { calls: stats.calls, tokens: stats.tokens, status429: stats.status429, byEndpoint: stats.byEndpoint },
      qad: { calls: this.qad.stats().calls },
      deadLetters: await this.deadLetterCount(),
      drained: drained.drained,
      elapsedMs: Date.now() - started,
    };
  }

  auditLog(): DynamoAuditLog {
    return new DynamoAuditLog(this.aws.dynamo, this.aws.env.AUDIT_TABLE, 1);
  }

  async deadLetterCount(): Promise<number> {
    const depth = await queueDepth(this.aws.sqs, this.aws.dlqUrl);
    return depth.visible + depth.inFlight;
  }

  async queueArn(): Promise<string> {
    const res = await this.aws.sqs.send(new GetQueueAttributesCommand({ QueueUrl: this.aws.queueUrl, AttributeNames: ['QueueArn'] }));
    return res.Attributes?.QueueArn ?? '';
  }

  /** What ended up in Pipedrive, read from the simulator: counts, duplicates and customers missing. */
  state(): StateReport {
    const keyField = this.pipedrive.customFields('organization').find((f) => f.field_name === KEY_FIELD_NAME)?.field_code;
    const orgs = this.pipedrive.organizations();
    const byCode = new Map<string, number>();
    for (const org of orgs) {
      const code = keyField ? org.custom_fields[keyField] : undefined;
      if (typeof code === 'string') byCode.set(code, (byCode.get(code) ?? 0) + 1);
    }
    const customers = this.qad.tenant(this.qadBasePath).customers();
    // Also count hand-made organizations that a customer should have matched but did not (same name, no code).
    const unlinkedNames = new Set(orgs.filter((o) => !keyField || typeof o.custom_fields[keyField] !== 'string').map((o) => normaliseName(o.name)));
    const shadowed = customers.filter((c) => unlinkedNames.has(normaliseName(c['ad_mstr.ad_name']))).length;
    return {
      pipedrive: { organizations: orgs.length },
      qad: { customers: customers.length },
      duplicates: { organizations: [...byCode.values()].reduce((sum, n) => sum + (n - 1), 0) + shadowed },
      missing: { organizations: customers.filter((c) => !byCode.has(c['cm_mstr.cm_addr'])).length },
    };
  }

  async close(): Promise<void> {
    await this.pipedrive.close();
    await this.qad.close();
    await this.aws.close();
  }
}
