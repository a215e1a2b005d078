import assert from 'node:assert/strict';
import { test } from 'node:test';
import { planFirstSync } from '../../shared/domain/daily-budget.ts';

const DAY = 86_400_000;
const morning = Date.parse('2026-12-01T06:00:00Z');

test('a first sync that fits in the share of today finishes today, at the write rate', () => {
  const plan = planFirstSync({ records: 3_000, dailyLimit: 150_000, share: 0.6, writesPerSecond: 50, nowMs: morning });
  assert.equal(plan.tokens, 15_010);
  assert.equal(plan.tokensPerDay, 90_000);
  assert.equal(plan.days, 1);
  assert.equal(plan.etaMs, morning + 60_040);
});

test('10k customers on a 1-seat premium company at the 60% cap span two days and finish on the second', () => {
  // 10,000 customers, 20,000 contacts, 5,000 items: 35,000 writes, 175,000+ tokens against 90,000 a day.
  const plan = planFirstSync({
    records: 35_000,
    preexisting: 2_000,
    dailyLimit: 150_000,
    share: 0.6,
    writesPerSecond: 50,
    nowMs: morning,
    remainingToday: 90_000,
  });
  assert.equal(plan.tokens, 175_040);
  assert.equal(plan.days, 2);
  const secondDay = Date.parse('2026-12-02T00:00:00Z');
  assert.ok(plan.etaMs > secondDay && plan.etaMs < secondDay + DAY);
  assert.equal(plan.etaMs, secondDay + ((175_040 - 90_000) / 5 / 50) * 1000);
});

test('what is left of today counts: a sync started late in a spent day begins tomorrow', () => {
  const plan = planFirstSync({ records: 100, dailyLimit: 150_000, share: 0.6, writesPerSecond: 10, nowMs: morning, remainingToday: 0 });
  assert.equal(plan.days, 2);
  assert.equal(plan.etaMs, Date.parse('2026-12-02T00:00:00Z') + (plan.tokens / 5 / 10) * 1000);
});
