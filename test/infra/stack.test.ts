import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duration, aws_iam as iam, aws_sqs as sqs, type App } from 'aws-cdk-lib';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { CONTEXT_DEFAULTS } from '../../infra/config.ts';
import { buildConnectorApp } from '../../infra/connector-app.ts';
import type { ConnectorStack, ConnectorStackProps } from '../../infra/connector-stack.ts';
import { pascal } from '../../infra/names.ts';
import { queueEnvName as envName } from '../../shared/config/environment.ts';
import { CONNECTOR_VERSION } from '../../shared/config/version.ts';
import {
  POLLERS,
  VISIBILITY_TIMEOUT_FACTOR,
  WORK_QUEUES,
  WRITERS,
  type FunctionSpec,
  type PollerSpec,
  type WorkQueueName,
  type WriterSpec,
} from '../../infra/topology.ts';

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
  Sid?: string;
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

/** Logical ids of one work queue and its DLQ. */
function queueParts(b: Built, name: WorkQueueName) {
  const q = b.stack.queues.get(name);
  assert.ok(q, `${name} queue exists`);
  return { queue: logicalId(b, q.queue), dlq: logicalId(b, q.deadLetterQueue) };
}

const records = (b: Built) => queueParts(b, 'records');
const products = (b: Built) => queueParts(b, 'products');
const orders = (b: Built) => queueParts(b, 'orders');

const FUNCTIONS: readonly FunctionSpec[] = [...POLLERS, ...WRITERS];
const writerOf = (name: WorkQueueName): WriterSpec => {
  const w = WRITERS.find((s) => s.consumes === name);
  assert.ok(w, `queue ${name} has a writer`);
  return w;
};

/** The schedules a bare deploy gets (the registry's defaults; cdk.json does not override them), poll -> expression. */
const cdkSchedules = CONTEXT_DEFAULTS.schedules as Record<string, string>;

const base = build();

// ---- Topology --------------------------------------------------------------------------------------

test('topology: customers and contacts feed records, items feed products, deals feed orders, one writer per queue', () => {
  assert.deepEqual([...WORK_QUEUES], ['records', 'products', 'orders']);
  assert.deepEqual(
    POLLERS.map((p) => [p.id, p.entity, p.entry, p.sendsTo, p.environment]),
    [
      ['PollCustomers', 'customers', 'poll.ts', 'records', { POLL_NAME: 'customers' }],
      ['PollContacts', 'contacts', 'poll.ts', 'records', { POLL_NAME: 'contacts' }],
      ['PollItems', 'items', 'poll.ts', 'products', { POLL_NAME: 'items' }],
      ['PollDeals', 'deals', 'poll.ts', 'orders', { POLL_NAME: 'deals' }],
      ['PollOrderStatus', 'order-status', 'poll.ts', 'records', { POLL_NAME: 'order-status' }],
    ],
  );
  assert.deepEqual(
    WRITERS.map((w) => [w.id, w.entry, w.consumes, w.environment]),
    [
      ['WritePipedrive', 'write.ts', 'records', { WORK_QUEUE: 'records' }],
      ['WriteProducts', 'write.ts', 'products', { WORK_QUEUE: 'products' }],
      ['WriteQad', 'write.ts', 'orders', { WORK_QUEUE: 'orders' }],
    ],
  );
  for (const spec of FUNCTIONS) assert.ok(existsSync(join(REPO, 'functions', spec.entry)), `functions/${spec.entry} exists`);
  // The stack builds exactly that: one function per spec, one WorkQueue per declared queue.
  assert.deepEqual(
    [...base.stack.functions.keys()],
    FUNCTIONS.map((s) => s.id),
  );
  assert.deepEqual([...base.stack.queues.keys()], [...WORK_QUEUES]);
  base.template.resourceCountIs('AWS::Lambda::Function', FUNCTIONS.length);
  base.template.resourceCountIs('AWS::Lambda::Function', 8);
});

// ---- Queues ----------------------------------------------------------------------------------------

test('work queues: each redrives to its own DLQ after maxReceiveCount (8), visibility = 6 x its writer timeout + window, TLS only', () => {
  const resources = base.template.toJSON().Resources as Record<string, Resource>;
  for (const name of WORK_QUEUES) {
    const { queue, dlq } = queueParts(base, name);
    const q = resources[queue];
    assert.ok(q, `${name} queue resource`);
    assert.deepEqual(q.Properties.RedrivePolicy, { deadLetterTargetArn: getAtt(dlq), maxReceiveCount: 8 }, `${name} redrive`);
    const writer = writerOf(name);
    assert.equal(
      q.Properties.VisibilityTimeout,
      VISIBILITY_TIMEOUT_FACTOR * writer.timeout.toSeconds() + (writer.maxBatchingWindow?.toSeconds() ?? 0),
      `${name} visibility`,
    );
    assert.equal(q.Properties.VisibilityTimeout, name === 'orders' ? 6 * 60 : 6 * 60 + 1, `${name} visibility`);
    assert.equal(q.Properties.QueueName, `QadPipedriveConnector-${name}`);
    assert.equal(resources[dlq]?.Properties.QueueName, `QadPipedriveConnector-${name}-dlq`);
    assert.equal(resources[dlq]?.Properties.RedrivePolicy, undefined, `${name} DLQ is the end of the line`);
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
  }
  // The queues are distinct: products and orders each have their own queue and DLQ, not records'.
  const r = records(base);
  const p = products(base);
  const o = orders(base);
  assert.equal(new Set([r.queue, r.dlq, p.queue, p.dlq, o.queue, o.dlq]).size, 6);
  assert.deepEqual((resources[p.queue]?.Properties.RedrivePolicy as { deadLetterTargetArn: unknown }).deadLetterTargetArn, getAtt(p.dlq));
  assert.deepEqual((resources[o.queue]?.Properties.RedrivePolicy as { deadLetterTargetArn: unknown }).deadLetterTargetArn, getAtt(o.dlq));
});

test('DLQ keeps messages longer (14 d) than the source queue (4 d), for every work queue', () => {
  const resources = base.template.toJSON().Resources as Record<string, Resource>;
  const retention = (id: string) => resources[id]?.Properties.MessageRetentionPeriod as number;
  for (const name of WORK_QUEUES) {
    const { queue, dlq } = queueParts(base, name);
    assert.equal(retention(dlq), Duration.days(14).toSeconds(), `${name} DLQ retention`);
    assert.equal(retention(queue), Duration.days(4).toSeconds(), `${name} queue retention`);
    assert.ok(retention(dlq) > retention(queue));
  }
});

test('server-side encryption on every queue and table; tables PITR, on-demand, retained', () => {
  const queues = base.template.findResources('AWS::SQS::Queue') as Record<string, Resource>;
  // A queue and a DLQ per work queue, and the schedules' DLQ; nothing else.
  assert.equal(Object.keys(queues).length, 2 * WORK_QUEUES.length + 1);
  assert.equal(Object.keys(queues).length, 7);
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

test('table keys; audit has GSI byTenantTime (tenantId, at, ALL); audit and sync state (held messages) TTL on expiresAt', () => {
  const t = base.template;
  const id = (table: { node: { defaultChild?: unknown } }) => logicalId(base, table);
  const props = (table: { node: { defaultChild?: unknown } }) => (t.toJSON().Resources[id(table)] as Resource).Properties;
  assert.deepEqual(props(base.stack.tables.connections).KeySchema, [{ AttributeName: 'tenantId', KeyType: 'HASH' }]);
  const pkSk = [
    { AttributeName: 'pk', KeyType: 'HASH' },
    { AttributeName: 'sk', KeyType: 'RANGE' },
  ];
  assert.deepEqual(props(base.stack.tables.syncState).KeySchema, pkSk);
  assert.deepEqual(props(base.stack.tables.syncState).TimeToLiveSpecification, { AttributeName: 'expiresAt', Enabled: true });
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

test('credentials key policy: no Encrypt, Decrypt or GenerateDataKey without the tenantId and the system context', () => {
  const key = base.template.toJSON().Resources[logicalId(base, base.stack.credentialsKey)] as Resource;
  const statements = (key.Properties.KeyPolicy as { Statement: Array<Statement & { Principal: unknown }> }).Statement;
  const denies = statements.filter((st) => st.Effect === 'Deny');
  for (const context of ['tenantId', 'system']) {
    const deny = denies.find(
      (st) => JSON.stringify(st.Condition) === JSON.stringify({ Null: { [`kms:EncryptionContext:${context}`]: 'true' } }),
    );
    assert.ok(deny, `a deny when ${context} is missing`);
    assert.deepEqual(deny.Principal, { AWS: '*' });
    assert.deepEqual(actionsOf(deny).sort(), ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey*']);
  }
  // One statement with both keys would deny only when both are missing: each key has its own.
  assert.equal(denies.length, 2);
});

// ---- Functions -------------------------------------------------------------------------------------

test('functions: nodejs22.x on arm64, own log group with retention, timeouts, memory and environment', () => {
  const expected: Record<string, { timeout: number; memory: number }> = {
    PollCustomers: { timeout: 300, memory: 512 },
    PollContacts: { timeout: 300, memory: 512 },
    PollItems: { timeout: 300, memory: 512 },
    PollDeals: { timeout: 300, memory: 512 },
    PollOrderStatus: { timeout: 300, memory: 512 },
    WritePipedrive: { timeout: 60, memory: 512 },
    WriteProducts: { timeout: 60, memory: 512 },
    WriteQad: { timeout: 60, memory: 512 },
  };
  assert.deepEqual(Object.keys(expected).sort(), FUNCTIONS.map((s) => s.id).sort(), 'every function is listed here');
  const r = records(base);
  const p = products(base);
  const o = orders(base);
  // Every function gets every queue's URLs (<NAME>_QUEUE_URL / <NAME>_DLQ_URL), derived from WORK_QUEUES.
  assert.deepEqual(
    WORK_QUEUES.flatMap((name) => [`${envName(name)}_QUEUE_URL`, `${envName(name)}_DLQ_URL`]),
    ['RECORDS_QUEUE_URL', 'RECORDS_DLQ_URL', 'PRODUCTS_QUEUE_URL', 'PRODUCTS_DLQ_URL', 'ORDERS_QUEUE_URL', 'ORDERS_DLQ_URL'],
  );
  const resources = base.template.toJSON().Resources as Record<string, Resource>;
  for (const spec of FUNCTIONS) {
    const want = expected[spec.id];
    assert.ok(want);
    const parts = fnParts(base, spec.id);
    const fn = resources[parts.fn];
    assert.ok(fn, `${spec.id} function resource`);
    assert.equal(fn.Properties.Runtime, 'nodejs22.x');
    assert.deepEqual(fn.Properties.Architectures, ['arm64']);
    assert.equal(fn.Properties.Timeout, want.timeout, `${spec.id} timeout`);
    assert.equal(fn.Properties.Timeout, spec.timeout.toSeconds(), `${spec.id} timeout follows the topology`);
    assert.equal(fn.Properties.MemorySize, want.memory, `${spec.id} memory`);
    assert.equal(fn.Properties.Description, spec.description);
    assert.equal(fn.Properties.Handler, 'index.handler');
    assert.deepEqual(fn.Properties.LoggingConfig, { LogGroup: { Ref: parts.logs } });
    const env = (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    assert.deepEqual(
      env,
      {
        POWERTOOLS_SERVICE_NAME: 'qad-pipedrive-connector',
        POWERTOOLS_METRICS_NAMESPACE: 'QadPipedriveConnector',
        LOG_LEVEL: 'INFO',
        CONNECTIONS_TABLE: { Ref: logicalId(base, base.stack.tables.connections) },
        SYNC_STATE_TABLE: { Ref: logicalId(base, base.stack.tables.syncState) },
        AUDIT_TABLE: { Ref: logicalId(base, base.stack.tables.audit) },
        KMS_KEY_ID: getAtt(logicalId(base, base.stack.credentialsKey)),
        CREDENTIALS_CIPHER: 'kms',
        AUDIT_RETENTION_DAYS: '90',
        RECORDS_QUEUE_URL: { Ref: r.queue },
        RECORDS_DLQ_URL: { Ref: r.dlq },
        PRODUCTS_QUEUE_URL: { Ref: p.queue },
        PRODUCTS_DLQ_URL: { Ref: p.dlq },
        ORDERS_QUEUE_URL: { Ref: o.queue },
        ORDERS_DLQ_URL: { Ref: o.dlq },
        // Which flow a poll function runs, or which queue a writer consumes.
        ...spec.environment,
      },
      `${spec.id} environment`,
    );
    const logGroup = resources[parts.logs];
    assert.equal(logGroup?.Properties.RetentionInDays, 30, `${spec.id} log retention`);
  }
  // A poller's failures are retried by the next scheduled run, not by Lambda's async retries; writers keep
  // Lambda's defaults (they are invoked synchronously by the event source mapping anyway).
  base.template.resourceCountIs('AWS::Lambda::EventInvokeConfig', POLLERS.length);
  base.template.resourceCountIs('AWS::Lambda::EventInvokeConfig', 5);
  for (const spec of POLLERS) {
    base.template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: fnParts(base, spec.id).fn },
      MaximumRetryAttempts: 0,
    });
  }
});

test('writer event sources: each writer its own queue, bulk batches of 50 (1 s window), won deals 10 at once, maxConcurrency 5', () => {
  const mappings = Object.values(base.template.findResources('AWS::Lambda::EventSourceMapping') as Record<string, Resource>);
  assert.equal(mappings.length, WRITERS.length);
  assert.equal(mappings.length, 3);
  for (const spec of WRITERS) {
    const fn = { Ref: fnParts(base, spec.id).fn };
    const own = mappings.filter((m) => JSON.stringify(m.Properties.FunctionName) === JSON.stringify(fn));
    assert.equal(own.length, 1, `${spec.id}: exactly one event source`);
    assert.deepEqual(
      own[0]?.Properties,
      {
        EventSourceArn: getAtt(queueParts(base, spec.consumes).queue),
        FunctionName: fn,
        BatchSize: spec.batchSize,
        ...(spec.maxBatchingWindow && { MaximumBatchingWindowInSeconds: spec.maxBatchingWindow.toSeconds() }),
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        ScalingConfig: { MaximumConcurrency: 5 },
      },
      `${spec.id} event source`,
    );
  }
  // Concretely: the products writer consumes the products queue, the QAD writer the orders queue.
  base.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
    EventSourceArn: getAtt(products(base).queue),
    FunctionName: { Ref: fnParts(base, 'WriteProducts').fn },
    BatchSize: 50,
    MaximumBatchingWindowInSeconds: 1,
    FunctionResponseTypes: ['ReportBatchItemFailures'],
    ScalingConfig: { MaximumConcurrency: 5 },
  });
  base.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
    EventSourceArn: getAtt(records(base).queue),
    FunctionName: { Ref: fnParts(base, 'WritePipedrive').fn },
    BatchSize: 50,
    MaximumBatchingWindowInSeconds: 1,
    FunctionResponseTypes: ['ReportBatchItemFailures'],
    ScalingConfig: { MaximumConcurrency: 5 },
  });
  base.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
    EventSourceArn: getAtt(orders(base).queue),
    FunctionName: { Ref: fnParts(base, 'WriteQad').fn },
    BatchSize: 10,
    FunctionResponseTypes: ['ReportBatchItemFailures'],
    ScalingConfig: { MaximumConcurrency: 5 },
  });
  // The orders queue is consumed by WriteQad alone; WriteQad consumes nothing else.
  const ordersConsumers = mappings.filter(
    (m) => JSON.stringify(m.Properties.EventSourceArn) === JSON.stringify(getAtt(orders(base).queue)),
  );
  assert.deepEqual(
    ordersConsumers.map((m) => m.Properties.FunctionName),
    [{ Ref: fnParts(base, 'WriteQad').fn }],
  );
  assert.deepEqual(
    mappings
      .filter((m) => JSON.stringify(m.Properties.FunctionName) === JSON.stringify({ Ref: fnParts(base, 'WriteQad').fn }))
      .map((m) => m.Properties.EventSourceArn),
    [getAtt(orders(base).queue)],
  );
  // Every work queue is consumed exactly once; no DLQ is consumed (it is drained by redrive, not a function).
  const sources = mappings.map((m) => JSON.stringify(m.Properties.EventSourceArn));
  for (const name of WORK_QUEUES) {
    const { queue, dlq } = queueParts(base, name);
    assert.equal(sources.filter((s) => s === JSON.stringify(getAtt(queue))).length, 1, `${name} consumed once`);
    assert.ok(!sources.includes(JSON.stringify(getAtt(dlq))), `${name} DLQ not consumed`);
  }
});

test('schedules: one per poll entity, its own expression from context, input {"entity":<entity>}, few retries', () => {
  const schedules = Object.values(base.template.findResources('AWS::Scheduler::Schedule') as Record<string, Resource>);
  assert.equal(schedules.length, POLLERS.length);
  assert.equal(schedules.length, 5);
  // Concretely what the registry asks for; customers, contacts and deals every 5 minutes, items and order statuses every 15.
  const expected: Record<string, string> = {
    customers: 'rate(5 minutes)',
    contacts: 'rate(5 minutes)',
    items: 'rate(15 minutes)',
    deals: 'rate(5 minutes)',
    'order-status': 'rate(15 minutes)',
  };
  assert.deepEqual(cdkSchedules, expected);
  const groups = Object.values(base.template.findResources('AWS::Scheduler::ScheduleGroup') as Record<string, Resource>);
  assert.equal(groups.length, 1);
  const groupName = groups[0]?.Properties.Name;
  assert.ok(groupName);
  type Target = { Arn: unknown; Input: string; RetryPolicy: { MaximumRetryAttempts: number } };
  for (const spec of POLLERS) {
    const arn = getAtt(fnParts(base, spec.id).fn);
    const own = schedules.filter((s) => JSON.stringify((s.Properties.Target as Target).Arn) === JSON.stringify(arn));
    assert.equal(own.length, 1, `${spec.id}: exactly one schedule`);
    const [schedule] = own;
    assert.ok(schedule);
    assert.equal(schedule.Properties.ScheduleExpression, expected[spec.entity], `${spec.entity} expression`);
    assert.equal(schedule.Properties.ScheduleExpression, cdkSchedules[spec.entity], `${spec.entity} expression from context`);
    assert.equal(schedule.Properties.GroupName, groupName);
    const target = schedule.Properties.Target as Target;
    assert.deepEqual(JSON.parse(target.Input), { entity: spec.entity });
    assert.ok(target.RetryPolicy.MaximumRetryAttempts >= 1 && target.RetryPolicy.MaximumRetryAttempts <= 3);
  }
  base.template.hasResourceProperties('AWS::Scheduler::Schedule', {
    ScheduleExpression: 'rate(15 minutes)',
    Target: Match.objectLike({ Arn: getAtt(fnParts(base, 'PollItems').fn), Input: JSON.stringify({ entity: 'items' }) }),
  });
  base.template.hasResourceProperties('AWS::Scheduler::Schedule', {
    ScheduleExpression: 'rate(5 minutes)',
    Target: Match.objectLike({ Arn: getAtt(fnParts(base, 'PollDeals').fn), Input: JSON.stringify({ entity: 'deals' }) }),
  });
});

// ---- IAM -------------------------------------------------------------------------------------------

test('IAM: no wildcard actions anywhere, no AWS-managed policies on the function roles', () => {
  const policies = base.template.findResources('AWS::IAM::Policy') as Record<string, Resource>;
  for (const [id, p] of Object.entries(policies)) {
    for (const s of (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement) {
      for (const a of actionsOf(s)) assert.ok(!a.includes('*'), `${id} grants wildcard action ${a}`);
    }
  }
  for (const spec of FUNCTIONS) {
    const role = base.template.toJSON().Resources[fnParts(base, spec.id).role] as Resource;
    assert.equal(role.Properties.ManagedPolicyArns, undefined, `${spec.id} has no managed policies`);
  }
});

/** Every KMS statement but the one that lets a function store refreshed Pipedrive OAuth tokens (tested below). */
function decryptStatements(statements: Statement[]): Statement[] {
  return statements.filter((s) => actionsOf(s).some((a) => a.startsWith('kms:')) && s.Sid !== 'EncryptOnlyPipedriveTokens');
}

test('IAM: every function that calls Pipedrive may kms:Encrypt a refreshed OAuth token, under the pipedrive context only', () => {
  const keyArn = getAtt(logicalId(base, base.stack.credentialsKey));
  for (const spec of FUNCTIONS) {
    const encrypt = statementsOfRole(base, fnParts(base, spec.id).role).filter((s) => actionsOf(s).includes('kms:Encrypt'));
    assert.deepEqual(
      encrypt.map((s) => [s.Sid, actionsOf(s), s.Resource, s.Condition]),
      spec.decrypts.includes('pipedrive')
        ? [['EncryptOnlyPipedriveTokens', ['kms:Encrypt'], keyArn, { StringEquals: { 'kms:EncryptionContext:system': 'pipedrive' } }]]
        : [],
      spec.id,
    );
  }
});

test('IAM: each function may kms:Decrypt only under the encryption context systems it needs', () => {
  const keyArn = getAtt(logicalId(base, base.stack.credentialsKey));
  // QAD pollers read QAD and list Pipedrive once on the first sync; the deals poller reads Pipedrive only.
  // The products writer only talks to Pipedrive; the records writer may write the organization id back into
  // QAD (keys both ways) and so decrypts the QAD password too; the QAD writer creates the order in QAD and
  // resolves and writes back in Pipedrive.
  const expected: Record<string, string | string[]> = {
    PollCustomers: ['qad', 'pipedrive'],
    PollContacts: ['qad', 'pipedrive'],
    PollItems: ['qad', 'pipedrive'],
    PollDeals: 'pipedrive',
    // Reads QAD's orders; checks the mapped deal fields in Pipedrive before it sends changes.
    PollOrderStatus: ['qad', 'pipedrive'],
    WritePipedrive: ['pipedrive', 'qad'],
    WriteProducts: 'pipedrive',
    WriteQad: ['qad', 'pipedrive'],
  };
  assert.deepEqual(Object.keys(expected).sort(), FUNCTIONS.map((s) => s.id).sort(), 'every function is listed here');
  for (const spec of FUNCTIONS) {
    const system = expected[spec.id];
    assert.ok(system);
    assert.deepEqual(typeof system === 'string' ? [system] : system, [...spec.decrypts], `${spec.id}: topology agrees`);
    const kms = decryptStatements(statementsOfRole(base, fnParts(base, spec.id).role));
    assert.equal(kms.length, 1, `${spec.id}: exactly one KMS statement`);
    const [s] = kms;
    assert.ok(s);
    assert.deepEqual(actionsOf(s), ['kms:Decrypt']);
    assert.deepEqual(s.Resource, keyArn);
    assert.deepEqual(s.Condition, { StringEquals: { 'kms:EncryptionContext:system': system } }, `${spec.id} KMS condition`);
  }
});

/** Whether some Allow statement grants `action` on `resource` (alone or in a resource list). */
function grants(statements: Statement[], action: string, resource: unknown): boolean {
  const want = JSON.stringify(resource);
  return statements.some(
    (s) =>
      s.Effect === 'Allow' &&
      actionsOf(s).includes(action) &&
      (Array.isArray(s.Resource) ? s.Resource : [s.Resource]).some((r) => JSON.stringify(r) === want),
  );
}

/** Every SQS action the statements allow on `resource`. */
function sqsActionsOn(statements: Statement[], resource: unknown): string[] {
  const want = JSON.stringify(resource);
  return statements
    .filter((s) => s.Effect === 'Allow' && (Array.isArray(s.Resource) ? s.Resource : [s.Resource]).some((r) => JSON.stringify(r) === want))
    .flatMap((s) => actionsOf(s).filter((a) => a.startsWith('sqs:')));
}

test('IAM: pollers read connections, write sync state, append audit, send to their own work queue only', () => {
  const tables = base.stack.tables;
  for (const spec of POLLERS) {
    const st = statementsOfRole(base, fnParts(base, spec.id).role);
    assert.ok(grants(st, 'dynamodb:GetItem', getAtt(logicalId(base, tables.connections))), spec.id);
    assert.ok(!grants(st, 'dynamodb:PutItem', getAtt(logicalId(base, tables.connections))), spec.id);
    assert.ok(grants(st, 'dynamodb:UpdateItem', getAtt(logicalId(base, tables.syncState))), spec.id);
    assert.ok(grants(st, 'dynamodb:PutItem', getAtt(logicalId(base, tables.audit))), spec.id);
    assert.ok(!grants(st, 'dynamodb:DeleteItem', getAtt(logicalId(base, tables.audit))), spec.id);
    assert.ok(!grants(st, 'dynamodb:BatchWriteItem', getAtt(logicalId(base, tables.audit))), spec.id);
    for (const name of WORK_QUEUES) {
      const { queue, dlq } = queueParts(base, name);
      const own = name === spec.sendsTo;
      assert.deepEqual(sqsActionsOn(st, getAtt(queue)), own ? ['sqs:SendMessage'] : [], `${spec.id} on ${name} queue`);
      assert.deepEqual(sqsActionsOn(st, getAtt(dlq)), [], `${spec.id} on ${name} DLQ`);
    }
  }
  // Concretely: items go to products, never to records; customers and contacts the other way round.
  const items = statementsOfRole(base, fnParts(base, 'PollItems').role);
  assert.ok(grants(items, 'sqs:SendMessage', getAtt(products(base).queue)));
  assert.ok(!grants(items, 'sqs:SendMessage', getAtt(records(base).queue)));
  for (const id of ['PollCustomers', 'PollContacts']) {
    const st = statementsOfRole(base, fnParts(base, id).role);
    assert.ok(grants(st, 'sqs:SendMessage', getAtt(records(base).queue)), id);
    assert.ok(!grants(st, 'sqs:SendMessage', getAtt(products(base).queue)), id);
    assert.ok(!grants(st, 'sqs:ReceiveMessage', getAtt(records(base).queue)), id);
    assert.ok(!grants(st, 'sqs:SendMessage', getAtt(orders(base).queue)), id);
  }
  assert.ok(!grants(items, 'sqs:SendMessage', getAtt(orders(base).queue)));
  // The deals poller sends to the orders queue and nowhere else, and may decrypt Pipedrive credentials only.
  const deals = statementsOfRole(base, fnParts(base, 'PollDeals').role);
  assert.deepEqual(sqsActionsOn(deals, getAtt(orders(base).queue)), ['sqs:SendMessage']);
  for (const other of [records(base), products(base)]) {
    assert.deepEqual(sqsActionsOn(deals, getAtt(other.queue)), []);
    assert.deepEqual(sqsActionsOn(deals, getAtt(other.dlq)), []);
  }
  assert.deepEqual(sqsActionsOn(deals, getAtt(orders(base).dlq)), []);
  assert.deepEqual(
    decryptStatements(deals).map((s) => [actionsOf(s), s.Condition]),
    [[['kms:Decrypt'], { StringEquals: { 'kms:EncryptionContext:system': 'pipedrive' } }]],
  );
});

test('IAM: each writer consumes its queue, may send to it again and ChangeMessageVisibility, dead-letters to its DLQ, and no more', () => {
  for (const spec of WRITERS) {
    const st = statementsOfRole(base, fnParts(base, spec.id).role);
    for (const name of WORK_QUEUES) {
      const { queue, dlq } = queueParts(base, name);
      if (name === spec.consumes) {
        for (const a of ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 'sqs:SendMessage']) {
          assert.ok(grants(st, a, getAtt(queue)), `${spec.id} has ${a} on ${name}`);
        }
        assert.ok(grants(st, 'sqs:SendMessage', getAtt(dlq)), `${spec.id} may dead-letter to ${name} DLQ`);
        assert.ok(!grants(st, 'sqs:ReceiveMessage', getAtt(dlq)), `${spec.id} cannot consume the ${name} DLQ`);
      } else {
        assert.deepEqual(sqsActionsOn(st, getAtt(queue)), [], `${spec.id} on ${name} queue`);
        assert.deepEqual(sqsActionsOn(st, getAtt(dlq)), [], `${spec.id} on ${name} DLQ`);
      }
    }
    assert.ok(grants(st, 'dynamodb:PutItem', getAtt(logicalId(base, base.stack.tables.audit))), spec.id);
    // A batch's audit entries in one request; still no single delete.
    assert.ok(grants(st, 'dynamodb:BatchWriteItem', getAtt(logicalId(base, base.stack.tables.audit))), spec.id);
    assert.ok(!grants(st, 'dynamodb:DeleteItem', getAtt(logicalId(base, base.stack.tables.audit))), spec.id);
  }
  // Concretely: the products writer can defer (ChangeMessageVisibility) on products and dead-letter to its DLQ.
  const wp = statementsOfRole(base, fnParts(base, 'WriteProducts').role);
  assert.ok(grants(wp, 'sqs:ChangeMessageVisibility', getAtt(products(base).queue)));
  assert.ok(grants(wp, 'sqs:SendMessage', getAtt(products(base).dlq)));
  assert.ok(!grants(wp, 'sqs:SendMessage', getAtt(records(base).dlq)));
  assert.ok(!grants(wp, 'sqs:ReceiveMessage', getAtt(records(base).queue)));
  // Concretely: the QAD writer consumes orders, may dead-letter to the orders DLQ only, and may decrypt
  // under the qad and pipedrive contexts (and no other).
  const wq = statementsOfRole(base, fnParts(base, 'WriteQad').role);
  const o = orders(base);
  for (const a of ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 'sqs:SendMessage']) {
    assert.ok(grants(wq, a, getAtt(o.queue)), `WriteQad has ${a} on orders`);
  }
  assert.deepEqual(sqsActionsOn(wq, getAtt(o.dlq)), ['sqs:SendMessage']);
  for (const other of [records(base), products(base)]) {
    assert.deepEqual(sqsActionsOn(wq, getAtt(other.queue)), []);
    assert.deepEqual(sqsActionsOn(wq, getAtt(other.dlq)), []);
  }
  assert.deepEqual(
    decryptStatements(wq).map((s) => [actionsOf(s), s.Condition]),
    [[['kms:Decrypt'], { StringEquals: { 'kms:EncryptionContext:system': ['qad', 'pipedrive'] } }]],
  );
});

/** The ARNs a queue's own policy lets send to it (every other principal is denied sqs:SendMessage). */
function queueSenders(b: Built, queueLogicalId: string): unknown[] {
  const policies = b.template.findResources('AWS::SQS::QueuePolicy') as Record<string, Resource>;
  const statements = Object.values(policies)
    .filter((p) => JSON.stringify(p.Properties.Queues) === JSON.stringify([{ Ref: queueLogicalId }]))
    .flatMap((p) => (p.Properties.PolicyDocument as { Statement: Array<Statement & { Principal: unknown }> }).Statement)
    .filter((st) => st.Effect === 'Deny' && actionsOf(st).includes('sqs:SendMessage'));
  assert.equal(statements.length, 1, `one SendMessage deny on ${queueLogicalId}`);
  const [deny] = statements;
  assert.deepEqual(deny!.Principal, { AWS: '*' });
  assert.deepEqual(deny!.Condition?.Null, { 'aws:PrincipalArn': 'false' });
  const allowed = (deny!.Condition?.ArnNotEquals as unknown as Record<string, unknown[]>)['aws:PrincipalArn'];
  return allowed ?? [];
}

const queuePoliciesTitle =
  'queue policies: only its pollers, its own writer (waits and retries go back as new messages) and the operator ' +
  'role may send to a work queue, only its writer to its DLQ';
test(queuePoliciesTitle, () => {
  const operator = getAtt(logicalId(base, base.stack.operatorRole));
  for (const name of WORK_QUEUES) {
    const { queue, dlq } = queueParts(base, name);
    const pollers = POLLERS.filter((p) => p.sendsTo === name).map((p) => getAtt(fnParts(base, p.id).role));
    const writer = getAtt(fnParts(base, writerOf(name).id).role);
    assert.ok(pollers.length > 0, `${name} has a poller`);
    assert.deepEqual(queueSenders(base, queue), [...pollers, writer, operator], `${name} queue`);
    assert.deepEqual(queueSenders(base, dlq), [writer], `${name} DLQ`);
  }
  // Concretely: the items poller, the customers poller and the other writers are not among the orders queue's senders.
  const senders = JSON.stringify(queueSenders(base, orders(base).queue));
  for (const id of ['PollItems', 'PollCustomers', 'WritePipedrive', 'WriteProducts'])
    assert.ok(!senders.includes(fnParts(base, id).role), `${id} may not send to orders`);
  assert.ok(senders.includes(fnParts(base, 'WriteQad').role), 'the orders writer re-sends its own waits');
});

test('operator role: assumed from the account, sends to work queues, redrives DLQs, erases audit entries, output for the CLI', () => {
  const role = logicalId(base, base.stack.operatorRole);
  const st = statementsOfRole(base, role);
  for (const name of WORK_QUEUES) {
    const { queue, dlq } = queueParts(base, name);
    assert.ok(grants(st, 'sqs:SendMessage', getAtt(queue)), name);
    assert.ok(!grants(st, 'sqs:SendMessage', getAtt(dlq)), name);
    for (const a of ['sqs:StartMessageMoveTask', 'sqs:ReceiveMessage', 'sqs:DeleteMessage'])
      assert.ok(grants(st, a, getAtt(dlq)), `${a} ${name}`);
  }
  assert.ok(grants(st, 'dynamodb:DeleteItem', getAtt(logicalId(base, base.stack.tables.audit))));
  const out = base.template.findOutputs('*') as Record<string, { Value: unknown }>;
  assert.deepEqual(out.OperatorRoleArn?.Value, getAtt(role));
});

test('IAM: each role writes only to its own log group', () => {
  for (const spec of FUNCTIONS) {
    const parts = fnParts(base, spec.id);
    const logs = statementsOfRole(base, parts.role).filter((s) => actionsOf(s).some((a) => a.startsWith('logs:')));
    assert.deepEqual(
      logs.map((s) => s.Resource),
      [getAtt(parts.logs)],
      spec.id,
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

const alarmsTitle =
  'alarms: DLQ depth > 0 and queue age > 900 s per queue, errors and throttles per function, table throttles and errors, ' +
  'schedule DLQ, QAD logins, caught poll failures, budget gates; all notify SNS, missing data not breaching';
test(alarmsTitle, () => {
  const topic = { Ref: logicalId(base, base.stack.monitoring.topic) };
  for (const name of WORK_QUEUES) {
    const { queue, dlq } = queueParts(base, name);
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
  }
  for (const spec of FUNCTIONS) {
    base.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: fnParts(base, spec.id).fn } }],
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      Threshold: 1,
      AlarmActions: [topic],
      TreatMissingData: 'notBreaching',
    });
  }
  // A refused QAD login, across tenants: a person must fix the tenant's credentials.
  base.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
    Namespace: 'QadPipedriveConnector',
    MetricName: 'QadLoginFailures',
    Dimensions: [{ Name: 'service', Value: 'qad-pipedrive-connector' }],
    Statistic: 'Sum',
    ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    Threshold: 1,
    AlarmActions: [topic],
  });
  for (const spec of FUNCTIONS) {
    // Throttled invocations never reach the handler: only Lambda's own metric shows them.
    base.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Lambda',
      MetricName: 'Throttles',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: fnParts(base, spec.id).fn } }],
      Threshold: 1,
    });
  }
  // Failures the functions catch (a tenant's poll) and states that need a person still raise an alarm.
  for (const metricName of ['PollFailures', 'BudgetGateClosed', 'TenantParked', 'FieldDrift'])
    base.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'QadPipedriveConnector',
      MetricName: metricName,
      Dimensions: [{ Name: 'service', Value: 'qad-pipedrive-connector' }],
      Threshold: 1,
      AlarmActions: [topic],
    });
  // Each table's throttles and system errors, summed over the operations the functions use.
  const tableAlarms = Object.values(base.template.findResources('AWS::CloudWatch::Alarm') as Record<string, Resource>).filter((a) =>
    JSON.stringify(a.Properties.Metrics ?? []).includes('AWS/DynamoDB'),
  );
  assert.equal(tableAlarms.length, 2 * 3);
  for (const a of tableAlarms) {
    const metrics = a.Properties.Metrics as Array<{ MetricStat?: { Metric: { MetricName: string } } }>;
    const names = new Set(metrics.flatMap((m) => (m.MetricStat ? [m.MetricStat.Metric.MetricName] : [])));
    assert.equal(names.size, 1);
    assert.ok(['ThrottledRequests', 'SystemErrors'].includes([...names][0]!));
  }
  // The schedules' failed invocations land on a DLQ of their own, with an alarm on it.
  const scheduleDlq = Object.entries(base.template.findResources('AWS::SQS::Queue') as Record<string, Resource>).find(
    ([, q]) => q.Properties.QueueName === 'QadPipedriveConnector-schedule-dlq',
  );
  assert.ok(scheduleDlq, 'a schedule dead-letter queue');
  for (const schedule of Object.values(base.template.findResources('AWS::Scheduler::Schedule') as Record<string, Resource>)) {
    const target = schedule.Properties.Target as { DeadLetterConfig?: { Arn: unknown } };
    assert.deepEqual(target.DeadLetterConfig, { Arn: getAtt(scheduleDlq[0]) });
  }
  base.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
    Namespace: 'AWS/SQS',
    MetricName: 'ApproximateNumberOfMessagesVisible',
    Dimensions: [{ Name: 'QueueName', Value: getAtt(scheduleDlq[0], 'QueueName') }],
    Threshold: 0,
  });
  const alarms = base.template.findResources('AWS::CloudWatch::Alarm') as Record<string, Resource>;
  // Per work queue: DLQ depth, oldest age; per function: errors, throttles; per table: throttles, system errors;
  // the schedule DLQ; QAD logins, parked tenants, field drift, poll failures, budget gates. Nothing else.
  assert.equal(Object.keys(alarms).length, 2 * WORK_QUEUES.length + 2 * FUNCTIONS.length + 2 * 3 + 1 + 5);
  assert.equal(Object.keys(alarms).length, 34);
  for (const a of Object.values(alarms)) {
    assert.deepEqual(a.Properties.AlarmActions, [topic]);
    assert.equal(a.Properties.TreatMissingData, 'notBreaching');
  }
});

for (const [metric, hint] of [
  ['TenantParked', 'connector authorize'],
  ['FieldDrift', 'mapping.fields'],
] as const) {
  test(`alarm: ${metric} across tenants, to SNS, saying what to do`, () => {
    const topic = { Ref: logicalId(base, base.stack.monitoring.topic) };
    base.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'QadPipedriveConnector',
      MetricName: metric,
      Dimensions: [{ Name: 'service', Value: 'qad-pipedrive-connector' }],
      Statistic: 'Sum',
      Period: 300,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      Threshold: 1,
      EvaluationPeriods: 1,
      AlarmActions: [topic],
      OKActions: [topic],
      AlarmDescription: Match.stringLikeRegexp(hint),
    });
  });
}

test('dashboard: every queue, DLQ and function, Lambda metrics and the EMF metrics by name', () => {
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
    'DeadLettered',
    'QadLoginFailures',
    'TenantParked',
    'FieldDrift',
    'PipedriveLatency',
    'QadLatency',
    ...WORK_QUEUES.flatMap((name) => [`${name} queue depth`, `${name} oldest message age`, `${name} DLQ depth`]),
    ...FUNCTIONS.flatMap((spec) => [`${spec.id}: invocations, errors, throttles`, `${spec.id}: duration`]),
  ]) {
    assert.ok(body.includes(needle), `dashboard mentions ${needle}`);
  }
  // The per-queue and per-function rows reference the actual resources (by logical id inside the body).
  for (const name of WORK_QUEUES) {
    const { queue, dlq } = queueParts(base, name);
    assert.ok(body.includes(queue) && body.includes(dlq), `dashboard graphs the ${name} queue and DLQ`);
  }
  for (const spec of FUNCTIONS) assert.ok(body.includes(fnParts(base, spec.id).fn), `dashboard graphs ${spec.id}`);
});

test('outputs: table names, every queue URL, DLQ URL and ARN, key ARN, dashboard name', () => {
  const outputs = Object.keys(base.template.findOutputs('*'));
  for (const name of [
    'ConnectionsTableName',
    'SyncStateTableName',
    'AuditTableName',
    'RecordsQueueUrl',
    'RecordsDlqUrl',
    'RecordsDlqArn',
    'ProductsQueueUrl',
    'ProductsDlqUrl',
    'ProductsDlqArn',
    'OrdersQueueUrl',
    'OrdersDlqUrl',
    'OrdersDlqArn',
    ...WORK_QUEUES.flatMap((q) => [`${pascal(q)}QueueUrl`, `${pascal(q)}DlqUrl`, `${pascal(q)}DlqArn`]),
    'CredentialsKeyArn',
    'AlarmTopicArn',
    'DashboardName',
  ]) {
    assert.ok(outputs.includes(name), `output ${name}`);
  }
  const out = base.template.findOutputs('*') as Record<string, { Value: unknown }>;
  assert.deepEqual(out.ProductsQueueUrl?.Value, { Ref: products(base).queue });
  assert.deepEqual(out.ProductsDlqArn?.Value, getAtt(products(base).dlq));
  assert.deepEqual(out.OrdersQueueUrl?.Value, { Ref: orders(base).queue });
  assert.deepEqual(out.OrdersDlqUrl?.Value, { Ref: orders(base).dlq });
  assert.deepEqual(out.OrdersDlqArn?.Value, getAtt(orders(base).dlq));
  // `connector --version --outputs FILE` compares it with its own release.
  assert.equal(out.ConnectorVersion?.Value, CONNECTOR_VERSION);
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
    if (key === 'schedules') continue;
    assert.deepEqual(cdkJson.context[key], value, `cdk.json context ${key}`);
  }
  // The schedules come from the entity registry, one per poller and nothing else; cdk.json does not copy them.
  assert.equal(cdkJson.context.schedules, undefined);
  assert.deepEqual(Object.keys(CONTEXT_DEFAULTS.schedules).sort(), POLLERS.map((p) => p.entity).sort());
});

test('a bare app (no context at all) builds with the code defaults: one schedule per poller', () => {
  const outdir = mkdtempSync(join(tmpdir(), 'connector-cdk-'));
  outdirs.push(outdir);
  const { stack } = buildConnectorApp({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
  const template = Template.fromStack(stack);
  template.resourceCountIs('AWS::Scheduler::Schedule', POLLERS.length);
  for (const spec of POLLERS) {
    const f = stack.functions.get(spec.id);
    assert.ok(f);
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: CONTEXT_DEFAULTS.schedules[spec.entity as keyof typeof CONTEXT_DEFAULTS.schedules],
      Target: Match.objectLike({
        Arn: getAtt(stack.getLogicalId(f.fn.node.defaultChild as CfnFunction)),
        Input: JSON.stringify({ entity: spec.entity }),
      }),
    });
  }
});

test('context overrides (CLI strings included): receives, concurrency, schedules, age, retention, alarm e-mail', () => {
  const overridden: Record<string, string> = {
    customers: 'rate(15 minutes)',
    contacts: 'rate(30 minutes)',
    items: 'rate(2 hours)',
    deals: 'rate(10 minutes)',
    'order-status': 'rate(30 minutes)',
  };
  const b = build({
    maxReceiveCount: '3',
    writerMaxConcurrency: 20,
    schedules: JSON.stringify(overridden),
    maxMessageAgeSeconds: 1800,
    auditRetentionDays: 30,
    alarmEmail: 'ops@example.com',
  });
  const resources = b.template.toJSON().Resources as Record<string, Resource>;
  for (const name of WORK_QUEUES) {
    const { queue } = queueParts(b, name);
    assert.equal((resources[queue]?.Properties.RedrivePolicy as { maxReceiveCount: number }).maxReceiveCount, 3, `${name} maxReceiveCount`);
    b.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateAgeOfOldestMessage',
      Dimensions: [{ Name: 'QueueName', Value: getAtt(queue, 'QueueName') }],
      Threshold: 1800,
    });
  }
  for (const spec of WRITERS) {
    b.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: fnParts(b, spec.id).fn },
      EventSourceArn: getAtt(queueParts(b, spec.consumes).queue),
      ScalingConfig: { MaximumConcurrency: 20 },
    });
  }
  for (const spec of POLLERS) {
    b.template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: overridden[spec.entity],
      Target: Match.objectLike({ Arn: getAtt(fnParts(b, spec.id).fn), Input: JSON.stringify({ entity: spec.entity }) }),
    });
  }
  for (const spec of FUNCTIONS) {
    const fn = resources[fnParts(b, spec.id).fn];
    assert.equal((fn?.Properties.Environment as { Variables: Record<string, unknown> }).Variables.AUDIT_RETENTION_DAYS, '30', spec.id);
  }
  b.template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com' });
});

test('a staging stack beside the default: its own stack name, resource names and metrics namespace', () => {
  const staging = build({ stage: 'staging' });
  assert.equal(base.stack.stackName, 'QadPipedriveConnector');
  assert.equal(staging.stack.stackName, 'QadPipedriveConnector-staging');
  /** Properties that name a resource uniquely in an account and region. */
  const UNIQUE_NAMES = new Set([
    'QueueName',
    'TableName',
    'FunctionName',
    'LogGroupName',
    'RoleName',
    'TopicName',
    'DashboardName',
    'AlarmName',
    'Name',
  ]);
  /** Every explicit physical name and the metrics namespace the functions write to. */
  const names = (b: Built): string[] =>
    Object.values(b.template.toJSON().Resources as Record<string, Resource>).flatMap((r) => [
      ...Object.entries(r.Properties ?? {})
        .filter(([key, value]) => UNIQUE_NAMES.has(key) && typeof value === 'string')
        .map(([, value]) => value as string),
      ...(r.Type === 'AWS::Lambda::Function'
        ? [String((r.Properties.Environment as { Variables: Record<string, unknown> }).Variables.POWERTOOLS_METRICS_NAMESPACE)]
        : []),
    ]);
  const mine = new Set(names(base));
  const theirs = names(staging);
  assert.ok(theirs.length > 0 && mine.size > 0);
  assert.deepEqual(
    theirs.filter((n) => mine.has(n)),
    [],
    'no physical name or namespace is shared',
  );
  assert.ok(theirs.includes('QadPipedriveConnector-staging-records'));
  assert.throws(() => build({ stage: 'Staging!' }), /context stage must be/u);
});

test('bad context is rejected with the key named', () => {
  assert.throws(() => build({ maxReceiveCount: 0 }), /maxReceiveCount/u);
  assert.throws(() => build({ writerMaxConcurrency: 1 }), /writerMaxConcurrency/u);
  assert.throws(() => build({ schedules: { ...cdkSchedules, customers: 'every 5 minutes' } }), /schedules\.customers/u);
  // What EventBridge Scheduler would refuse at deploy time fails the synth, naming the key.
  for (const expression of [
    'cron(banana)',
    'cron(0 25 * * ? *)',
    'rate(0 minutes)',
    'rate(1 minutes)',
    'rate(5 minute)',
    'at(2027-01-01T00:00:00)',
  ])
    assert.throws(() => build({ schedules: { customers: expression } }), /context schedules\.customers: /u, expression);
  assert.throws(() => build({ schedules: { ...cdkSchedules, vendors: 'rate(1 hour)' } }), /schedules\.vendors has no poller/u);
  assert.throws(() => build({ logRetentionDays: 31 }), /logRetentionDays/u);
});

test('a schedules override names only the polls it changes; the others keep the registry default', () => {
  const b = build({ schedules: JSON.stringify({ customers: 'rate(30 minutes)' }) });
  const expressions = Object.values(b.template.findResources('AWS::Scheduler::Schedule') as Record<string, Resource>).map(
    (r) => r.Properties.ScheduleExpression,
  );
  assert.equal(expressions.length, POLLERS.length);
  assert.deepEqual(expressions.filter((e) => e === 'rate(30 minutes)').length, 1);
  for (const spec of POLLERS.filter((p) => p.entity !== 'customers'))
    assert.ok(expressions.includes(cdkSchedules[spec.entity]), `${spec.entity} keeps its default`);
});

test('adding a poll entity is a topology entry plus a schedule', () => {
  const vendors: PollerSpec = { ...POLLERS[0]!, id: 'PollVendors', entity: 'vendors', description: 'Polls QAD vendors' };
  const b = build({ schedules: { ...cdkSchedules, vendors: 'rate(10 minutes)' } }, { pollers: [...POLLERS, vendors] });
  b.template.resourceCountIs('AWS::Scheduler::Schedule', POLLERS.length + 1);
  b.template.hasResourceProperties('AWS::Scheduler::Schedule', {
    ScheduleExpression: 'rate(10 minutes)',
    Target: Match.objectLike({ Input: JSON.stringify({ entity: 'vendors' }), Arn: getAtt(fnParts(b, 'PollVendors').fn) }),
  });
  b.template.resourceCountIs('AWS::CloudWatch::Alarm', 2 * WORK_QUEUES.length + 2 * (FUNCTIONS.length + 1) + 2 * 3 + 1 + 5);
  // The new poller gets the same grants as its siblings: send to its queue, decrypt under its systems.
  const st = statementsOfRole(b, fnParts(b, 'PollVendors').role);
  assert.ok(grants(st, 'sqs:SendMessage', getAtt(queueParts(b, vendors.sendsTo).queue)));
  assert.deepEqual(
    decryptStatements(st).map((s) => s.Condition),
    [{ StringEquals: { 'kms:EncryptionContext:system': ['qad', 'pipedrive'] } }],
  );
  b.app.synth(); // still passes cdk-nag
});

// ---- Webhooks (opt-in) -----------------------------------------------------------------------------

/** Resource types through which anything outside could reach the stack; none without `webhooks=true`. */
const INBOUND_TYPES = [
  'AWS::Lambda::Url',
  'AWS::ApiGatewayV2::Api',
  'AWS::ApiGateway::RestApi',
  'AWS::AppSync::GraphQLApi',
  'AWS::ElasticLoadBalancingV2::LoadBalancer',
  'AWS::CloudFront::Distribution',
  'AWS::Lambda::Permission',
];
const inbound = (b: Built) =>
  Object.values(b.template.toJSON().Resources as Record<string, Resource>).filter((r) => INBOUND_TYPES.includes(r.Type));

test('webhooks off (the default): the template has no function URL, HTTP or REST API, or any other inbound endpoint', () => {
  assert.deepEqual(inbound(base), []);
  assert.deepEqual(inbound(build({ webhooks: 'false' })), []);
  assert.equal(base.stack.functions.has('ReceiveWebhooks'), false);
  assert.ok(!JSON.stringify(base.template.toJSON()).includes('execute-api'));
});

const hooked = build({ webhooks: 'true', webhookRateLimit: '7', webhookBurstLimit: '9' });

test('webhooks on: one throttled, logged HTTP API route POST /webhooks/{tenantId} to the webhook function, and no function URL', () => {
  assert.deepEqual(
    inbound(hooked)
      .map((r) => r.Type)
      .sort(),
    ['AWS::ApiGatewayV2::Api', 'AWS::Lambda::Permission'],
  );
  hooked.template.resourceCountIs('AWS::Lambda::Url', 0);
  hooked.template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'POST /webhooks/{tenantId}' });
  hooked.template.resourceCountIs('AWS::ApiGatewayV2::Route', 1);
  hooked.template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
    StageName: '$default',
    DefaultRouteSettings: { ThrottlingRateLimit: 7, ThrottlingBurstLimit: 9 },
    AccessLogSettings: Match.objectLike({ DestinationArn: Match.anyValue() }),
  });
  const receiver = fnParts(hooked, 'ReceiveWebhooks');
  hooked.template.hasResourceProperties('AWS::ApiGatewayV2::Integration', {
    IntegrationUri: getAtt(receiver.fn),
    PayloadFormatVersion: '2.0',
  });
  // Only API Gateway may invoke it, and only through this API.
  hooked.template.hasResourceProperties('AWS::Lambda::Permission', {
    FunctionName: getAtt(receiver.fn),
    Principal: 'apigateway.amazonaws.com',
    SourceArn: Match.anyValue(),
  });
  assert.ok(hooked.template.findOutputs('WebhookUrlPrefix'));
});

test('webhooks on: the function reads connections, decrypts webhook secrets only, sends to the orders queue only', () => {
  const statements = statementsOfRole(hooked, fnParts(hooked, 'ReceiveWebhooks').role).filter((s) => s.Sid !== 'WriteOwnLogs');
  const keyArn = getAtt(logicalId(hooked, hooked.stack.credentialsKey));
  const connections = getAtt(logicalId(hooked, hooked.stack.tables.connections));
  assert.deepEqual(
    statements.map((s) => [actionsOf(s), s.Resource, s.Condition]),
    [
      [['dynamodb:GetItem'], connections, undefined],
      [['kms:Decrypt'], keyArn, { StringEquals: { 'kms:EncryptionContext:system': 'webhook' } }],
      [['sqs:SendMessage'], getAtt(orders(hooked).queue), undefined],
    ],
  );
  // No other function may decrypt a webhook secret.
  for (const spec of FUNCTIONS)
    for (const s of decryptStatements(statementsOfRole(hooked, fnParts(hooked, spec.id).role)))
      assert.ok(!JSON.stringify(s.Condition).includes('webhook'), `${spec.id} cannot decrypt webhook secrets`);
  // The orders queue's own policy lets it send; the others' do not.
  const role = getAtt(fnParts(hooked, 'ReceiveWebhooks').role);
  const senders = (queue: string) =>
    JSON.stringify(
      Object.values(hooked.template.findResources('AWS::SQS::QueuePolicy') as Record<string, Resource>).filter(
        (p) => JSON.stringify(p.Properties.Queues) === JSON.stringify([{ Ref: queue }]),
      ),
    );
  assert.ok(senders(orders(hooked).queue).includes(JSON.stringify(role)));
  assert.ok(!senders(records(hooked).queue).includes(JSON.stringify(role)));
});

test('webhooks on: a burst of refused credentials raises an alarm; cdk-nag passes', () => {
  hooked.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
    MetricName: 'WebhookUnauthorized',
    Threshold: 20,
    ComparisonOperator: 'GreaterThanOrEqualToThreshold',
  });
  base.template.resourcePropertiesCountIs('AWS::CloudWatch::Alarm', { MetricName: 'WebhookUnauthorized' }, 0);
  assert.deepEqual(
    new AwsSolutionsChecks().validateScope(hooked.app).violations.map((v) => `${v.severity} ${v.ruleName}`),
    [],
  );
});

test('context webhooks takes only true or false', () => {
  assert.throws(() => build({ webhooks: 'yes' }), /context webhooks must be true or false/u);
});

test('source maps: off by default (a faster cold start); context sourceMaps=true turns them on in every function', () => {
  const nodeOptions = (template: Template) =>
    FUNCTIONS.map((spec) => {
      const [fn] = Object.values(template.findResources('AWS::Lambda::Function', { Properties: { Description: spec.description } }));
      return (fn as { Properties: { Environment: { Variables: Record<string, unknown> } } }).Properties.Environment.Variables.NODE_OPTIONS;
    });
  assert.deepEqual(
    nodeOptions(base.template),
    FUNCTIONS.map(() => undefined),
    'no function parses its source map as it loads',
  );
  assert.deepEqual(
    nodeOptions(build({ sourceMaps: 'true' }).template),
    FUNCTIONS.map(() => '--enable-source-maps'),
  );
  assert.throws(() => build({ sourceMaps: 'on' }), /context sourceMaps must be true or false/u);
});
