/**
 * Public types of the QAD simulator (see index.ts for the server).
 * Field names follow QAD's `table.field` convention as served by the browse API.
 */

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
  /** Paths listed by GET {base}/api/swagger.json; default DEFAULT_SWAGGER_PATHS. */
  swaggerPaths?: SwaggerPaths;
}

export interface QadSimOptions {
  tenants: QadSimTenantSpec[];
  tokenTtlSeconds?: number; // default 3600
  maxPageSize?: number; // default 1000
  today?: () => string; // YYYY-MM-DD, default the UTC date
  /** Clock for token expiry, epoch milliseconds; default Date.now. */
  now?: () => number;
}

export type FaultAction =
  | { status: number; body?: string; headers?: Record<string, string> }
  | { kind: 'reset' }
  | { kind: 'delay'; ms: number };

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
