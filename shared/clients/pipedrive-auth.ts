import { randomUUID } from 'node:crypto';
import * as z from 'zod';
import { allowLoopbackHttp } from '../config/tenant.ts';
import { apiDomainProblem } from '../config/tenant-url.ts';
import { RetryLaterError, TenantParkedError } from '../domain/errors.ts';
import type { Cipher, OAuthTokenStore } from '../ports/index.ts';
import { errorText, parseJsonBody, sleep as realSleep, type HttpClient, type Sleep } from './http.ts';

/** Where and how one Pipedrive call goes; `generation` tells the provider which token a 401 refused. */
export interface PipedriveCredentials {
  baseUrl: string;
  headers: Record<string, string>;
  generation: number;
}

/** How a Pipedrive client authenticates: the API token, or OAuth2 with refresh. */
export interface PipedriveAuth {
  credentials(): Promise<PipedriveCredentials>;
  /** Pipedrive answered 401 to these credentials: true when fresh ones are worth one more try. */
  refused(used: PipedriveCredentials): Promise<boolean>;
}

export { TenantParkedError };

export function apiTokenAuth(apiBaseUrl: string, apiToken: string): PipedriveAuth {
  const credentials: PipedriveCredentials = { baseUrl: apiBaseUrl, headers: { 'x-api-token': apiToken }, generation: 0 };
  return { credentials: async () => credentials, refused: async () => false };
}

/** What we keep of an authorisation, encrypted under the tenant's `pipedrive` context. */
const oauthTokensSchema = z.object({
  accessToken: z.string().min(1),
  refreshToken: z.string().min(1),
  /** ms epoch */
  expiresAt: z.number(),
  /** how long the access token lived when issued, for the refresh margin */
  lifetimeMs: z.number().positive(),
  apiDomain: z.string().min(1),
});
export type OAuthTokens = z.infer<typeof oauthTokensSchema>;

const tokenResponseSchema = z.looseObject({
  access_token: z.string().min(1),
  refresh_token: z.string().min(1).optional(),
  expires_in: z.number().positive(),
  api_domain: z.string().min(1),
});

export interface OAuthClient {
  tenantId: string;
  clientId: string;
  clientSecret: string;
  tokenUrl: string;
  http: HttpClient;
  now?: () => number;
}

/**
 * One call to the token endpoint: form-encoded, HTTP Basic client authentication. `invalid_grant` (and
 * `invalid_client`) park the tenant: only a person can fix them. The api_domain that comes back receives
 * every token from then on: it must be a Pipedrive company's https origin (apiDomainProblem) before any call goes there.
 */
async function tokenRequest(client: OAuthClient, form: Record<string, string>, previous?: OAuthTokens): Promise<OAuthTokens> {
  const now = client.now ?? Date.now;
  const res = await client.http.send({
    method: 'POST',
    url: client.tokenUrl,
    headers: {
      authorization: `Basic ${Buffer.from(`${client.clientId}:${client.clientSecret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    },
    body: new URLSearchParams(form).toString(),
  });
  const where = `Pipedrive OAuth ${form.grant_type} for tenant ${client.tenantId}`;
  if (res.status === 400 || res.status === 401) {
    const code = z.looseObject({ error: z.string() }).safeParse(safeJson(res.body));
    if (code.success && (code.data.error === 'invalid_grant' || code.data.error === 'invalid_client')) {
      throw new TenantParkedError(
        client.tenantId,
        `${where}: ${code.data.error}; a person must re-authorise with "connector authorize ${client.tenantId}"`,
      );
    }
  }
  if (res.status >= 500 || res.status === 429) throw new RetryLaterError(`${where}: HTTP ${res.status} (${errorText(res.body)})`, 30);
  if (res.status !== 200)
    throw new TenantParkedError(
      client.tenantId,
      `${where}: HTTP ${res.status} (${errorText(res.body)}); check the app's client id and secret`,
    );
  const body = parseJsonBody(res, tokenResponseSchema, where);
  const apiDomain = body.api_domain.replace(/\/+$/u, '');
  const problem = apiDomainProblem(apiDomain, allowLoopbackHttp());
  if (problem) throw new TenantParkedError(client.tenantId, `${where}: the api_domain ${JSON.stringify(apiDomain)} ${problem}`);
  const refreshToken = body.refresh_token ?? previous?.refreshToken;
  if (!refreshToken) throw new RetryLaterError(`${where}: no refresh token in the answer`);
  return {
    accessToken: body.access_token,
    refreshToken,
    expiresAt: now() + body.expires_in * 1000,
    lifetimeMs: body.expires_in * 1000,
    apiDomain,
  };
}

/** The first tokens, from the code a person's authorisation redirected with. */
export function exchangeAuthorizationCode(client: OAuthClient, code: string, redirectUri: string): Promise<OAuthTokens> {
  return tokenRequest(client, { grant_type: 'authorization_code', code, redirect_uri: redirectUri });
}

export function sealTokens(cipher: Cipher, tenantId: string, tokens: OAuthTokens): Promise<string> {
  return cipher.encrypt(JSON.stringify(tokens), { tenantId, system: 'pipedrive' });
}

/** Stored tokens, with their api_domain held to today's rules (tokens stored under older rules are refused too). */
async function openTokens(cipher: Cipher, tenantId: string, ciphertext: string): Promise<OAuthTokens> {
  const tokens = oauthTokensSchema.parse(JSON.parse(await cipher.decrypt(ciphertext, { tenantId, system: 'pipedrive' })));
  const problem = apiDomainProblem(tokens.apiDomain, allowLoopbackHttp());
  if (problem)
    throw new TenantParkedError(
      tenantId,
      `the stored api_domain ${JSON.stringify(tokens.apiDomain)} ${problem}; run "connector authorize ${tenantId}"`,
    );
  return tokens;
}

/** Refresh this long before expiry: a minute, or a quarter of a short-lived token's life. */
const refreshMargin = (t: OAuthTokens) => Math.min(60_000, t.lifetimeMs / 4);
/** A refresh that takes longer than this is presumed dead; another writer may take over. */
const REFRESH_LEASE_MS = 15_000;
const WAIT_STEP_MS = 100;

/**
 * OAuth2 for one tenant, shared by every writer through the token store. Calls go to the stored
 * api_domain with a Bearer token. A token about to expire, or refused with a 401 (once per 401), is
 * refreshed by exactly one writer: the one whose conditional write takes the refresh lease on the
 * stored version. The others wait for the next version and read it. The new token is saved on the
 * version it was refreshed from, so it is lost only if a newer one was already stored.
 */
export function oauthAuth(
  options: OAuthClient & {
    store: OAuthTokenStore;
    cipher: Cipher;
    onRefresh?: () => void;
    /** How it waits for another writer's refresh (a timer unless a test passes its own, with a matching `now`). */
    sleep?: Sleep;
  },
): PipedriveAuth {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? realSleep;
  const { tenantId, store, cipher } = options;
  let cached: { version: number; tokens: OAuthTokens } | undefined;
  let pending: Promise<{ version: number; tokens: OAuthTokens }> | undefined;

  const toCredentials = (c: { version: number; tokens: OAuthTokens }): PipedriveCredentials => ({
    baseUrl: c.tokens.apiDomain,
    headers: { authorization: `Bearer ${c.tokens.accessToken}` },
    generation: c.version,
  });

  /** A token that is neither expiring nor older than `refusedVersion`; refreshing it if it must be. */
  async function usable(refusedVersion: number | undefined): Promise<{ version: number; tokens: OAuthTokens }> {
    const deadline = now() + 2 * REFRESH_LEASE_MS;
    for (;;) {
      const stored = await store.get(tenantId);
      if (!stored)
        throw new TenantParkedError(
          tenantId,
          `no Pipedrive OAuth tokens are stored for tenant ${tenantId}; run "connector authorize ${tenantId}"`,
        );
      const current =
        cached?.version === stored.version
          ? cached
          : { version: stored.version, tokens: await openTokens(cipher, tenantId, stored.ciphertext) };
      const stale =
        (refusedVersion !== undefined && current.version <= refusedVersion) ||
        current.tokens.expiresAt - now() < refreshMargin(current.tokens);
      if (!stale) return current;
      const owner = randomUUID();
      if (await store.beginRefresh(tenantId, current.version, owner, REFRESH_LEASE_MS, now())) {
        const tokens = await tokenRequest(
          options,
          { grant_type: 'refresh_token', refresh_token: current.tokens.refreshToken },
          current.tokens,
        );
        options.onRefresh?.();
        if (await store.save(tenantId, current.version, await sealTokens(cipher, tenantId, tokens)))
          return { version: current.version + 1, tokens };
        continue; // a newer token was stored meanwhile (an authorisation): use that one
      }
      if (now() > deadline)
        throw new RetryLaterError(`the Pipedrive token refresh of tenant ${tenantId} by another writer did not finish in time`, 5);
      await sleep(WAIT_STEP_MS);
    }
  }

  /** One lookup per container at a time: concurrent calls share it. */
  function refreshed(refusedVersion: number | undefined) {
    pending ??= usable(refusedVersion)
      .then((c) => (cached = c))
      .finally(() => {
        pending = undefined;
      });
    return pending;
  }

  return {
    async credentials() {
      if (cached && cached.tokens.expiresAt - now() >= refreshMargin(cached.tokens)) return toCredentials(cached);
      return toCredentials(await refreshed(undefined));
    },
    async refused(used) {
      // A lookup already under way may have been for expiry only: make sure the refused token is replaced.
      if ((await refreshed(used.generation)).version <= used.generation) await refreshed(used.generation);
      return true;
    },
  };
}

function safeJson(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}
