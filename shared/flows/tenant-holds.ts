import { TenantParkedError, exchangeAuthorizationCode, sealTokens } from '../clients/pipedrive-auth.ts';
import type { HttpClient } from '../clients/http.ts';
import { RateLimitedError } from '../domain/errors.ts';
import type {
  AuditLog,
  Cipher,
  Clock,
  EntityName,
  OAuthTokenStore,
  RecordQueue,
  TenantHold,
  TenantHolds,
  TenantStore,
} from '../ports/index.ts';
import { countTenantParked } from '../runtime/observability.ts';
import { parseRecordMessage } from './record-message.ts';

export interface HoldDeps {
  holds: TenantHolds;
  audit: AuditLog;
  clock: Clock;
}

/** SQS lets one receive stay invisible for 12 hours at most. */
const MAX_VISIBILITY_SECONDS = 43_200;
/** Audit key of entries about a tenant's Pipedrive access rather than one record. */
export const ACCESS_KEY = '_pipedrive-access';

/**
 * What an error says about the tenant as a whole, recorded as a hold every writer and poller sees:
 * `invalid_grant` parks it until a person re-authorises (audited and counted once); a spent daily
 * budget (the Pipedrive client says so, from the headers or from 429s that keep coming) closes its
 * gate until the reset. Any other error is the record's own: undefined.
 */
export async function holdFromError(deps: HoldDeps, tenantId: string, entity: EntityName, error: unknown): Promise<TenantHold | undefined> {
  const now = deps.clock.now();
  if (error instanceof TenantParkedError) {
    const since = new Date(now).toISOString();
    if (await deps.holds.park(tenantId, error.message, since)) {
      await deps.audit.record({
        tenantId,
        entity,
        key: ACCESS_KEY,
        action: 'failed',
        reason: 'tenant parked: its Pipedrive work is held (not retried, not dead-lettered) until a person re-authorises',
        error: error.message,
      });
      countTenantParked(tenantId);
    }
    return { kind: 'parked', reason: error.message, since };
  }
  if (error instanceof RateLimitedError && error.dailyBudgetSpent) {
    const untilMs = now + error.resetSeconds * 1000;
    await deps.holds.closeBudgetGate(tenantId, untilMs, error.message);
    await deps.audit.record({
      tenantId,
      entity,
      key: ACCESS_KEY,
      action: 'deferred',
      reason: `Pipedrive's daily token budget is spent: no Pipedrive calls for this tenant until ${new Date(untilMs).toISOString()}`,
      error: error.message,
    });
    return { kind: 'budget', untilMs, reason: error.message };
  }
  return undefined;
}

/**
 * A poll skips a held tenant without touching its watermark (it catches up once the hold ends), and
 * says so in the audit; a parked tenant is counted on every skip, so its alarm stays raised.
 */
export async function skipHeldTenant(deps: HoldDeps, tenantId: string, entity: EntityName): Promise<boolean> {
  const hold = await deps.holds.current(tenantId, deps.clock.now());
  if (!hold) return false;
  if (hold.kind === 'parked') countTenantParked(tenantId);
  const why =
    hold.kind === 'parked'
      ? `tenant parked until Pipedrive is re-authorised (${hold.reason})`
      : `daily token budget spent until ${new Date(hold.untilMs).toISOString()}`;
  await deps.audit.record({
    tenantId,
    entity,
    key: '_poll',
    action: 'skipped',
    reason: `not polled: ${why}; the watermark stays where it was`,
  });
  return true;
}

/**
 * How long a message waits for a closed budget gate: until the reset plus a little jitter (so the
 * tenant's messages do not all return in the same second), at most SQS's 12 hours. A day's gate thus
 * costs a message at most three receives, far below maxReceiveCount.
 */
export function gateVisibilitySeconds(untilMs: number, nowMs: number): number {
  return Math.min(MAX_VISIBILITY_SECONDS, Math.max(1, Math.ceil((untilMs - nowMs) / 1000)) + Math.floor(Math.random() * 30));
}

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
