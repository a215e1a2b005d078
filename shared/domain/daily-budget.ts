/**
 * Spending a company's daily Pipedrive token budget by design: the connector may spend a share of it
 * (`pipedrive.dailyBudgetShare`), a first sync writes each record once (a create or update costs 5
 * tokens) plus list pages (10 tokens for up to 500), and what does not fit in one day's share waits
 * for the next day's reset.
 */
export const TOKENS_PER_WRITE = 5;
export const TOKENS_PER_LIST_PAGE = 10;
export const RECORDS_PER_LIST_PAGE = 500;
const DAY_MS = 86_400_000;

export interface FirstSyncPlan {
  tokens: number;
  /** What the connector may spend per day: the daily limit x its share. */
  tokensPerDay: number;
  /** Calendar days the sync spans at that share (1: it fits in today's). */
  days: number;
  /** When it is done, at `writesPerSecond` within each day's share (epoch ms). */
  etaMs: number;
}

/**
 * A first sync of `records` records (`preexisting` of them already in Pipedrive, listed once) at `share`
 * of `dailyLimit` tokens a day, starting `nowMs` with `remainingToday` tokens of today's share left
 * (default: all of it) and writing at `writesPerSecond`.
 */
export function planFirstSync(input: {
  records: number;
  preexisting?: number;
  dailyLimit: number;
  share: number;
  writesPerSecond: number;
  nowMs: number;
  remainingToday?: number;
}): FirstSyncPlan {
  const pages = Math.max(1, Math.ceil((input.preexisting ?? 0) / RECORDS_PER_LIST_PAGE));
  const tokens = TOKENS_PER_WRITE * input.records + TOKENS_PER_LIST_PAGE * pages;
  const tokensPerDay = Math.floor(input.dailyLimit * input.share);
  const today = Math.max(0, Math.min(input.remainingToday ?? tokensPerDay, tokensPerDay));
  const secondsFor = (t: number) => t / TOKENS_PER_WRITE / input.writesPerSecond;
  if (tokens <= today) return { tokens, tokensPerDay, days: 1, etaMs: input.nowMs + secondsFor(tokens) * 1000 };
  const afterToday = tokens - today;
  const moreDays = Math.ceil(afterToday / tokensPerDay);
  // The budget resets at a day boundary (Pipedrive's x-daily-ratelimit-reset): the last day spends the rest.
  const lastDayStart = (Math.floor(input.nowMs / DAY_MS) + moreDays) * DAY_MS;
  const lastDayTokens = afterToday - (moreDays - 1) * tokensPerDay;
  return { tokens, tokensPerDay, days: 1 + moreDays, etaMs: lastDayStart + secondsFor(lastDayTokens) * 1000 };
}
