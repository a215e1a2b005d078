import * as z from 'zod';
import { contentHash } from './content-hash.ts';
import { ADVICE } from './deal-outcome.ts';

/** A deal line as Pipedrive returns it from /deals/products. */
export const dealLineSchema = z.looseObject({
  deal_id: z.number().int(),
  product_id: z.number().int(),
  name: z.string().nullish(),
  item_price: z.number(),
  quantity: z.number(),
  discount: z
    .number()
    .nullish()
    .transform((v) => v ?? 0),
  discount_type: z
    .enum(['percentage', 'amount'])
    .nullish()
    .transform((v) => v ?? 'percentage'),
  tax: z
    .number()
    .nullish()
    .transform((v) => v ?? 0),
  tax_method: z
    .enum(['exclusive', 'inclusive', 'none'])
    .nullish()
    .transform((v) => v ?? 'exclusive'),
  sum: z.number(),
  is_enabled: z
    .boolean()
    .nullish()
    .transform((v) => v ?? true),
});
export type DealLine = z.infer<typeof dealLineSchema>;

/** A won deal with its lines: what the deal poll enqueues for the QAD writer. */
export const wonDealSchema = z.object({
  id: z.number().int(),
  title: z.string(),
  value: z.number(),
  currency: z.string(),
  wonTime: z.string(),
  orgId: z.number().int().nullable(),
  lines: z.array(dealLineSchema),
  customFields: z.record(z.string(), z.unknown()).default({}),
});
export type WonDeal = z.infer<typeof wonDealSchema>;

export interface SalesOrderLine {
  sod_line: number;
  sod_part: string;
  sod_qty_ord: number;
  sod_price: number;
  sod_disc_pct: number;
  sod_um?: string;
}

export interface SalesOrder {
  so_cust: string;
  so_po: string;
  so_ord_date: string;
  so_due_date?: string;
  so_curr: string;
  so_site: string;
  /** Remarks: the customer's own PO text from the deal (so_po holds the deal reference that keeps orders unique). */
  so_rmks?: string;
  lines: SalesOrderLine[];
}

/** Values the tenant maps from deal fields into the order (config mapping.fields.deal), already read as text. */
export interface MappedOrderValues {
  dueDate?: string;
  remarks?: string;
  site?: string;
}

export interface OrderDefaults {
  site: string;
  /** A deal without lines: reject it, or order one line of this item for the deal's value. */
  noLines: { kind: 'reject' } | { kind: 'item'; part: string };
}

/** A refusal carries its reason for the audit and the same in a salesperson's words for the deal (`advice`). */
export type OrderMapping = { ok: true; order: SalesOrder; value: number } | { ok: false; reason: string; advice: string };

/**
 * Whole cents, rounding half up as decimal arithmetic does: 0.575 is stored as 0.57499999…, so it
 * is first cut to 12 significant digits, which removes binary noise but no real cent.
 */
const cents = (n: number) => Math.round(Number((n * 100).toPrecision(12)));
const toMoney = (n: number) => cents(n) / 100;

/**
 * The customer PO that ties a QAD order to its deal, looked up before every create: `<prefix><deal id>`.
 * The prefix is per tenant (`PD-<tenantId>-` unless configured), so two Pipedrive companies feeding
 * one QAD instance never share a reference.
 */
export const customerPo = (prefix: string, dealId: number): string => `${prefix}${dealId}`;

/** The reference orders were made with before it carried the tenant: still recognised, for the same sold-to only. */
export const legacyCustomerPo = (dealId: number): string => `PD-${dealId}`;

/** The prefix a tenant's references start with. */
export const poPrefixOf = (tenantId: string, configured: string | undefined): string => configured ?? `PD-${tenantId}-`;

const orderHeaderSchema = z.looseObject({
  so_nbr: z.string().min(1).optional(),
  'so_mstr.so_nbr': z.string().min(1).optional(),
  so_po: z.string().optional(),
  'so_mstr.so_po': z.string().optional(),
  so_cust: z.string().optional(),
  'so_mstr.so_cust': z.string().optional(),
});

export type OrderLookup = { kind: 'none' } | { kind: 'ours'; orderNumber: string } | { kind: 'unreadable'; reason: string };

/**
 * Which of the order headers QAD answered for a customer PO is ours: exactly that PO and that sold-to.
 * A row whose number, PO or customer cannot be read makes the whole answer unreadable (fail safe: the
 * caller must not create, the order may be that very row); two of ours are as unsafe.
 */
export function orderOfOurs(rows: readonly unknown[], ours: { po: string; customer: string }): OrderLookup {
  const matches: string[] = [];
  for (const [i, row] of rows.entries()) {
    const parsed = orderHeaderSchema.safeParse(row);
    const header = parsed.success ? parsed.data : undefined;
    const nbr = header?.so_nbr ?? header?.['so_mstr.so_nbr'];
    const po = header?.so_po ?? header?.['so_mstr.so_po'];
    const customer = header?.so_cust ?? header?.['so_mstr.so_cust'];
    if (nbr === undefined || po === undefined || customer === undefined)
      return {
        kind: 'unreadable',
        reason: `row ${i + 1} of the lookup for customer PO ${ours.po} has no readable so_nbr, so_po and so_cust`,
      };
    if (po === ours.po && customer === ours.customer) matches.push(nbr);
  }
  if (matches.length > 1)
    return {
      kind: 'unreadable',
      reason: `${matches.length} orders (${matches.join(', ')}) carry customer PO ${ours.po} for ${ours.customer}`,
    };
  return matches[0] === undefined ? { kind: 'none' } : { kind: 'ours', orderNumber: matches[0] };
}

/** Pipedrive's own line total: quantity x price, less the discount, plus tax when it is exclusive. */
export function pipedriveLineSum(
  line: Pick<DealLine, 'item_price' | 'quantity' | 'discount' | 'discount_type' | 'tax' | 'tax_method'>,
): number {
  const net = lineNet(line);
  return toMoney(line.tax_method === 'exclusive' ? net * (1 + line.tax / 100) : net);
}

function lineNet(line: Pick<DealLine, 'item_price' | 'quantity' | 'discount' | 'discount_type'>): number {
  const gross = line.item_price * line.quantity;
  return line.discount_type === 'percentage' ? gross * (1 - line.discount / 100) : gross - line.discount;
}

/**
 * Won deal -> QAD sales order, or the reason it cannot be one. The order's value must equal the
 * deal's value to the cent, computed as Pipedrive computes `sum`; a mismatch is a failure with
 * both figures, never an order.
 */
export function mapDealToOrder(
  deal: WonDeal,
  ctx: {
    customerCode: string | undefined;
    /** The tenant's customer PO prefix (poPrefixOf). */
    poPrefix: string;
    partOf: ReadonlyMap<number, string>;
    defaults: OrderDefaults;
    dueDateField?: string;
    fields?: MappedOrderValues;
  },
): OrderMapping {
  if (!ctx.customerCode)
    return {
      ok: false,
      reason: deal.orgId === null ? 'the deal has no organization' : `organization ${deal.orgId} is not linked to a QAD customer`,
      advice: deal.orgId === null ? ADVICE.noOrganization : ADVICE.organizationNotInQad,
    };
  const enabled = deal.lines.filter((l) => l.is_enabled);
  const due = ctx.fields?.dueDate ?? (ctx.dueDateField === undefined ? undefined : deal.customFields[ctx.dueDateField]);
  const remarks = ctx.fields?.remarks?.slice(0, 255);
  if (due !== undefined && due !== null && (typeof due !== 'string' || !/^\d{4}-\d{2}-\d{2}$/u.test(due)))
    return { ok: false, reason: `the requested ship date ${JSON.stringify(due)} is not a date`, advice: ADVICE.badShipDate };
  const base = {
    so_cust: ctx.customerCode,
    so_po: customerPo(ctx.poPrefix, deal.id),
    so_ord_date: deal.wonTime.slice(0, 10),
    so_curr: deal.currency,
    so_site: ctx.fields?.site ?? ctx.defaults.site,
    ...(typeof due === 'string' && { so_due_date: due }),
    ...(remarks && { so_rmks: remarks }),
  };
  if (enabled.length === 0) {
    if (ctx.defaults.noLines.kind === 'reject') return { ok: false, reason: 'the deal has no product lines', advice: ADVICE.noLines };
    return {
      ok: true,
      value: deal.value,
      order: {
        ...base,
        lines: [{ sod_line: 1, sod_part: ctx.defaults.noLines.part, sod_qty_ord: 1, sod_price: deal.value, sod_disc_pct: 0 }],
      },
    };
  }
  const unmapped = enabled.filter((l) => !ctx.partOf.has(l.product_id));
  if (unmapped.length > 0)
    return {
      ok: false,
      reason: `product ${[...new Set(unmapped.map((l) => l.product_id))].join(', ')} has no QAD item`,
      advice: ADVICE.productsNotInQad(unmapped.map((l) => l.name ?? `#${l.product_id}`)),
    };

  const lines: SalesOrderLine[] = [];
  let total = 0;
  for (const [i, l] of enabled.entries()) {
    // QAD orders carry net prices and apply the tenant's own taxes: a tax Pipedrive adds would make the order
    // less than the deal, or taxed twice. Such a deal is for a person (docs/how-it-works.md, "Taxes").
    if (l.tax_method === 'exclusive' && l.tax !== 0)
      return {
        ok: false,
        reason:
          `line ${i + 1} carries ${l.tax} % exclusive tax: the QAD order would be ${toMoney(lineNet(l)).toFixed(2)} net for ` +
          `${toMoney(l.sum).toFixed(2)} ${deal.currency} in the deal, and QAD applies its own taxes; ` +
          'enter the line without exclusive tax (QAD adds the tax) or order the deal by hand',
        advice: ADVICE.exclusiveTax(i + 1),
      };
    const ours = pipedriveLineSum(l);
    if (cents(ours) !== cents(l.sum))
      return {
        ok: false,
        reason: `line ${i + 1}: Pipedrive's sum ${l.sum} differs from quantity, price, discount and tax (${ours})`,
        advice: ADVICE.linesDoNotAddUp,
      };
    const gross = l.item_price * l.quantity;
    const discPct = l.discount_type === 'percentage' ? l.discount : gross === 0 ? 0 : (l.discount / gross) * 100;
    const line = {
      sod_line: i + 1,
      sod_part: ctx.partOf.get(l.product_id)!,
      sod_qty_ord: l.quantity,
      sod_price: l.item_price,
      sod_disc_pct: Math.round(discPct * 10_000) / 10_000,
    };
    // QAD computes the line from quantity, price and discount percent: it must land on Pipedrive's net to the cent.
    const qadNet = line.sod_qty_ord * line.sod_price * (1 - line.sod_disc_pct / 100);
    if (cents(qadNet) !== cents(lineNet(l)))
      return {
        ok: false,
        reason:
          `line ${i + 1}: QAD would compute ${toMoney(qadNet).toFixed(2)} from the discount as a percentage, ` +
          `Pipedrive ${toMoney(lineNet(l)).toFixed(2)}`,
        advice: ADVICE.linesDoNotAddUp,
      };
    lines.push(line);
    total += ours;
  }
  if (cents(total) !== cents(deal.value))
    return {
      ok: false,
      reason: `order value ${(cents(total) / 100).toFixed(2)} does not match the deal value ${deal.value.toFixed(2)} ${deal.currency}`,
      advice: ADVICE.linesDoNotAddUp,
    };
  return { ok: true, value: cents(total) / 100, order: { ...base, lines } };
}

/** What, once ordered, must not change without a person: value, currency, organization and lines. */
export function dealContentHash(deal: WonDeal): string {
  return contentHash({
    value: deal.value,
    currency: deal.currency,
    orgId: deal.orgId,
    lines: deal.lines.map((l) => [l.product_id, l.quantity, l.item_price, l.discount, l.discount_type, l.tax, l.tax_method, l.is_enabled]),
  });
}
