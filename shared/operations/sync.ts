import type { StoredTenant } from '../config/tenant.ts';
import { errorMessage } from '../domain/errors.ts';
import type { RemoteRecord } from '../clients/pipedrive-client.ts';
import type { MessageControl, RecordMessage, RecordQueue, TenantClients } from '../ports/index.ts';
import { planFirstSync, TOKENS_PER_WRITE, type FirstSyncPlan } from '../domain/daily-budget.ts';
import type { SyncEntity } from '../flows/entities/entity.ts';
import { findFieldCode } from '../flows/key-fields.ts';
import { describeProblems, parseFieldList, resolveFields, withMappedFields, type NamedValue } from '../domain/custom-fields.ts';
import { pollEntity, type PollDeps } from '../flows/poll.ts';
import { decideMatch, evidenceFromListing, type WriterDeps } from '../flows/write-record.ts';
import type { WriterBatchDeps } from '../flows/writer-batch.ts';
import { override, writeInProcess, type Disposition } from './sync-writers.ts';
import { addToListing, emptyListing } from '../flows/listing.ts';
import { listPages } from '../flows/pipedrive-pages.ts';

export interface FieldChange {
  field: string;
  from: unknown;
  to: unknown;
}

export interface PlanRow {
  key: string;
  /** A plan's: create, update, skip, wait, reject; a sync's: create, update, skip, held, queued (for the writers), failed. */
  action: 'create' | 'update' | 'skip' | 'wait' | 'reject' | 'held' | 'queued' | 'failed';
  pipedriveId?: number;
  reason: string;
  changes: FieldChange[];
}

/** A queue that keeps the poll's messages in memory: `sync` writes them itself, or plans them. */
class MemoryQueue implements RecordQueue {
  readonly messages: RecordMessage[] = [];
  async sendAll(messages: readonly RecordMessage[]): Promise<void> {
    this.messages.push(...messages);
  }
}

/** A poll whose watermark waits: it moves only once every message it read has ended (see `syncEntity`). */
interface HeldPoll {
  messages: RecordMessage[];
  unchanged: number;
  /** Moves the watermark as the poll would have; undefined when the poll moved nothing (held back, tenant on hold). */
  finish?: () => Promise<void>;
  /** Releases the poll lease without moving the watermark. */
  release?: () => Promise<void>;
}

/**
 * Reads what a poll would send for one tenant. Writing: the lease is taken and kept, and the watermark is moved
 * only by `finish`; a dry run advances nothing (watermark, key map, audit and listing stay as they are).
 */
async function pollOnce<R, Ctx>(deps: PollDeps, entity: SyncEntity<R, Ctx>, tenantId: string, write: boolean): Promise<HeldPoll> {
  const queue = new MemoryQueue();
  const held: Pick<HeldPoll, 'finish' | 'release'> = {};
  const only: PollDeps = {
    ...deps,
    queueFor: () => queue,
    tenants: override(deps.tenants, {
      listEnabled: async () => (await deps.tenants.listEnabled()).filter((t) => t.config.tenantId === tenantId),
      listInvalid: async () => [],
    }),
  };
  const readOnly: PollDeps = write
    ? {
        ...only,
        pollState: override(deps.pollState, {
          finish: async (...args) => {
            held.finish = () => deps.pollState.finish(...args);
            held.release = () => deps.pollState.release(args[0], args[1], args[2]);
          },
        }),
      }
    : {
        ...only,
        pollState: override(deps.pollState, { acquire: async () => true, finish: async () => undefined, release: async () => undefined }),
        keyMap: override(deps.keyMap, { markRejected: async () => undefined, markGone: async () => undefined }),
        audit: override(deps.audit, { record: async () => undefined }),
        listing: override(deps.listing, { meta: async () => ({ listedAt: new Date().toISOString(), records: 0 }) }),
      };
  const [summary] = await pollEntity(readOnly, entity, { force: true });
  if (summary?.outcome === 'failed') throw new Error(`poll failed: ${summary.error ?? 'unknown'}`);
  // Nothing was read: say why, rather than report an empty sync.
  if (summary?.outcome === 'busy')
    throw new Error(`another poll of ${tenantId}'s ${entity.poll} is running (it holds the poll lease); try again when it ends`);
  if (summary?.outcome === 'tenant-on-hold')
    throw new Error(`tenant ${tenantId} is on hold (parked, or its daily budget gate is closed); see "connector status"`);
  return { messages: queue.messages, unchanged: summary?.unchanged ?? 0, ...held };
}

/**
 * One poll-and-write cycle for one tenant and entity, in this process. Written with the writers' semantics
 * (`writeInProcess`): waits and retries due within `waitSeconds` are done here, later ones go on the work queue for
 * the stack's writers; the watermark moves only once every record is written, held, failed or queued. With
 * `dryRun` nothing is written anywhere: the plan says per record what would be created, updated or skipped, with
 * the fields that would change. Matching uses one listing of Pipedrive (no searches, no field creation).
 */
export async function syncEntity<R, Ctx>(
  deps: PollDeps & WriterBatchDeps,
  tenant: StoredTenant,
  entity: SyncEntity<R, Ctx>,
  options: {
    dryRun: boolean;
    onProgress?: (done: number, total: number) => void;
    /** Told what it does next: a long plan or write shows what it waits for. */
    onStep?: (step: string) => void;
    /** The entity's real work queue, for what waits longer than this run. */
    workQueue?: Pick<MessageControl, 'requeue'>;
    waitSeconds?: number;
  },
): Promise<{ rows: PlanRow[]; unchanged: number }> {
  const poll = await pollOnce(deps, entity, tenant.config.tenantId, !options.dryRun);
  const { messages, unchanged } = poll;
  const step = options.onStep ?? (() => undefined);
  if (options.dryRun) {
    step(`${messages.length} changed, ${unchanged} unchanged; listing Pipedrive's ${entity.collection} to plan against`);
    return { rows: await planMessages(deps, tenant, entity, messages), unchanged };
  }
  step(`${messages.length} changed, ${unchanged} unchanged; writing`);
  try {
    const ends = await writeInProcess({ ...deps, queue: entity.queue }, options.workQueue ?? deps.messages, messages, {
      waitUntilMs: deps.clock.now() + (options.waitSeconds ?? 60) * 1000,
      ...(options.onProgress && { onProgress: options.onProgress }),
    });
    await poll.finish?.();
    return { rows: ends.map(rowOf), unchanged };
  } catch (error) {
    // Not every record ended: the watermark stays, so the next poll reads them again.
    await poll.release?.();
    throw error;
  }
}

/** A record's end as a row of the report. */
function rowOf({ key, entry, end }: Disposition): PlanRow {
  const why = [entry?.reason, entry?.error].filter(Boolean).join(': ');
  if (end !== 'written')
    return { key, action: end, ...(entry?.pipedriveId !== undefined && { pipedriveId: entry.pipedriveId }), reason: why, changes: [] };
  const action = entry?.action === 'created' ? 'create' : entry?.action === 'updated' ? 'update' : 'skip';
  return { key, action, ...(entry?.pipedriveId !== undefined && { pipedriveId: entry.pipedriveId }), reason: why, changes: [] };
}

async function planMessages<R, Ctx>(
  deps: PollDeps & WriterDeps,
  tenant: StoredTenant,
  entity: SyncEntity<R, Ctx>,
  messages: RecordMessage[],
): Promise<PlanRow[]> {
  const { tenantId } = tenant.config;
  const pipedrive = await deps.clients.pipedrive(tenant);
  const keyFieldName = entity.keyFieldName(tenant.config);
  const keyField = keyFieldName ? await findFieldCode(deps.fields, tenantId, pipedrive, entity.fieldEntity, keyFieldName) : undefined;
  const remote = new Map<number, RemoteRecord>();
  const listing = emptyListing();
  for await (const items of listPages(pipedrive, entity.collection)) {
    for (const r of items) {
      remote.set(r.id, r);
      addToListing(listing, entity, keyField, r);
    }
  }

  // Mapped fields by name, as the writer would resolve them; a missing field the writer may create shows as "(new field ...)".
  const mappedEntries = tenant.config.mapping.fields[entity.fieldEntity];
  const defs = mappedEntries.length === 0 ? [] : parseFieldList(await pipedrive.listFields(entity.fieldEntity));
  for (const e of mappedEntries) {
    if (e.create && !defs.some((d) => d.field_name === e.pipedrive))
      defs.push({
        field_code: `(new field "${e.pipedrive}")`,
        field_name: e.pipedrive,
        field_type: e.create.type,
        is_custom_field: true,
        options: (e.create.options ?? []).map((label, i) => ({ id: -(i + 1), label })),
      });
  }
  const planMapped = (values: NamedValue[]) => resolveFields(defs, values);

  const entries = await deps.keyMap.getMany(
    tenantId,
    entity.entity,
    messages.map((m) => m.key),
  );
  const rows: PlanRow[] = [];
  for (const m of messages) {
    const record = entity.recordSchema.parse(m.record);
    let context: Ctx;
    try {
      context = await entity.context(record, {
        pipedriveId: async (e, k) => (await deps.keyMap.getMany(tenantId, e, [k])).get(k)?.pipedriveId,
      });
    } catch (error) {
      rows.push({ key: m.key, action: 'wait', reason: errorMessage(error), changes: [] });
      continue;
    }
    const mappedFields = planMapped(entity.mappedValues(record, tenant.config));
    if (!mappedFields.ok) {
      rows.push({ key: m.key, action: 'wait', reason: describeProblems(entity.fieldEntity, mappedFields.problems), changes: [] });
      continue;
    }
    const payload = withMappedFields(
      entity.payload(record, keyField ?? `(new field "${keyFieldName ?? ''}")`, context, tenant.config),
      mappedFields.fields,
    ) as Record<string, unknown>;
    const mapped = entries.get(m.key)?.pipedriveId;
    let id = mapped !== undefined && remote.has(mapped) ? mapped : undefined;
    let reason = 'key map';
    if (id === undefined) {
      // The writer's own decision over the listing: others' records excluded, one candidate per piece of evidence.
      const evidence = evidenceFromListing(entity, record, context, (t) => listing.byToken.get(t) ?? []);
      const match = await decideMatch(deps.keyMap, entity, tenantId, m.key, listing.byKey.get(m.key) ?? [], evidence);
      if (match.kind === 'ambiguous') {
        rows.push({
          key: m.key,
          action: 'reject',
          reason: `ambiguous: ${entity.collection} ${match.ids.join(' and ')} match by ${match.via}`,
          changes: [],
        });
        continue;
      }
      if (match.kind === 'matched') {
        id = match.pipedriveId;
        reason = `matched by ${match.via}`;
      }
    }
    const changes = diff(payload, id === undefined ? undefined : remote.get(id));
    if (id === undefined) rows.push({ key: m.key, action: 'create', reason: 'no match', changes });
    else
      rows.push({
        key: m.key,
        action: changes.length ? 'update' : 'skip',
        pipedriveId: id,
        reason: changes.length ? reason : `${reason}; already up to date`,
        changes,
      });
  }
  return rows;
}

/**
 * What of `value` can be compared with `shape`: arrays of objects are projected onto the keys we
 * send and sorted (Pipedrive adds ids and costs and keeps its own order); an address compares by
 * its one-line value.
 */
function comparable(value: unknown, shape: unknown): string {
  if (Array.isArray(shape) && Array.isArray(value)) {
    const keys = [...new Set(shape.flatMap((s) => (s && typeof s === 'object' ? Object.keys(s) : [])))];
    const project = (v: unknown) =>
      keys.length && v && typeof v === 'object'
        ? JSON.stringify(keys.map((k) => (v as Record<string, unknown>)[k] ?? null))
        : JSON.stringify(v);
    return JSON.stringify(value.map(project).sort());
  }
  if (shape && typeof shape === 'object' && 'value' in shape)
    return JSON.stringify(value && typeof value === 'object' && 'value' in value ? (value as { value: unknown }).value : value);
  return JSON.stringify(value ?? null);
}

/** Field-level differences between what we would send and what Pipedrive holds. */
export function diff(payload: Record<string, unknown>, current: RemoteRecord | undefined): FieldChange[] {
  const changes: FieldChange[] = [];
  const record = current as Record<string, unknown> | undefined;
  for (const [field, to] of Object.entries(payload)) {
    if (field === 'custom_fields' && to && typeof to === 'object') {
      for (const [code, value] of Object.entries(to as Record<string, unknown>)) {
        const from = current?.custom_fields[code] ?? null;
        if (comparable(from, value) !== comparable(value, value)) changes.push({ field: `custom_fields.${code}`, from, to: value });
      }
      continue;
    }
    const from = record?.[field] ?? null;
    if (comparable(from, to) !== comparable(to, to)) changes.push({ field, from, to });
  }
  return changes;
}

/** The share of the plan's burst rate a first sync keeps up (the bench's target): the ETA's write rate. */
const PLANNED_SHARE_OF_BURST_RATE = 0.85;

/**
 * What writing `writes` records costs of the tenant's daily budget share, in tokens and days, and when it is
 * done: from the limits the tenant's Pipedrive client has read (a dry run has made calls by then). Undefined
 * when Pipedrive did not report its daily budget.
 */
export async function budgetPlan(
  clients: TenantClients,
  tenant: StoredTenant,
  writes: number,
  nowMs: number,
): Promise<(FirstSyncPlan & { share: number; dailyLimit: number }) | undefined> {
  const limits = (await clients.pipedrive(tenant)).rateLimits();
  const share = tenant.config.pipedrive.dailyBudgetShare;
  if (limits.dailyLimit === undefined) return undefined;
  const plan = planFirstSync({
    records: writes,
    dailyLimit: limits.dailyLimit,
    share,
    writesPerSecond: ((limits.burstLimit ?? 20) / 2) * PLANNED_SHARE_OF_BURST_RATE,
    nowMs,
    remainingToday: (limits.dailyRemaining ?? limits.dailyLimit) - limits.dailyLimit * (1 - share),
  });
  return { ...plan, share, dailyLimit: limits.dailyLimit };
}

/** The plan as `connector sync --dry-run` prints it. */
export async function budgetPlanLine(clients: TenantClients, tenant: StoredTenant, writes: number, nowMs: number): Promise<string> {
  const plan = await budgetPlan(clients, tenant, writes, nowMs);
  if (!plan) return `budget: ${writes * TOKENS_PER_WRITE} tokens; Pipedrive did not report the daily budget`;
  return (
    `budget: ${plan.tokens} tokens at ${Math.round(plan.share * 100)}% of ${plan.dailyLimit} a day (${plan.tokensPerDay}): ` +
    `${plan.days} day(s), done about ${new Date(plan.etaMs).toISOString()}`
  );
}
