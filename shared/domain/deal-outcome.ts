import * as z from 'zod';
import { contentHash } from './content-hash.ts';

/**
 * What the salesperson who won a deal sees of its order, on the deal itself: why it made no order (a note,
 * once per distinct reason, and the status field), and later the order's life in QAD (status, confirmed ship
 * date, shipped quantities, invoice). Pure: the flows decide when to write it.
 */

/** A QAD validation error as the client passes it on (`submitResult.errors[]`). */
export const qadSubmitErrorSchema = z.looseObject({
  fieldName: z.string().optional(),
  message: z.string(),
  fieldValue: z.string().optional(),
  code: z.string().optional(),
});
export type QadSubmitError = z.infer<typeof qadSubmitErrorSchema>;

const ASK = 'ask the order desk';

/**
 * QAD's refusal of an order in a salesperson's words: an unknown item is a product missing from QAD's catalogue,
 * an unknown customer or a currency the customer may not use are the order desk's to fix; anything else is quoted.
 */
export function adviceForQadErrors(errors: readonly QadSubmitError[], fallback: string): string {
  if (errors.length === 0) return `QAD refused the order (${fallback}): ${ASK}`;
  const parts = new Set<string>();
  const items = errors.filter((e) => e.code === 'UNKNOWN_ITEM').map((e) => e.fieldValue ?? '?');
  if (items.length > 0) parts.add(`${plural('product', items)} ${[...new Set(items)].join(', ')} ${isAre(items)} not in QAD's catalogue`);
  for (const e of errors) {
    if (e.code === 'UNKNOWN_ITEM') continue;
    if (e.code === 'UNKNOWN_CUSTOMER') parts.add(`the customer ${e.fieldValue ?? ''} does not exist in QAD`.replace('  ', ' '));
    else if (e.code === 'CURRENCY_NOT_ALLOWED') parts.add(`QAD does not take ${e.fieldValue ?? 'this currency'} from this customer`);
    else parts.add(`QAD refused the order (${e.fieldName ? `${e.fieldName}: ` : ''}${e.message})`);
  }
  return `${[...parts].join('; ')}: ${ASK}`;
}

const plural = (word: string, list: readonly unknown[]) => (new Set(list).size > 1 ? `${word}s` : word);
const isAre = (list: readonly unknown[]) => (new Set(list).size > 1 ? 'are' : 'is');

/** The connector's own reasons for not ordering a deal, in a salesperson's words (see mapDealToOrder). */
export const ADVICE = {
  noOrganization: "the deal has no organization: link the customer's organization to the deal",
  organizationNotInQad: `the deal's organization is not a QAD customer yet: ${ASK} to link it`,
  noLines: 'the deal has no products: add what was sold as product lines',
  productsNotInQad: (names: readonly string[]) =>
    `${plural('product', names)} ${[...new Set(names)].join(', ')} ${isAre(names)} not in QAD's catalogue: ${ASK}`,
  badShipDate: 'the requested ship date is not a date: correct it on the deal',
  exclusiveTax: (line: number) => `line ${line} adds tax on top of its price: enter it without tax (QAD adds its own)`,
  linesDoNotAddUp: "the deal's value does not add up from its product lines: check their prices, quantities and discounts",
  changedAfterOrder: (order: string) =>
    `the deal changed after QAD order ${order} was made; the order was not changed: ${ASK} to change it in QAD`,
} as const;

/** The note's fingerprint: one note per distinct reason, however often the deal is retried or polled. */
export const adviceHash = (advice: string): string => contentHash({ note: advice });

/**
 * The key-map mark of a note about to be sent (`noted`), with when: if its answer is lost, the POST may still be
 * carried out late, so a retry looks for the note only once that has surely happened or never will.
 */
export const pendingNoteMark = (hash: string, at: string): string => `pending:${hash}@${at}`;

/**
 * Whether a note with this fingerprint was sent without a known outcome, and since when (its latest mark). An older
 * release's mark carries no time (`pending:<hash>`), nor does one whose time does not read: `since` is undefined.
 */
export function pendingNote(noted: readonly string[], hash: string): { since?: string } | undefined {
  const untimed = `pending:${hash}`;
  let latest: { since?: string } | undefined;
  for (const mark of noted) {
    if (mark === untimed) latest ??= {};
    if (!mark.startsWith(`${untimed}@`)) continue;
    const since = mark.slice(untimed.length + 1);
    const at = Date.parse(since);
    if (Number.isNaN(at)) latest ??= {};
    else if (latest?.since === undefined || at > Date.parse(latest.since)) latest = { since };
  }
  return latest;
}

/** Pipedrive notes are HTML: the advice is text (quotes need no escaping outside attributes). */
function escapeHtml(text: string): string {
  return text.replace(/[&<>]/gu, (c) => `&#${c.charCodeAt(0)};`);
}

/** Whether a note's content (as Pipedrive keeps it) says this advice: a note whose answer was lost is found by it. */
export const noteSays = (content: string, advice: string): boolean => content.includes(escapeHtml(advice));

/** The note on a deal that made no order: what happened, why, and that the connector looks again by itself. */
export function rejectionNote(advice: string, recheckMinutes: number): string {
  return (
    `<p><b>No QAD sales order was made from this won deal.</b></p><p>Why: ${escapeHtml(advice)}.</p>` +
    `<p>Once that is fixed, the order is made by itself (the deal is looked at again every ${recheckMinutes} minutes).</p>`
  );
}

/** The note on a deal whose order QAD already has, when the deal changed afterwards. */
export function conflictNote(advice: string): string {
  return `<p><b>This change did not reach QAD.</b></p><p>Why: ${escapeHtml(advice)}.</p>`;
}

/** A text field holds at most 255 characters (varchar). */
const fieldText = (text: string): string => (text.length <= 255 ? text : `${text.slice(0, 254)}…`);

export const rejectedStatus = (advice: string): string => fieldText(`Rejected: ${advice}`);
export const orderedStatus = (orderNumber: string): string => `Ordered ${orderNumber}`;

/**
 * One sales order as the order-status browse returns it, one row per line (`so_mstr` joined with `sod_det`).
 * No modification date exists on so_mstr (reference/qad.md): changes are found by content hash.
 */
const dateOrNull = z
  .string()
  .nullish()
  .transform((v) => (v ? v : null))
  .refine((v) => v === null || /^\d{4}-\d{2}-\d{2}$/u.test(v), 'must be a YYYY-MM-DD date');
const text = z
  .string()
  .nullish()
  .transform((v) => v?.trim() ?? '');
const qty = z
  .number()
  .nullish()
  .transform((v) => v ?? 0);
export const orderStatusRowSchema = z.looseObject({
  'so_mstr.so_nbr': z.string().min(1),
  'so_mstr.so_po': text,
  'so_mstr.so_stat': text,
  'so_mstr.so_conf_date': dateOrNull,
  'so_mstr.so_inv_nbr': text,
  'so_mstr.so_invoiced': z
    .boolean()
    .nullish()
    .transform((v) => v ?? false),
  'sod_det.sod_line': z.number().int().nullish(),
  'sod_det.sod_qty_ord': qty,
  'sod_det.sod_qty_ship': qty,
});

/** What QAD says of one order now. `gone`: the order is no longer in QAD (deleted there). */
export interface OrderState {
  orderNumber: string;
  gone: boolean;
  /** so_stat: blank while open; the instance's codes for a hold or a cancellation. */
  statusCode: string;
  confirmedShipDate: string | null;
  ordered: number;
  shipped: number;
  invoiceNumber: string;
  invoicePosted: boolean;
}

/** Rows of the order-status browse grouped into orders; a row that does not parse is named with its reason. */
export function ordersFromRows(rows: readonly unknown[]): { orders: Map<string, OrderState>; bad: Array<{ key: string; reason: string }> } {
  const orders = new Map<string, OrderState>();
  const bad: Array<{ key: string; reason: string }> = [];
  for (const [i, row] of rows.entries()) {
    const parsed = orderStatusRowSchema.safeParse(row);
    if (!parsed.success) {
      const key = (row as Record<string, unknown> | null)?.['so_mstr.so_nbr'];
      const issue = parsed.error.issues[0];
      bad.push({ key: typeof key === 'string' ? key : `_row:${i}`, reason: `${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}` });
      continue;
    }
    const r = parsed.data;
    const nbr = r['so_mstr.so_nbr'];
    const order = orders.get(nbr) ?? {
      orderNumber: nbr,
      gone: false,
      statusCode: r['so_mstr.so_stat'],
      confirmedShipDate: r['so_mstr.so_conf_date'],
      ordered: 0,
      shipped: 0,
      invoiceNumber: r['so_mstr.so_inv_nbr'],
      invoicePosted: r['so_mstr.so_invoiced'],
    };
    order.ordered += r['sod_det.sod_qty_ord'];
    order.shipped += r['sod_det.sod_qty_ship'];
    orders.set(nbr, order);
  }
  // An order with an unreadable line is not told by half: its status waits until every line reads.
  for (const b of bad) orders.delete(b.key);
  return { orders, bad };
}

/** A freshly made order as its writer knows it: open, nothing shipped, no invoice (the poll's first look agrees). */
export const newOrderState = (orderNumber: string): OrderState => ({
  orderNumber,
  gone: false,
  statusCode: '',
  confirmedShipDate: null,
  ordered: 0,
  shipped: 0,
  invoiceNumber: '',
  invoicePosted: false,
});

export const goneOrderState = (orderNumber: string): OrderState => ({ ...newOrderState(orderNumber), gone: true });

/** Which so_stat codes mean what on this instance (tenant config `qad.orderStatus`). */
export interface StatusCodes {
  cancelled: readonly string[];
  onHold: readonly string[];
}

/** The order's life in a few words, for the status field. An open order with nothing shipped reads as its writer wrote it. */
export function statusText(o: OrderState, codes: StatusCodes): string {
  const code = o.statusCode.toUpperCase();
  if (o.gone) return `Cancelled: order ${o.orderNumber} was deleted in QAD`;
  if (codes.cancelled.includes(code)) return `Cancelled in QAD (order ${o.orderNumber})`;
  if (o.invoicePosted) return `Invoiced (order ${o.orderNumber})`;
  if (codes.onHold.includes(code)) return `On hold in QAD (order ${o.orderNumber}, status ${code})`;
  if (o.ordered > 0 && o.shipped >= o.ordered) return `Shipped (order ${o.orderNumber})`;
  if (o.shipped > 0) return `Partly shipped (order ${o.orderNumber})`;
  return orderedStatus(o.orderNumber);
}

/** One mapped value of the order's life (mapping.fields.orderStatus). */
export function orderStatusValue(o: OrderState, source: 'status' | 'shipDate' | 'shipped' | 'invoice', codes: StatusCodes): string | null {
  switch (source) {
    case 'status':
      return statusText(o, codes);
    case 'shipDate':
      return o.confirmedShipDate;
    case 'shipped':
      return o.shipped > 0 ? `${o.shipped} of ${o.ordered}` : null;
    case 'invoice':
      return o.invoiceNumber ? `${o.invoiceNumber} (${o.invoicePosted ? 'posted' : 'not posted yet'})` : null;
  }
}
