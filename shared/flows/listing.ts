import type { StoredTenant } from '../config/tenant.ts';
import type { TenantClients, ListingIndex, ListingMatches } from '../ports/index.ts';
import type { RemoteRecord } from '../ports/pipedrive.ts';
import type { SyncEntity } from './entities/entity.ts';
import type { FieldResolverDeps } from './field-resolver.ts';
import { resolveKeyField } from './key-fields.ts';
import { listPages } from './pipedrive-pages.ts';

/**
 * A tenant's first sync of an entity lists its Pipedrive records once (500 a page, 10 tokens
 * each) and keeps them as matches by QAD key and by match token: a thousand records then cost
 * two list pages instead of a thousand 20-token searches.
 */
export async function buildListing<R, Ctx>(
  deps: FieldResolverDeps & { listing: ListingIndex; clients: TenantClients },
  tenant: StoredTenant,
  entity: SyncEntity<R, Ctx>,
): Promise<void> {
  const { tenantId } = tenant.config;
  const pipedrive = await deps.clients.pipedrive(tenant);
  const keyField = await resolveKeyField(deps, tenantId, pipedrive, entity.fieldEntity, entity.keyFieldName(tenant.config));
  const listedAt = new Date(deps.clock.now()).toISOString();
  const listing = emptyListing();
  for await (const items of listPages(pipedrive, entity.collection))
    for (const remote of items) addToListing(listing, entity, keyField, remote);
  await deps.listing.save(tenantId, entity.entity, listing, listedAt);
}

export const emptyListing = (): ListingMatches => ({ byKey: new Map(), byToken: new Map() });

/** Indexes one listed record; the writer's listing and the dry run's plan index the same way. */
export function addToListing<R, Ctx>(
  listing: ListingMatches,
  entity: SyncEntity<R, Ctx>,
  keyField: string | undefined,
  remote: RemoteRecord,
): void {
  const keyValue = entity.keyValueOf(remote, keyField);
  if (keyValue) listing.byKey.set(keyValue, [...(listing.byKey.get(keyValue) ?? []), remote.id]);
  for (const token of entity.listingTokens(remote))
    listing.byToken.set(token, [...(listing.byToken.get(token) ?? []), { id: remote.id, keyValue }]);
}
