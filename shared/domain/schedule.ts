/** Pure helpers for the poll cadence and QAD's day-granular watermark. */

const UNIT_MS: Record<string, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };

/** rate(15 minutes) -> 900000 */
export function rateToMs(expression: string): number {
  const m = /^rate\((\d+) (minute|hour|day)s?\)$/u.exec(expression);
  if (!m) throw new Error(`not a rate expression: ${expression}`);
  return Number(m[1]) * UNIT_MS[m[2]!]!;
}

/**
 * Is a tenant due for its poll? The stack's schedule fires at the finest cadence; each tenant's
 * own cadence is honoured here. A little slack keeps a schedule's jitter from skipping a turn.
 */
export function isDue(lastPolledAt: string | undefined, expression: string, nowMs: number): boolean {
  const last = lastPolledAt ? Date.parse(lastPolledAt) : Number.NaN;
  // An unreadable timestamp must not stop a tenant's polls for good.
  if (Number.isNaN(last)) return true;
  return nowMs - last >= rateToMs(expression) - 30_000;
}

export function utcDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export function addDays(date: string, days: number): string {
  return utcDate(Date.parse(`${date}T00:00:00Z`) + days * 86_400_000);
}

/**
 * QAD's mod dates are days, and its day may not be ours: read from the watermark's day minus the
 * overlap, inclusive. Records re-read this way are dropped later by their unchanged content hash.
 */
export function changedSinceDate(watermark: string | undefined, overlapDays: number): string | undefined {
  return watermark === undefined ? undefined : addDays(watermark, -overlapDays);
}
