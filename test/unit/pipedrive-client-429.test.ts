import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createPipedriveClient, PERSISTENT_429_MS } from '../../shared/clients/pipedrive-client.ts';
import type { HttpClient, HttpResponse } from '../../shared/clients/http.ts';
import { RateLimitedError } from '../../shared/domain/errors.ts';

const ok: HttpResponse = { status: 200, headers: {}, body: JSON.stringify({ success: true, data: { id: 1, name: 'Acme' } }) };
const limited: HttpResponse = {
  status: 429,
  headers: { 'x-ratelimit-reset': '2' },
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

test('a 429 is a burst until nothing but 429s has come back for a minute: then the daily budget is taken as spent', async () => {
  let answer = limited;
  const { clock, pipedrive } = client(() => answer);
  const first = await rejection(() => pipedrive.get('organizations', 1));
  assert.deepEqual([first.dailyBudgetSpent, first.resetSeconds], [false, 2]);
  clock.ms += PERSISTENT_429_MS - 1_000;
  assert.equal((await rejection(() => pipedrive.get('organizations', 1))).dailyBudgetSpent, false, 'still within the minute');
  clock.ms += 1_000;
  const persistent = await rejection(() => pipedrive.get('organizations', 1));
  assert.equal(persistent.dailyBudgetSpent, true);
  assert.match(persistent.message, /only 429s for 60 s/u);

  // One answer that is not a 429 ends the run: the next 429 is a burst again.
  answer = ok;
  await pipedrive.get('organizations', 1);
  answer = limited;
  clock.ms += PERSISTENT_429_MS;
  assert.equal((await rejection(() => pipedrive.get('organizations', 1))).dailyBudgetSpent, false);
});
