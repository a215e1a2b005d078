import type { ListingMatches } from '../ports/index.ts';
import type { PipedriveClient, RemoteRecord } from '../ports/pipedrive.ts';
import type { SyncEntity } from './entities/entity.ts';
import { addToListing, emptyListing } from './listing.ts';
import { listPages, pipedriveTime } from './pipedrive-pages.ts';

/**
 * An incremental read reaches this far back before the last one began: update_time is whole seconds,
 * a write in flight becomes visible a little after its update_time, and clocks differ a little.
 */
const OVERLAP_MS = 30_000;

/** What one client has read of one collection's changes (per warm container): since when, and up to when. */
interface Scan {
  fromMs: number;
  /** When the newest read began: every change before it (after fromMs) is in `records`. */
  scannedAt: number;
  records: Map<number, RemoteRecord>;
  index: ChangedRecords;
}

/** The changed records indexed as the listing is, and the ids of all of them (what the listing shows is older). */
export type ChangedRecords = ListingMatches & { ids: ReadonlySet<number> };

/** Per client, so two tenants (or two test worlds) never see each other's records; per collection and key field. */
const scans = new WeakMap<PipedriveClient, Map<string, Scan>>();

/**
 * The Pipedrive records of an entity changed since `sinceMs`, indexed as the first-sync listing is, as
 * Pipedrive listed them at `scannedAfterMs` or later. Listing by update time is consistent, unlike search.
 * Writers share one read per container, extended by what changed since the last one: a thousand
 * listing misses then cost a few pages, not a page (or, late in a first sync, several) each.
 */
export async function changesSince<R, Ctx>(
  pipedrive: PipedriveClient,
  entity: SyncEntity<R, Ctx>,
  keyField: string | undefined,
  want: { sinceMs: number; scannedAfterMs: number; nowMs: number },
): Promise<ChangedRecords> {
  let byCollection = scans.get(pipedrive);
  if (!byCollection) scans.set(pipedrive, (byCollection = new Map()));
  const id = `${entity.collection}|${keyField ?? ''}`;
  const cached = byCollection.get(id);
  if (cached && cached.fromMs <= want.sinceMs && cached.scannedAt >= want.scannedAfterMs) return cached.index;
  const extend = cached && cached.fromMs <= want.sinceMs;
  const fresh = (): Scan => ({
    fromMs: want.sinceMs,
    scannedAt: want.nowMs,
    records: new Map(),
    index: { ...emptyListing(), ids: new Set() },
  });
  const scan: Scan = extend ? cached : fresh();
  const updatedSince = pipedriveTime(extend ? cached.scannedAt - OVERLAP_MS : want.sinceMs);
  for await (const items of listPages(pipedrive, entity.collection, { updatedSince }))
    for (const remote of items) scan.records.set(remote.id, remote);
  // A record listed again replaces its older self (its name or key may have changed): index anew.
  const listed = emptyListing();
  for (const remote of scan.records.values()) addToListing(listed, entity, keyField, remote);
  const index: ChangedRecords = { ...listed, ids: new Set(scan.records.keys()) };
  scan.index = index;
  scan.scannedAt = Math.max(scan.scannedAt, want.nowMs);
  byCollection.set(id, scan);
  return index;
}
