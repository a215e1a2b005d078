import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { parseTenantConfig, PIPEDRIVE_OAUTH_TOKEN_URL, type StoredTenant } from '../../shared/config/tenant.ts';
import { registerTenant } from '../../shared/operations/register-tenant.ts';
import type { Cipher, TenantStore } from '../../shared/ports/index.ts';

const ENV = 'CONNECTOR_ALLOW_LOOPBACK_HTTP';
const base = {
  tenantId: 'acme',
  qad: { baseUrl: 'https://acme.qad.example.com/clouderp', clientId: 'c', username: 'u', workspaceId: '10USA_10USACO' },
};
const oauthWith = (extra: Record<string, unknown> = {}) => ({
  ...base,
  pipedrive: { apiBaseUrl: 'https://acme.pipedrive.com', auth: 'oauth', oauthClientId: 'app-id', ...extra },
});
const oauth = oauthWith;

afterEach(() => {
  delete process.env[ENV];
});

describe('tenant config: Pipedrive OAuth', () => {
  test("the token endpoint defaults to Pipedrive's", () => {
    const c = parseTenantConfig(oauth());
    assert.equal(c.pipedrive.auth, 'oauth');
    assert.equal(c.pipedrive.oauthTokenUrl, PIPEDRIVE_OAUTH_TOKEN_URL);
  });

  test('oauth without a client id names the field', () => {
    assert.throws(
      () => parseTenantConfig({ ...base, pipedrive: { apiBaseUrl: 'https://acme.pipedrive.com', auth: 'oauth' } }),
      /pipedrive\.oauthClientId: is required with auth "oauth"/u,
    );
  });

  test("the token endpoint receives the client secret: only Pipedrive's, unless the operator allows another", () => {
    for (const oauthTokenUrl of ['https://oauth.example.com/token', 'https://oauth.pipedrive.com.evil.example/oauth/token'])
      assert.throws(
        () => parseTenantConfig(oauth({ oauthTokenUrl })),
        /pipedrive\.oauthTokenUrl: must be https:\/\/oauth\.pipedrive\.com\/oauth\/token unless pipedrive\.allowOtherOAuthTokenUrl/u,
        oauthTokenUrl,
      );
    const allowed = parseTenantConfig(oauth({ oauthTokenUrl: 'https://oauth.example.com/token', allowOtherOAuthTokenUrl: true }));
    assert.equal(allowed.pipedrive.oauthTokenUrl, 'https://oauth.example.com/token');
  });

  test('an allowed token endpoint still follows the tenant URL rules: https, no user info, no internal address, loopback locally', () => {
    const oauth = (extra: Record<string, unknown>) => oauthWith({ allowOtherOAuthTokenUrl: true, ...extra });
    assert.throws(
      () => parseTenantConfig(oauth({ oauthTokenUrl: 'http://oauth.example.com/token' })),
      /pipedrive\.oauthTokenUrl: URL must use https/u,
    );
    assert.throws(
      () => parseTenantConfig(oauth({ oauthTokenUrl: 'https://u:p@oauth.example.com/token' })),
      /pipedrive\.oauthTokenUrl: URL must not contain user info/u,
    );
    assert.throws(
      () => parseTenantConfig(oauth({ oauthTokenUrl: 'https://10.1.2.3/token' })),
      /pipedrive\.oauthTokenUrl: URL must not point at a private/u,
    );
    assert.throws(() => parseTenantConfig(oauth({ oauthTokenUrl: 'http://127.0.0.1:4020/oauth/token' })), /pipedrive\.oauthTokenUrl/u);
    process.env[ENV] = 'true';
    assert.equal(
      parseTenantConfig(oauth({ oauthTokenUrl: 'http://127.0.0.1:4020/oauth/token' })).pipedrive.oauthTokenUrl,
      'http://127.0.0.1:4020/oauth/token',
    );
  });
});

describe('registering a tenant: the Pipedrive secret that fits its auth', () => {
  const stored: StoredTenant[] = [];
  const tenants: TenantStore = {
    list: async () => stored,
    listEnabled: async () => stored,
    listInvalid: async () => [],
    get: async () => undefined,
    put: async (t) => void stored.push(t),
  };
  const cipher: Cipher = { encrypt: async (p, ctx) => `enc(${ctx.tenantId},${ctx.system}):${p.length}`, decrypt: async () => '' };

  test('oauth stores the client secret under the pipedrive context; without it the error names the field, not a value', async () => {
    const t = await registerTenant({ tenants, cipher }, oauth(), { qadPassword: 'pw', pipedriveClientSecret: 'the-secret' });
    assert.equal(t.encryptedSecrets.pipedrive, 'enc(acme,pipedrive):10');
    await assert.rejects(
      registerTenant({ tenants, cipher }, oauth(), { qadPassword: 'pw', pipedriveApiToken: 'tok-value' }),
      (e: Error) => /pipedriveClientSecret is missing/u.test(e.message) && !e.message.includes('tok-value'),
    );
  });

  test('the API token path still needs the API token', async () => {
    await assert.rejects(
      registerTenant({ tenants, cipher }, { ...base, pipedrive: { apiBaseUrl: 'https://acme.pipedrive.com' } }, { qadPassword: 'pw' }),
      /pipedriveApiToken is missing/u,
    );
  });
});
