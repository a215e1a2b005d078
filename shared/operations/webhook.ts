import { randomBytes } from 'node:crypto';
import { allowLoopbackHttp, type StoredTenant } from '../config/tenant.ts';
import { webhookCredentialsSchema, type WebhookCredentials } from '../domain/webhook.ts';
import type { PipedriveClient, PipedriveWebhook } from '../ports/pipedrive.ts';
import type { Cipher, TenantClients, TenantStore } from '../ports/index.ts';
import type { CheckRow } from './check.ts';
import { requireTenant } from './tenants.ts';

export interface WebhookOpsDeps {
  tenants: TenantStore;
  cipher: Cipher;
  clients: TenantClients;
  now?: () => number;
}

export interface WebhookReport {
  tenantId: string;
  action: 'installed' | 'unchanged' | 'removed' | 'absent';
  url?: string;
  /** Pipedrive webhook ids deleted (ours pointing elsewhere, or all of ours on remove). */
  deleted: number[];
  webhookId?: number;
}

/** What the connector subscribes to: deal changes, webhooks v2 (a change to won is judged by the endpoint). */
const EVENT = { event_action: 'change', event_object: 'deal', version: '2.0' } as const;

/** The Basic user names the connector's webhook for a tenant, so `remove` and `check` can tell it from others. */
export const webhookUser = (tenantId: string): string => `connector-${tenantId}`;

const ours = (tenantId: string) => (hook: PipedriveWebhook) => hook.http_auth_user === webhookUser(tenantId);
const pointsAt = (url: string) => (hook: PipedriveWebhook) =>
  hook.subscription_url === url &&
  hook.event_action === EVENT.event_action &&
  hook.event_object === EVENT.event_object &&
  hook.version === EVENT.version;

/** `<prefix><tenantId>`: the stack's output WebhookUrlPrefix ends in `/webhooks/`. HTTPS only, as Pipedrive requires. */
export function webhookUrl(prefix: string, tenantId: string): string {
  const url = new URL(`${prefix.replace(/\/*$/u, '/')}${encodeURIComponent(tenantId)}`);
  const loopback = allowLoopbackHttp() && url.protocol === 'http:' && ['127.0.0.1', 'localhost'].includes(url.hostname);
  if (url.protocol !== 'https:' && !loopback) throw new Error(`webhook URL ${url.href} must be https (Pipedrive posts to https only)`);
  return url.href;
}

/**
 * Creates the tenant's webhook in Pipedrive, idempotently: when Pipedrive already has exactly ours at this URL and
 * the tenant holds its pair, nothing changes. Otherwise a new random pair is stored first (encrypted under the
 * `webhook` context), then our webhooks elsewhere or with an old pair are deleted and one is created: a delivery
 * in between answers 401 and Pipedrive retries it, and the deal poll orders whatever is missed.
 */
export async function installWebhook(deps: WebhookOpsDeps, tenantId: string, urlPrefix: string): Promise<WebhookReport> {
  const tenant = await requireTenant(deps.tenants, tenantId);
  const url = webhookUrl(urlPrefix, tenantId);
  const pipedrive = await deps.clients.pipedrive(tenant);
  const companyId = await pipedrive.companyId();
  const mine = (await pipedrive.listWebhooks()).filter(ours(tenantId));
  const current = mine.find(pointsAt(url));
  if (current && mine.length === 1 && tenant.webhook?.url === url && tenant.webhook.companyId === companyId)
    return { tenantId, action: 'unchanged', url, deleted: [], webhookId: current.id };

  const credentials: WebhookCredentials = webhookCredentialsSchema.parse({
    user: webhookUser(tenantId),
    password: randomBytes(32).toString('base64url'),
  });
  const secret = await deps.cipher.encrypt(JSON.stringify(credentials), { tenantId, system: 'webhook' });
  await deps.tenants.put({ ...tenant, webhook: { url, companyId, secret }, updatedAt: new Date((deps.now ?? Date.now)()).toISOString() });
  const deleted = await deleteAll(pipedrive, mine);
  const created = await pipedrive.createWebhook({
    subscription_url: url,
    ...EVENT,
    http_auth_user: credentials.user,
    http_auth_password: credentials.password,
  });
  return { tenantId, action: 'installed', url, deleted, webhookId: created.id };
}

/** Deletes the tenant's webhooks in Pipedrive and forgets its pair; a tenant without any is left as it is. */
export async function removeWebhook(deps: WebhookOpsDeps, tenantId: string): Promise<WebhookReport> {
  const tenant = await requireTenant(deps.tenants, tenantId);
  const pipedrive = await deps.clients.pipedrive(tenant);
  const deleted = await deleteAll(pipedrive, (await pipedrive.listWebhooks()).filter(ours(tenantId)));
  if (tenant.webhook) {
    const { webhook: _removed, ...rest } = tenant;
    await deps.tenants.put({ ...rest, updatedAt: new Date((deps.now ?? Date.now)()).toISOString() });
  }
  return { tenantId, action: deleted.length > 0 || tenant.webhook ? 'removed' : 'absent', deleted };
}

async function deleteAll(pipedrive: PipedriveClient, hooks: readonly PipedriveWebhook[]): Promise<number[]> {
  for (const hook of hooks) await pipedrive.deleteWebhook(hook.id);
  return hooks.map((h) => h.id);
}

/** For `connector check`: a tenant with webhooks installed has exactly ours in Pipedrive, pointing at its URL. */
export async function webhookCheckRow(pipedrive: PipedriveClient, tenant: StoredTenant): Promise<CheckRow | undefined> {
  const installed = tenant.webhook;
  if (!installed) return undefined;
  const check = 'Pipedrive webhook';
  const mine = (await pipedrive.listWebhooks()).filter(ours(tenant.config.tenantId));
  const fix = `run "connector webhook install ${tenant.config.tenantId}"`;
  if (mine.length === 0) return { check, ok: false, detail: `missing in Pipedrive (deals wait for the poll); ${fix}` };
  const elsewhere = mine.filter((h) => !pointsAt(installed.url)(h));
  const where = (h: PipedriveWebhook) => `${h.event_action}.${h.event_object} v${h.version ?? '?'} -> ${h.subscription_url}`;
  if (elsewhere.length > 0)
    return { check, ok: false, detail: `points elsewhere: ${elsewhere.map(where).join(', ')}; expected ${installed.url}; ${fix}` };
  return { check, ok: true, detail: `change.deal v2.0 -> ${installed.url} (company ${installed.companyId})` };
}
