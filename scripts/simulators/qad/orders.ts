/**
 * Sales orders of one tenant (`so_mstr` + `sod_det`) and the business-document routes:
 * `POST/GET {base}/api/erp/salesOrderHeaders` and `PUT {base}/api/erp/customerV2s/{code}`.
 */
import type { SalesOrder, SalesOrderLine } from '../../../shared/domain/sales-order.ts';
import { parseBrowseQuery, runBrowse, type BrowseDefinition } from './browse.ts';
import { matchPath, parseJsonObject, qadError, validationError, type ValidationErrorItem } from './http.ts';
import type { TenantState } from './tenant.ts';
import { QAD_CUSTOMER_COLUMNS, type QadCustomerRow, type QadSalesOrder, type QadSalesOrderLine, type SalesOrderChange } from './types.ts';

export const SALES_ORDERS_PATH = '/api/erp/salesOrderHeaders';
export const CUSTOMER_DOCUMENT_PATH = '/api/erp/customerV2s/{code}';

/** Header fields filterable as `so_mstr.<field>` on `GET salesOrderHeaders`. */
export const QAD_SALES_ORDER_COLUMNS = [
  'so_mstr.so_nbr',
  'so_mstr.so_cust',
  'so_mstr.so_bill',
  'so_mstr.so_ship',
  'so_mstr.so_ord_date',
  'so_mstr.so_due_date',
  'so_mstr.so_po',
  'so_mstr.so_curr',
  'so_mstr.so_site',
  'so_mstr.so_domain',
] as const;

export const SALES_ORDER_LINES_BROWSE_ID = 'urn:browse:mfg:sales-order-lines';

/** Fields that may be filtered on in the order-line browse. */
export const QAD_SALES_ORDER_LINE_COLUMNS = [
  'so_mstr.so_nbr',
  'so_mstr.so_po',
  'so_mstr.so_cust',
  'so_mstr.so_ord_date',
  'so_mstr.so_stat',
  'sod_det.sod_part',
] as const;

export class SalesOrderStore {
  private readonly orders: QadSalesOrder[] = [];
  private next = 1;

  add(order: Omit<QadSalesOrder, 'so_nbr'>): QadSalesOrder {
    const stored: QadSalesOrder = { so_nbr: `S${String(this.next).padStart(7, '0')}`, ...structuredClone(order) };
    this.next += 1;
    this.orders.push(stored);
    return structuredClone(stored);
  }

  list(): QadSalesOrder[] {
    return this.orders.map((o) => structuredClone(o)); // so_nbr ascending by construction
  }

  /** A browse-like view of the headers (keyed `so_mstr.*`), used for filtering and paging. */
  headerBrowse(): BrowseDefinition {
    return {
      id: 'salesOrderHeaders',
      columns: QAD_SALES_ORDER_COLUMNS,
      keyField: 'so_mstr.so_nbr',
      rows: () =>
        this.orders.map((o) => {
          const row: Record<string, unknown> = {};
          for (const [k, v] of Object.entries(o)) if (k !== 'lines') row[`so_mstr.${k}`] = v;
          return row;
        }),
    };
  }

  /**
   * `urn:browse:mfg:sales-order-lines`: one row per order line, the header's fields beside the line's
   * (so_mstr joined with sod_det, as QAD browses join tables), sorted by order number.
   */
  linesBrowse(): BrowseDefinition {
    return {
      id: SALES_ORDER_LINES_BROWSE_ID,
      columns: QAD_SALES_ORDER_LINE_COLUMNS,
      keyField: 'so_mstr.so_nbr',
      rows: () =>
        this.orders.flatMap((o) =>
          o.lines.map((l) => ({
            'so_mstr.so_nbr': o.so_nbr,
            'so_mstr.so_po': o.so_po,
            'so_mstr.so_cust': o.so_cust,
            'so_mstr.so_ord_date': o.so_ord_date,
            'so_mstr.so_stat': o.so_stat,
            'so_mstr.so_conf_date': o.so_conf_date,
            'so_mstr.so_inv_nbr': o.so_inv_nbr,
            'so_mstr.so_invoiced': o.so_invoiced,
            'sod_det.sod_line': l.sod_line,
            'sod_det.sod_part': l.sod_part,
            'sod_det.sod_qty_ord': l.sod_qty_ord,
            'sod_det.sod_qty_ship': l.sod_qty_ship,
          })),
        ),
    };
  }

  change(nbr: string, change: SalesOrderChange): void {
    const order = this.orders.find((o) => o.so_nbr === nbr);
    if (order === undefined) throw new Error(`QAD sim: no sales order ${nbr}`);
    const { shipped, ...header } = change;
    Object.assign(order, header);
    for (const [line, qty] of Object.entries(shipped ?? {})) {
      const l = order.lines.find((x) => x.sod_line === Number(line));
      if (l === undefined) throw new Error(`QAD sim: order ${nbr} has no line ${line}`);
      l.sod_qty_ship = qty;
    }
  }

  remove(nbr: string): boolean {
    const i = this.orders.findIndex((o) => o.so_nbr === nbr);
    if (i < 0) return false;
    this.orders.splice(i, 1);
    return true;
  }

  byNumber(nbr: string): QadSalesOrder | undefined {
    const o = this.orders.find((x) => x.so_nbr === nbr);
    return o === undefined ? undefined : structuredClone(o);
  }
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;

function isDate(v: unknown): v is string {
  return (
    typeof v === 'string' &&
    DATE.test(v) &&
    !Number.isNaN(new Date(`${v}T00:00:00Z`).getTime()) &&
    new Date(`${v}T00:00:00Z`).toISOString().startsWith(v)
  );
}

function show(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === undefined) return '';
  return JSON.stringify(v) ?? '';
}

/** A line as the request may send it: the domain's line plus its own due date. */
type ParsedLine = SalesOrderLine & { sod_due_date?: string };

/** The order as the connector sends it (the domain's shape), with its lines as parsed. */
type ParsedOrder = Omit<SalesOrder, 'lines'> & { lines: ParsedLine[] };

/** Checks the request's shape; returns the order or the validation errors. */
function parseOrder(body: Record<string, unknown>): ParsedOrder | ValidationErrorItem[] {
  const errors: ValidationErrorItem[] = [];
  const err = (fieldName: string, message: string, value: unknown, code: string): void => {
    errors.push({ fieldName, message, fieldValue: show(value), code });
  };
  const reqString = (name: string): string => {
    const v = body[name];
    if (typeof v !== 'string' || v.trim() === '') {
      err(name, `${name} is required`, v, 'REQUIRED');
      return '';
    }
    return v;
  };
  const so_cust = reqString('so_cust');
  const so_po = reqString('so_po');
  const so_curr = reqString('so_curr');
  const so_site = reqString('so_site');
  const so_ord_date = body['so_ord_date'];
  if (!isDate(so_ord_date)) err('so_ord_date', 'so_ord_date must be a YYYY-MM-DD date', so_ord_date, 'INVALID_DATE');
  const so_rmks = body['so_rmks'];
  if (so_rmks !== undefined && so_rmks !== null && (typeof so_rmks !== 'string' || so_rmks.length > 255))
    err('so_rmks', 'so_rmks must be text of at most 255 characters', so_rmks, 'INVALID_STRING');
  const so_due_date = body['so_due_date'];
  if (so_due_date !== undefined && so_due_date !== null && !isDate(so_due_date)) {
    err('so_due_date', 'so_due_date must be a YYYY-MM-DD date', so_due_date, 'INVALID_DATE');
  }
  const rawLines = body['lines'];
  const lines: ParsedLine[] = [];
  if (!Array.isArray(rawLines) || rawLines.length === 0) {
    err('lines', 'An order needs at least one line', rawLines, 'REQUIRED');
  } else {
    const seen = new Set<number>();
    rawLines.forEach((raw: unknown, i: number) => {
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
        err('lines', `Line ${i + 1} must be an object`, raw, 'INVALID_LINE');
        return;
      }
      const l = raw as Record<string, unknown>;
      const num = (name: string, ok: (n: number) => boolean, rule: string): number => {
        const v = l[name];
        if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) {
          err(name, `Line ${i + 1}: ${name} must be ${rule}`, v, 'INVALID_NUMBER');
          return 0;
        }
        return v;
      };
      const sod_line = num('sod_line', (n) => Number.isInteger(n) && n > 0, 'a positive integer');
      if (sod_line > 0) {
        if (seen.has(sod_line)) err('sod_line', `Duplicate line number ${sod_line}`, sod_line, 'DUPLICATE_LINE');
        seen.add(sod_line);
      }
      const part = l['sod_part'];
      if (typeof part !== 'string' || part === '') err('sod_part', `Line ${i + 1}: sod_part is required`, part, 'REQUIRED');
      const line: ParsedLine = {
        sod_line,
        sod_part: typeof part === 'string' ? part : '',
        sod_qty_ord: num('sod_qty_ord', (n) => n > 0, 'greater than 0'),
        sod_price: num('sod_price', (n) => n >= 0, 'at least 0'),
        sod_disc_pct: num('sod_disc_pct', (n) => n >= 0 && n <= 100, 'between 0 and 100'),
      };
      const um = l['sod_um'];
      if (um !== undefined && um !== null) {
        if (typeof um !== 'string' || um === '') err('sod_um', `Line ${i + 1}: sod_um must be a non-empty string`, um, 'INVALID_UM');
        else line.sod_um = um;
      }
      const due = l['sod_due_date'];
      if (due !== undefined && due !== null) {
        if (!isDate(due)) err('sod_due_date', `Line ${i + 1}: sod_due_date must be a YYYY-MM-DD date`, due, 'INVALID_DATE');
        else line.sod_due_date = due;
      }
      lines.push(line);
    });
  }
  if (errors.length > 0) return errors;
  const order: ParsedOrder = { so_cust, so_po, so_ord_date: so_ord_date as string, so_curr, so_site, lines };
  if (typeof so_due_date === 'string') order.so_due_date = so_due_date;
  if (typeof so_rmks === 'string' && so_rmks !== '') order.so_rmks = so_rmks;
  return order;
}

function createOrder(t: TenantState, body: Record<string, unknown>): QadSalesOrder {
  const parsed = parseOrder(body);
  if (Array.isArray(parsed)) throw validationError(parsed, 422);
  const errors: ValidationErrorItem[] = [];
  const customer = t.customers.get(parsed.so_cust);
  if (customer === undefined) {
    errors.push({
      fieldName: 'so_cust',
      message: `Customer ${parsed.so_cust} does not exist`,
      fieldValue: parsed.so_cust,
      code: 'UNKNOWN_CUSTOMER',
    });
  } else {
    const allowed = new Set([customer['cm_mstr.cm_curr'], ...(t.spec.orderCurrencies ?? [])]);
    if (!allowed.has(parsed.so_curr)) {
      errors.push({
        fieldName: 'so_curr',
        message:
          `Currency ${parsed.so_curr} is not allowed for customer ${parsed.so_cust} ` +
          `(allowed: ${[...allowed].filter((c) => c !== '').join(', ')})`,
        fieldValue: parsed.so_curr,
        code: 'CURRENCY_NOT_ALLOWED',
      });
    }
  }
  for (const line of parsed.lines) {
    if (t.items.get(line.sod_part) === undefined) {
      errors.push({
        fieldName: 'sod_part',
        message: `Line ${line.sod_line}: item ${line.sod_part} does not exist`,
        fieldValue: line.sod_part,
        code: 'UNKNOWN_ITEM',
      });
    }
  }
  if (errors.length > 0 || customer === undefined) throw validationError(errors, 422);
  const dueDate = parsed.so_due_date ?? parsed.so_ord_date;
  const lines = parsed.lines.map((l): QadSalesOrderLine => {
    const item = t.items.get(l.sod_part);
    return {
      sod_line: l.sod_line,
      sod_part: l.sod_part,
      sod_qty_ord: l.sod_qty_ord,
      sod_price: l.sod_price,
      sod_list_pr: item?.['pt_mstr.pt_price'] ?? l.sod_price,
      sod_disc_pct: l.sod_disc_pct,
      sod_um: l.sod_um ?? item?.['pt_mstr.pt_um'] ?? 'EA',
      sod_site: parsed.so_site,
      sod_due_date: l.sod_due_date ?? dueDate,
      sod_qty_ship: 0,
    };
  });
  return t.orders.add({
    so_cust: parsed.so_cust,
    so_bill: parsed.so_cust,
    so_ship: parsed.so_cust,
    so_ord_date: parsed.so_ord_date,
    so_due_date: dueDate,
    so_po: parsed.so_po,
    so_curr: parsed.so_curr,
    so_site: parsed.so_site,
    so_domain: customer['cm_mstr.cm_domain'],
    ...(parsed.so_rmks !== undefined && { so_rmks: parsed.so_rmks }),
    so_stat: '',
    so_conf_date: null,
    so_inv_nbr: '',
    so_invoiced: false,
    lines,
  });
}

/** Customer fields a PUT may set: every column except the key, domain and mod dates, plus cm_user1. */
const WRITABLE_CUSTOMER_FIELDS: ReadonlyArray<keyof QadCustomerRow> = [
  ...QAD_CUSTOMER_COLUMNS.filter((c) => c !== 'cm_mstr.cm_addr' && c !== 'cm_mstr.cm_domain' && !c.endsWith('_mod_date')),
  'cm_mstr.cm_user1',
];

/** Accepts `cm_user1` or `cm_mstr.cm_user1` style keys; numbers are accepted for cm_user1 (stored as text). */
function customerPatch(body: Record<string, unknown>): Partial<QadCustomerRow> {
  const errors: ValidationErrorItem[] = [];
  const patch: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) {
    const field = WRITABLE_CUSTOMER_FIELDS.find((f) => f === key || f.slice(f.indexOf('.') + 1) === key);
    if (field === undefined) {
      errors.push({ fieldName: key, message: `Field ${key} cannot be updated`, fieldValue: show(value), code: 'UNKNOWN_FIELD' });
    } else if (field === 'cm_mstr.cm_cr_limit') {
      if (typeof value === 'number' && Number.isFinite(value) && value >= 0) patch[field] = value;
      else errors.push({ fieldName: key, message: `${key} must be a number >= 0`, fieldValue: show(value), code: 'INVALID_NUMBER' });
    } else if (typeof value === 'string') {
      patch[field] = value;
    } else if (field === 'cm_mstr.cm_user1' && typeof value === 'number' && Number.isFinite(value)) {
      patch[field] = String(value);
    } else {
      errors.push({ fieldName: key, message: `${key} must be a string`, fieldValue: show(value), code: 'INVALID_STRING' });
    }
  }
  if (errors.length > 0) throw validationError(errors, 422);
  return patch as Partial<QadCustomerRow>;
}

export function registerDocumentRoutes(t: TenantState): void {
  t.addRoute({
    method: 'POST',
    path: SALES_ORDERS_PATH,
    access: 'workspace',
    handle: (ctx) => ({ status: 200, body: createOrder(ctx.tenant, parseJsonObject(ctx.body)) }),
  });

  t.addRoute({
    method: 'GET',
    path: SALES_ORDERS_PATH,
    access: 'workspace',
    handle: (ctx) => {
      const def = ctx.tenant.orders.headerBrowse();
      const q = parseBrowseQuery(ctx.query, def, ctx.tenant.runtime.maxPageSize);
      const page = runBrowse(def, q);
      const data = page.data.flatMap((row) => {
        const nbr = row['so_mstr.so_nbr'];
        const order = typeof nbr === 'string' ? ctx.tenant.orders.byNumber(nbr) : undefined;
        return order === undefined ? [] : [order];
      });
      return { status: 200, body: { data, auxillaryData: page.auxillaryData } };
    },
  });

  t.addRoute({
    method: 'PUT',
    path: CUSTOMER_DOCUMENT_PATH,
    access: 'workspace',
    handle: (ctx) => {
      const code = matchPath(CUSTOMER_DOCUMENT_PATH, ctx.path)?.['code'] ?? '';
      const patch = customerPatch(parseJsonObject(ctx.body));
      const row = ctx.tenant.customers.update(code, patch);
      if (row === undefined) throw qadError(404, `Customer not found: ${code}`);
      return { status: 200, body: row };
    },
  });
}
