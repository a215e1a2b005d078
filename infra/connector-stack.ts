import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CfnOutput,
  Duration,
  RemovalPolicy,
  Stack,
  type StackProps,
  aws_iam as iam,
  aws_kms as kms,
  aws_lambda_event_sources as eventSources,
  aws_scheduler as scheduler,
  aws_scheduler_targets as targets,
  aws_sqs as sqs,
} from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { CONNECTOR_VERSION } from '../shared/config/version.ts';
import { ConfigError, readConfig, type ConnectorConfig } from './config.ts';
import { ConnectorFunction, POWERTOOLS_ENV } from './constructs/connector-function.ts';
import { Monitoring } from './constructs/monitoring.ts';
import { ConnectorTables } from './constructs/tables.ts';
import { WorkQueue } from './constructs/work-queue.ts';
import { WebhookEndpoint } from './constructs/webhook-endpoint.ts';
import { acknowledgeDeadLetterQueue, acknowledgePinnedRuntime, acknowledgeSchedulerInvoke } from './nag.ts';
import {
  POLLERS,
  VISIBILITY_TIMEOUT_FACTOR,
  WORK_QUEUES,
  WEBHOOK_RECEIVER,
  WRITERS,
  type CredentialSystem,
  type FunctionSpec,
  type PollerSpec,
  type WorkQueueName,
  type WriterSpec,
} from './topology.ts';
import { pascal } from './names.ts';
import { queueEnvName } from '../shared/config/environment.ts';
import { TABLES } from '../shared/config/tables.ts';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export interface ConnectorStackProps extends StackProps {
  /** Repository root (package-lock.json, tsconfig.json). Default: the parent of infra/. */
  readonly projectRoot?: string;
  /** Directory of the handler files. Default: `<projectRoot>/functions`. */
  readonly functionsDir?: string;
  /** Override the topology (tests); default: POLLERS / WRITERS / WORK_QUEUES from topology.ts. */
  readonly pollers?: readonly PollerSpec[];
  readonly writers?: readonly WriterSpec[];
  readonly workQueues?: readonly WorkQueueName[];
}

/**
 * QAD ⇄ Pipedrive connector: scheduled pollers put records on work queues, queue-driven writers push them
 * to the target system. Environment-agnostic; all tunables come from CDK context (see config.ts).
 */
export class ConnectorStack extends Stack {
  readonly config: ConnectorConfig;
  readonly credentialsKey: kms.Key;
  /** What people running the connector CLI against this stack assume: the one operator allowed to send to the work queues. */
  readonly operatorRole: iam.Role;
  readonly tables: ConnectorTables;
  readonly queues: ReadonlyMap<WorkQueueName, WorkQueue>;
  readonly functions: ReadonlyMap<string, ConnectorFunction>;
  readonly monitoring: Monitoring;
  /** With context `webhooks=true` only. */
  readonly webhookEndpoint: WebhookEndpoint | undefined;

  constructor(scope: Construct, id: string, props: ConnectorStackProps = {}) {
    super(scope, id, {
      description: 'QAD ERP <-> Pipedrive connector (pollers, work queues, writers, monitoring)',
      ...props,
    });
    const projectRoot = props.projectRoot ?? REPO_ROOT;
    const functionsDir = props.functionsDir ?? resolve(projectRoot, 'functions');
    const pollers = props.pollers ?? POLLERS;
    const writers = props.writers ?? WRITERS;
    const workQueues = props.workQueues ?? WORK_QUEUES;
    this.config = readConfig(this);
    checkTopology(pollers, writers, workQueues, this.config);

    // ---- Keys and tables -------------------------------------------------------------------------
    this.credentialsKey = new kms.Key(this, 'CredentialsKey', {
      description: 'Encrypts tenant credentials (QAD password, Pipedrive token); context {tenantId, system}',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    denyWithoutTenantContext(this.credentialsKey);
    this.tables = new ConnectorTables(this, 'Tables');

    // ---- Work queues: one per flow, visibility derived from its writer's timeout -------------------
    const queues = new Map<WorkQueueName, WorkQueue>();
    for (const name of workQueues) {
      const writer = writers.find((w) => w.consumes === name);
      if (!writer) throw new ConfigError(`work queue ${name} has no writer`);
      queues.set(
        name,
        new WorkQueue(this, `${pascal(name)}Queue`, {
          queueName: `${this.stackName}-${name}`,
          consumerTimeout: writer.timeout,
          visibilityFactor: VISIBILITY_TIMEOUT_FACTOR,
          ...(writer.maxBatchingWindow && { batchingWindow: writer.maxBatchingWindow }),
          maxReceiveCount: this.config.maxReceiveCount,
        }),
      );
    }
    this.queues = queues;
    const queue = (name: WorkQueueName): WorkQueue => {
      const q = queues.get(name);
      if (!q) throw new ConfigError(`unknown work queue ${name}`);
      return q;
    };

    // ---- Functions -------------------------------------------------------------------------------
    const environment: Record<string, string> = {
      CONNECTIONS_TABLE: this.tables.connections.tableName,
      SYNC_STATE_TABLE: this.tables.syncState.tableName,
      AUDIT_TABLE: this.tables.audit.tableName,
      KMS_KEY_ID: this.credentialsKey.keyArn,
      CREDENTIALS_CIPHER: 'kms',
      AUDIT_RETENTION_DAYS: String(this.config.auditRetentionDays),
      // Each stack counts in its own namespace, so one stage's alarms never fire on another's metrics.
      POWERTOOLS_METRICS_NAMESPACE: this.stackName,
    };
    for (const [name, q] of queues) {
      environment[`${queueEnvName(name)}_QUEUE_URL`] = q.queue.queueUrl;
      environment[`${queueEnvName(name)}_DLQ_URL`] = q.deadLetterQueue.queueUrl;
    }

    const functions = new Map<string, ConnectorFunction>();
    const newFunction = (spec: FunctionSpec, retryAttempts?: number): ConnectorFunction => {
      const f = new ConnectorFunction(this, spec.id, {
        entry: resolve(functionsDir, spec.entry),
        projectRoot,
        description: spec.description,
        timeout: spec.timeout,
        memorySize: spec.memorySize,
        environment: { ...environment, ...spec.environment },
        logRetention: this.config.logRetentionDays,
        sourceMaps: this.config.sourceMaps,
        ...(retryAttempts === undefined ? {} : { retryAttempts }),
      });
      acknowledgePinnedRuntime(f.fn);
      functions.set(spec.id, f);
      return f;
    };
    const makeFunction = (spec: FunctionSpec, retryAttempts?: number): ConnectorFunction => {
      const f = newFunction(spec, retryAttempts);
      this.grantCommon(f, spec.decrypts);
      return f;
    };

    const scheduleGroup = new scheduler.ScheduleGroup(this, 'PollSchedules', {
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // An invocation the scheduler gives up on lands here (and raises an alarm) instead of vanishing.
    const scheduleDeadLetters = new sqs.Queue(this, 'ScheduleDeadLetters', {
      queueName: `${this.stackName}-schedule-dlq`,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: WorkQueue.DLQ_RETENTION,
    });
    acknowledgeDeadLetterQueue(scheduleDeadLetters, "the poll schedules' Lambda targets");
    for (const spec of pollers) {
      // A failed poll is retried by the next scheduled run (the watermark makes it idempotent); Lambda's
      // own async retries would only overlap runs.
      const f = makeFunction(spec, 0);
      queue(spec.sendsTo).queue.grant(f.fn, 'sqs:SendMessage');

      const expression = this.config.schedules[spec.entity];
      if (expression === undefined) throw new ConfigError(`context schedules has no entry for ${spec.entity}`);
      new scheduler.Schedule(this, `${pascal(spec.entity)}Schedule`, {
        description: spec.description,
        scheduleGroup,
        schedule: scheduler.ScheduleExpression.expression(expression),
        target: new targets.LambdaInvoke(f.fn, {
          input: scheduler.ScheduleTargetInput.fromObject({ entity: spec.entity }),
          retryAttempts: 2,
          maxEventAge: Duration.minutes(5),
          deadLetterQueue: scheduleDeadLetters,
        }),
      });
      acknowledgeSchedulerInvoke(this, f.fn);
    }

    for (const spec of writers) {
      const f = makeFunction(spec);
      const q = queue(spec.consumes);
      f.fn.addEventSource(
        new eventSources.SqsEventSource(q.queue, {
          batchSize: spec.batchSize,
          ...(spec.maxBatchingWindow && { maxBatchingWindow: spec.maxBatchingWindow }),
          reportBatchItemFailures: true,
          maxConcurrency: this.config.writerMaxConcurrency,
        }),
      );
      // A retry or a wait is sent again as a new message on the writer's own queue (so it spends no
      // receive); if that send fails, the receive is retried by changing its visibility (explicit,
      // although the event source's consume grant currently includes it).
      q.queue.grant(f.fn, 'sqs:SendMessage', 'sqs:ChangeMessageVisibility');
      // Permanent failures (4xx other than 429, invalid data) are dead-lettered at once, not retried.
      q.deadLetterQueue.grant(f.fn, 'sqs:SendMessage');
      // A batch's audit entries go in one request (shared/flows/batch-scope.ts). IAM cannot tell BatchWriteItem's puts
      // from its deletes, so a writer could delete audit entries through it; its code only puts (DynamoAuditLog.recordAll).
      f.fn.addToRolePolicy(
        new iam.PolicyStatement({
          sid: 'AppendAuditInBatches',
          actions: ['dynamodb:BatchWriteItem'],
          resources: [this.tables.audit.tableArn],
        }),
      );
    }
    // Only on request: without it nothing in the stack accepts a connection from outside.
    const webhookSenders: iam.IRole[] = [];
    if (this.config.webhooks) {
      const receiver = newFunction(WEBHOOK_RECEIVER);
      this.grantWebhookReceiver(receiver, queue(WEBHOOK_RECEIVER.sendsTo));
      webhookSenders.push(receiver.role);
      this.webhookEndpoint = new WebhookEndpoint(this, 'WebhookEndpoint', {
        handler: receiver.fn,
        ...this.config.webhooks,
        logRetention: this.config.logRetentionDays,
      });
    }
    this.functions = functions;

    // ---- Operator role and who may send where ----------------------------------------------------------
    this.operatorRole = new iam.Role(this, 'OperatorRole', {
      assumedBy: new iam.AccountRootPrincipal(),
      description: 'Assumed by people running the connector CLI against this stack: tenants, check, replay, redrive, erase',
    });
    this.grantOperator(this.operatorRole);
    for (const [name, q] of queues) {
      const senders = pollers.filter((p) => p.sendsTo === name).map((p) => fn(functions, p.id).role);
      const writer = fn(functions, writers.find((w) => w.consumes === name)!.id).role;
      // Its writer sends too: a wait or a retry goes back on the queue as a new message.
      const webhook = name === WEBHOOK_RECEIVER.sendsTo ? webhookSenders : [];
      onlySendersMaySend(q.queue, [...senders, ...webhook, writer, this.operatorRole]);
      onlySendersMaySend(q.deadLetterQueue, [writer]);
    }

    // ---- Monitoring --------------------------------------------------------------------------------
    this.monitoring = new Monitoring(this, 'Monitoring', {
      queues: [...queues].map(([name, workQueue]) => ({ name, workQueue })),
      functions: [...functions].map(([name, f]) => ({ name, fn: f.fn })),
      maxMessageAgeSeconds: this.config.maxMessageAgeSeconds,
      alarmEmail: this.config.alarmEmail,
      metricsNamespace: this.stackName,
      serviceName: POWERTOOLS_ENV.POWERTOOLS_SERVICE_NAME,
      tables: [
        { name: 'connections', table: this.tables.connections },
        { name: 'sync-state', table: this.tables.syncState },
        { name: 'audit', table: this.tables.audit },
      ],
      scheduleDeadLetters,
      webhooks: this.webhookEndpoint !== undefined,
    });

    // ---- Outputs -----------------------------------------------------------------------------------
    new CfnOutput(this, 'ConnectionsTableName', { value: this.tables.connections.tableName });
    new CfnOutput(this, 'SyncStateTableName', { value: this.tables.syncState.tableName });
    new CfnOutput(this, 'AuditTableName', { value: this.tables.audit.tableName });
    for (const [name, q] of queues) {
      new CfnOutput(this, `${pascal(name)}QueueUrl`, { value: q.queue.queueUrl });
      new CfnOutput(this, `${pascal(name)}DlqUrl`, { value: q.deadLetterQueue.queueUrl });
      new CfnOutput(this, `${pascal(name)}DlqArn`, { value: q.deadLetterQueue.queueArn });
    }
    if (this.webhookEndpoint)
      new CfnOutput(this, 'WebhookUrlPrefix', {
        value: this.webhookEndpoint.urlPrefix,
        description: 'Pipedrive webhook URL of a tenant: this prefix and the tenant id (connector webhook install --url-prefix)',
      });
    new CfnOutput(this, 'CredentialsKeyArn', { value: this.credentialsKey.keyArn });
    new CfnOutput(this, 'OperatorRoleArn', { value: this.operatorRole.roleArn });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.monitoring.topic.topicArn });
    new CfnOutput(this, 'DashboardName', { value: this.monitoring.dashboard.dashboardName });
    // The release deployed, so `connector --version --outputs FILE` can tell an operator when CLI and stack differ.
    new CfnOutput(this, 'ConnectorVersion', { value: CONNECTOR_VERSION });
  }

  /**
   * What the operator CLI does against a deployed stack: tenants (connections, kms:Encrypt under each
   * tenant's context), check and authorize (kms:Decrypt, the sync state), replay (send to a work queue),
   * redrive (move a DLQ's messages back), status, and erase (delete from the audit, the holds, the DLQs).
   */
  private grantOperator(role: iam.Role): void {
    this.tables.connections.grantReadWriteData(role);
    this.tables.syncState.grantReadWriteData(role);
    const audit = this.tables.audit.tableArn;
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ReadAndEraseAudit',
        actions: ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:PutItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem'],
        resources: [audit, `${audit}/index/${TABLES.audit.byTenantTime.indexName}`],
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'UseCredentialsKey',
        actions: ['kms:Encrypt', 'kms:Decrypt'],
        resources: [this.credentialsKey.keyArn],
      }),
    );
    for (const q of this.queues.values()) {
      q.queue.grant(role, 'sqs:SendMessage', 'sqs:GetQueueAttributes');
      q.deadLetterQueue.grant(
        role,
        'sqs:ReceiveMessage',
        'sqs:DeleteMessage',
        'sqs:ChangeMessageVisibility',
        'sqs:GetQueueAttributes',
        'sqs:StartMessageMoveTask',
        'sqs:ListMessageMoveTasks',
      );
    }
  }

  /**
   * The webhook receiver's whole reach: read a tenant's connection item, decrypt only secrets under the `webhook`
   * context, send to the orders queue. No sync state, no audit, no other secret.
   */
  private grantWebhookReceiver(f: ConnectorFunction, orders: WorkQueue): void {
    f.fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ReadConnections',
        actions: ['dynamodb:GetItem'],
        resources: [this.tables.connections.tableArn],
      }),
    );
    f.fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'DecryptOnlyWebhookCredentials',
        actions: ['kms:Decrypt'],
        resources: [this.credentialsKey.keyArn],
        conditions: { StringEquals: { 'kms:EncryptionContext:system': 'webhook' } },
      }),
    );
    orders.queue.grant(f.fn, 'sqs:SendMessage');
  }

  /** Grants every function needs: its tenant's connection, sync state, the audit trail, its own secret. */
  private grantCommon(f: ConnectorFunction, systems: readonly CredentialSystem[]): void {
    this.tables.connections.grantReadData(f.fn);
    this.tables.syncState.grantReadWriteData(f.fn);
    // Append-only, and on the table alone (Table.grant would add its indexes): the functions put audit
    // entries; they never update, delete or query them.
    f.fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'AppendAudit',
        actions: ['dynamodb:PutItem'],
        resources: [this.tables.audit.tableArn],
      }),
    );
    f.fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: `DecryptOnly${systems.map(pascal).join('And')}Credentials`,
        actions: ['kms:Decrypt'],
        resources: [this.credentialsKey.keyArn],
        conditions: { StringEquals: { 'kms:EncryptionContext:system': systems.length === 1 ? systems[0] : [...systems] } },
      }),
    );
    // A tenant on Pipedrive OAuth: whichever function finds the access token expiring refreshes it and stores the
    // new tokens encrypted (shared/clients/pipedrive-auth.ts), under the pipedrive context and no other.
    if (systems.includes('pipedrive'))
      f.fn.addToRolePolicy(
        new iam.PolicyStatement({
          sid: 'EncryptOnlyPipedriveTokens',
          actions: ['kms:Encrypt'],
          resources: [this.credentialsKey.keyArn],
          conditions: { StringEquals: { 'kms:EncryptionContext:system': 'pipedrive' } },
        }),
      );
  }
}

function fn(functions: ReadonlyMap<string, ConnectorFunction>, id: string): ConnectorFunction {
  const f = functions.get(id);
  if (!f) throw new ConfigError(`function ${id} is not defined`);
  return f;
}

/**
 * The key policy itself refuses every use without both encryption context keys, whatever IAM grants: a
 * principal with a broad kms:Decrypt and table read cannot decrypt a tenant's secrets outside its context.
 */
function denyWithoutTenantContext(key: kms.Key): void {
  for (const context of ['tenantId', 'system'])
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: `DenyWithout${pascal(context)}Context`,
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: { Null: { [`kms:EncryptionContext:${context}`]: 'true' } },
      }),
    );
}

/**
 * The queue's own policy refuses sqs:SendMessage to every principal but its senders, whatever IAM grants
 * elsewhere: a message in a work queue is trusted to be what a poller or an operator put there. Only
 * requests that carry a principal ARN are judged (SQS moving a message to its DLQ carries none).
 */
function onlySendersMaySend(queue: sqs.Queue, senders: readonly iam.IRole[]): void {
  queue.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'SendOnlyFromItsSenders',
      effect: iam.Effect.DENY,
      principals: [new iam.AnyPrincipal()],
      actions: ['sqs:SendMessage'],
      resources: [queue.queueArn],
      conditions: {
        ArnNotEquals: { 'aws:PrincipalArn': senders.map((r) => r.roleArn) },
        Null: { 'aws:PrincipalArn': 'false' },
      },
    }),
  );
}

function checkTopology(
  pollers: readonly PollerSpec[],
  writers: readonly WriterSpec[],
  workQueues: readonly WorkQueueName[],
  config: ConnectorConfig,
): void {
  const ids = [...pollers, ...writers].map((s) => s.id);
  const dup = ids.find((id, i) => ids.indexOf(id) !== i);
  if (dup) throw new ConfigError(`function id ${dup} is used twice`);
  for (const name of workQueues) {
    const consumers = writers.filter((w) => w.consumes === name).length;
    if (consumers !== 1) throw new ConfigError(`work queue ${name} needs exactly one writer, has ${consumers}`);
  }
  for (const spec of [...pollers.map((p) => p.sendsTo), ...writers.map((w) => w.consumes)]) {
    if (!workQueues.includes(spec)) throw new ConfigError(`work queue ${spec} is not declared`);
  }
  const entities = new Set(pollers.map((p) => p.entity));
  for (const entity of Object.keys(config.schedules)) {
    if (!entities.has(entity)) throw new ConfigError(`context schedules.${entity} has no poller (known: ${[...entities].join(', ')})`);
  }
  for (const entity of entities) {
    if (config.schedules[entity] === undefined) throw new ConfigError(`context schedules has no entry for ${entity}`);
  }
}
