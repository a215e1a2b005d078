import * as z from 'zod';
import type { TenantConfig } from '../../config/tenant.ts';
import {
  itemSchema,
  mapItemToProduct,
  parseItemRow,
  parsePriceRow,
  productContentHash,
  type Item,
  type PriceRow,
} from '../../domain/item.ts';
import type { QadClient } from '../../ports/qad.ts';
import { hashWithMappedValues, itemValue, namedValues } from '../../domain/mapped-values.ts';
import { browsePages, changedSinceFilter, type SyncEntity } from './entity.ts';
import { PermanentError } from '../../domain/errors.ts';
import { stringValue } from './organizations.ts';

/** An item row travels with the price rows of its part, so parsing sees the whole product. */
interface ItemWithPrices {
  item: unknown;
  prices: unknown[];
}

/** Price changes do not touch the item's mod date; more than this many such items read all items once. */
const MAX_SINGLE_ITEM_READS = 50;

/**
 * Items changed since the watermark, plus items whose price changed, each with its full price
 * set from the tenant's price list (a PATCH with prices replaces them all, so we always send all).
 */
async function* readItems(qad: QadClient, config: TenantConfig, since: string | undefined): AsyncGenerator<unknown[]> {
  const { items, prices } = config.qad;
  const byPart = new Map<string, unknown[]>();
  const priceChanged = new Set<string>();
  for await (const rows of browsePages(qad, prices, [{ field: prices.listField, op: 'eq', value: prices.list }])) {
    for (const row of rows) {
      const parsed = parsePriceRow(row);
      const part = parsed.ok ? parsed.price.part : String((row as Record<string, unknown> | null)?.['pi_mstr.pi_part_code'] ?? '');
      byPart.set(part, [...(byPart.get(part) ?? []), row]);
      if (!parsed.ok || since === undefined || parsed.price.modDate >= since) priceChanged.add(part);
    }
  }
  const withPrices = (rows: unknown[]): ItemWithPrices[] => rows.map((item) => ({ item, prices: byPart.get(partOf(item)) ?? [] }));

  const seen = new Set<string>();
  for await (const rows of browsePages(qad, items, changedSinceFilter(items.modDateField, since))) {
    for (const row of rows) seen.add(partOf(row));
    yield withPrices(rows);
  }
  const missing = [...priceChanged].filter((part) => part && !seen.has(part));
  if (missing.length === 0) return;
  if (missing.length <= MAX_SINGLE_ITEM_READS) {
    for (const part of missing)
      for await (const rows of browsePages(qad, items, [{ field: 'pt_mstr.pt_part', op: 'eq', value: part }])) yield withPrices(rows);
    return;
  }
  const wanted = new Set(missing);
  for await (const rows of browsePages(qad, items, [])) yield withPrices(rows.filter((row) => wanted.has(partOf(row))));
}

function partOf(row: unknown): string {
  const value = row !== null && typeof row === 'object' ? (row as Record<string, unknown>)['pt_mstr.pt_part'] : undefined;
  return typeof value === 'string' ? value.trim() : '';
}

function parseItemWithPrices(input: unknown) {
  const { item, prices } = input as ItemWithPrices;
  const parsedPrices: PriceRow[] = [];
  for (const row of prices) {
    const parsed = parsePriceRow(row);
    if (!parsed.ok) return { ok: false as const, key: partOf(item) || undefined, reason: parsed.reason };
    parsedPrices.push(parsed.price);
  }
  return parseItemRow(item, parsedPrices);
}

const productFields = z.looseObject({ code: z.union([z.string(), z.number()]).nullish() });
const refusablePrices = z.array(z.looseObject({ currency: z.string() }));

/** QAD items -> Pipedrive products, keyed by `code` = the QAD item number. No name matching: codes only. */
export const products: SyncEntity<Item, Record<string, never>> = {
  entity: 'product',
  poll: 'items',
  // Items on their own queue, so a backlog of items never holds up customers.
  queue: 'products',
  label: 'item',
  collection: 'products',
  fieldEntity: 'product',
  source: 'qad',
  schedule: 'rate(15 minutes)',
  tenantSchedule: 'rate(1 hour)',
  recordSchema: itemSchema,
  readChanged: readItems,
  parse: parseItemWithPrices,
  key: (i) => i.part,
  hash: (i, config) => hashWithMappedValues(productContentHash(i, config.mapping.product.activeStatuses), products.mappedValues(i, config)),
  mappedValues: (i, config) => namedValues(i, config.mapping.fields.product, itemValue),
  keyFieldName: () => undefined,
  context: async () => ({}),
  payload: (i, _keyField, _ctx, config) => ({ ...mapItemToProduct(i, config.mapping.product.activeStatuses) }),
  withoutRefused(payload, error) {
    // Pipedrive names the refused price by its place in the body (body.prices.0.currency must be one of ...).
    const at = error instanceof PermanentError ? /prices(?:\[(\d+)\]|\.(\d+))\.currency/u.exec(error.message) : null;
    const prices = refusablePrices.safeParse(payload['prices']).data;
    const refused = at && prices?.[Number(at[1] ?? at[2])];
    if (!refused || !prices) return undefined;
    return { payload: { ...payload, prices: prices.filter((p) => p !== refused) }, leftOut: `currency ${refused.currency}` };
  },
  keyValueOf: (remote) => stringValue(productFields.safeParse(remote).data?.code),
  listingTokens: () => [],
  evidence: () => [],
  async search(pipedrive, i) {
    const hits = await pipedrive.search('products', { term: i.part, fields: 'code' });
    return { byKey: hits.filter((h) => stringValue(h.item.code) === i.part).map((h) => h.id), evidence: [] };
  },
};
