import * as z from 'zod';
import { PermanentError, QadAuthError, RateLimitedError, RetryLaterError } from '../domain/errors.ts';
import { qadSubmitErrorSchema, type QadSubmitError } from '../domain/deal-outcome.ts';
import { errorText, parseJsonBody, type HttpClient, type HttpResponse } from './http.ts';

import type { QadClient, QadSwagger } from '../ports/qad.ts';

export type * from '../ports/qad.ts';
export { QadAuthError };

const tokenSchema = z.looseObject({ access_token: z.string().min(1), expires_in: z.number().positive().optional() });
const browseSchema = z.looseObject({
  data: z.array(z.unknown()),
  auxillaryData: z.looseObject({ HasMoreParams: z.boolean().optional() }).optional(),
});
const swaggerSchema = z.looseObject({
  paths: z.record(z.string(), z.record(z.string(), z.unknown())),
  /** OpenAPI 3 */
  servers: z.array(z.looseObject({ url: z.string() })).optional(),
  /** Swagger 2 */
  basePath: z.string().optional(),
});
const HTTP_METHODS = new Set(['get', 'put', 'post', 'delete', 'patch', 'head', 'options']);
const browseIdParameter = z.looseObject({ name: z.literal('browseId'), schema: z.looseObject({ enum: z.array(z.string()) }) });

interface Session {
  token: string;
  expiresAt: number;
}

/**
 * One container's QAD logins by tenant, base URL and user. They outlive one invocation (a warm container reuses its
 * login until shortly before expiry) and a tenant's rebuilt client, but never the container: createTenantClients
 * holds them, so another container logs in for itself, as another Lambda instance does.
 */
export type QadSessions = Map<string, Session>;

/**
 * QAD for one tenant at its full base URL: session login (`POST {base}/oauth/token`), the bearer
 * token cached across warm invocations, one re-login on a 401, and errors that name the tenant.
 */
export function createQadClient(options: {
  tenantId: string;
  baseUrl: string;
  clientId: string;
  username: string;
  password: string;
  workspaceId: string;
  http: HttpClient;
  /** The container's logins; this client's own when not given. */
  sessions?: QadSessions;
  now?: () => number;
  onCall?: (info: { endpoint: string; status: number; ms: number }) => void;
}): QadClient {
  const now = options.now ?? Date.now;
  const sessions: QadSessions = options.sessions ?? new Map();
  const sessionKey = `${options.tenantId}|${options.baseUrl}|${options.username}`;

  async function login(): Promise<string> {
    const started = now();
    const res = await options.http.send({
      method: 'POST',
      url: `${options.baseUrl}/oauth/token`,
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({
        grant_type: 'password',
        client_id: options.clientId,
        username: options.username,
        password: options.password,
      }).toString(),
    });
    options.onCall?.({ endpoint: 'POST /oauth/token', status: res.status, ms: now() - started });
    if (res.status === 400 || res.status === 401 || res.status === 403) {
      throw new QadAuthError(
        `QAD login failed for tenant ${options.tenantId}: HTTP ${res.status} (${errorText(res.body)}); ` +
          `check the tenant's QAD user, password and client id`,
      );
    }
    if (res.status !== 200) throw classify(res, 'POST /oauth/token', options.tenantId);
    const body = parseJsonBody(res, tokenSchema, `QAD login for tenant ${options.tenantId}`);
    // Renew a minute early so a token never expires mid-call.
    sessions.set(sessionKey, { token: body.access_token, expiresAt: now() + ((body.expires_in ?? 3600) - 60) * 1000 });
    return body.access_token;
  }

  async function token(): Promise<string> {
    const cached = sessions.get(sessionKey);
    return cached && cached.expiresAt > now() ? cached.token : login();
  }

  async function send(
    method: 'GET' | 'POST' | 'PUT',
    path: string,
    query: URLSearchParams,
    endpoint: string,
    body?: unknown,
  ): Promise<HttpResponse> {
    const success = SUCCESS[method];
    const url = `${options.baseUrl}${path}${query.size > 0 ? `?${query}` : ''}`;
    for (let attempt = 0; ; attempt++) {
      const started = now();
      const res = await options.http.send({
        method,
        url,
        headers: {
          authorization: `Bearer ${await token()}`,
          'x-qad-workspace-id': options.workspaceId,
          accept: 'application/json',
          ...(body !== undefined && { 'content-type': 'application/json' }),
        },
        ...(body !== undefined && { body: JSON.stringify(body) }),
      });
      options.onCall?.({ endpoint, status: res.status, ms: now() - started });
      if (res.status === 401 && attempt === 0) {
        sessions.delete(sessionKey);
        continue;
      }
      if (!success.includes(res.status)) throw classify(res, endpoint, options.tenantId);
      return res;
    }
  }

  return {
    async browse({ path, browseId, page, pageSize, filters }) {
      const query = new URLSearchParams({ browseId, page: String(page), pageSize: String(pageSize) });
      for (const f of filters) query.append('filter', `${f.field},${f.op},${f.value},literal`);
      const res = await send('GET', path, query, `GET ${path}`);
      const body = parseJsonBody(res, browseSchema, `QAD browse ${browseId} for tenant ${options.tenantId}`);
      return { rows: body.data, hasMore: body.auxillaryData?.HasMoreParams === true };
    },
    async createSalesOrder(path, order) {
      // Sent once: a timeout leaves the outcome unknown, and only the lookup by customer PO may decide.
      const res = await send('POST', path, new URLSearchParams(), `POST ${path}`, order);
      const where = `QAD sales order for tenant ${options.tenantId}`;
      // Created, but the answer does not say as what: the next attempt finds it by its customer PO.
      if (res.status === 204 || res.body.trim() === '') throw new RetryLaterError(`${where}: HTTP ${res.status} without an order number`);
      const body = parseJsonBody(res, z.looseObject({ so_nbr: z.string().min(1) }), where);
      return { orderNumber: body.so_nbr };
    },
    async findSalesOrders(path, po) {
      const query = new URLSearchParams({ page: '1', pageSize: '10' });
      query.append('filter', `so_mstr.so_po,eq,${po},literal`);
      const res = await send('GET', path, query, `GET ${path}`);
      const body = parseJsonBody(
        res,
        z.looseObject({ data: z.array(z.unknown()) }),
        `QAD sales order lookup for tenant ${options.tenantId}`,
      );
      return body.data;
    },
    async updateCustomer(pathTemplate, code, fields) {
      const path = pathTemplate.replace('{code}', encodeURIComponent(code));
      const res = await send('PUT', path, new URLSearchParams(), `PUT ${pathTemplate}`, fields);
      if (res.status !== 204) parseJsonBody(res, z.looseObject({}), `QAD customer update for tenant ${options.tenantId}`);
    },
    async swagger(swaggerPath) {
      const res = await send('GET', swaggerPath, new URLSearchParams(), `GET ${swaggerPath}`);
      const body = parseJsonBody(res, swaggerSchema, `QAD Swagger for tenant ${options.tenantId}`);
      return swaggerOf(body, `${options.baseUrl}${swaggerPath}`, options.baseUrl);
    },
  };
}

/** A path template with its parameters unnamed: `/customers/{code}` and `/customers/{id}` are one path. */
export const templateOf = (path: string): string => path.replace(/\{[^}]*\}/gu, '{}');

/**
 * The Swagger's paths as the tenant config writes them. Its paths are relative to its server (`servers[0].url`,
 * resolved against where the document was read, or Swagger 2's `basePath`); the config's are relative to the
 * tenant's base URL, so the part of the server's path beyond the base URL's is put in front, and a path outside
 * the base URL is not one the connector can call. A document naming no server is read as relative to the base
 * URL (QAD instances serve it from there).
 */
function swaggerOf(body: z.infer<typeof swaggerSchema>, documentUrl: string, baseUrl: string): QadSwagger {
  const server = body.servers?.[0]?.url ?? body.basePath;
  const basePath = new URL(baseUrl).pathname.replace(/\/+$/u, '');
  const serverPath = server === undefined ? basePath : new URL(server, documentUrl).pathname.replace(/\/+$/u, '');
  const paths: Record<string, string[]> = {};
  const browseIds: Record<string, string[]> = {};
  for (const [path, item] of Object.entries(body.paths)) {
    const full = `${serverPath}${path}`;
    if (!full.startsWith(`${basePath}/`)) continue;
    const relative = templateOf(full.slice(basePath.length));
    const methods = Object.keys(item).filter((m) => HTTP_METHODS.has(m.toLowerCase()));
    paths[relative] = [...new Set([...(paths[relative] ?? []), ...methods.map((m) => m.toUpperCase())])];
    for (const method of methods) {
      const parameters = z.looseObject({ parameters: z.array(z.unknown()) }).safeParse(item[method]).data?.parameters ?? [];
      for (const p of parameters) {
        const ids = browseIdParameter.safeParse(p).data?.schema.enum;
        if (ids) browseIds[relative] = [...new Set([...(browseIds[relative] ?? []), ...ids])];
      }
    }
  }
  return { paths, browseIds };
}

/**
 * The answers that mean success, per method: a read is 200; a create 200 or 201 (Created); an update 200,
 * or 204 (No Content). Any other status, 2xx included, is classified below and never taken as done.
 */
const SUCCESS: Record<'GET' | 'POST' | 'PUT', readonly number[]> = { GET: [200], POST: [200, 201], PUT: [200, 204] };

function classify(res: HttpResponse, endpoint: string, tenantId: string): Error {
  const where = `QAD ${endpoint} for tenant ${tenantId}: HTTP ${res.status} (${errorText(res.body)})`;
  if (res.status === 429) {
    const retryAfter = Number(res.headers['retry-after']);
    return new RateLimitedError(where, Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : 30);
  }
  if (res.status === 401) return new QadAuthError(`${where}; the session was refused after a fresh login`);
  if (res.status === 400 || res.status === 422) {
    const errors = submitErrorList(res.body);
    const text = errors ? errors.map((e) => (e.fieldName ? `${e.fieldName}: ${e.message}` : e.message)).join('; ') : errorText(res.body);
    // The errors travel on, so the deal can say why in a salesperson's words (shared/domain/deal-outcome.ts).
    return new PermanentError(`QAD rejected ${endpoint} for tenant ${tenantId}: ${text}`, { qadErrors: errors ?? [] });
  }
  if (res.status >= 500) return new RetryLaterError(where);
  // A success QAD does not document for this call: not taken as done, and not as refused (a create may exist).
  if (res.status >= 200 && res.status < 300) return new RetryLaterError(`${where}: not an answer this call documents`);
  return new PermanentError(where);
}

/** QAD's validation answer (`submitResult.errors`), or undefined when the body is not one. */
function submitErrorList(body: string): QadSubmitError[] | undefined {
  return z.looseObject({ submitResult: z.looseObject({ errors: z.array(qadSubmitErrorSchema) }) }).safeParse(safeJson(body)).data
    ?.submitResult.errors;
}

function safeJson(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}
