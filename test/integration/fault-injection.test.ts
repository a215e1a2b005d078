import './quiet-env.ts';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { LocalPipeline } from '../../scripts/local/pipeline.ts';

/**
 * The whole pipeline under injected faults (5xx pages, timeouts, resets, 429s, slow answers,
 * lost answers after writes, search lag, duplicate concurrent deliveries). After it converges,
 * nothing is lost or doubled, nothing is stuck, and the audit has an entry for every retry.
 */
test('under injected faults every record lands exactly once and every retry is audited', async () => {
  const pipeline = await LocalPipeline.start({
    customers: 150, contactsPerCustomer: 2, items: 80, currencies: ['EUR', 'USD'], seed: 11, preexisting: 0.2,
    plan: 'ultimate', writerConcurrency: 4, wonDeals: 40, chaos: 0.06,
  });
  try {
    const rounds = [await pipeline.runRound(), await pipeline.runRound()];
    assert.ok(rounds.every((r) => r.drained), 'every queue drained: nothing stuck in flight');
    const injected = pipeline.chaos!.injected;
    assert.ok(injected.http5xx + injected.timeout + injected.connectionReset + injected.status429 + injected.lostResponse > 10, `faults were injected: ${JSON.stringify(injected)}`);
    assert.ok(injected.lostResponse > 0 && injected.duplicateDelivery > 0, 'including lost answers after writes and duplicate deliveries');

    const state = await pipeline.state();
    assert.deepEqual(state.duplicates, { organizations: 0, persons: 0, products: 0, salesOrders: 0 });
    assert.deepEqual(state.missing, { organizations: 0, persons: 0, products: 0, salesOrders: 0 });
    assert.deepEqual(state.mismatched, { persons: 0, products: 0, salesOrders: 0 });
    assert.equal(await pipeline.deadLetterCount(), 0, 'no permanent errors here, so the DLQs are empty');

    // Every delivery that did not go through first time left a failed or deferred entry saying why.
    const audit = await pipeline.aws.dynamo.send(new ScanCommand({ TableName: pipeline.aws.env.AUDIT_TABLE }));
    const entries = (audit.Items ?? []).map((i) => ({ action: i.action?.S ?? '', attempt: Number(i.attempt?.N ?? '1'), why: i.error?.S ?? i.reason?.S ?? '', key: i.pk?.S ?? '' }));
    const retried = entries.filter((e) => e.attempt > 1).map((e) => e.key);
    const explained = new Set(entries.filter((e) => (e.action === 'failed' || e.action === 'deferred') && e.why !== '').map((e) => e.key));
    assert.ok(retried.length > 0, 'some records needed more than one attempt');
    assert.deepEqual(retried.filter((k) => !explained.has(k)), [], 'each retried record has an audited reason');
  } finally {
    await pipeline.close();
  }
});
