import type { Clock } from '../../ports/index.ts';
import { MemoryAuditLog } from './memory-audit-log.ts';
import { MemoryBurstPauses } from './memory-burst-pauses.ts';
import { MemoryOAuthTokenStore } from './memory-oauth-tokens.ts';
import { MemoryQueue } from './memory-queue.ts';
import { MemoryKeyMap, MemoryListingIndex, MemoryPollStateStore } from './memory-sync-state.ts';
import { MemoryTenantHolds } from './memory-tenant-holds.ts';
import { MemoryTenantStore } from './memory-tenant-store.ts';

export { MemoryAuditLog } from './memory-audit-log.ts';
export { MemoryBurstPauses } from './memory-burst-pauses.ts';
export { MemoryOAuthTokenStore } from './memory-oauth-tokens.ts';
export { MemoryQueue, type SentMessage } from './memory-queue.ts';
export { MemoryKeyMap, MemoryListingIndex, MemoryPollStateStore } from './memory-sync-state.ts';
export { MemoryTenantHolds } from './memory-tenant-holds.ts';
export { MemoryTenantStore } from './memory-tenant-store.ts';

export interface MemoryAdapters {
  tenants: MemoryTenantStore;
  keyMap: MemoryKeyMap;
  listing: MemoryListingIndex;
  pollState: MemoryPollStateStore;
  audit: MemoryAuditLog;
  holds: MemoryTenantHolds;
  burstPauses: MemoryBurstPauses;
  oauthTokens: MemoryOAuthTokenStore;
  /** A work queue by name (records, products, orders ...), made on first use; it is also its writer's MessageControl. */
  queue(name: string): MemoryQueue;
}

/**
 * Every port in memory, for tests and dry runs. They keep the DynamoDB and SQS adapters' semantics
 * (test/contract/ports.test.ts runs the same specs against both); time comes from `clock`, never
 * from timers.
 */
export function createMemoryAdapters(clock: Pick<Clock, 'now'>): MemoryAdapters {
  const queues = new Map<string, MemoryQueue>();
  return {
    tenants: new MemoryTenantStore(),
    keyMap: new MemoryKeyMap(clock),
    listing: new MemoryListingIndex(),
    pollState: new MemoryPollStateStore(),
    audit: new MemoryAuditLog(clock),
    holds: new MemoryTenantHolds(clock),
    burstPauses: new MemoryBurstPauses(),
    oauthTokens: new MemoryOAuthTokenStore(),
    queue(name) {
      let queue = queues.get(name);
      if (!queue) queues.set(name, (queue = new MemoryQueue(name)));
      return queue;
    },
  };
}
