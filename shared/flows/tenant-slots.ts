import type { RateLimitInfo } from '../ports/pipedrive.ts';

/**
 * How many records of one batch a writer works on at once for one tenant. At Pipedrive's latency a record takes
 * about half a second to a second (its calls, its DynamoDB steps, its wait for a burst slot), so one at a time keeps
 * a writer far below its plan's rate; the pacer, the shared burst wait and the claims keep the records in flight
 * within the company's window and apart from each other. The number follows the tenant's burst limit (from the
 * rate-limit headers): a tenth of the calls its 2-second window allows, so that the writers of one queue can carry
 * the plan's rate at that latency when the other queue is idle (lite 2, growth 4, premium 10, ultimate 12 and the
 * OAuth apps' four-times limits capped by the batch), and 2 until the headers were seen. Measured on the 1k first
 * sync at realistic latency: a twentieth held ultimate at 0.63 of its rate with no 429s (30 records in flight, too
 * few); a tenth gives 0.81.
 */
const RECORDS_IN_FLIGHT_BEFORE_HEADERS = 2;
const BURST_LIMIT_PER_RECORD_IN_FLIGHT = 10;

export function recordsInFlight(limits: RateLimitInfo, batchSize: number): number {
  const { burstLimit } = limits;
  if (burstLimit === undefined || !(burstLimit > 0)) return Math.min(RECORDS_IN_FLIGHT_BEFORE_HEADERS, batchSize);
  // Three times as many while this container is alone in the window and busy: the other writers are idle (a queue's
  // last batches), and the last container would otherwise leave most of the window unused. Alone, its pacer's share is
  // the whole room: no one else's calls to overrun. Not while the window merely looks half free: at a drain's start
  // every container's first figures do, and ten containers doubling at once overran the window (429s at 6 s).
  const perRecord = limits.burstAlone ? BURST_LIMIT_PER_RECORD_IN_FLIGHT / 3 : BURST_LIMIT_PER_RECORD_IN_FLIGHT;
  return Math.max(1, Math.min(batchSize, Math.floor(burstLimit / perRecord)));
}

/** A slot limit per tenant: work beyond the tenant's limit waits its turn, in arrival order. */
export class TenantSlots {
  private readonly tenants = new Map<string, { active: number; limit: number; waiting: Array<() => void> }>();

  constructor(private readonly initialLimit: number) {}

  private of(tenantId: string) {
    let state = this.tenants.get(tenantId);
    if (!state) this.tenants.set(tenantId, (state = { active: 0, limit: this.initialLimit, waiting: [] }));
    return state;
  }

  /** Changes a tenant's limit (the burst limit became known); waiting work starts if there is room now. */
  setLimit(tenantId: string, limit: number): void {
    const state = this.of(tenantId);
    state.limit = Math.max(1, limit);
    while (state.active < state.limit && state.waiting.length > 0) {
      state.active++;
      state.waiting.shift()!();
    }
  }

  async run<T>(tenantId: string, work: () => Promise<T>): Promise<T> {
    const state = this.of(tenantId);
    if (state.active < state.limit) state.active++;
    else await new Promise<void>((resolve) => state.waiting.push(resolve));
    try {
      return await work();
    } finally {
      const next = state.active <= state.limit ? state.waiting.shift() : undefined;
      if (next) next();
      else state.active--;
    }
  }
}
