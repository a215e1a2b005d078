import { dealFieldEntries, type FieldMappingEntry, type MappedEntity } from '../config/field-mapping.ts';
import type { StoredTenant } from '../config/tenant.ts';
import type { FieldProblem } from '../domain/custom-fields.ts';
import type { PipedriveFieldEntity } from '../ports/pipedrive.ts';
import { driftCause } from '../domain/errors.ts';
import type { TenantClients, EntityName } from '../ports/index.ts';
import { releaseHeld, type ReleaseDeps } from './tenant-holds.ts';
import { checkMappedFields, reportHeld, type FieldResolverDeps } from './field-resolver.ts';

/** What a poll asks before it enqueues: may this entity's records flow, or is a mapped field drifted? */
export interface FieldGate {
  /**
   * True when these `count` records must be held (and counts them); checks the fields once per poll,
   * and only when there is something to send.
   */
  holds(count: number): Promise<boolean>;
  readonly held: number;
  readonly problems: readonly FieldProblem[];
  /** Audits the drift with the number of records held, and counts the metric. */
  report(): Promise<void>;
}

/**
 * The flow a gate or release is about: its entity name, Pipedrive's field entity, and which list of
 * `mapping.fields` it writes when that is not the field entity's own (the order's life on deals: `orderStatus`).
 */
export type FlowFields = { entity: EntityName; fieldEntity: PipedriveFieldEntity; mappedFields?: MappedEntity };

/**
 * Puts back on the queue the messages writers held for a drifted field of this entity, once the
 * mapped fields resolve again (a person fixed the field or the mapping). One DynamoDB query when
 * nothing is held; a field check only when something is. A message still blocked (an option label
 * still missing) is simply held again by its writer. Answers how many went back.
 */
export async function releaseDriftHeld(
  deps: FieldResolverDeps & ReleaseDeps & { clients: TenantClients },
  tenant: StoredTenant,
  flow: FlowFields,
): Promise<number> {
  const { tenantId } = tenant.config;
  const { entity } = flow;
  const held = await deps.holds.held(tenantId, driftCause(entity));
  if (held.length === 0) return 0;
  const pipedrive = await deps.clients.pipedrive(tenant);
  const problems = await checkMappedFields(deps, tenantId, pipedrive, flow.fieldEntity, mappedEntries(tenant, flow), deps.clock.now());
  if (problems.length > 0) return 0;
  const released = await releaseHeld(deps, tenantId, driftCause(entity));
  await deps.audit.record({
    tenantId,
    entity,
    key: '_fields',
    action: 'drift-cleared',
    reason: `the mapped fields resolve again: ${released} held messages back on their queue`,
  });
  return released;
}

/** The mapped entries in force for a flow (deals fold in the older `requestedShipDateFieldName`). */
export function mappedEntries(tenant: StoredTenant, flow: Pick<FlowFields, 'fieldEntity' | 'mappedFields'>): FieldMappingEntry[] {
  if (flow.mappedFields !== undefined && flow.mappedFields !== flow.fieldEntity) return tenant.config.mapping.fields[flow.mappedFields];
  return flow.fieldEntity === 'deal' ? dealEntries(tenant) : tenant.config.mapping.fields[flow.fieldEntity];
}

export function dealEntries(tenant: StoredTenant): Array<FieldMappingEntry<'deal'>> {
  return dealFieldEntries(tenant.config.mapping.fields, tenant.config.mapping.deal.requestedShipDateFieldName);
}

/**
 * One poll's field gate. Unchanged records cost no fields call: the definitions are checked (read
 * during this poll) only when the poll has changed records to send.
 */
export function fieldGate(
  deps: FieldResolverDeps & { clients: TenantClients },
  tenant: StoredTenant,
  flow: FlowFields,
  pollStartedMs: number,
): FieldGate {
  const { fieldEntity } = flow;
  const entries = mappedEntries(tenant, flow);
  let checked: Promise<FieldProblem[]> | undefined;
  let problems: FieldProblem[] = [];
  let held = 0;
  return {
    async holds(count) {
      if (count === 0 || entries.length === 0) return false;
      checked ??= (async () =>
        checkMappedFields(deps, tenant.config.tenantId, await deps.clients.pipedrive(tenant), fieldEntity, entries, pollStartedMs))();
      problems = await checked;
      if (problems.length === 0) return false;
      held += count;
      return true;
    },
    get held() {
      return held;
    },
    get problems() {
      return problems;
    },
    report: () => reportHeld(deps, tenant.config.tenantId, fieldEntity, problems, held),
  };
}
