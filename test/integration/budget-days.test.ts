import './quiet-env.ts';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LocalPipeline } from '../../scripts/local/pipeline.ts';
import { casePipeline } from '../../scripts/bench/cases.ts';

test('a first sync larger than the daily share stops at the cap, waits for midnight, and ends with nothing lost or doubled', async () => {
  // The bench's case in small; lite: a burst window of 20 calls, so the share's reserve for calls in flight (20 writes,
  // 100 tokens) stays small.
  const pipeline = await LocalPipeline.start(
    casePipeline({ customers: 30, items: 12, plan: 'lite', seats: 1, concurrency: 2, seed: 3, latency: undefined }),
  );

  try {
    // 1,000 tokens a day, 600 of them the connector's: about half of what this first sync needs.
    pipeline.pipedrive.setDailyTokenBudget(1_000);
    const cap = 600;
    const first = await pipeline.runRound();
    assert.equal(first.deadLetters, 0);
    assert.equal(await pipeline.budgetGateClosed(), true, 'the share is spent: the gate is closed until the reset');
    const day1 = pipeline.pipedrive.dailyTokens().used;
    assert.ok(day1 <= cap, `day 1 spent ${day1} tokens, within the share of ${cap}`);
    const after1 = await pipeline.state();
    const left = Object.values(after1.missing).reduce((a, b) => a + b, 0);
    assert.ok(left > 0, 'records wait for the next day');
    assert.equal(
      Object.values(after1.duplicates).reduce((a, b) => a + b, 0),
      0,
    );

    const spent = [day1];
    for (let day = 2; day <= 4 && (await pipeline.budgetGateClosed()); day++) {
      await pipeline.midnight();
      assert.equal(await pipeline.budgetGateClosed(), false, 'midnight opens the gate');
      assert.equal(pipeline.pipedrive.dailyTokens().used, 0, "and Pipedrive's day starts again");
      const round = await pipeline.runRound();
      assert.equal(round.deadLetters, 0);
      spent.push(pipeline.pipedrive.dailyTokens().used);
    }
    assert.ok(
      spent.every((t) => t <= cap),
      `each day within the share: ${spent.join(', ')}`,
    );
    assert.ok(spent.length >= 2, 'the sync took more than one day');
    const state = await pipeline.state();
    assert.equal(await pipeline.settled(), true, 'nothing on a queue, held or pending at the end');
    for (const [what, counts] of Object.entries({ missing: state.missing, duplicates: state.duplicates, mismatched: state.mismatched }))
      assert.deepEqual(
        Object.values(counts).filter((n) => n > 0),
        [],
        `${what}: ${JSON.stringify(counts)}`,
      );
  } finally {
    await pipeline.close();
  }
});
