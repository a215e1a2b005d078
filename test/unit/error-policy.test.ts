import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  ClaimHeldError,
  MAX_DELAY_SECONDS,
  MAX_FAILED_ATTEMPTS,
  outcomeOf,
  RateLimitedError,
  RetryLaterError,
  WaitForDependency,
} from '../../shared/domain/errors.ts';

const ctx = (attempt: number) => ({ entity: 'person', attempt, retryBaseSeconds: 10, nowMs: 0, random: () => 0.5 });

describe('the error policy', () => {
  test('waits are deferrals at any attempt: never dead-lettered, never longer than SQS can delay a message', () => {
    const waits = [
      new ClaimHeldError('held by another delivery', 5),
      new ClaimHeldError('held by another delivery of this same message', 5, true),
      new WaitForDependency('organization not in Pipedrive yet'),
      new RateLimitedError('burst', 2),
      new RateLimitedError('a long window', 7_200),
    ];
    for (const error of waits)
      for (const attempt of [1, MAX_FAILED_ATTEMPTS, MAX_FAILED_ATTEMPTS * 3]) {
        const outcome = outcomeOf(error, ctx(attempt));
        assert.equal(outcome.action, 'deferred', `${error.name} at attempt ${attempt}`);
        assert.equal(outcome.deadLetter, undefined);
        assert.ok(outcome.retryInSeconds! >= 1 && outcome.retryInSeconds! <= MAX_DELAY_SECONDS, String(outcome.retryInSeconds));
      }
  });

  test('a claim held by a twin delivery of the same message waits on this receive; any other waits as a new message', () => {
    const twin = outcomeOf(new ClaimHeldError('held by another delivery of this same message', 5, true), ctx(1));
    assert.deepEqual([twin.keepReceive, twin.retryInSeconds], [true, 5]);
    assert.equal(outcomeOf(new ClaimHeldError('held by another delivery', 5), ctx(1)).keepReceive, undefined);
    assert.equal(outcomeOf(new RateLimitedError('burst', 2), ctx(1)).keepReceive, undefined);
  });

  test('real failed attempts back off up to a cap and spend the retry budget; the last one is dead-lettered', () => {
    const delays: number[] = [];
    for (let attempt = 1; attempt < MAX_FAILED_ATTEMPTS; attempt++) {
      const outcome = outcomeOf(new RetryLaterError('HTTP 503'), ctx(attempt));
      assert.deepEqual([outcome.action, outcome.deadLetter], ['failed', undefined]);
      delays.push(outcome.retryInSeconds!);
    }
    assert.ok(
      delays.every((d, i) => i === 0 || d >= delays[i - 1]!),
      `growing: ${delays}`,
    );
    assert.ok(Math.max(...delays) <= MAX_DELAY_SECONDS);
    const last = outcomeOf(new RetryLaterError('HTTP 503'), ctx(MAX_FAILED_ATTEMPTS));
    assert.deepEqual([last.action, last.deadLetter, last.retryInSeconds], ['failed', 'retryBudget', undefined]);
    assert.match(last.reason, /retry budget spent/u);
  });

  test('the retry budget outlasts a transient outage: its attempts span three hours before a record is dead-lettered', () => {
    let waited = 0;
    for (let attempt = 1; ; attempt++) {
      const outcome = outcomeOf(new RetryLaterError('HTTP 503'), { ...ctx(attempt), random: () => 0 });
      if (outcome.deadLetter) break;
      waited += outcome.retryInSeconds!;
    }
    assert.ok(waited >= 3 * 3600, `dead-lettered after ${waited} s of retries`);
  });
});
