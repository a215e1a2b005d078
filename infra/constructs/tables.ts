import { RemovalPolicy, aws_dynamodb as dynamodb } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { TABLES } from '../../shared/config/tables.ts';

/**
 * The connector's DynamoDB tables. All on-demand, point-in-time recovery on, retained on stack deletion.
 *
 * Encryption at rest uses the AWS-managed key (aws/dynamodb), not the credentials key, on purpose: CDK's
 * table grants add an unconditioned kms:Decrypt on a customer-managed table key to every reader, which would
 * let the QAD poller decrypt Pipedrive credentials (and vice versa) and defeat the per-system
 * encryption-context condition. The credential values themselves are KMS ciphertext inside the items.
 */
export class ConnectorTables extends Construct {
  /** One item per tenant: config in clear, secrets as KMS ciphertext. */
  readonly connections: dynamodb.Table;
  /** Watermarks, content hashes and the QAD key to Pipedrive id map. */
  readonly syncState: dynamodb.Table;
  /** Append-only audit trail, expiring via TTL on `expiresAt`. */
  readonly audit: dynamodb.Table;

  constructor(scope: Construct, id: string) {
    super(scope, id);

    const common = {
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: RemovalPolicy.RETAIN,
      deletionProtection: true,
    } satisfies Partial<dynamodb.TableProps>;

    this.connections = new dynamodb.Table(this, 'Connections', {
      ...common,
      partitionKey: { name: TABLES.connections.partitionKey, type: dynamodb.AttributeType.STRING },
    });

    this.syncState = new dynamodb.Table(this, 'SyncState', {
      ...common,
      partitionKey: { name: TABLES.syncState.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: TABLES.syncState.sortKey, type: dynamodb.AttributeType.STRING },
      timeToLiveAttribute: TABLES.syncState.ttlAttribute,
    });

    this.audit = new dynamodb.Table(this, 'Audit', {
      ...common,
      partitionKey: { name: TABLES.audit.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: TABLES.audit.sortKey, type: dynamodb.AttributeType.STRING },
      timeToLiveAttribute: TABLES.audit.ttlAttribute,
    });
    this.audit.addGlobalSecondaryIndex({
      indexName: TABLES.audit.byTenantTime.indexName,
      partitionKey: { name: TABLES.audit.byTenantTime.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: TABLES.audit.byTenantTime.sortKey, type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.ALL,
    });
  }
}
