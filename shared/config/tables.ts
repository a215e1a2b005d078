/**
 * Key schemas of the three tables, shared by the CDK stack and the local run so the two cannot
 * drift apart.
 */
export const TABLES = {
  connections: { partitionKey: 'tenantId' },
  /** Held messages carry `expiresAt` (TTL): they hold record content and must not stay for ever. */
  syncState: { partitionKey: 'pk', sortKey: 'sk', ttlAttribute: 'expiresAt' },
  audit: {
    partitionKey: 'pk',
    sortKey: 'sk',
    byTenantTime: { indexName: 'byTenantTime', partitionKey: 'tenantId', sortKey: 'at' },
    ttlAttribute: 'expiresAt',
  },
} as const;

/**
 * Days a held message (a record kept back for a parked tenant or a drifted field) is kept: as long as a dead
 * letter. A message still held then is gone (it carries contact details); the record is sent again when it
 * next changes, or by `connector sync`.
 */
export const HELD_MESSAGE_DAYS = 14;

/** When a message held at `nowMs` expires, in epoch seconds (DynamoDB TTL's unit). */
export const heldUntil = (nowMs: number): number => Math.floor(nowMs / 1000) + HELD_MESSAGE_DAYS * 86_400;
