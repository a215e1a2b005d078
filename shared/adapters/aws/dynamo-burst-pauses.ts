import { GetItemCommand, UpdateItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { BurstPauses } from '../../ports/index.ts';
import { isConditionFailed, n, num, readableVersion, s, versionOf, type ItemShape } from './dynamo-items.ts';

const BURST_PAUSE_ITEM: ItemShape = { name: 'burst-pause', version: 1 };

/**
 * A tenant's burst wait in the sync-state table, one small item under pk T#<tenant>#burst, sk pause:
 * `untilMs`, only ever moved later. Read consistently: a wait written a moment ago must be seen.
 */
export class DynamoBurstPauses implements BurstPauses {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly table: string,
  ) {}

  private key(tenantId: string) {
    return { pk: s(`T#${tenantId}#burst`), sk: s('pause') };
  }

  async until(tenantId: string): Promise<number> {
    const res = await this.client.send(
      new GetItemCommand({ TableName: this.table, Key: this.key(tenantId), ConsistentRead: true, ProjectionExpression: 'untilMs, v' }),
    );
    if (!res.Item) return 0;
    readableVersion(res.Item, BURST_PAUSE_ITEM);
    return num(res.Item, 'untilMs') ?? 0;
  }

  async pause(tenantId: string, untilMs: number): Promise<void> {
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: this.key(tenantId),
          UpdateExpression: 'SET untilMs = :u, v = :v',
          ConditionExpression: 'attribute_not_exists(untilMs) OR untilMs < :u',
          ExpressionAttributeValues: { ':u': n(untilMs), ':v': versionOf(BURST_PAUSE_ITEM) },
        }),
      );
    } catch (error) {
      // A later wait is already recorded: it stands.
      if (!isConditionFailed(error)) throw error;
    }
  }
}
