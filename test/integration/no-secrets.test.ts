import './loud-env.ts';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { capture, scanAll } from './secret-scan.ts';
import { API_TOKEN, LocalPipeline, QAD_PASSWORD } from '../../scripts/local/pipeline.ts';

test('no secret of either system appears in any log line, audit entry or stored state of a full run, faults included', async () => {
  const pipeline = await LocalPipeline.start({
    customers: 60,
    contactsPerCustomer: 1,
    items: 30,
    currencies: ['EUR'],
    seed: 5,
    preexisting: 0.2,
    plan: 'ultimate',
    writerConcurrency: 2,
    wonDeals: 10,
    chaos: 0.08,
  });
  try {
    const logs = await capture(async () => {
      await pipeline.runRound();
      await pipeline.runRound();
    });
    assert.ok(
      logs.split('\n').filter((l) => l.includes('"level":"DEBUG"')).length > 100,
      'the run logged at DEBUG, so every line was written',
    );
    assert.match(logs, /"level":"WARN".*"messageId"/u, 'including the warnings of retried records');
    const stored = [
      await scanAll(pipeline, pipeline.aws.env.AUDIT_TABLE),
      await scanAll(pipeline, pipeline.aws.env.SYNC_STATE_TABLE),
      await scanAll(pipeline, pipeline.aws.env.CONNECTIONS_TABLE),
    ].join('\n');
    for (const secret of [API_TOKEN, QAD_PASSWORD]) {
      assert.equal(logs.includes(secret), false, 'a secret reached the logs');
      assert.equal(stored.includes(secret), false, 'a secret reached DynamoDB');
    }
  } finally {
    await pipeline.close();
  }
});
