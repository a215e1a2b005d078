import { heldUntil } from '../../config/tables.ts';
import {
  recordHoldPrefix,
  type Clock,
  type EntityName,
  type HeldMessage,
  type HoldDetail,
  type TenantHold,
  type TenantHolds,
} from '../../ports/index.ts';
import { compareSortKeys } from './sort-key.ts';

interface Holds {
  parked?: { reason: string; since: string };
  budget?: { untilMs: number; reason: string };
  held: Map<string, { body: string; cause: string; expiresAt: number; detail?: HoldDetail }>;
}

/**
 * A tenant's holds in memory, as DynamoTenantHolds keeps them: parking is conditional (the first
 * reason stays), a budget gate is overwritten, held messages are keyed by message id, listed in
 * message id order, and gone after HELD_MESSAGE_DAYS.
 */
export class MemoryTenantHolds implements TenantHolds {
  private readonly tenants = new Map<string, Holds>();

  constructor(private readonly clock: Pick<Clock, 'now'> = { now: Date.now }) {}

  private of(tenantId: string): Holds {
    let holds = this.tenants.get(tenantId);
    if (!holds) this.tenants.set(tenantId, (holds = { held: new Map() }));
    return holds;
  }

  async current(tenantId: string, nowMs: number): Promise<TenantHold | undefined> {
    const { parked, budget } = this.of(tenantId);
    if (parked) return { kind: 'parked', ...parked };
    if (budget && budget.untilMs > nowMs) return { kind: 'budget', ...budget };
    return undefined;
  }

  async park(tenantId: string, reason: string, at: string): Promise<boolean> {
    const holds = this.of(tenantId);
    if (holds.parked) return false;
    holds.parked = { reason, since: at };
    return true;
  }

  async unpark(tenantId: string): Promise<void> {
    delete this.of(tenantId).parked;
  }

  async closeBudgetGate(tenantId: string, untilMs: number, reason: string): Promise<void> {
    this.of(tenantId).budget = { untilMs, reason };
  }

  async hold(tenantId: string, messageId: string, body: string, cause = 'parked', detail?: HoldDetail): Promise<boolean> {
    const { held } = this.of(tenantId);
    const before = held.get(messageId);
    held.set(messageId, { body, cause, expiresAt: heldUntil(this.clock.now()), ...(detail && { detail }) });
    return !before || !this.live(before);
  }

  async held(tenantId: string, cause?: string): Promise<HeldMessage[]> {
    return this.list(tenantId, (_, h) => cause === undefined || h.cause === cause);
  }

  async heldRecord(tenantId: string, entity: EntityName, key: string): Promise<HeldMessage[]> {
    return this.list(tenantId, (id) => id.startsWith(recordHoldPrefix(entity, key)));
  }

  private live(h: { expiresAt: number }): boolean {
    return h.expiresAt > this.clock.now() / 1000;
  }

  private list(tenantId: string, pick: (id: string, h: { cause: string }) => boolean): HeldMessage[] {
    return [...this.of(tenantId).held]
      .filter(([id, h]) => pick(id, h) && this.live(h))
      .map(([messageId, h]) => ({ messageId, body: h.body, cause: h.cause, ...h.detail }))
      .sort((a, b) => compareSortKeys(a.messageId, b.messageId));
  }

  async release(tenantId: string, messageId: string): Promise<void> {
    this.of(tenantId).held.delete(messageId);
  }
}
