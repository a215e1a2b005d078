import { parseTenantConfig, webhookInstallationSchema, type StoredTenant } from '../../config/tenant.ts';
import { errorMessage } from '../../domain/errors.ts';
import type { InvalidTenantItem, TenantStore } from '../../ports/index.ts';

/**
 * The connections table in memory: one item per tenant, replaced whole by `put`. The config is kept
 * as JSON and validated again on every read, as DynamoTenantStore does.
 */
type TenantItem = { config: string; encryptedSecrets: StoredTenant['encryptedSecrets']; updatedAt: string; webhook?: string };

/** A stored config is validated again on read: an item edited by hand cannot slip past the schema. */
function fromItem(item: TenantItem): StoredTenant {
  return {
    config: parseTenantConfig(JSON.parse(item.config)),
    encryptedSecrets: { ...item.encryptedSecrets },
    updatedAt: item.updatedAt,
    ...(item.webhook !== undefined && { webhook: webhookInstallationSchema.parse(JSON.parse(item.webhook)) }),
  };
}

export class MemoryTenantStore implements TenantStore {
  private readonly items = new Map<string, TenantItem>();

  async list(): Promise<StoredTenant[]> {
    return (await this.scan()).tenants;
  }

  async listInvalid(): Promise<InvalidTenantItem[]> {
    return (await this.scan()).invalid;
  }

  /** Stores a config as it is, unchecked: an item edited by hand in the table. */
  putUnchecked(tenantId: string, config: unknown): void {
    this.items.set(tenantId, { config: JSON.stringify(config), encryptedSecrets: { qad: '', pipedrive: '' }, updatedAt: '' });
  }

  private async scan(): Promise<{ tenants: StoredTenant[]; invalid: InvalidTenantItem[] }> {
    const out = { tenants: [] as StoredTenant[], invalid: [] as InvalidTenantItem[] };
    for (const [tenantId, item] of this.items) {
      try {
        out.tenants.push(fromItem(item));
      } catch (error) {
        out.invalid.push({ tenantId, reason: errorMessage(error) });
      }
    }
    return out;
  }

  async listEnabled(): Promise<StoredTenant[]> {
    return (await this.list()).filter((t) => t.config.enabled);
  }

  /** One tenant; a stored config that breaks the rules throws, as DynamoTenantStore's does. */
  async get(tenantId: string): Promise<StoredTenant | undefined> {
    const item = this.items.get(tenantId);
    return item && fromItem(item);
  }

  async put(tenant: StoredTenant): Promise<void> {
    this.items.set(tenant.config.tenantId, {
      config: JSON.stringify(tenant.config),
      encryptedSecrets: { ...tenant.encryptedSecrets },
      updatedAt: tenant.updatedAt,
      ...(tenant.webhook && { webhook: JSON.stringify(tenant.webhook) }),
    });
  }
}
