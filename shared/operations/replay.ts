import type { StoredTenant } from '../config/tenant.ts';
import type { AuditAction, AuditLog, EntityName, RecordMessage, RecordQueue } from '../ports/index.ts';
import { entityRegistry, type EntityRegistry } from '../flows/registry.ts';
import { newRecordMessage } from '../flows/record-message.ts';

export interface ReplayResult {
  key: string;
  entity: EntityName;
  outcome: 'enqueued' | 'no snapshot';
}

/** The message a poll would have sent for this record, rebuilt from its last audited snapshot. */
function messageFrom(
  registry: EntityRegistry,
  tenant: StoredTenant,
  entity: EntityName,
  key: string,
  snapshot: unknown,
): RecordMessage | undefined {
  const rebuilt = registry.byEntity(entity).messageFrom(tenant, snapshot);
  const now = Date.now();
  return rebuilt && newRecordMessage({ tenantId: tenant.config.tenantId, entity, key, pollId: `replay-${now}`, ...rebuilt }, now);
}

/**
 * Replays audited records: one by tenant + entity + key, or all whose latest entry in a time range
 * has an outcome (e.g. everything that failed yesterday). The record travels as its snapshot through
 * the normal queue and writer, so a replay is as idempotent as any delivery: the claim, the hash and
 * the key map make it a no-op where the record already went through.
 */
export async function replay(
  deps: { audit: AuditLog; queueFor(entity: EntityName): RecordQueue },
  tenant: StoredTenant,
  selection: { entity: EntityName; key: string } | { from: string; to: string; action: AuditAction },
  registry: EntityRegistry = entityRegistry,
): Promise<ReplayResult[]> {
  const { tenantId } = tenant.config;
  let targets: Array<{ entity: EntityName; key: string }>;
  if ('key' in selection) targets = [selection];
  else {
    const latest = new Map<string, { entity: EntityName; key: string; action: AuditAction }>();
    for (const e of await deps.audit.byTenant(tenantId, selection.from, selection.to)) {
      if (!e.key.startsWith('_') && !e.key.startsWith('field:')) latest.set(`${e.entity}|${e.key}`, e);
    }
    targets = [...latest.values()].filter((e) => e.action === selection.action);
  }
  const results: ReplayResult[] = [];
  for (const t of targets) {
    const withSnapshot = (await deps.audit.history(tenantId, t.entity, t.key)).find((e) => e.snapshot !== undefined);
    const message = withSnapshot ? messageFrom(registry, tenant, t.entity, t.key, withSnapshot.snapshot) : undefined;
    if (!message) {
      results.push({ ...t, outcome: 'no snapshot' });
      continue;
    }
    await deps.queueFor(t.entity).sendAll([message]);
    await deps.audit.record({
      tenantId,
      entity: t.entity,
      key: t.key,
      action: 'deferred',
      reason: 'replayed by an operator from its last audited snapshot',
    });
    results.push({ ...t, outcome: 'enqueued' });
  }
  return results;
}
