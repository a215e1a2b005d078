import * as z from 'zod';
import {
  ClaimHeldError,
  PermanentError,
  PipedriveGoneError,
  PipedriveNotFoundError,
  RateLimitedError,
  RetryLaterError,
} from '../domain/errors.ts';
import { errorText, parseJsonBody, sleep as realSleep, type HttpClient, type HttpResponse, type Sleep } from './http.ts';
import { apiTokenAuth, type PipedriveAuth } from './pipedrive-auth.ts';
import { BurstPacer, MAX_INLINE_WAIT_MS, waitInline } from './burst-pacer.ts';

import type { PipedriveCallInfo, PipedriveClient, PipedriveFieldEntity, RemoteRecord, SendWithin } from '../ports/pipedrive.ts';

export type * from '../ports/pipedrive.ts';

/** Pipedrive's list pages cost the same whatever their size: always ask for the most. */
const PAGE_LIMIT = 500;
/** Search pages (100 hits, 20 tokens each) read for one term before it counts as too common to decide anything. */
const MAX_SEARCH_PAGES = 5;

/** A record as any list, get, create or update returns it; entities read their own extra fields. */
const remoteRecordSchema = z.looseObject({
  id: z.number().int(),
  name: z
    .string()
    .nullish()
    .transform((v) => v ?? ''),
  update_time: z.string().nullish(),
  custom_fields: z
    .record(z.string(), z.unknown())
    .nullish()
    .transform((v) => v ?? {}),
});
/** Kept for readers of organizations; every collection shares the record shape. */
export type PipedriveOrganization = RemoteRecord;

const fieldSchema = z.looseObject({
  field_code: z.string(),
  field_name: z.string(),
  field_type: z.string(),
  is_custom_field: z.boolean().optional(),
});

const webhookSchema = z.looseObject({
  id: z.number().int(),
  subscription_url: z.string(),
  event_action: z.string(),
  event_object: z.string(),
  version: z.string().nullish(),
  http_auth_user: z.string().nullish(),
});

const searchItemSchema = z.looseObject({
  item: z.looseObject({ id: z.number().int(), name: z.string().nullish(), custom_fields: z.array(z.unknown()).nullish() }),
});

const envelope = <T extends z.ZodType>(data: T) =>
  z.looseObject({
    success: z.literal(true),
    data,
    additional_data: z.looseObject({ next_cursor: z.string().nullish() }).nullish(),
  });

export { PipedriveNotFoundError };

/**
 * How long one read of the tenant's shared burst wait answers for a client's calls. A 429 in another container
 * reaches this one's calls within it (plus the read's round trip): a few calls at most, against a reset of whole
 * seconds; a read per call cost a DynamoDB request per Pipedrive call once the window was busy (issue 19, point 6).
 */
export const SHARED_PAUSE_FRESH_MS = 100;
/** Burst 429s a call waits out in-process before its record goes back to the queue. */
const BURST_RETRIES = 2;

const FIELD_PATHS: Record<PipedriveFieldEntity, string> = {
  organization: 'organizationFields',
  person: 'personFields',
  product: 'productFields',
  deal: 'dealFields',
};

/**
 * Pipedrive API v2 for one company: x-api-token or OAuth (one refresh and retry per 401), cursor paging at 500, pacing from the
 * rate-limit headers, and every failure classified (429 -> RateLimitedError, 5xx/network ->
 * RetryLaterError, 4xx -> PermanentError). POST is never retried in-process: a create that timed
 * out may have happened, and only the caller's pending-create recovery may decide.
 */
export function createPipedriveClient(
  options: ({ auth: PipedriveAuth } | { apiBaseUrl: string; apiToken: string }) & {
    http: HttpClient;
    now?: () => number;
    /** How it waits for a burst slot and between retries (a timer unless a test passes its own, with a matching `now`). */
    sleep?: Sleep;
    onCall?: (info: PipedriveCallInfo) => void;
    /** The share of the company's daily token budget this client may spend (default 1: all of it). */
    dailyBudgetShare?: number;
    /** The tenant's burst wait shared with every other container (see BurstPauses); none: this client's own pacing only. */
    sharedPause?: { until(): Promise<number>; pause(untilMs: number): Promise<void> };
  },
): PipedriveClient {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? realSleep;
  const pacer = new BurstPacer(now, sleep);
  const dailyShare = options.dailyBudgetShare ?? 1;
  const auth = 'auth' in options ? options.auth : apiTokenAuth(options.apiBaseUrl, options.apiToken);
  /** When the daily budget Pipedrive reported spent resets (ms epoch); no call goes out before then. */
  let dailySpentUntil = 0;
  /** The current unbroken run of 429 answers: when it began and how many (undefined after any other answer). */
  let limited: { since: number; count: number } | undefined;

  /** The last read of the shared burst wait: when it was asked, and its answer (`known` once it came). */
  let pauseRead: { at: number; until: Promise<number>; known?: number } | undefined;

  /**
   * After a 429 anywhere in the company, no call before the reset it named. Asked before a call unless this
   * client's fresh figures show the window half empty (then no one can just have been refused); one read serves
   * the calls of the next SHARED_PAUSE_FRESH_MS (concurrent records' calls share it), or until the wait it found
   * is over (another can only move it later, and is read then); this client's own 429 replaces it at once.
   */
  async function awaitSharedPause(): Promise<void> {
    if (!options.sharedPause || pacer.roomy()) return;
    const at = now();
    if (!pauseRead || (at - pauseRead.at > SHARED_PAUSE_FRESH_MS && (pauseRead.known ?? 0) <= at)) {
      const read: NonNullable<typeof pauseRead> = { at, until: options.sharedPause.until() };
      pauseRead = read;
      // A failed read is not kept: the next call asks again.
      read.until.then(
        (until) => void (read.known = until),
        () => pauseRead === read && (pauseRead = undefined),
      );
    }
    const wait = (await pauseRead.until) - now();
    if (wait > 0) await waitInline(wait, sleep, 'Pipedrive burst window spent: another writer of this tenant was refused');
  }

  async function call<T>(
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    path: string,
    template: string,
    schema: z.ZodType<T>,
    /** `v1`: webhooks and the current user, which have no v2 endpoint. */
    opts: { query?: Record<string, string | number | boolean | undefined>; body?: unknown; sendBy?: number; api?: 'v1' | 'v2' } = {},
  ): Promise<T> {
    // Notes exist only in v1; everything else is v2.
    const api = `/api/${opts.api ?? 'v2'}`;
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) query.set(k, String(v));
    const endpoint = `${method} ${api}${template}`;
    const retries = method === 'POST' ? 0 : 2;
    let reauthorised = false;
    let burstRetries = 0;
    for (let attempt = 0; ; attempt++) {
      if (dailySpentUntil > now())
        throw new RateLimitedError(
          `${endpoint}: not sent, ${dailyShare < 1 ? `the connector's ${Math.round(dailyShare * 100)}% share of ` : ''}` +
            "the company's daily token budget is spent",
          Math.ceil((dailySpentUntil - now()) / 1000),
          true,
        );
      const credentials = await auth.credentials();
      await awaitSharedPause();
      // The pacer's own record of the send: its answer is matched to the call by it.
      const started = await pacer.beforeCall(template.endsWith('/search'));
      if (opts.sendBy !== undefined && now() > opts.sendBy)
        throw new ClaimHeldError(`${endpoint}: not sent, the wait for a burst slot outlasted the time the record's claim allows`, 1);
      let res: HttpResponse;
      try {
        res = await options.http.send({
          method,
          url: `${credentials.baseUrl}${api}${path}${query.size > 0 ? `?${query}` : ''}`,
          headers: {
            ...credentials.headers,
            accept: 'application/json',
            ...(opts.body !== undefined && { 'content-type': 'application/json' }),
          },
          ...(opts.body !== undefined && { body: JSON.stringify(opts.body) }),
        });
      } catch (error) {
        options.onCall?.({ endpoint, status: 0, ms: now() - started });
        pacer.observe({}, started);
        if (error instanceof RetryLaterError && attempt < retries) {
          await sleep(200 * 4 ** attempt);
          continue;
        }
        throw error;
      }
      options.onCall?.({ endpoint, status: res.status, ms: now() - started });
      pacer.observe(res.headers, started);
      dailySpentUntil = dailyBudgetSpentUntil(res, now(), dailyShare) ?? dailySpentUntil;
      limited = res.status === 429 ? { since: limited?.since ?? started, count: (limited?.count ?? 0) + 1 } : undefined;
      // One refresh per 401; the retry does not count as an attempt (a refused token is not a fault).
      if (res.status === 401 && !reauthorised && (await auth.refused(credentials))) {
        reauthorised = true;
        attempt--;
        continue;
      }
      if (res.status >= 200 && res.status < 300) return parseJsonBody(res, schema, endpoint);
      if (res.status >= 500 && attempt < retries) {
        await sleep(200 * 4 ** attempt);
        continue;
      }
      const error = classify(
        res,
        endpoint,
        limited === undefined ? { ms: 0, count: 0 } : { ms: now() - limited.since, count: limited.count },
      );
      // A burst 429 stops every container of the tenant until its reset (a spent daily budget closes the tenant's gate instead).
      // Not recording it only costs the others a 429 of their own: this record's outcome stays the 429.
      if (error instanceof RateLimitedError && !error.dailyBudgetSpent) {
        const until = now() + error.resetSeconds * 1000;
        if (options.sharedPause) {
          pauseRead = { at: now(), until: Promise.resolve(until), known: until };
          await options.sharedPause.pause(until).catch(() => undefined);
        }
        // Refused, so not carried out (a POST too): sent again once the reset has passed, when that is soon and within
        // the record's claim. Thrown, the record would go back to the queue and its batch's others wait their turn there.
        if (burstRetries < BURST_RETRIES && until - now() <= MAX_INLINE_WAIT_MS && (opts.sendBy === undefined || until < opts.sendBy)) {
          burstRetries++;
          attempt--;
          await sleep(until - now());
          continue;
        }
      }
      throw error;
    }
  }

  /** The latest time a POST may go out (call's `sendBy`), from the caller's SendWithin. */
  function sendByOf(options: SendWithin = {}): { sendBy?: number } {
    return options.sendWithinMs === undefined ? {} : { sendBy: now() + options.sendWithinMs };
  }

  async function listAll<T>(path: string, schema: z.ZodType<T>): Promise<T[]> {
    const all: T[] = [];
    let cursor: string | undefined;
    do {
      const page = await call('GET', path, path, envelope(z.array(schema)), { query: { limit: PAGE_LIMIT, cursor } });
      all.push(...page.data);
      cursor = page.additional_data?.next_cursor ?? undefined;
    } while (cursor);
    return all;
  }

  return {
    async list(collection, opts = {}) {
      const path = `/${collection}`;
      const page = await call('GET', path, path, envelope(z.array(remoteRecordSchema)), {
        query: {
          limit: PAGE_LIMIT,
          cursor: opts.cursor,
          updated_since: opts.updatedSince,
          status: opts.status,
          ids: opts.ids?.join(','),
          ...(opts.newestFirst && { sort_by: 'update_time', sort_direction: 'desc' }),
        },
      });
      return { items: page.data, nextCursor: page.additional_data?.next_cursor ?? undefined };
    },
    async get(collection, id) {
      return (await call('GET', `/${collection}/${id}`, `/${collection}/{id}`, envelope(remoteRecordSchema))).data;
    },
    async dealProducts(dealIds) {
      if (dealIds.length > 100) throw new Error('dealProducts takes at most 100 deals a call');
      const lines: unknown[] = [];
      let cursor: string | undefined;
      do {
        const page = await call('GET', '/deals/products', '/deals/products', envelope(z.array(z.unknown())), {
          query: { deal_ids: dealIds.join(','), limit: PAGE_LIMIT, cursor },
        });
        lines.push(...page.data);
        cursor = page.additional_data?.next_cursor ?? undefined;
      } while (cursor);
      return lines;
    },
    async create(collection, body, options) {
      const path = `/${collection}`;
      return (await call('POST', path, path, envelope(remoteRecordSchema), { body, ...sendByOf(options) })).data;
    },
    async update(collection, id, body) {
      return (await call('PATCH', `/${collection}/${id}`, `/${collection}/{id}`, envelope(remoteRecordSchema), { body })).data;
    },
    async search(collection, q) {
      const path = `/${collection}/search`;
      const items: Array<z.infer<typeof searchItemSchema>> = [];
      let cursor: string | undefined;
      for (let page = 0; page === 0 || cursor; page++) {
        // A term that common cannot decide a match; a person should look at it rather than the budget pay for it.
        if (page === MAX_SEARCH_PAGES) throw new PermanentError(`${path}: more than ${page * 100} hits for "${q.term}"`);
        const res = await call('GET', path, path, envelope(z.looseObject({ items: z.array(searchItemSchema) })), {
          query: {
            term: q.term,
            fields: q.fields,
            exact_match: q.exactMatch !== false || undefined,
            limit: 100,
            organization_id: q.organizationId,
            cursor,
          },
        });
        items.push(...res.data.items);
        cursor = res.additional_data?.next_cursor ?? undefined;
      }
      return items.map(({ item }) => ({
        id: item.id,
        name: item.name ?? '',
        customFieldValues: (item.custom_fields ?? []).filter((v): v is string => typeof v === 'string'),
        item,
      }));
    },
    async companyId() {
      return (await call('GET', '/users/me', '/users/me', envelope(z.looseObject({ company_id: z.number().int() })), { api: 'v1' })).data
        .company_id;
    },
    async listWebhooks() {
      return (await call('GET', '/webhooks', '/webhooks', envelope(z.array(webhookSchema).nullable()), { api: 'v1' })).data ?? [];
    },
    async createWebhook(def) {
      return (await call('POST', '/webhooks', '/webhooks', envelope(webhookSchema), { api: 'v1', body: def })).data;
    },
    async deleteWebhook(id) {
      await call('DELETE', `/webhooks/${id}`, '/webhooks/{id}', z.looseObject({ success: z.literal(true) }), { api: 'v1' });
    },
    async addNote(note, options) {
      const body = { content: note.content, deal_id: note.dealId };
      const answer = envelope(z.looseObject({ id: z.number().int() }));
      return (await call('POST', '/notes', '/notes', answer, { body, api: 'v1', ...sendByOf(options) })).data;
    },
    async dealNotes(dealId) {
      const note = z.looseObject({
        id: z.number().int(),
        content: z
          .string()
          .nullish()
          .transform((c) => c ?? ''),
      });
      // v1 answers `data: null` for a deal without notes; a deal carries few, one page of 500 holds them.
      const query = { deal_id: dealId, start: 0, limit: PAGE_LIMIT };
      const page = await call('GET', '/notes', '/notes', envelope(z.array(note).nullable()), { query, api: 'v1' });
      return (page.data ?? []).map(({ id, content }) => ({ id, content }));
    },
    rateLimits: () => ({ ...pacer.last, burstAlone: pacer.alone() }),
    grantedScopes: () => auth.grantedScopes(),
    listFields(entity) {
      return listAll(`/${FIELD_PATHS[entity]}`, fieldSchema);
    },
    async createField(entity, def) {
      const path = `/${FIELD_PATHS[entity]}`;
      return (await call('POST', path, path, envelope(fieldSchema), { body: def })).data;
    },
  };
}

/** Without a reset header, a spent daily budget is looked at again after this long. */
const DAILY_RECHECK_SECONDS = 3_600;

/** What a write costs: the unit of the margin a share keeps for calls already in flight. */
const WRITE_TOKENS = 5;

/**
 * When the daily budget the answer reports spent resets (its x-daily-ratelimit-* headers, which Pipedrive
 * does not document: read if sent), or undefined while budget is left. Spent, for a connector that may use
 * `share` of it: the company has no more than the other apps' part (1 - share) of its limit left, plus what
 * one burst window of writes costs: that many calls of the tenant's containers may be under way when an
 * answer shows the share spent, and they must not eat into the other apps' part (measured: 1.5% over the
 * share without it, in a small run of the bench's first sync over days).
 */
function dailyBudgetSpentUntil(res: HttpResponse, nowMs: number, share: number): number | undefined {
  const read = (name: string) => (res.headers[name] ? Number(res.headers[name]) : Number.NaN);
  const remaining = read('x-daily-ratelimit-remaining');
  const limit = read('x-daily-ratelimit-limit');
  const othersPart = Number.isFinite(limit) && limit > 0 ? limit * (1 - share) : 0;
  const burst = read('x-ratelimit-limit');
  const inFlight = share < 1 && Number.isFinite(burst) && burst > 0 ? burst * WRITE_TOKENS : 0;
  if (!(Number.isFinite(remaining) && remaining <= othersPart + inFlight)) return undefined;
  const reset = Number(res.headers['x-daily-ratelimit-reset']);
  return nowMs + (Number.isFinite(reset) && reset > 0 ? reset : DAILY_RECHECK_SECONDS) * 1000;
}

/**
 * 429s with no other answer for this long, and this many of them, cannot be the 2-second burst window
 * (each came after the writer waited the window's reset): the daily budget is spent (Pipedrive's
 * daily-budget headers are undocumented, so their absence proves nothing). A few burst 429s spread over
 * a minute, each answered by waiting the reset, are still bursts.
 */
export const PERSISTENT_429_MS = 60_000;
export const PERSISTENT_429_COUNT = 10;

/** `limited`: how long this client has had nothing but 429s, and how many. */
function classify(res: HttpResponse, endpoint: string, limited: { ms: number; count: number }): Error {
  const text = errorText(res.body);
  if (res.status === 429) {
    const limitedForMs = limited.ms;
    const reported = res.headers['x-daily-ratelimit-remaining'] === '0';
    const daily = reported || (limitedForMs >= PERSISTENT_429_MS && limited.count >= PERSISTENT_429_COUNT);
    const reset = Number(res.headers[reported ? 'x-daily-ratelimit-reset' : 'x-ratelimit-reset']);
    const why = reported
      ? '(daily token budget spent)'
      : daily
        ? `(only 429s for ${Math.round(limitedForMs / 1000)} s, ${limited.count} in a row: taken as the daily token budget spent)`
        : '(burst limit)';
    return new RateLimitedError(
      `${endpoint}: HTTP 429 ${why}`,
      reported && Number.isFinite(reset) && reset > 0
        ? reset
        : daily
          ? DAILY_RECHECK_SECONDS
          : Number.isFinite(reset) && reset > 0
            ? reset
            : 2,
      daily,
    );
  }
  // A JSON 403 is a scope or permission the app or user lacks: a person must grant it (an HTML 403 is abuse protection).
  if (res.status === 403 && !/^\s*</u.test(res.body))
    return new PermanentError(
      `${endpoint}: HTTP 403, the tenant's Pipedrive access does not cover this call (${text}); see "connector check"`,
    );
  if (res.status === 401 || res.status === 403)
    return new RetryLaterError(`${endpoint}: HTTP ${res.status}, Pipedrive refused the tenant's credentials (${text})`, 300);
  if (res.status === 404) return new PipedriveNotFoundError(`${endpoint}: HTTP 404 (${text})`);
  if (res.status === 410) return new PipedriveGoneError(`${endpoint}: HTTP 410, merged into another record (${text})`);
  if (res.status >= 500) return new RetryLaterError(`${endpoint}: HTTP ${res.status} (${text})`);
  return new PermanentError(`${endpoint}: HTTP ${res.status}, Pipedrive rejected the request: ${text}`);
}
