import { BUDGET_CAUSE, gateOutcome, tenantHoldOf, type ErrorOutcome } from '../domain/errors.ts';
import type { AuditLog, Clock, EntityName, RecordQueue, Telemetry, TenantHold, TenantHolds } from '../ports/index.ts';
import { parseRecordMessage } from './record-message.ts';

export interface HoldDeps {
  holds: TenantHolds;
  audit: AuditLog;
  clock: Clock;
  telemetry: Telemetry;
}

/** Audit key of entries about a tenant's Pipedrive access rather than one record. */
export const ACCESS_KEY = '_pipedrive-access';

/**
 * What an error says about the tenant as a whole, recorded as a hold every writer and poller sees:
 * `invalid_grant` parks it until a person re-authorises (audited and counted once); a spent daily
 * budget (the Pipedrive client says so, from the headers or from 429s that keep coming) closes its
 * gate until the reset. Any other error is the record's own: undefined.
 */
export async function holdFromError(deps: HoldDeps, tenantId: string, entity: EntityName, error: unknown): Promise<TenantHold | undefined> {
  const hold = tenantHoldOf(error, deps.clock.now());
  return hold && recordTenantHold(deps, tenantId, entity, hold);
}

/** Records a tenant hold the error policy decided on, audited (and, for a park, counted) once. */
export async function recordTenantHold(
  deps: HoldDeps,
  tenantId: string,
  entity: EntityName,
  hold: NonNullable<ErrorOutcome['tenantHold']>,
): Promise<TenantHold> {
  const now = deps.clock.now();
  if (hold.kind === 'parked') {
    const since = new Date(now).toISOString();
    if (await deps.holds.park(tenantId, hold.reason, since)) {
      await deps.audit.record({
        tenantId,
        entity,
        key: ACCESS_KEY,
        action: 'failed',
        reason: 'tenant parked: its Pipedrive work is held (not retried, not dead-lettered) until a person re-authorises',
        error: hold.reason,
      });
      deps.telemetry.tenantParked(tenantId);
    }
    return { kind: 'parked', reason: hold.reason, since };
  }
  await deps.holds.closeBudgetGate(tenantId, hold.untilMs, hold.reason);
  deps.telemetry.budgetGateClosed(tenantId);
  await deps.audit.record({
    tenantId,
    entity,
    key: ACCESS_KEY,
    action: 'deferred',
    reason: `Pipedrive's daily token budget is spent: no Pipedrive calls for this tenant until ${new Date(hold.untilMs).toISOString()}`,
    error: hold.reason,
  });
  return hold;
}

/** What a message does while its tenant is held: a parked tenant's is kept in DynamoDB; a gated one waits for the reset. */
export function waitOutcome(hold: TenantHold, nowMs: number): ErrorOutcome {
  if (hold.kind === 'parked')
    return { action: 'deferred', reason: 'tenant parked: message held until Pipedrive is re-authorised', hold: 'parked' };
  return gateOutcome(hold.untilMs, nowMs);
}

/**
 * A poll skips a held tenant without touching its watermark (it catches up once the hold ends), and
 * says so in the audit; a parked tenant is counted on every skip, so its alarm stays raised.
 */
export async function skipHeldTenant(deps: HoldDeps, tenantId: string, entity: EntityName): Promise<boolean> {
  const hold = await deps.holds.current(tenantId, deps.clock.now());
  if (!hold) return false;
  if (hold.kind === 'parked') deps.telemetry.tenantParked(tenantId);
  const why =
    hold.kind === 'parked'
      ? `tenant parked until Pipedrive is re-authorised (${hold.reason})`
      : `daily token budget spent until ${new Date(hold.untilMs).toISOString()}`;
  await deps.audit.record({
    tenantId,
    entity,
    key: '_poll',
    action: 'skipped',
    reason: `not polled: ${why}; the watermark stays where it was`,
  });
  return true;
}

/**
 * Puts back on their queues the messages held in DynamoDB for `cause` (all of them without one). Sent
 * before the hold is dropped: a crash in between sends one twice, which the writers' claims absorb; a
 * message whose cause is still there is simply held again by its writer. Answers how many went back.
 */
export async function releaseHeld(
  deps: Pick<HoldDeps, 'holds'> & { queueFor(entity: EntityName): RecordQueue },
  tenantId: string,
  cause?: string,
): Promise<number> {
  let released = 0;
  for (const { messageId, body } of await deps.holds.held(tenantId, cause)) {
    const message = parseRecordMessage(body);
    if (message.ok) {
      await deps.queueFor(message.value.entity).sendAll([message.value]);
      released++;
    }
    await deps.holds.release(tenantId, messageId);
  }
  return released;
}

/**
 * Puts back on their queues the messages writers held because the tenant's budget gate was further away
 * than SQS can delay a message; a poll calls it once the gate is open.
 */
export async function releaseBudgetHeld(
  deps: HoldDeps & { queueFor(entity: EntityName): RecordQueue },
  tenantId: string,
  entity: EntityName,
): Promise<number> {
  const released = await releaseHeld(deps, tenantId, BUDGET_CAUSE);
  if (released > 0)
    await deps.audit.record({
      tenantId,
      entity,
      key: ACCESS_KEY,
      action: 'deferred',
      reason: `the daily budget gate is open again: ${released} held messages back on their queues`,
    });
  return released;
}
