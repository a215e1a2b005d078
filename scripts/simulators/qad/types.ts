/**
 * Public types of the QAD simulator (see index.ts for the server).
 * Field names follow QAD's `table.field` convention as served by the browse API.
 */
import type { Latency } from '../latency.ts';

/** One row of the customer browse (`urn:browse:mfg:customers`); keys are QAD `table.field` names. */
export interface QadCustomerRow {
  'cm_mstr.cm_addr': string; // customer code (the stable key)
  'cm_mstr.cm_curr': string; // currency, e.g. EUR
  'cm_mstr.cm_cr_terms': string;
  'cm_mstr.cm_site': string;
  'cm_mstr.cm_cr_limit': number;
  'cm_mstr.cm_domain': string;
  'cm_mstr.cm_mod_date': string; // YYYY-MM-DD: a DATE, not a timestamp
  'ad_mstr.ad_name': string;
  'ad_mstr.ad_line1': string;
  'ad_mstr.ad_line2': string;
  'ad_mstr.ad_line3': string;
  'ad_mstr.ad_city': string;
  'ad_mstr.ad_state': string;
  'ad_mstr.ad_zip': string;
  'ad_mstr.ad_country': string;
  'ad_mstr.ad_phone': string;
  'ad_mstr.ad_email': string;
  'ad_mstr.ad_mod_date': string; // YYYY-MM-DD
  /** Sales region (`cm_region`); absent on instances that do not use it. */
  'cm_mstr.cm_region'?: string;
  /** User field 1: set by `PUT /api/erp/customerV2s/{code}` (e.g. the Pipedrive organization id); absent until set. */
  'cm_mstr.cm_user1'?: string;
}

/** Every column of the customer browse, in QAD order. */
export const QAD_CUSTOMER_COLUMNS = [
  'cm_mstr.cm_addr',
  'cm_mstr.cm_curr',
  'cm_mstr.cm_cr_terms',
  'cm_mstr.cm_site',
  'cm_mstr.cm_cr_limit',
  'cm_mstr.cm_domain',
  'cm_mstr.cm_mod_date',
  'cm_mstr.cm_region',
  'ad_mstr.ad_name',
  'ad_mstr.ad_line1',
  'ad_mstr.ad_line2',
  'ad_mstr.ad_line3',
  'ad_mstr.ad_city',
  'ad_mstr.ad_state',
  'ad_mstr.ad_zip',
  'ad_mstr.ad_country',
  'ad_mstr.ad_phone',
  'ad_mstr.ad_email',
  'ad_mstr.ad_mod_date',
] as const satisfies ReadonlyArray<keyof QadCustomerRow>;

/** One row of the contact browse (`urn:browse:mfg:customer-contacts`). */
export interface QadContactRow {
  'ct_mstr.ct_id': string; // stable contact id
  'ct_mstr.ct_cust': string; // customer code (cm_addr); changes when the contact moves
  'ct_mstr.ct_name': string;
  'ct_mstr.ct_email': string; // '' when none
  'ct_mstr.ct_phone': string; // '' when none
  'ct_mstr.ct_title': string; // function / job title
  'ct_mstr.ct_primary': boolean;
  'ct_mstr.ct_active': boolean;
  'ct_mstr.ct_mod_date': string; // YYYY-MM-DD
}

export const QAD_CONTACT_COLUMNS = [
  'ct_mstr.ct_id',
  'ct_mstr.ct_cust',
  'ct_mstr.ct_name',
  'ct_mstr.ct_email',
  'ct_mstr.ct_phone',
  'ct_mstr.ct_title',
  'ct_mstr.ct_primary',
  'ct_mstr.ct_active',
  'ct_mstr.ct_mod_date',
] as const satisfies ReadonlyArray<keyof QadContactRow>;

/** One row of the item browse (`urn:browse:mfg:items`). */
export interface QadItemRow {
  'pt_mstr.pt_part': string;
  'pt_mstr.pt_desc1': string;
  'pt_mstr.pt_desc2': string;
  'pt_mstr.pt_um': string; // unit of measure, e.g. EA
  'pt_mstr.pt_prod_line': string;
  'pt_mstr.pt_status': string;
  'pt_mstr.pt_price': number; // base list price
  'pt_mstr.pt_mod_date': string; // YYYY-MM-DD
}

export const QAD_ITEM_COLUMNS = [
  'pt_mstr.pt_part',
  'pt_mstr.pt_desc1',
  'pt_mstr.pt_desc2',
  'pt_mstr.pt_um',
  'pt_mstr.pt_prod_line',
  'pt_mstr.pt_status',
  'pt_mstr.pt_price',
  'pt_mstr.pt_mod_date',
] as const satisfies ReadonlyArray<keyof QadItemRow>;

/** One row of the price-list browse (`urn:browse:mfg:price-lists`): one price per list, item and currency. */
export interface QadPriceRow {
  'pi_mstr.pi_list': string;
  'pi_mstr.pi_part_code': string;
  'pi_mstr.pi_curr': string;
  'pi_mstr.pi_list_price': number;
  'pi_mstr.pi_mod_date': string; // YYYY-MM-DD
}

export const QAD_PRICE_COLUMNS = [
  'pi_mstr.pi_list',
  'pi_mstr.pi_part_code',
  'pi_mstr.pi_curr',
  'pi_mstr.pi_list_price',
  'pi_mstr.pi_mod_date',
] as const satisfies ReadonlyArray<keyof QadPriceRow>;

/** A sales order line (`sod_det`) as stored and returned by the simulator. */
export interface QadSalesOrderLine {
  sod_line: number;
  sod_part: string;
  sod_qty_ord: number;
  sod_price: number;
  sod_list_pr: number; // the item's pt_price at order time
  sod_disc_pct: number;
  sod_um: string;
  sod_site: string;
  sod_due_date: string;
  /** Shipped so far (0 at entry). */
  sod_qty_ship: number;
}

/** A sales order (`so_mstr` with its lines) as stored and returned by `salesOrderHeaders`. */
export interface QadSalesOrder {
  so_nbr: string; // generated
  so_cust: string;
  so_bill: string;
  so_ship: string;
  so_ord_date: string;
  so_due_date: string;
  so_po: string;
  so_curr: string;
  so_site: string;
  so_domain: string;
  /** Remarks (free text), e.g. the customer's own PO text; absent when not sent. */
  so_rmks?: string;
  /** Order status code: blank while open; the instance's codes for a hold (HD) or a cancellation (X). */
  so_stat: string;
  /** The confirmed ship date, once the order desk confirms one (null until then). */
  so_conf_date: string | null;
  /** The invoice number once invoiced (blank until then), and whether the invoice is posted. */
  so_inv_nbr: string;
  so_invoiced: boolean;
  lines: QadSalesOrderLine[];
}

/** What happens to an order in QAD after it was entered (a test's or the local run's order desk). */
export interface SalesOrderChange {
  so_stat?: string;
  so_conf_date?: string | null;
  so_inv_nbr?: string;
  so_invoiced?: boolean;
  /** Shipped quantity per line number. */
  shipped?: Record<number, number>;
}

export type HttpVerb = 'get' | 'put' | 'post' | 'patch' | 'delete';

/** The entity paths an instance's Swagger document lists, with their verbs. */
export type SwaggerPaths = Record<string, readonly HttpVerb[]>;

export interface QadSimTenantSpec {
  basePath: string; // e.g. '/acme/clouderp'
  clientId: string;
  username: string;
  password: string;
  workspaceId: string; // e.g. '10USA_10USACO'; requests must send header x-qad-workspace-id with it
  customers?: QadCustomerRow[];
  /** Paths listed by GET {base}/api/swagger.json; default exactly the paths and verbs the simulator serves. */
  swaggerPaths?: SwaggerPaths;
  contacts?: QadContactRow[];
  items?: QadItemRow[];
  prices?: QadPriceRow[];
  /** Currencies every customer may order in, on top of its own cm_curr (default none). */
  orderCurrencies?: readonly string[];
}

export interface QadSimOptions {
  tenants: QadSimTenantSpec[];
  tokenTtlSeconds?: number; // default 3600
  maxPageSize?: number; // default 1000
  today?: () => string; // YYYY-MM-DD, default the UTC date
  /** Clock for token expiry, epoch milliseconds; default Date.now. */
  now?: () => number;
  /** Answer time of every request (default none: at once). */
  latency?: Latency;
}

export type FaultAction =
  | { status: number; body?: string; headers?: Record<string, string> }
  | { kind: 'reset' }
  | { kind: 'delay'; ms: number }
  /** The request is carried out, then the connection drops before the answer (a crash or timeout after the write). */
  | { kind: 'lose-response' };

export interface FaultRequest {
  method: string;
  /** Path relative to the tenant base, without query, e.g. '/api/qracore/browses'. */
  path: string;
  /** The tenant's base path, or '' when no tenant matched. */
  basePath: string;
}

export type FaultHook = (req: FaultRequest) => FaultAction | undefined;

export interface QadSimTenant {
  baseUrl: string; // full URL, e.g. http://127.0.0.1:PORT/acme/clouderp
  basePath: string;
  workspaceId: string;
  /** Creates or merges a customer; sets both mod dates to today. */
  upsertCustomer(row: Partial<QadCustomerRow> & { 'cm_mstr.cm_addr': string }): void;
  /** Removes a customer (not a raw row); true when it existed. */
  removeCustomer(code: string): boolean;
  /** Copies of the customers, sorted by code (raw rows not included). */
  customers(): QadCustomerRow[];
  /** For bad-input tests: served as-is in the browse (any shape). */
  putRawCustomerRow(row: Record<string, unknown>): void;
  /** Replaces the paths the Swagger document lists. */
  setSwaggerPaths(paths: SwaggerPaths): void;
  /** Creates or merges a contact by ct_id; sets its mod date to today (a move = a new ct_cust). */
  upsertContact(row: Partial<QadContactRow> & { 'ct_mstr.ct_id': string }): void;
  /** Removes a contact; true when it existed. */
  removeContact(id: string): boolean;
  /** Copies of the contacts, sorted by ct_id. */
  contacts(): QadContactRow[];
  /** Creates or merges an item by pt_part; sets its mod date to today. */
  upsertItem(row: Partial<QadItemRow> & { 'pt_mstr.pt_part': string }): void;
  /** Copies of the items, sorted by part. */
  items(): QadItemRow[];
  /** Sets the price of (list, part, currency); the row's mod date becomes today when it is new or the price changes. */
  setPrice(list: string, part: string, currency: string, price: number): void;
  /** Copies of the price rows, sorted by list, part, currency. */
  prices(): QadPriceRow[];
  /** Copies of the sales orders created so far, sorted by so_nbr. */
  salesOrders(): QadSalesOrder[];
  /** The order desk at work: status, confirmed ship date, shipments, invoice. Throws for an unknown order. */
  changeSalesOrder(nbr: string, change: SalesOrderChange): void;
  /** Deletes an order (as a person may in QAD); true when it existed. */
  removeSalesOrder(nbr: string): boolean;
}

export interface QadSimStats {
  calls: number;
  byEndpoint: Record<string, number>;
}

export interface QadSim {
  url: string;
  tenant(basePath: string): QadSimTenant;
  /** Keys like "POST /oauth/token", "GET /api/qracore/browses" (path relative to the tenant base). */
  stats(): QadSimStats;
  resetStats(): void;
  /** Every issued access token becomes invalid (next call gets 401). */
  expireSessions(): void;
  setFault(fn: FaultHook | undefined): void;
  close(): Promise<void>;
}
