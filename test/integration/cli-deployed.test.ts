import './quiet-env.ts';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { pascal, STACK_NAME } from '../../infra/names.ts';
import { queueEnvName } from '../../shared/config/environment.ts';
import { entityRegistry } from '../../shared/flows/registry.ts';
import { startHarness, TENANT, type Harness } from './harness.ts';

const dir = mkdtempSync(join(tmpdir(), 'connector-deployed-'));
let h: Harness | undefined;
after(async () => {
  await h?.close();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * The file `cdk deploy --outputs-file` writes, naming the stand-ins' tables and queues. The CLI gets nothing else
 * of the local run: it reaches DynamoDB and SQS through the SDK's default chain and the standard
 * AWS_ENDPOINT_URL_* variables, the path it takes against a deployed stack.
 */
function outputsFile(harness: Harness): string {
  const env = harness.aws.env;
  const outputs: Record<string, string> = {
    ConnectionsTableName: env.CONNECTIONS_TABLE,
    SyncStateTableName: env.SYNC_STATE_TABLE,
    AuditTableName: env.AUDIT_TABLE,
    CredentialsKeyArn: 'arn:aws:kms:us-east-1:111122223333:key/00000000-0000-0000-0000-000000000000',
  };
  for (const { name } of entityRegistry.queues) {
    outputs[`${pascal(name)}QueueUrl`] = env[`${queueEnvName(name)}_QUEUE_URL`]!;
    outputs[`${pascal(name)}DlqUrl`] = env[`${queueEnvName(name)}_DLQ_URL`]!;
  }
  const file = join(dir, 'outputs.json');
  writeFileSync(file, JSON.stringify({ [STACK_NAME]: outputs }));
  return file;
}

/**
 * The operator's CLI in its own process, with only AWS's standard variables set. Asynchronous: the stand-ins it
 * calls answer from this process.
 */
function connector(harness: Harness, args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const { AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_SQS } = harness.aws.env;
  const options = {
    encoding: 'utf8' as const,
    timeout: 60_000,
    env: {
      PATH: process.env.PATH ?? '',
      AWS_REGION,
      AWS_ACCESS_KEY_ID,
      AWS_SECRET_ACCESS_KEY,
      AWS_ENDPOINT_URL_DYNAMODB,
      AWS_ENDPOINT_URL_SQS,
      // The tenant the harness registered points at the simulators, on loopback http.
      CONNECTOR_ALLOW_LOOPBACK_HTTP: 'true',
    },
  };
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'scripts/connector.ts', ...args], options, (error, out, err) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, out, err });
    });
  });
}

test("erase against a deployed stack (--outputs): a person's audit, holds and dead letters go, the other person's stay", async () => {
  h = await startHarness();
  const message = (key: string) =>
    JSON.stringify({
      v: 1,
      tenantId: TENANT,
      entity: 'person',
      key,
      hash: `h-${key}`,
      record: { id: key, email: `${key}@x.example` },
      pollId: 'p',
    });
  for (const key of ['P1', 'P2']) {
    await h.deps.audit.record({ tenantId: TENANT, entity: 'person', key, action: 'created', pipedriveId: 7, contentHash: `h-${key}` });
    await h.deps.holds.hold(TENANT, `held-${key}`, message(key), 'parked');
    await h.aws.sqs.send(new SendMessageCommand({ QueueUrl: h.aws.dlqUrl, MessageBody: message(key) }));
  }
  const outputs = outputsFile(h);

  const erased = await connector(h, ['erase', TENANT, 'person', 'P1', '--outputs', outputs, '--json']);
  assert.equal(erased.code, 0, erased.err);
  assert.deepEqual((JSON.parse(erased.out) as { removed: Record<string, number> }).removed, {
    audit: 1,
    held: 1,
    listing: 0,
    deadLetters: 1,
  });
  assert.deepEqual(
    (await h.deps.audit.history(TENANT, 'person', 'P1')).map((e) => e.action),
    ['erased'],
  );
  assert.equal((await h.deps.audit.history(TENANT, 'person', 'P2')).length, 1);
  assert.deepEqual(
    (await h.deps.holds.held(TENANT)).map((x) => x.messageId),
    ['held-P2'],
  );
  assert.deepEqual(
    (await h.dlqMessages()).map((m) => (JSON.parse(m.Body ?? '{}') as { key: string }).key),
    ['P2'],
  );
});
