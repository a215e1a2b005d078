/**
 * A stateful QAD Adaptive ERP simulator for tests: one node:http server on 127.0.0.1 (random port)
 * serving several tenants, each at its own base path (e.g. `/acme/clouderp`, `/globex/qad-central`).
 *
 * Implemented: `POST {base}/oauth/token`, `GET {base}/api/swagger.json`,
 * `GET {base}/api/qracore/browses?browseId=` customers, customer-contacts, items, price-lists and sales-order-lines,
 * `POST/GET {base}/api/erp/salesOrderHeaders` and `PUT {base}/api/erp/customerV2s/{code}`.
 * Extension points: TenantState.addBrowse / addRoute (see tenant.ts).
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { delayRequests } from '../latency.ts';
import { qadErrorBody, readBody, send, SimHttpError } from './http.ts';
import { TenantState, normaliseBasePath } from './tenant.ts';
import type { FaultAction, FaultHook, QadSim, QadSimOptions } from './types.ts';

export type {
  FaultAction,
  FaultHook,
  FaultRequest,
  HttpVerb,
  QadContactRow,
  QadCustomerRow,
  QadItemRow,
  QadPriceRow,
  QadSalesOrder,
  QadSalesOrderLine,
  SalesOrderChange,
  QadSim,
  QadSimOptions,
  QadSimStats,
  QadSimTenant,
  QadSimTenantSpec,
  SwaggerPaths,
} from './types.ts';
export { QAD_CONTACT_COLUMNS, QAD_CUSTOMER_COLUMNS, QAD_ITEM_COLUMNS, QAD_PRICE_COLUMNS } from './types.ts';
export { CUSTOMER_BROWSE_ID } from './customers.ts';
export { CONTACT_BROWSE_ID } from './contacts.ts';
export { ITEM_BROWSE_ID, PRICE_LIST_BROWSE_ID } from './items.ts';
export {
  CUSTOMER_DOCUMENT_PATH,
  QAD_SALES_ORDER_COLUMNS,
  QAD_SALES_ORDER_LINE_COLUMNS,
  SALES_ORDER_LINES_BROWSE_ID,
  SALES_ORDERS_PATH,
} from './orders.ts';
export { FILTER_OPS, type BrowseDefinition, type FilterOp } from './browse.ts';
export type { Access, Route, RouteContext } from './tenant.ts';

function utcToday(): string {
  return new Date().toISOString().slice(0, 10);
}

export async function startQadSim(options: QadSimOptions): Promise<QadSim> {
  const tokenTtlSeconds = options.tokenTtlSeconds ?? 3600;
  const maxPageSize = options.maxPageSize ?? 1000;
  const today = options.today ?? utcToday;
  const now = options.now ?? Date.now;
  const signingKey = randomBytes(32);
  if (!(tokenTtlSeconds > 0)) throw new Error('QAD sim: tokenTtlSeconds must be > 0');
  if (!(Number.isInteger(maxPageSize) && maxPageSize > 0)) throw new Error('QAD sim: maxPageSize must be a positive integer');

  const seen = new Set<string>();
  for (const spec of options.tenants) {
    const p = normaliseBasePath(spec.basePath);
    if (seen.has(p)) throw new Error(`QAD sim: duplicate basePath ${p}`);
    seen.add(p);
  }

  let calls = 0;
  let byEndpoint: Record<string, number> = {};
  let fault: FaultHook | undefined;
  const aborter = new AbortController();
  const sockets = new Set<Socket>();
  let tenants: TenantState[] = [];

  const findTenant = (pathname: string): TenantState | undefined => {
    let best: TenantState | undefined;
    for (const t of tenants) {
      if (
        (pathname === t.basePath || pathname.startsWith(`${t.basePath}/`)) &&
        (best === undefined || t.basePath.length > best.basePath.length)
      ) {
        best = t;
      }
    }
    return best;
  };

  const handleRequest = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL(req.url ?? '/', 'http://sim.invalid');
    const pathname = url.pathname;
    const tenant = findTenant(pathname);
    const rel = tenant === undefined ? pathname : pathname.slice(tenant.basePath.length) || '/';
    const key = `${method} ${rel}`;
    calls += 1;
    byEndpoint[key] = (byEndpoint[key] ?? 0) + 1;

    const action: FaultAction | undefined = fault?.({ method, path: rel, basePath: tenant?.basePath ?? '' });
    if (action !== undefined) {
      if ('status' in action) {
        send(res, {
          status: action.status,
          body: action.body ?? qadErrorBody(action.status, 'Injected fault'),
          headers: action.headers ?? {},
        });
        return;
      }
      if (action.kind === 'reset') {
        req.socket.destroy();
        return;
      }
      if (action.kind === 'lose-response') {
        res.writeHead = (() => res) as unknown as typeof res.writeHead;
        res.end = (() => {
          req.socket.destroy();
          return res;
        }) as unknown as typeof res.end;
      }
      if (action.kind === 'delay') {
        try {
          await sleep(action.ms, undefined, { signal: aborter.signal });
        } catch {
          return; // simulator closing
        }
        if (req.socket.destroyed) return;
      }
    }

    if (tenant === undefined) {
      send(res, { status: 404, body: qadErrorBody(404, `No QAD instance at ${pathname}`) });
      return;
    }
    const route = tenant.findRoute(method, rel);
    if (route === undefined) {
      send(res, { status: 404, body: qadErrorBody(404, `Not found: ${rel}`) });
      return;
    }
    if (route === 'method') {
      send(res, { status: 405, body: qadErrorBody(405, `Method ${method} not allowed on ${rel}`) });
      return;
    }
    const body = await readBody(req);
    tenant.authorize(route.access, req.headers);
    const result = await route.handle({ tenant, method, path: rel, query: url.searchParams, headers: req.headers, body });
    send(res, result);
  };

  const server = createServer((req, res) => {
    handleRequest(req, res).catch((err: unknown) => {
      if (err instanceof SimHttpError) {
        send(res, { status: err.status, body: err.body, headers: err.headers });
      } else {
        const message = err instanceof Error ? err.message : String(err);
        send(res, { status: 500, body: qadErrorBody(500, `Simulator error: ${message}`) });
      }
    });
  });
  delayRequests(server, options.latency);
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  tenants = options.tenants.map((spec) => new TenantState(spec, { origin, tokenTtlSeconds, maxPageSize, today, now, signingKey }));

  let closed: Promise<void> | undefined;
  return {
    url: origin,
    tenant(basePath: string) {
      const p = normaliseBasePath(basePath);
      const t = tenants.find((x) => x.basePath === p);
      if (t === undefined) throw new Error(`QAD sim: no tenant at ${basePath}`);
      return t.handle();
    },
    stats: () => ({ calls, byEndpoint: { ...byEndpoint } }),
    resetStats: () => {
      calls = 0;
      byEndpoint = {};
    },
    expireSessions: () => {
      for (const t of tenants) t.sessions.expireAll();
    },
    setFault: (fn) => {
      fault = fn;
    },
    close: () => {
      closed ??= new Promise<void>((resolve) => {
        aborter.abort();
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
      return closed;
    },
  };
}
