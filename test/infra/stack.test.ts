import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duration, aws_iam as iam, aws_sqs as sqs, type App } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { CONTEXT_DEFAULTS } from '../../infra/config.ts';
import { buildConnectorApp } from '../../infra/connector-app.ts';
import type { ConnectorStack, ConnectorStackProps } from '../../infra/connector-stack.ts';
import { POLLERS } from '../../infra/topology.ts';

// ---- Harness --------------------------------------------------------------------------------------

const REPO = join(import.meta.dirname, '..', '..');
const cdkJson = JSON.parse(readFileSync(join(REPO, 'cdk.json'), 'utf8')) as { app: string; context: Record<string, unknown> };
const outdirs: string[] = [];
process.on('exit', () => outdirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

interface Built {
  app: App;
  stack: ConnectorStack;
  template: Template;
  outdir: string;
}

/** The app as `cdk synth` builds it (cdk.json context, cdk-nag on), minus esbuild bundling. */
function build(
  context: Record<string, unknown> = {},
  stackProps: ConnectorStackProps = {},
  beforeSynth: (stack: ConnectorStack) => void = () => {},
): Built {
  const outdir = mkdtempSync(join(tmpdir(), 'connector-cdk-'));
  outdirs.push(outdir);
  const { app, stack } = buildConnectorApp(
    { outdir, context: { ...cdkJson.context, 'aws:cdk:bundling-stacks': [], ...context } },
    stackProps,
  );
  beforeSynth(stack);
  return { app, stack, template: Template.fromStack(stack), outdir };
}

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, string>>;
}
interface Resource {
  Type: string;
  Properties: Record<string, unknown>;
  DeletionPolicy?: string;
}

const actionsOf = (s: Statement): string[] => (Array.isArray(s.Action) ? s.Action : [s.Action]);
const getAtt = (logicalId: string, attr = 'Arn') => ({ 'Fn::GetAtt': [logicalId, attr] });
const logicalId = (b: Built, c: { node: { defaultChild?: unknown } }): string => {
  const child = c.node.defaultChild;
  assert.ok(child, 'construct has a default child');
  return b.stack.getLogicalId(child as Parameters<ConnectorStack['getLogicalId']>[0]);
};

/** All IAM statements attached to one role (through AWS::IAM::Policy resources). */
function statementsOfRole(b: Built, roleLogicalId: string): Statement[] {
  const policies = b.template.findResources('AWS::IAM::Policy') as Record<string, Resource>;
  return Object.values(policies)
    .filter((p) => JSON.stringify(p.Properties.Roles) === JSON.stringify([{ Ref: roleLogicalId }]))
    .flatMap((p) => (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
}

function fnParts(b: Built, id: string) {
  const f = b.stack.functions.get(id);
  assert.ok(f, `function ${id} exists`);
  return { fn: logicalId(b, f.fn), role: logicalId(b, f.role), logs: logicalId(b, f.logGroup) };
}

function records(b: Built) {
  const q = b.stack.queues.get('records');
  assert.ok(q, 'records queue exists');
  return { queue: logicalId(b, q.queue), dlq: logicalId(b, q.deadLetterQueue) };
}

const base = build();

// ---- Queues ----------------------------------------------------------------------------------------

test('records queue: redrive to its DLQ after maxReceiveCount (8), visibility = 6 x writer timeout, TLS only', () => {
  const { queue, dlq } = records(base);
  const q = base.template.toJSON().Resources[queue] as Resource;
  assert.deepEqual(q.Properties.RedrivePolicy, { deadLetterTargetArn: getAtt(dlq), maxReceiveCount: 8 });
  assert.equal(q.Properties.VisibilityTimeout, 6 * 60);
  for (const id of [queue, dlq]) {
    base.template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: id }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Action: 'sqs:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  }
});

test('DLQ keeps messages longer (14 d) than the source queue (4 d)', () => {
  const { queue, dlq } = records(base);
  const resources = base.template.toJSON().Resources as Record<string, Resource>;
  const retention = (id: string) => resources[id]?.Properties.MessageRetentionPeriod as number;
  assert.equal(retention(dlq), Duration.days(14).toSeconds());
  assert.equal(retention(queue), Duration.days(4).toSeconds());
  assert.ok(retention(dlq) > retention(queue));
});

test('server-side encryption on every queue and table; tables PITR, on-demand, retained', () => {
  const queues = base.template.findResources('AWS::SQS::Queue') as Record<string, Resource>;
  assert.equal(Object.keys(queues).length, 2);
  for (const q of Object.values(queues)) assert.equal(q.Properties.SqsManagedSseEnabled, true);

  const tables = base.template.findResources('AWS::DynamoDB::Table') as Record<string, Resource>;
  assert.equal(Object.keys(tables).length, 3);
  for (const t of Object.values(tables)) {
    assert.deepEqual(t.Properties.SSESpecification, { SSEEnabled: true });
    assert.deepEqual(t.Properties.PointInTimeRecoverySpecification, { PointInTimeRecoveryEnabled: true });
    assert.equal(t.Properties.BillingMode, 'PAY_PER_REQUEST');
    assert.equal(t.DeletionPolicy, 'Retain');
  }
});

test('table keys; audit has GSI byTenantTime (tenantId, at, ALL) and TTL on expiresAt', () => {
  const t = base.template;
  const id = (table: { node: { defaultChild?: unknown } }) => logicalId(base, table);
  const props = (table: { node: { defaultChild?: unknown } }) => (t.toJSON().Resources[id(table)] as Resource).Properties;
  assert.deepEqual(props(base.stack.tables.connections).KeySchema, [{ AttributeName: 'tenantId', KeyType: 'HASH' }]);
  const pkSk = [
    { AttributeName: 'pk', KeyType: 'HASH' },
    { AttributeName: 'sk', KeyType: 'RANGE' },
  ];
  assert.deepEqual(props(base.stack.tables.syncState).KeySchema, pkSk);
  const audit = props(base.stack.tables.audit);
  assert.deepEqual(audit.KeySchema, pkSk);
  assert.deepEqual(audit.TimeToLiveSpecification, { AttributeName: 'expiresAt', Enabled: true });
  assert.deepEqual(audit.GlobalSecondaryIndexes, [
    {
      IndexName: 'byTenantTime',
      KeySchema: [
        { AttributeName: 'tenantId', KeyType: 'HASH' },
        { AttributeName: 'at', KeyType: 'RANGE' },
      ],
      Projection: { ProjectionType: 'ALL' },
    },
  ]);
});

test('credentials key rotates and is retained', () => {
  const key = base.template.toJSON().Resources[logicalId(base, base.stack.credentialsKey)] as Resource;
  assert.equal(key.Properties.EnableKeyRotation, true);
  assert.equal(key.DeletionPolicy, 'Retain');
});

// ---- Functions -------------------------------------------------------------------------------------

test('functions: nodejs22.x on arm64, own log group with retention, timeouts, memory and environment', () => {
  const expected = { PollCustomers: { timeout: 300, memory: 512 }, WritePipedrive: { timeout: 60, memory: 512 } };
  const { queue, dlq } = records(base);
  for (const [id, want] of Object.entries(expected)) {
    const parts = fnParts(base, id);
    const fn = base.template.toJSON().Resources[parts.fn] as Resource;
    assert.equal(fn.Properties.Runtime, 'nodejs22.x');
    assert.deepEqual(fn.Properties.Architectures, ['arm64']);
    assert.equal(fn.Properties.Timeout, want.timeout);
    assert.equal(fn.Properties.MemorySize, want.memory);
    assert.equal(fn.Properties.Handler, 'index.handler');
    assert.deepEqual(fn.Properties.LoggingConfig, { LogGroup: { Ref: parts.logs } });
    const env = (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    assert.deepEqual(env, {
      POWERTOOLS_SERVICE_NAME: 'qad-pipedrive-connector',
      POWERTOOLS_METRICS_NAMESPACE: 'QadPipedriveConnector',
      LOG_LEVEL: 'INFO',
      NODE_OPTIONS: '--enable-source-maps',
      CONNECTIONS_TABLE: { Ref: logicalId(base, base.stack.tables.connections) },
      SYNC_STATE_TABLE: { Ref: logicalId(base, base.stack.tables.syncState) },
      AUDIT_TABLE: { Ref: logicalId(base, base.stack.tables.audit) },
      KMS_KEY_ID: getAtt(logicalId(base, base.stack.credentialsKey)),
      CREDENTIALS_CIPHER: 'kms',
      AUDIT_RETENTION_DAYS: '90',
      RECORDS_QUEUE_URL: { Ref: queue },
      RECORDS_DLQ_URL: { Ref: dlq },
    });
    const logGroup = base.template.toJSON().Resources[parts.logs] as Resource;
    assert.equal(logGroup.Properties.RetentionInDays, 30);
  }
  // The poller's failures are retried by the next scheduled run, not by Lambda's async retries.
  base.template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
    FunctionName: { Ref: fnParts(base, 'PollCustomers').fn },
    MaximumRetryAttempts: 0,
  });
});

test('writer event source: records queue, batch 10, ReportBatchItemFailures, maxConcurrency 5', () => {
  base.template.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
  base.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
    EventSourceArn: getAtt(records(base).queue),
    FunctionName: { Ref: fnParts(base, 'WritePipedrive').fn },
    BatchSize: 10,
    FunctionResponseTypes: ['ReportBatchItemFailures'],
    ScalingConfig: { MaximumConcurrency: 5 },
  });
});

test('schedule: one per poll entity, expression from context, input {"entity":"customers"}, few retries', () => {
  const schedules = base.template.findResources('AWS::Scheduler::Schedule') as Record<string, Resource>;
  assert.equal(Object.keys(schedules).length, POLLERS.length);
  const [schedule] = Object.values(schedules);
  assert.ok(schedule);
  assert.equal(schedule.Properties.ScheduleExpression, 'rate(5 minutes)');
  const target = schedule.Properties.Target as { Arn: unknown; Input: string; RetryPolicy: { MaximumRetryAttempts: number } };
  assert.deepEqual(target.Arn, getAtt(fnParts(base, 'PollCustomers').fn));
  assert.deepEqual(JSON.parse(target.Input), { entity: 'customers' });
  assert.ok(target.RetryPolicy.MaximumRetryAttempts >= 1 && target.RetryPolicy.MaximumRetryAttempts <= 3);
  base.template.resourceCountIs('AWS::Scheduler::ScheduleGroup', 1);
});

// ---- IAM -------------------------------------------------------------------------------------------

test('IAM: no wildcard actions anywhere, no AWS-managed policies on the function roles', () => {
  const policies = base.template.findResources('AWS::IAM::Policy') as Record<string, Resource>;
  for (const [id, p] of Object.entries(policies)) {
    for (const s of (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement) {
      for (const a of actionsOf(s)) assert.ok(!a.includes('*'), `${id} grants wildcard action ${a}`);
    }
  }
  for (const id of ['PollCustomers', 'WritePipedrive']) {
    const role = base.template.toJSON().Resources[fnParts(base, id).role] as Resource;
    assert.equal(role.Properties.ManagedPolicyArns, undefined);
  }
});

function decryptStatements(statements: Statement[]): Statement[] {
  return statements.filter((s) => actionsOf(s).some((a) => a.startsWith('kms:')));
}

test('IAM: each function may kms:Decrypt only under the encryption context systems it needs', () => {
  const keyArn = getAtt(logicalId(base, base.stack.credentialsKey));
  for (const [id, system] of [
    ['PollCustomers', ['qad', 'pipedrive']],
    ['WritePipedrive', 'pipedrive'],
  ] as const) {
    const kms = decryptStatements(statementsOfRole(base, fnParts(base, id).role));
    assert.equal(kms.length, 1, `${id}: exactly one KMS statement`);
    const [s] = kms;
    assert.ok(s);
    assert.deepEqual(actionsOf(s), ['kms:Decrypt']);
    assert.deepEqual(s.Resource, keyArn);
    assert.deepEqual(s.Condition, { StringEquals: { 'kms:EncryptionContext:system': system } });
  }
});

function grants(statements: Statement[], action: string, resource: unknown): boolean {
  return statements.some(
    (s) => s.Effect === 'Allow' && actionsOf(s).includes(action) && JSON.stringify(s.Resource) === JSON.stringify(resource),
  );
}

test('IAM: poller reads connections, writes sync state, appends audit, sends to records only', () => {
  const st = statementsOfRole(base, fnParts(base, 'PollCustomers').role);
  const { queue, dlq } = records(base);
  const tables = base.stack.tables;
  assert.ok(grants(st, 'dynamodb:GetItem', getAtt(logicalId(base, tables.connections))));
  assert.ok(!grants(st, 'dynamodb:PutItem', getAtt(logicalId(base, tables.connections))));
  assert.ok(grants(st, 'dynamodb:UpdateItem', getAtt(logicalId(base, tables.syncState))));
  assert.ok(grants(st, 'dynamodb:PutItem', getAtt(logicalId(base, tables.audit))));
  assert.ok(!grants(st, 'dynamodb:DeleteItem', getAtt(logicalId(base, tables.audit))));
  assert.ok(grants(st, 'sqs:SendMessage', getAtt(queue)));
  assert.ok(!grants(st, 'sqs:SendMessage', getAtt(dlq)));
  assert.ok(!grants(st, 'sqs:ReceiveMessage', getAtt(queue)));
});

test('IAM: writer consumes records, may ChangeMessageVisibility, dead-letters to the DLQ, cannot send to records', () => {
  const st = statementsOfRole(base, fnParts(base, 'WritePipedrive').role);
  const { queue, dlq } = records(base);
  for (const a of ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility']) {
    assert.ok(grants(st, a, getAtt(queue)), `writer has ${a} on records`);
  }
  assert.ok(grants(st, 'sqs:SendMessage', getAtt(dlq)));
  assert.ok(!grants(st, 'sqs:SendMessage', getAtt(queue)));
  assert.ok(grants(st, 'dynamodb:PutItem', getAtt(logicalId(base, base.stack.tables.audit))));
});

test('IAM: each role writes only to its own log group', () => {
  for (const id of ['PollCustomers', 'WritePipedrive']) {
    const parts = fnParts(base, id);
    const logs = statementsOfRole(base, parts.role).filter((s) => actionsOf(s).some((a) => a.startsWith('logs:')));
    assert.deepEqual(
      logs.map((s) => s.Resource),
      [getAtt(parts.logs)],
    );
  }
});

// ---- Monitoring ------------------------------------------------------------------------------------

test('alarm topic: KMS-encrypted, TLS only', () => {
  const topicId = logicalId(base, base.stack.monitoring.topic);
  base.template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: getAtt(logicalId(base, base.stack.monitoring.topicKey)) });
  base.template.hasResourceProperties('AWS::SNS::TopicPolicy', {
    Topics: [{ Ref: topicId }],
    PolicyDocument: {
      Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]),
    },
  });
  base.template.resourceCountIs('AWS::SNS::Subscription', 0);
});

test('alarms: DLQ depth > 0, queue age > 900 s, errors per function; all notify SNS, missing data not breaching', () => {
  const topic = { Ref: logicalId(base, base.stack.monitoring.topic) };
  const { queue, dlq } = records(base);
  base.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
    Namespace: 'AWS/SQS',
    MetricName: 'ApproximateNumberOfMessagesVisible',
    Dimensions: [{ Name: 'QueueName', Value: getAtt(dlq, 'QueueName') }],
    ComparisonOperator: 'GreaterThanThreshold',
    Threshold: 0,
    AlarmActions: [topic],
    TreatMissingData: 'notBreaching',
  });
  base.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
    Namespace: 'AWS/SQS',
    MetricName: 'ApproximateAgeOfOldestMessage',
    Dimensions: [{ Name: 'QueueName', Value: getAtt(queue, 'QueueName') }],
    ComparisonOperator: 'GreaterThanThreshold',
    Threshold: 900,
    AlarmActions: [topic],
    TreatMissingData: 'notBreaching',
  });
  for (const id of ['PollCustomers', 'WritePipedrive']) {
    base.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: fnParts(base, id).fn } }],
      AlarmActions: [topic],
      TreatMissingData: 'notBreaching',
    });
  }
  const alarms = base.template.findResources('AWS::CloudWatch::Alarm') as Record<string, Resource>;
  assert.equal(Object.keys(alarms).length, 4);
  for (const a of Object.values(alarms)) {
    assert.deepEqual(a.Properties.AlarmActions, [topic]);
    assert.equal(a.Properties.TreatMissingData, 'notBreaching');
  }
});

test('dashboard: queues, DLQ, Lambda metrics and the EMF metrics by name', () => {
  base.template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
  const dashboards = base.template.findResources('AWS::CloudWatch::Dashboard') as Record<string, Resource>;
  const body = JSON.stringify(Object.values(dashboards)[0]?.Properties.DashboardBody);
  for (const needle of [
    'ApproximateNumberOfMessagesVisible',
    'ApproximateAgeOfOldestMessage',
    'Invocations',
    'Errors',
    'Duration',
    'Throttles',
    'QadPipedriveConnector',
    'RecordsProcessed',
    'PipedriveCalls',
    'PipedriveTokens',
    'Pipedrive429',
  ]) {
    assert.ok(body.includes(needle), `dashboard mentions ${needle}`);
  }
});

test('outputs: table names, queue URLs, DLQ ARN, key ARN, dashboard name', () => {
  const outputs = Object.keys(base.template.findOutputs('*'));
  for (const name of [
    'ConnectionsTableName',
    'SyncStateTableName',
    'AuditTableName',
    'RecordsQueueUrl',
    'RecordsDlqUrl',
    'RecordsDlqArn',
    'CredentialsKeyArn',
    'DashboardName',
  ]) {
    assert.ok(outputs.includes(name), `output ${name}`);
  }
});

// ---- cdk-nag ---------------------------------------------------------------------------------------

test('cdk-nag AwsSolutions: synth passes with no unacknowledged findings', () => {
  // What `cdk synth` runs: the validation plugin during synthesis (it throws on an error-level finding).
  base.app.synth();
  const report = JSON.parse(readFileSync(join(base.outdir, 'validation-report.json'), 'utf8')) as {
    pluginReports: { pluginName: string; conclusion?: string; violations: { ruleName: string; severity: string }[] }[];
  };
  const findings = report.pluginReports.flatMap((r) => r.violations.map((v) => `${r.pluginName} ${v.severity} ${v.ruleName}`));
  assert.deepEqual(findings, []);
  // And the pack run directly over the tree: no errors and no warnings either.
  const direct = new AwsSolutionsChecks().validateScope(base.app);
  assert.deepEqual(
    direct.violations.map((v) => `${v.severity} ${v.ruleName}`),
    [],
  );
  assert.equal(Annotations.fromStack(base.stack).findError('*', Match.anyValue()).length, 0);
});

test('cdk-nag is wired in and acknowledgements are narrow: a new wildcard or an open queue fails synth', (t) => {
  const outdir = mkdtempSync(join(tmpdir(), 'connector-cdk-'));
  outdirs.push(outdir);
  const { app, stack } = buildConnectorApp({ outdir, context: { ...cdkJson.context, 'aws:cdk:bundling-stacks': [] } });
  const poller = stack.functions.get('PollCustomers');
  assert.ok(poller);
  poller.fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: ['*'] }));
  new sqs.Queue(stack, 'Rogue');

  const errors = new AwsSolutionsChecks()
    .validateScope(app)
    .violations.filter((v) => v.severity === 'error')
    .map((v) => v.ruleName);
  assert.ok(errors.includes('AwsSolutions-IAM5[Resource::*]'), errors.join(', '));
  assert.ok(errors.includes('AwsSolutions-SQS3'));
  assert.ok(errors.includes('AwsSolutions-SQS4'));

  t.mock.method(console, 'error', () => {}); // synth prints the report before throwing
  assert.throws(() => app.synth(), /Validation failed/u);
});

// ---- Context and extension -------------------------------------------------------------------------

test('cdk.json: runs infra/app.ts and its context matches the code defaults', () => {
  assert.equal(cdkJson.app, 'npx tsx infra/app.ts');
  for (const [key, value] of Object.entries(CONTEXT_DEFAULTS)) {
    assert.deepEqual(cdkJson.context[key], value, `cdk.json context ${key}`);
  }
});

test('context overrides (CLI strings included): receives, concurrency, schedule, age, retention, alarm e-mail', () => {
  const b = build({
    maxReceiveCount: '3',
    writerMaxConcurrency: 20,
    schedules: '{"customers":"rate(15 minutes)"}',
    maxMessageAgeSeconds: 1800,
    auditRetentionDays: 30,
    alarmEmail: 'ops@example.com',
  });
  const { queue } = records(b);
  const q = b.template.toJSON().Resources[queue] as Resource;
  assert.equal((q.Properties.RedrivePolicy as { maxReceiveCount: number }).maxReceiveCount, 3);
  b.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { ScalingConfig: { MaximumConcurrency: 20 } });
  b.template.hasResourceProperties('AWS::Scheduler::Schedule', { ScheduleExpression: 'rate(15 minutes)' });
  b.template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ApproximateAgeOfOldestMessage', Threshold: 1800 });
  b.template.hasResourceProperties('AWS::Lambda::Function', {
    Environment: { Variables: Match.objectLike({ AUDIT_RETENTION_DAYS: '30' }) },
  });
  b.template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com' });
});

test('bad context is rejected with the key named', () => {
  assert.throws(() => build({ maxReceiveCount: 0 }), /maxReceiveCount/u);
  assert.throws(() => build({ writerMaxConcurrency: 1 }), /writerMaxConcurrency/u);
  assert.throws(() => build({ schedules: { customers: 'every 5 minutes' } }), /schedules\.customers/u);
  assert.throws(() => build({ schedules: { customers: 'rate(5 minutes)', deals: 'rate(1 hour)' } }), /schedules\.deals has no poller/u);
  assert.throws(() => build({ logRetentionDays: 31 }), /logRetentionDays/u);
});

test('adding a poll entity is a topology entry plus a schedule', () => {
  const contacts = { ...POLLERS[0]!, id: 'PollContacts', entity: 'contacts', description: 'Polls QAD contacts' };
  const b = build({ schedules: { customers: 'rate(5 minutes)', contacts: 'rate(10 minutes)' } }, { pollers: [...POLLERS, contacts] });
  b.template.resourceCountIs('AWS::Scheduler::Schedule', 2);
  b.template.hasResourceProperties('AWS::Scheduler::Schedule', {
    ScheduleExpression: 'rate(10 minutes)',
    Target: Match.objectLike({ Input: JSON.stringify({ entity: 'contacts' }), Arn: getAtt(fnParts(b, 'PollContacts').fn) }),
  });
  b.template.resourceCountIs('AWS::CloudWatch::Alarm', 5);
  b.app.synth(); // still passes cdk-nag
});
