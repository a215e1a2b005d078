import '../integration/quiet-env.ts';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { LocalCipher } from '../../shared/adapters/local/local-cipher.ts';
import { createMemoryAdapters, type MemoryAdapters } from '../../shared/adapters/memory/index.ts';
import { recordingTelemetry, type RecordedTelemetry } from '../../shared/adapters/memory/recording-telemetry.ts';
import { createHttpClient } from '../../shared/clients/http.ts';
import { NO_MAPPED_FIELDS, type FieldMappingInput } from '../../shared/config/field-mapping.ts';
import type { StoredTenant } from '../../shared/config/tenant.ts';
import { DEPENDENCY_WAITS_ATTRIBUTE, FAILED_ATTEMPTS_ATTRIBUTE } from '../../shared/domain/errors.ts';
import { createFieldCache } from '../../shared/flows/field-resolver.ts';
import type { PollDeps, PollSummary } from '../../shared/flows/poll.ts';
import { entityRegistry, type EntityRegistry, type FlowPollSummary } from '../../shared/flows/registry.ts';
import { handleWriterBatch, type WriterBatchDeps } from '../../shared/flows/writer-batch.ts';
import { registerTenant } from '../../shared/operations/register-tenant.ts';
import { createTenantClients } from '../../shared/runtime/tenant-clients.ts';
import { startPipedriveSim, type PipedriveSim } from '../../scripts/simulators/pipedrive/index.ts';
import {
  startQadSim,
  type QadContactRow,
  type QadCustomerRow,
  type QadItemRow,
  type QadPriceRow,
  type QadSim,
  type QadSimTenant,
} from '../../scripts/simulators/qad/index.ts';
import { API_TOKEN, QAD_PASSWORD, sqsRecord, TENANT } from '../integration/harness.ts';

/**
 * The flows on the in-memory adapters: the one place that knows the shapes of PollDeps, WriterDeps
 * and WriterBatchDeps and how the registry names polls and queues. The QAD and Pipedrive simulators
 * run in-process on 127.0.0.1 and the real clients reach them through createTenantClients, so a flow
 * test exercises everything but DynamoDB and SQS (whose adapters the contract tests hold to the
 * memory ones). The flows' clock is fake and moves only when a test (or a flow's own sleep) moves
 * it; the clients keep real time, since createTenantClients takes no sleep to go with a fake `now`.
 */

const BASE_PATH = '/acme/clouderp';
/** What a work queue's messages wait before SQS delivers them again when the writer set no visibility. */
const DEFAULT_VISIBILITY_SECONDS = 30;
/** What SQS holds of one message: its body, receives so far, when it is visible, and the failed attempts it carries. */
interface OnQueue {
  body: string;
  key: string;
  receives: number;
  visibleAt: number;
  /** The counts a writer sent it again with. */
  counts: Record<string, number>;
}
/** Lambda's SQS event source hands a writer up to 10 messages at once. */
const BATCH_SIZE = 10;

export interface TestClock {
  ms: number;
  now(): number;
  /** Passes time on this clock at once: a flow that waits for a lease waits no real time. */
  sleep(ms: number): Promise<void>;
}

/** One writer invocation: the event it got, what it answered, and per key whether it must come back. */
export interface Delivery {
  event: SQSEvent;
  responses: SQSBatchResponse[];
  /** The keys of the messages delivered, in order. */
  keys: string[];
  /** The keys SQS will deliver again (reported in batchItemFailures by every writer that got them). */
  retried: string[];
}

export interface MemoryWorld {
  clock: TestClock;
  adapters: MemoryAdapters;
  telemetry: RecordedTelemetry;
  qad: QadSim;
  qadTenant: QadSimTenant;
  pd: PipedriveSim;
  tenant: StoredTenant;
  /** The cipher the tenant's secrets are stored under. */
  cipher: LocalCipher;
  /** Runs one QAD poll (customers, contacts, items) for the tenant now, due or not. */
  poll(pollName: string): Promise<PollSummary>;
  /** Runs any registered poll (deals, order-status ...) for the tenant now, due or not. */
  pollFlow(pollName: string): Promise<FlowPollSummary>;
  /**
   * Hands what a work queue would deliver now to its writer as one SQS batch: messages sent since,
   * and those a writer reported for retry whose visibility (the one it set, on the clock) has run out.
   * With `duplicate`, two writers get the same batch at once, as an at-least-once delivery may do.
   */
  deliver(queue?: string, options?: { duplicate?: boolean }): Promise<Delivery>;
  /** What a Lambda container of this world would build: the deps of a poller, or of the writer of `queue`. */
  handlerDeps(queue?: string): WriterBatchDeps & PollDeps;
  /** Messages on a work queue not yet done with (not delivered, or to be delivered again). */
  waiting(queue?: string): number;
  close(): Promise<void>;
}

export async function startMemoryWorld(
  options: {
    customers?: QadCustomerRow[];
    contacts?: QadContactRow[];
    items?: QadItemRow[];
    prices?: QadPriceRow[];
    /** The Pipedrive company's currencies (the simulator's default otherwise). */
    currencies?: string[];
    claimLeaseMs?: number;
    registry?: EntityRegistry;
    /** Mapped fields beyond none (e.g. `orderStatus`), as in a tenant config's `mapping.fields`. */
    fields?: Partial<FieldMappingInput>;
  } = {},
): Promise<MemoryWorld> {
  const clock: TestClock = {
    ms: Date.now(),
    now() {
      return this.ms;
    },
    async sleep(ms) {
      this.ms += ms;
    },
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
  });
  const pd = await startPipedriveSim({
    apiToken: API_TOKEN,
    plan: 'ultimate',
    ...(options.currencies && { currencies: options.currencies }),
  });
  const adapters = createMemoryAdapters(clock);
  const telemetry = recordingTelemetry();
  const cipher = new LocalCipher();
  const tenant = await registerTenant(
    { tenants: adapters.tenants, cipher, now: () => clock.now() },
    {
      tenantId: TENANT,
      qad: { baseUrl: qad.tenant(BASE_PATH).baseUrl, clientId: 'connector', username: 'sync', workspaceId: '10USA_10USACO' },
      pipedrive: { apiBaseUrl: pd.url },
      mapping: { fields: { ...NO_MAPPED_FIELDS, ...options.fields } },
    },
    { qadPassword: QAD_PASSWORD, pipedriveApiToken: API_TOKEN },
  );

  const { queue, ...ports } = adapters;
  const base = {
    ...ports,
    clients: createTenantClients({
      cipher,
      http: createHttpClient({ defaultTimeoutMs: 5_000 }),
      oauthTokens: adapters.oauthTokens,
      burstPauses: adapters.burstPauses,
    }),
    fields: createFieldCache(),
    clock,
    telemetry,
    claimLeaseMs: options.claimLeaseMs ?? 60_000,
  };
  const registry = options.registry ?? entityRegistry;
  const pollDeps = { ...base, queueFor: (entity: string) => queue(registry.byEntity(entity).queue) };
  const writerDeps = (name: string): WriterBatchDeps & PollDeps => ({
    ...pollDeps,
    messages: queue(name),
    queue: name,
    registry,
    retryBaseSeconds: 10,
  });

  /** Per work queue: what SQS still holds, by message id, and when each is visible again. */
  const onQueues = new Map<string, Map<string, OnQueue>>();
  const onQueue = (name: string) => {
    let messages = onQueues.get(name);
    if (!messages) onQueues.set(name, (messages = new Map()));
    for (const m of queue(name).takeSent())
      messages.set(m.messageId, {
        body: m.body,
        key: (JSON.parse(m.body) as { key: string }).key,
        receives: 0,
        visibleAt: clock.now() + (m.delaySeconds ?? 0) * 1000,
        counts: { [FAILED_ATTEMPTS_ATTRIBUTE]: m.failedAttempts ?? 0, [DEPENDENCY_WAITS_ATTRIBUTE]: m.dependencyWaits ?? 0 },
      });
    return messages;
  };

  return {
    clock,
    adapters,
    telemetry,
    qad,
    qadTenant: qad.tenant(BASE_PATH),
    pd,
    tenant,
    cipher,
    async pollFlow(pollName) {
      const flow = registry.byPoll(pollName);
      const stored = await adapters.tenants.get(TENANT);
      if (!flow || !stored) throw new Error(`no poll named ${pollName}, or no tenant`);
      return flow.pollTenant(pollDeps, stored, true);
    },
    async poll(pollName) {
      const flow = registry.byPoll(pollName);
      if (!flow) throw new Error(`no poll named ${pollName}`);
      const stored = await adapters.tenants.get(TENANT);
      if (!stored) throw new Error(`tenant ${TENANT} is not registered`);
      const summary = await flow.pollTenant(pollDeps, stored, true);
      if (!('pages' in summary)) throw new Error(`${pollName} is not a QAD entity poll`);
      return summary;
    },
    async deliver(name = 'records', deliverOptions = {}) {
      const messages = onQueue(name);
      const due = [...messages].filter(([, m]) => m.visibleAt <= clock.now()).slice(0, BATCH_SIZE);
      const records = due.map(([messageId, m]) => {
        m.receives++;
        const receiptHandle = `${messageId}#${m.receives}`;
        return sqsRecord({ messageId, receiptHandle, body: m.body, receiveCount: m.receives, counts: m.counts });
      });
      const event: SQSEvent = { Records: records };
      // Lambda is not invoked for an empty queue.
      if (records.length === 0) return { event, responses: [], keys: [], retried: [] };
      const writers = deliverOptions.duplicate ? 2 : 1;
      const sentBefore = queue(name).sent.length;
      const responses = await Promise.all(Array.from({ length: writers }, () => handleWriterBatch(writerDeps(name), event)));
      const retried = new Set<string>();
      // A writer that sends a message again (to wait, or after a failed attempt) acknowledges this receive.
      for (const m of queue(name).sent.slice(sentBefore))
        if (m.delaySeconds !== undefined) retried.add((JSON.parse(m.body) as { key: string }).key);
      for (const [messageId, m] of due) {
        // Done once any writer finished it (that writer deletes it); else back after the visibility it was given.
        if (!responses.every((r) => r.batchItemFailures.some((f) => f.itemIdentifier === messageId))) {
          messages.delete(messageId);
          continue;
        }
        retried.add(m.key);
        const set = queue(name).visibility.findLast((v) => v.receiptHandle === `${messageId}#${m.receives}`);
        m.visibleAt = clock.now() + (set?.seconds ?? DEFAULT_VISIBILITY_SECONDS) * 1000;
      }
      // What the writers sent again is on the queue from now, its delay counted from now.
      onQueue(name);
      return { event, responses, keys: due.map(([, m]) => m.key), retried: [...retried] };
    },
    handlerDeps: (name) => writerDeps(name ?? registry.queues[0]?.name ?? 'records'),
    waiting(name = 'records') {
      return onQueue(name).size;
    },
    async close() {
      await pd.close();
      await qad.close();
    },
  };
}
