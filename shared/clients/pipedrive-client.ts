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
import { BurstPacer } from './burst-pacer.ts';

import type { PipedriveCallInfo, PipedriveClient, PipedriveFieldEntity, RemoteRecord } from '../ports/pipedrive.ts';

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
  },
): PipedriveClient {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? realSleep;
  const pacer = new BurstPacer(now, sleep);
  const auth = 'auth' in options ? options.auth : apiTokenAuth(options.apiBaseUrl, options.apiToken);
  /** When the daily budget Pipedrive reported spent resets (ms epoch); no call goes out before then. */
  let dailySpentUntil = 0;
  /** The current unbroken run of 429 answers: when it began and how many (undefined after any other answer). */
  let limited: { since: number; count: number } | undefined;

  async function call<T>(
    method: 'GET' | 'POST' | 'PATCH',
    path: string,
    template: string,
    schema: z.ZodType<T>,
    opts: { query?: Record<string, string | number | boolean | undefined>; body?: unknown; sendBy?: number } = {},
  ): Promise<T> {
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) query.set(k, String(v));
    const endpoint = `${method} /api/v2${template}`;
    const retries = method === 'POST' ? 0 : 2;
    let reauthorised = false;
    for (let attempt = 0; ; attempt++) {
      if (dailySpentUntil > now())
        throw new RateLimitedError(
          `${endpoint}: not sent, Pipedrive reported the daily token budget spent`,
          Math.ceil((dailySpentUntil - now()) / 1000),
          true,
        );
      const credentials = await auth.credentials();
      await pacer.beforeCall(template.endsWith('/search'));
      if (opts.sendBy !== undefined && now() > opts.sendBy)
        throw new ClaimHeldError(`${endpoint}: not sent, the wait for a burst slot outlasted the time the record's claim allows`, 1);
      const started = now();
      let res: HttpResponse;
      try {
        res = await options.http.send({
          method,
          url: `${credentials.baseUrl}/api/v2${path}${query.size > 0 ? `?${query}` : ''}`,
          headers: {
            ...credentials.headers,
            accept: 'application/json',
            ...(opts.body !== undefined && { 'content-type': 'application/json' }),
          },
          ...(opts.body !== undefined && { body: JSON.stringify(opts.body) }),
        });
      } catch (error) {
        options.onCall?.({ endpoint, status: 0, ms: now() - started });
        if (error instanceof RetryLaterError && attempt < retries) {
          await sleep(200 * 4 ** attempt);
          continue;
        }
        throw error;
      }
      options.onCall?.({ endpoint, status: res.status, ms: now() - started });
      pacer.observe(res.headers, started);
      dailySpentUntil = dailyBudgetSpentUntil(res, now()) ?? dailySpentUntil;
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
      throw classify(res, endpoint, limited === undefined ? { ms: 0, count: 0 } : { ms: now() - limited.since, count: limited.count });
    }
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
    async create(collection, body, { sendWithinMs } = {}) {
      const path = `/${collection}`;
      const sendBy = sendWithinMs === undefined ? undefined : now() + sendWithinMs;
      return (await call('POST', path, path, envelope(remoteRecordSchema), { body, ...(sendBy !== undefined && { sendBy }) })).data;
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
    rateLimits: () => ({ ...pacer.last }),
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

/**
 * When the daily budget the answer reports spent resets (its x-daily-ratelimit-* headers, which Pipedrive
 * does not document: read if sent), or undefined while budget is left.
 */
function dailyBudgetSpentUntil(res: HttpResponse, nowMs: number): number | undefined {
  if (res.headers['x-daily-ratelimit-remaining'] !== '0') return undefined;
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
