/**
 * The local run with `--auth oauth`: the Pipedrive simulator serves OAuth2 with short-lived access
 * tokens, the demo tenant is registered with the app's client id and secret, and a person's consent is
 * played by asking the simulator for an authorisation code, which goes through the same
 * `authorizeTenant` flow as `connector authorize`.
 */
import { DynamoAuditLog } from '../../shared/adapters/aws/dynamo-audit-log.ts';
import { DynamoOAuthTokenStore } from '../../shared/adapters/aws/dynamo-oauth-tokens.ts';
import { DynamoTenantHolds } from '../../shared/adapters/aws/dynamo-tenant-holds.ts';
import { DynamoTenantStore } from '../../shared/adapters/aws/dynamo-tenant-store.ts';
import { SqsRecordQueue } from '../../shared/adapters/aws/sqs-queue.ts';
import { createHttpClient } from '../../shared/clients/http.ts';
import type { TenantConfigInput } from '../../shared/config/tenant.ts';
import { authorizeTenant } from '../../shared/operations/authorize.ts';
import type { Cipher } from '../../shared/ports/index.ts';
import { systemClock } from '../../shared/runtime/dependencies.ts';
import { powertoolsTelemetry } from '../../shared/runtime/observability.ts';
import { entityRegistry } from '../../shared/flows/registry.ts';
import type { PipedriveOAuthOptions, PipedriveSim } from '../simulators/pipedrive/index.ts';
import type { LocalAws } from './aws-stand-ins.ts';

export type LocalAuth = 'token' | 'oauth';

const CLIENT_ID = 'local-demo-oauth-app';
export const CLIENT_SECRET = 'local-demo-oauth-client-secret-0123456789';
const REDIRECT_URI = 'https://connector.example.com/oauth/callback';

/** The simulator's OAuth option, or nothing with the API token. */
export function simulatorOAuth(auth: LocalAuth, tokenTtlSeconds: number): { oauth?: PipedriveOAuthOptions } {
  return auth === 'oauth' ? { oauth: { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, accessTokenTtlSeconds: tokenTtlSeconds } } : {};
}

/** The demo tenant's Pipedrive config and secret for the chosen auth. */
export function tenantPipedrive(
  auth: LocalAuth,
  simUrl: string,
  apiToken: string,
): { config: TenantConfigInput['pipedrive']; secret: { pipedriveApiToken: string } | { pipedriveClientSecret: string } } {
  if (auth === 'token') return { config: { apiBaseUrl: simUrl }, secret: { pipedriveApiToken: apiToken } };
  return {
    config: {
      apiBaseUrl: simUrl,
      auth: 'oauth',
      oauthClientId: CLIENT_ID,
      oauthTokenUrl: `${simUrl}/oauth/token`,
      allowOtherOAuthTokenUrl: true,
    },
    secret: { pipedriveClientSecret: CLIENT_SECRET },
  };
}

function holds(aws: LocalAws): DynamoTenantHolds {
  return new DynamoTenantHolds(aws.dynamo, aws.env.SYNC_STATE_TABLE);
}

/** A person's consent, played by the simulator; then the operator's `authorize` path stores the first tokens. */
export async function authorizeDemoTenant(aws: LocalAws, cipher: Cipher, pipedrive: PipedriveSim, tenantId: string): Promise<void> {
  if (!pipedrive.oauth) throw new Error('the Pipedrive simulator was started without OAuth');
  await authorizeTenant(
    {
      tenants: new DynamoTenantStore(aws.dynamo, aws.env.CONNECTIONS_TABLE),
      oauthTokens: new DynamoOAuthTokenStore(aws.dynamo, aws.env.SYNC_STATE_TABLE),
      holds: holds(aws),
      audit: new DynamoAuditLog(aws.dynamo, aws.env.AUDIT_TABLE, 1),
      cipher,
      http: createHttpClient(),
      clock: systemClock,
      telemetry: powertoolsTelemetry,
      queueFor: (entity) => new SqsRecordQueue(aws.sqs, aws.queue(entityRegistry.byEntity(entity).queue).url),
    },
    tenantId,
    { code: pipedrive.oauth.issueCode(REDIRECT_URI), redirectUri: REDIRECT_URI },
  );
}

export interface AuthReport {
  mode: LocalAuth;
  /** refresh_token grants the simulator answered during the run */
  refreshes: number;
  codeExchanges: number;
  invalidGrants: number;
  parkedTenants: string[];
}

export async function authReport(
  auth: LocalAuth,
  aws: LocalAws,
  pipedrive: PipedriveSim,
  tenantIds: readonly string[],
): Promise<AuthReport> {
  const stats = pipedrive.oauth?.stats() ?? { refreshes: 0, codeExchanges: 0, invalidGrants: 0 };
  const parkedTenants: string[] = [];
  for (const id of tenantIds) if ((await holds(aws).current(id, Date.now()))?.kind === 'parked') parkedTenants.push(id);
  return { mode: auth, ...stats, parkedTenants };
}
