import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { addDays, changedSinceDate, isDue, rateToMs, utcDate } from '../../shared/domain/schedule.ts';

describe('rateToMs', () => {
  test('minutes, hours and days, singular and plural', () => {
    assert.equal(rateToMs('rate(15 minutes)'), 900_000);
    assert.equal(rateToMs('rate(1 minute)'), 60_000);
    assert.equal(rateToMs('rate(2 hours)'), 7_200_000);
    assert.equal(rateToMs('rate(1 hour)'), 3_600_000);
    assert.equal(rateToMs('rate(1 day)'), 86_400_000);
    assert.equal(rateToMs('rate(3 days)'), 259_200_000);
  });

  for (const bad of [
    'rate(15 seconds)',
    'cron(0 * * * ? *)',
    'rate(15minutes)',
    'rate(-5 minutes)',
    'rate(1.5 hours)',
    '15 minutes',
    'rate(15 minutes) ',
    '',
  ]) {
    test(`rejects ${JSON.stringify(bad)}`, () => {
      assert.throws(() => rateToMs(bad), /not a rate expression/u);
    });
  }
});

describe('isDue', () => {
  const now = Date.parse('2025-06-15T12:00:00.000Z');
  const ago = (ms: number): string => new Date(now - ms).toISOString();
  const RATE = 'rate(15 minutes)';

  test('never polled: due', () => {
    assert.equal(isDue(undefined, RATE, now), true);
  });

  test('polled a full period ago: due', () => {
    assert.equal(isDue(ago(15 * 60_000), RATE, now), true);
  });

  test('within the 30 s slack before the period ends: due', () => {
    assert.equal(isDue(ago(15 * 60_000 - 30_000), RATE, now), true);
    assert.equal(isDue(ago(15 * 60_000 - 10_000), RATE, now), true);
  });

  test('just outside the slack: not due', () => {
    assert.equal(isDue(ago(15 * 60_000 - 30_001), RATE, now), false);
    assert.equal(isDue(ago(5 * 60_000), RATE, now), false);
    assert.equal(isDue(ago(0), RATE, now), false);
  });

  test('the tenant cadence is honoured', () => {
    assert.equal(isDue(ago(30 * 60_000), 'rate(1 hour)', now), false);
    assert.equal(isDue(ago(60 * 60_000), 'rate(1 hour)', now), true);
  });

  test('a bad expression throws', () => {
    assert.throws(() => isDue(ago(60_000), 'every 5 minutes', now), /not a rate expression/u);
  });
});

describe('utcDate / addDays', () => {
  test('utcDate is the UTC day', () => {
    assert.equal(utcDate(Date.parse('2025-06-15T23:59:59.999Z')), '2025-06-15');
    assert.equal(utcDate(Date.parse('2025-06-16T00:00:00.000Z')), '2025-06-16');
  });

  test('within a month', () => {
    assert.equal(addDays('2025-06-15', 1), '2025-06-16');
    assert.equal(addDays('2025-06-15', -1), '2025-06-14');
    assert.equal(addDays('2025-06-15', 0), '2025-06-15');
  });

  test('across month ends', () => {
    assert.equal(addDays('2025-01-31', 1), '2025-02-01');
    assert.equal(addDays('2025-03-01', -1), '2025-02-28');
    assert.equal(addDays('2024-03-01', -1), '2024-02-29');
    assert.equal(addDays('2025-04-30', 1), '2025-05-01');
  });

  test('across year ends', () => {
    assert.equal(addDays('2025-12-31', 1), '2026-01-01');
    assert.equal(addDays('2026-01-01', -1), '2025-12-31');
    assert.equal(addDays('2026-01-02', -7), '2025-12-26');
  });

  test('across a daylight-saving change (computed in UTC)', () => {
    assert.equal(addDays('2025-03-30', 1), '2025-03-31');
    assert.equal(addDays('2025-10-26', -1), '2025-10-25');
  });
});

describe('changedSinceDate', () => {
  test('no watermark: read everything', () => {
    assert.equal(changedSinceDate(undefined, 1), undefined);
  });

  test('the watermark day minus the overlap', () => {
    assert.equal(changedSinceDate('2025-06-15', 1), '2025-06-14');
    assert.equal(changedSinceDate('2025-06-15', 3), '2025-06-12');
  });

  test('the overlap crosses month and year ends', () => {
    assert.equal(changedSinceDate('2025-03-01', 1), '2025-02-28');
    assert.equal(changedSinceDate('2025-01-01', 2), '2024-12-30');
  });
});
