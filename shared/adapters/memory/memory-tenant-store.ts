import { parseTenantConfig, type StoredTenant } from '../../config/tenant.ts';
import type { TenantStore } from '../../ports/index.ts';

/**
 * The connections table in memory: one item per tenant, replaced whole by `put`. The config is kept
 * as JSON and validated again on every read, as DynamoTenantStore does.
 */
export class MemoryTenantStore implements TenantStore {
  private readonly items = new Map<string, { config: string; encryptedSecrets: StoredTenant['encryptedSecrets']; updatedAt: string }>();

  async list(): Promise<StoredTenant[]> {
    return [...this.items.values()].map((item) => ({
      config: parseTenantConfig(JSON.parse(item.config)),
      encryptedSecrets: { ...item.encryptedSecrets },
      updatedAt: item.updatedAt,
    }));
  }

  async listEnabled(): Promise<StoredTenant[]> {
    return (await this.list()).filter((t) => t.config.enabled);
  }

  async get(tenantId: string): Promise<StoredTenant | undefined> {
    return (await this.list()).find((t) => t.config.tenantId === tenantId);
  }

  async put(tenant: StoredTenant): Promise<void> {
    this.items.set(tenant.config.tenantId, {
      config: JSON.stringify(tenant.config),
      encryptedSecrets: { ...tenant.encryptedSecrets },
      updatedAt: tenant.updatedAt,
    });
  }
}
