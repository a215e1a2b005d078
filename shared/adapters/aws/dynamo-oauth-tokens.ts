import { GetItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { OAuthTokenStore, StoredOAuthTokens } from '../../ports/index.ts';
import { n, nowOf, num, s, str, updateIf, type AdapterTime, type Item } from './dynamo-items.ts';

/**
 * A tenant's Pipedrive OAuth tokens in the sync-state table (pk T#<tenant>#pipedrive-oauth, sk tokens):
 * ciphertext, a version, and the refresh lease. Every write is conditional on the version, so of many
 * writers that find the token expiring exactly one refreshes, and a stored token is never overwritten
 * by an older one. Kept apart from the tenant item, which `tenant add` and `disable` replace whole.
 */
export class DynamoOAuthTokenStore implements OAuthTokenStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly table: string,
    /** The clock `savedAt` is read from (tests pass a fake). */
    private readonly time: Pick<AdapterTime, 'now'> = {},
  ) {}

  private key(tenantId: string): Item {
    return { pk: s(`T#${tenantId}#pipedrive-oauth`), sk: s('tokens') };
  }

  async get(tenantId: string): Promise<StoredOAuthTokens | undefined> {
    const res = await this.client.send(new GetItemCommand({ TableName: this.table, Key: this.key(tenantId), ConsistentRead: true }));
    const version = num(res.Item, 'version');
    const ciphertext = str(res.Item, 'ciphertext');
    if (version === undefined || ciphertext === undefined) return undefined;
    const until = num(res.Item, 'refreshUntil');
    return { version, ciphertext, ...(until !== undefined && { refreshingUntil: until }) };
  }

  beginRefresh(tenantId: string, version: number, owner: string, leaseMs: number, nowMs: number): Promise<boolean> {
    return updateIf(this.client, {
      table: this.table,
      key: this.key(tenantId),
      update: 'SET refreshOwner = :o, refreshUntil = :u',
      condition: 'version = :v AND (attribute_not_exists(refreshUntil) OR refreshUntil < :now)',
      values: { ':o': s(owner), ':u': n(nowMs + leaseMs), ':v': n(version), ':now': n(nowMs) },
    });
  }

  save(tenantId: string, expectedVersion: number | undefined, ciphertext: string): Promise<boolean> {
    return updateIf(this.client, {
      table: this.table,
      key: this.key(tenantId),
      update: 'SET version = :next, ciphertext = :c, savedAt = :at REMOVE refreshOwner, refreshUntil',
      condition: expectedVersion === undefined ? 'attribute_not_exists(version)' : 'version = :v',
      values: {
        ':next': n((expectedVersion ?? 0) + 1),
        ':c': s(ciphertext),
        ':at': s(new Date(nowOf(this.time)).toISOString()),
        ...(expectedVersion !== undefined && { ':v': n(expectedVersion) }),
      },
    });
  }
}
