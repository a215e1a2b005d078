import type { StoredTenant } from '../config/tenant.ts';
import { normaliseName } from '../domain/text.ts';
import type { AuditLog, Clock, ListingIndex, PollStateStore } from '../ports/index.ts';
import type { Connections } from './connections.ts';
import { resolveKeyField } from './key-fields.ts';

/**
 * A tenant's first sync lists its organizations once (500 a page, 10 tokens each) and keeps
 * them as matches by QAD code and by normalised name: a thousand customers then cost a few list
 * pages instead of a thousand 20-token searches.
 */
export async function buildOrganizationListing(
  deps: { listing: ListingIndex; connections: Connections; pollState: PollStateStore; audit: AuditLog; clock: Clock },
  tenant: StoredTenant,
): Promise<void> {
  const { tenantId, mapping } = tenant.config;
  const pipedrive = await deps.connections.pipedrive(tenant);
  const keyField = await resolveKeyField({ locks: deps.pollState, audit: deps.audit, now: () => deps.clock.now() }, tenantId, pipedrive, 'organization', mapping.organization.keyFieldName);
  const listedAt = new Date(deps.clock.now()).toISOString();
  const byKey = new Map<string, number[]>();
  const byName = new Map<string, Array<{ id: number; keyValue: string | null }>>();
  let cursor: string | undefined;
  do {
    const page = await pipedrive.listOrganizations(cursor ? { cursor } : {});
    for (const org of page.items) {
      const raw = org.custom_fields[keyField];
      const keyValue = typeof raw === 'string' && raw.trim() !== '' ? raw.trim() : null;
      if (keyValue) byKey.set(keyValue, [...(byKey.get(keyValue) ?? []), org.id]);
      const name = normaliseName(org.name);
      byName.set(name, [...(byName.get(name) ?? []), { id: org.id, keyValue }]);
    }
    cursor = page.nextCursor;
  } while (cursor);
  await deps.listing.save(tenantId, 'organization', { byKey, byName }, listedAt);
}
