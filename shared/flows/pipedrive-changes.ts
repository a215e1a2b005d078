import type { ListingMatches } from '../ports/index.ts';
import type { PipedriveClient, RemoteRecord } from '../ports/pipedrive.ts';
import type { SyncEntity } from './entities/entity.ts';
import { addToListing, emptyListing } from './listing.ts';
import { listPages, pipedriveTime } from './pipedrive-pages.ts';

/**
 * An incremental read starts this far before the newest update_time the last read's first page showed. The read
 * goes newest first, so that page was served at or after that time on Pipedrive's own clock: our clocks' skew needs
 * no margin. A record the last read could miss was written (or committed) after it began: stamped no earlier than
 * a write's visibility lag before that time. Whole seconds need nothing more: `updated_since` compares whole seconds
 * and a time shown as second s is no earlier than s. Five seconds is a generous bound on a commit's lag (an API
 * write answers in well under a second); at a first sync's 50 writes/s it re-reads about 250 records, within the
 * one 500-record page (10 tokens) a read costs anyway, where the 30 s of our own clock it replaces cost two or more.
 */
export const VISIBILITY_MARGIN_MS = 5_000;

/**
 * How long before a writer batch began a read of the changes may have begun and still serve its listing misses
 * (our clock on both sides). A record typed by hand in that window, just before we create the same one, is doubled:
 * the race a batch's own length always left open, made this much longer. In exchange a container reads a collection
 * once a minute at most, not once a batch: during a first sync every read pages through all our creates since the
 * last one. 60 s: docs/performance.md, "The changed-since reads". A record sent because Pipedrive changed reads afresh.
 */
export const CHANGES_MAX_AGE_MS = 60_000;

/** What one client has read of one collection's changes (per warm container): since when, and up to when. */
interface Scan {
  fromMs: number;
  /** When (our clock) the newest finished read began: every change before it (after fromMs) is in `records`. */
  scannedAt: number;
  /** The next read's `updated_since` (Pipedrive's clock): every change stamped before it is in `records`. */
  nextSinceMs: number;
  records: Map<number, RemoteRecord>;
  index: ChangedRecords;
  /** The read under way (one at a time per scan), shared by callers that a read begun then serves. */
  reading?: { startedAt: number; done: Promise<ChangedRecords> };
}

/** The changed records indexed as the listing is, and the ids of all of them (what the listing shows is older). */
export type ChangedRecords = ListingMatches & { ids: ReadonlySet<number> };

/** Per client, so two tenants (or two test worlds) never see each other's records; per collection and key field. */
const scans = new WeakMap<PipedriveClient, Map<string, Scan>>();

/**
 * The Pipedrive records of an entity changed since `sinceMs`, indexed as the first-sync listing is, as
 * Pipedrive listed them at `scannedAfterMs` or later. Listing by update time is consistent, unlike search.
 * Writers share one read per container (a read under way too), extended by what changed since the last one:
 * a thousand listing misses then cost a few pages, not a page (or, late in a first sync, several) each.
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
  for (;;) {
    const cached = byCollection.get(id);
    if (!cached || cached.fromMs > want.sinceMs) {
      // Nothing read yet (a failed first read leaves it so): it serves no one until a read has finished.
      const fresh: Scan = { fromMs: want.sinceMs, scannedAt: -Infinity, nextSinceMs: want.sinceMs, records: new Map(), index: indexOf() };
      byCollection.set(id, fresh);
      return read(pipedrive, entity, keyField, fresh, want.nowMs);
    }
    if (cached.scannedAt >= want.scannedAfterMs) return cached.index;
    if (!cached.reading) return read(pipedrive, entity, keyField, cached, want.nowMs);
    if (cached.reading.startedAt >= want.scannedAfterMs) return cached.reading.done;
    // Begun too early for this caller: once it ends, extend it (or share the extension another caller began).
    await cached.reading.done.catch(() => undefined);
  }
}

/** Reads what changed since the scan's watermark into it, newest first, and moves the watermark on. */
function read<R, Ctx>(
  pipedrive: PipedriveClient,
  entity: SyncEntity<R, Ctx>,
  keyField: string | undefined,
  scan: Scan,
  startedAt: number,
): Promise<ChangedRecords> {
  const done = (async () => {
    let newestShown: number | undefined;
    const pages = listPages(pipedrive, entity.collection, { updatedSince: pipedriveTime(scan.nextSinceMs), newestFirst: true });
    for await (const items of pages) {
      // Only the first page was served no later than the read began; later pages show records written since.
      if (newestShown === undefined) newestShown = Math.max(...items.map(updatedMs), Number.NEGATIVE_INFINITY);
      for (const remote of items) scan.records.set(remote.id, remote);
    }
    // A record listed again replaces its older self (its name or key may have changed): index anew.
    scan.index = indexOf(entity, keyField, scan.records);
    scan.scannedAt = Math.max(scan.scannedAt, startedAt);
    if (newestShown !== undefined && Number.isFinite(newestShown))
      scan.nextSinceMs = Math.max(scan.nextSinceMs, newestShown - VISIBILITY_MARGIN_MS);
    return scan.index;
  })();
  scan.reading = { startedAt, done };
  const finished = () => {
    if (scan.reading?.done === done) delete scan.reading;
  };
  done.then(finished, finished);
  return done;
}

/** A record's update_time in ms, or -Infinity when Pipedrive showed none (it then moves no watermark). */
function updatedMs(remote: RemoteRecord): number {
  const ms = remote.update_time ? Date.parse(remote.update_time) : Number.NaN;
  return Number.isNaN(ms) ? Number.NEGATIVE_INFINITY : ms;
}

function indexOf<R, Ctx>(entity?: SyncEntity<R, Ctx>, keyField?: string, records: Map<number, RemoteRecord> = new Map()): ChangedRecords {
  const listed = emptyListing();
  if (entity) for (const remote of records.values()) addToListing(listed, entity, keyField, remote);
  return { ...listed, ids: new Set(records.keys()) };
}
