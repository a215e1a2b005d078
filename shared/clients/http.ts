import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { z } from 'zod';
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

/**
 * Node's own http/https with keep-alive: one agent per container, reused across invocations, and no
 * HTTP library in the bundle (the Lambda runtime has these modules; undici alone was half a megabyte
 * of every function). Redirects are never followed (node:http does not), so a tenant URL cannot
 * bounce us to another host. `timeoutMs` is the longest the socket may stay silent, waiting for the
 * headers or between body chunks. Network faults become RetryLaterError naming the method and path only.
 */
export function createHttpClient(options: { defaultTimeoutMs?: number } = {}): HttpClient {
  // An idle socket is closed after 4 s, or sooner when the server's Keep-Alive header says so (Node takes the
  // smaller), so that a request is not sent on a connection the server is closing (servers' usual idle timeout is 5 s).
  const agentOptions = { keepAlive: true, keepAliveMsecs: 30_000, maxSockets: 32, maxFreeSockets: 32, scheduling: 'lifo' as const, timeout: 4_000 };
  const agents = { http: new HttpAgent(agentOptions), https: new HttpsAgent(agentOptions) };
  const defaultTimeoutMs = options.defaultTimeoutMs ?? 15_000;
  return {
    send(req) {
      const timeout = req.timeoutMs ?? defaultTimeoutMs;
      const url = new URL(req.url);
      const where = `${req.method} ${url.pathname}`;
      const secure = url.protocol === 'https:';
      return new Promise<HttpResponse>((resolve, reject) => {
        let settled = false;
        const fail = (error: unknown) => {
          if (settled) return;
          settled = true;
          if (error instanceof PermanentError) return reject(error);
          const code = (error as { code?: string }).code ?? (error as Error).name;
          reject(new RetryLaterError(`${where}: network error (${code})`));
        };
        const headers = { ...req.headers, ...(req.body !== undefined && { 'content-length': String(Buffer.byteLength(req.body)) }) };
        const send = secure ? httpsRequest : httpRequest;
        const outgoing = send(url, { method: req.method, headers, agent: secure ? agents.https : agents.http, timeout }, (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_BODY_BYTES) {
              fail(new PermanentError(`${where}: response larger than ${MAX_BODY_BYTES} bytes`));
              outgoing.destroy();
              return;
            }
            chunks.push(chunk);
          });
          res.on('error', fail);
          res.on('close', () => {
            if (!res.complete) fail(Object.assign(new Error('connection closed before the response ended'), { code: 'ECONNRESET' }));
          });
          res.on('end', () => {
            if (settled) return;
            settled = true;
            resolve({ status: res.statusCode ?? 0, headers: flattenHeaders(res.headers), body: Buffer.concat(chunks).toString('utf8') });
          });
        });
        outgoing.on('timeout', () => outgoing.destroy(Object.assign(new Error(`no answer within ${timeout} ms`), { code: 'ETIMEDOUT' })));
        outgoing.on('error', fail);
        outgoing.end(req.body);
      });
    },
  };
}

function flattenHeaders(raw: IncomingHttpHeaders): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (typeof value === 'string') headers[name] = value;
    else if (Array.isArray(value)) headers[name] = value.join(', ');
  }
  return headers;
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

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
