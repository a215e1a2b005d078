/**
 * Pipedrive's limits for an API token or an OAuth app: a burst limit over a rolling 2-second window (per plan; search
 * endpoints additionally 10 per window on every plan) and a daily token budget per company
 * (30,000 x plan multiplier x seats, reset at midnight UTC in the simulator).
 */
export type PipedrivePlan = 'lite' | 'growth' | 'premium' | 'ultimate';

export const WINDOW_MS = 2000;
export const BURST_LIMIT: Record<PipedrivePlan, number> = { lite: 20, growth: 40, premium: 100, ultimate: 120 };
/** An OAuth app's burst limit per plan (four times the API token's). */
export const OAUTH_BURST_LIMIT: Record<PipedrivePlan, number> = { lite: 80, growth: 160, premium: 400, ultimate: 480 };
export const SEARCH_BURST_LIMIT = 10;
export const PLAN_MULTIPLIER: Record<PipedrivePlan, number> = { lite: 1, growth: 2, premium: 5, ultimate: 7 };
export const BASE_DAILY_TOKENS = 30_000;
const DAY_MS = 86_400_000;

export function dailyBudget(plan: PipedrivePlan, seats: number): number {
  return BASE_DAILY_TOKENS * PLAN_MULTIPLIER[plan] * seats;
}

export type Admission =
  | { ok: true; headers: Record<string, string> }
  | { ok: false; reason: 'burst' | 'search-burst' | 'daily'; headers: Record<string, string> };

export class RateLimiter {
  private readonly general: number[] = [];
  private readonly search: number[] = [];
  private day = -1;
  private used = 0;

  constructor(
    private readonly burstLimit: number,
    /** tokens per day; tests may change it (a company buying seats) */
    public budget: number,
    private readonly now: () => number,
  ) {}

  /** Decides whether a request may be served now; when it may, it takes a slot in the window(s). */
  admit(isSearch: boolean): Admission {
    const now = this.now();
    this.rollDay(now);
    prune(this.general, now);
    prune(this.search, now);
    if (this.used >= this.budget) return { ok: false, reason: 'daily', headers: this.headers(now, isSearch) };
    if (this.general.length >= this.burstLimit) return { ok: false, reason: 'burst', headers: this.headers(now, isSearch) };
    if (isSearch && this.search.length >= SEARCH_BURST_LIMIT)
      return { ok: false, reason: 'search-burst', headers: this.headers(now, isSearch) };
    this.general.push(now);
    if (isSearch) this.search.push(now);
    return { ok: true, headers: this.headers(now, isSearch) };
  }

  /** Charges tokens for a served request. */
  charge(tokens: number): void {
    this.rollDay(this.now());
    this.used += tokens;
  }

  /** Midnight UTC without waiting for it (a multi-day local run): today's tokens start again from 0. */
  startNewDay(): void {
    this.rollDay(this.now());
    this.used = 0;
  }

  dailyUsed(): number {
    this.rollDay(this.now());
    return this.used;
  }

  /** The rate-limit headers as they stand now (call after charge() to include the request's cost). */
  headers(now: number = this.now(), isSearch = false): Record<string, string> {
    this.rollDay(now);
    // report the tighter of the two windows for search endpoints
    const searchTighter = isSearch && SEARCH_BURST_LIMIT - this.search.length < this.burstLimit - this.general.length;
    const window = searchTighter ? this.search : this.general;
    const limit = searchTighter ? SEARCH_BURST_LIMIT : this.burstLimit;
    const remaining = Math.max(0, limit - window.length);
    const oldest = window[0];
    let reset = oldest === undefined ? 0 : Math.ceil((oldest + WINDOW_MS - now) / 1000);
    if (remaining === 0) reset = Math.max(1, reset);
    return {
      'x-ratelimit-limit': String(limit),
      'x-ratelimit-remaining': String(remaining),
      'x-ratelimit-reset': String(reset),
      'x-daily-ratelimit-limit': String(this.budget),
      'x-daily-ratelimit-remaining': String(Math.max(0, this.budget - this.used)),
      'x-daily-ratelimit-reset': String(Math.ceil(((Math.floor(now / DAY_MS) + 1) * DAY_MS - now) / 1000)),
    };
  }

  private rollDay(now: number): void {
    const day = Math.floor(now / DAY_MS);
    if (day !== this.day) {
      this.day = day;
      this.used = 0;
    }
  }
}

function prune(window: number[], now: number): void {
  while (window.length > 0 && (window[0] ?? 0) <= now - WINDOW_MS) window.shift();
}
