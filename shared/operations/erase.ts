import type { StoredTenant } from '../config/tenant.ts';
import { parseRecordMessage } from '../flows/record-message.ts';
import { entityRegistry, type EntityRegistry } from '../flows/registry.ts';
import type { AuditLog, DeadLetters, EntityName, KeyMap, ListingIndex, TenantHolds } from '../ports/index.ts';

export interface Erasure {
  tenantId: string;
  entity: EntityName;
  key: string;
  /** What went, where: counts only, never the data. */
  removed: { audit: number; held: number; listing: number; deadLetters: number };
}

export interface EraseDeps {
  audit: AuditLog;
  holds: TenantHolds;
  listing: ListingIndex;
  keyMap: KeyMap;
  /** The dead letters of one work queue. */
  deadLettersOf(queue: string): DeadLetters;
}

/**
 * Erases one record's personal data on request (GDPR): its audit history, its held messages, its entries in
 * the first-sync listing and its dead letters. What keeps the sync working stays: the key map (QAD key ->
 * Pipedrive id and a content hash) and the records in QAD and Pipedrive themselves, which their owners erase.
 * The erasure is audited under the record's key, with the counts and nothing of what was removed.
 */
export async function eraseRecord(
  deps: EraseDeps,
  tenant: StoredTenant,
  entity: EntityName,
  key: string,
  registry: EntityRegistry = entityRegistry,
): Promise<Erasure> {
  const { tenantId } = tenant.config;
  const flow = registry.byEntity(entity);
  const isIt = (body: string) => {
    const message = parseRecordMessage(body);
    return message.ok && message.value.tenantId === tenantId && message.value.entity === entity && message.value.key === key;
  };

  const audit = await deps.audit.erase(tenantId, entity, key);
  let held = 0;
  for (const h of await deps.holds.held(tenantId))
    if (isIt(h.body)) {
      await deps.holds.release(tenantId, h.messageId);
      held++;
    }
  const pipedriveId = (await deps.keyMap.getMany(tenantId, entity, [key])).get(key)?.pipedriveId;
  const listing = await deps.listing.erase(tenantId, entity, key, pipedriveId === undefined ? [] : [pipedriveId]);
  const deadLetters = await deps.deadLettersOf(flow.queue).erase(isIt);

  const removed = { audit, held, listing, deadLetters };
  await deps.audit.record({
    tenantId,
    entity,
    key,
    action: 'erased',
    reason:
      `personal data erased on request: ${audit} audit entries, ${held} held messages, ` +
      `${listing} first-sync listing entries, ${deadLetters} dead letters`,
  });
  return { tenantId, entity, key, removed };
}
