import { randomUUID } from 'node:crypto';
import { fieldNames } from '../domain/redact.ts';
import type { StoredTenant } from '../config/tenant.ts';
import { contentHash } from '../domain/content-hash.ts';
import { ambiguousCause, errorMessage, possibleDuplicateCause, waitingCause } from '../domain/errors.ts';
import { changedSinceDate, isDue, utcDate } from '../domain/schedule.ts';
import type {
  AuditLog,
  Clock,
  TenantClients,
  EntityName,
  KeyMap,
  ListingIndex,
  PollState,
  PollStateStore,
  RecordMessage,
  RecordQueue,
  TenantHolds,
  Telemetry,
  TenantStore,
} from '../ports/index.ts';
import { messageHashes, type SyncEntity } from './entities/entity.ts';
import { buildListing } from './listing.ts';
import { listPages } from './pipedrive-pages.ts';
import { fieldGate, releaseDriftHeld, type FieldGate } from './field-gate.ts';
import { holdFromError, releaseBudgetHeld, releaseHeld, skipHeldTenant } from './tenant-holds.ts';
import { newRecordMessage } from './record-message.ts';
import type { FieldCache } from './field-resolver.ts';

export interface PollDeps {
  tenants: TenantStore;
  pollState: PollStateStore;
  /** This container's field definitions (field-resolver.ts): the poll's field gate reads and warms them. */
  fields: FieldCache;
  keyMap: KeyMap;
  listing: ListingIndex;
  /** Products have their own queue, so a backlog of items never holds up customers. */
  queueFor(entity: EntityName): RecordQueue;
  audit: AuditLog;
  clients: TenantClients;
  clock: Clock;
  /** A parked or budget-gated tenant is not polled: its watermarks wait with it. */
  holds: TenantHolds;
  telemetry: Telemetry;
}

/** A tenant's cadence for a flow: its own config, else the flow's default. */
export function scheduleOf(tenant: StoredTenant, flow: { poll: string; tenantSchedule: string }): string {
  return tenant.config.schedules[flow.poll] ?? flow.tenantSchedule;
}

export interface PollSummary {
  tenantId: string;
  entity: EntityName;
  outcome: 'polled' | 'not-due' | 'busy' | 'failed' | 'tenant-on-hold';
  full: boolean;
  pages: number;
  read: number;
  enqueued: number;
  unchanged: number;
  rejected: number;
  excluded: number;
  gone: number;
  /** Full read: mapped records no longer in Pipedrive (deleted or merged there), sent to be written again. */
  restored?: number;
  /** Changed records kept back because a mapped field drifted (not enqueued; the watermark stays). */
  held?: number;
  /** Messages writers had held for a drifted field, put back on the queue now that the fields resolve. */
  released?: number;
  error?: string;
}

/** A poll that outlives this (the function times out at 5 minutes) is presumed dead; the next schedule takes over. */
const POLL_LEASE_MS = 6 * 60_000;
/** Once a day a poll reads everything: it notices records removed from QAD. */
const FULL_READ_EVERY_MS = 24 * 3_600_000;
/**
 * Reconciliation: when a record's last write did not complete (its key-map entry has no Pipedrive id or
 * hash, or a create is pending) and no claim is running, the poll reads everything again, at most this
 * often: only such records differ from their content hash, so only they are sent again (no Pipedrive reads
 * to find them, tokens only for the writes still missing). The system converges without a person.
 */
export const RECONCILE_EVERY_MS = 3_600_000;

/**
 * One QAD source for every enabled tenant that is due:
 * 1. take the tenant's poll lease (one poll at a time per tenant and entity);
 * 2. on the first sync, list the Pipedrive records once for matching;
 * 3. read rows changed since the watermark minus the overlap (all rows once a day), page by page;
 * 4. drop rows whose content hash is unchanged, audit bad and excluded rows, enqueue the rest;
 * 5. after a full read, audit mapped records that are gone from QAD (Pipedrive keeps them);
 * 6. advance the watermark only after every page was read and every message accepted.
 * One tenant's failure is audited and does not stop the others.
 */
export async function pollEntity<R, Ctx>(
  deps: PollDeps,
  entity: SyncEntity<R, Ctx>,
  options: { force?: boolean } = {},
): Promise<PollSummary[]> {
  return pollEnabledTenants(deps, (tenant) => pollEntityTenant(deps, entity, tenant, options.force ?? false));
}

/** A tenant's poll is started only with this much of the invocation left (a poll reads pages of 15 s at most each). */
export const POLL_TIME_RESERVE_MS = 90_000;
/** How many tenants one poll invocation works on at once: a slow QAD holds up only its own tenant. */
const TENANTS_AT_ONCE = 4;

/**
 * Runs one tenant's poll for every enabled tenant, a few at a time. Tenants are isolated in failure: a
 * connections item that no longer validates is skipped and audited, and one tenant's poll that throws is
 * audited without stopping the others.
 */
export async function pollEnabledTenants<S>(
  deps: Pick<PollDeps, 'tenants' | 'audit' | 'telemetry'>,
  pollOne: (tenant: StoredTenant) => Promise<S>,
  /** The invocation's time left: a tenant is started only with POLL_TIME_RESERVE_MS of it, else the next schedule polls it. */
  remainingMs: () => number = () => Number.POSITIVE_INFINITY,
): Promise<S[]> {
  const skip = (tenantId: string, reason: string) =>
    deps.audit.record({ tenantId, entity: '_tenant', key: '_poll', action: 'failed', reason }).catch(() => undefined);
  for (const bad of await deps.tenants.listInvalid()) {
    deps.telemetry.warn('tenant skipped: its connections item does not validate', { ...bad });
    await skip(bad.tenantId, `not polled: the stored tenant config does not validate (${bad.reason})`);
  }
  const tenants = await deps.tenants.listEnabled();
  const summaries: Array<S | undefined> = [];
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < tenants.length; i = next++) {
      const tenant = tenants[i]!;
      if (remainingMs() < POLL_TIME_RESERVE_MS) {
        await skip(tenant.config.tenantId, 'not polled in this invocation: its time limit is near; the next schedule polls it');
        continue;
      }
      try {
        summaries[i] = await pollOne(tenant);
      } catch (error) {
        deps.telemetry.warn('tenant poll failed', { tenantId: tenant.config.tenantId, error: errorMessage(error) });
        await skip(tenant.config.tenantId, `poll failed before it started; the other tenants were polled (${errorMessage(error)})`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(TENANTS_AT_ONCE, tenants.length) }, worker));
  return summaries.filter((s): s is S => s !== undefined);
}

export async function pollEntityTenant<R, Ctx>(
  deps: PollDeps,
  entity: SyncEntity<R, Ctx>,
  tenant: StoredTenant,
  force: boolean,
): Promise<PollSummary> {
  const { tenantId, qad } = tenant.config;
  const summary: PollSummary = {
    tenantId,
    entity: entity.entity,
    outcome: 'polled',
    full: false,
    pages: 0,
    read: 0,
    enqueued: 0,
    unchanged: 0,
    rejected: 0,
    excluded: 0,
    gone: 0,
  };
  return runTenantPoll(deps, tenant, entity, force, summary, async ({ pollId, state, now, finish, holdBack }) => {
    if (!(await deps.listing.meta(tenantId, entity.entity))) await buildListing(deps, tenant, entity);
    summary.released = await releaseDriftHeld(deps, tenant, entity);
    await recheckHeldRecords(deps, entity, tenantId, now);
    const client = await deps.clients.qad(tenant);
    const sinceFull = state.fullReadAt ? now - Date.parse(state.fullReadAt) : Number.POSITIVE_INFINITY;
    summary.full =
      sinceFull >= FULL_READ_EVERY_MS ||
      !state.watermark ||
      (sinceFull >= RECONCILE_EVERY_MS && (await deps.keyMap.listIncomplete(tenantId, entity.entity, now)).length > 0);
    const since = summary.full ? undefined : changedSinceDate(state.watermark, qad.overlapDays);
    const seen = new Set<string>();
    const gate = fieldGate(deps, tenant, entity, now);
    // The daily read also finds mapped records gone from Pipedrive; the first has nothing mapped to look for.
    const inPipedrive = summary.full && state.fullReadAt ? await pipedriveIds(deps, tenant, entity) : undefined;
    for await (const rows of entity.readChanged(client, tenant.config, since)) {
      summary.pages++;
      summary.read += rows.length;
      await enqueuePage(deps, entity, tenant, { pollId, rows, seen, summary, gate, inPipedrive });
    }
    if (summary.full) await auditGone(deps, entity, tenantId, seen, now, summary);
    if (gate.held > 0) {
      // A mapped field drifted: nothing of this entity was sent, and the watermark stays so the next poll reads them again.
      summary.held = gate.held;
      await gate.report();
      await holdBack(
        `read ${summary.read} ${entity.label} rows; ${gate.held} changed records held back by a field drift ` +
          `(not enqueued, watermark not advanced); unchanged ${summary.unchanged}`,
      );
      return summary;
    }
    await finish(
      utcDate(now),
      `read ${summary.read} ${entity.label} rows ${since ? `changed since ${since}` : '(full read)'} in ${summary.pages} pages; ` +
        `enqueued ${summary.enqueued}, unchanged ${summary.unchanged}, rejected ${summary.rejected}, ` +
        `excluded ${summary.excluded}, gone from QAD ${summary.gone}`,
      summary.full,
    );
    return summary;
  });
}

/**
 * Records held for a person or for another record are looked at again once their cause may be fixed: those
 * waiting for another record when it has been written (its Pipedrive id is in the key map), the ambiguous
 * matches and possible duplicates at most once per RECONCILE_EVERY_MS (a person may have typed the key; a
 * search each). Each stays held, shown once, until a write of the record clears it: no new hold, no new entry.
 */
async function recheckHeldRecords<R, Ctx>(deps: PollDeps, entity: SyncEntity<R, Ctx>, tenantId: string, now: number): Promise<void> {
  const { dependency } = entity;
  if (dependency)
    await releaseHeld(deps, tenantId, waitingCause(entity.entity), {
      recheck: deps,
      async when(message) {
        const record = entity.recordSchema.safeParse(message.record);
        // A record that no longer reads goes to its writer, which dead-letters it with the reason.
        if (!record.success) return true;
        const on = dependency.key(record.data);
        return (await deps.keyMap.getMany(tenantId, dependency.entity, [on])).get(on)?.pipedriveId !== undefined;
      },
    });
  if (!(await deps.pollState.acquire(tenantId, `recheck:${entity.entity}`, 'recheck', RECONCILE_EVERY_MS, now))) return;
  for (const cause of [ambiguousCause(entity.entity), possibleDuplicateCause(entity.entity)])
    await releaseHeld(deps, tenantId, cause, { recheck: deps });
}

/** What a poll's body may do with its lease. */
export interface PollRun {
  pollId: string;
  state: PollState;
  now: number;
  /** Advances the watermark (which releases the lease) and audits what the poll did; a full read is remembered. */
  finish(watermark: string, reason: string, fullRead?: boolean): Promise<void>;
  /** Releases the lease without moving the watermark (a drifted field held the records back) and audits why. */
  holdBack(reason: string): Promise<void>;
}

/**
 * The frame every flow's poll of one tenant runs in: not due, tenant held, or another poll holding
 * the lease end it at once; the body reads, enqueues and then finishes or holds back; a failure
 * releases the lease, records a tenant-wide hold if the error is one, and is audited. The watermark
 * moves only when the body finishes.
 */
export async function runTenantPoll<S extends { outcome: PollSummary['outcome']; error?: string }>(
  deps: PollDeps,
  tenant: StoredTenant,
  flow: { entity: EntityName; label: string; poll: string; tenantSchedule: string },
  force: boolean,
  summary: S,
  body: (run: PollRun) => Promise<S>,
): Promise<S> {
  const { tenantId } = tenant.config;
  const now = deps.clock.now();
  const state = await deps.pollState.get(tenantId, flow.entity);
  if (!force && !isDue(state.lastPolledAt, scheduleOf(tenant, flow), now)) return { ...summary, outcome: 'not-due' };
  if (await skipHeldTenant(deps, tenantId, flow.entity)) return { ...summary, outcome: 'tenant-on-hold' };
  // The gate is open: what waited in DynamoDB for a reset hours away goes back on its queue.
  await releaseBudgetHeld(deps, tenantId, flow.entity);
  const pollId = randomUUID();
  if (!(await deps.pollState.acquire(tenantId, flow.entity, pollId, POLL_LEASE_MS, now))) return { ...summary, outcome: 'busy' };
  const audit = (action: 'polled' | 'failed', reason: string, error?: string) =>
    deps.audit.record({ tenantId, entity: flow.entity, key: '_poll', action, reason, ...(error !== undefined && { error }) });
  const at = new Date(now).toISOString();
  try {
    return await body({
      pollId,
      state,
      now,
      async finish(watermark, reason, fullRead = false) {
        await deps.pollState.finish(tenantId, flow.entity, pollId, { watermark, lastPolledAt: at, ...(fullRead && { fullReadAt: at }) });
        await audit('polled', reason);
      },
      async holdBack(reason) {
        await deps.pollState.release(tenantId, flow.entity, pollId);
        await audit('polled', reason);
      },
    });
  } catch (error) {
    await deps.pollState.release(tenantId, flow.entity, pollId);
    // A failure that holds the whole tenant (parked, budget spent) ends its polls until the hold ends.
    const hold = await holdFromError(deps, tenantId, flow.entity, error);
    deps.telemetry.pollFailed(tenantId, flow.entity);
    await audit('failed', `${flow.label} poll failed; the watermark was not advanced and the next poll retries`, errorMessage(error));
    return { ...summary, outcome: hold ? 'tenant-on-hold' : 'failed', error: errorMessage(error) };
  }
}

interface PageRead {
  pollId: string;
  rows: unknown[];
  seen: Set<string>;
  summary: PollSummary;
  gate: FieldGate;
  /** On a full read, the ids Pipedrive has now: a mapped record missing there is written again. */
  inPipedrive: Set<number> | undefined;
}

/** Every id of the entity's Pipedrive records, at list-page cost (500 a page), not a GET per record. */
async function pipedriveIds<R, Ctx>(deps: PollDeps, tenant: StoredTenant, entity: SyncEntity<R, Ctx>): Promise<Set<number>> {
  const ids = new Set<number>();
  const pipedrive = await deps.clients.pipedrive(tenant);
  for await (const items of listPages(pipedrive, entity.collection)) for (const remote of items) ids.add(remote.id);
  return ids;
}

/**
 * A mapped record gone from Pipedrive (a person deleted or merged it) while QAD did not change: its
 * mapping is forgotten so it is sent and matched again (a merge's survivor carries the key) or created.
 * A record a writer holds right now is left to that writer.
 */
async function restoreGone<R, Ctx>(deps: PollDeps, entity: SyncEntity<R, Ctx>, tenant: StoredTenant, key: string, page: PageRead) {
  const { tenantId } = tenant.config;
  const claimed = await deps.keyMap.claim(tenantId, entity.entity, key, page.pollId, RESTORE_LEASE_MS, deps.clock.now());
  if (claimed.held) return false;
  await deps.keyMap.forgetPipedriveId(tenantId, entity.entity, key, page.pollId);
  await deps.keyMap.release(tenantId, entity.entity, key, page.pollId);
  const reason =
    `${entity.label} ${key}: Pipedrive ${entity.collection} ${claimed.entry?.pipedriveId} is gone (deleted or merged there) ` +
    'though QAD did not change; sent to be matched again or recreated';
  await deps.audit.record({ tenantId, entity: entity.entity, key, action: 'deferred', reason, pipedriveId: claimed.entry?.pipedriveId });
  return true;
}

/** How long the poll holds a record's claim while it forgets a gone Pipedrive id. */
const RESTORE_LEASE_MS = 30_000;

async function enqueuePage<R, Ctx>(deps: PollDeps, entity: SyncEntity<R, Ctx>, tenant: StoredTenant, page: PageRead): Promise<void> {
  const { pollId, rows, seen, summary, gate, inPipedrive } = page;
  const { tenantId } = tenant.config;
  const good: Array<{ record: R; key: string; hash: string }> = [];
  const bad: Array<{ key: string; reason: string; hash: string; row: unknown; action: 'failed' | 'skipped' }> = [];
  for (const [index, row] of rows.entries()) {
    const parsed = entity.parse(row);
    if (!parsed.ok) {
      bad.push({
        key: parsed.key ?? `_row:${summary.pages}:${index}`,
        reason: parsed.reason,
        hash: contentHash(row),
        row,
        action: 'failed',
      });
      continue;
    }
    const key = entity.key(parsed.record);
    const excluded = entity.exclusion?.(parsed.record, tenant.config);
    if (excluded)
      bad.push({
        key,
        reason: `${excluded}; not synced (kept in Pipedrive if it is there)`,
        hash: contentHash(row),
        row: parsed.record,
        action: 'skipped',
      });
    else good.push({ record: parsed.record, key, hash: '' });
  }
  const hashes = await messageHashes(
    deps.keyMap,
    entity,
    tenant,
    good.map((g) => g.record),
  );
  for (const [i, g] of good.entries()) g.hash = hashes[i]!;
  const entries = await deps.keyMap.getMany(tenantId, entity.entity, [...good.map((g) => g.key), ...bad.map((b) => b.key)]);
  const messages: RecordMessage[] = [];
  for (const { record, key, hash } of good) {
    // A key seen twice in one poll (a duplicate row, or a row that moved pages) is sent once.
    if (seen.has(key)) continue;
    seen.add(key);
    const entry = entries.get(key);
    const goneFromPipedrive = entry?.pipedriveId !== undefined && inPipedrive !== undefined && !inPipedrive.has(entry.pipedriveId);
    const restored =
      goneFromPipedrive && tenant.config.mapping.deletedInPipedrive === 'recreate' && (await restoreGone(deps, entity, tenant, key, page));
    if (restored) summary.restored = (summary.restored ?? 0) + 1;
    else if (entry?.contentHash === hash) {
      summary.unchanged++;
      continue;
    }
    const message = { tenantId, entity: entity.entity, key, hash, record, pollId, ...(restored && { rematch: true as const }) };
    messages.push(newRecordMessage(message, deps.clock.now()));
  }
  // A drifted mapped field holds the entity's records: never sent without the field's value.
  if (!(await gate.holds(messages.length))) {
    await deps.queueFor(entity.entity).sendAll(messages);
    summary.enqueued += messages.length;
  }

  for (const b of bad) {
    seen.add(b.key);
    if (b.action === 'failed') summary.rejected++;
    else summary.excluded++;
    // The same bad or excluded row is audited once, not on every poll, until its content changes.
    if (entries.get(b.key)?.rejectedHash === b.hash) continue;
    const { key, action, reason, hash } = b;
    await deps.audit.record({ tenantId, entity: entity.entity, key, action, reason, contentHash: hash, fields: fieldNames(b.row) });
    if (!b.key.startsWith('_row:')) await deps.keyMap.markRejected(tenantId, entity.entity, b.key, b.hash);
  }
}

/** After a full read: mapped records QAD no longer has are audited once, and never deleted from Pipedrive. */
async function auditGone<R, Ctx>(
  deps: PollDeps,
  entity: SyncEntity<R, Ctx>,
  tenantId: string,
  seen: Set<string>,
  now: number,
  summary: PollSummary,
): Promise<void> {
  for (const entry of await deps.keyMap.listMapped(tenantId, entity.entity)) {
    if (seen.has(entry.qadKey) || entry.goneAt) continue;
    summary.gone++;
    await deps.audit.record({
      tenantId,
      entity: entity.entity,
      key: entry.qadKey,
      action: 'skipped',
      ...(entry.pipedriveId !== undefined && { pipedriveId: entry.pipedriveId }),
      reason: `${entity.label} ${entry.qadKey} is no longer in QAD; its Pipedrive record is kept, not deleted`,
    });
    await deps.keyMap.markGone(tenantId, entity.entity, entry.qadKey, new Date(now).toISOString());
  }
}
