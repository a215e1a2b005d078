import { z } from 'zod';
import { PermanentError, RateLimitedError, RetryLaterError } from '../domain/errors.ts';
import { errorText, parseJsonBody, sleep, type HttpClient, type HttpResponse } from './http.ts';

/** Pipedrive's list pages cost the same whatever their size: always ask for the most. */
const PAGE_LIMIT = 500;
/** Search: 10 requests per rolling 2 s on every plan. */
const SEARCH_WINDOW_MS = 2_000;
const SEARCH_PER_WINDOW = 10;
/** Longest we wait in-process for a burst window; anything longer goes back to the queue. */
const MAX_INLINE_WAIT_MS = 2_500;

export type PipedriveFieldEntity = 'organization' | 'person' | 'product' | 'deal';
export type PipedriveCollection = 'organizations' | 'persons' | 'products' | 'deals';

/** A record as any list, get, create or update returns it; entities read their own extra fields. */
const remoteRecordSchema = z.looseObject({
  id: z.number().int(),
  name: z.string().nullish().transform((v) => v ?? ''),
  update_time: z.string().nullish(),
  custom_fields: z.record(z.string(), z.unknown()).nullish().transform((v) => v ?? {}),
});
export type RemoteRecord = z.infer<typeof remoteRecordSchema>;
/** Kept for readers of organizations; every collection shares the record shape. */
export type PipedriveOrganization = RemoteRecord;

const fieldSchema = z.looseObject({
  field_code: z.string(),
  field_name: z.string(),
  field_type: z.string(),
  is_custom_field: z.boolean().optional(),
});
export type PipedriveField = z.infer<typeof fieldSchema>;

const searchItemSchema = z.looseObject({
  item: z.looseObject({ id: z.number().int(), name: z.string().nullish(), custom_fields: z.array(z.unknown()).nullish() }),
});

const envelope = <T extends z.ZodType>(data: T) =>
  z.looseObject({
    success: z.literal(true),
    data,
    additional_data: z.looseObject({ next_cursor: z.string().nullish() }).nullish(),
  });

export interface Page<T> {
  items: T[];
  nextCursor: string | undefined;
}

export interface SearchHit {
  id: number;
  name: string;
  customFieldValues: string[];
  /** The whole search item, for entity-specific fields (emails, organization, code). */
  item: Record<string, unknown>;
}

export interface SearchQuery {
  term: string;
  fields: string;
  organizationId?: number;
}

export interface PipedriveCallInfo {
  endpoint: string;
  status: number;
  ms: number;
}

export interface PipedriveClient {
  list(collection: PipedriveCollection, opts?: { cursor?: string; updatedSince?: string; newestFirst?: boolean; status?: 'won'; ids?: readonly number[] }): Promise<Page<RemoteRecord>>;
  get(collection: PipedriveCollection, id: number): Promise<RemoteRecord>;
  /** Lines of up to 100 deals in one call (10 tokens), following the cursor. */
  dealProducts(dealIds: readonly number[]): Promise<unknown[]>;
  create(collection: PipedriveCollection, body: unknown): Promise<RemoteRecord>;
  update(collection: PipedriveCollection, id: number, body: unknown): Promise<RemoteRecord>;
  /** Exact-match search (whole value, case-insensitive). */
  search(collection: PipedriveCollection, query: SearchQuery): Promise<SearchHit[]>;
  listFields(entity: PipedriveFieldEntity): Promise<PipedriveField[]>;
  createField(entity: PipedriveFieldEntity, def: { field_name: string; field_type: string }): Promise<PipedriveField>;
  /** The company's limits as the last answer reported them. */
  rateLimits(): RateLimitInfo;
}

export class PipedriveNotFoundError extends PermanentError {}

/** Burst-window state read from x-ratelimit-* headers, shared by every call for one company. */
/** What the last answer said of the company's limits (daily-budget headers are not documented; read if sent). */
export interface RateLimitInfo {
  burstLimit?: number;
  burstRemaining?: number;
  dailyLimit?: number;
  dailyRemaining?: number;
}

class BurstPacer {
  private remaining: number | undefined;
  private resetAt = 0;
  private searches: number[] = [];
  last: RateLimitInfo = {};

  constructor(private readonly now: () => number) {}

  observe(headers: Record<string, string>): void {
    const read = (name: string) => (headers[name] !== undefined && Number.isFinite(Number(headers[name])) ? Number(headers[name]) : undefined);
    this.last = {
      ...this.last,
      ...Object.fromEntries(
        Object.entries({ burstLimit: read('x-ratelimit-limit'), burstRemaining: read('x-ratelimit-remaining'), dailyLimit: read('x-daily-ratelimit-limit'), dailyRemaining: read('x-daily-ratelimit-remaining') }).filter(([, v]) => v !== undefined),
      ),
    };
    const remaining = Number(headers['x-ratelimit-remaining']);
    const reset = Number(headers['x-ratelimit-reset']);
    if (Number.isFinite(remaining)) this.remaining = remaining;
    if (Number.isFinite(reset)) this.resetAt = this.now() + reset * 1000;
  }

  /** Waits when the window is spent, so that 429s stay rare instead of being the signal. */
  async beforeCall(isSearch: boolean): Promise<void> {
    if (this.remaining !== undefined && this.remaining <= 1 && this.resetAt > this.now()) {
      const wait = this.resetAt - this.now();
      if (wait > MAX_INLINE_WAIT_MS) throw new RateLimitedError('Pipedrive burst window spent', Math.ceil(wait / 1000));
      await sleep(wait);
      this.remaining = undefined;
    }
    if (!isSearch) return;
    for (;;) {
      const cutoff = this.now() - SEARCH_WINDOW_MS;
      this.searches = this.searches.filter((t) => t > cutoff);
      if (this.searches.length < SEARCH_PER_WINDOW) break;
      await sleep(this.searches[0]! - cutoff + 5);
    }
    this.searches.push(this.now());
  }
}

const FIELD_PATHS: Record<PipedriveFieldEntity, string> = { organization: 'organizationFields', person: 'personFields', product: 'productFields', deal: 'dealFields' };

/**
 * Pipedrive API v2 for one company: x-api-token auth, cursor paging at 500, pacing from the
 * rate-limit headers, and every failure classified (429 -> RateLimitedError, 5xx/network ->
 * RetryLaterError, 4xx -> PermanentError). POST is never retried in-process: a create that timed
 * out may have happened, and only the caller's pending-create recovery may decide.
 */
export function createPipedriveClient(options: {
  apiBaseUrl: string;
  apiToken: string;
  http: HttpClient;
  now?: () => number;
  onCall?: (info: PipedriveCallInfo) => void;
}): PipedriveClient {
  const now = options.now ?? Date.now;
  const pacer = new BurstPacer(now);
  const base = `${options.apiBaseUrl}/api/v2`;

  async function call<T>(method: 'GET' | 'POST' | 'PATCH', path: string, template: string, schema: z.ZodType<T>, opts: { query?: Record<string, string | number | boolean | undefined>; body?: unknown } = {}): Promise<T> {
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) query.set(k, String(v));
    const url = `${base}${path}${query.size > 0 ? `?${query}` : ''}`;
    const endpoint = `${method} /api/v2${template}`;
    const retries = method === 'POST' ? 0 : 2;
    for (let attempt = 0; ; attempt++) {
      await pacer.beforeCall(template.endsWith('/search'));
      const started = now();
      let res: HttpResponse;
      try {
        res = await options.http.send({
          method,
          url,
          headers: { 'x-api-token': options.apiToken, accept: 'application/json', ...(opts.body !== undefined && { 'content-type': 'application/json' }) },
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
      pacer.observe(res.headers);
      if (res.status >= 200 && res.status < 300) return parseJsonBody(res, schema, endpoint);
      if (res.status >= 500 && attempt < retries) {
        await sleep(200 * 4 ** attempt);
        continue;
      }
      throw classify(res, endpoint);
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
        const page = await call('GET', '/deals/products', '/deals/products', envelope(z.array(z.unknown())), { query: { deal_ids: dealIds.join(','), limit: PAGE_LIMIT, cursor } });
        lines.push(...page.data);
        cursor = page.additional_data?.next_cursor ?? undefined;
      } while (cursor);
      return lines;
    },
    async create(collection, body) {
      const path = `/${collection}`;
      return (await call('POST', path, path, envelope(remoteRecordSchema), { body })).data;
    },
    async update(collection, id, body) {
      return (await call('PATCH', `/${collection}/${id}`, `/${collection}/{id}`, envelope(remoteRecordSchema), { body })).data;
    },
    async search(collection, q) {
      const path = `/${collection}/search`;
      const res = await call('GET', path, path, envelope(z.looseObject({ items: z.array(searchItemSchema) })), {
        query: { term: q.term, fields: q.fields, exact_match: true, limit: 100, organization_id: q.organizationId },
      });
      return res.data.items.map(({ item }) => ({
        id: item.id,
        name: item.name ?? '',
        customFieldValues: (item.custom_fields ?? []).filter((v): v is string => typeof v === 'string'),
        item,
      }));
    },
    rateLimits: () => ({ ...pacer.last }),
    listFields(entity) {
      return listAll(`/${FIELD_PATHS[entity]}`, fieldSchema);
    },
    async createField(entity, def) {
      const path = `/${FIELD_PATHS[entity]}`;
      return (await call('POST', path, path, envelope(fieldSchema), { body: def })).data;
    },
  };
}

function classify(res: HttpResponse, endpoint: string): Error {
  const text = errorText(res.body);
  if (res.status === 429) {
    const reset = Number(res.headers['x-ratelimit-reset']);
    const daily = res.headers['x-daily-ratelimit-remaining'] === '0';
    return new RateLimitedError(`${endpoint}: HTTP 429 ${daily ? '(daily token budget spent)' : '(burst limit)'}`, Number.isFinite(reset) && reset > 0 ? reset : 2, daily);
  }
  if (res.status === 401 || res.status === 403) return new RetryLaterError(`${endpoint}: HTTP ${res.status}, Pipedrive refused the tenant's credentials (${text})`, 300);
  if (res.status === 404) return new PipedriveNotFoundError(`${endpoint}: HTTP 404 (${text})`);
  if (res.status >= 500) return new RetryLaterError(`${endpoint}: HTTP ${res.status} (${text})`);
  return new PermanentError(`${endpoint}: HTTP ${res.status}, Pipedrive rejected the request: ${text}`);
}
