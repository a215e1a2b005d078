/**
 * A stateful simulator of Pipedrive's API v2 for tests and local runs: a node:http server on
 * 127.0.0.1 that validates requests against Pipedrive's own OpenAPI contract (openapi-extract.json),
 * keeps records, charges token costs and enforces burst and daily limits.
 *
 * Served today: organizations (list, get, create, patch, search) and organizationFields (list, create).
 * Other entities: add a definition in entities.ts and register it in ENTITY_DEFS.
 *
 * Per request: 1. count it  2. fault hook  3. auth (401)  4. route (404)  5. limits (429)
 * 6. validate params and body against the spec (400)  7. handle  8. charge tokens (2xx and 4xx).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ENTITY_DEFS, type EntityDef, type EntityKind, type SimOrganization } from './entities.ts';
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
import { OVER_LIMIT_BODY, SimHttpError, UNAUTHORIZED_BODY } from './http.ts';
import { BURST_LIMIT, RateLimiter, dailyBudget, type PipedrivePlan } from './rate-limit.ts';
import { matchRoute, tokenCost, validateBody, validateParams, type ParsedParams } from './spec.ts';
import { EntityStore, FieldRegistry, type FieldOption } from './store.ts';

export type { PipedrivePlan } from './rate-limit.ts';
export type { SimOrganization, OrganizationAddress, EntityKind } from './entities.ts';

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
  /** key "METHOD /api/v2/template", e.g. "PATCH /api/v2/organizations/{id}" */
  byEndpoint: Record<string, EndpointStats>;
  /** responses by HTTP status ("200", "400", "429", ...); a reset fault counts as "reset" */
  byStatus: Record<string, number>;
}

export type FaultAction = { status: number; body?: string; headers?: Record<string, string> } | { kind: 'reset' } | { kind: 'delay'; ms: number };
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
  /** adds a custom field without token cost; returns the 40-char hex field_code */
  addCustomField(entity: EntityKind, def: { field_name: string; field_type: string; options?: string[] }): string;
  customFields(entity: EntityKind): SimCustomField[];
  /** tokens spent today and the daily budget */
  dailyTokens(): { used: number; budget: number };
}

type Handler = (args: { params: ParsedParams; body: Record<string, unknown>; ctx: HandlerContext }) => Envelope;

function routesFor<T extends object>(rt: EntityRuntime<T>): Array<[string, Handler]> {
  const c = `/${rt.def.collection}`;
  const f = `/${rt.def.fieldsCollection}`;
  return [
    [`GET ${c}`, ({ params }) => listRecords(rt, params)],
    [`POST ${c}`, ({ body, ctx }) => createRecord(rt, body, ctx)],
    [`GET ${c}/{id}`, ({ params }) => getRecord(rt, params)],
    [`PATCH ${c}/{id}`, ({ params, body, ctx }) => patchRecord(rt, params, body, ctx)],
    [`GET ${c}/search`, ({ params, ctx }) => searchRecords(rt, params, ctx)],
    [`GET ${f}`, ({ params }) => listFields(rt, params)],
    [`POST ${f}`, ({ body }) => createField(rt, body)],
  ];
}

function runtimeFor<T extends object>(def: EntityDef<T>, allocateOptionId: () => number): EntityRuntime<T> {
  return { def, store: new EntityStore(), fields: new FieldRegistry(def.kind, def.standardFields, allocateOptionId) };
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
  const limiter = new RateLimiter(BURST_LIMIT[plan], options.dailyTokenBudget ?? dailyBudget(plan, seats), now);

  let optionId = 1;
  const allocateOptionId = (): number => optionId++;
  const organizations = runtimeFor(ENTITY_DEFS.organization, allocateOptionId);
  const runtimes: Record<EntityKind, EntityRuntime<object>> = { organization: organizations };
  const handlers = new Map<string, Handler>(Object.values(runtimes).flatMap((rt) => routesFor(rt)));

  let stats = emptyStats();
  let fault: FaultHook | undefined;

  function count(endpoint: string, status: number | 'reset', tokens: number): void {
    stats.calls += 1;
    stats.tokens += tokens;
    if (status === 429) stats.status429 += 1;
    stats.byStatus[String(status)] = (stats.byStatus[String(status)] ?? 0) + 1;
    const e = (stats.byEndpoint[endpoint] ??= { calls: 0, tokens: 0 });
    e.calls += 1;
    e.tokens += tokens;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const apiPath = url.pathname.startsWith('/api/v2/') ? url.pathname.slice('/api/v2'.length) : undefined;
    const match = apiPath === undefined ? undefined : matchRoute(method, apiPath);
    const endpoint = match?.endpoint ?? `${method} ${url.pathname}`;
    const rawBody = await readBody(req);

    const action = fault?.({ method, path: url.pathname });
    if (action !== undefined) {
      if ('kind' in action && action.kind === 'reset') {
        count(endpoint, 'reset', 0);
        req.socket.destroy();
        return;
      }
      if ('kind' in action && action.kind === 'delay') {
        await new Promise((resolve) => setTimeout(resolve, action.ms));
      } else if ('status' in action) {
        count(endpoint, action.status, 0);
        send(res, action.status, action.body ?? '', action.headers ?? {});
        return;
      }
    }

    if (req.headers['x-api-token'] !== options.apiToken) {
      count(endpoint, 401, 0);
      send(res, 401, UNAUTHORIZED_BODY);
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

    let status = 200;
    let body: unknown;
    try {
      const params = validateParams(match.operation, match.pathParams, url.searchParams);
      const parsedBody = method === 'POST' || method === 'PATCH' || method === 'PUT' ? validateBody(match.operation, rawBody) : {};
      body = handler({ params, body: parsedBody, ctx: { nowMs: now(), searchLagMs } });
    } catch (err) {
      if (!(err instanceof SimHttpError)) throw err;
      status = err.status;
      body = err.body;
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
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  function runtime(entity: EntityKind): EntityRuntime<object> {
    return runtimes[entity];
  }

  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
    stats: () => structuredClone(stats),
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
    addCustomField: (entity, def) => runtime(entity).fields.addCustom(def).field_code,
    customFields: (entity) =>
      runtime(entity)
        .fields.customFields()
        .map((f) => ({ field_code: f.field_code, field_name: f.field_name, field_type: f.field_type, options: structuredClone(f.options) })),
    dailyTokens: () => ({ used: limiter.dailyUsed(), budget: limiter.budget }),
  };
}
