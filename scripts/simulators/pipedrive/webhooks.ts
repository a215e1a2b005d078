/**
 * Pipedrive's webhooks v1 API (`/v1/webhooks`) and v2 deliveries, as `reference/pipedrive.md` describes them: a
 * deal change is POSTed as `{meta, data, previous}` to every matching webhook with its HTTP Basic pair; a non-2xx
 * answer (or none) is retried with `meta.attempt` counting up. What Pipedrive does not promise, the simulator does
 * on request: duplicates, reordering (a random delay per delivery) and drops (a delivery never sent).
 */
import { validationError, SimHttpError } from './http.ts';

export interface SimWebhook {
  id: number;
  company_id: number;
  owner_id: number;
  user_id: number;
  event_action: string;
  event_object: string;
  subscription_url: string;
  version: string;
  is_active: number;
  add_time: string;
  http_auth_user: string | null;
  /** Never listed by the API; kept to send. */
  http_auth_password: string | null;
}

export interface WebhookChaos {
  /** Share of deliveries never sent (0..1). */
  dropRate?: number;
  /** Share of deliveries sent twice (0..1). */
  duplicateRate?: number;
  /** Each delivery waits a random 0..this many ms first, so deliveries overtake each other. */
  maxDelayMs?: number;
  /** Waits before each retry of a failed delivery; its length is the number of retries. */
  retryDelaysMs?: readonly number[];
  /** The randomness (tests pass their own). */
  random?: () => number;
}

export interface WebhookStats {
  /** Deal changes that had a webhook to go to, one per webhook. */
  events: number;
  /** POSTs made, retries and duplicates included. */
  posts: number;
  /** Answered 2xx. */
  delivered: number;
  dropped: number;
  duplicated: number;
  retried: number;
  /** Given up after the last retry. */
  failed: number;
  /** Answers by status ("202", "401", ...; "error" when the connection failed). */
  byStatus: Record<string, number>;
}

/** Pipedrive's limit per user. */
const MAX_WEBHOOKS = 40;
const DEFAULT_RETRY_DELAYS_MS = [1_000, 5_000, 20_000];

export class SimWebhooks {
  private readonly hooks = new Map<number, SimWebhook>();
  private nextId = 1;
  private chaos: WebhookChaos = {};
  private pending = new Set<Promise<void>>();
  private statsValue: WebhookStats = emptyStats();

  constructor(
    readonly companyId: number,
    private readonly host: string,
    private readonly now: () => number,
  ) {}

  setChaos(chaos: WebhookChaos): void {
    this.chaos = { ...chaos };
  }

  stats(): WebhookStats {
    return structuredClone(this.statsValue);
  }

  /** Resolves once every delivery started so far (retries included) is done. */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  list(): Array<Omit<SimWebhook, 'http_auth_password'>> {
    return [...this.hooks.values()].map(({ http_auth_password: _hidden, ...hook }) => ({ ...hook }));
  }

  create(body: Record<string, unknown>): Omit<SimWebhook, 'http_auth_password'> {
    const text = (name: string, required = true): string | null => {
      const value = body[name];
      if (value === undefined || value === null) {
        if (required) throw validationError(`${name} is required`);
        return null;
      }
      if (typeof value !== 'string' || value === '') throw validationError(`${name} must be a non-empty string`);
      return value;
    };
    const url = text('subscription_url')!;
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw validationError('subscription_url must be a URL');
    }
    // Pipedrive posts to https only; the simulator lets a loopback http endpoint stand in for one.
    if (parsed.protocol !== 'https:' && !(parsed.protocol === 'http:' && parsed.hostname === '127.0.0.1'))
      throw validationError('subscription_url must be https');
    const action = text('event_action')!;
    const object = text('event_object')!;
    if (!['create', 'change', 'delete', '*'].includes(action)) throw validationError('event_action is not valid');
    if (!['deal', 'person', 'organization', 'product', 'activity', 'note', '*'].includes(object))
      throw validationError('event_object is not valid');
    const version = text('version', false) ?? '1.0';
    if (version !== '1.0' && version !== '2.0') throw validationError('version must be 1.0 or 2.0');
    if (this.hooks.size >= MAX_WEBHOOKS) throw validationError(`at most ${MAX_WEBHOOKS} webhooks per user`);
    const hook: SimWebhook = {
      id: this.nextId++,
      company_id: this.companyId,
      owner_id: 1,
      user_id: 1,
      event_action: action,
      event_object: object,
      subscription_url: url,
      version,
      is_active: 1,
      add_time: new Date(this.now()).toISOString(),
      http_auth_user: text('http_auth_user', false),
      http_auth_password: text('http_auth_password', false),
    };
    this.hooks.set(hook.id, hook);
    const { http_auth_password: _hidden, ...listed } = hook;
    return listed;
  }

  delete(id: number): void {
    if (!this.hooks.delete(id))
      throw new SimHttpError(404, { success: false, error: 'Webhook not found', error_info: 'Please check the id', data: null });
  }

  /** A deal changed (through the API or the admin hooks): v2 deliveries of `change.deal` to every matching webhook. */
  dealChanged(before: Record<string, unknown>, after: Record<string, unknown>): void {
    const previous = changedFields(before, after);
    if (Object.keys(previous).length === 0) return;
    for (const hook of this.hooks.values()) {
      if (hook.version !== '2.0' || !['change', '*'].includes(hook.event_action) || !['deal', '*'].includes(hook.event_object)) continue;
      this.statsValue.events++;
      const random = this.chaos.random ?? Math.random;
      if (random() < (this.chaos.dropRate ?? 0)) {
        this.statsValue.dropped++;
        continue;
      }
      const copies = random() < (this.chaos.duplicateRate ?? 0) ? 2 : 1;
      if (copies === 2) this.statsValue.duplicated++;
      for (let i = 0; i < copies; i++) this.track(this.deliver(hook, after, previous, random() * (this.chaos.maxDelayMs ?? 0)));
    }
  }

  private track(delivery: Promise<void>): void {
    this.pending.add(delivery);
    void delivery.finally(() => this.pending.delete(delivery));
  }

  private async deliver(hook: SimWebhook, data: Record<string, unknown>, previous: Record<string, unknown>, delayMs: number) {
    const timestamp = new Date(this.now()).toISOString();
    const retries = this.chaos.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
    await wait(delayMs);
    for (let attempt = 1; ; attempt++) {
      const meta = {
        action: 'change',
        entity: 'deal',
        entity_id: String(data['id']),
        company_id: String(this.companyId),
        user_id: String(hook.user_id),
        webhook_id: String(hook.id),
        attempt,
        timestamp,
        host: this.host,
        change_source: 'api',
        is_bulk_edit: false,
        correlation_id: `sim-${hook.id}-${String(data['id'])}-${timestamp}`,
        type: 'general',
        version: '2.0',
      };
      const status = await post(hook, JSON.stringify({ meta, data, previous }));
      this.statsValue.posts++;
      this.statsValue.byStatus[String(status)] = (this.statsValue.byStatus[String(status)] ?? 0) + 1;
      if (typeof status === 'number' && status >= 200 && status < 300) {
        this.statsValue.delivered++;
        return;
      }
      if (attempt > retries.length) {
        this.statsValue.failed++;
        return;
      }
      this.statsValue.retried++;
      await wait(retries[attempt - 1]!);
    }
  }
}

/** `previous` of a v2 delivery: the changed fields with their old values (custom fields: only the changed ones). */
function changedFields(before: Record<string, unknown>, after: Record<string, unknown>): Record<string, unknown> {
  const previous: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(after)) {
    if (key === 'update_time') continue;
    const old = before[key];
    if (key === 'custom_fields' && isObject(value) && isObject(old)) {
      const changed = Object.fromEntries(Object.entries(old).filter(([code, v]) => JSON.stringify(v) !== JSON.stringify(value[code])));
      if (Object.keys(changed).length > 0) previous[key] = changed;
    } else if (JSON.stringify(old) !== JSON.stringify(value)) previous[key] = old ?? null;
  }
  return previous;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const wait = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** One POST as Pipedrive makes it; a connection that fails or hangs counts as a failed attempt. */
async function post(hook: SimWebhook, body: string): Promise<number | 'error'> {
  const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'Pipedrive Webhooks' };
  if (hook.http_auth_user !== null)
    headers['authorization'] = `Basic ${Buffer.from(`${hook.http_auth_user}:${hook.http_auth_password ?? ''}`).toString('base64')}`;
  try {
    const res = await fetch(hook.subscription_url, {
      method: 'POST',
      headers,
      body,
      signal: AbortSignal.timeout(10_000),
    });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 'error';
  }
}

function emptyStats(): WebhookStats {
  return { events: 0, posts: 0, delivered: 0, dropped: 0, duplicated: 0, retried: 0, failed: 0, byStatus: {} };
}
