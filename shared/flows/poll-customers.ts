import { randomUUID } from 'node:crypto';
import type { StoredTenant } from '../config/tenant.ts';
import { parseCustomerRow, type Customer } from '../domain/customer.ts';
import { contentHash } from '../domain/content-hash.ts';
import { errorMessage } from '../domain/errors.ts';
import { organizationContentHash } from '../domain/organization.ts';
import { changedSinceDate, isDue, utcDate } from '../domain/schedule.ts';
import type { AuditLog, Clock, KeyMap, ListingIndex, PollStateStore, RecordMessage, RecordQueue, TenantStore } from '../ports/index.ts';
import type { Connections } from './connections.ts';
import { buildOrganizationListing } from './organization-listing.ts';

export interface PollDeps {
  tenants: TenantStore;
  pollState: PollStateStore;
  keyMap: KeyMap;
  listing: ListingIndex;
  queue: RecordQueue;
  audit: AuditLog;
  connections: Connections;
  clock: Clock;
}

export interface PollSummary {
  tenantId: string;
  outcome: 'polled' | 'not-due' | 'busy' | 'failed';
  pages: number;
  read: number;
  enqueued: number;
  unchanged: number;
  rejected: number;
  error?: string;
}

const ENTITY = 'organization';
/** A poll that outlives this (the function times out at 5 minutes) is presumed dead; the next schedule takes over. */
const POLL_LEASE_MS = 6 * 60_000;
/** Guard against a server that says "more" forever. */
const MAX_PAGES = 100_000;

/**
 * The customer poll, for every enabled tenant that is due:
 * 1. take the tenant's poll lease (one poll at a time per tenant);
 * 2. on the first sync, list the company's organizations once for matching;
 * 3. read customers changed since the watermark minus the overlap, page by page;
 * 4. drop rows whose content hash is unchanged, audit bad rows, enqueue the rest;
 * 5. advance the watermark only after every page was read and every message accepted.
 * One tenant's failure is audited and does not stop the others.
 */
export async function pollCustomers(deps: PollDeps, options: { force?: boolean } = {}): Promise<PollSummary[]> {
  const summaries: PollSummary[] = [];
  for (const tenant of await deps.tenants.listEnabled()) {
    summaries.push(await pollTenant(deps, tenant, options.force ?? false));
  }
  return summaries;
}

async function pollTenant(deps: PollDeps, tenant: StoredTenant, force: boolean): Promise<PollSummary> {
  const { tenantId, qad } = tenant.config;
  const summary: PollSummary = { tenantId, outcome: 'polled', pages: 0, read: 0, enqueued: 0, unchanged: 0, rejected: 0 };
  const now = deps.clock.now();
  const state = await deps.pollState.get(tenantId, ENTITY);
  if (!force && !isDue(state.lastPolledAt, tenant.config.schedules.customers, now)) return { ...summary, outcome: 'not-due' };

  const pollId = randomUUID();
  if (!(await deps.pollState.acquire(tenantId, ENTITY, pollId, POLL_LEASE_MS, now))) return { ...summary, outcome: 'busy' };
  try {
    if (!(await deps.listing.meta(tenantId, ENTITY))) {
      await buildOrganizationListing(deps, tenant);
    }
    const client = await deps.connections.qad(tenant);
    const since = changedSinceDate(state.watermark, qad.overlapDays);
    const seen = new Set<string>();
    let hasMore = true;
    for (let page = 1; hasMore; page++) {
      if (page > MAX_PAGES) throw new Error(`QAD kept reporting more pages after ${MAX_PAGES}`);
      const result = await client.browse({
        path: qad.customers.browsePath,
        browseId: qad.customers.browseId,
        page,
        pageSize: qad.customers.pageSize,
        filters: since ? [{ field: qad.customers.modDateField, op: 'ge', value: since }] : [],
      });
      hasMore = result.hasMore;
      summary.pages++;
      summary.read += result.rows.length;
      await enqueuePage(deps, tenantId, pollId, result.rows, seen, summary);
    }
    await deps.pollState.finish(tenantId, ENTITY, pollId, { watermark: utcDate(now), lastPolledAt: new Date(now).toISOString() });
    await deps.audit.record({
      tenantId, entity: ENTITY, key: '_poll', action: 'polled',
      reason: `read ${summary.read} customers changed since ${since ?? 'the beginning'} in ${summary.pages} pages; enqueued ${summary.enqueued}, unchanged ${summary.unchanged}, rejected ${summary.rejected}`,
    });
    return summary;
  } catch (error) {
    await deps.pollState.release(tenantId, ENTITY, pollId);
    await deps.audit.record({ tenantId, entity: ENTITY, key: '_poll', action: 'failed', error: errorMessage(error), reason: 'customer poll failed; the watermark was not advanced and the next poll retries' });
    return { ...summary, outcome: 'failed', error: errorMessage(error) };
  }
}

async function enqueuePage(deps: PollDeps, tenantId: string, pollId: string, rows: unknown[], seen: Set<string>, summary: PollSummary): Promise<void> {
  const good: Array<{ customer: Customer; hash: string }> = [];
  const bad: Array<{ key: string; reason: string; hash: string; row: unknown }> = [];
  for (const [index, row] of rows.entries()) {
    const parsed = parseCustomerRow(row);
    if (parsed.ok) good.push({ customer: parsed.record, hash: organizationContentHash(parsed.record) });
    else bad.push({ key: parsed.key ?? `_row:${summary.pages}:${index}`, reason: parsed.reason, hash: contentHash(row), row });
  }

  const entries = await deps.keyMap.getMany(tenantId, ENTITY, [...good.map((g) => g.customer.code), ...bad.map((b) => b.key)]);
  const messages: RecordMessage[] = [];
  for (const { customer, hash } of good) {
    // A key seen twice in one poll (a duplicate row, or a row that moved pages) is sent once.
    if (seen.has(customer.code)) continue;
    seen.add(customer.code);
    if (entries.get(customer.code)?.contentHash === hash) {
      summary.unchanged++;
      continue;
    }
    messages.push({ v: 1, tenantId, entity: ENTITY, key: customer.code, hash, record: customer, pollId });
  }
  await deps.queue.sendAll(messages);
  summary.enqueued += messages.length;

  for (const b of bad) {
    summary.rejected++;
    // The same bad row is audited once, not on every poll, until its content changes.
    if (entries.get(b.key)?.rejectedHash === b.hash) continue;
    await deps.audit.record({ tenantId, entity: ENTITY, key: b.key, action: 'failed', reason: b.reason, snapshot: b.row });
    if (!b.key.startsWith('_row:')) await deps.keyMap.markRejected(tenantId, ENTITY, b.key, b.hash);
  }
}
