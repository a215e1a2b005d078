import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readArtifactStack } from '../../scripts/local/artifacts/template.ts';
import { PolicyNotUnderstood } from '../../scripts/local/iam/policy.ts';

const WORLD = {
  region: 'eu-central-1',
  account: '123456789012',
  values: { LEDGER_TABLE: 'local-ledger', INBOX_QUEUE_URL: 'http://127.0.0.1:9/123456789012/local-inbox', KEY_ARN: 'arn:aws:kms:k/1' },
};

/** A one-function stack written the way cdk synth writes it, with `change` applied to its resources. */
function stack(change: (resources: Record<string, { Type: string; Properties: Record<string, unknown> }>) => void = () => {}) {
  const dir = mkdtempSync(join(tmpdir(), 'artifact-template-'));
  mkdirSync(join(dir, 'asset.abc'));
  writeFileSync(join(dir, 'asset.abc', 'main.mjs'), 'export const run = async () => ({});\n');
  const resources: Record<string, { Type: string; Properties: Record<string, unknown>; Metadata?: Record<string, unknown> }> = {
    Ledger1: { Type: 'AWS::DynamoDB::Table', Properties: {} },
    Inbox2: { Type: 'AWS::SQS::Queue', Properties: {} },
    Key3: { Type: 'AWS::KMS::Key', Properties: { KeyPolicy: { Version: '2012-10-17', Statement: [] } } },
    SettleRole4: { Type: 'AWS::IAM::Role', Properties: {} },
    SettlePolicy5: {
      Type: 'AWS::IAM::Policy',
      Properties: {
        Roles: [{ Ref: 'SettleRole4' }],
        PolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            { Effect: 'Allow', Action: 'dynamodb:GetItem', Resource: { 'Fn::GetAtt': ['Ledger1', 'Arn'] } },
            {
              Effect: 'Allow',
              Action: 'dynamodb:Query',
              Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': ['Ledger1', 'Arn'] }, '/index/*']] },
            },
            { Effect: 'Allow', Action: 'sqs:ReceiveMessage', Resource: { 'Fn::GetAtt': ['Inbox2', 'Arn'] } },
          ],
        },
      },
    },
    SettleFn6: {
      Type: 'AWS::Lambda::Function',
      Metadata: { 'aws:cdk:path': 'Ledger/Settle/Function/Resource', 'aws:asset:path': 'asset.abc' },
      Properties: {
        Handler: 'main.run',
        Timeout: 45,
        MemorySize: 256,
        Role: { 'Fn::GetAtt': ['SettleRole4', 'Arn'] },
        Environment: {
          Variables: {
            LEDGER_TABLE: { Ref: 'Ledger1' },
            INBOX_QUEUE_URL: { Ref: 'Inbox2' },
            KEY_ARN: { 'Fn::GetAtt': ['Key3', 'Arn'] },
            WHERE: { 'Fn::Sub': '${AWS::Region}/${AWS::AccountId}' },
          },
        },
      },
    },
    Mapping7: {
      Type: 'AWS::Lambda::EventSourceMapping',
      Properties: {
        FunctionName: { Ref: 'SettleFn6' },
        EventSourceArn: { 'Fn::GetAtt': ['Inbox2', 'Arn'] },
        BatchSize: 25,
        MaximumBatchingWindowInSeconds: 2,
        ScalingConfig: { MaximumConcurrency: 3 },
      },
    },
  };
  change(resources);
  writeFileSync(join(dir, 'Ledger.template.json'), JSON.stringify({ Resources: resources }));
  return dir;
}

describe('reading a synthesized stack for the local run', () => {
  it("resolves the function's environment, policies and event source to the local resources", () => {
    const [fn] = readArtifactStack(stack(), 'Ledger', WORLD).functions;
    assert.ok(fn);
    assert.equal(fn.name, 'Settle');
    assert.equal(fn.exportName, 'run');
    assert.match(fn.entry, /asset\.abc\/main\.mjs$/u);
    assert.deepEqual([fn.timeoutSeconds, fn.memoryMb], [45, 256]);
    assert.deepEqual(fn.environment, { ...WORLD.values, WHERE: 'eu-central-1/123456789012' });
    assert.deepEqual(
      fn.statements.map((s) => s.Resource),
      [
        'arn:aws:dynamodb:eu-central-1:123456789012:table/local-ledger',
        'arn:aws:dynamodb:eu-central-1:123456789012:table/local-ledger/index/*',
        'arn:aws:sqs:eu-central-1:123456789012:local-inbox',
      ],
    );
    assert.deepEqual(fn.eventSource, {
      queueArn: 'arn:aws:sqs:eu-central-1:123456789012:local-inbox',
      queueUrl: WORLD.values.INBOX_QUEUE_URL,
      batchSize: 25,
      batchingWindowSeconds: 2,
      maximumConcurrency: 3,
      reportBatchItemFailures: false,
    });
  });

  it('fails loudly on what it cannot resolve or read: an unknown intrinsic, a managed policy, NotAction', () => {
    const importValue = stack((r) => {
      r.SettleFn6!.Properties.Environment = { Variables: { OTHER: { 'Fn::ImportValue': 'shared-bus' } } };
    });
    assert.throws(() => readArtifactStack(importValue, 'Ledger', WORLD), /Fn::ImportValue/u);
    const managed = stack((r) => {
      r.SettleRole4!.Properties.ManagedPolicyArns = ['arn:aws:iam::aws:policy/AdministratorAccess'];
    });
    assert.throws(() => readArtifactStack(managed, 'Ledger', WORLD), PolicyNotUnderstood);
    const notAction = stack((r) => {
      r.SettlePolicy5!.Properties.PolicyDocument = {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', NotAction: 'iam:*', Resource: '*' }],
      };
    });
    assert.throws(() => readArtifactStack(notAction, 'Ledger', WORLD), /NotAction/u);
  });

  it('refuses what Lambda refuses: a batch over 10 from a standard queue without a batching window', () => {
    const noWindow = stack((r) => {
      delete r.Mapping7!.Properties.MaximumBatchingWindowInSeconds;
    });
    assert.throws(() => readArtifactStack(noWindow, 'Ledger', WORLD), /BatchSize 25 needs MaximumBatchingWindowInSeconds >= 1/u);
    const ten = stack((r) => {
      r.Mapping7!.Properties.BatchSize = 10;
      delete r.Mapping7!.Properties.MaximumBatchingWindowInSeconds;
    });
    assert.equal(readArtifactStack(ten, 'Ledger', WORLD).functions[0]?.eventSource?.batchingWindowSeconds, 0);
  });
});
