import * as z from 'zod';
import type { StoredTenant } from '../config/tenant.ts';
import { dealContentHash } from '../domain/sales-order.ts';
import type { PipedriveClient } from '../ports/pipedrive.ts';
import type { EntityFlow } from './registry.ts';
import { writeSalesOrder } from './write-sales-order.ts';
import { listAll, pipedriveTime } from './pipedrive-pages.ts';
import type { RecordMessage } from '../ports/index.ts';
import { PipedriveNotFoundError } from '../domain/errors.ts';
import { pollEnabledTenants, RECONCILE_EVERY_MS, runTenantPoll, type PollDeps } from './poll.ts';
import { fieldGate, releaseDriftHeld } from './field-gate.ts';
import { newRecordMessage } from './record-message.ts';
import { dealSchema, rereadWonDeals, withLines } from './won-deal-reads.ts';

export interface DealPollSummary {
  tenantId: string;
  entity: 'salesOrder';
  outcome: 'polled' | 'not-due' | 'busy' | 'failed' | 'tenant-on-hold';
  read: number;
  rechecked: number;
  enqueued: number;
  handled: number;
  /** Deals whose order was left incomplete in the key map (pending create), read again by id: at most hourly. */
  reconciled?: number;
  /** Once a day: ordered deals found deleted in Pipedrive (audited once; their orders are left alone). */
  deletedAfterOrder?: number;
  /** Deals kept back because a mapped deal field drifted (not enqueued; the watermark stays). */
  held?: number;
  /** Deals writers had held for a drifted deal field, put back on the queue now that the fields resolve. */
  released?: number;
  error?: string;
}

const ENTITY = 'salesOrder' as const;
const DEAL_FIELDS = { entity: ENTITY, fieldEntity: 'deal' } as const;
/** updated_since is inclusive and update times have whole seconds: re-read a margin, drop what was handled. */
const OVERLAP_MS = 10 * 60_000;
/** How often ordered deals are looked for in Pipedrive (deleted ones are reported). */
const ORDERED_CHECK_EVERY_MS = 24 * 3_600_000;

/**
 * Won deals for every enabled tenant that is due:
 * 1. list deals with status=won updated since the watermark (minus an overlap), 500 a page;
 * 2. add deals rejected earlier whose recheck is due (their cause may be fixed by now), and, hourly, deals whose order
 *    the key map says was left pending (its message gone);
 * 3. read their lines in bulk, 100 deals a call; never one call per deal;
 * 4. enqueue the deals whose value, currency, organization or lines are not already handled;
 * 5. once a day, report ordered deals a person deleted in Pipedrive (the orders are left alone);
 * 6. advance the watermark only once all of it was accepted.
 */
export async function pollWonDeals(deps: PollDeps, options: { force?: boolean } = {}): Promise<DealPollSummary[]> {
  return pollEnabledTenants(deps, (tenant) => pollWonDealsTenant(deps, tenant, options.force ?? false));
}

export async function pollWonDealsTenant(deps: PollDeps, tenant: StoredTenant, force: boolean): Promise<DealPollSummary> {
  const { tenantId } = tenant.config;
  const summary: DealPollSummary = { tenantId, entity: ENTITY, outcome: 'polled', read: 0, rechecked: 0, enqueued: 0, handled: 0 };
  return runTenantPoll(deps, tenant, wonDeals, force, summary, async ({ pollId, state, now, finish, holdBack }) => {
    summary.released = await releaseDriftHeld(deps, tenant, DEAL_FIELDS);
    const pipedrive = await deps.clients.pipedrive(tenant);
    const checkOrdered = !state.fullReadAt || now - Date.parse(state.fullReadAt) >= ORDERED_CHECK_EVERY_MS;
    if (checkOrdered) summary.deletedAfterOrder = await reportDeletedAfterOrder(deps, tenantId, pipedrive, now);
    const updatedSince = state.watermark ? pipedriveTime(Date.parse(state.watermark) - OVERLAP_MS) : undefined;
    const deals = new Map<number, z.infer<typeof dealSchema>>();
    for (const remote of await listAll(pipedrive, 'deals', { status: 'won', ...(updatedSince && { updatedSince }) })) {
      const deal = dealSchema.safeParse(remote);
      if (deal.success) deals.set(deal.data.id, deal.data);
      else
        await deps.audit.record({
          tenantId,
          entity: ENTITY,
          key: String(remote.id),
          action: 'failed',
          reason: `malformed deal from Pipedrive: ${deal.error.issues[0]?.message ?? ''}`,
          fields: Object.keys(remote),
        });
    }
    summary.read = deals.size;

    const recheckMs = tenant.config.mapping.deal.recheckRejectedAfterMinutes * 60_000;
    const due = (await deps.keyMap.listRejected(tenantId, ENTITY))
      .filter((e) => !e.ref && (!e.rejectedAt || now - Date.parse(e.rejectedAt) >= recheckMs))
      .map((e) => Number(e.qadKey));
    // Reconciliation: an order left pending whose message is gone (a crash, a dead letter redriven never) is found in
    // the key map and its deal read again, at most hourly, whether or not the deal changed since.
    const reconcile = (await deps.pollState.acquire(tenantId, `reconcile:${ENTITY}`, 'reconcile', RECONCILE_EVERY_MS, now))
      ? (await deps.keyMap.listIncomplete(tenantId, ENTITY, now)).map((e) => Number(e.qadKey))
      : [];
    summary.reconciled = reconcile.filter((id) => !deals.has(id)).length;
    const recheck = [...new Set([...due, ...reconcile])].filter((id) => !deals.has(id));
    for (let i = 0; i < recheck.length; i += 100) {
      for (const remote of await listAll(pipedrive, 'deals', { ids: recheck.slice(i, i + 100) })) {
        const deal = dealSchema.safeParse(remote);
        if (deal.success && deal.data.status === 'won') deals.set(deal.data.id, deal.data);
      }
    }
    summary.rechecked = recheck.length - summary.reconciled;

    const entries = await deps.keyMap.getMany(tenantId, ENTITY, [...deals.keys()].map(String));
    const recheckSet = new Set(due);
    const messages: RecordMessage[] = [];
    for (const won of await withLines(pipedrive, [...deals.values()], now)) {
      const hash = dealContentHash(won);
      const entry = entries.get(String(won.id));
      // Already ordered, or already told a person about it: nothing to send until it changes.
      const handled = entry?.contentHash === hash || (entry?.rejectedHash === hash && (entry.ref !== undefined || !recheckSet.has(won.id)));
      if (handled) {
        summary.handled++;
        continue;
      }
      messages.push(newRecordMessage({ tenantId, entity: ENTITY, key: String(won.id), hash, record: won, pollId }, now));
    }
    const gate = fieldGate(deps, tenant, DEAL_FIELDS, now);
    if (await gate.holds(messages.length)) {
      // A mapped deal field drifted: no deal is sent without it; the next poll reads them again.
      summary.held = gate.held;
      await gate.report();
      await holdBack(`read ${summary.read} won deals; ${gate.held} held back by a deal field drift (not enqueued, watermark not advanced)`);
      return summary;
    }
    await deps.queueFor(ENTITY).sendAll(messages);
    summary.enqueued = messages.length;
    await finish(
      new Date(now).toISOString(),
      `read ${summary.read} won deals ${updatedSince ? `updated since ${updatedSince}` : '(first poll)'}, ` +
        `rechecked ${summary.rechecked} rejected, ${summary.reconciled} left incomplete; ` +
        `enqueued ${summary.enqueued}, already handled ${summary.handled}` +
        (checkOrdered ? `; ${summary.deletedAfterOrder} ordered deals found deleted` : ''),
      checkOrdered,
    );
    return summary;
  });
}

/**
 * Ordered deals a person deleted in Pipedrive since: each audited once as a conflict (and shown by
 * `connector status`) and marked, never acted on; the QAD order stays. A list by ids (100 a call)
 * finds the missing; a GET tells a deleted deal from an archived one, which lists leave out too.
 */
async function reportDeletedAfterOrder(deps: PollDeps, tenantId: string, pipedrive: PipedriveClient, now: number): Promise<number> {
  const ordered = (await deps.keyMap.listMapped(tenantId, ENTITY)).filter((e) => e.ref !== undefined && !e.goneAt);
  let deleted = 0;
  for (let i = 0; i < ordered.length; i += 100) {
    const chunk = ordered.slice(i, i + 100);
    const listed = new Set((await listAll(pipedrive, 'deals', { ids: chunk.map((e) => Number(e.qadKey)) })).map((d) => d.id));
    for (const entry of chunk.filter((e) => !listed.has(Number(e.qadKey)))) {
      if (!(await isDeleted(pipedrive, Number(entry.qadKey)))) continue;
      deleted++;
      await deps.audit.record({
        tenantId,
        entity: ENTITY,
        key: entry.qadKey,
        action: 'conflict',
        pipedriveId: Number(entry.qadKey),
        reason:
          `deal ${entry.qadKey} was deleted in Pipedrive after QAD sales order ${entry.ref} was made from it; ` + 'the order is left alone',
      });
      await deps.keyMap.markGone(tenantId, ENTITY, entry.qadKey, new Date(now).toISOString());
    }
  }
  return deleted;
}

async function isDeleted(pipedrive: PipedriveClient, dealId: number): Promise<boolean> {
  try {
    return dealSchema.safeParse(await pipedrive.get('deals', dealId)).data?.status === 'deleted';
  } catch (error) {
    if (error instanceof PipedriveNotFoundError) return true;
    throw error;
  }
}

/** Won deals -> QAD sales orders: the registry's flow in the other direction. */
export const wonDeals: EntityFlow = {
  entity: ENTITY,
  poll: 'deals',
  queue: 'orders',
  label: 'deal',
  collection: 'deals',
  fieldEntity: 'deal',
  source: 'pipedrive',
  schedule: 'rate(5 minutes)',
  tenantSchedule: 'rate(15 minutes)',
  keyFieldName: (config) => config.mapping.deal.orderFieldName,
  pollTenant: pollWonDealsTenant,
  write: writeSalesOrder,
  reread: (deps, tenant, keys) => rereadWonDeals(deps, tenant, keys),
};
