import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { scheduleExpressionProblem } from '../../shared/domain/schedule-expression.ts';
import { rateToMs } from '../../shared/domain/schedule.ts';

describe('schedule expressions as EventBridge Scheduler reads them', () => {
  const good = [
    'rate(1 minute)',
    'rate(5 minutes)',
    'rate(1 hour)',
    'rate(12 hours)',
    'rate(1 day)',
    'rate(7 days)',
    'cron(0 6 * * ? *)',
    'cron(0/15 * * * ? *)',
    'cron(0 8 ? * MON-FRI *)',
    'cron(30 2 1 JAN,JUL ? 2027-2030)',
    'cron(0 12 L * ? *)',
    'cron(0 9 15W * ? *)',
    'cron(0 9 ? * 2#1 *)',
    'cron(0 9 ? * 6L *)',
    'cron(5,35 */2 ? * SUN *)',
    'at(2027-03-01T06:30:00)',
  ];
  for (const expression of good) test(`${expression} is accepted`, () => assert.equal(scheduleExpressionProblem(expression), undefined));

  const bad: Array<[string, RegExp]> = [
    ['cron(banana)', /six fields/u],
    ['cron(0 25 * * ? *)', /hours "25": 25 is outside 0-23/u],
    ['cron(60 * * * ? *)', /minutes "60"/u],
    ['cron(0 6 * * * *)', /exactly one of day-of-month and day-of-week must be \?/u],
    ['cron(0 6 ? * ? *)', /exactly one of day-of-month and day-of-week/u],
    ['cron(0 6 32 * ? *)', /day-of-month "32"/u],
    ['cron(0 6 ? FOO * *)', /month "FOO"/u],
    ['cron(0 6 ? * 8 *)', /day-of-week "8"/u],
    ['cron(0 6 ? * 2#6 *)', /nth weekday/u],
    ['cron(0 6 * * ? 1969)', /year "1969": 1969 is outside 1970-2199/u],
    ['cron(0/0 * * * ? *)', /step "0"/u],
    ['cron(0 6 * 1--2 ? *)', /month "1--2"/u],
    ['cron(0 6 * * ? *) extra', /must be/u],
    ['rate(0 minutes)', /at least 1/u],
    ['rate(1 minutes)', /write rate\(1 minute\)/u],
    ['rate(5 minute)', /write rate\(5 minutes\)/u],
    ['rate(5 seconds)', /minute\(s\), hour\(s\) or day\(s\)/u],
    ['rate(-5 minutes)', /a rate is/u],
    ['rate(5minutes)', /a rate is/u],
    ['at(2027-02-30T06:30:00)', /not a real date/u],
    ['at(2027-03-01 06:30:00)', /at\(yyyy-mm-ddThh:mm:ss\)/u],
    ['every 5 minutes', /must be rate/u],
  ];
  for (const [expression, problem] of bad)
    test(`${expression} is refused: ${problem.source}`, () => assert.match(scheduleExpressionProblem(expression) ?? '(accepted)', problem));

  test('only the kinds asked for are accepted, and the message says which', () => {
    assert.match(scheduleExpressionProblem('cron(0 6 * * ? *)', ['rate']) ?? '', /^must be rate\(N minutes\|hours\|days\)$/u);
    assert.match(scheduleExpressionProblem('at(2027-03-01T06:30:00)', ['rate', 'cron']) ?? '', /must be rate.* or cron/u);
  });

  test('every rate it accepts, the poller can time', () => {
    for (const expression of good.filter((e) => e.startsWith('rate('))) assert.ok(rateToMs(expression) >= 60_000, expression);
  });
});
