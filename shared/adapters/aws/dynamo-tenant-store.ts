import { GetItemCommand, PutItemCommand, ScanCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { parseTenantConfig, webhookInstallationSchema, type StoredTenant } from '../../config/tenant.ts';
import { errorMessage } from '../../domain/errors.ts';
import type { InvalidTenantItem, TenantStore } from '../../ports/index.ts';
import { readableVersion, s, str, versionOf, type Item, type ItemShape } from './dynamo-items.ts';

/** Tenant items; their versions: ItemShape in dynamo-items.ts. The config inside is read by the current schema. */
const TENANT_ITEM: ItemShape = { name: 'tenant', version: 2 };

/** The connections table (one connection = one tenant): one item per tenant; secrets only as ciphertext. */
export class DynamoTenantStore implements TenantStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly table: string,
  ) {}

  async listEnabled(): Promise<StoredTenant[]> {
    return (await this.list()).filter((t) => t.config.enabled);
  }

  async list(): Promise<StoredTenant[]> {
    return (await this.scan()).tenants;
  }

  async listInvalid(): Promise<InvalidTenantItem[]> {
    return (await this.scan()).invalid;
  }

  private async scan(): Promise<{ tenants: StoredTenant[]; invalid: InvalidTenantItem[] }> {
    const out = { tenants: [] as StoredTenant[], invalid: [] as InvalidTenantItem[] };
    let start: Item | undefined;
    do {
      const res = await this.client.send(new ScanCommand({ TableName: this.table, ConsistentRead: true, ExclusiveStartKey: start }));
      for (const item of res.Items ?? []) {
        try {
          out.tenants.push(fromItem(item));
        } catch (error) {
          out.invalid.push({ tenantId: str(item, 'tenantId') ?? '?', reason: errorMessage(error) });
        }
      }
      start = res.LastEvaluatedKey;
    } while (start);
    return out;
  }

  async get(tenantId: string): Promise<StoredTenant | undefined> {
    const res = await this.client.send(new GetItemCommand({ TableName: this.table, Key: { tenantId: s(tenantId) }, ConsistentRead: true }));
    return res.Item ? fromItem(res.Item) : undefined;
  }

  async put(tenant: StoredTenant): Promise<void> {
    await this.client.send(
      new PutItemCommand({
        TableName: this.table,
        Item: {
          tenantId: s(tenant.config.tenantId),
          config: s(JSON.stringify(tenant.config)),
          qadSecret: s(tenant.encryptedSecrets.qad),
          pipedriveSecret: s(tenant.encryptedSecrets.pipedrive),
          // Optional, so the item version stays: a release without webhooks reads the item as before.
          ...(tenant.webhook && { webhook: s(JSON.stringify(tenant.webhook)) }),
          updatedAt: s(tenant.updatedAt),
          v: versionOf(TENANT_ITEM),
        },
      }),
    );
  }
}

/** A stored config is validated again on read: an item edited by hand cannot slip past the schema. */
function fromItem(item: Item): StoredTenant {
  readableVersion(item, TENANT_ITEM);
  const webhook = str(item, 'webhook');
  return {
    config: parseTenantConfig(JSON.parse(str(item, 'config') ?? '{}')),
    encryptedSecrets: {
      qad: str(item, 'qadSecret') ?? '',
      pipedrive: str(item, 'pipedriveSecret') ?? '',
    },
    ...(webhook !== undefined && { webhook: webhookInstallationSchema.parse(JSON.parse(webhook)) }),
    updatedAt: str(item, 'updatedAt') ?? '',
  };
}
