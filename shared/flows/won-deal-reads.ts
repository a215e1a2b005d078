import * as z from 'zod';
import type { StoredTenant } from '../config/tenant.ts';
import { dealContentHash, dealLineSchema, type DealLine, type WonDeal } from '../domain/sales-order.ts';
import type { PipedriveClient } from '../ports/pipedrive.ts';
import type { RecordMessage } from '../ports/index.ts';
import { listAll } from './pipedrive-pages.ts';
import { newRecordMessage } from './record-message.ts';
import type { RereadDeps } from './registry.ts';

/** Won deals as Pipedrive lists them, read by the deal poll, the QAD writer (a webhook's deal) and a replay. */
export const dealSchema = z.looseObject({
  id: z.number().int(),
  title: z.string().nullish(),
  value: z.number().nullish(),
  currency: z.string(),
  status: z.string(),
  won_time: z.string().nullish(),
  org_id: z.union([z.number(), z.looseObject({ value: z.number() }).transform((o) => o.value)]).nullish(),
  custom_fields: z.record(z.string(), z.unknown()).nullish(),
});

/** Deals as the QAD writer takes them: each with its lines, read in bulk (one call per 100 deals). */
export async function withLines(
  pipedrive: PipedriveClient,
  deals: ReadonlyArray<z.infer<typeof dealSchema>>,
  now: number,
): Promise<WonDeal[]> {
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

/** The won deals among these ids with their lines and content hashes, as a poll would send them; others are left out. */
export async function rereadWonDeals(
  deps: RereadDeps,
  tenant: StoredTenant,
  keys: readonly string[],
): Promise<Map<string, { record: WonDeal; hash: string }>> {
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
}

/**
 * The hash of a message that names a deal without its content (a webhook delivery): the QAD writer reads the
 * deal and its lines from the API first, so nothing a delivery's body says reaches an order.
 */
export const REREAD_HASH = 'reread';

/** A message for the orders queue that names a won deal only (what the webhook endpoint sends). */
export function dealToReread(tenantId: string, dealId: number, source: string, nowMs: number): RecordMessage {
  return newRecordMessage(
    { tenantId, entity: 'salesOrder', key: String(dealId), hash: REREAD_HASH, record: { id: dealId }, pollId: source },
    nowMs,
  );
}
