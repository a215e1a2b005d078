import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LocalCipher } from '../../shared/adapters/local/local-cipher.ts';
import { MemoryOAuthTokenStore } from '../../shared/adapters/memory/index.ts';
import type { HttpClient, HttpRequest, HttpResponse } from '../../shared/clients/http.ts';
import { oauthAuth, sealTokens, TenantParkedError, type OAuthTokens } from '../../shared/clients/pipedrive-auth.ts';
import { createPipedriveClient } from '../../shared/clients/pipedrive-client.ts';
import { RetryLaterError } from '../../shared/domain/errors.ts';
import type { OAuthTokenStore } from '../../shared/ports/index.ts';

const TENANT = 'acme';
const CLIENT_SECRET = 'client-secret-value-xyz';
const REFRESH_TOKEN = 'refresh-token-value-abc';

/** A token endpoint and an API in one fake: answers token requests from `tokenAnswer`, API calls from `apiAnswer`. */
function fakeHttp(
  options: { tokenAnswer?: (req: HttpRequest) => HttpResponse; apiAnswer?: (req: HttpRequest) => HttpResponse; delayMs?: number } = {},
) {
  const requests: HttpRequest[] = [];
  let issued = 0;
  const http: HttpClient = {
    async send(req) {
      requests.push(req);
      if (options.delayMs) await new Promise((r) => setTimeout(r, options.delayMs));
      if (req.url.endsWith('/oauth/token')) {
        if (options.tokenAnswer) return options.tokenAnswer(req);
        issued++;
        return json(200, {
          access_token: `access-${issued}`,
          refresh_token: REFRESH_TOKEN,
          expires_in: 3600,
          api_domain: 'https://acme.pipedrive.com',
          token_type: 'Bearer',
        });
      }
      return options.apiAnswer?.(req) ?? json(200, { success: true, data: [], additional_data: { next_cursor: null } });
    },
  };
  return { http, requests, tokenRequests: () => requests.filter((r) => r.url.endsWith('/oauth/token')) };
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): HttpResponse {
  return { status, headers, body: JSON.stringify(body) };
}

/** The store every writer shares, in memory (test/contract/ports.test.ts holds it to the DynamoDB adapter's contract). */
async function storeWith(cipher: LocalCipher, tokens: Partial<OAuthTokens> & { expiresAt: number }): Promise<MemoryOAuthTokenStore> {
  const store = new MemoryOAuthTokenStore();
  await store.save(
    TENANT,
    undefined,
    await sealTokens(cipher, TENANT, {
      accessToken: 'access-0',
      refreshToken: REFRESH_TOKEN,
      lifetimeMs: 3_600_000,
      apiDomain: 'https://acme.pipedrive.com',
      ...tokens,
    }),
  );
  return store;
}

const stored = (store: OAuthTokenStore) => store.get(TENANT);

/** A clock that only sleeps move: waiting out another writer's refresh lease takes no real time. */
function fakeClock(ms: number) {
  return {
    now: () => ms,
    sleep: async (wait: number) => {
      ms += wait;
    },
  };
}

function provider(store: OAuthTokenStore, cipher: LocalCipher, http: HttpClient, now: () => number, sleep?: (ms: number) => Promise<void>) {
  return oauthAuth({
    tenantId: TENANT,
    clientId: 'app-id',
    clientSecret: CLIENT_SECRET,
    tokenUrl: 'https://oauth.pipedrive.com/oauth/token',
    http,
    now,
    ...(sleep && { sleep }),
    store,
    cipher,
  });
}

describe('Pipedrive OAuth token provider', () => {
  test('a token with more than a minute left is used as stored: Bearer to its api_domain, no refresh', async () => {
    const cipher = new LocalCipher();
    const now = 1_000_000;
    const store = await storeWith(cipher, { expiresAt: now + 10 * 60_000 });
    const fake = fakeHttp();
    const creds = await provider(store, cipher, fake.http, () => now).credentials();
    assert.equal(creds.baseUrl, 'https://acme.pipedrive.com');
    assert.deepEqual(creds.headers, { authorization: 'Bearer access-0' });
    assert.equal(fake.tokenRequests().length, 0);
  });

  const refreshNearExpiry =
    'a token about to expire is refreshed: form-encoded, HTTP Basic client auth, ' +
    'grant_type=refresh_token; the new one is stored encrypted';
  test(refreshNearExpiry, async () => {
    const cipher = new LocalCipher();
    const now = 1_000_000;
    const store = await storeWith(cipher, { expiresAt: now + 30_000 });
    const fake = fakeHttp();
    const creds = await provider(store, cipher, fake.http, () => now).credentials();
    assert.deepEqual(creds.headers, { authorization: 'Bearer access-1' });
    const [req] = fake.tokenRequests();
    assert.equal(req?.method, 'POST');
    assert.equal(req?.headers?.['content-type'], 'application/x-www-form-urlencoded');
    assert.equal(req?.headers?.authorization, `Basic ${Buffer.from(`app-id:${CLIENT_SECRET}`).toString('base64')}`);
    assert.deepEqual(Object.fromEntries(new URLSearchParams(req?.body)), { grant_type: 'refresh_token', refresh_token: REFRESH_TOKEN });
    const item = await stored(store);
    assert.equal(item?.version, 2);
    assert.ok(!item?.ciphertext.includes('access-1') && !item?.ciphertext.includes(REFRESH_TOKEN), 'stored as ciphertext');
    assert.equal(item?.refreshingUntil, undefined, 'the refresh lease ends with the save');
  });

  test('a 401 refreshes once and the call is retried once; a second 401 is not a loop', async () => {
    const cipher = new LocalCipher();
    const store = await storeWith(cipher, { expiresAt: Date.now() + 3_600_000 });
    let refuse = 1;
    const fake = fakeHttp({
      apiAnswer: () =>
        refuse-- > 0
          ? json(401, { success: false, error: 'unauthorized access', errorCode: 401 })
          : json(200, { success: true, data: [], additional_data: { next_cursor: null } }),
    });
    const client = createPipedriveClient({ auth: provider(store, cipher, fake.http, Date.now), http: fake.http });
    await client.listFields('organization');
    const api = fake.requests.filter((r) => !r.url.endsWith('/oauth/token'));
    assert.deepEqual(
      api.map((r) => r.headers?.authorization),
      ['Bearer access-0', 'Bearer access-1'],
    );
    assert.equal(fake.tokenRequests().length, 1);

    refuse = 10;
    await assert.rejects(client.listFields('organization'), (e: unknown) => e instanceof RetryLaterError && /HTTP 401/u.test(e.message));
    assert.equal(fake.tokenRequests().length, 2, 'one more refresh for the new 401, not one per retry');
  });

  test('ten writers (ten containers) on an expired token: exactly one refresh; the others read the new token', async () => {
    const cipher = new LocalCipher();
    const store = await storeWith(cipher, { expiresAt: Date.now() - 1000 });
    const fake = fakeHttp({ delayMs: 50 });
    const creds = await Promise.all(Array.from({ length: 10 }, () => provider(store, cipher, fake.http, Date.now).credentials()));
    assert.equal(fake.tokenRequests().length, 1);
    assert.deepEqual(new Set(creds.map((c) => c.headers.authorization)), new Set(['Bearer access-1']));
    assert.equal((await stored(store))?.version, 2);
  });

  test('invalid_grant parks the tenant with a reason that names the command and no secret', async () => {
    const cipher = new LocalCipher();
    const store = await storeWith(cipher, { expiresAt: 0 });
    const fake = fakeHttp({ tokenAnswer: () => json(400, { error: 'invalid_grant', error_description: 'Invalid refresh token' }) });
    const error = await provider(store, cipher, fake.http, Date.now)
      .credentials()
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    assert.ok(error instanceof TenantParkedError);
    assert.equal(error.tenantId, TENANT);
    assert.match(error.message, /invalid_grant.*connector authorize acme/u);
    for (const secret of [CLIENT_SECRET, REFRESH_TOKEN, 'access-0'])
      assert.ok(!error.message.includes(secret), `no ${secret} in the message`);
    assert.equal((await stored(store))?.version, 1, 'the stored token is left as it was');
  });

  test('no stored tokens parks the tenant (it was never authorised)', async () => {
    await assert.rejects(
      provider(new MemoryOAuthTokenStore(), new LocalCipher(), fakeHttp().http, Date.now).credentials(),
      TenantParkedError,
    );
  });

  test('an api_domain that breaks the tenant URL rules is never called', async () => {
    const cipher = new LocalCipher();
    const store = await storeWith(cipher, { expiresAt: 0 });
    // Each refused refresh keeps its 15-second lease; the next provider waits it out on this clock, not in real time.
    const clock = fakeClock(1_000_000);
    for (const apiDomain of [
      'http://acme.pipedrive.com',
      'https://10.0.0.7',
      'https://user:pw@acme.pipedrive.com',
      'https://169.254.169.254',
      // Not a Pipedrive company's https origin: the tokens would go to someone else.
      'https://evil.example',
      'https://acme.pipedrive.com.evil.example',
      'https://evilpipedrive.com',
      'https://pipedrive.com',
      'https://acme.pipedrive.com/api',
      'https://acme.pipedrive.com/?x=1',
      'https://acme.pipedrive.com/#',
      'https://acme.pipedrive.com:8443',
      'https://8.8.8.8',
    ]) {
      const fake = fakeHttp({
        tokenAnswer: () => json(200, { access_token: 'a', refresh_token: 'r', expires_in: 3600, api_domain: apiDomain }),
      });
      await assert.rejects(
        provider(store, cipher, fake.http, clock.now, clock.sleep).credentials(),
        (e: unknown) => e instanceof TenantParkedError && /api_domain/u.test(e.message),
        apiDomain,
      );
    }
  });

  test("a company's api_domain is accepted, with or without a trailing slash", async () => {
    for (const apiDomain of ['https://acme.pipedrive.com', 'https://other-co.pipedrive.com/', 'https://ACME.Pipedrive.com']) {
      const cipher = new LocalCipher();
      const store = await storeWith(cipher, { expiresAt: 0 });
      const fake = fakeHttp({
        tokenAnswer: () => json(200, { access_token: 'a', refresh_token: 'r', expires_in: 3600, api_domain: apiDomain }),
      });
      const credentials = await provider(store, cipher, fake.http, Date.now).credentials();
      assert.equal(credentials.baseUrl.toLowerCase(), apiDomain.replace(/\/$/u, '').toLowerCase());
    }
  });

  test('a token endpoint that fails (5xx) is "try later", not parked', async () => {
    const cipher = new LocalCipher();
    const store = await storeWith(cipher, { expiresAt: 0 });
    const fake = fakeHttp({ tokenAnswer: () => json(503, { error: 'unavailable' }) });
    await assert.rejects(
      provider(store, cipher, fake.http, Date.now).credentials(),
      (e: unknown) => e instanceof RetryLaterError && !(e instanceof TenantParkedError),
    );
  });
});
