import type { AuditEntry, AuditLog, Clock, ListingIndex, TimedAuditEntry } from '../ports/index.ts';
import { readOnce } from './read-once.ts';

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
    erase: (...args) => listing.erase(...args),
  };
}
