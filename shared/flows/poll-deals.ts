import * as z from 'zod';
import type { StoredTenant } from '../config/tenant.ts';
import { dealContentHash, dealLineSchema, type DealLine, type WonDeal } from '../domain/sales-order.ts';
import type { PipedriveClient } from '../ports/pipedrive.ts';
import type { EntityFlow } from './registry.ts';
import { writeSalesOrder } from './write-sales-order.ts';
import { listAll } from './pipedrive-pages.ts';
import type { RecordMessage } from '../ports/index.ts';
import { pollEnabledTenants, runTenantPoll, type PollDeps } from './poll.ts';
import { fieldGate, releaseDriftHeld } from './field-gate.ts';
import { newRecordMessage } from './record-message.ts';

export interface DealPollSummary {
  tenantId: string;
  entity: 'salesOrder';
  outcome: 'polled' | 'not-due' | 'busy' | 'failed' | 'tenant-on-hold';
  read: number;
  rechecked: number;
  enqueued: number;
  handled: number;
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

const dealSchema = z.looseObject({
  id: z.number().int(),
  title: z.string().nullish(),
  value: z.number().nullish(),
  currency: z.string(),
  status: z.string(),
  won_time: z.string().nullish(),
  org_id: z.union([z.number(), z.looseObject({ value: z.number() }).transform((o) => o.value)]).nullish(),
  custom_fields: z.record(z.string(), z.unknown()).nullish(),
});

/**
 * Won deals for every enabled tenant that is due:
 * 1. list deals with status=won updated since the watermark (minus an overlap), 500 a page;
 * 2. add deals rejected earlier whose recheck is due (their cause may be fixed by now);
 * 3. read their lines in bulk, 100 deals a call; never one call per deal;
 * 4. enqueue the deals whose value, currency, organization or lines are not already handled;
 * 5. advance the watermark only once all of it was accepted.
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
    const updatedSince = state.watermark ? rfc3339(Date.parse(state.watermark) - OVERLAP_MS) : undefined;
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
    const recheck = due.filter((id) => !deals.has(id));
    for (let i = 0; i < recheck.length; i += 100) {
      for (const remote of await listAll(pipedrive, 'deals', { ids: recheck.slice(i, i + 100) })) {
        const deal = dealSchema.safeParse(remote);
        if (deal.success && deal.data.status === 'won') deals.set(deal.data.id, deal.data);
      }
    }
    summary.rechecked = recheck.length;

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
        `rechecked ${summary.rechecked} rejected; enqueued ${summary.enqueued}, already handled ${summary.handled}`,
    );
    return summary;
  });
}

/** Deals as the QAD writer takes them: each with its lines, read in bulk (one call per 100 deals). */
async function withLines(pipedrive: PipedriveClient, deals: ReadonlyArray<z.infer<typeof dealSchema>>, now: number): Promise<WonDeal[]> {
  const lines = new Map<number, DealLine[]>();
  for (let i = 0; i < deals.length; i += 100) {
    for (const raw of await pipedrive.dealProducts(deals.slice(i, i + 100).map((d) => d.id))) {
      const line = dealLineSchema.safeParse(raw);
      if (!line.success)
        throw new Error(
          `malformed deal line from Pipedrive: ${line.error.issues[0]?.path.join('.') ?? ''} ${line.error.issues[0]?.message ?? ''}`,
        );
      lines.set(line.data.deal_id, [...(lines.get(line.data.deal_id) ?? []), line.data]);
    }
  }
  return deals.map((d) => ({
    id: d.id,
    title: d.title ?? '',
    value: d.value ?? 0,
    currency: d.currency,
    wonTime: d.won_time ?? new Date(now).toISOString(),
    orgId: d.org_id ?? null,
    lines: lines.get(d.id) ?? [],
    customFields: d.custom_fields ?? {},
  }));
}

const rfc3339 = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/u, 'Z');

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
  async reread(deps, tenant, keys) {
    const pipedrive = await deps.clients.pipedrive(tenant);
    const ids = keys.map(Number).filter((id) => Number.isInteger(id));
    const won: Array<z.infer<typeof dealSchema>> = [];
    for (let i = 0; i < ids.length; i += 100)
      for (const remote of await listAll(pipedrive, 'deals', { ids: ids.slice(i, i + 100) })) {
        const deal = dealSchema.safeParse(remote);
        if (deal.success && deal.data.status === 'won') won.push(deal.data);
      }
    const deals = await withLines(pipedrive, won, deps.clock.now());
    return new Map(deals.map((d) => [String(d.id), { record: d, hash: dealContentHash(d) }]));
  },
};
