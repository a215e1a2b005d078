import {
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
  type DynamoDBClient,
  type QueryCommandOutput,
} from '@aws-sdk/client-dynamodb';
import { contentHash } from '../../domain/content-hash.ts';
import { ClaimHeldError, RetryLaterError } from '../../domain/errors.ts';
import type { NameCandidate } from '../../domain/upsert-decision.ts';
import type {
  ClaimOptions,
  ClaimOutcome,
  EntityName,
  KeyMap,
  KeyMapEntry,
  ListingIndex,
  PollState,
  PollStateStore,
  WrittenState,
  ListingMatches,
  ListingLookup,
  ListingQuery,
  FinishedPoll,
} from '../../ports/index.ts';
import { knownEntry } from '../../ports/index.ts';
import { isErased } from '../../domain/erasure.ts';
import {
  batchDelete,
  batchGet,
  batchPut,
  isConditionFailed,
  n,
  nowOf,
  num,
  readableVersion,
  s,
  str,
  updateIf,
  versionOf,
  type AdapterTime,
  type Item,
  type ItemShape,
} from './dynamo-items.ts';

/**
 * The sync-state table (pk, sk) holds, per tenant and entity:
 *   key#<qadKey>    the key map: Pipedrive id, content hash, claim lease, pending create
 *   pd#<id>         which QAD key owns a Pipedrive record
 *   listing         when the first-sync listing was taken
 * under pk T#<tenant>#<scope>, sk state: an entity's watermark and poll lease, or a one-off lease;
 * and under pk <...>#listing the listing itself: key#<qadKey> and tok#<hash of a match token>.
 */
const partition = (tenantId: string, entity: EntityName) => `T#${tenantId}#${entity}`;

/** Key-map items (key#, and the pd# owner items); their versions: ItemShape in dynamo-items.ts. */
const KEY_MAP_ITEM: ItemShape = { name: 'key-map', version: 2 };

const ENTRY_TEXT_FIELDS = ['contentHash', 'pendingCreateAt', 'rejectedHash', 'goneAt', 'ref', 'rejectedAt'] as const;

function toEntry(item: Item): KeyMapEntry {
  readableVersion(item, KEY_MAP_ITEM);
  const entry: KeyMapEntry = { qadKey: str(item, 'qadKey') ?? str(item, 'sk')!.slice(4) };
  const id = num(item, 'pipedriveId');
  if (id !== undefined) entry.pipedriveId = id;
  for (const field of ENTRY_TEXT_FIELDS) {
    const value = str(item, field);
    if (value !== undefined) entry[field] = value;
  }
  const noted = item['noted'];
  if (noted && 'SS' in noted && noted.SS) entry.noted = [...noted.SS].sort();
  return entry;
}

export class DynamoKeyMap implements KeyMap {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly table: string,
    private readonly time: AdapterTime = {},
  ) {}

  private nowIso(): string {
    return new Date(nowOf(this.time)).toISOString();
  }

  private key(tenantId: string, entity: EntityName, qadKey: string): Item {
    return { pk: s(partition(tenantId, entity)), sk: s(`key#${qadKey}`) };
  }

  async getMany(tenantId: string, entity: EntityName, qadKeys: readonly string[]): Promise<Map<string, KeyMapEntry>> {
    return (await this.getAcross(tenantId, [{ entity, qadKeys }]))[0]!;
  }

  async getAcross(
    tenantId: string,
    wants: ReadonlyArray<{ entity: EntityName; qadKeys: readonly string[] }>,
  ): Promise<Array<Map<string, KeyMapEntry>>> {
    const keys = new Map<string, Item>();
    for (const { entity, qadKeys } of wants) for (const k of qadKeys) keys.set(JSON.stringify([entity, k]), this.key(tenantId, entity, k));
    const items = await batchGet(this.client, this.table, [...keys.values()], this.time);
    // An item's partition names its entity.
    const byPartition = new Map<string, Map<string, KeyMapEntry>>();
    for (const item of items) {
      const entry = toEntry(item);
      const pk = str(item, 'pk')!;
      byPartition.set(pk, (byPartition.get(pk) ?? new Map<string, KeyMapEntry>()).set(entry.qadKey, entry));
    }
    return wants.map(({ entity, qadKeys }) => {
      const found = byPartition.get(partition(tenantId, entity));
      return new Map(qadKeys.flatMap((k) => (found?.has(k) ? [[k, found.get(k)!] as const] : [])));
    });
  }

  async claim(
    tenantId: string,
    entity: EntityName,
    qadKey: string,
    owner: string,
    leaseMs: number,
    nowMs: number,
    options: ClaimOptions = {},
  ): Promise<ClaimOutcome> {
    const { pendingCreateAt } = options;
    try {
      const res = await this.client.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: this.key(tenantId, entity, qadKey),
          // The claim stamps the current version; it never stamps an item a newer release wrote (read below, refused).
          UpdateExpression: `SET leaseOwner = :o, leaseUntil = :u, qadKey = :k, v = :v${pendingCreateAt ? ', pendingCreateAt = :p' : ''}`,
          ConditionExpression:
            '(attribute_not_exists(v) OR v <= :v) AND (attribute_not_exists(leaseUntil) OR leaseUntil < :now OR leaseOwner = :o)' +
            (pendingCreateAt ? ' AND attribute_not_exists(pipedriveId) AND attribute_not_exists(pendingCreateAt)' : ''),
          ExpressionAttributeValues: {
            ':o': s(owner),
            ':u': n(nowMs + leaseMs),
            ':now': n(nowMs),
            ':k': s(qadKey),
            ':v': versionOf(KEY_MAP_ITEM),
            ...(pendingCreateAt && { ':p': s(pendingCreateAt) }),
          },
          // The record as it was: the claim changes only its lease (and its own pending marker, answered apart).
          ReturnValues: 'ALL_OLD',
        }),
      );
      const entry = res.Attributes ? toEntry(res.Attributes) : undefined;
      const holdMarks = num(res.Attributes, 'holdMarks');
      return {
        held: false,
        entry: entry && knownEntry(entry),
        ...(holdMarks !== undefined && { holdMarks }),
        ...(pendingCreateAt && { pendingSince: pendingCreateAt }),
      };
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
      const current = await this.client.send(
        new GetItemCommand({ TableName: this.table, Key: this.key(tenantId, entity, qadKey), ConsistentRead: true }),
      );
      if (current.Item) readableVersion(current.Item, KEY_MAP_ITEM);
      const holder = str(current.Item, 'leaseOwner');
      const until = num(current.Item, 'leaseUntil');
      // Mapped or pending since the batch looked, and nobody's claim running: an ordinary claim.
      if (pendingCreateAt && (until === undefined || until < nowMs || holder === owner))
        return this.claim(tenantId, entity, qadKey, owner, leaseMs, nowMs);
      return { held: true, until: until ?? nowMs + leaseMs, ...(holder !== undefined && { owner: holder }) };
    }
  }

  /** Every write after the claim is conditional on still holding it: a writer that lost its lease stops. */
  private async ownedUpdate(
    tenantId: string,
    entity: EntityName,
    qadKey: string,
    owner: string,
    update: string,
    values: Item,
    names?: Record<string, string>,
  ): Promise<void> {
    const held = await updateIf(this.client, {
      table: this.table,
      key: this.key(tenantId, entity, qadKey),
      update,
      condition: 'leaseOwner = :o',
      values: { ':o': s(owner), ...values },
      ...(names && { names }),
    });
    if (!held) throw new ClaimHeldError(`claim on ${entity} ${qadKey} was lost to another delivery`, 5);
  }

  markPendingCreate(tenantId: string, entity: EntityName, qadKey: string, owner: string, at: string): Promise<void> {
    return this.ownedUpdate(tenantId, entity, qadKey, owner, 'SET pendingCreateAt = :at', { ':at': s(at) });
  }

  clearPendingCreate(tenantId: string, entity: EntityName, qadKey: string, owner: string): Promise<void> {
    return this.ownedUpdate(tenantId, entity, qadKey, owner, 'REMOVE pendingCreateAt', {});
  }

  complete(tenantId: string, entity: EntityName, qadKey: string, owner: string, state: WrittenState): Promise<void> {
    return this.ownedUpdate(
      tenantId,
      entity,
      qadKey,
      owner,
      `SET pipedriveId = :id, contentHash = :h, updatedAt = :t${state.ref ? ', #ref = :ref' : ''}` +
        ` REMOVE leaseOwner, leaseUntil, pendingCreateAt, rejectedHash, rejectedAt, goneAt`,
      {
        ':id': n(state.pipedriveId),
        ':h': s(state.contentHash),
        ':t': s(this.nowIso()),
        ...(state.ref && { ':ref': s(state.ref) }),
      },
      state.ref ? { '#ref': 'ref' } : undefined,
    );
  }

  forgetPipedriveId(tenantId: string, entity: EntityName, qadKey: string, owner: string): Promise<void> {
    return this.ownedUpdate(tenantId, entity, qadKey, owner, 'REMOVE pipedriveId, contentHash', {});
  }

  async release(
    tenantId: string,
    entity: EntityName,
    qadKey: string,
    owner: string,
    options: { pendingCreate?: boolean } = {},
  ): Promise<void> {
    // Not ours any more means someone else holds it now: nothing of ours to release.
    await updateIf(this.client, {
      table: this.table,
      key: this.key(tenantId, entity, qadKey),
      update: `REMOVE leaseOwner, leaseUntil${options.pendingCreate ? ', pendingCreateAt' : ''}`,
      condition: 'leaseOwner = :o',
      values: { ':o': s(owner) },
    });
  }

  async markRejected(tenantId: string, entity: EntityName, qadKey: string, hash: string, at = this.nowIso()): Promise<void> {
    await this.client.send(
      new UpdateItemCommand({
        TableName: this.table,
        Key: this.key(tenantId, entity, qadKey),
        UpdateExpression: 'SET rejectedHash = :h, rejectedAt = :at, qadKey = :k, v = if_not_exists(v, :v)',
        ExpressionAttributeValues: { ':h': s(hash), ':at': s(at), ':k': s(qadKey), ':v': versionOf(KEY_MAP_ITEM) },
      }),
    );
  }

  async claimPipedriveRecord(tenantId: string, entity: EntityName, pipedriveId: number, qadKey: string): Promise<{ owner: string }> {
    const Key = { pk: s(partition(tenantId, entity)), sk: s(`pd#${pipedriveId}`) };
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.table,
          Item: { ...Key, owner: s(qadKey), v: versionOf(KEY_MAP_ITEM) },
          ConditionExpression: 'attribute_not_exists(pk) OR #owner = :k',
          ExpressionAttributeNames: { '#owner': 'owner' },
          ExpressionAttributeValues: { ':k': s(qadKey) },
        }),
      );
      return { owner: qadKey };
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
      const current = await this.client.send(new GetItemCommand({ TableName: this.table, Key, ConsistentRead: true }));
      if (current.Item) readableVersion(current.Item, KEY_MAP_ITEM);
      return { owner: str(current.Item, 'owner') ?? qadKey };
    }
  }

  listMapped(tenantId: string, entity: EntityName): Promise<KeyMapEntry[]> {
    return this.queryEntries(tenantId, entity, 'attribute_exists(pipedriveId)');
  }

  listRejected(tenantId: string, entity: EntityName): Promise<KeyMapEntry[]> {
    return this.queryEntries(tenantId, entity, 'attribute_exists(rejectedHash)');
  }

  listIncomplete(tenantId: string, entity: EntityName, nowMs: number): Promise<KeyMapEntry[]> {
    return this.queryEntries(
      tenantId,
      entity,
      '(attribute_exists(pendingCreateAt) OR (attribute_exists(pipedriveId) AND attribute_not_exists(contentHash))) ' +
        'AND attribute_not_exists(rejectedHash) AND (attribute_not_exists(leaseUntil) OR leaseUntil < :now)',
      { ':now': n(nowMs) },
    );
  }

  private async queryEntries(tenantId: string, entity: EntityName, filter: string, values: Item = {}): Promise<KeyMapEntry[]> {
    const out: KeyMapEntry[] = [];
    let start: Item | undefined;
    do {
      const res: QueryCommandOutput = await this.client.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          FilterExpression: filter,
          ExpressionAttributeValues: { ':pk': s(partition(tenantId, entity)), ':prefix': s('key#'), ...values },
          ExclusiveStartKey: start,
        }),
      );
      for (const item of res.Items ?? []) out.push(toEntry(item));
      start = res.LastEvaluatedKey;
    } while (start);
    return out;
  }

  async markGone(tenantId: string, entity: EntityName, qadKey: string, at: string): Promise<void> {
    await this.client.send(
      new UpdateItemCommand({
        TableName: this.table,
        Key: this.key(tenantId, entity, qadKey),
        UpdateExpression: 'SET goneAt = :at, v = if_not_exists(v, :v)',
        ExpressionAttributeValues: { ':at': s(at), ':v': versionOf(KEY_MAP_ITEM) },
      }),
    );
  }

  async markNoted(tenantId: string, entity: EntityName, qadKey: string, noteHash: string, owner?: string): Promise<void> {
    if (owner !== undefined)
      return this.ownedUpdate(tenantId, entity, qadKey, owner, 'ADD noted :h SET qadKey = :k, v = if_not_exists(v, :v)', {
        ':h': { SS: [noteHash] },
        ':k': s(qadKey),
        ':v': versionOf(KEY_MAP_ITEM),
      });
    await this.client.send(
      new UpdateItemCommand({
        TableName: this.table,
        Key: this.key(tenantId, entity, qadKey),
        // A string set: adding a fingerprint twice keeps one.
        UpdateExpression: 'ADD noted :h SET qadKey = :k, v = if_not_exists(v, :v)',
        ExpressionAttributeValues: { ':h': { SS: [noteHash] }, ':k': s(qadKey), ':v': versionOf(KEY_MAP_ITEM) },
      }),
    );
  }

  async markHeld(tenantId: string, entity: EntityName, qadKey: string): Promise<void> {
    await this.client.send(
      new UpdateItemCommand({
        TableName: this.table,
        Key: this.key(tenantId, entity, qadKey),
        UpdateExpression: 'ADD holdMarks :one SET qadKey = :k, v = if_not_exists(v, :v)',
        ExpressionAttributeValues: { ':one': n(1), ':k': s(qadKey), ':v': versionOf(KEY_MAP_ITEM) },
      }),
    );
  }

  async clearHeld(tenantId: string, entity: EntityName, qadKey: string, seen: number): Promise<void> {
    // Held again since `seen` was read: the count stays, and the next write looks at the holds again.
    await updateIf(this.client, {
      table: this.table,
      key: this.key(tenantId, entity, qadKey),
      update: 'REMOVE holdMarks',
      condition: 'holdMarks = :seen',
      values: { ':seen': n(seen) },
    });
  }

  async ownersOf(tenantId: string, entity: EntityName, pipedriveIds: readonly number[]): Promise<Map<number, string>> {
    const items = await batchGet(
      this.client,
      this.table,
      [...new Set(pipedriveIds)].map((id) => ({ pk: s(partition(tenantId, entity)), sk: s(`pd#${id}`) })),
      this.time,
    );
    for (const item of items) readableVersion(item, KEY_MAP_ITEM);
    return new Map(items.map((item) => [Number(str(item, 'sk')!.slice(3)), str(item, 'owner')!]));
  }
}

export class DynamoListingIndex implements ListingIndex {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly table: string,
    private readonly time: Pick<AdapterTime, 'sleep'> = {},
  ) {}

  /** Listing markers this container has read or written: a poll writes one when there is none, and never again. */
  private readonly metas = new Map<string, { listedAt: string; records: number }>();

  async meta(tenantId: string, entity: EntityName): Promise<{ listedAt: string; records: number } | undefined> {
    const known = this.metas.get(partition(tenantId, entity));
    if (known) return { ...known };
    const res = await this.client.send(
      new GetItemCommand({ TableName: this.table, Key: { pk: s(partition(tenantId, entity)), sk: s('listing') }, ConsistentRead: true }),
    );
    const listedAt = str(res.Item, 'listedAt');
    if (!listedAt) return undefined;
    const meta = { listedAt, records: num(res.Item, 'records') ?? 0 };
    this.metas.set(partition(tenantId, entity), meta);
    return { ...meta };
  }

  async save(tenantId: string, entity: EntityName, listing: ListingMatches, listedAt: string): Promise<void> {
    const pk = s(`${partition(tenantId, entity)}#listing`);
    const items: Item[] = [
      ...[...listing.byKey].map(([key, ids]) => ({ pk, sk: s(`key#${key}`), ids: s(JSON.stringify(ids)) })),
      // Tokens are hashed: a 255-character name in UTF-8 would not fit a sort key.
      ...[...listing.byToken].map(([token, candidates]) => ({
        pk,
        sk: s(`tok#${contentHash(token)}`),
        candidates: s(JSON.stringify(candidates)),
      })),
    ];
    await batchPut(this.client, this.table, items, this.time);
    // The marker goes last: a listing is only used once all of it is stored.
    const records = new Set(
      [...listing.byToken.values()]
        .flat()
        .map((c) => c.id)
        .concat([...listing.byKey.values()].flat()),
    ).size;
    await batchPut(
      this.client,
      this.table,
      [{ pk: s(partition(tenantId, entity)), sk: s('listing'), listedAt: s(listedAt), records: n(records) }],
      this.time,
    );
    this.metas.set(partition(tenantId, entity), { listedAt, records });
  }

  async erase(tenantId: string, entity: EntityName, qadKey: string, pipedriveIds: readonly number[]): Promise<number> {
    const pk = s(`${partition(tenantId, entity)}#listing`);
    const deletes: Item[] = [];
    const puts: Item[] = [];
    let removed = 0;
    let start: Item | undefined;
    do {
      const res: QueryCommandOutput = await this.client.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': pk },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      for (const item of res.Items ?? []) {
        const sk = str(item, 'sk')!;
        if (sk === `key#${qadKey}`) {
          deletes.push({ pk, sk: s(sk) });
          removed++;
        } else if (sk.startsWith('tok#')) {
          const candidates = JSON.parse(str(item, 'candidates') ?? '[]') as NameCandidate[];
          const kept = candidates.filter((c) => !isErased(c, qadKey, pipedriveIds));
          if (kept.length === candidates.length) continue;
          removed += candidates.length - kept.length;
          if (kept.length === 0) deletes.push({ pk, sk: s(sk) });
          else puts.push({ pk, sk: s(sk), candidates: s(JSON.stringify(kept)) });
        }
      }
      start = res.LastEvaluatedKey;
    } while (start);
    await batchDelete(this.client, this.table, deletes, this.time);
    await batchPut(this.client, this.table, puts, this.time);
    return removed;
  }

  async lookup(tenantId: string, entity: EntityName, qadKey: string, tokens: readonly string[]): Promise<ListingLookup> {
    return (await this.lookupMany(tenantId, entity, [{ qadKey, tokens }])).get(qadKey)!;
  }

  async lookupMany(tenantId: string, entity: EntityName, queries: readonly ListingQuery[]): Promise<Map<string, ListingLookup>> {
    const pk = s(`${partition(tenantId, entity)}#listing`);
    const tokenSk = (token: string) => `tok#${contentHash(token)}`;
    const sks = new Set(queries.flatMap((q) => [`key#${q.qadKey}`, ...q.tokens.map(tokenSk)]));
    const items = await batchGet(
      this.client,
      this.table,
      [...sks].map((sk) => ({ pk, sk: s(sk) })),
      this.time,
    );
    const bySk = new Map(items.map((item) => [str(item, 'sk')!, item]));
    const out = new Map<string, ListingLookup>();
    for (const { qadKey, tokens } of queries) {
      const keyItem = bySk.get(`key#${qadKey}`);
      const byToken = new Map<string, NameCandidate[]>();
      for (const token of tokens) {
        const item = bySk.get(tokenSk(token));
        if (item) byToken.set(token, JSON.parse(str(item, 'candidates') ?? '[]') as NameCandidate[]);
      }
      out.set(qadKey, { byKey: keyItem ? (JSON.parse(str(keyItem, 'ids') ?? '[]') as number[]) : [], byToken });
    }
    return out;
  }
}

/**
 * Poll state per tenant and scope: an entity's watermark and poll lease, or a one-off lease such as
 * the one that guards creating a custom field.
 */
export class DynamoPollStateStore implements PollStateStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly table: string,
  ) {}

  private key(tenantId: string, scope: string): Item {
    return { pk: s(`T#${tenantId}#${scope}`), sk: s('state') };
  }

  async get(tenantId: string, scope: string): Promise<PollState> {
    const res = await this.client.send(new GetItemCommand({ TableName: this.table, Key: this.key(tenantId, scope), ConsistentRead: true }));
    const state: PollState = {};
    const watermark = str(res.Item, 'watermark');
    const last = str(res.Item, 'lastPolledAt');
    const full = str(res.Item, 'fullReadAt');
    if (watermark) state.watermark = watermark;
    if (last) state.lastPolledAt = last;
    if (full) state.fullReadAt = full;
    return state;
  }

  acquire(tenantId: string, scope: string, owner: string, leaseMs: number, nowMs: number): Promise<boolean> {
    return updateIf(this.client, {
      table: this.table,
      key: this.key(tenantId, scope),
      update: 'SET leaseOwner = :o, leaseUntil = :u',
      condition: 'attribute_not_exists(leaseUntil) OR leaseUntil < :now',
      values: { ':o': s(owner), ':u': n(nowMs + leaseMs), ':now': n(nowMs) },
    });
  }

  async finish(tenantId: string, scope: string, owner: string, state: FinishedPoll): Promise<void> {
    const held = await updateIf(this.client, {
      table: this.table,
      key: this.key(tenantId, scope),
      update: `SET watermark = :w, lastPolledAt = :l${state.fullReadAt ? ', fullReadAt = :f' : ''} REMOVE leaseOwner, leaseUntil`,
      condition: 'leaseOwner = :o',
      values: {
        ':w': s(state.watermark),
        ':l': s(state.lastPolledAt),
        ':o': s(owner),
        ...(state.fullReadAt && { ':f': s(state.fullReadAt) }),
      },
    });
    if (!held) throw new RetryLaterError(`poll lease for ${tenantId}/${scope} was lost; watermark not advanced`);
  }

  async release(tenantId: string, scope: string, owner: string): Promise<void> {
    await updateIf(this.client, {
      table: this.table,
      key: this.key(tenantId, scope),
      update: 'REMOVE leaseOwner, leaseUntil',
      condition: 'leaseOwner = :o',
      values: { ':o': s(owner) },
    });
  }
}
