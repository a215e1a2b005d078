import type { BurstPauses } from '../../ports/index.ts';

/** Tenants' burst waits in memory, as DynamoBurstPauses keeps them: a wait only ever moves later. */
export class MemoryBurstPauses implements BurstPauses {
  private readonly pauses = new Map<string, number>();

  async until(tenantId: string): Promise<number> {
    return this.pauses.get(tenantId) ?? 0;
  }

  async pause(tenantId: string, untilMs: number): Promise<void> {
    this.pauses.set(tenantId, Math.max(untilMs, this.pauses.get(tenantId) ?? 0));
  }
}
