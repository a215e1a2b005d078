import type { StoredTenant } from '../config/tenant.ts';
import type { NameCandidate } from '../domain/upsert-decision.ts';
import type { AuditLog, Clock, ListingIndex, PollStateStore } from '../ports/index.ts';
import type { Connections } from './connections.ts';
import type { SyncEntity } from './entities/entity.ts';
import { resolveKeyField } from './key-fields.ts';

/**
 * A tenant's first sync of an entity lists its Pipedrive records once (500 a page, 10 tokens
 * each) and keeps them as matches by QAD key and by match token: a thousand records then cost
 * two list pages instead of a thousand 20-token searches.
 */
export async function buildListing<R, C>(
  deps: { listing: ListingIndex; connections: Connections; pollState: PollStateStore; audit: AuditLog; clock: Clock },
  tenant: StoredTenant,
  entity: SyncEntity<R, C>,
): Promise<void> {
  const { tenantId } = tenant.config;
  const pipedrive = await deps.connections.pipedrive(tenant);
  const keyField = await resolveKeyField(
    { locks: deps.pollState, audit: deps.audit, now: () => deps.clock.now() },
    tenantId,
    pipedrive,
    entity.entity,
    entity.keyFieldName(tenant.config),
  );
  const listedAt = new Date(deps.clock.now()).toISOString();
  const byKey = new Map<string, number[]>();
  const byToken = new Map<string, NameCandidate[]>();
  let cursor: string | undefined;
  do {
    const page = await pipedrive.list(entity.collection, cursor ? { cursor } : {});
    for (const remote of page.items) {
      const keyValue = entity.keyValueOf(remote, keyField);
      if (keyValue) byKey.set(keyValue, [...(byKey.get(keyValue) ?? []), remote.id]);
      for (const token of entity.listingTokens(remote)) byToken.set(token, [...(byToken.get(token) ?? []), { id: remote.id, keyValue }]);
    }
    cursor = page.nextCursor;
  } while (cursor);
  await deps.listing.save(tenantId, entity.entity, { byKey, byToken }, listedAt);
}
