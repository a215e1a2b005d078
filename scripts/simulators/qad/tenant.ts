/**
 * One simulated QAD instance: its sessions, data stores, registered browses and routes.
 * New entities (contacts, items/price lists, sales orders) plug in by adding a store, calling
 * `addBrowse` for their browse and `addRoute` for their business-document endpoints.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { parseBrowseQuery, runBrowse, type BrowseDefinition } from './browse.ts';
import { ContactStore } from './contacts.ts';
import { CustomerStore } from './customers.ts';
import { headerValue, matchPath, qadError, validationError, oauthError, type RouteResult } from './http.ts';
import { ItemStore, PriceStore } from './items.ts';
import { registerDocumentRoutes, SalesOrderStore } from './orders.ts';
import { SessionStore } from './sessions.ts';
import { swaggerDocument } from './swagger.ts';

const SWAGGER_PATH = '/api/swagger.json';
import type { HttpVerb, QadSimTenant, QadSimTenantSpec, SwaggerPaths } from './types.ts';

/** public: no auth; token: valid bearer token; workspace: token plus the x-qad-workspace-id header. */
export type Access = 'public' | 'token' | 'workspace';

export interface RouteContext {
  tenant: TenantState;
  method: string;
  path: string; // relative to the tenant base
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface Route {
  method: string; // upper case
  path: string; // relative to the tenant base, exact match; `{name}` segments match any one segment
  access: Access;
  handle(ctx: RouteContext): RouteResult | Promise<RouteResult>;
}

export interface TenantRuntime {
  origin: string; // http://127.0.0.1:PORT
  tokenTtlSeconds: number;
  maxPageSize: number;
  today: () => string;
  now: () => number;
  signingKey: Buffer;
}

export class TenantState {
  readonly basePath: string;
  readonly baseUrl: string;
  readonly sessions: SessionStore;
  readonly customers: CustomerStore;
  readonly contacts: ContactStore;
  readonly items: ItemStore;
  readonly prices: PriceStore;
  readonly orders = new SalesOrderStore();
  readonly browses = new Map<string, BrowseDefinition>();
  private readonly routes = new Map<string, Route>(); // key "METHOD path"
  /** A test's own Swagger paths (an instance that documents less); by default the Swagger lists what is served. */
  swaggerPaths: SwaggerPaths | undefined;

  constructor(
    readonly spec: QadSimTenantSpec,
    readonly runtime: TenantRuntime,
  ) {
    this.basePath = normaliseBasePath(spec.basePath);
    this.baseUrl = `${runtime.origin}${this.basePath}`;
    this.swaggerPaths = spec.swaggerPaths && cloneSwaggerPaths(spec.swaggerPaths);
    this.sessions = new SessionStore({
      issuer: this.baseUrl,
      clientId: spec.clientId,
      username: spec.username,
      password: spec.password,
      ttlSeconds: runtime.tokenTtlSeconds,
      now: runtime.now,
      signingKey: runtime.signingKey,
    });
    const domain = spec.workspaceId.split('_')[0] ?? spec.workspaceId;
    this.customers = new CustomerStore(domain, runtime.today, spec.customers ?? []);
    this.contacts = new ContactStore(runtime.today, spec.contacts ?? []);
    this.items = new ItemStore(runtime.today, spec.items ?? []);
    this.prices = new PriceStore(runtime.today, spec.prices ?? []);
    registerCoreRoutes(this);
    registerDocumentRoutes(this);
    this.addBrowse(this.customers.browse());
    this.addBrowse(this.contacts.browse());
    this.addBrowse(this.items.browse());
    this.addBrowse(this.prices.browse());
    this.addBrowse(this.orders.linesBrowse());
  }

  addRoute(route: Route): void {
    this.routes.set(`${route.method.toUpperCase()} ${route.path}`, route);
  }

  /**
   * The entity paths this instance serves, with their verbs: every route but the token endpoint and the Swagger
   * document itself (which an instance's Swagger describes as security and does not list).
   */
  servedPaths(): SwaggerPaths {
    const served: Record<string, HttpVerb[]> = {};
    for (const r of this.routes.values())
      if (r.access !== 'public' && r.path !== SWAGGER_PATH) (served[r.path] ??= []).push(r.method.toLowerCase() as HttpVerb);
    return served;
  }

  addBrowse(def: BrowseDefinition): void {
    this.browses.set(def.id, def);
  }

  /** The route for a method and path, 'method' when only the method is wrong, or undefined. */
  findRoute(method: string, path: string): Route | 'method' | undefined {
    const verb = method.toUpperCase();
    const route = this.routes.get(`${verb} ${path}`);
    if (route !== undefined) return route;
    let other = false;
    for (const r of this.routes.values()) {
      if (r.path === path) other = true;
      else if (r.path.includes('{') && matchPath(r.path, path) !== undefined) {
        if (r.method.toUpperCase() === verb) return r;
        other = true;
      }
    }
    return other ? 'method' : undefined;
  }

  /** Throws the 401/403 QAD answers when the request lacks the access the route needs. */
  authorize(access: Access, headers: IncomingHttpHeaders): void {
    if (access === 'public') return;
    const auth = headerValue(headers, 'authorization') ?? '';
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    const token = m?.[1];
    if (token === undefined) {
      throw qadError(401, 'Full authentication is required to access this resource', { 'www-authenticate': 'Bearer' });
    }
    const check = this.sessions.verify(token);
    if (!check.ok) {
      throw qadError(401, check.reason === 'expired' ? 'Access token expired' : 'Invalid access token', {
        'www-authenticate': 'Bearer error="invalid_token"',
      });
    }
    if (access === 'workspace' && headerValue(headers, 'x-qad-workspace-id') !== this.spec.workspaceId) {
      throw qadError(403, 'Access is denied');
    }
  }

  handle(): QadSimTenant {
    return {
      baseUrl: this.baseUrl,
      basePath: this.basePath,
      workspaceId: this.spec.workspaceId,
      upsertCustomer: (row) => this.customers.upsert(row),
      removeCustomer: (code) => this.customers.remove(code),
      customers: () => this.customers.list(),
      putRawCustomerRow: (row) => this.customers.putRaw(row),
      setSwaggerPaths: (paths) => {
        this.swaggerPaths = cloneSwaggerPaths(paths);
      },
      upsertContact: (row) => this.contacts.upsert(row),
      removeContact: (id) => this.contacts.remove(id),
      contacts: () => this.contacts.list(),
      upsertItem: (row) => this.items.upsert(row),
      items: () => this.items.list(),
      setPrice: (list, part, currency, price) => this.prices.set(list, part, currency, price),
      prices: () => this.prices.list(),
      salesOrders: () => this.orders.list(),
      changeSalesOrder: (nbr, change) => this.orders.change(nbr, change),
      removeSalesOrder: (nbr) => this.orders.remove(nbr),
    };
  }
}

export function normaliseBasePath(p: string): string {
  const trimmed = p.replace(/\/+$/, '');
  if (!trimmed.startsWith('/') || trimmed.length < 2 || /[?#\s]/.test(trimmed)) {
    throw new Error(`QAD sim: invalid basePath ${JSON.stringify(p)} (want e.g. '/acme/clouderp')`);
  }
  return trimmed;
}

function cloneSwaggerPaths(paths: SwaggerPaths): SwaggerPaths {
  return Object.fromEntries(Object.entries(paths).map(([k, v]) => [k, [...v]]));
}

function registerCoreRoutes(t: TenantState): void {
  t.addRoute({
    method: 'POST',
    path: '/oauth/token',
    access: 'public',
    handle: (ctx) => {
      const type = headerValue(ctx.headers, 'content-type') ?? '';
      if (!type.toLowerCase().startsWith('application/x-www-form-urlencoded')) {
        throw oauthError(400, 'invalid_request', 'Content-Type must be application/x-www-form-urlencoded');
      }
      return ctx.tenant.sessions.token(new URLSearchParams(ctx.body));
    },
  });

  t.addRoute({
    method: 'GET',
    path: SWAGGER_PATH,
    access: 'token',
    handle: (ctx) => ({
      status: 200,
      body: swaggerDocument(ctx.tenant.baseUrl, ctx.tenant.swaggerPaths ?? ctx.tenant.servedPaths(), [...ctx.tenant.browses.keys()]),
    }),
  });

  t.addRoute({
    method: 'GET',
    path: '/api/qracore/browses',
    access: 'workspace',
    handle: (ctx) => {
      const browseId = ctx.query.get('browseId');
      if (browseId === null || browseId === '') {
        throw validationError([{ fieldName: 'browseId', message: 'browseId is required', fieldValue: '', code: 'REQUIRED' }]);
      }
      const def = ctx.tenant.browses.get(browseId);
      if (def === undefined) throw qadError(404, `Browse not found: ${browseId}`);
      const q = parseBrowseQuery(ctx.query, def, ctx.tenant.runtime.maxPageSize);
      return { status: 200, body: runBrowse(def, q) };
    },
  });
}
