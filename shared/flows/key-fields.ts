import { RetryLaterError } from '../domain/errors.ts';
import type { PipedriveClient, PipedriveFieldEntity } from '../ports/pipedrive.ts';
import { addToCache, createMayStillLand, fieldDefinitions, type FieldCache, type FieldResolverDeps } from './field-resolver.ts';

/** Forget a tenant's cached key-field codes of one entity (a 400 said a field is unknown): the next write resolves them again. */
export function forgetKeyFields(fields: FieldCache, tenantId: string, entity: PipedriveFieldEntity): void {
  for (const key of [...fields.keyCodes.keys()]) if (key.startsWith(`${tenantId}|${entity}|`)) fields.keyCodes.delete(key);
}

/** The hash of an existing field by its name (a mapped field the connector must not create), or undefined. */
export async function findFieldCode(
  fields: FieldCache,
  tenantId: string,
  pipedrive: PipedriveClient,
  entity: PipedriveFieldEntity,
  fieldName: string,
): Promise<string | undefined> {
  const cacheKey = `${tenantId}|${entity}|${fieldName}`;
  const hit = fields.keyCodes.get(cacheKey);
  if (hit) return hit;
  const code = (await fieldDefinitions(fields, tenantId, pipedrive, entity, Date.now)).defs
    .filter((f) => f.field_name === fieldName)
    .map((f) => f.field_code)
    .sort()[0];
  if (code) fields.keyCodes.set(cacheKey, code);
  return code;
}

/**
 * The hash (field_code) of the connector's key field, e.g. "QAD Customer Code" on organizations,
 * created once if missing. Concurrent writers race here, and Pipedrive happily creates two fields
 * with one name, so creation is guarded by a lease in DynamoDB and the list is re-read under it.
 */
export async function resolveKeyField(
  deps: FieldResolverDeps,
  tenantId: string,
  pipedrive: PipedriveClient,
  entity: PipedriveFieldEntity,
  fieldName: string | undefined,
): Promise<string | undefined> {
  // Entities keyed by a standard field (a product's code) have no custom key field.
  if (fieldName === undefined) return undefined;
  const cache = deps.fields.keyCodes;
  const cacheKey = `${tenantId}|${entity}|${fieldName}`;
  const hit = cache.get(cacheKey);
  if (hit) return hit;

  // The definitions the mapped fields use too (one fields list per entity per container); fresh under the lease.
  const find = async (fresh: boolean) => {
    const matches = (await fieldDefinitions(deps.fields, tenantId, pipedrive, entity, () => deps.clock.now(), fresh)).defs
      .filter((f) => f.is_custom_field !== false && f.field_name === fieldName)
      .sort((a, b) => a.field_code.localeCompare(b.field_code));
    return matches[0]?.field_code;
  };

  const lockName = `field:${entity}:${fieldName}`;
  for (let attempt = 0; attempt < 10; attempt++) {
    // This container's cached list first: a writer here may have created it while this one waited.
    const existing = (await find(false)) ?? (attempt > 0 ? await find(true) : undefined);
    if (existing) {
      cache.set(cacheKey, existing);
      return existing;
    }
    const owner = `field-${process.pid}-${deps.clock.now()}-${Math.random()}`;
    if (await deps.pollState.acquire(tenantId, lockName, owner, 30_000, deps.clock.now())) {
      let keepLease = false;
      try {
        const again = (await find(false)) ?? (await find(true));
        let code = again;
        if (!code) {
          const made = await pipedrive.createField(entity, { field_name: fieldName, field_type: 'varchar' }).catch((error: unknown) => {
            keepLease = createMayStillLand(error);
            throw error;
          });
          await addToCache(deps.fields, tenantId, entity, made);
          code = made.field_code;
        }
        if (!again)
          await deps.audit.record({
            tenantId,
            entity: entity === 'deal' ? 'salesOrder' : entity,
            key: `field:${fieldName}`,
            action: 'field-created',
            reason: `created the ${entity} custom field "${fieldName}" (${code})`,
          });
        cache.set(cacheKey, code);
        return code;
      } finally {
        if (!keepLease) await deps.pollState.release(tenantId, lockName, owner);
      }
    }
    await deps.clock.sleep(500);
  }
  throw new RetryLaterError(`the ${entity} field "${fieldName}" is being created by another writer`, 10);
}
