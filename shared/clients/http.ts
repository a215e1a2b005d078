import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import Agent from 'undici/lib/dispatcher/agent.js';
import request from 'undici/lib/api/api-request.js';
import type { z } from 'zod';
import { addressProblem, isLoopbackHost } from '../config/tenant-url.ts';
import { allowLoopbackHttp } from '../config/tenant.ts';
import { PermanentError, RetryLaterError } from '../domain/errors.ts';

export interface HttpRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  url: string;
  headers?: Record<string, string>;
  body?: string;
  timeoutMs?: number;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** The one seam between the clients and the network, so tests can stand in for it. */
export interface HttpClient {
  send(req: HttpRequest): Promise<HttpResponse>;
}

/** Bodies larger than this are refused: a broken or hostile server must not exhaust memory. */
const MAX_BODY_BYTES = 32 * 1024 * 1024;

/** A name lookup as `net.connect` calls it (node:dns `lookup`'s shape). */
export type Lookup = (
  hostname: string,
  options: LookupOptions,
  callback: (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
) => void;

/** Thrown from the lookup hook: a name that resolves to an address we must not connect to. */
class RefusedAddressError extends Error {
  readonly code = 'ERR_REFUSED_ADDRESS';
}

/**
 * The lookup every connection is made through: the name is resolved, and if any address it resolves
 * to is internal the connection is refused before a byte (or a credential) is sent. Checking here, not
 * on the URL, closes the gap between a name checked at registration and the address it points at now.
 */
function checkedLookup(resolve: Lookup, allowLoopback: boolean): Lookup {
  return (hostname, options, callback) => {
    resolve(hostname, options, (error, address, family) => {
      if (error) return callback(error, address, family);
      const addresses = Array.isArray(address) ? address.map((a) => a.address) : [address];
      const problem = addresses.map((a) => addressProblem(a, allowLoopback)).find((p) => p !== undefined);
      if (problem) return callback(new RefusedAddressError(`${hostname} resolves to ${problem}`), address, family);
      callback(null, address, family);
    });
  };
}

/**
 * undici with keep-alive: one agent per container, reused across invocations. Redirects are never
 * followed (undici's request does not), so a tenant URL cannot bounce us to another host. Every
 * connection's address is checked where it is made (an IP literal before the request, a name in the
 * lookup hook); loopback only when the local run allows it (CONNECTOR_ALLOW_LOOPBACK_HTTP).
 * Network faults become RetryLaterError naming the method and path only. Only the agent and the
 * request API are imported (types/undici-request.d.ts says why).
 */
export function createHttpClient(options: { defaultTimeoutMs?: number; allowLoopback?: boolean; lookup?: Lookup } = {}): HttpClient {
  const allowLoopback = options.allowLoopback ?? allowLoopbackHttp();
  const lookup = checkedLookup(options.lookup ?? (dnsLookup as Lookup), allowLoopback);
  const agent = new Agent({ keepAliveTimeout: 30_000, keepAliveMaxTimeout: 60_000, connections: 32, connect: { lookup } });
  const defaultTimeoutMs = options.defaultTimeoutMs ?? 15_000;
  return {
    async send(req) {
      const timeout = req.timeoutMs ?? defaultTimeoutMs;
      const url = new URL(req.url);
      const where = `${req.method} ${url.pathname}`;
      const literal = addressProblem(url.hostname, allowLoopback);
      if (literal) throw new PermanentError(`${where}: refused to connect to ${url.host} (${literal})`);
      if (url.protocol !== 'https:' && !(allowLoopback && isLoopbackHost(url.hostname)))
        throw new PermanentError(`${where}: refused plain ${url.protocol.replace(':', '')} to ${url.host}`);
      try {
        const res = await request.call(agent, {
          origin: url.origin,
          path: `${url.pathname}${url.search}`,
          method: req.method,
          headers: req.headers,
          body: req.body,
          headersTimeout: timeout,
          bodyTimeout: timeout,
        });
        const chunks: Buffer[] = [];
        let size = 0;
        for await (const chunk of res.body) {
          size += (chunk as Buffer).length;
          if (size > MAX_BODY_BYTES) {
            res.body.destroy();
            throw new PermanentError(`${where}: response larger than ${MAX_BODY_BYTES} bytes`);
          }
          chunks.push(chunk as Buffer);
        }
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(res.headers)) {
          if (typeof value === 'string') headers[name] = value;
          else if (Array.isArray(value)) headers[name] = value.join(', ');
        }
        return { status: res.statusCode, headers, body: Buffer.concat(chunks).toString('utf8') };
      } catch (error) {
        if (error instanceof PermanentError) throw error;
        if (error instanceof RefusedAddressError) throw new PermanentError(`${where}: refused to connect, ${error.message}`);
        const code = (error as { code?: string }).code ?? (error as Error).name;
        throw new RetryLaterError(`${where}: network error (${code})`);
      }
    },
  };
}

/**
 * Parses a JSON body against its schema. A body that is not JSON (an HTML error page, a truncated
 * answer) or not the expected shape is transient from our side: the server is having a bad moment.
 */
export function parseJsonBody<T>(res: HttpResponse, schema: z.ZodType<T>, where: string): T {
  let json: unknown;
  try {
    json = JSON.parse(res.body);
  } catch {
    const kind = /^\s*</u.test(res.body) ? 'an HTML page' : 'malformed JSON';
    throw new RetryLaterError(`${where}: HTTP ${res.status} answered with ${kind}`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new RetryLaterError(`${where}: unexpected response shape (${issue ? `${issue.path.join('.')}: ${issue.message}` : 'unknown'})`);
  }
  return parsed.data;
}

/** A JSON error body's message field, if it has one, kept short. */
export function errorText(body: string): string {
  try {
    const json = JSON.parse(body) as Record<string, unknown>;
    const text = json.error ?? json.message ?? json.error_description;
    if (typeof text === 'string') return text.slice(0, 500);
    return JSON.stringify(json).slice(0, 500);
  } catch {
    return /^\s*</u.test(body) ? 'HTML error page' : body.slice(0, 200);
  }
}

/** Waits `ms`; clients and adapters take one as an option, so tests can pass time without waiting it. */
export type Sleep = (ms: number) => Promise<void>;

export const sleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
