import { MAX_FIELDS, redact } from '../../domain/redact.ts';
import type { AuditDetail, AuditEntry, AuditLog, Clock, EntityName, TimedAuditEntry } from '../../ports/index.ts';

type Stored = TimedAuditEntry;

/**
 * The audit table in memory, as DynamoAuditLog stores it: the time from the clock, reason and error
 * cut to 2,000 characters, at most MAX_FIELDS field names, the detail redacted and through JSON; a record's history newest first,
 * a tenant's entries oldest first. Entries of one millisecond keep the order they were recorded in.
 */
export class MemoryAuditLog implements AuditLog {
  private readonly entries: Array<{ sequence: number; entry: Stored }> = [];

  constructor(private readonly clock: Pick<Clock, 'now'>) {}

  async record(entry: AuditEntry): Promise<void> {
    this.store(entry, new Date(this.clock.now()).toISOString());
  }

  async recordAll(entries: readonly TimedAuditEntry[]): Promise<void> {
    for (const entry of entries) this.store(entry, entry.at);
  }

  private store(entry: AuditEntry, at: string): void {
    const stored: Stored = { tenantId: entry.tenantId, entity: entry.entity, key: entry.key, action: entry.action, at };
    if (entry.reason) stored.reason = entry.reason.slice(0, 2000);
    if (entry.error) stored.error = entry.error.slice(0, 2000);
    if (entry.pipedriveId !== undefined) stored.pipedriveId = entry.pipedriveId;
    if (entry.attempt !== undefined) stored.attempt = entry.attempt;
    if (entry.messageId) stored.messageId = entry.messageId;
    if (entry.contentHash) stored.contentHash = entry.contentHash;
    if (entry.fields?.length) stored.fields = entry.fields.slice(0, MAX_FIELDS);
    if (entry.detail !== undefined) stored.detail = JSON.parse(JSON.stringify(redact(entry.detail))) as AuditDetail;
    this.entries.push({ sequence: this.entries.length, entry: stored });
  }

  async history(tenantId: string, entity: EntityName, key: string): Promise<Stored[]> {
    return this.select((e) => e.tenantId === tenantId && e.entity === entity && e.key === key).reverse();
  }

  async byTenant(tenantId: string, from: string, to: string): Promise<Stored[]> {
    return this.select((e) => e.tenantId === tenantId && e.at >= from && e.at < to);
  }

  async erase(tenantId: string, entity: EntityName, key: string): Promise<number> {
    const before = this.entries.length;
    const kept = this.entries.filter(
      ({ entry: e }) => !(e.tenantId === tenantId && e.entity === entity && e.key === key && e.action !== 'erased'),
    );
    this.entries.splice(0, this.entries.length, ...kept);
    return before - kept.length;
  }

  /** Oldest first: by time, then by the order recorded. */
  private select(match: (entry: Stored) => boolean): Stored[] {
    return this.entries
      .filter(({ entry }) => match(entry))
      .sort((a, b) => (a.entry.at < b.entry.at ? -1 : a.entry.at > b.entry.at ? 1 : a.sequence - b.sequence))
      .map(({ entry }) => structuredClone(entry));
  }
}
