import { parseTenantConfig, tenantSecretsSchema, type StoredTenant } from '../config/tenant.ts';
import type { Cipher, TenantStore } from '../ports/index.ts';

/**
 * Adds or replaces a tenant: validates the config, encrypts each system's secret under its own
 * encryption context, stores only ciphertext. The operator's CLI and the local run both come here.
 */
export async function registerTenant(
  deps: { tenants: TenantStore; cipher: Cipher; now?: () => number },
  configInput: unknown,
  secretsInput: unknown,
  /** Runs before anything is stored (the operator's add checks the QAD Swagger here); throwing stores nothing. */
  verify?: (tenant: StoredTenant) => Promise<void>,
): Promise<StoredTenant> {
  const config = parseTenantConfig(configInput);
  const secrets = tenantSecretsSchema.safeParse(secretsInput);
  if (!secrets.success) {
    // Name the missing fields only; never echo a value.
    throw new Error(
      `invalid tenant secrets: ${secrets.error.issues
        .map((i) => `${i.path.join('.')} ${i.code === 'invalid_type' ? 'is missing' : 'is invalid'}`)
        .join('; ')}`,
    );
  }
  const { tenantId } = config;
  // The API token, or with OAuth the app's client secret (the tokens themselves come from `connector authorize`).
  const [field, pipedriveSecret] =
    config.pipedrive.auth === 'oauth'
      ? ['pipedriveClientSecret', secrets.data.pipedriveClientSecret]
      : ['pipedriveApiToken', secrets.data.pipedriveApiToken];
  if (pipedriveSecret === undefined)
    throw new Error(`invalid tenant secrets: ${field} is missing (pipedrive.auth is "${config.pipedrive.auth}")`);
  const stored: StoredTenant = {
    config,
    encryptedSecrets: {
      qad: await deps.cipher.encrypt(secrets.data.qadPassword, { tenantId, system: 'qad' }),
      pipedrive: await deps.cipher.encrypt(pipedriveSecret, { tenantId, system: 'pipedrive' }),
    },
    updatedAt: new Date((deps.now ?? Date.now)()).toISOString(),
  };
  // A webhook installed earlier stays: Pipedrive still posts with its pair (`webhook remove` is how it goes).
  const installed = (await deps.tenants.get(tenantId))?.webhook;
  if (installed) stored.webhook = installed;
  await verify?.(stored);
  await deps.tenants.put(stored);
  return stored;
}
