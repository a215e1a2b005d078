/**
 * A stateful simulator of Pipedrive's API v2 for tests and local runs: a node:http server on
 * 127.0.0.1 that validates requests against Pipedrive's own OpenAPI contract (openapi-extract.json),
 * keeps records, charges token costs and enforces burst and daily limits.
 *
 * Served: organizations and persons and products (list, get, create, patch, search), deals (list, get,
 * patch), deal products (per deal and bulk), the four *Fields collections (list, create), and v1 notes (add).
 * Other entities: add a definition in entities.ts and register it in ENTITY_DEFS / entityDefsFor.
 *
 * With `oauth`: POST /oauth/token (oauth.ts) and Bearer tokens, 401 once expired, OAuth burst limits.
 *
 * Per request: 1. count it  2. fault hook  3. auth (401)  4. route (404)  5. limits (429)
 * 6. validate params and body against the spec (400)  7. handle  8. charge tokens (2xx and 4xx).
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  DEFAULT_CURRENCIES,
  entityDefsFor,
  type DealStatus,
  type EntityDef,
  type EntityKind,
  type EntityOperation,
  type SimDeal,
  type SimOrganization,
  type SimPerson,
  type SimProduct,
} from './entities.ts';
import {
  DealLineStore,
  lineSum,
  listDealProducts,
  listDealsProducts,
  type SimDealLineInput,
  type SimDealProduct,
} from './deal-products.ts';
import {
  createField,
  createRecord,
  getRecord,
  listFields,
  listRecords,
  patchRecord,
  searchRecords,
  type EntityRuntime,
  type Envelope,
  type HandlerContext,
} from './handlers.ts';
import { MISSING_SCOPE_BODY, OVER_LIMIT_BODY, SimHttpError, UNAUTHORIZED_BODY } from './http.ts';
import { BURST_LIMIT, OAUTH_BURST_LIMIT, RateLimiter, dailyBudget, type PipedrivePlan } from './rate-limit.ts';
import { SimOAuth, type PipedriveOAuthOptions } from './oauth.ts';
import {
  matchRoute,
  responseProblem,
  scopeAllows,
  successStatus,
  tokenCost,
  validateBody,
  validateParams,
  type ParsedParams,
  type RouteMatch,
} from './spec.ts';
import { delayRequests, type Latency } from '../latency.ts';
import { EntityStore, FieldRegistry, type FieldOption, type StoredRecord } from './store.ts';
import { SimWebhooks } from './webhooks.ts';
import { NoteStore, V1_OPERATIONS, type SimNote } from './notes.ts';

export type { PipedrivePlan } from './rate-limit.ts';
export type { PipedriveOAuthOptions, OAuthStats } from './oauth.ts';
export type {
  SimOrganization,
  OrganizationAddress,
  EntityKind,
  SimPerson,
  PersonContact,
  SimProduct,
  ProductPrice,
  SimDeal,
  DealStatus,
} from './entities.ts';
export type { SimDealProduct, SimDealLineInput, DiscountType, TaxMethod } from './deal-products.ts';
export type { SimWebhooks, WebhookChaos, WebhookStats } from './webhooks.ts';
export type { SimNote } from './notes.ts';
export { lineSum } from './deal-products.ts';

export interface SeedContact {
  value: string;
  primary?: boolean;
  label?: string;
}

export interface SeedPerson {
  name: string;
  org_id?: number | null;
  emails?: SeedContact[];
  phones?: SeedContact[];
  job_title?: string;
  owner_id?: number;
  custom_fields?: Record<string, unknown>;
}

export interface SeedProductPrice {
  currency: string;
  price: number;
  cost?: number;
  direct_cost?: number | null;
}

export interface SeedProduct {
  name: string;
  code?: string;
  unit?: string;
  tax?: number;
  description?: string;
  is_deleted?: boolean;
  prices?: SeedProductPrice[];
  owner_id?: number;
  custom_fields?: Record<string, unknown>;
}

/** A deal change through the admin API (e.g. reopen: {status: 'open'}; win again: {status: 'won'}). */
export interface DealPatch {
  title?: string;
  value?: number;
  currency?: string;
  status?: DealStatus;
  /** RFC 3339; default on a change to won: now */
  won_time?: string | null;
  lost_time?: string | null;
  org_id?: number | null;
  person_id?: number | null;
  owner_id?: number;
  is_archived?: boolean;
  custom_fields?: Record<string, unknown>;
}

export interface SeedDeal extends DealPatch {
  title: string;
  /** default: the sum of the enabled lines, else 0 */
  value?: number;
  lines?: SimDealLineInput[];
}

export interface PipedriveSimOptions {
  /** the valid x-api-token */
  apiToken: string;
  /** default 'premium' */
  plan?: PipedrivePlan;
  /** default 1; daily budget = 30000 x multiplier x seats (lite 1, growth 2, premium 5, ultimate 7) */
  seats?: number;
  /** clock in ms, default Date.now (tests inject a fake clock) */
  now?: () => number;
  /** records created less than this long ago are not yet found by search (default 0) */
  searchLagMs?: number;
  /** overrides the computed daily token budget (to test exhaustion cheaply) */
  dailyTokenBudget?: number;
  /** the company's currencies (product prices and deals in others are a 400); default ['EUR', 'USD', 'GBP'] */
  currencies?: string[];
  /** serve OAuth2 (POST /oauth/token, Bearer tokens on the API) with the OAuth app's burst limits */
  oauth?: PipedriveOAuthOptions;
  /** the company's id (`company_id` of GET /v1/users/me and of webhook deliveries); default 7001 */
  companyId?: number;
  /** Answer time of every request (default none: at once). */
  latency?: Latency;
}

export interface EndpointStats {
  calls: number;
  tokens: number;
}

export interface PipedriveSimStats {
  /** every request received, including those answered 401, 429, 404 or by the fault hook */
  calls: number;
  /** tokens charged: served requests (2xx and 4xx other than 401/429) */
  tokens: number;
  status429: number;
  /** key "METHOD /api/v2/template", e.g. "PATCH /api/v2/organizations/{id}" (v1 notes: "POST /api/v1/notes") */
  byEndpoint: Record<string, EndpointStats>;
  /** responses by HTTP status ("200", "400", "429", ...); a reset fault counts as "reset" */
  byStatus: Record<string, number>;
}

/**
 * `lose-response`: the request is carried out, then the connection drops before the answer (a crash or timeout after
 * the write). `late`: the connection drops at once, and the request is carried out only once `after` settles (one the
 * server took on after the client gave up on it, as a timeout's is), deterministically.
 */
export type FaultAction =
  | { status: number; body?: string; headers?: Record<string, string> }
  | { kind: 'reset' }
  | { kind: 'delay'; ms: number }
  | { kind: 'lose-response' }
  | { kind: 'late'; after: Promise<unknown> };
export type FaultHook = (req: { method: string; path: string }) => FaultAction | undefined;

export interface SimCustomField {
  field_code: string;
  field_name: string;
  field_type: string;
  options: FieldOption[] | null;
}

export interface PipedriveSim {
  /** e.g. http://127.0.0.1:41234 (client calls `${url}/api/v2/organizations`) */
  url: string;
  close(): Promise<void>;
  stats(): PipedriveSimStats;
  resetStats(): void;
  /** consulted before normal handling; `path` is the URL path without the query */
  setFault(fn: FaultHook | undefined): void;
  /** adds an organization without token cost; it is searchable at once (pre-existing data) */
  seedOrganization(org: { name: string; address?: { value: string }; custom_fields?: Record<string, unknown> }): number;
  /** current state, for assertions and reports */
  organizations(): SimOrganization[];
  /** adds a person without token cost; searchable at once (pre-existing data) */
  seedPerson(person: SeedPerson): number;
  persons(): SimPerson[];
  /** adds a product without token cost; searchable at once */
  seedProduct(product: SeedProduct): number;
  products(): SimProduct[];
  /** adds a deal (and its product lines) without token cost */
  seedDeal(deal: SeedDeal): number;
  deals(): SimDeal[];
  /** every note added through `POST /api/v1/notes` */
  notes(): SimNote[];
  /** the product lines of a deal, as GET /deals/{id}/products returns them */
  dealProducts(dealId: number): SimDealProduct[];
  /** changes a deal without token cost (bumps update_time; status changes stamp won/lost times) */
  updateDeal(id: number, patch: DealPatch): void;
  /** adds a custom field without token cost; returns the 40-char hex field_code */
  addCustomField(entity: EntityKind, def: { field_name: string; field_type: string; options?: string[] }): string;
  customFields(entity: EntityKind): SimCustomField[];
  /** test hook: a person renames a custom field in Pipedrive (its code and values stay); throws when no field has that name */
  renameField(entity: EntityKind, name: string, newName: string): string;
  /** test hook: a person deletes a record; it answers 404 from then on (its persons keep their org_id, as they do) */
  deleteRecord(entity: EntityKind, id: number): void;
  /**
   * test hook: a person merges `id` into `survivorId` (Pipedrive's merge): the survivor keeps its values and takes
   * the custom field values it lacked, an organization's persons move to it, and `id` answers 410 from then on
   */
  mergeRecords(entity: EntityKind, id: number, survivorId: number): void;
  /** test hook: a person deletes a custom field; answers its former code */
  deleteField(entity: EntityKind, name: string): string;
  /** test hook: a person removes one option of an enum or set field */
  removeFieldOption(entity: EntityKind, name: string, label: string): void;
  /** test hook: a person adds an option to an enum or set field; answers its id */
  addFieldOption(entity: EntityKind, name: string, label: string): number;
  /** tokens spent today and the daily budget */
  dailyTokens(): { used: number; budget: number };
  /** changes the daily token budget from now on */
  setDailyTokenBudget(tokens: number): void;
  /** test hook: midnight UTC passes (a multi-day run without waiting for it): the tokens used today start again from 0 */
  startNewDay(): void;
  /** with the `oauth` option: authorisation codes, revocation, token expiry and refresh counts */
  oauth: SimOAuth | undefined;
  /** /v1/webhooks and the v2 deliveries of deal changes (chaos, stats, idle) */
  webhooks: SimWebhooks;
  /** The "METHOD /path" templates the simulator serves. */
  simulatedOperations(): string[];
  /** Every success answer so far whose status or body the spec does not document for its operation. */
  responseProblems(): string[];
}

type Handler = (args: { params: ParsedParams; body: Record<string, unknown>; ctx: HandlerContext }) => Envelope;

const ALL_OPERATIONS: readonly EntityOperation[] = ['list', 'get', 'create', 'patch', 'search'];

function routesFor<T extends object>(rt: EntityRuntime<T>): Array<[string, Handler]> {
  const c = `/${rt.def.collection}`;
  const f = `/${rt.def.fieldsCollection}`;
  const served = rt.def.operations ?? ALL_OPERATIONS;
  const records: Array<[EntityOperation, string, Handler]> = [
    ['list', `GET ${c}`, ({ params }) => listRecords(rt, params)],
    ['create', `POST ${c}`, ({ body, ctx }) => createRecord(rt, body, ctx)],
    ['get', `GET ${c}/{id}`, ({ params }) => getRecord(rt, params)],
    ['patch', `PATCH ${c}/{id}`, ({ params, body, ctx }) => patchRecord(rt, params, body, ctx)],
    ['search', `GET ${c}/search`, ({ params, ctx }) => searchRecords(rt, params, ctx)],
  ];
  return [
    ...records.filter(([op]) => served.includes(op)).map(([, key, handler]): [string, Handler] => [key, handler]),
    [`GET ${f}`, ({ params }) => listFields(rt, params)],
    [`POST ${f}`, ({ body }) => createField(rt, body)],
  ];
}

/** The few v1 operations served (notes), matched like the v2 ones. */
function v1Route(method: string, pathname: string): RouteMatch | undefined {
  const operation = V1_OPERATIONS.find((op) => op.method === method && `/api/v1${op.path}` === pathname);
  return operation && { operation, endpoint: `${method} /api/v1${operation.path}`, pathParams: {} };
}

function withoutUndefined(values: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined));
}

function runtimeFor<T extends object>(def: EntityDef<T>, allocateOptionId: () => number, companySalt = ''): EntityRuntime<T> {
  return { def, store: new EntityStore(), fields: new FieldRegistry(def.kind, def.standardFields, allocateOptionId, companySalt) };
}

function isSearchPath(path: string): boolean {
  return path.endsWith('/search') || path.startsWith('/itemSearch');
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(text);
}

function emptyStats(): PipedriveSimStats {
  return { calls: 0, tokens: 0, status429: 0, byEndpoint: {}, byStatus: {} };
}

export async function startPipedriveSim(options: PipedriveSimOptions): Promise<PipedriveSim> {
  const plan = options.plan ?? 'premium';
  const seats = options.seats ?? 1;
  const now = options.now ?? Date.now;
  const searchLagMs = options.searchLagMs ?? 0;
  const limiter = new RateLimiter(
    (options.oauth ? OAUTH_BURST_LIMIT : BURST_LIMIT)[plan],
    options.dailyTokenBudget ?? dailyBudget(plan, seats),
    now,
  );
  const oauth = options.oauth ? new SimOAuth(options.oauth, now, () => `http://127.0.0.1:${port}`) : undefined;

  let optionId = 1;
  const allocateOptionId = (): number => optionId++;
  const defs = entityDefsFor(options.currencies ?? DEFAULT_CURRENCIES);
  // Field codes are 40-hex hashes that differ per company, as Pipedrive's do.
  const companySalt = randomBytes(8).toString('hex');
  const organizations = runtimeFor(defs.organization, allocateOptionId, companySalt);
  const persons = runtimeFor(defs.person, allocateOptionId, companySalt);
  const products = runtimeFor(defs.product, allocateOptionId, companySalt);
  const deals = runtimeFor(defs.deal, allocateOptionId, companySalt);
  const dealLines = new DealLineStore();
  const notes = new NoteStore();
  const runtimes: Record<EntityKind, EntityRuntime<object>> = {
    organization: organizations,
    person: persons,
    product: products,
    deal: deals,
  };
  const handlers = new Map<string, Handler>([
    ...Object.values(runtimes).flatMap((rt) => routesFor(rt)),
    ['GET /deals/{id}/products', ({ params }) => listDealProducts(dealLines, deals, params)],
    ['GET /deals/products', ({ params }) => listDealsProducts(dealLines, deals, params)],
    ['POST /notes', ({ body, ctx }) => notes.add(body, deals, ctx)],
    ['GET /notes', ({ params }) => notes.list(params)],
  ]);

  const webhooks = new SimWebhooks(options.companyId ?? 7001, 'acme.pipedrive.com', now);
  /** A deal as the API shows it now, to tell a webhook what changed. */
  const dealView = (id: number): Record<string, unknown> | undefined => {
    const record = deals.store.get(id);
    return record && { ...deals.def.toApi(record, deals.fields.customCodes()) };
  };
  /** The v1 endpoints served: the current user and webhooks (not in the v2 spec extract), with their token costs. */
  const V1: Record<string, { tokens: number; scope: string; run(id: number | undefined, body: unknown): unknown }> = {
    'GET /users/me': { tokens: 1, scope: 'base', run: () => ({ id: 1, company_id: webhooks.companyId, name: 'Connector' }) },
    'GET /webhooks': { tokens: 10, scope: 'admin', run: () => webhooks.list() },
    'POST /webhooks': {
      tokens: 10,
      scope: 'admin',
      run: (_id, body) => webhooks.create(typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {}),
    },
    'DELETE /webhooks/{id}': { tokens: 3, scope: 'admin', run: (id) => void webhooks.delete(id ?? 0) },
  };

  let stats = emptyStats();
  const responseProblems: string[] = [];
  let fault: FaultHook | undefined;
  let port = 0;

  function count(endpoint: string, status: number | 'reset', tokens: number): void {
    stats.calls += 1;
    stats.tokens += tokens;
    if (status === 429) stats.status429 += 1;
    stats.byStatus[String(status)] = (stats.byStatus[String(status)] ?? 0) + 1;
    const e = (stats.byEndpoint[endpoint] ??= { calls: 0, tokens: 0 });
    e.calls += 1;
    e.tokens += tokens;
  }

  /** Lets the request run to the end, then drops the connection instead of answering. */
  function loseResponse(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead = (() => res) as unknown as ServerResponse['writeHead'];
    res.setHeader = (() => res) as unknown as ServerResponse['setHeader'];
    res.end = (() => {
      req.socket.destroy();
      return res;
    }) as unknown as ServerResponse['end'];
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const apiPath = url.pathname.startsWith('/api/v2/') ? url.pathname.slice('/api/v2'.length) : undefined;
    const match = apiPath === undefined ? v1Route(method, url.pathname) : matchRoute(method, apiPath);
    const endpoint = match?.endpoint ?? `${method} ${url.pathname}`;
    const rawBody = await readBody(req);

    const action = fault?.({ method, path: url.pathname });
    if (action !== undefined) {
      if ('kind' in action && action.kind === 'reset') {
        count(endpoint, 'reset', 0);
        req.socket.destroy();
        return;
      }
      if ('kind' in action && (action.kind === 'lose-response' || action.kind === 'late')) {
        loseResponse(req, res);
        if (action.kind === 'late') {
          req.socket.destroy();
          await action.after;
        }
      } else if ('kind' in action && action.kind === 'delay') {
        await new Promise((resolve) => setTimeout(resolve, action.ms));
      } else if ('status' in action) {
        count(endpoint, action.status, 0);
        send(res, action.status, action.body ?? '', action.headers ?? {});
        return;
      }
    }

    if (oauth && method === 'POST' && url.pathname === '/oauth/token') {
      const answer = oauth.token(req.headers.authorization, rawBody);
      count('POST /oauth/token', answer.status, 0);
      send(res, answer.status, answer.body);
      return;
    }

    const bearer = oauth && req.headers.authorization?.startsWith('Bearer ') ? oauth.verify(req.headers.authorization) : undefined;
    if ((bearer !== undefined && bearer.status !== 'ok') || (bearer === undefined && req.headers['x-api-token'] !== options.apiToken)) {
      count(endpoint, 401, 0);
      send(res, 401, UNAUTHORIZED_BODY);
      return;
    }
    // An OAuth token reaches only what its scopes cover, operation by operation, as the spec's `security` says.
    if (bearer?.status === 'ok' && match !== undefined && !scopeAllows(match.operation, bearer.scopes)) {
      count(endpoint, 403, 0);
      send(res, 403, MISSING_SCOPE_BODY);
      return;
    }

    // The current user and webhooks are served here; v1 notes, matched like the v2 operations, below.
    const v1Path = url.pathname.startsWith('/api/v1/') ? url.pathname.slice('/api/v1'.length) : undefined;
    const v1Id = v1Path === undefined ? undefined : /^\/webhooks\/(\d+)$/u.exec(v1Path)?.[1];
    const operation = v1Path === undefined ? undefined : V1[`${method} ${v1Id === undefined ? v1Path : '/webhooks/{id}'}`];
    if (v1Path !== undefined && operation) {
      const id = v1Id;
      const v1Endpoint = `${method} /api/v1${id === undefined ? v1Path : '/webhooks/{id}'}`;
      if (bearer?.status === 'ok' && !bearer.scopes.includes(operation.scope) && !bearer.scopes.includes('admin')) {
        count(v1Endpoint, 403, 0);
        send(res, 403, MISSING_SCOPE_BODY);
        return;
      }
      const v1Admission = limiter.admit(false);
      if (!v1Admission.ok) {
        count(v1Endpoint, 429, 0);
        send(res, 429, OVER_LIMIT_BODY, v1Admission.headers);
        return;
      }
      let v1Status = method === 'POST' ? 201 : 200;
      let v1Body: unknown;
      try {
        const data = operation.run(id === undefined ? undefined : Number(id), rawBody ? (JSON.parse(rawBody) as unknown) : {});
        v1Body = { success: true, data: data ?? { id: Number(id) } };
      } catch (err) {
        if (!(err instanceof SimHttpError)) throw err;
        v1Status = err.status;
        v1Body = err.body;
      }
      limiter.charge(operation.tokens);
      count(v1Endpoint, v1Status, operation.tokens);
      send(res, v1Status, v1Body, limiter.headers(now(), false));
      return;
    }

    const handler = match === undefined ? undefined : handlers.get(`${method} ${match.operation.path}`);
    if (match === undefined || handler === undefined) {
      count(endpoint, 404, 0);
      send(res, 404, {
        success: false,
        error: match === undefined ? 'Unknown route' : `${endpoint} is in the spec but not simulated`,
        code: 'ERR_NOT_FOUND',
      });
      return;
    }

    const isSearch = isSearchPath(match.operation.path);
    const admission = limiter.admit(isSearch);
    if (!admission.ok) {
      count(endpoint, 429, 0);
      send(res, 429, OVER_LIMIT_BODY, admission.headers);
      return;
    }

    let status = successStatus(match.operation);
    let body: unknown;
    try {
      const params = validateParams(match.operation, match.pathParams, url.searchParams);
      const parsedBody = method === 'POST' || method === 'PATCH' || method === 'PUT' ? validateBody(match.operation, rawBody) : {};
      const changedDeal = method === 'PATCH' && match.operation.path === '/deals/{id}' ? Number(params['id']) : undefined;
      const before = changedDeal === undefined ? undefined : dealView(changedDeal);
      body = handler({ params, body: parsedBody, ctx: { nowMs: now(), searchLagMs } });
      if (before && changedDeal !== undefined) webhooks.dealChanged(before, dealView(changedDeal) ?? before);
    } catch (err) {
      if (!(err instanceof SimHttpError)) throw err;
      status = err.status;
      body = err.body;
    }
    if (status < 300) {
      const problem = responseProblem(match.operation, status, body);
      if (problem) responseProblems.push(problem);
    }
    const tokens = status < 500 ? tokenCost(match.operation) : 0;
    limiter.charge(tokens);
    count(endpoint, status, tokens);
    send(res, status, body, limiter.headers(now(), isSearch));
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const message = err instanceof Error ? err.message : String(err);
      if (!res.headersSent) send(res, 500, { success: false, error: `Simulator error: ${message}`, errorCode: 500 });
      else res.destroy();
    });
  });
  delayRequests(server, options.latency);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;

  function runtime(entity: EntityKind): EntityRuntime<object> {
    return runtimes[entity];
  }

  function customCodeOf(entity: EntityKind, name: string): string {
    const field = runtime(entity)
      .fields.customFields()
      .find((f) => f.field_name === name);
    if (field === undefined) throw new Error(`no ${entity} custom field named "${name}"`);
    return field.field_code;
  }

  /** creates a record as pre-existing data: checked like a create, searchable at once */
  function seed<T extends object>(rt: EntityRuntime<T>, values: object): StoredRecord {
    const { custom_fields: customRaw, ...attrs } = withoutUndefined(values);
    const custom = rt.fields.checkCustomValues(
      typeof customRaw === 'object' && customRaw !== null ? (customRaw as Record<string, unknown>) : {},
    );
    rt.def.checkAttrs(attrs, true);
    const nowMs = now();
    const prepared = rt.def.prepareAttrs?.(attrs, undefined, nowMs) ?? attrs;
    const record = rt.store.create({ ...rt.def.defaults(), ...prepared }, custom, nowMs);
    for (const version of record.versions) version.atMs = Number.NEGATIVE_INFINITY;
    return record;
  }

  function apiOf<T extends object>(rt: EntityRuntime<T>): T[] {
    const codes = rt.fields.customCodes();
    return rt.store.all().map((r) => rt.def.toApi(r, codes));
  }

  function productName(id: number): string | undefined {
    const name = products.store.get(id)?.attrs['name'];
    return typeof name === 'string' ? name : undefined;
  }

  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
    stats: () => structuredClone(stats),
    simulatedOperations: () => [...handlers.keys()],
    responseProblems: () => [...responseProblems],
    resetStats: () => {
      stats = emptyStats();
    },
    setFault: (fn) => {
      fault = fn;
    },
    seedOrganization: (org) => {
      const custom = organizations.fields.checkCustomValues(org.custom_fields ?? {});
      organizations.def.checkAttrs({ name: org.name }, true);
      const attrs = { ...organizations.def.defaults(), name: org.name, ...(org.address ? { address: { ...org.address } } : {}) };
      const record = organizations.store.create(attrs, custom, now());
      for (const version of record.versions) version.atMs = Number.NEGATIVE_INFINITY;
      return record.id;
    },
    organizations: () => organizations.store.all().map((r) => organizations.def.toApi(r, organizations.fields.customCodes())),
    seedPerson: (person) => seed(persons, person).id,
    persons: () => apiOf(persons),
    seedProduct: (product) => seed(products, product).id,
    products: () => apiOf(products),
    seedDeal: (deal) => {
      const { lines, ...values } = deal;
      const enabled = (lines ?? []).filter((l) => l.is_enabled !== false);
      const value = values.value ?? Math.round(enabled.reduce((total, l) => total + lineSum(l), 0) * 100) / 100;
      const record = seed(deals, { ...values, value });
      dealLines.add(record.id, lines ?? [], productName, now());
      return record.id;
    },
    deals: () => apiOf(deals),
    notes: () => notes.all(),
    dealProducts: (dealId) => {
      const currency = deals.store.get(dealId)?.attrs['currency'];
      return dealLines.forDeals([dealId]).map((l) => dealLines.toApi(l, typeof currency === 'string' ? currency : 'EUR'));
    },
    updateDeal: (id, patch) => {
      const record = deals.store.get(id);
      if (record === undefined) throw new Error(`Deal ${id} not found`);
      const { custom_fields: customRaw, ...attrs } = withoutUndefined(patch);
      const custom = deals.fields.checkCustomValues(
        typeof customRaw === 'object' && customRaw !== null ? (customRaw as Record<string, unknown>) : {},
      );
      deals.def.checkAttrs(attrs, false);
      const nowMs = now();
      const before = dealView(id);
      deals.store.update(record, deals.def.prepareAttrs?.(attrs, record.attrs, nowMs) ?? attrs, custom, nowMs);
      if (before) webhooks.dealChanged(before, dealView(id) ?? before);
    },
    deleteRecord: (entity, id) => runtime(entity).store.remove(id),
    mergeRecords: (entity, id, survivorId) => {
      const rt = runtime(entity);
      const merged = rt.store.get(id);
      const survivor = rt.store.get(survivorId);
      if (!merged || !survivor) throw new Error(`${entity} ${id} or ${survivorId} does not exist`);
      const lacking = Object.fromEntries(Object.entries(merged.custom).filter(([code]) => survivor.custom[code] === undefined));
      rt.store.update(survivor, {}, lacking, now());
      if (entity === 'organization')
        for (const person of persons.store.all())
          if (person.attrs['org_id'] === id) persons.store.update(person, { org_id: survivorId }, {}, now());
      rt.store.remove(id, survivorId);
    },
    addCustomField: (entity, def) => runtime(entity).fields.addCustom(def).field_code,
    renameField: (entity, name, newName) => runtime(entity).fields.rename(customCodeOf(entity, name), newName).field_code,
    deleteField: (entity, name) => {
      const code = customCodeOf(entity, name);
      runtime(entity).fields.remove(code);
      return code;
    },
    removeFieldOption: (entity, name, label) => {
      if (!runtime(entity).fields.removeOption(customCodeOf(entity, name), label))
        throw new Error(`${entity} field "${name}" has no option "${label}"`);
    },
    addFieldOption: (entity, name, label) => runtime(entity).fields.addOption(customCodeOf(entity, name), label),
    customFields: (entity) =>
      runtime(entity)
        .fields.customFields()
        .map((f) => ({
          field_code: f.field_code,
          field_name: f.field_name,
          field_type: f.field_type,
          options: structuredClone(f.options),
        })),
    dailyTokens: () => ({ used: limiter.dailyUsed(), budget: limiter.budget }),
    setDailyTokenBudget: (tokens) => {
      limiter.budget = tokens;
    },
    startNewDay: () => limiter.startNewDay(),
    oauth,
    webhooks,
  };
}
