import type { ClientSystem, StoredTenant } from '../config/tenant.ts';
import { createPipedriveClient, type PipedriveCallInfo, type PipedriveClient } from '../clients/pipedrive-client.ts';
import { apiTokenAuth, oauthAuth } from '../clients/pipedrive-auth.ts';
import { createQadClient, type QadClient, type QadSessions } from '../clients/qad-client.ts';
import type { HttpClient, Sleep } from '../clients/http.ts';
import type { BurstPauses, Cipher, TenantClients, OAuthTokenStore } from '../ports/index.ts';

/** How long a warm container keeps a tenant's decrypted clients before it decrypts again. */
export const CLIENT_MAX_AGE_MS = 15 * 60_000;

/**
 * Builds each tenant's clients once per warm container. Secrets are decrypted on first use and
 * kept only in memory, one entry per tenant and system: a changed tenant (new ciphertext or config,
 * i.e. a rotation) replaces its entry, so the old plaintext is dropped, and an entry older than
 * `maxAgeMs` is rebuilt, so a container never holds a secret for longer than that.
 */
export function createTenantClients(deps: {
  cipher: Cipher;
  http: HttpClient;
  /** The clients' clock: `now` and `sleep` go together (a pacer on a fake clock must also wait on it). */
  now?: () => number;
  sleep?: Sleep;
  onPipedriveCall?: (tenantId: string, info: PipedriveCallInfo) => void;
  onQadCall?: (tenantId: string, info: { endpoint: string; status: number; ms: number }) => void;
  /** Where OAuth tenants' tokens live (needed only for tenants with pipedrive.auth "oauth"). */
  oauthTokens?: OAuthTokenStore;
  onPipedriveRefresh?: (tenantId: string) => void;
  /** Each tenant's burst wait after a 429, shared across containers. */
  burstPauses?: BurstPauses;
  maxAgeMs?: number;
}): TenantClients {
  const now = deps.now ?? Date.now;
  const maxAgeMs = deps.maxAgeMs ?? CLIENT_MAX_AGE_MS;
  const clients = new Map<string, { version: string; builtAt: number; client: Promise<QadClient | PipedriveClient> }>();
  const qadSessions: QadSessions = new Map();

  const secret = (tenant: StoredTenant, system: ClientSystem) =>
    deps.cipher.decrypt(tenant.encryptedSecrets[system], { tenantId: tenant.config.tenantId, system });

  function cached<T extends QadClient | PipedriveClient>(tenant: StoredTenant, system: ClientSystem, build: () => Promise<T>): Promise<T> {
    const key = `${system}|${tenant.config.tenantId}`;
    const version = `${tenant.updatedAt}|${tenant.encryptedSecrets[system]}`;
    const entry = clients.get(key);
    if (entry && entry.version === version && now() - entry.builtAt < maxAgeMs) return entry.client as Promise<T>;
    const fresh = { version, builtAt: now(), client: build() };
    clients.set(key, fresh); // replaces (drops) the tenant's older clients and the plaintext they hold
    // A failed decrypt is retried next time, not cached.
    fresh.client.catch(() => clients.get(key) === fresh && clients.delete(key));
    return fresh.client as Promise<T>;
  }

  return {
    qad(tenant) {
      return cached(tenant, 'qad', async () => {
        const { qad, tenantId } = tenant.config;
        return createQadClient({
          tenantId,
          baseUrl: qad.baseUrl,
          clientId: qad.clientId,
          username: qad.username,
          password: await secret(tenant, 'qad'),
          workspaceId: qad.workspaceId,
          http: deps.http,
          sessions: qadSessions,
          ...(deps.now && { now: deps.now }),
          ...(deps.onQadCall && { onCall: (info) => deps.onQadCall!(tenantId, info) }),
        });
      });
    },
    pipedrive(tenant) {
      return cached(tenant, 'pipedrive', async () => {
        const { tenantId, pipedrive } = tenant.config;
        const stored = await secret(tenant, 'pipedrive');
        let auth = apiTokenAuth(pipedrive.apiBaseUrl, stored);
        if (pipedrive.auth === 'oauth') {
          if (!deps.oauthTokens || !pipedrive.oauthClientId)
            throw new Error(`tenant ${tenantId} uses Pipedrive OAuth, but no token store or client id is configured`);
          auth = oauthAuth({
            tenantId,
            clientId: pipedrive.oauthClientId,
            clientSecret: stored,
            tokenUrl: pipedrive.oauthTokenUrl,
            http: deps.http,
            store: deps.oauthTokens,
            cipher: deps.cipher,
            ...(deps.now && { now: deps.now }),
            ...(deps.sleep && { sleep: deps.sleep }),
            ...(deps.onPipedriveRefresh && { onRefresh: () => deps.onPipedriveRefresh!(tenantId) }),
          });
        }
        return createPipedriveClient({
          auth,
          http: deps.http,
          dailyBudgetShare: pipedrive.dailyBudgetShare,
          ...(deps.now && { now: deps.now }),
          ...(deps.sleep && { sleep: deps.sleep }),
          ...(deps.onPipedriveCall && { onCall: (info) => deps.onPipedriveCall!(tenantId, info) }),
          ...(deps.burstPauses && {
            sharedPause: {
              until: () => deps.burstPauses!.until(tenantId),
              pause: (untilMs: number) => deps.burstPauses!.pause(tenantId, untilMs),
            },
          }),
        });
      });
    },
  };
}
