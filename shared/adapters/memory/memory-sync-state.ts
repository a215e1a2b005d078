import { isErased } from '../../domain/erasure.ts';
import { ClaimHeldError, RetryLaterError } from '../../domain/errors.ts';
import type { NameCandidate } from '../../domain/upsert-decision.ts';
import {
  knownEntry,
  type ClaimOptions,
  type ClaimOutcome,
  type Clock,
  type EntityName,
  type FinishedPoll,
  type KeyMap,
  type KeyMapEntry,
} from '../../ports/index.ts';
import type {
  ListingIndex,
  ListingLookup,
  ListingMatches,
  ListingQuery,
  PollState,
  PollStateStore,
  WrittenState,
} from '../../ports/index.ts';
import { compareSortKeys } from './sort-key.ts';

/**
 * The sync-state table in memory, with the DynamoDB adapters' semantics (dynamo-sync-state.ts):
 * the same conditions on claims, leases and owners, and copies in and out so callers share nothing.
 */
const id = (...parts: string[]) => JSON.stringify(parts);

/** A key-map item: the entry and its claim lease. */
interface KeyItem extends KeyMapEntry {
  leaseOwner?: string;
  leaseUntil?: number;
  holdMarks?: number;
}

function toEntry({ leaseOwner: _owner, leaseUntil: _until, holdMarks: _marks, ...entry }: KeyItem): KeyMapEntry {
  return { ...entry };
}

export class MemoryKeyMap implements KeyMap {
  private readonly items = new Map<string, KeyItem>();
  /** Which QAD key owns a Pipedrive record, by tenant, entity and Pipedrive id. */
  private readonly owners = new Map<string, string>();

  constructor(private readonly clock: Pick<Clock, 'now'>) {}

  async getMany(tenantId: string, entity: EntityName, qadKeys: readonly string[]): Promise<Map<string, KeyMapEntry>> {
    return (await this.getAcross(tenantId, [{ entity, qadKeys }]))[0]!;
  }

  async getAcross(
    tenantId: string,
    wants: ReadonlyArray<{ entity: EntityName; qadKeys: readonly string[] }>,
  ): Promise<Array<Map<string, KeyMapEntry>>> {
    return wants.map(({ entity, qadKeys }) => {
      const out = new Map<string, KeyMapEntry>();
      for (const qadKey of qadKeys) {
        const item = this.items.get(id(tenantId, entity, qadKey));
        if (item) out.set(qadKey, toEntry(item));
      }
      return out;
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
    const item = this.items.get(id(tenantId, entity, qadKey));
    // Held while the lease has not run out (until < now frees it), unless we are the holder.
    if (item?.leaseUntil !== undefined && !(item.leaseUntil < nowMs) && item.leaseOwner !== owner)
      return { held: true, until: item.leaseUntil, ...(item.leaseOwner !== undefined && { owner: item.leaseOwner }) };
    // Mapped or pending already: an ordinary claim.
    const pendingCreateAt = item?.pipedriveId === undefined && item?.pendingCreateAt === undefined ? options.pendingCreateAt : undefined;
    const before = item && toEntry(item);
    const next: KeyItem = { ...item, qadKey, leaseOwner: owner, leaseUntil: nowMs + leaseMs, ...(pendingCreateAt && { pendingCreateAt }) };
    this.items.set(id(tenantId, entity, qadKey), next);
    return {
      held: false,
      entry: before && knownEntry(before),
      ...(next.holdMarks !== undefined && { holdMarks: next.holdMarks }),
      ...(pendingCreateAt && { pendingSince: pendingCreateAt }),
    };
  }

  async markHeld(tenantId: string, entity: EntityName, qadKey: string): Promise<void> {
    const key = id(tenantId, entity, qadKey);
    const item = this.items.get(key);
    this.items.set(key, { ...item, qadKey, holdMarks: (item?.holdMarks ?? 0) + 1 });
  }

  async clearHeld(tenantId: string, entity: EntityName, qadKey: string, seen: number): Promise<void> {
    const item = this.items.get(id(tenantId, entity, qadKey));
    if (item?.holdMarks === seen) delete item.holdMarks;
  }

  /** Every write after the claim requires still holding it (by owner; an expired lease nobody took is still ours). */
  private owned(tenantId: string, entity: EntityName, qadKey: string, owner: string, change: (item: KeyItem) => void): void {
    const item = this.items.get(id(tenantId, entity, qadKey));
    if (item?.leaseOwner !== owner) throw new ClaimHeldError(`claim on ${entity} ${qadKey} was lost to another delivery`, 5);
    change(item);
  }

  async markPendingCreate(tenantId: string, entity: EntityName, qadKey: string, owner: string, at: string): Promise<void> {
    this.owned(tenantId, entity, qadKey, owner, (item) => {
      item.pendingCreateAt = at;
    });
  }

  async clearPendingCreate(tenantId: string, entity: EntityName, qadKey: string, owner: string): Promise<void> {
    this.owned(tenantId, entity, qadKey, owner, (item) => {
      delete item.pendingCreateAt;
    });
  }

  async complete(tenantId: string, entity: EntityName, qadKey: string, owner: string, state: WrittenState): Promise<void> {
    this.owned(tenantId, entity, qadKey, owner, (item) => {
      item.pipedriveId = state.pipedriveId;
      item.contentHash = state.contentHash;
      if (state.ref) item.ref = state.ref;
      for (const field of ['leaseOwner', 'leaseUntil', 'pendingCreateAt', 'rejectedHash', 'rejectedAt', 'goneAt'] as const)
        delete item[field];
    });
  }

  async forgetPipedriveId(tenantId: string, entity: EntityName, qadKey: string, owner: string): Promise<void> {
    this.owned(tenantId, entity, qadKey, owner, (item) => {
      delete item.pipedriveId;
      delete item.contentHash;
    });
  }

  async release(
    tenantId: string,
    entity: EntityName,
    qadKey: string,
    owner: string,
    options: { pendingCreate?: boolean } = {},
  ): Promise<void> {
    const item = this.items.get(id(tenantId, entity, qadKey));
    if (item?.leaseOwner !== owner) return;
    delete item.leaseOwner;
    delete item.leaseUntil;
    if (options.pendingCreate) delete item.pendingCreateAt;
  }

  async markRejected(tenantId: string, entity: EntityName, qadKey: string, hash: string, at?: string): Promise<void> {
    this.upsert(tenantId, entity, qadKey, { rejectedHash: hash, rejectedAt: at ?? new Date(this.clock.now()).toISOString() });
  }

  async markGone(tenantId: string, entity: EntityName, qadKey: string, at: string): Promise<void> {
    this.upsert(tenantId, entity, qadKey, { goneAt: at });
  }

  async markNoted(tenantId: string, entity: EntityName, qadKey: string, noteHash: string, owner?: string): Promise<void> {
    if (owner !== undefined) this.owned(tenantId, entity, qadKey, owner, () => undefined);
    const noted = this.items.get(id(tenantId, entity, qadKey))?.noted ?? [];
    // A set, as DynamoDB keeps it; listed in order.
    this.upsert(tenantId, entity, qadKey, { noted: [...new Set([...noted, noteHash])].sort() });
  }

  /** An unconditional update: creates the item when there is none, as DynamoDB's UpdateItem does. */
  private upsert(tenantId: string, entity: EntityName, qadKey: string, fields: Partial<KeyMapEntry>): void {
    const key = id(tenantId, entity, qadKey);
    this.items.set(key, { ...this.items.get(key), qadKey, ...fields });
  }

  async claimPipedriveRecord(tenantId: string, entity: EntityName, pipedriveId: number, qadKey: string): Promise<{ owner: string }> {
    const key = id(tenantId, entity, String(pipedriveId));
    const owner = this.owners.get(key) ?? qadKey;
    this.owners.set(key, owner);
    return { owner };
  }

  async ownersOf(tenantId: string, entity: EntityName, pipedriveIds: readonly number[]): Promise<Map<number, string>> {
    const out = new Map<number, string>();
    for (const pipedriveId of pipedriveIds) {
      const owner = this.owners.get(id(tenantId, entity, String(pipedriveId)));
      if (owner !== undefined) out.set(pipedriveId, owner);
    }
    return out;
  }

  listMapped(tenantId: string, entity: EntityName): Promise<KeyMapEntry[]> {
    return this.entries(tenantId, entity, (item) => item.pipedriveId !== undefined);
  }

  listIncomplete(tenantId: string, entity: EntityName, nowMs: number): Promise<KeyMapEntry[]> {
    return this.entries(
      tenantId,
      entity,
      (item) =>
        (item.pendingCreateAt !== undefined || (item.pipedriveId !== undefined && item.contentHash === undefined)) &&
        item.rejectedHash === undefined &&
        (item.leaseUntil === undefined || item.leaseUntil < nowMs),
    );
  }

  listRejected(tenantId: string, entity: EntityName): Promise<KeyMapEntry[]> {
    return this.entries(tenantId, entity, (item) => item.rejectedHash !== undefined);
  }

  /** A query of one tenant's entity: in key order, as DynamoDB returns it. */
  private async entries(tenantId: string, entity: EntityName, filter: (item: KeyItem) => boolean): Promise<KeyMapEntry[]> {
    return [...this.items]
      .filter(([key, item]) => key === id(tenantId, entity, item.qadKey) && filter(item))
      .map(([, item]) => toEntry(item))
      .sort((a, b) => compareSortKeys(a.qadKey, b.qadKey));
  }
}

interface Listing {
  meta?: { listedAt: string; records: number };
  byKey: Map<string, number[]>;
  byToken: Map<string, NameCandidate[]>;
}

export class MemoryListingIndex implements ListingIndex {
  private readonly listings = new Map<string, Listing>();

  private listing(tenantId: string, entity: EntityName): Listing {
    const key = id(tenantId, entity);
    let listing = this.listings.get(key);
    if (!listing) this.listings.set(key, (listing = { byKey: new Map(), byToken: new Map() }));
    return listing;
  }

  async meta(tenantId: string, entity: EntityName): Promise<{ listedAt: string; records: number } | undefined> {
    const meta = this.listings.get(id(tenantId, entity))?.meta;
    return meta && { ...meta };
  }

  /** Adds to what an earlier listing stored (DynamoDB's puts overwrite item by item; nothing is deleted). */
  async save(tenantId: string, entity: EntityName, listing: ListingMatches, listedAt: string): Promise<void> {
    const stored = this.listing(tenantId, entity);
    for (const [key, ids] of listing.byKey) stored.byKey.set(key, [...ids]);
    for (const [token, candidates] of listing.byToken)
      stored.byToken.set(
        token,
        candidates.map((c) => ({ ...c })),
      );
    const ids = [...listing.byToken.values()].flat().map((c) => c.id);
    stored.meta = { listedAt, records: new Set([...ids, ...[...listing.byKey.values()].flat()]).size };
  }

  async erase(tenantId: string, entity: EntityName, qadKey: string, pipedriveIds: readonly number[]): Promise<number> {
    const stored = this.listings.get(id(tenantId, entity));
    if (!stored) return 0;
    let removed = stored.byKey.delete(qadKey) ? 1 : 0;
    for (const [token, candidates] of stored.byToken) {
      const kept = candidates.filter((c) => !isErased(c, qadKey, pipedriveIds));
      removed += candidates.length - kept.length;
      if (kept.length === 0) stored.byToken.delete(token);
      else stored.byToken.set(token, kept);
    }
    return removed;
  }

  async lookup(tenantId: string, entity: EntityName, qadKey: string, tokens: readonly string[]): Promise<ListingLookup> {
    return (await this.lookupMany(tenantId, entity, [{ qadKey, tokens }])).get(qadKey)!;
  }

  async lookupMany(tenantId: string, entity: EntityName, queries: readonly ListingQuery[]): Promise<Map<string, ListingLookup>> {
    const stored = this.listings.get(id(tenantId, entity));
    const out = new Map<string, ListingLookup>();
    for (const { qadKey, tokens } of queries) {
      const byToken = new Map<string, NameCandidate[]>();
      for (const token of tokens) {
        const candidates = stored?.byToken.get(token);
        if (candidates)
          byToken.set(
            token,
            candidates.map((c) => ({ ...c })),
          );
      }
      out.set(qadKey, { byKey: [...(stored?.byKey.get(qadKey) ?? [])], byToken });
    }
    return out;
  }
}

interface PollItem extends PollState {
  leaseOwner?: string;
  leaseUntil?: number;
}

export class MemoryPollStateStore implements PollStateStore {
  private readonly items = new Map<string, PollItem>();

  private item(tenantId: string, scope: string): PollItem {
    const key = id(tenantId, scope);
    let item = this.items.get(key);
    if (!item) this.items.set(key, (item = {}));
    return item;
  }

  async get(tenantId: string, scope: string): Promise<PollState> {
    const item = this.items.get(id(tenantId, scope));
    const state: PollState = {};
    if (item?.watermark) state.watermark = item.watermark;
    if (item?.lastPolledAt) state.lastPolledAt = item.lastPolledAt;
    if (item?.fullReadAt) state.fullReadAt = item.fullReadAt;
    return state;
  }

  /** Free when nobody holds it or the lease ran out; the holder itself must wait too (no re-entry). */
  async acquire(tenantId: string, scope: string, owner: string, leaseMs: number, nowMs: number): Promise<boolean> {
    const item = this.item(tenantId, scope);
    if (item.leaseUntil !== undefined && !(item.leaseUntil < nowMs)) return false;
    item.leaseOwner = owner;
    item.leaseUntil = nowMs + leaseMs;
    return true;
  }

  async finish(tenantId: string, scope: string, owner: string, state: FinishedPoll): Promise<void> {
    const item = this.items.get(id(tenantId, scope));
    if (item?.leaseOwner !== owner) throw new RetryLaterError(`poll lease for ${tenantId}/${scope} was lost; watermark not advanced`);
    item.watermark = state.watermark;
    item.lastPolledAt = state.lastPolledAt;
    if (state.fullReadAt) item.fullReadAt = state.fullReadAt;
    delete item.leaseOwner;
    delete item.leaseUntil;
  }

  async release(tenantId: string, scope: string, owner: string): Promise<void> {
    const item = this.items.get(id(tenantId, scope));
    if (item?.leaseOwner !== owner) return;
    delete item.leaseOwner;
    delete item.leaseUntil;
  }
}
