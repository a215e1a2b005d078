import type { StoredTenant } from '../config/tenant.ts';
import type { AuditAction, AuditEntry, AuditLog, EntityName, RecordQueue } from '../ports/index.ts';
import { entityRegistry, type EntityRegistry, type RereadDeps } from '../flows/registry.ts';
import { newRecordMessage } from '../flows/record-message.ts';

export interface ReplayResult {
  key: string;
  entity: EntityName;
  outcome: 'enqueued' | 'not at its source';
  /** Whether the content re-read is what was last audited (its content hash), when the audit has one. */
  content?: 'as audited' | 'changed since';
}

/**
 * Replays audited records: one by tenant + entity + key, or all whose latest entry in a time range has an
 * outcome (e.g. everything that failed yesterday). The audit keeps no record content (only a content hash),
 * so each record is re-read from its source by key (one pass over the entity's QAD list, or the deals by id)
 * and travels through the normal queue and writer: as idempotent as any delivery, since the claim, the hash
 * and the key map make it a no-op where the record already went through. The result says whether the
 * content is still what was last audited.
 */
export async function replay(
  deps: RereadDeps & { audit: AuditLog; queueFor(entity: EntityName): RecordQueue },
  tenant: StoredTenant,
  selection: { entity: EntityName; key: string } | { from: string; to: string; action: AuditAction },
  registry: EntityRegistry = entityRegistry,
): Promise<ReplayResult[]> {
  const { tenantId } = tenant.config;
  let targets: Array<{ entity: EntityName; key: string }>;
  if ('key' in selection) targets = [selection];
  else {
    const latest = latestPerRecord(await deps.audit.byTenant(tenantId, selection.from, selection.to));
    targets = latest.filter((e) => e.action === selection.action);
  }
  const results: ReplayResult[] = [];
  for (const entity of new Set(targets.map((t) => t.entity))) {
    const keys = targets.filter((t) => t.entity === entity).map((t) => t.key);
    const current = await registry.byEntity(entity).reread(deps, tenant, keys);
    for (const key of keys) {
      const found = current.get(key);
      if (!found) {
        results.push({ entity, key, outcome: 'not at its source' });
        continue;
      }
      const audited = (await deps.audit.history(tenantId, entity, key)).find((e) => e.contentHash !== undefined)?.contentHash;
      const content = audited === undefined ? undefined : audited === found.hash ? 'as audited' : 'changed since';
      const now = deps.clock.now();
      await deps
        .queueFor(entity)
        .sendAll([newRecordMessage({ tenantId, entity, key, pollId: `replay-${now}`, ...found, rematch: true }, now)]);
      await deps.audit.record({
        tenantId,
        entity,
        key,
        action: 'deferred',
        reason: `replayed by an operator: re-read from its source${content ? ` (${content})` : ''} and queued`,
        contentHash: found.hash,
      });
      results.push({ entity, key, outcome: 'enqueued', ...(content && { content }) });
    }
  }
  return results;
}

/** Each record's latest entry among a tenant's entries (oldest first), leaving out the tenant's own entries (fields, reports). */
export function latestPerRecord<E extends AuditEntry>(entries: readonly E[]): E[] {
  const latest = new Map<string, E>();
  for (const e of entries) if (!e.key.startsWith('_') && !e.key.startsWith('field:')) latest.set(`${e.entity}|${e.key}`, e);
  return [...latest.values()];
}
