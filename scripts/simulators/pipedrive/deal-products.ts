/**
 * Products attached to deals ("deal lines"): a store, Pipedrive's line sum, and the two read endpoints
 * GET /deals/{id}/products and the bulk GET /deals/products?deal_ids=1,2,... (at most 100 deals a call).
 */
import type { EntityRuntime, Envelope } from './handlers.ts';
import { LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX } from './handlers.ts';
import { decodeCursor, encodeCursor, notFound, rfc3339, validationError } from './http.ts';
import type { ParsedParams } from './spec.ts';

export type DiscountType = 'percentage' | 'amount';
export type TaxMethod = 'exclusive' | 'inclusive' | 'none';

/** A line to attach to a seeded deal. */
export interface SimDealLineInput {
  product_id: number;
  /** default: the product's name, else "Product <id>" */
  name?: string;
  item_price: number;
  quantity: number;
  /** default 0 */
  discount?: number;
  /** default 'percentage' */
  discount_type?: DiscountType;
  /** percent, default 0 */
  tax?: number;
  /** default 'exclusive' */
  tax_method?: TaxMethod;
  /** default true */
  is_enabled?: boolean;
  comments?: string | null;
}

export interface SimDealProduct {
  id: number;
  deal_id: number;
  product_id: number;
  product_variation_id: number | null;
  name: string;
  item_price: number;
  quantity: number;
  discount: number;
  discount_type: DiscountType;
  tax: number;
  tax_method: TaxMethod;
  sum: number;
  currency: string;
  is_enabled: boolean;
  comments: string | null;
  add_time: string;
  update_time: string;
  billing_frequency: string;
  billing_frequency_cycles: number | null;
  billing_start_date: string | null;
}

interface StoredLine {
  id: number;
  dealId: number;
  productId: number;
  name: string;
  itemPrice: number;
  quantity: number;
  discount: number;
  discountType: DiscountType;
  tax: number;
  taxMethod: TaxMethod;
  isEnabled: boolean;
  comments: string | null;
  addTimeMs: number;
}

function round2(n: number): number {
  return Math.round((n + Number.EPSILON) * 100) / 100;
}

/**
 * A line's sum as Pipedrive computes it: quantity x item_price, less the discount (a percentage of that,
 * or an amount off the line), plus tax when the method is 'exclusive' (an 'inclusive' price already holds
 * the tax; 'none' has none). Rounded to cents (the rounding is the sim's choice; Pipedrive's is unconfirmed).
 */
export function lineSum(
  line: Pick<SimDealLineInput, 'item_price' | 'quantity' | 'discount' | 'discount_type' | 'tax' | 'tax_method'>,
): number {
  const gross = line.item_price * line.quantity;
  const discount = line.discount ?? 0;
  const net = (line.discount_type ?? 'percentage') === 'percentage' ? gross * (1 - discount / 100) : gross - discount;
  const withTax = (line.tax_method ?? 'exclusive') === 'exclusive' ? net * (1 + (line.tax ?? 0) / 100) : net;
  return round2(withTax);
}

function checkLine(line: SimDealLineInput, i: number): void {
  const at = `lines.${i}`;
  if (!Number.isInteger(line.product_id) || line.product_id < 1) throw new Error(`${at}.product_id must be a positive integer`);
  for (const key of ['item_price', 'quantity'] as const) {
    if (!Number.isFinite(line[key])) throw new Error(`${at}.${key} must be a number`);
  }
  if (line.discount !== undefined && (!Number.isFinite(line.discount) || line.discount < 0)) throw new Error(`${at}.discount must be >= 0`);
  if (line.discount_type === 'percentage' && (line.discount ?? 0) > 100) throw new Error(`${at}.discount must be <= 100 for a percentage`);
  if (line.tax !== undefined && (!Number.isFinite(line.tax) || line.tax < 0)) throw new Error(`${at}.tax must be >= 0`);
}

export class DealLineStore {
  private readonly lines: StoredLine[] = [];
  private nextId = 1;

  /** Attaches lines to a deal (admin use); throws on malformed input. */
  add(dealId: number, inputs: readonly SimDealLineInput[], productName: (id: number) => string | undefined, nowMs: number): void {
    inputs.forEach(checkLine);
    for (const l of inputs) {
      this.lines.push({
        id: this.nextId++,
        dealId,
        productId: l.product_id,
        name: l.name ?? productName(l.product_id) ?? `Product ${l.product_id}`,
        itemPrice: l.item_price,
        quantity: l.quantity,
        discount: l.discount ?? 0,
        discountType: l.discount_type ?? 'percentage',
        tax: l.tax ?? 0,
        taxMethod: l.tax_method ?? 'exclusive',
        isEnabled: l.is_enabled ?? true,
        comments: l.comments ?? null,
        addTimeMs: nowMs,
      });
    }
  }

  forDeals(dealIds: readonly number[]): StoredLine[] {
    return this.lines.filter((l) => dealIds.includes(l.dealId));
  }

  toApi(line: StoredLine, currency: string): SimDealProduct {
    const base = {
      item_price: line.itemPrice,
      quantity: line.quantity,
      discount: line.discount,
      discount_type: line.discountType,
      tax: line.tax,
      tax_method: line.taxMethod,
    };
    return {
      id: line.id,
      deal_id: line.dealId,
      product_id: line.productId,
      product_variation_id: null,
      name: line.name,
      ...base,
      sum: lineSum(base),
      currency,
      is_enabled: line.isEnabled,
      comments: line.comments,
      add_time: rfc3339(line.addTimeMs),
      update_time: rfc3339(line.addTimeMs),
      billing_frequency: 'one-time',
      billing_frequency_cycles: null,
      billing_start_date: null,
    };
  }
}

/** Deal ids a bulk call may name at once. */
export const DEAL_IDS_MAX = 100;

function currencyOf(deals: EntityRuntime<object>, dealId: number): string {
  const currency = deals.store.get(dealId)?.attrs['currency'];
  return typeof currency === 'string' ? currency : 'EUR';
}

function page(lines: DealLineStore, deals: EntityRuntime<object>, dealIds: readonly number[], params: ParsedParams): Envelope {
  const limitRaw = params['limit'];
  const limit = limitRaw === undefined ? LIST_LIMIT_DEFAULT : limitRaw;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1) throw validationError('limit must be a positive integer');
  if (limit > LIST_LIMIT_MAX) throw validationError(`limit must be <= ${LIST_LIMIT_MAX}`);
  let offset = 0;
  if (typeof params['cursor'] === 'string') {
    const o = decodeCursor(params['cursor'])['offset'];
    if (typeof o !== 'number' || !Number.isInteger(o) || o < 0) throw validationError('cursor is invalid');
    offset = o;
  }
  const sign = params['sort_direction'] === 'desc' ? -1 : 1;
  const byDeal = params['sort_by'] === 'deal_id';
  const all = lines.forDeals(dealIds).sort((a, b) => sign * ((byDeal ? a.dealId - b.dealId : 0) || a.id - b.id));
  const slice = all.slice(offset, offset + limit);
  return {
    success: true,
    data: slice.map((l) => lines.toApi(l, currencyOf(deals, l.dealId))),
    additional_data: { next_cursor: offset + limit < all.length ? encodeCursor({ offset: offset + limit }) : null },
  };
}

/** GET /deals/{id}/products */
export function listDealProducts(lines: DealLineStore, deals: EntityRuntime<object>, params: ParsedParams): Envelope {
  const id = params['id'];
  if (typeof id !== 'number' || deals.store.get(id) === undefined) throw notFound(deals.def.label);
  return page(lines, deals, [id], params);
}

/** GET /deals/products?deal_ids=1,2,... (unknown deal ids simply have no lines) */
export function listDealsProducts(lines: DealLineStore, deals: EntityRuntime<object>, params: ParsedParams): Envelope {
  const raw = params['deal_ids'];
  const ids = (Array.isArray(raw) ? raw : [raw]).filter((x): x is number => typeof x === 'number' && Number.isInteger(x));
  if (ids.length === 0) throw validationError('deal_ids is required');
  if (ids.length > DEAL_IDS_MAX) throw validationError(`deal_ids accepts at most ${DEAL_IDS_MAX} ids`);
  return page(lines, deals, ids, params);
}
