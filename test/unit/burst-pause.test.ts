import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MemoryBurstPauses } from '../../shared/adapters/memory/memory-burst-pauses.ts';
import { createPipedriveClient, SHARED_PAUSE_FRESH_MS } from '../../shared/clients/pipedrive-client.ts';
import type { HttpClient, HttpResponse } from '../../shared/clients/http.ts';
import { RateLimitedError } from '../../shared/domain/errors.ts';

/**
 * Issue 19, point 4: a 429 stops the tenant, not the request. Each client here is one Lambda container's
 * (its own pacer); the tenant's wait is shared through BurstPauses as DynamoDB shares it between containers.
 */
const T0 = 5_000_000;
const ok = (remaining: number): HttpResponse => ({
  status: 200,
  headers: { 'x-ratelimit-limit': '100', 'x-ratelimit-remaining': String(remaining), 'x-ratelimit-reset': '2' },
  body: JSON.stringify({ success: true, data: { id: 1, name: 'Acme' } }),
});
const refused = (resetSeconds: number): HttpResponse => ({
  status: 429,
  headers: { 'x-ratelimit-limit': '100', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(resetSeconds) },
  body: '{"success":false,"error":"Request over limit"}',
});

function tenantWorld() {
  const clock = {
    ms: T0,
    now() {
      return this.ms;
    },
    // Waiting passes fake time: the test sees when each call would have gone out, never how long it took.
    async sleep(ms: number) {
      this.ms += ms;
    },
  };
  const pauses = new MemoryBurstPauses();
  let reads = 0;
  const shared = {
    until: () => {
      reads++;
      return pauses.until('acme');
    },
    pause: (untilMs: number) => pauses.pause('acme', untilMs),
  };
  /** When each container's calls reached Pipedrive, on the fake clock. */
  const sent: Record<string, number[]> = {};
  const container = (name: string, answer: () => HttpResponse, withShared = true) => {
    const http: HttpClient = {
      send: async () => {
        (sent[name] ??= []).push(clock.ms);
        return answer();
      },
    };
    return createPipedriveClient({
      apiBaseUrl: 'https://acme.pipedrive.com',
      apiToken: 't',
      http,
      now: () => clock.now(),
      sleep: (ms) => clock.sleep(ms),
      ...(withShared && { sharedPause: shared }),
    });
  };
  return { clock, sent, container, pauses, reads: () => reads };
}

const refusal = async (run: () => Promise<unknown>): Promise<RateLimitedError> => {
  try {
    await run();
  } catch (error) {
    assert.ok(error instanceof RateLimitedError, String(error));
    return error;
  }
  assert.fail('expected a RateLimitedError');
};

describe('a 429 stops the tenant in every container', () => {
  test('after one container is refused, the others call no earlier than the reset it named', async () => {
    const w = tenantWorld();
    // A reset longer than a call waits out in-process (a shorter one: the refused call itself waits and goes again).
    const a = w.container('a', () => refused(3));
    const b = w.container('b', () => ok(50));
    await refusal(() => a.get('organizations', 1));
    const pausedUntil = T0 + 3_000;
    assert.equal(await w.pauses.until('acme'), pausedUntil);
    w.clock.ms += 1_000;
    await Promise.all([b.get('organizations', 1), b.update('organizations', 1, { name: 'x' }), b.get('persons', 2)]);
    assert.equal(w.sent.b?.length, 3);
    for (const at of w.sent.b ?? []) assert.ok(at >= pausedUntil, `a call went out at +${at - T0} ms, before the reset at +3000 ms`);
  });

  test('without the shared wait another container would have called inside the window (what the test guards)', async () => {
    const w = tenantWorld();
    await refusal(() => w.container('a', () => refused(3), false).get('organizations', 1));
    w.clock.ms += 100;
    await w.container('b', () => ok(50), false).get('organizations', 1);
    assert.ok((w.sent.b?.[0] ?? 0) < T0 + 3_000);
  });

  test('a reset further off than is worth waiting in-process sends nothing: the record goes back to its queue', async () => {
    const w = tenantWorld();
    await refusal(() => w.container('a', () => refused(30)).get('organizations', 1));
    const b = w.container('b', () => ok(50));
    const error = await refusal(() => b.update('organizations', 1, { name: 'x' }));
    assert.ok(error.resetSeconds >= 29);
    assert.equal(w.sent.b, undefined);
  });

  test('a container whose fresh figures show the window half empty does not ask for the shared wait', async () => {
    const w = tenantWorld();
    const b = w.container('b', () => ok(90));
    await b.get('organizations', 1);
    const afterFirst = w.reads();
    for (let i = 0; i < 5; i++) await b.get('organizations', 1);
    assert.equal(w.reads(), afterFirst);
    // A window nearly full: a call asks again once the last read is older than SHARED_PAUSE_FRESH_MS; those in
    // between, and concurrent ones, share it.
    // (Without a limit in the answers its pacer cannot tell its share of the window and lets it call at once.)
    const { 'x-ratelimit-limit': _limit, ...noLimit } = ok(10).headers;
    const crowded = w.container('c', () => ({ ...ok(10), headers: noLimit }));
    await crowded.get('organizations', 1);
    const before = w.reads();
    w.clock.ms += SHARED_PAUSE_FRESH_MS + 1;
    await crowded.get('organizations', 1);
    await Promise.all([crowded.get('organizations', 1), crowded.get('persons', 2)]);
    assert.equal(w.reads(), before + 1);
    w.clock.ms += SHARED_PAUSE_FRESH_MS + 1;
    await crowded.get('organizations', 1);
    assert.equal(w.reads(), before + 2);
  });

  test('a 429 elsewhere reaches a container that just read the wait within SHARED_PAUSE_FRESH_MS, before its reset', async () => {
    const w = tenantWorld();
    let answer = ok(5);
    const a = w.container('a', () => answer);
    const b = w.container('b', () => ok(5));
    await b.get('organizations', 1);
    await b.get('organizations', 1);
    answer = refused(2);
    await refusal(() => a.get('organizations', 1));
    w.clock.ms += SHARED_PAUSE_FRESH_MS + 1;
    await b.get('organizations', 1);
    const last = w.sent.b?.at(-1) ?? 0;
    assert.ok(last >= T0 + 2_000, `b called at +${last - T0} ms, inside the reset a's 429 named`);
  });

  test('the refused container waits out its own 429 without asking again: it is its latest read', async () => {
    const w = tenantWorld();
    let answer = refused(2);
    const a = w.container('a', () => answer);
    await refusal(() => a.get('organizations', 1));
    const reads = w.reads();
    answer = ok(5);
    w.clock.ms += SHARED_PAUSE_FRESH_MS + 1;
    await a.get('organizations', 1);
    assert.ok((w.sent.a?.at(-1) ?? 0) >= T0 + 2_000);
    assert.equal(w.reads(), reads);
  });
});
