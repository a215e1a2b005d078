import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as z from 'zod';

/** The webhook function as API Gateway invokes it: an HTTP API event (payload format 2.0) in, a result out. */
export type HttpApiHandler = (event: unknown) => Promise<unknown>;

const resultSchema = z.object({
  statusCode: z.number().int(),
  body: z.string().optional(),
  headers: z.record(z.string(), z.string()).optional(),
});

export interface LocalWebhookEndpoint {
  /** `http://127.0.0.1:<port>/webhooks/`: what the stack's output WebhookUrlPrefix is in AWS. */
  urlPrefix: string;
  stats(): { requests: number; throttled: number; byStatus: Record<string, number> };
  /** How long each answer took, in ms (Pipedrive retries a slow one). */
  answerTimes(): number[];
  close(): Promise<void>;
}

/**
 * The stack's HTTP API on this machine: `POST /webhooks/{tenantId}` becomes the event API Gateway hands the webhook
 * function, other routes answer 404 as API Gateway does, and the stage's throttle (a token bucket of `rateLimit`
 * per second, `burstLimit` deep) answers 429 before the function runs.
 */
export async function startWebhookEndpoint(handler: HttpApiHandler, throttle: { rateLimit: number; burstLimit: number }) {
  const stats = { requests: 0, throttled: 0, byStatus: {} as Record<string, number> };
  const answerTimes: number[] = [];
  let tokens = throttle.burstLimit;
  let refilledAt = Date.now();
  const admit = (): boolean => {
    const now = Date.now();
    tokens = Math.min(throttle.burstLimit, tokens + ((now - refilledAt) / 1000) * throttle.rateLimit);
    refilledAt = now;
    if (tokens < 1) return false;
    tokens -= 1;
    return true;
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    stats.requests++;
    const started = Date.now();
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const tenantId = /^\/webhooks\/([^/]+)$/u.exec(url.pathname)?.[1];
    const answer = (status: number, body: string, headers: Record<string, string> = {}) => {
      stats.byStatus[String(status)] = (stats.byStatus[String(status)] ?? 0) + 1;
      answerTimes.push(Date.now() - started);
      res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(body);
    };
    if (req.method !== 'POST' || tenantId === undefined) return answer(404, '{"message":"Not Found"}');
    if (!admit()) {
      stats.throttled++;
      return answer(429, '{"message":"Too Many Requests"}');
    }
    const headers = Object.fromEntries(Object.entries(req.headers).flatMap(([k, v]) => (typeof v === 'string' ? [[k, v]] : [])));
    const body = Buffer.concat(chunks);
    const result = resultSchema.parse(
      await handler({
        version: '2.0',
        routeKey: 'POST /webhooks/{tenantId}',
        rawPath: url.pathname,
        rawQueryString: url.search.slice(1),
        headers,
        pathParameters: { tenantId: decodeURIComponent(tenantId) },
        requestContext: { http: { method: 'POST', path: url.pathname, sourceIp: '127.0.0.1' }, timeEpoch: Date.now() },
        // API Gateway passes a JSON body as text; anything else base64.
        body: body.toString('base64'),
        isBase64Encoded: true,
      }),
    );
    answer(result.statusCode, result.body ?? '', result.headers);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' }).end('{"message":"Internal Server Error"}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint: LocalWebhookEndpoint = {
    urlPrefix: `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/`,
    stats: () => structuredClone(stats),
    answerTimes: () => [...answerTimes],
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  return endpoint;
}
