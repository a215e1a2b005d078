import type { StoredTenant } from '../config/tenant.ts';
import { findFieldCode } from '../flows/key-fields.ts';
import type { FieldCache } from '../flows/field-resolver.ts';
import { parseRecordMessage } from '../flows/record-message.ts';
import { entityRegistry, type EntityRegistry, type RereadDeps } from '../flows/registry.ts';
import { ambiguousCause, possibleDuplicateCause } from '../domain/errors.ts';
import type { AuditLog, EntityName, HoldCandidate, RecordQueue, TenantHolds } from '../ports/index.ts';
import { replay, type ReplayResult } from './replay.ts';

/** The holds a person settles by choosing the Pipedrive record: a near-identical match, or several that match alike. */
export const choiceCauses = (entity: string): string[] => [possibleDuplicateCause(entity), ambiguousCause(entity)];

export interface ChoiceHold {
  entity: EntityName;
  key: string;
  cause: string;
  /** The Pipedrive records to choose from, as the writer read them when it held the record. */
  candidates: HoldCandidate[];
  reason: string;
}

export type SettleDeps = RereadDeps & {
  /** The process's field cache (a CLI or console run is one container). */
  fields: FieldCache;
  audit: AuditLog;
  holds: TenantHolds;
  queueFor(entity: EntityName): RecordQueue;
};

/** The records held for a person's choice, one per record and cause, with their candidates. */
export async function choiceHolds(
  deps: Pick<SettleDeps, 'holds'>,
  tenant: StoredTenant,
  registry: EntityRegistry = entityRegistry,
): Promise<ChoiceHold[]> {
  const { tenantId } = tenant.config;
  const out: ChoiceHold[] = [];
  for (const flow of registry.flows)
    for (const cause of choiceCauses(flow.entity))
      for (const h of await deps.holds.held(tenantId, cause)) {
        const message = parseRecordMessage(h.body);
        if (!message.ok || message.value.tenantId !== tenantId || message.value.entity !== flow.entity) continue;
        out.push({ entity: flow.entity, key: message.value.key, cause, candidates: h.candidates ?? [], reason: h.reason ?? cause });
      }
  return out;
}

export interface Settlement {
  entity: EntityName;
  key: string;
  pipedriveId: number;
  replayed: ReplayResult[];
}

/**
 * Settles a record held for a person's choice: writes our QAD key into the Pipedrive record the person chose
 * (through the tenant's Pipedrive client), then replays the record so the writer finds it by key and writes it
 * as any delivery would (claim, key map, audit), which clears the hold. Refuses a record that is not held, a
 * choice outside the candidates, and a record that carries another QAD key.
 */
export async function settleChoice(
  deps: SettleDeps,
  tenant: StoredTenant,
  choice: { entity: EntityName; key: string; pipedriveId: number },
  registry: EntityRegistry = entityRegistry,
): Promise<Settlement> {
  const { tenantId } = tenant.config;
  const { entity, key, pipedriveId } = choice;
  const flow = registry.byEntity(entity);
  const hold = (await choiceHolds(deps, tenant, registry)).find((h) => h.entity === entity && h.key === key);
  if (!hold) throw new Error(`${flow.label} ${key} is not held for a choice of its Pipedrive record`);
  const ids = hold.candidates.map((c) => c.id);
  if (ids.length > 0 && !ids.includes(pipedriveId))
    throw new Error(`Pipedrive ${flow.collection} ${pipedriveId} is not one of ${flow.label} ${key}'s candidates: ${ids.join(', ')}`);
  const keyFieldName = flow.keyFieldName(tenant.config);
  const definition = flow.definition;
  if (keyFieldName === undefined || !definition)
    throw new Error(`${flow.label} records are matched by a standard field; set ${key} on the chosen record in Pipedrive`);

  const pipedrive = await deps.clients.pipedrive(tenant);
  const code = await findFieldCode(deps.fields, tenantId, pipedrive, flow.fieldEntity, keyFieldName);
  if (code === undefined) throw new Error(`the Pipedrive ${flow.fieldEntity} field "${keyFieldName}" does not exist yet`);
  // Another QAD record's, by its key field or by the key map: the writer would not adopt it, and would create instead.
  const carried =
    definition.keyValueOf(await pipedrive.get(flow.collection, pipedriveId), code) ??
    (await deps.keyMap.ownersOf(tenantId, entity, [pipedriveId])).get(pipedriveId) ??
    null;
  if (carried !== null && carried !== key)
    throw new Error(`Pipedrive ${flow.collection} ${pipedriveId} already carries the QAD key ${carried}; choose another`);
  await pipedrive.update(flow.collection, pipedriveId, { custom_fields: { [code]: key } });

  await deps.audit.record({
    tenantId,
    entity,
    key,
    action: 'deferred',
    pipedriveId,
    reason: `settled by an operator: Pipedrive ${flow.collection} ${pipedriveId} is this ${flow.label}; our key written into it, replayed`,
  });
  const replayed = await replay(deps, tenant, { entity, key }, registry);
  // The hold stays until the writer writes the record (a write clears its holds): a failed write leaves it in view.
  return { entity, key, pipedriveId, replayed };
}
