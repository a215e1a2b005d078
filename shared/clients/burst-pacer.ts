import type { RateLimitInfo } from '../ports/pipedrive.ts';
import { RateLimitedError } from '../domain/errors.ts';
import { sleep as realSleep, type Sleep } from './http.ts';

/** Pipedrive's burst window: a rolling 2 seconds. */
export const BURST_WINDOW_MS = 2_000;
/** Search: 10 requests per rolling 2 s on every plan. */
const SEARCH_PER_WINDOW = 10;
/** Longest we wait in-process for a slot; anything longer goes back to the queue. */
const MAX_INLINE_WAIT_MS = 2_500;
/**
 * Slots left to the others sharing the company's window (other writers, other apps) when this
 * client believes the window full: they cannot see our calls in flight, nor we theirs.
 */
const RESERVE = 2;
/** A slot is free on Pipedrive's side a little after our clock says so (the request's way there). */
const SLOT_MARGIN_MS = 15;

export type { RateLimitInfo };

/**
 * Paces one client to the company's burst limit from the x-ratelimit-* headers, so that it uses the
 * whole window without 429 storms:
 * - the last answer says how many calls the window had left (`remaining`) when that call was
 *   served; every call this client started since then is not in that figure, so it is subtracted;
 * - while more than a small reserve is left, calls go at once (a burst costs nothing);
 * - when the window is full, the next call waits until a slot frees: the moment this client's own
 *   oldest call in the window leaves it (known to the millisecond from its own log; each one that
 *   leaves is a slot the last `remaining` did not count), or, if it has none there, Pipedrive's
 *   reset. That clocks the calls at the window's rate instead of sending a burst, sleeping out a
 *   whole rounded-up reset and bursting again;
 * - information older than a window is stale: the next answer brings fresh figures;
 * - searches keep to their own 10 per 2 s, counted locally.
 */
export class BurstPacer {
  private remaining: number | undefined;
  /** When the call whose answer gave `remaining` was sent (its answer may arrive after later ones). */
  private observedCallAt = Number.NEGATIVE_INFINITY;
  private resetAt = 0;
  /** Start times of this client's calls within the last window, oldest first. */
  private calls: number[] = [];
  /** This client's calls that were in Pipedrive's window when `remaining` was read and have left it since: slots freed. */
  private freed = 0;
  private searches: number[] = [];
  last: RateLimitInfo = {};

  constructor(
    private readonly now: () => number,
    private readonly sleep: Sleep = realSleep,
  ) {}

  /** Reads the headers of an answer to a call sent at `sentAt`. */
  observe(headers: Record<string, string>, sentAt: number = this.now()): void {
    const read = (name: string) =>
      headers[name] !== undefined && Number.isFinite(Number(headers[name])) ? Number(headers[name]) : undefined;
    this.last = {
      ...this.last,
      ...Object.fromEntries(
        Object.entries({
          burstLimit: read('x-ratelimit-limit'),
          burstRemaining: read('x-ratelimit-remaining'),
          dailyLimit: read('x-daily-ratelimit-limit'),
          dailyRemaining: read('x-daily-ratelimit-remaining'),
        }).filter(([, v]) => v !== undefined),
      ),
    };
    const remaining = read('x-ratelimit-remaining');
    const reset = read('x-ratelimit-reset');
    // An older answer arriving late says less than the one already read.
    if (remaining === undefined || sentAt < this.observedCallAt) return;
    this.remaining = remaining;
    this.observedCallAt = sentAt;
    this.freed = 0;
    if (reset !== undefined) this.resetAt = this.now() + reset * 1000;
  }

  /** How long the next call should wait, by what the headers and this client's own calls say (0: go). */
  waitMs(now: number = this.now()): number {
    // Our calls leaving the window free slots; those counted in `remaining` (sent before the call it
    // came with, within the window then) free a slot that figure does not show yet.
    while (this.calls.length > 0 && this.calls[0]! <= now - BURST_WINDOW_MS) {
      const left = this.calls.shift()!;
      if (left <= this.observedCallAt && left > this.observedCallAt - BURST_WINDOW_MS) this.freed++;
    }
    if (this.remaining === undefined || now - this.observedCallAt > BURST_WINDOW_MS) return 0;
    const sentSince = this.calls.filter((t) => t > this.observedCallAt).length;
    if (this.remaining + this.freed - sentSince > RESERVE) return 0;
    const oldest = this.calls[0];
    const ownSlot = oldest === undefined ? Number.POSITIVE_INFINITY : oldest + BURST_WINDOW_MS + SLOT_MARGIN_MS - now;
    const reset = this.resetAt > now ? this.resetAt - now : Number.POSITIVE_INFINITY;
    const wait = Math.min(ownSlot, reset);
    // Nothing says when a slot frees (no call of ours in the window, reset passed): ask again.
    return Number.isFinite(wait) ? Math.max(1, wait) : 0;
  }

  /**
   * Whether the company's window, by fresh figures, has more than half its room left after this client's calls
   * since: then no other client of the company can just have been refused (a 429 needs a full window).
   */
  roomy(now: number = this.now()): boolean {
    const limit = this.last.burstLimit;
    if (this.remaining === undefined || limit === undefined || now - this.observedCallAt > BURST_WINDOW_MS) return false;
    const sentSince = this.calls.filter((t) => t > this.observedCallAt).length;
    return this.remaining + this.freed - sentSince > limit / 2;
  }

  /** Waits for a slot (throws RateLimitedError when that is longer than is worth waiting in-process). */
  async beforeCall(isSearch: boolean): Promise<void> {
    for (;;) {
      const wait = this.waitMs();
      if (wait <= 0) break;
      await waitInline(wait, this.sleep, 'Pipedrive burst window spent');
    }
    if (isSearch) {
      for (;;) {
        const cutoff = this.now() - BURST_WINDOW_MS;
        prune(this.searches, cutoff);
        if (this.searches.length < SEARCH_PER_WINDOW) break;
        await this.sleep(this.searches[0]! - cutoff + 5);
      }
      this.searches.push(this.now());
    }
    this.calls.push(this.now());
  }
}

/** Sleeps `ms`, or throws RateLimitedError when that is longer than is worth waiting in-process (the record goes back to the queue). */
export async function waitInline(ms: number, sleep: Sleep, what: string): Promise<void> {
  if (ms > MAX_INLINE_WAIT_MS) throw new RateLimitedError(what, Math.ceil(ms / 1000));
  await sleep(ms);
}

function prune(times: number[], cutoff: number): void {
  while (times.length > 0 && times[0]! <= cutoff) times.shift();
}
