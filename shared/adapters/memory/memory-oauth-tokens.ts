import type { OAuthTokenStore, StoredOAuthTokens } from '../../ports/index.ts';

/**
 * Pipedrive OAuth tokens in memory, as DynamoOAuthTokenStore keeps them: every write conditional on
 * the version, the refresh lease taken only on the stored version once any earlier lease ran out,
 * and ended by the save.
 */
export class MemoryOAuthTokenStore implements OAuthTokenStore {
  private readonly items = new Map<string, StoredOAuthTokens & { refreshOwner?: string }>();

  async get(tenantId: string): Promise<StoredOAuthTokens | undefined> {
    const item = this.items.get(tenantId);
    if (!item) return undefined;
    return {
      version: item.version,
      ciphertext: item.ciphertext,
      ...(item.refreshingUntil !== undefined && { refreshingUntil: item.refreshingUntil }),
    };
  }

  async beginRefresh(tenantId: string, version: number, owner: string, leaseMs: number, nowMs: number): Promise<boolean> {
    const item = this.items.get(tenantId);
    if (item?.version !== version || (item.refreshingUntil !== undefined && !(item.refreshingUntil < nowMs))) return false;
    item.refreshOwner = owner;
    item.refreshingUntil = nowMs + leaseMs;
    return true;
  }

  async save(tenantId: string, expectedVersion: number | undefined, ciphertext: string): Promise<boolean> {
    if (this.items.get(tenantId)?.version !== expectedVersion) return false;
    this.items.set(tenantId, { version: (expectedVersion ?? 0) + 1, ciphertext });
    return true;
  }
}
