import { parseTenantConfig, type StoredTenant } from '../config/tenant.ts';
import { DISABLED_CAUSE } from '../domain/errors.ts';
import { releaseHeld, type ReleaseDeps } from '../flows/tenant-holds.ts';
import type { Cipher, TenantClients, TenantStore } from '../ports/index.ts';
import { registerTenant } from './register-tenant.ts';
import { verifyQadPaths } from './check.ts';

/** What an operator may see of a tenant: the config, and only that secrets exist. */
export function describeTenant(tenant: StoredTenant): Record<string, unknown> {
  const webhook = tenant.webhook && { url: tenant.webhook.url, companyId: tenant.webhook.companyId, credentials: '[encrypted]' };
  const secrets = { qad: '[encrypted]', pipedrive: '[encrypted]' };
  return { ...tenant.config, secrets, ...(webhook && { webhook }), updatedAt: tenant.updatedAt };
}

/**
 * Adds or replaces a tenant once its QAD instance serves every configured entity path and method
 * (read from its Swagger); `verify: false` stores it unchecked, for an instance that is not reachable yet.
 */
export async function addTenant(
  deps: { tenants: TenantStore; cipher: Cipher; clients: TenantClients },
  config: unknown,
  secrets: unknown,
  options: { verify?: boolean } = {},
): Promise<StoredTenant> {
  return registerTenant(deps, config, secrets, options.verify === false ? undefined : (tenant) => verifyQadPaths(deps.clients, tenant));
}

/**
 * Disabling keeps the tenant's state (key map, watermarks, audit) and writers hold its in-flight messages;
 * enabling it again puts those back on their queues, so it resumes where it stopped.
 */
export async function setTenantEnabled(
  deps: ReleaseDeps & { tenants: TenantStore },
  tenantId: string,
  enabled: boolean,
): Promise<StoredTenant & { released: number }> {
  const { tenants } = deps;
  const tenant = await tenants.get(tenantId);
  if (!tenant) throw new Error(`no tenant "${tenantId}"; see "connector tenant list"`);
  const updated: StoredTenant = {
    ...tenant,
    config: parseTenantConfig({ ...tenant.config, enabled }),
    updatedAt: new Date().toISOString(),
  };
  await tenants.put(updated);
  return { ...updated, released: enabled ? await releaseHeld(deps, tenantId, DISABLED_CAUSE) : 0 };
}

export async function requireTenant(tenants: TenantStore, tenantId: string): Promise<StoredTenant> {
  const tenant = await tenants.get(tenantId);
  if (!tenant) throw new Error(`no tenant "${tenantId}"; see "connector tenant list"`);
  return tenant;
}
