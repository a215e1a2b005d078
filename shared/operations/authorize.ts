import { exchangeAuthorizationCode, sealTokens } from '../clients/pipedrive-auth.ts';
import type { HttpClient } from '../clients/http.ts';
import { PARKED_CAUSE } from '../domain/errors.ts';
import type { Cipher, OAuthTokenStore, TenantStore } from '../ports/index.ts';
import { ACCESS_KEY, releaseHeld, type HoldDeps, type ReleaseDeps } from '../flows/tenant-holds.ts';

/**
 * `connector authorize`: exchanges a person's authorisation code for the first tokens, stores them
 * encrypted, unparks the tenant and puts the messages held because it was parked back on their queues.
 */
export async function authorizeTenant(
  deps: HoldDeps &
    ReleaseDeps & {
      tenants: TenantStore;
      oauthTokens: OAuthTokenStore;
      cipher: Cipher;
      http: HttpClient;
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
  // Only what waited for the re-authorisation: a drift or a disabled tenant's messages wait for their own cause.
  const released = await releaseHeld(deps, tenantId, PARKED_CAUSE);
  await deps.audit.record({
    tenantId,
    entity: 'organization',
    key: ACCESS_KEY,
    action: 'updated',
    reason: `Pipedrive re-authorised (API domain ${tokens.apiDomain}); tenant unparked, ${released} held messages back on their queues`,
  });
  return { apiDomain: tokens.apiDomain, released };
}
