import {
  UpdateItemCommand,
  BatchGetItemCommand,
  BatchWriteItemCommand,
  type AttributeValue,
  type BatchGetItemCommandOutput,
  type BatchWriteItemCommandOutput,
  type DynamoDBClient,
  type KeysAndAttributes,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { sleep } from '../../clients/http.ts';
import { RetryLaterError } from '../../domain/errors.ts';

export type Item = Record<string, AttributeValue>;

/**
 * What an adapter stamps writes with and how it waits between retries: the real clock and timers
 * unless a test passes its own (a Clock fits). Called as methods, so an object's `this` is kept.
 */
export interface AdapterTime {
  now?(): number;
  sleep?(ms: number): Promise<void>;
}

export const nowOf = (time: AdapterTime): number => (time.now ? time.now() : Date.now());
export const pause = (time: AdapterTime, ms: number): Promise<void> => (time.sleep ? time.sleep(ms) : sleep(ms));

export const s = (value: string): AttributeValue => ({ S: value });
export const n = (value: number): AttributeValue => ({ N: String(value) });

export function str(item: Item | undefined, name: string): string | undefined {
  const v = item?.[name];
  return v && 'S' in v ? v.S : undefined;
}

export function num(item: Item | undefined, name: string): number | undefined {
  const v = item?.[name];
  return v && 'N' in v && v.N !== undefined ? Number(v.N) : undefined;
}

/**
 * A stored shape and its current version. Every item an adapter writes carries `v`, its shape's version; items a
 * release before 0.2.0 wrote carry none and are version 1. Version 2 of every shape is version 1 plus `v`, so
 * there is nothing to convert yet; the next change of a shape converts its previous version in its reader.
 */
export interface ItemShape {
  readonly name: string;
  readonly version: number;
}

/** The `v` attribute that marks an item as written in the current shape. */
export const versionOf = (shape: ItemShape): AttributeValue => n(shape.version);

/**
 * An item's version, if this release reads it: the current or the previous one. An item of a newer version (a
 * later release wrote it, met after a rollback) is refused rather than half-read, as "try later".
 */
export function readableVersion(item: Item, shape: ItemShape): number {
  const version = num(item, 'v') ?? 1;
  if (version === shape.version || version === shape.version - 1) return version;
  throw new RetryLaterError(
    `a ${shape.name} item of version ${version}: this release reads versions ${shape.version - 1} and ${shape.version}` +
      (version > shape.version ? ' (a newer release wrote it; finish the upgrade)' : ''),
  );
}

export function isConditionFailed(error: unknown): boolean {
  return (error as { name?: string }).name === 'ConditionalCheckFailedException';
}

/** BatchGetItem in chunks of 100, following UnprocessedKeys (after a backoff) until every key was read. */
export async function batchGet(client: DynamoDBClient, table: string, keys: Item[], time: AdapterTime = {}): Promise<Item[]> {
  const out: Item[] = [];
  for (let i = 0; i < keys.length; i += 100) {
    let request: Record<string, KeysAndAttributes> | undefined = { [table]: { Keys: keys.slice(i, i + 100), ConsistentRead: true } };
    for (let attempt = 0; request && Object.keys(request).length > 0; attempt++) {
      if (attempt > 0) await pause(time, Math.min(50 * 2 ** attempt, 2000));
      const res: BatchGetItemCommandOutput = await client.send(new BatchGetItemCommand({ RequestItems: request }));
      out.push(...(res.Responses?.[table] ?? []));
      request = res.UnprocessedKeys;
    }
  }
  return out;
}

/** BatchWriteItem in chunks of 25, following UnprocessedItems (after a backoff) until every write landed. */
export async function batchPut(client: DynamoDBClient, table: string, items: Item[], time: AdapterTime = {}): Promise<void> {
  for (let i = 0; i < items.length; i += 25) {
    let request: Record<string, WriteRequest[]> | undefined = { [table]: items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })) };
    for (let attempt = 0; request && Object.keys(request).length > 0; attempt++) {
      if (attempt > 0) await pause(time, Math.min(50 * 2 ** attempt, 2000));
      const res: BatchWriteItemCommandOutput = await client.send(new BatchWriteItemCommand({ RequestItems: request }));
      request = res.UnprocessedItems;
    }
  }
}

/** A conditional UpdateItem that answers false, instead of throwing, when the condition does not hold. */
export async function updateIf(
  client: DynamoDBClient,
  input: { table: string; key: Item; update: string; condition: string; values: Item; names?: Record<string, string> },
): Promise<boolean> {
  try {
    await client.send(
      new UpdateItemCommand({
        TableName: input.table,
        Key: input.key,
        UpdateExpression: input.update,
        ConditionExpression: input.condition,
        ExpressionAttributeValues: input.values,
        ...(input.names && { ExpressionAttributeNames: input.names }),
      }),
    );
    return true;
  } catch (error) {
    if (isConditionFailed(error)) return false;
    throw error;
  }
}
