/**
 * Key schemas of the three tables, shared by the CDK stack and the local run so the two cannot
 * drift apart.
 */
export const TABLES = {
  connections: { partitionKey: 'tenantId' },
  syncState: { partitionKey: 'pk', sortKey: 'sk' },
  audit: {
    partitionKey: 'pk',
    sortKey: 'sk',
    byTenantTime: { indexName: 'byTenantTime', partitionKey: 'tenantId', sortKey: 'at' },
    ttlAttribute: 'expiresAt',
  },
} as const;
