import type { RateLimitInfo } from '../ports/pipedrive.ts';
import { RateLimitedError } from '../domain/errors.ts';
import { sleep as realSleep, type Sleep } from './http.ts';

/** Pipedrive's burst window: a rolling 2 seconds. */
export const BURST_WINDOW_MS = 2_000;
/** Search: 10 requests per rolling 2 s on every plan. */
const SEARCH_PER_WINDOW = 10;
/** Longest we wait in-process for a slot; anything longer goes back to the queue. */
export const MAX_INLINE_WAIT_MS = 2_500;
/**
 * Slots left to the others sharing the company's window (other writers, other apps) when this client believes the
 * window full: a fortieth of the limit, at least 3. They cannot see our calls in flight, nor we theirs, and a 429
 * stops every writer of the tenant until its reset (whole seconds): a slot kept free is cheaper than a refusal. A
 * twentieth was needed while a freed slot waited the whole spread of the ways there; with each call's own lateness
 * (slotFreeAt) a fortieth kept 429s under 0.7% on the 1k first sync (docs/performance.md).
 */
const reserveOf = (limit: number | undefined) => Math.max(3, Math.ceil((limit ?? 0) / 40));
/** A slot is free on Pipedrive's side a little after our clock says so (the request's way there). */
const SLOT_MARGIN_MS = 15;
/** Answer times kept to judge how much later than another a call may reach Pipedrive; the longest way there counted. */
const ROUND_TRIPS_KEPT = 32;
const MAX_TRANSIT_SPREAD_MS = BURST_WINDOW_MS / 8;
/**
 * This client is alone in the company's window when its calls were at least three quarters of the company's by the
 * last figures, and at least a tenth of the limit: a container starting with a probe or two is not (the others may be
 * probing too); the last container of a drain, still busy, is.
 */
const ALONE_SHARE = 0.75;
const ALONE_OWN_CALLS = 0.1;
/** Calls sent unanswered while this client knows nothing fresh of the window (at start, after a pause): a probe, not a burst. */
const PROBES_WITHOUT_FIGURES = 2;
/** How often a client that probed without figures looks again for an answer. */
const PROBE_POLL_MS = 20;

export type { RateLimitInfo };

interface SentCall {
  at: number;
  roundTripMs?: number;
}

/**
 * Paces one client to the company's burst limit from the x-ratelimit-* headers, so that it uses the
 * whole window without 429 storms:
 * - the last answer says how many calls the window had left (`remaining`) when that call was
 *   served; every call this client started since then is not in that figure, so it is subtracted;
 * - each Lambda container has its own pacer and cannot see the others' calls in flight, so it takes only its share
 *   of the room left: its own calls in the window over all the company's (`limit - remaining`) when it was read. A
 *   container alone takes it all; five equally busy ones a fifth each. Each reuses the slots its own calls free;
 * - while its share of the room beyond a small reserve is not spent, calls go at once (a burst costs nothing);
 * - knowing nothing fresh (its first calls, or none for a window), it sends two probes and holds the rest until an
 *   answer says how full the window is: containers resuming together after a 429 wait do not refill it blindly;
 * - when the window is full, the next call waits until a slot frees: the moment this client's own
 *   oldest call in the window leaves it (known to the millisecond from its own log; each one that
 *   leaves is a slot the last `remaining` did not count), or, if it has none there, Pipedrive's
 *   reset. That clocks the calls at the window's rate instead of sending a burst, sleeping out a
 *   whole rounded-up reset and bursting again;
 * - searches keep to their own 10 per 2 s, counted locally.
 */
export class BurstPacer {
  private remaining: number | undefined;
  /** When the call whose answer gave `remaining` was sent (its answer may arrive after later ones). */
  private observedCallAt = Number.NEGATIVE_INFINITY;
  private resetAt = 0;
  /**
   * This client's calls in the window now or in the one `remaining` described, oldest first: when each was sent, and
   * its round trip once answered (how late it may have reached Pipedrive).
   */
  private calls: SentCall[] = [];
  /**
   * The calls this client may add to the window beyond its own slots, from the last `remaining`: its share of the room
   * beyond the reserve, rounded at random to a whole call (up with the fraction's chance). Rounded down, ten containers
   * each entitled to 0.9 of a call would all wait, and the company's window would settle a tenth below its limit.
   */
  private room = 0;
  /** Calls sent and not answered yet; whether the last answer came without burst figures (then none are awaited). */
  private unanswered = 0;
  private blind = false;
  private searches: number[] = [];
  /** The last answers' round trips, newest last. */
  private roundTrips: number[] = [];
  private arrivalSpreadMs = 0;
  private quickestRoundTripMs = 0;
  /** By the last figures, this client made nearly all the company's calls in the window, and many (see alone()). */
  private busyAlone = false;
  last: RateLimitInfo = {};

  constructor(
    private readonly now: () => number,
    private readonly sleep: Sleep = realSleep,
    /** Rounds a fractional share of the room (tests pass a fixed one). */
    private readonly random: () => number = Math.random,
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
    this.unanswered = Math.max(0, this.unanswered - 1);
    this.blind = remaining === undefined;
    if (remaining !== undefined) {
      const answered = this.calls.find((c) => c.at === sentAt && c.roundTripMs === undefined);
      if (answered) answered.roundTripMs = this.now() - sentAt;
      this.roundTrips.push(this.now() - sentAt);
      if (this.roundTrips.length > ROUND_TRIPS_KEPT) this.roundTrips.shift();
      // How much later than another a call can reach Pipedrive: the spread of the answer times, halved (the way there
      // is half the trip).
      this.quickestRoundTripMs = Math.min(...this.roundTrips);
      const spread = (Math.max(...this.roundTrips) - this.quickestRoundTripMs) / 2;
      this.arrivalSpreadMs = Math.min(MAX_TRANSIT_SPREAD_MS, spread);
    }
    // An older answer arriving late says less than the one already read.
    if (remaining === undefined || sentAt < this.observedCallAt) return;
    this.remaining = remaining;
    this.observedCallAt = sentAt;
    // The window held `limit - remaining` calls of the company's clients, ours among them: the other containers of the
    // tenant, which this one cannot see, are as busy as that share says, and each takes its part of the room left.
    const limit = read('x-ratelimit-limit') ?? this.last.burstLimit;
    const ours = this.calls.filter(({ at }) => at <= sentAt && at > sentAt - BURST_WINDOW_MS).length;
    const company = limit === undefined ? 0 : limit - remaining;
    const share = company <= 0 ? 1 : Math.min(1, Math.max(ours, 1) / company);
    this.busyAlone = limit !== undefined && ours >= limit * ALONE_OWN_CALLS && share >= ALONE_SHARE;
    // Our calls sent just before this one may have reached Pipedrive after it (a slower way there): not in `remaining`,
    // nor sent since. They come off the room granted, never off the slots our own calls free, which they do not touch.
    const inTransit = this.calls.filter(({ at }) => at < sentAt && at >= sentAt - this.arrivalSpreadMs).length;
    const room = Math.max(0, Math.max(0, remaining - reserveOf(limit)) * share - inTransit);
    this.room = Math.floor(room) + (this.random() < room - Math.floor(room) ? 1 : 0);
    if (reset !== undefined) this.resetAt = this.now() + reset * 1000;
  }

  /** How long the next call should wait, by what the headers and this client's own calls say (0: go). */
  waitMs(now: number = this.now()): number {
    // Calls kept until they are in neither the window now nor the one the last answer described: those counted in
    // `remaining` (sent within the window before the call it came with) that have left the window since free a slot
    // that figure does not show. Forgotten as soon as they left the window, the ones leaving while that answer was on
    // its way back would be lost, and the company's window would settle a round trip's calls below its limit.
    // Figures older than a window are not fresh and free nothing, so nothing older than two windows is ever asked
    // for: the log stays bounded when answers stop bringing figures (errors, a proxy that drops the headers).
    const described = Math.max(this.observedCallAt, now - BURST_WINDOW_MS);
    const horizon = Math.min(now, described) - BURST_WINDOW_MS;
    while (this.calls.length > 0 && this.calls[0]!.at <= horizon) this.calls.shift();
    const inWindow = this.calls.filter(({ at }) => at > now - BURST_WINDOW_MS);
    // A call not sent after all (its claim ran out) or never answered stops counting once it would have left the window.
    this.unanswered = Math.min(this.unanswered, inWindow.length);
    const sentSince = this.calls.filter(({ at }) => at > this.observedCallAt).length;
    // Nothing fresh is known (the first calls, or after a pause): a few calls find out, the rest wait for their answers.
    if (!this.fresh(now)) return this.blind || this.unanswered < PROBES_WITHOUT_FIGURES ? 0 : PROBE_POLL_MS;
    if (this.room + this.freed(now) - sentSince > 0) return 0;
    // The first of our calls to free its slot on Pipedrive's side (one that left our window may not have left theirs yet).
    const ownSlot = Math.min(...this.calls.map((c) => this.slotFreeAt(c) - now).filter((ms) => ms > 0));
    const reset = this.resetAt > now ? this.resetAt - now : Number.POSITIVE_INFINITY;
    const wait = Math.min(ownSlot, reset);
    // Nothing says when a slot frees (no call of ours in the window, reset passed): ask again.
    return Number.isFinite(wait) ? Math.max(1, wait) : 0;
  }

  /** This client's calls that were in Pipedrive's window when `remaining` was read and have left it since: slots freed. */
  private freed(now: number): number {
    const window = this.observedCallAt - BURST_WINDOW_MS;
    return this.calls.filter((c) => c.at > window && c.at <= this.observedCallAt && this.slotFreeAt(c) <= now).length;
  }

  /**
   * When the slot our call took is free for the next call, on our clock: a window after it was sent, and later by how
   * much later than the quickest way there it may have reached Pipedrive (a new call may take the quickest, and a call
   * sent into a full window is refused). Answered, that is half what its round trip took over the quickest one's (the
   * way there is half the trip, and a slower answer may be slow on the way back only: the bound errs late); not yet
   * answered, the spread of the ways there.
   */
  private slotFreeAt(call: SentCall): number {
    const lateBy =
      call.roundTripMs === undefined
        ? this.arrivalSpreadMs
        : Math.min(MAX_TRANSIT_SPREAD_MS, (call.roundTripMs - this.quickestRoundTripMs) / 2);
    return call.at + BURST_WINDOW_MS + Math.max(SLOT_MARGIN_MS, lateBy);
  }

  /** Whether the last answer's figures still describe the window (read within the last 2 s). */
  fresh(now: number = this.now()): boolean {
    return this.remaining !== undefined && now - this.observedCallAt <= BURST_WINDOW_MS;
  }

  /**
   * Whether the company's window, by fresh figures, has more than half its room left after this client's calls
   * since: then no other client of the company can just have been refused (a 429 needs a full window).
   */
  roomy(now: number = this.now()): boolean {
    const limit = this.last.burstLimit;
    if (limit === undefined || !this.fresh(now)) return false;
    const sentSince = this.calls.filter(({ at }) => at > this.observedCallAt).length;
    return (this.remaining ?? 0) + this.freed(now) - sentSince > limit / 2;
  }

  /** Whether, by fresh figures, this client is alone in the company's window and busy (ALONE_SHARE): the others are idle. */
  alone(now: number = this.now()): boolean {
    return this.busyAlone && this.fresh(now);
  }

  /**
   * Waits for a slot (throws RateLimitedError when that is longer than is worth waiting in-process). Returns the time
   * the call is logged as sent: what `observe` is given with its answer, so that the answer finds its call.
   */
  async beforeCall(isSearch: boolean): Promise<number> {
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
    const at = this.now();
    this.calls.push({ at });
    this.unanswered++;
    return at;
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
