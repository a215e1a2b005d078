import { BUDGET_CAUSE, gateOutcome, PARKED_CAUSE, tenantHoldOf, type ErrorOutcome } from '../domain/errors.ts';
import {
  recordHoldId,
  type AuditLog,
  type Clock,
  type EntityName,
  type HeldMessage,
  type HoldDetail,
  type KeyMap,
  type RecordMessage,
  type RecordQueue,
  type Telemetry,
  type TenantHold,
  type TenantHolds,
} from '../ports/index.ts';
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
    return { action: 'deferred', reason: 'tenant parked: message held until Pipedrive is re-authorised', hold: PARKED_CAUSE };
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

/** What releasing held messages needs: the holds, the queues, and the audit for a held body that no longer reads. */
export type ReleaseDeps = Pick<HoldDeps, 'holds' | 'audit'> & { queueFor(entity: EntityName): RecordQueue };

export interface ReleaseOptions {
  /** Only the messages this answers true for (their cause is fixed); the others stay held. */
  when?: (message: RecordMessage) => Promise<boolean>;
  /**
   * A record held for a person is sent again to be looked at afresh but its hold stays: a write of the record
   * clears it (clearRecordHolds), and a record still waiting is held again under the same id, so neither a second
   * hold nor a second audit entry. Holds of the tenant or a field (many messages each) are always dropped. The
   * record is marked held again in the key map, so its write clears the hold even if the mark was lost (a crash
   * between hold and mark) or never made (a hold from before the mark existed).
   */
  recheck?: { keyMap: Pick<KeyMap, 'markHeld'> };
}

/**
 * The one way held messages go back on their queues: those held for `cause` (all of them without one). Sent
 * before the hold is dropped: a crash in between sends one twice, which the writers' claims absorb; a message
 * whose cause is still there is simply held again by its writer. A held body that no longer reads (a newer
 * release wrote it, or it was damaged) cannot be sent: audited once with its reason and dropped (the daily full
 * read sends a record whose write never completed again). Answers how many went back.
 */
export async function releaseHeld(deps: ReleaseDeps, tenantId: string, cause?: string, options: ReleaseOptions = {}): Promise<number> {
  let released = 0;
  for (const held of await deps.holds.held(tenantId, cause)) {
    const message = parseRecordMessage(held.body);
    if (!message.ok) {
      await auditUnreadable(deps, tenantId, held, message.reason);
      await deps.holds.release(tenantId, held.messageId);
      continue;
    }
    if (options.when && !(await options.when(message.value))) continue;
    const { entity, key } = message.value;
    const stays = options.recheck !== undefined && held.messageId === recordHoldId(entity, key, held.cause);
    if (stays) await markHeld(options.recheck!.keyMap, message.value);
    await deps.queueFor(entity).sendAll([message.value]);
    released++;
    if (!stays) await deps.holds.release(tenantId, held.messageId);
  }
  return released;
}

/** A held message that cannot be sent again: what it was held for and why it does not read, never its content. */
function auditUnreadable(deps: Pick<HoldDeps, 'audit'>, tenantId: string, held: HeldMessage, why: string): Promise<void> {
  return deps.audit.record({
    tenantId,
    entity: '_held',
    key: held.messageId,
    action: 'failed',
    reason: `a message held for ${held.cause} cannot be read, so it was not sent again and its hold was dropped`,
    error: why,
  });
}

/**
 * Holds a record for a person (or another record) under `cause`, once per record and cause: a newer message of
 * the record takes the place of the one held before. Answers true when it was not held for this cause before,
 * so the caller audits the problem once.
 */
export async function holdRecord(deps: RecordHoldDeps, message: RecordMessage, cause: string, detail?: HoldDetail): Promise<boolean> {
  const { tenantId, entity, key } = message;
  const first = await deps.holds.hold(tenantId, recordHoldId(entity, key, cause), JSON.stringify(message), cause, detail);
  // Marked after the hold is stored: a write that saw the mark before it finds the hold; one that did not keeps the mark.
  await markHeld(deps.keyMap, message);
  return first;
}

/** What holding a record for a person touches: the hold, and the mark on its key-map entry that its write looks at. */
export interface RecordHoldDeps {
  holds: TenantHolds;
  keyMap: Pick<KeyMap, 'markHeld' | 'clearHeld'>;
}

function markHeld(keyMap: Pick<KeyMap, 'markHeld'>, message: RecordMessage): Promise<void> {
  return keyMap.markHeld(message.tenantId, message.entity, message.key);
}

/**
 * The record was written: whatever it was held for is settled (a person typed the key, the customer synced, a
 * replay after a fix). Asked only of a record its claim found marked held (`holdMarks`, as seen then): every hold
 * of the record goes, then the mark, unless the record was held again meanwhile.
 */
export async function clearRecordHolds(
  deps: RecordHoldDeps,
  record: { tenantId: string; entity: EntityName; key: string },
  holdMarks: number,
): Promise<number> {
  const { tenantId, entity, key } = record;
  const held = await deps.holds.heldRecord(tenantId, entity, key);
  for (const h of held) await deps.holds.release(tenantId, h.messageId);
  await deps.keyMap.clearHeld(tenantId, entity, key, holdMarks);
  return held.length;
}

/**
 * Puts back on their queues the messages writers held because the tenant's budget gate was further away
 * than SQS can delay a message; a poll calls it once the gate is open.
 */
export async function releaseBudgetHeld(deps: HoldDeps & ReleaseDeps, tenantId: string, entity: EntityName): Promise<number> {
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
