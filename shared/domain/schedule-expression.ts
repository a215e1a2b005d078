/**
 * Schedule expressions as EventBridge Scheduler reads them, checked before a deploy (or a tenant's
 * config) would fail on them: `rate(value unit)`, `cron(minutes hours day-of-month month day-of-week
 * year)` and `at(yyyy-mm-ddThh:mm:ss)`. Pure; answers what is wrong, or undefined.
 */

export type ScheduleKind = 'rate' | 'cron' | 'at';

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const WEEKDAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

interface CronField {
  name: string;
  min: number;
  max: number;
  /** Names that stand for numbers (JAN = 1, SUN = 1). */
  names?: readonly string[];
  /** Characters allowed beyond numbers, `,`, `-`, `*` and `/`. */
  special: readonly string[];
}

const CRON_FIELDS: readonly CronField[] = [
  { name: 'minutes', min: 0, max: 59, special: [] },
  { name: 'hours', min: 0, max: 23, special: [] },
  { name: 'day-of-month', min: 1, max: 31, special: ['?', 'L', 'W'] },
  { name: 'month', min: 1, max: 12, names: MONTHS, special: [] },
  { name: 'day-of-week', min: 1, max: 7, names: WEEKDAYS, special: ['?', 'L', '#'] },
  { name: 'year', min: 1970, max: 2199, special: [] },
];

/** What is wrong with `expression` as a schedule of one of `kinds`, or undefined when EventBridge Scheduler takes it. */
export function scheduleExpressionProblem(expression: string, kinds: readonly ScheduleKind[] = ['rate', 'cron', 'at']): string | undefined {
  const match = /^(rate|cron|at)\((.*)\)$/su.exec(expression);
  const kind = match?.[1] as ScheduleKind | undefined;
  if (!match || !kind || !kinds.includes(kind)) return `must be ${kinds.map(example).join(' or ')}`;
  const body = match[2] ?? '';
  if (kind === 'rate') return rateProblem(body);
  if (kind === 'cron') return cronProblem(body);
  return atProblem(body);
}

function example(kind: ScheduleKind): string {
  return {
    rate: 'rate(N minutes|hours|days)',
    cron: 'cron(minutes hours day-of-month month day-of-week year)',
    at: 'at(yyyy-mm-ddThh:mm:ss)',
  }[kind];
}

function rateProblem(body: string): string | undefined {
  const match = /^(\d+) (minute|minutes|hour|hours|day|days)$/u.exec(body);
  if (!match) return 'a rate is rate(N unit) with a whole number and minute(s), hour(s) or day(s), e.g. rate(15 minutes)';
  const value = Number(match[1]);
  const unit = match[2] ?? '';
  if (value < 1) return 'a rate must be at least 1';
  // EventBridge wants the singular for 1 and the plural for more.
  if (value === 1 && unit.endsWith('s')) return `write rate(1 ${unit.slice(0, -1)}), not rate(1 ${unit})`;
  if (value > 1 && !unit.endsWith('s')) return `write rate(${value} ${unit}s), not rate(${value} ${unit})`;
  return undefined;
}

function atProblem(body: string): string | undefined {
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})$/u.exec(body);
  if (!match) return 'a one-time schedule is at(yyyy-mm-ddThh:mm:ss)';
  const date = new Date(`${body}Z`);
  if (Number.isNaN(date.getTime()) || date.toISOString().slice(0, 19) !== body) return `at(${body}) is not a real date and time`;
  return undefined;
}

function cronProblem(body: string): string | undefined {
  const fields = body.trim().split(/\s+/u);
  if (fields.length !== 6)
    return `a cron expression has six fields (minutes hours day-of-month month day-of-week year), got ${fields.length}`;
  for (const [i, spec] of CRON_FIELDS.entries()) {
    const problem = cronFieldProblem(fields[i] ?? '', spec);
    if (problem) return problem;
  }
  const [, , dayOfMonth, , dayOfWeek] = fields;
  // One of the two day fields must be `?`: a schedule cannot name both a date and a weekday.
  if ((dayOfMonth === '?') === (dayOfWeek === '?'))
    return 'exactly one of day-of-month and day-of-week must be ?, e.g. cron(0 6 * * ? *) or cron(0 6 ? * MON-FRI *)';
  return undefined;
}

function cronFieldProblem(value: string, field: CronField): string | undefined {
  const bad = (why: string) => `cron ${field.name} "${value}": ${why}`;
  if (value === '*' || (value === '?' && field.special.includes('?'))) return undefined;
  if (value === 'L' && field.special.includes('L')) return undefined;
  const number = (text: string): number | undefined => {
    const named = field.names?.indexOf(text.toUpperCase()) ?? -1;
    if (named >= 0) return named + 1;
    return /^\d+$/u.test(text) ? Number(text) : undefined;
  };
  const inRange = (text: string): string | undefined => {
    const n = number(text);
    if (n === undefined) return bad(`"${text}" is not a ${field.name} value`);
    if (n < field.min || n > field.max) return bad(`${n} is outside ${field.min}-${field.max}`);
    return undefined;
  };
  for (const part of value.split(',')) {
    if (part === '') return bad('an empty list entry');
    if (field.special.includes('W') && /^\d+W$/u.test(part)) {
      const problem = inRange(part.slice(0, -1));
      if (problem) return problem;
      continue;
    }
    if (field.special.includes('#') && part.includes('#')) {
      const [day = '', nth = ''] = part.split('#');
      const problem = inRange(day);
      if (problem) return problem;
      if (!/^[1-5]$/u.test(nth)) return bad('the nth weekday after # must be 1-5');
      continue;
    }
    if (field.special.includes('L') && /^[^,]+L$/u.test(part) && field.name === 'day-of-week') {
      const problem = inRange(part.slice(0, -1));
      if (problem) return problem;
      continue;
    }
    const [range = '', step, extra] = part.split('/');
    if (extra !== undefined) return bad('more than one /');
    if (step !== undefined && (!/^\d+$/u.test(step) || Number(step) < 1)) return bad(`the step "${step}" must be a whole number from 1`);
    if (range === '*' && step !== undefined) continue;
    const [from = '', to, beyond] = range.split('-');
    if (beyond !== undefined) return bad('more than one -');
    const problem = inRange(from) ?? (to === undefined ? undefined : inRange(to));
    if (problem) return problem;
  }
  return undefined;
}
