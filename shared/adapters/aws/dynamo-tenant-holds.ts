import { DeleteItemCommand, PutItemCommand, QueryCommand, type DynamoDBClient, type QueryCommandOutput } from '@aws-sdk/client-dynamodb';
import { heldUntil, TABLES } from '../../config/tables.ts';
import {
  recordHoldPrefix,
  type EntityName,
  type HeldMessage,
  type HoldDetail,
  type TenantHold,
  type TenantHolds,
} from '../../ports/index.ts';
import { isConditionFailed, n, num, readableVersion, s, str, versionOf, type Item, type ItemShape } from './dynamo-items.ts';

/** Hold items; their versions: ItemShape in dynamo-items.ts (a held message's body has its own). */
const HOLD_ITEM: ItemShape = { name: 'hold', version: 2 };

/**
 * Holds per tenant in the sync-state table, under pk T#<tenant>#holds:
 *   parked        a person must re-authorise Pipedrive (reason, since)
 *   budget        the daily token budget is spent until `untilMs`
 *   held#<msgId>  a message kept here instead of on the queue (no receive loop, no DLQ), with its cause:
 *                 'parked' or 'drift:<entity>' (a mapped field drifted), for HELD_MESSAGE_DAYS (TTL on
 *                 expiresAt; reads skip an expired one, since DynamoDB removes it only some time later)
 *   held#r#<entity>#<key>#<cause>  a record held for a person (ambiguous, possible duplicate, waiting ...), once
 *                 per record and cause, with `reason` and `candidates` ([{id, name}]) for an operator
 */
export class DynamoTenantHolds implements TenantHolds {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly table: string,
    private readonly now: () => number = Date.now,
  ) {}

  private pk(tenantId: string) {
    return s(`T#${tenantId}#holds`);
  }

  async current(tenantId: string, nowMs: number): Promise<TenantHold | undefined> {
    const res: QueryCommandOutput = await this.client.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk AND sk BETWEEN :a AND :b',
        ExpressionAttributeValues: { ':pk': this.pk(tenantId), ':a': s('budget'), ':b': s('parked') },
        ConsistentRead: true,
      }),
    );
    for (const item of res.Items ?? []) readableVersion(item, HOLD_ITEM);
    const items = new Map((res.Items ?? []).map((item) => [str(item, 'sk'), item]));
    const parked = items.get('parked');
    if (parked) return { kind: 'parked', reason: str(parked, 'reason') ?? '', since: str(parked, 'since') ?? '' };
    const budget = items.get('budget');
    const untilMs = num(budget, 'untilMs');
    if (untilMs !== undefined && untilMs > nowMs) return { kind: 'budget', untilMs, reason: str(budget, 'reason') ?? '' };
    return undefined;
  }

  async park(tenantId: string, reason: string, at: string): Promise<boolean> {
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.table,
          Item: { pk: this.pk(tenantId), sk: s('parked'), reason: s(reason), since: s(at), v: versionOf(HOLD_ITEM) },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailed(error)) return false;
      throw error;
    }
  }

  async unpark(tenantId: string): Promise<void> {
    await this.client.send(new DeleteItemCommand({ TableName: this.table, Key: { pk: this.pk(tenantId), sk: s('parked') } }));
  }

  async closeBudgetGate(tenantId: string, untilMs: number, reason: string): Promise<void> {
    await this.client.send(
      new PutItemCommand({
        TableName: this.table,
        Item: { pk: this.pk(tenantId), sk: s('budget'), untilMs: n(untilMs), reason: s(reason), v: versionOf(HOLD_ITEM) },
      }),
    );
  }

  async hold(tenantId: string, messageId: string, body: string, cause = 'parked', detail?: HoldDetail): Promise<boolean> {
    const res = await this.client.send(
      new PutItemCommand({
        TableName: this.table,
        Item: {
          pk: this.pk(tenantId),
          sk: s(`held#${messageId}`),
          body: s(body),
          cause: s(cause),
          ...(detail && { reason: s(detail.reason) }),
          ...(detail?.candidates && { candidates: { L: detail.candidates.map((c) => ({ M: { id: n(c.id), name: s(c.name) } })) } }),
          [TABLES.syncState.ttlAttribute]: n(heldUntil(this.now())),
          v: versionOf(HOLD_ITEM),
        },
        ReturnValues: 'ALL_OLD',
      }),
    );
    return !res.Attributes || !this.live(res.Attributes);
  }

  async held(tenantId: string, cause?: string): Promise<HeldMessage[]> {
    return this.query(tenantId, 'held#', cause);
  }

  async heldRecord(tenantId: string, entity: EntityName, key: string): Promise<HeldMessage[]> {
    return this.query(tenantId, `held#${recordHoldPrefix(entity, key)}`);
  }

  /** DynamoDB removes an expired item only some time after its TTL: reads skip it. */
  private live(item: Item): boolean {
    const expiresAt = num(item, TABLES.syncState.ttlAttribute);
    return expiresAt === undefined || expiresAt > this.now() / 1000;
  }

  private async query(tenantId: string, prefix: string, cause?: string): Promise<HeldMessage[]> {
    const out: HeldMessage[] = [];
    let start: Item | undefined;
    do {
      const res: QueryCommandOutput = await this.client.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :p)',
          ExpressionAttributeValues: { ':pk': this.pk(tenantId), ':p': s(prefix), ...(cause !== undefined && { ':c': s(cause) }) },
          ...(cause !== undefined && { FilterExpression: 'cause = :c' }),
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      for (const item of res.Items ?? []) {
        readableVersion(item, HOLD_ITEM);
        if (this.live(item)) out.push(heldMessageOf(item));
      }
      start = res.LastEvaluatedKey;
    } while (start);
    return out;
  }

  async release(tenantId: string, messageId: string): Promise<void> {
    await this.client.send(new DeleteItemCommand({ TableName: this.table, Key: { pk: this.pk(tenantId), sk: s(`held#${messageId}`) } }));
  }
}

function heldMessageOf(item: Item): HeldMessage {
  const reason = str(item, 'reason');
  const candidates = item.candidates?.L?.map((c) => ({ id: Number(c.M?.id?.N ?? '0'), name: c.M?.name?.S ?? '' }));
  return {
    messageId: (str(item, 'sk') ?? '').slice('held#'.length),
    body: str(item, 'body') ?? '',
    cause: str(item, 'cause') ?? 'parked',
    ...(reason !== undefined && { reason }),
    ...(candidates && { candidates }),
  };
}
