import './loud-env.ts';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { API_TOKEN, LocalPipeline, QAD_PASSWORD } from '../../scripts/local/pipeline.ts';

/** Everything the process writes to stdout and stderr while `run` runs. */
async function capture(run: () => Promise<void>): Promise<string> {
  const chunks: string[] = [];
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  const keep = (chunk: unknown) => {
    chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
    return true;
  };
  process.stdout.write = keep as typeof process.stdout.write;
  process.stderr.write = keep as typeof process.stderr.write;
  try {
    await run();
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
  return chunks.join('');
}

async function scanAll(pipeline: LocalPipeline, table: string): Promise<string> {
  const items: Array<Record<string, AttributeValue>> = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const res = await pipeline.aws.dynamo.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start }));
    items.push(...(res.Items ?? []));
    start = res.LastEvaluatedKey;
  } while (start);
  return JSON.stringify(items);
}

test('no secret of either system appears in any log line, audit entry or stored state of a full run, faults included', async () => {
  const pipeline = await LocalPipeline.start({ customers: 60, contactsPerCustomer: 1, items: 30, currencies: ['EUR'], seed: 5, preexisting: 0.2, plan: 'ultimate', writerConcurrency: 2, wonDeals: 10, chaos: 0.08 });
  try {
    const logs = await capture(async () => {
      await pipeline.runRound();
      await pipeline.runRound();
    });
    assert.ok(logs.split('\n').filter((l) => l.includes('"level":"DEBUG"')).length > 100, 'the run logged at DEBUG, so every line was written');
    assert.match(logs, /"level":"WARN".*"messageId"/u, 'including the warnings of retried records');
    const stored = [await scanAll(pipeline, pipeline.aws.env.AUDIT_TABLE), await scanAll(pipeline, pipeline.aws.env.SYNC_STATE_TABLE), await scanAll(pipeline, pipeline.aws.env.CONNECTIONS_TABLE)].join('\n');
    for (const secret of [API_TOKEN, QAD_PASSWORD]) {
      assert.equal(logs.includes(secret), false, 'a secret reached the logs');
      assert.equal(stored.includes(secret), false, 'a secret reached DynamoDB');
    }
  } finally {
    await pipeline.close();
  }
});
