import './quiet-env.ts';
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { runCli, type Io } from '../../scripts/cli/run.ts';
import { APP_SCOPES } from '../../shared/domain/pipedrive-scopes.ts';
import { DEFAULT_GRANT } from '../../scripts/simulators/pipedrive/oauth.ts';
import { checkTenant } from '../../shared/operations/check.ts';
import { createHttpClient } from '../../shared/clients/http.ts';
import { createTenantClients } from '../../shared/runtime/tenant-clients.ts';
import { pollEntity } from '../../shared/flows/poll.ts';
import { registerTenant } from '../../shared/operations/register-tenant.ts';
import { handleWriterBatch } from '../../shared/flows/writer-batch.ts';
import { organizations } from '../../shared/flows/entities/organizations.ts';
import { customerRow, QAD_PASSWORD, startHarness, TENANT, type Harness, enqueueBodies, organizationMessageBody } from './harness.ts';

const CLIENT_ID = 'oauth-app-id';
const CLIENT_SECRET = 'oauth-client-secret-value';
const REDIRECT = 'https://connector.example.com/oauth/callback';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** A harness whose tenant uses OAuth against the simulator's token endpoint; not yet authorised. */
async function oauthHarness(
  ttlSeconds = 3600,
  customers = [customerRow('C1', 'Alpha GmbH', '2026-11-20')],
  scopes: readonly string[] = APP_SCOPES,
): Promise<Harness> {
  const harness = await startHarness({
    customers,
    pipedrive: { oauth: { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, accessTokenTtlSeconds: ttlSeconds, scopes } },
  });
  // Registered again, as an operator would, with OAuth against the simulator's token endpoint (loopback: tests only).
  const { config } = harness.tenant;
  await registerTenant(
    harness.cliDeps(),
    {
      ...config,
      pipedrive: {
        apiBaseUrl: harness.pd.url,
        auth: 'oauth',
        oauthClientId: CLIENT_ID,
        oauthTokenUrl: `${harness.pd.url}/oauth/token`,
        allowOtherOAuthTokenUrl: true,
      },
    },
    { qadPassword: QAD_PASSWORD, pipedriveClientSecret: CLIENT_SECRET },
  );
  return harness;
}

async function cli(harness: Harness, argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (l) => out.push(l), err: (l) => err.push(l), readFile: () => '' };
  const code = await runCli(argv, io, harness.cliDeps());
  return { code, out: out.join('\n'), err: err.join('\n') };
}

async function authorize(harness: Harness): Promise<{ code: number; out: string; err: string }> {
  return cli(harness, ['authorize', TENANT, '--code', harness.pd.oauth!.issueCode(REDIRECT), '--redirect-uri', REDIRECT]);
}

describe('Pipedrive OAuth', () => {
  test('"connector authorize" stores the first tokens encrypted; calls then go Bearer to the api_domain', async () => {
    h = await oauthHarness();
    const before = await cli(h, ['check', TENANT]);
    assert.equal(before.code, 1);
    assert.match(
      before.out,
      /Pipedrive OAuth\s+FAIL\s+no Pipedrive OAuth tokens are stored for tenant acme; run "connector authorize acme"/u,
    );
    const res = await authorize(h);
    assert.equal(res.code, 0, res.err);
    assert.match((await cli(h, ['check', TENANT])).out, /Pipedrive OAuth\s+pass/u);
    assert.match(res.out, /tenant acme authorised for Pipedrive at http:\/\/127\.0\.0\.1:\d+; tokens stored encrypted; 0 held records/u);
    assert.equal(h.pd.oauth?.stats().codeExchanges, 1);
    const stored = await h.cliDeps().oauthTokens.get(TENANT);
    assert.equal(stored?.version, 1);
    await enqueueBodies(h, [organizationMessageBody('C1', 'Alpha GmbH')]);
    assert.deepEqual((await handleWriterBatch(h.deps, await h.receiveEvent())).batchItemFailures, []);
    assert.deepEqual(
      h.pd.organizations().map((o) => o.name),
      ['Alpha GmbH'],
    );
    assert.equal(h.pd.stats().byStatus['401'] ?? 0, 0);
    // A code is good once.
    const again = await cli(h, ['authorize', TENANT, '--code', 'not-a-code', '--redirect-uri', REDIRECT]);
    assert.equal(again.code, 1);
    assert.match(again.err, /invalid_grant/u);
  });

  test('check names a scope the app lacks and the token URL it sends the secret to; uncovered calls are refused', async () => {
    h = await oauthHarness(3600, [customerRow('C1', 'Alpha GmbH', '2026-11-20')], DEFAULT_GRANT);
    assert.equal((await authorize(h)).code, 0);
    const rows = await checkTenant(h.cliDeps().clients, (await h.cliDeps().tenants.get(TENANT))!);
    const row = (name: string) => rows.find((r) => r.check === name);
    assert.equal(row('Pipedrive OAuth scopes')?.ok, false);
    assert.match(row('Pipedrive OAuth scopes')?.detail ?? '', /organization and person fields .*: contact-fields:full or admin/u);
    assert.match(row('Pipedrive OAuth scopes')?.detail ?? '', /deal fields .*: deal-fields:full or admin/u);
    assert.match(
      row('Pipedrive OAuth token URL')?.detail ?? '',
      /NOT Pipedrive's token endpoint, allowed by pipedrive\.allowOtherOAuthTokenUrl/u,
    );
    // The key field cannot be created under the default grant: Pipedrive answers 403, a person must add the scope.
    await enqueueBodies(h, [organizationMessageBody('C1', 'Alpha GmbH')]);
    const failed = await handleWriterBatch(h.deps, await h.receiveEvent());
    assert.deepEqual(failed.batchItemFailures, []);
    assert.equal(h.pd.stats().byStatus['403'], 1);
    assert.equal(h.pd.organizations().length, 0);
    assert.match((await h.deps.audit.history(TENANT, 'organization', 'C1'))[0]?.error ?? '', /HTTP 403.*connector check/u);
  });

  test('with the scopes the README names, check passes them', async () => {
    h = await oauthHarness();
    assert.equal((await authorize(h)).code, 0);
    const rows = await checkTenant(h.cliDeps().clients, (await h.cliDeps().tenants.get(TENANT))!);
    assert.deepEqual(
      rows.filter((r) => r.check === 'Pipedrive OAuth scopes').map((r) => [r.ok, r.detail]),
      [[true, `granted ${APP_SCOPES.join(', ')}`]],
    );
  });

  test('an access token refused with 401 is refreshed once and the call repeated', async () => {
    h = await oauthHarness();
    assert.equal((await authorize(h)).code, 0);
    h.pd.oauth!.expireAccessTokens();
    h.pd.resetStats();
    await enqueueBodies(h, [organizationMessageBody('C1', 'Alpha GmbH')]);
    assert.deepEqual((await handleWriterBatch(h.deps, await h.receiveEvent())).batchItemFailures, []);
    assert.equal(h.pd.oauth?.stats().refreshes, 1);
    assert.equal(h.pd.stats().byStatus['401'], 1, 'one refused call, then the new token');
    assert.equal(h.pd.organizations().length, 1);
    assert.equal((await h.cliDeps().oauthTokens.get(TENANT))?.version, 2);
  });

  test('a token about to expire is refreshed before the call (no 401)', async () => {
    h = await oauthHarness(3600);
    assert.equal((await authorize(h)).code, 0);
    // An hour on: the stored token is past its expiry by the writers' clock.
    const later = Date.now() + 3_600_000;
    const clients = createTenantClients({
      cipher: h.cliDeps().cipher,
      http: createHttpClient(),
      oauthTokens: h.cliDeps().oauthTokens,
      now: () => later,
    });
    const client = await clients.pipedrive((await h.deps.tenants.get(TENANT))!);
    h.pd.resetStats();
    await client.listFields('organization');
    assert.equal(h.pd.oauth?.stats().refreshes, 1);
    assert.equal(h.pd.stats().byStatus['401'] ?? 0, 0);
  });

  test('ten writers in ten containers hitting an expired token make exactly one refresh call', async () => {
    h = await oauthHarness();
    assert.equal((await authorize(h)).code, 0);
    h.pd.oauth!.expireAccessTokens();
    const tenant = (await h.deps.tenants.get(TENANT))!;
    const later = Date.now() + 3_600_000;
    // Each container builds its own clients: only the token store in DynamoDB is shared.
    const writers = Array.from({ length: 10 }, () =>
      createTenantClients({
        cipher: h!.cliDeps().cipher,
        http: createHttpClient(),
        oauthTokens: h!.cliDeps().oauthTokens,
        now: () => later,
      }),
    );
    const results = await Promise.all(writers.map(async (c) => (await c.pipedrive(tenant)).listFields('organization')));
    assert.equal(results.length, 10);
    assert.equal(h.pd.oauth?.stats().refreshes, 1);
    assert.equal((await h.cliDeps().oauthTokens.get(TENANT))?.version, 2);
  });

  const invalidGrantParks =
    'invalid_grant parks the tenant: messages held (not dead-lettered, not retried), polls skipped, audited; authorize releases them';
  test(invalidGrantParks, async () => {
    h = await oauthHarness();
    assert.equal((await authorize(h)).code, 0);
    h.pd.oauth!.revokeRefreshTokens();
    h.pd.oauth!.expireAccessTokens();
    await enqueueBodies(h, [
      organizationMessageBody('C1', 'Alpha GmbH'),
      organizationMessageBody('C2', 'Beta GmbH'),
      organizationMessageBody('C3', 'Gamma GmbH'),
    ]);
    h.pd.resetStats();
    const res = await handleWriterBatch(h.deps, await h.receiveEvent());
    assert.deepEqual(res.batchItemFailures, [], 'acknowledged: nothing comes back in a receive loop');
    assert.equal(h.pd.oauth?.stats().invalidGrants, 1, 'one refresh attempt for the whole batch');
    assert.equal((await h.dlqMessages()).length, 0);
    assert.equal((await h.receiveEvent()).Records.length, 0);
    assert.equal((await h.deps.holds.current(TENANT, Date.now()))?.kind, 'parked');
    assert.equal((await h.deps.holds.held(TENANT)).length, 3);
    const [why] = await h.deps.audit.history(TENANT, 'organization', '_pipedrive-access');
    assert.equal(why?.action, 'failed');
    assert.match(why?.reason ?? '', /tenant parked/u);
    assert.match(why?.error ?? '', /invalid_grant.*connector authorize acme/u);
    assert.ok(!JSON.stringify(why).includes(CLIENT_SECRET));
    const held = await h.deps.audit.history(TENANT, 'organization', 'C3');
    assert.equal(held[0]?.action, 'deferred');

    // A poll skips the parked tenant and leaves its watermark alone.
    const before = await h.deps.pollState.get(TENANT, 'organization');
    const [summary] = await pollEntity(h.deps, organizations, { force: true });
    assert.equal(summary?.outcome, 'tenant-on-hold');
    assert.deepEqual(await h.deps.pollState.get(TENANT, 'organization'), before);

    assert.match((await cli(h, ['status'])).out, /tenant acme \(enabled\): PARKED since \S+: .*invalid_grant/u);

    // Held for other causes meanwhile: a drifted field's message, and one whose body no longer reads.
    await h.deps.holds.hold(TENANT, 'drift-1', organizationMessageBody('C9', 'Drift GmbH'), 'drift:organization');
    await h.deps.holds.hold(TENANT, 'broken-1', '{"v":2,"tenantId":"acme"}', 'parked');

    // A person re-authorises: the tenant is unparked and what it held goes back on the queue and through.
    const released = await authorize(h);
    assert.equal(released.code, 0, released.err);
    assert.match(released.out, /3 held records back on their queues/u);
    assert.equal(await h.deps.holds.current(TENANT, Date.now()), undefined);
    assert.deepEqual(
      (await h.deps.holds.held(TENANT)).map((m) => m.messageId),
      ['drift-1'],
      'the drifted one waits for its field, not for the authorisation',
    );
    const [unreadable] = await h.deps.audit.history(TENANT, '_held', 'broken-1');
    assert.equal(unreadable?.action, 'failed', 'a held body that does not read is audited, not dropped silently');
    assert.match(unreadable?.error ?? '', /not a record message/u);
    assert.deepEqual((await handleWriterBatch(h.deps, await h.receiveEvent())).batchItemFailures, []);
    assert.deepEqual(
      h.pd
        .organizations()
        .map((o) => o.name)
        .sort(),
      ['Alpha GmbH', 'Beta GmbH', 'Gamma GmbH'],
    );
    assert.equal((await h.dlqMessages()).length, 0);
  });
});
