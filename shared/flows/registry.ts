import type { SecretSystem, StoredTenant, TenantConfig } from '../config/tenant.ts';
import type { MappedEntity } from '../config/field-mapping.ts';
import type { PipedriveCollection, PipedriveFieldEntity } from '../ports/pipedrive.ts';
import { PermanentError } from '../domain/errors.ts';
import type { Clock, EntityName, KeyMap, RecordMessage, TenantClients } from '../ports/index.ts';
import { messageHashes, type SyncEntity } from './entities/entity.ts';
import { organizations } from './entities/organizations.ts';
import { persons } from './entities/persons.ts';
import { products } from './entities/products.ts';
import { pollEntityTenant, type PollDeps, type PollSummary } from './poll.ts';
import { wonDeals, type DealPollSummary } from './poll-deals.ts';
import { orderStatus, type OrderStatusPollSummary } from './order-status.ts';
import { writeRecord, type DeliveryInfo, type WriterDeps } from './write-record.ts';

/**
 * The entity registry: the one list of what the connector syncs. Everything else that names an
 * entity, poll or queue (message validation, queue routing, the handlers, the stack's functions,
 * schedules, grants and alarms, the CLI's options, `check`, `status`, the local run) derives from it.
 */

/** A work queue and the writer that consumes it: one writer per queue. */
export interface WorkQueueSpec {
  readonly name: string;
  /** The writer function's construct id. */
  readonly writer: string;
  /** Whose credentials its writer decrypts (the KMS encryption context `system` it is held to). */
  readonly decrypts: readonly SecretSystem[];
  readonly description: string;
  /**
   * `bulk`: thousands at a time (a first sync), taken in large batches gathered for a second so each writer keeps its
   * share of the burst window busy; `prompt`: a few as they happen (won deals), handed on at once in small batches.
   */
  readonly traffic: 'bulk' | 'prompt';
}

/** The names one flow goes by; see the glossary in the README. */
export interface EntityNames {
  /** In messages, the key map, holds and the audit: organization, person, product, salesOrder. */
  readonly entity: EntityName;
  /** The schedule and its poll function: customers, contacts, items, deals. */
  readonly poll: string;
  /** The work queue its messages travel on. */
  readonly queue: string;
  /** What one record is called in messages and tables: customer, contact, item, deal. */
  readonly label: string;
  /** Pipedrive's API collection of its records. */
  readonly collection: PipedriveCollection;
  /** Pipedrive's custom-field entity for its key and mapped fields. */
  readonly fieldEntity: PipedriveFieldEntity;
  /** Where its poll reads: QAD for the QAD-to-Pipedrive syncs, Pipedrive for won deals. */
  readonly source: SecretSystem;
  /** The stack's schedule, unless the cdk context overrides it. */
  readonly schedule: string;
  /** How often a tenant is polled, unless its config says otherwise. */
  readonly tenantSchedule: string;
}

/** What re-reading records from their source needs. */
export interface RereadDeps {
  clients: TenantClients;
  clock: Clock;
  keyMap: KeyMap;
}

/** What a registered flow does: poll one tenant, write one message, rebuild a message for a replay. */
export interface EntityFlow extends EntityNames {
  pollTenant(deps: PollDeps, tenant: StoredTenant, force: boolean): Promise<FlowPollSummary>;
  write(deps: WriterDeps, tenant: StoredTenant, message: RecordMessage, delivery: DeliveryInfo): Promise<WriteResult>;
  /** The QAD-to-Pipedrive definition it is built from (what `connector sync` runs in-process); none for won deals. */
  definition?: SyncEntity<unknown, unknown>;
  /** Which list of `mapping.fields` it writes, where not its field entity's own (the order's life: `orderStatus`). */
  mappedFields?: MappedEntity;
  /** The Pipedrive custom field that holds the other side's key (the order number on a deal), if any. */
  keyFieldName(config: TenantConfig): string | undefined;
  /**
   * The records and hashes a poll would send now for these keys, re-read from their source (QAD, or Pipedrive for
   * won deals): what a replay sends, since the audit keeps no record content. Keys the source does not have (or
   * would not sync) are missing from the answer.
   */
  reread(deps: RereadDeps, tenant: StoredTenant, keys: readonly string[]): Promise<Map<string, { record: unknown; hash: string }>>;
}

/** What one tenant's poll did: a QAD source's summary, the won-deal poll's, or the order-status poll's. */
export type FlowPollSummary = PollSummary | DealPollSummary | OrderStatusPollSummary;

export interface WriteResult {
  action: string;
  pipedriveId?: number;
  ref?: string;
}

export interface EntityRegistry {
  readonly flows: readonly EntityFlow[];
  readonly queues: readonly WorkQueueSpec[];
  /** The flow of a message's entity, or a PermanentError naming the known ones. */
  byEntity(entity: EntityName): EntityFlow;
  /** The flow behind a schedule, or undefined. */
  byPoll(poll: string): EntityFlow | undefined;
  queue(name: string): WorkQueueSpec;
}

/** A QAD-to-Pipedrive flow: the generic poll and upsert, specialised by the entity's definition. */
export function syncFlow<TRecord, TContext>(entity: SyncEntity<TRecord, TContext>): EntityFlow {
  return {
    entity: entity.entity,
    poll: entity.poll,
    queue: entity.queue,
    label: entity.label,
    collection: entity.collection,
    fieldEntity: entity.fieldEntity,
    source: entity.source,
    schedule: entity.schedule,
    tenantSchedule: entity.tenantSchedule,
    keyFieldName: (config) => entity.keyFieldName(config),
    definition: entity as SyncEntity<unknown, unknown>,
    pollTenant: (deps, tenant, force) => pollEntityTenant(deps, entity, tenant, force),
    write: (deps, tenant, message, delivery) => writeRecord(deps, entity, tenant, message, delivery),
    async reread(deps, tenant, keys) {
      // QAD has no read by key that every instance documents: one pass over the entity's list finds them all.
      const wanted = new Set(keys);
      const records = new Map<string, TRecord>();
      const qad = await deps.clients.qad(tenant);
      for await (const rows of entity.readChanged(qad, tenant.config, undefined)) {
        for (const row of rows) {
          const parsed = entity.parse(row);
          if (!parsed.ok || !wanted.has(entity.key(parsed.record)) || entity.exclusion?.(parsed.record, tenant.config)) continue;
          records.set(entity.key(parsed.record), parsed.record);
        }
        if (records.size === wanted.size) break;
      }
      // Hashed as the poll hashes, so the replay says truly whether the content changed since it was audited.
      const hashes = await messageHashes(deps.keyMap, entity, tenant, [...records.values()]);
      return new Map([...records.keys()].map((key, i) => [key, { record: records.get(key), hash: hashes[i]! }]));
    },
  };
}

export function createRegistry(queues: readonly WorkQueueSpec[], flows: readonly EntityFlow[]): EntityRegistry {
  const unique = (what: string, values: string[]) => {
    const seen = new Set<string>();
    for (const v of values) {
      if (seen.has(v)) throw new Error(`entity registry: ${what} "${v}" is registered twice`);
      seen.add(v);
    }
  };
  unique('entity', [...flows.map((f) => f.entity)]);
  unique('poll', [...flows.map((f) => f.poll)]);
  unique('queue', [...queues.map((q) => q.name)]);
  const queueNames = new Set(queues.map((q) => q.name));
  for (const f of flows) if (!queueNames.has(f.queue)) throw new Error(`entity registry: ${f.entity} sends to unknown queue "${f.queue}"`);
  const byEntity = new Map(flows.map((f) => [f.entity, f]));
  return {
    flows,
    queues,
    byEntity(entity) {
      const flow = byEntity.get(entity);
      if (!flow) throw new PermanentError(`unknown entity "${entity}" (known: ${[...byEntity.keys()].join(', ')})`);
      return flow;
    },
    byPoll: (poll) => flows.find((f) => f.poll === poll),
    queue(name) {
      const q = queues.find((x) => x.name === name);
      if (!q) throw new Error(`unknown work queue "${name}" (known: ${[...queueNames].join(', ')})`);
      return q;
    },
  };
}

export const WORK_QUEUES: readonly WorkQueueSpec[] = [
  // Write-back (keys both ways) puts the organization id into QAD, so this writer may decrypt QAD's secret too.
  {
    name: 'records',
    writer: 'WritePipedrive',
    decrypts: ['pipedrive', 'qad'],
    description: 'customers and contacts into Pipedrive',
    traffic: 'bulk',
  },
  // Items on their own queue, so a backlog of items never holds up customers.
  { name: 'products', writer: 'WriteProducts', decrypts: ['pipedrive'], description: 'items into Pipedrive as products', traffic: 'bulk' },
  // QAD to create the order; Pipedrive to resolve the deal's organization and products and write the order number back.
  {
    name: 'orders',
    writer: 'WriteQad',
    decrypts: ['qad', 'pipedrive'],
    description: 'won deals into QAD sales orders, exactly once',
    traffic: 'prompt',
  },
];

export const FLOWS: readonly EntityFlow[] = [syncFlow(organizations), syncFlow(persons), syncFlow(products), wonDeals, orderStatus];

export const entityRegistry: EntityRegistry = createRegistry(WORK_QUEUES, FLOWS);
