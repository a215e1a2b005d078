import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { startPipedriveSim, type PipedriveSim, type PipedriveSimOptions } from '../../scripts/simulators/pipedrive/index.ts';
import { withPipedriveSim } from './with-pipedrive-sim.ts';

const TOKEN = 'api-token-1';
const CLIENT = { clientId: 'app', clientSecret: 'app-secret' };
const REDIRECT = 'https://example.com/cb';
const BASIC = `Basic ${Buffer.from('app:app-secret').toString('base64')}`;

const withSim = (options: Partial<PipedriveSimOptions>, fn: (sim: PipedriveSim) => Promise<void>) =>
  withPipedriveSim({ apiToken: TOKEN, oauth: CLIENT, ...options }, fn);

async function token(
  sim: PipedriveSim,
  form: Record<string, string>,
  authorization = BASIC,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${sim.url}/oauth/token`, {
    method: 'POST',
    headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function api(sim: PipedriveSim, headers: Record<string, string>): Promise<number> {
  return (await fetch(`${sim.url}/api/v2/organizations?limit=1`, { headers })).status;
}

describe('Pipedrive simulator: OAuth', () => {
  const codeThenRefresh =
    'authorization_code then refresh_token: Basic client auth, api_domain, a non-rotating refresh token, Bearer on the API';
  test(codeThenRefresh, async () => {
    await withSim({}, async (sim) => {
      const first = await token(sim, { grant_type: 'authorization_code', code: sim.oauth!.issueCode(REDIRECT), redirect_uri: REDIRECT });
      assert.equal(first.status, 200);
      assert.equal(first.json.api_domain, sim.url);
      assert.equal(first.json.token_type, 'Bearer');
      assert.equal(await api(sim, { authorization: `Bearer ${String(first.json.access_token)}` }), 200);
      const second = await token(sim, { grant_type: 'refresh_token', refresh_token: String(first.json.refresh_token) });
      assert.equal(second.status, 200);
      assert.equal(second.json.refresh_token, first.json.refresh_token, 'refresh tokens do not rotate');
      assert.notEqual(second.json.access_token, first.json.access_token);
      assert.deepEqual(sim.oauth!.stats(), { refreshes: 1, codeExchanges: 1, invalidGrants: 0 });
    });
  });

  const refusedGrants =
    'wrong client credentials: invalid_client; a used, unknown or mismatched code and a revoked refresh token: invalid_grant';
  test(refusedGrants, async () => {
    await withSim({}, async (sim) => {
      assert.equal(
        (await token(sim, { grant_type: 'refresh_token', refresh_token: 'x' }, `Basic ${Buffer.from('app:wrong').toString('base64')}`)).json
          .error,
        'invalid_client',
      );
      const code = sim.oauth!.issueCode(REDIRECT);
      assert.equal(
        (await token(sim, { grant_type: 'authorization_code', code, redirect_uri: 'https://evil.example.com/cb' })).json.error,
        'invalid_grant',
      );
      assert.equal(
        (await token(sim, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT })).json.error,
        'invalid_grant',
        'a code is good once',
      );
      const ok = await token(sim, { grant_type: 'authorization_code', code: sim.oauth!.issueCode(REDIRECT), redirect_uri: REDIRECT });
      sim.oauth!.revokeRefreshTokens();
      const revoked = await token(sim, { grant_type: 'refresh_token', refresh_token: String(ok.json.refresh_token) });
      assert.equal(revoked.status, 400);
      assert.equal(revoked.json.error, 'invalid_grant');
    });
  });

  test('access tokens expire after the configured TTL: 401 from then on', async () => {
    let now = Date.parse('2026-11-26T10:00:00Z');
    await withSim({ now: () => now, oauth: { ...CLIENT, accessTokenTtlSeconds: 20 } }, async (sim) => {
      const t = await token(sim, { grant_type: 'authorization_code', code: sim.oauth!.issueCode(REDIRECT), redirect_uri: REDIRECT });
      assert.equal(t.json.expires_in, 20);
      const bearer = { authorization: `Bearer ${String(t.json.access_token)}` };
      now += 19_000;
      assert.equal(await api(sim, bearer), 200);
      now += 2_000;
      assert.equal(await api(sim, bearer), 401);
      assert.equal(await api(sim, { authorization: 'Bearer made-up' }), 401);
    });
  });

  test('burst limits per plan and auth type: lite allows 80 per 2 s with OAuth, 20 with the API token', async () => {
    const now = Date.parse('2026-11-26T10:00:00Z');
    for (const [oauth, limit] of [
      [true, 80],
      [false, 20],
    ] as const) {
      const sim = await startPipedriveSim({ apiToken: TOKEN, plan: 'lite', now: () => now, ...(oauth && { oauth: CLIENT }) });
      try {
        const grant = async () =>
          token(sim, { grant_type: 'authorization_code', code: sim.oauth!.issueCode(REDIRECT), redirect_uri: REDIRECT });
        const headers: Record<string, string> = oauth
          ? { authorization: `Bearer ${String((await grant()).json.access_token)}` }
          : { 'x-api-token': TOKEN };
        const statuses = await Promise.all(Array.from({ length: limit + 1 }, () => api(sim, headers)));
        assert.equal(statuses.filter((s) => s === 200).length, limit, oauth ? 'oauth' : 'token');
        assert.equal(statuses.filter((s) => s === 429).length, 1);
      } finally {
        await sim.close();
      }
    }
  });
});
