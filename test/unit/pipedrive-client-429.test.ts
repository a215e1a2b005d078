import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createPipedriveClient, PERSISTENT_429_COUNT, PERSISTENT_429_MS } from '../../shared/clients/pipedrive-client.ts';
import type { HttpClient, HttpResponse } from '../../shared/clients/http.ts';
import { ClaimHeldError, RateLimitedError } from '../../shared/domain/errors.ts';

const ok: HttpResponse = { status: 200, headers: {}, body: JSON.stringify({ success: true, data: { id: 1, name: 'Acme' } }) };
// A reset longer than a call waits out in-process: each 429 reaches the caller.
const limited: HttpResponse = {
  status: 429,
  headers: { 'x-ratelimit-reset': '3' },
  body: '{"success":false,"error":"Request over limit"}',
};

function client(answers: () => HttpResponse) {
  const clock = { ms: 1_000_000 };
  const http: HttpClient = { send: async () => answers() };
  return {
    clock,
    pipedrive: createPipedriveClient({ apiBaseUrl: 'https://acme.pipedrive.com', apiToken: 't', http, now: () => clock.ms }),
  };
}

const rejection = async (run: () => Promise<unknown>): Promise<RateLimitedError> => {
  try {
    await run();
  } catch (error) {
    assert.ok(error instanceof RateLimitedError, String(error));
    return error;
  }
  assert.fail('expected a 429');
};

test('burst 429s spread over a minute are still bursts: they close no gate', async () => {
  const { clock, pipedrive } = client(() => limited);
  for (let i = 0; i < 3; i++) {
    const burst = await rejection(() => pipedrive.get('organizations', 1));
    assert.deepEqual([burst.dailyBudgetSpent, burst.resetSeconds], [false, 3], `429 number ${i + 1}`);
    clock.ms += PERSISTENT_429_MS / 2;
  }
});

test('a 429 is a burst until nothing but 429s, and many of them, has come back for a minute: then the budget is spent', async () => {
  let answer = limited;
  const { clock, pipedrive } = client(() => answer);
  const first = await rejection(() => pipedrive.get('organizations', 1));
  assert.deepEqual([first.dailyBudgetSpent, first.resetSeconds], [false, 3]);
  for (let i = 2; i < PERSISTENT_429_COUNT; i++) {
    clock.ms += 5_000;
    assert.equal((await rejection(() => pipedrive.get('organizations', 1))).dailyBudgetSpent, false, `429 number ${i}`);
  }
  clock.ms += PERSISTENT_429_MS - 5_000 * (PERSISTENT_429_COUNT - 2) - 1_000;
  assert.equal((await rejection(() => pipedrive.get('organizations', 1))).dailyBudgetSpent, false, 'enough 429s, within the minute');
  clock.ms += 1_000;
  const persistent = await rejection(() => pipedrive.get('organizations', 1));
  assert.equal(persistent.dailyBudgetSpent, true);
  assert.match(persistent.message, /only 429s for 60 s, 11 in a row/u);

  // One answer that is not a 429 ends the run: the next 429 is a burst again.
  answer = ok;
  await pipedrive.get('organizations', 1);
  answer = limited;
  clock.ms += PERSISTENT_429_MS;
  assert.equal((await rejection(() => pipedrive.get('organizations', 1))).dailyBudgetSpent, false);
});

test('a burst 429 with a reset soon is waited out and the call sent again, a create too; the tenant pauses meanwhile', async () => {
  const clock = { ms: 1_000_000 };
  const answers = [{ ...limited, headers: { 'x-ratelimit-reset': '1' } }, ok];
  const sent: number[] = [];
  const pauses: number[] = [];
  const http: HttpClient = {
    send: async () => {
      sent.push(clock.ms);
      return answers.shift() ?? ok;
    },
  };
  const pipedrive = createPipedriveClient({
    apiBaseUrl: 'https://acme.pipedrive.com',
    apiToken: 't',
    http,
    now: () => clock.ms,
    sleep: async (ms) => void (clock.ms += ms),
    sharedPause: { until: async () => Math.max(0, ...pauses), pause: async (until) => void pauses.push(until) },
  });
  const created = await pipedrive.create('organizations', { name: 'Acme' });
  assert.equal(created.id, 1);
  assert.deepEqual(pauses, [1_001_000], 'the other writers of the tenant wait for the reset too');
  assert.deepEqual(sent, [1_000_000, 1_001_000], 'sent again once the reset had passed, not before');
});

test('a create or a note whose wait for a burst slot outlasts the time it may take to be sent is not sent: a deferral', async () => {
  const clock = { ms: 1_000_000 };
  const sent: string[] = [];
  const http: HttpClient = {
    send: async (req) => {
      sent.push(req.method);
      return { status: 200, headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '3' }, body: ok.body };
    },
  };
  const sleep = async (ms: number) => {
    clock.ms += ms;
  };
  const pipedrive = createPipedriveClient({ apiBaseUrl: 'https://acme.pipedrive.com', apiToken: 't', http, now: () => clock.ms, sleep });
  await pipedrive.get('organizations', 1);
  await assert.rejects(
    pipedrive.create('organizations', { name: 'Acme' }, { sendWithinMs: 1_000 }),
    (e) => e instanceof ClaimHeldError && /not sent/u.test(e.message),
  );
  assert.deepEqual(sent, ['GET'], 'the POST never went out');
  assert.equal((await pipedrive.create('organizations', { name: 'Acme' }, { sendWithinMs: 10_000 })).id, 1, 'in time, it is sent');
  await assert.rejects(
    pipedrive.addNote({ dealId: 1, content: '<p>Why</p>' }, { sendWithinMs: 1_000 }),
    (e) => e instanceof ClaimHeldError && /POST \/api\/v1\/notes: not sent/u.test(e.message),
  );
  assert.deepEqual(sent, ['GET', 'POST'], 'nor did the note');
});

/** A client at `share` whose every answer carries `limits` and the daily budget left now (`state.remaining`). */
function budgetedClient(limits: Record<string, string>, share: number, now: () => number) {
  const state = { remaining: 0, sent: 0 };
  const http: HttpClient = {
    send: async () => {
      state.sent++;
      return { ...ok, headers: { ...limits, 'x-daily-ratelimit-remaining': String(state.remaining) } };
    },
  };
  const pipedrive = createPipedriveClient({ apiBaseUrl: 'https://acme.pipedrive.com', apiToken: 't', http, now, dailyBudgetShare: share });
  return { pipedrive, state };
}

/**
 * Calls on while the answers show `above` left, then one answer shows `at` left: that call goes, the next is not sent.
 * Answers the refusal.
 */
async function spendToCap(client: ReturnType<typeof budgetedClient>, above: number, at: number, why: string) {
  const { pipedrive, state } = client;
  state.remaining = above;
  await pipedrive.get('organizations', 1);
  await pipedrive.get('organizations', 1);
  assert.equal(state.sent, 2, `${above} left: ${why}`);
  state.remaining = at;
  await pipedrive.get('organizations', 1);
  const gated = await rejection(() => pipedrive.get('organizations', 1));
  assert.equal(state.sent, 3, `the call after the answer showing ${at} left is not sent`);
  assert.equal(gated.dailyBudgetSpent, true);
  return gated;
}

test("the connector's share of the daily budget: with only the other apps' part left, nothing is sent until the reset", async () => {
  const clock = { ms: 1_000_000 };
  const client = budgetedClient({ 'x-daily-ratelimit-limit': '1000', 'x-daily-ratelimit-reset': '3600' }, 0.6, () => clock.ms);
  const gated = await spendToCap(client, 401, 400, 'above 40% left, the connector still has its share');
  assert.equal(gated.resetSeconds, 3600);
  assert.match(gated.message, /60% share of the company's daily token budget is spent/u);
  clock.ms += 3_600_000;
  client.state.remaining = 1000;
  await client.pipedrive.get('organizations', 1);
  assert.equal(client.state.sent, 4, 'after the reset the calls go again');
});

test('a share keeps one burst window of writes in reserve: calls in flight elsewhere stay within it', async () => {
  const limits = {
    'x-daily-ratelimit-limit': '2000',
    'x-daily-ratelimit-reset': '60',
    'x-ratelimit-limit': '40',
    'x-ratelimit-remaining': '39',
  };
  await spendToCap(
    budgetedClient(limits, 0.7, () => 1_000),
    801,
    800,
    'the other apps keep 600 of 2000 and the reserve is 40 writes (200)',
  );
});

test('without a share the whole daily budget may be spent: the gate closes only at 0 left', async () => {
  let remaining = 1;
  const http: HttpClient = {
    send: async () => ({ ...ok, headers: { 'x-daily-ratelimit-limit': '1000', 'x-daily-ratelimit-remaining': String(remaining) } }),
  };
  const pipedrive = createPipedriveClient({ apiBaseUrl: 'https://acme.pipedrive.com', apiToken: 't', http, now: () => 1_000 });
  await pipedrive.get('organizations', 1);
  await pipedrive.get('organizations', 1);
  remaining = 0;
  await pipedrive.get('organizations', 1);
  assert.equal((await rejection(() => pipedrive.get('organizations', 1))).dailyBudgetSpent, true);
});
