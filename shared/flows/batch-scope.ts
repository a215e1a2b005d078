import type { StoredTenant } from '../config/tenant.ts';
import type {
  AuditEntry,
  AuditLog,
  Clock,
  EntityName,
  KeyMap,
  ListingIndex,
  ListingLookup,
  ListingQuery,
  RecordMessage,
  TimedAuditEntry,
} from '../ports/index.ts';
import type { SyncEntity } from './entities/entity.ts';
import { readOnce } from './read-once.ts';
import { listingTokensOf, listingTrusted } from './write-record.ts';

/*
 * What the records of one writer batch share: their audit entries, written together before the batch is
 * acknowledged, and the reads that cannot change within a batch.
 */

/** The batch's audit entries, kept with the time of each decision and written together at the end of the batch. */
export class BatchAudit implements AuditLog {
  private readonly decided: TimedAuditEntry[] = [];

  constructor(
    private readonly log: AuditLog,
    private readonly clock: Clock,
  ) {}

  async record(entry: AuditEntry): Promise<void> {
    this.decided.push({ ...entry, at: new Date(this.clock.now()).toISOString() });
  }

  recordAll(entries: readonly TimedAuditEntry[]): Promise<void> {
    return this.log.recordAll(entries);
  }

  history(...args: Parameters<AuditLog['history']>) {
    return this.log.history(...args);
  }

  byTenant(...args: Parameters<AuditLog['byTenant']>) {
    return this.log.byTenant(...args);
  }

  erase(...args: Parameters<AuditLog['erase']>) {
    return this.log.erase(...args);
  }

  async flush(): Promise<void> {
    const entries = this.decided.splice(0);
    if (entries.length > 0) await this.log.recordAll(entries);
  }
}

/** The listing as the batch sees it: when it was taken is read once, the rest as it is. */
export function listingMetaOncePer(listing: ListingIndex): ListingIndex {
  const metas = new Map<string, ReturnType<ListingIndex['meta']>>();
  return {
    meta: (tenantId, entity) => readOnce(metas, `${tenantId}|${entity}`, () => listing.meta(tenantId, entity)),
    save: (...args) => listing.save(...args),
    lookup: (...args) => listing.lookup(...args),
    lookupMany: (...args) => listing.lookupMany(...args),
    erase: (...args) => listing.erase(...args),
  };
}

/**
 * What a writer batch read for all its records before writing any: their key map and that of the records they depend
 * on (a person's organization), and their first-sync listing matches, in a request or two per tenant and entity instead of
 * one or two per record. Only what was found is answered: a miss (an organization written later in the batch, tokens
 * that changed since) is read at the time, as without it.
 */
export interface BatchReads {
  mappedId(tenantId: string, entity: EntityName, qadKey: string): number | undefined;
  /** A record of the batch the key map had neither a Pipedrive id nor a pending create for: its writer expects to create it. */
  isNew(tenantId: string, entity: EntityName, qadKey: string): boolean;
  /** The listing's matches for the record, if looked up at the batch's start for exactly these tokens. */
  listing(tenantId: string, entity: EntityName, qadKey: string, tokens: readonly string[]): ListingLookup | undefined;
}

/** One record of the batch, as far as it could be read: its tenant, its entity's definition and its record. */
export interface BatchRecord {
  tenant: StoredTenant;
  entity: SyncEntity<unknown, unknown>;
  message: RecordMessage;
}

export async function readForBatch(
  deps: { keyMap: Pick<KeyMap, 'getAcross'>; listing: Pick<ListingIndex, 'meta' | 'lookupMany'>; clock: Pick<Clock, 'now'> },
  batch: readonly BatchRecord[],
): Promise<BatchReads> {
  const id = (...parts: string[]) => parts.join('|');
  const records = batch.flatMap(({ tenant, entity, message }) => {
    const parsed = entity.recordSchema.safeParse(message.record);
    // One that does not read, or whose key is not the message's, is its writer's to refuse.
    return parsed.success && entity.key(parsed.data) === message.key
      ? [{ tenantId: tenant.config.tenantId, entity, record: parsed.data }]
      : [];
  });

  // The key map of the batch's records and of the records they depend on: one read per tenant.
  const mapped = new Map<string, number>();
  const fresh = new Set<string>();
  const wanted = records.flatMap(({ tenantId, entity, record }) => [
    { tenantId, entity: entity.entity, key: entity.key(record), own: true },
    ...(entity.dependency ? [{ tenantId, entity: entity.dependency.entity, key: entity.dependency.key(record), own: false }] : []),
  ]);
  for (const [tenantId, ofTenant] of groupBy(wanted, (w) => w.tenantId)) {
    const byEntity = [...groupBy(ofTenant, (w) => w.entity).values()];
    const read = await deps.keyMap.getAcross(
      tenantId,
      byEntity.map((group) => ({ entity: group[0]!.entity, qadKeys: group.map((w) => w.key) })),
    );
    byEntity.forEach((group, i) => {
      const entries = read[i]!;
      const { entity } = group[0]!;
      for (const [key, entry] of entries) if (entry.pipedriveId !== undefined) mapped.set(id(tenantId, entity, key), entry.pipedriveId);
      for (const w of group) {
        const entry = entries.get(w.key);
        if (w.own && entry?.pipedriveId === undefined && entry?.pendingCreateAt === undefined) fresh.add(id(tenantId, entity, w.key));
      }
    });
  }
  const mappedId = (tenantId: string, entity: EntityName, qadKey: string) => mapped.get(id(tenantId, entity, qadKey));

  const listed = new Map<string, { tokens: string; lookup: ListingLookup }>();
  const queries = new Map<string, { tenantId: string; entity: EntityName; queries: ListingQuery[] }>();
  for (const { tenantId, entity, record } of records) {
    if (!listingTrusted(await deps.listing.meta(tenantId, entity.entity), deps.clock.now())) continue;
    // A record whose dependency the batch did not find waits for it, or reads it at the time: nothing to ask now.
    const context = await entity.context(record, { pipedriveId: async (on, key) => mappedId(tenantId, on, key) }).catch(() => undefined);
    if (context === undefined) continue;
    const group = queries.get(id(tenantId, entity.entity)) ?? { tenantId, entity: entity.entity, queries: [] };
    group.queries.push({ qadKey: entity.key(record), tokens: listingTokensOf(entity, record, context) });
    queries.set(id(tenantId, entity.entity), group);
  }
  for (const group of queries.values()) {
    const found = await deps.listing.lookupMany(group.tenantId, group.entity, group.queries);
    for (const q of group.queries)
      listed.set(id(group.tenantId, group.entity, q.qadKey), { tokens: JSON.stringify(q.tokens), lookup: found.get(q.qadKey)! });
  }

  return {
    mappedId,
    isNew: (tenantId, entity, qadKey) => fresh.has(id(tenantId, entity, qadKey)),
    listing(tenantId, entity, qadKey, tokens) {
      const read = listed.get(id(tenantId, entity, qadKey));
      return read?.tokens === JSON.stringify(tokens) ? read.lookup : undefined;
    },
  };
}

function groupBy<T>(items: readonly T[], keyOf: (item: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) out.set(keyOf(item), [...(out.get(keyOf(item)) ?? []), item]);
  return out;
}
