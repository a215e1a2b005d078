import { randomUUID } from 'node:crypto';
import { PutItemCommand, QueryCommand, type DynamoDBClient, type QueryCommandInput } from '@aws-sdk/client-dynamodb';
import { MAX_FIELDS, redact } from '../../domain/redact.ts';
import type { AuditDetail, AuditEntry, AuditLog, EntityName, TimedAuditEntry } from '../../ports/index.ts';
import { TABLES } from '../../config/tables.ts';
import { batchDelete, batchPut, n, num, readableVersion, s, str, versionOf, type Item, type ItemShape } from './dynamo-items.ts';

/** Audit items; their versions: ItemShape in dynamo-items.ts. */
const AUDIT_ITEM: ItemShape = { name: 'audit', version: 2 };

/**
 * Audit table: pk = tenant#entity#key, sk = time#id (a record's history, newest first), and the
 * GSI byTenantTime (tenantId, at) for "what happened to tenant X between these times".
 * Entries expire after the retention (TTL on expiresAt).
 */
/** Orders entries written by one container within the same millisecond. */
let sequence = 0;

export class DynamoAuditLog implements AuditLog {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly table: string,
    private readonly retentionDays: number,
    private readonly now: () => number = Date.now,
  ) {}

  async record(entry: AuditEntry): Promise<void> {
    await this.client.send(new PutItemCommand({ TableName: this.table, Item: this.itemOf(entry, new Date(this.now()).toISOString()) }));
  }

  async recordAll(entries: readonly TimedAuditEntry[]): Promise<void> {
    await batchPut(
      this.client,
      this.table,
      entries.map((e) => this.itemOf(e, e.at)),
    );
  }

  private itemOf(entry: AuditEntry, at: string): Item {
    const item: Item = {
      pk: s(`${entry.tenantId}#${entry.entity}#${entry.key}`),
      sk: s(`${at}#${String(sequence++ % 1e6).padStart(6, '0')}#${randomUUID()}`),
      tenantId: s(entry.tenantId),
      entity: s(entry.entity),
      key: s(entry.key),
      at: s(at),
      action: s(entry.action),
      expiresAt: n(Math.floor(this.now() / 1000) + this.retentionDays * 86_400),
      v: versionOf(AUDIT_ITEM),
    };
    if (entry.reason) item.reason = s(entry.reason.slice(0, 2000));
    if (entry.error) item.error = s(entry.error.slice(0, 2000));
    if (entry.pipedriveId !== undefined) item.pipedriveId = n(entry.pipedriveId);
    if (entry.attempt !== undefined) item.attempt = n(entry.attempt);
    if (entry.messageId) item.messageId = s(entry.messageId);
    if (entry.contentHash) item.contentHash = s(entry.contentHash);
    if (entry.fields?.length) item.fields = s(JSON.stringify(entry.fields.slice(0, MAX_FIELDS)));
    if (entry.detail !== undefined) item.detail = s(JSON.stringify(redact(entry.detail)));
    return item;
  }

  history(tenantId: string, entity: EntityName, key: string): Promise<Array<AuditEntry & { at: string }>> {
    return this.queryAll({
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': s(`${tenantId}#${entity}#${key}`) },
      ScanIndexForward: false,
    });
  }

  async byTenant(tenantId: string, from: string, to: string): Promise<Array<AuditEntry & { at: string }>> {
    const entries = await this.queryAll({
      IndexName: TABLES.audit.byTenantTime.indexName,
      KeyConditionExpression: 'tenantId = :t AND #at BETWEEN :from AND :to',
      ExpressionAttributeNames: { '#at': 'at' },
      ExpressionAttributeValues: { ':t': s(tenantId), ':from': s(from), ':to': s(to) },
    });
    return entries.filter((e) => e.at < to);
  }

  async erase(tenantId: string, entity: EntityName, key: string): Promise<number> {
    const keys: Item[] = [];
    let start: Item | undefined;
    do {
      const res = await this.client.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': s(`${tenantId}#${entity}#${key}`), ':erased': s('erased') },
          FilterExpression: '#action <> :erased',
          ExpressionAttributeNames: { '#action': 'action' },
          ProjectionExpression: 'pk, sk',
          ExclusiveStartKey: start,
        }),
      );
      keys.push(...(res.Items ?? []));
      start = res.LastEvaluatedKey;
    } while (start);
    await batchDelete(this.client, this.table, keys);
    return keys.length;
  }

  private async queryAll(input: Omit<QueryCommandInput, 'TableName' | 'ExclusiveStartKey'>): Promise<Array<AuditEntry & { at: string }>> {
    const out: Array<AuditEntry & { at: string }> = [];
    let start: Item | undefined;
    do {
      const res = await this.client.send(new QueryCommand({ ...input, TableName: this.table, ExclusiveStartKey: start }));
      for (const item of res.Items ?? []) out.push(fromItem(item));
      start = res.LastEvaluatedKey;
    } while (start);
    return out;
  }
}

function fromItem(item: Item): AuditEntry & { at: string } {
  readableVersion(item, AUDIT_ITEM);
  const entry: AuditEntry & { at: string } = {
    tenantId: str(item, 'tenantId')!,
    entity: str(item, 'entity') as EntityName,
    key: str(item, 'key')!,
    action: str(item, 'action') as AuditEntry['action'],
    at: str(item, 'at')!,
  };
  const reason = str(item, 'reason');
  if (reason) entry.reason = reason;
  const error = str(item, 'error');
  if (error) entry.error = error;
  const id = num(item, 'pipedriveId');
  if (id !== undefined) entry.pipedriveId = id;
  const attempt = num(item, 'attempt');
  if (attempt !== undefined) entry.attempt = attempt;
  const messageId = str(item, 'messageId');
  if (messageId) entry.messageId = messageId;
  const contentHash = str(item, 'contentHash');
  if (contentHash) entry.contentHash = contentHash;
  const fields = str(item, 'fields');
  if (fields) entry.fields = JSON.parse(fields) as string[];
  const detail = str(item, 'detail');
  if (detail) entry.detail = JSON.parse(detail) as AuditDetail;
  return entry;
}
