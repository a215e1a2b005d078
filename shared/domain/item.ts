import * as z from 'zod';
import { contentHash } from './content-hash.ts';
import { formatIssues, rowKey, textProblems, type ParsedRow } from './customer.ts';
import { cleanText } from './text.ts';

export interface ItemPrice {
  currency: string;
  price: number;
}

/** A QAD item with its price per currency from the tenant's price list. */
export interface Item {
  part: string;
  description: string;
  description2: string;
  unit: string;
  productLine: string;
  status: string;
  modDate: string;
  prices: ItemPrice[];
}

export const itemSchema: z.ZodType<Item> = z.object({
  part: z.string(),
  description: z.string(),
  description2: z.string(),
  unit: z.string(),
  productLine: z.string(),
  status: z.string(),
  modDate: z.string(),
  prices: z.array(z.object({ currency: z.string(), price: z.number() })),
});

const text = z
  .union([z.string(), z.null()])
  .optional()
  .transform((v) => cleanText(v ?? ''));
const date = z.string().regex(/^\d{4}-\d{2}-\d{2}$/u, 'must be a date YYYY-MM-DD');
const amount = z
  .union([
    z.number(),
    z
      .string()
      .regex(/^-?\d+(\.\d+)?$/u)
      .transform(Number),
  ])
  .pipe(z.number().finite().min(0, 'must not be negative'));

const itemRowSchema = z.object({
  'pt_mstr.pt_part': z.string().transform(cleanText).pipe(z.string().min(1, 'is required')),
  'pt_mstr.pt_desc1': z.string().transform(cleanText).pipe(z.string().min(1, 'is required')),
  'pt_mstr.pt_desc2': text,
  'pt_mstr.pt_um': text,
  'pt_mstr.pt_prod_line': text,
  'pt_mstr.pt_status': text,
  'pt_mstr.pt_mod_date': date,
});

const priceRowSchema = z.object({
  'pi_mstr.pi_list': z.string(),
  'pi_mstr.pi_part_code': z.string().transform(cleanText),
  'pi_mstr.pi_curr': z.string().regex(/^[A-Z]{3}$/u, 'must be an ISO currency code'),
  'pi_mstr.pi_list_price': amount,
  'pi_mstr.pi_mod_date': date,
});

export interface PriceRow {
  list: string;
  part: string;
  currency: string;
  price: number;
  modDate: string;
}

export function parsePriceRow(row: unknown): { ok: true; price: PriceRow } | { ok: false; reason: string } {
  const parsed = priceRowSchema.safeParse(row);
  if (!parsed.success) return { ok: false, reason: `invalid QAD price row: ${formatIssues(parsed.error)}` };
  const r = parsed.data;
  return {
    ok: true,
    price: {
      list: r['pi_mstr.pi_list'],
      part: r['pi_mstr.pi_part_code'],
      currency: r['pi_mstr.pi_curr'],
      price: r['pi_mstr.pi_list_price'],
      modDate: r['pi_mstr.pi_mod_date'],
    },
  };
}

/** One price per currency, sorted: the full set, because a PATCH with prices replaces them all. */
export function pricesOf(rows: readonly PriceRow[]): ItemPrice[] {
  const latest = new Map<string, PriceRow>();
  for (const row of rows) {
    const seen = latest.get(row.currency);
    if (!seen || row.modDate >= seen.modDate) latest.set(row.currency, row);
  }
  return [...latest.values()].map((r) => ({ currency: r.currency, price: r.price })).sort((a, b) => a.currency.localeCompare(b.currency));
}

export function parseItemRow(row: unknown, prices: readonly PriceRow[]): ParsedRow<Item> {
  const key = rowKey(row, 'pt_mstr.pt_part');
  const parsed = itemRowSchema.safeParse(row);
  if (!parsed.success) return { ok: false, key, reason: `invalid QAD item row: ${formatIssues(parsed.error)}` };
  const r = parsed.data;
  const item: Item = {
    part: r['pt_mstr.pt_part'],
    description: r['pt_mstr.pt_desc1'],
    description2: r['pt_mstr.pt_desc2'],
    unit: r['pt_mstr.pt_um'],
    productLine: r['pt_mstr.pt_prod_line'],
    status: r['pt_mstr.pt_status'],
    modDate: r['pt_mstr.pt_mod_date'],
    prices: pricesOf(prices),
  };
  const problems = textProblems({
    'pt_mstr.pt_part': item.part,
    'pt_mstr.pt_desc1': item.description,
    'pt_mstr.pt_desc2': item.description2,
    'pt_mstr.pt_um': item.unit,
  });
  if (problems.length > 0) return { ok: false, key, reason: `invalid QAD item row: ${problems.join('; ')}` };
  return { ok: true, record: item };
}

export interface ProductPayload {
  name: string;
  code: string;
  unit?: string;
  description?: string;
  is_linkable: boolean;
  prices: Array<{ currency: string; price: number }>;
}

/**
 * Item -> product. `code` is the QAD item number, the stable key. An item whose status is not
 * active is kept and marked: it cannot be added to new deals, and its description says why.
 */
export function mapItemToProduct(item: Item, activeStatuses: readonly string[]): ProductPayload {
  const active = activeStatuses.includes(item.status.toUpperCase());
  const description = [item.description2, active ? '' : `Inactive in QAD (status ${item.status || 'blank'})`].filter(Boolean).join(' | ');
  return {
    name: item.description,
    code: item.part,
    ...(item.unit && { unit: item.unit }),
    ...(description && { description }),
    is_linkable: active,
    prices: item.prices.map((p) => ({ currency: p.currency, price: p.price })),
  };
}

export function productContentHash(item: Item, activeStatuses: readonly string[]): string {
  return contentHash(mapItemToProduct(item, activeStatuses));
}
