import { exchangeAuthorizationCode, sealTokens } from '../clients/pipedrive-auth.ts';
import type { HttpClient } from '../clients/http.ts';
import type { Cipher, EntityName, OAuthTokenStore, RecordQueue, TenantStore } from '../ports/index.ts';
import { parseRecordMessage } from '../flows/record-message.ts';
import { ACCESS_KEY, type HoldDeps } from '../flows/tenant-holds.ts';

/**
 * `connector authorize`: exchanges a person's authorisation code for the first tokens, stores them
 * encrypted, unparks the tenant and puts every message held while it was parked back on its queue.
 */
export async function authorizeTenant(
  deps: HoldDeps & {
    tenants: TenantStore;
    oauthTokens: OAuthTokenStore;
    cipher: Cipher;
    http: HttpClient;
    queueFor(entity: EntityName): RecordQueue;
  },
  tenantId: string,
  grant: { code: string; redirectUri: string },
): Promise<{ apiDomain: string; released: number }> {
  const tenant = await deps.tenants.get(tenantId);
  if (!tenant) throw new Error(`no tenant "${tenantId}"; see "connector tenant list"`);
  const { pipedrive } = tenant.config;
  if (pipedrive.auth !== 'oauth' || !pipedrive.oauthClientId)
    throw new Error(`tenant ${tenantId} uses the Pipedrive API token; set pipedrive.auth to "oauth" and pipedrive.oauthClientId first`);
  const clientSecret = await deps.cipher.decrypt(tenant.encryptedSecrets.pipedrive, { tenantId, system: 'pipedrive' });
  const tokens = await exchangeAuthorizationCode(
    {
      tenantId,
      clientId: pipedrive.oauthClientId,
      clientSecret,
      tokenUrl: pipedrive.oauthTokenUrl,
      http: deps.http,
      now: () => deps.clock.now(),
    },
    grant.code,
    grant.redirectUri,
  );
  const sealed = await sealTokens(deps.cipher, tenantId, tokens);
  // Conditional on the version read: a refresh finishing at this moment cannot overwrite the new tokens unnoticed.
  for (let attempt = 0; !(await deps.oauthTokens.save(tenantId, (await deps.oauthTokens.get(tenantId))?.version, sealed)); attempt++) {
    if (attempt >= 5) throw new Error(`could not store the new tokens of tenant ${tenantId}: the stored token kept changing`);
  }
  await deps.holds.unpark(tenantId);
  let released = 0;
  for (const { messageId, body } of await deps.holds.held(tenantId)) {
    const message = parseRecordMessage(body);
    if (message.ok) {
      await deps.queueFor(message.value.entity).sendAll([message.value]);
      released++;
    }
    await deps.holds.release(tenantId, messageId);
  }
  await deps.audit.record({
    tenantId,
    entity: 'organization',
    key: ACCESS_KEY,
    action: 'updated',
    reason: `Pipedrive re-authorised (API domain ${tokens.apiDomain}); tenant unparked, ${released} held messages back on their queues`,
  });
  return { apiDomain: tokens.apiDomain, released };
}
