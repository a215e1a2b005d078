import { tenantConfigSchema } from '../config/tenant.ts';
import {
  basicAuthMatches,
  judgeDelivery,
  WEBHOOK_BODY_LIMIT_BYTES,
  webhookCredentialsSchema,
  type WebhookCredentials,
} from '../domain/webhook.ts';
import type { Cipher, Clock, EntityName, RecordQueue, Telemetry, TenantStore } from '../ports/index.ts';
import { dealToReread } from './won-deal-reads.ts';

export interface WebhookDeps {
  tenants: TenantStore;
  cipher: Cipher;
  queueFor(entity: EntityName): RecordQueue;
  clock: Clock;
  telemetry: Telemetry;
}

/** One HTTP delivery as the endpoint received it: the tenant from the path, the Authorization header, the raw body. */
export interface WebhookRequest {
  tenantId: string;
  authorization: string | undefined;
  body: string;
}

export interface WebhookAnswer {
  status: 200 | 202 | 400 | 401 | 403 | 413;
  /** Short and fixed: nothing about the tenant or why credentials failed goes back to the caller. */
  body: string;
}

/** How long a warm container keeps a tenant's decrypted webhook credentials (as the tenant clients do theirs). */
const CREDENTIALS_MAX_AGE_MS = 15 * 60_000;
const tenantIdSchema = tenantConfigSchema.shape.tenantId;

/**
 * The webhook endpoint's whole job, in order: refuse an oversized body (413); authenticate the tenant in the path
 * by its Basic pair (401, the same for an unknown tenant); validate the v2 delivery (400); refuse another company's
 * (403); let go of what is not a deal that became won (200); queue the deal id on the orders queue (202). It writes
 * nothing else: the QAD writer reads the deal from Pipedrive and makes its order exactly once, however often the
 * deal is delivered, replayed or also found by the deal poll.
 */
export function webhookReceiver(deps: WebhookDeps): (request: WebhookRequest) => Promise<WebhookAnswer> {
  const cache = new Map<string, { ciphertext: string; at: number; credentials: Promise<WebhookCredentials> }>();

  async function credentialsOf(tenantId: string, ciphertext: string): Promise<WebhookCredentials> {
    const cached = cache.get(tenantId);
    if (cached?.ciphertext === ciphertext && deps.clock.now() - cached.at < CREDENTIALS_MAX_AGE_MS) return cached.credentials;
    const credentials = deps.cipher
      .decrypt(ciphertext, { tenantId, system: 'webhook' })
      .then((plain) => webhookCredentialsSchema.parse(JSON.parse(plain)));
    const entry = { ciphertext, at: deps.clock.now(), credentials };
    cache.set(tenantId, entry);
    credentials.catch(() => cache.get(tenantId) === entry && cache.delete(tenantId));
    return credentials;
  }

  const answer = (status: WebhookAnswer['status'], text: string, tenantId?: string): WebhookAnswer => {
    deps.telemetry.webhookAnswered(status, tenantId);
    return { status, body: JSON.stringify({ status: text }) };
  };

  return async ({ tenantId, authorization, body }) => {
    if (Buffer.byteLength(body, 'utf8') > WEBHOOK_BODY_LIMIT_BYTES) return answer(413, 'too large');
    const tenant = tenantIdSchema.safeParse(tenantId).success ? await deps.tenants.get(tenantId) : undefined;
    const installed = tenant?.webhook;
    if (!tenant || !installed || !basicAuthMatches(authorization, await credentialsOf(tenantId, installed.secret))) {
      deps.telemetry.warn('webhook delivery refused: wrong or missing credentials', { path: tenantId.slice(0, 40) });
      return answer(401, 'unauthorized');
    }
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch {
      return answer(400, 'not JSON', tenantId);
    }
    const verdict = judgeDelivery(json, installed.companyId);
    if (verdict.kind === 'refuse') {
      deps.telemetry.warn('webhook delivery refused', { tenantId, status: verdict.status, reason: verdict.reason });
      return answer(verdict.status, 'refused', tenantId);
    }
    if (verdict.kind === 'ignore') return answer(200, 'ignored', tenantId);
    const source = webhookSource(json);
    await deps.queueFor('salesOrder').sendAll([dealToReread(tenantId, verdict.dealId, source, deps.clock.now())]);
    deps.telemetry.info('won deal queued from a webhook', { tenantId, dealId: verdict.dealId, source });
    return answer(202, 'queued', tenantId);
  };
}

/** Where a queued deal came from, for the audit's pollId: the webhook and the delivery attempt. */
function webhookSource(json: unknown): string {
  const meta = (json as { meta?: { webhook_id?: unknown; attempt?: unknown } }).meta;
  return `webhook:${String(meta?.webhook_id ?? '?').slice(0, 20)}#${String(meta?.attempt ?? 1).slice(0, 5)}`;
}
