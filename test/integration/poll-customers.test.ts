import './quiet-env.ts';
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { organizations } from '../../shared/flows/entities/organizations.ts';
import { pollEntity, type PollDeps } from '../../shared/flows/poll.ts';
import { createHttpClient } from '../../shared/clients/http.ts';
import { createTenantClients } from '../../shared/runtime/tenant-clients.ts';
import { API_TOKEN, customerRow, runWriters, startHarness, TENANT, type Harness } from './harness.ts';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const pollCustomers = (deps: PollDeps, options: { force?: boolean }) => pollEntity(deps, organizations, options);
const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const rows = (n: number, modDate: string) =>
  Array.from({ length: n }, (_, i) => customerRow(`C${String(i + 1).padStart(5, '0')}`, `Customer ${i + 1} GmbH`, modDate));

describe('polling QAD customers', () => {
  test('follows QAD paging to the end and lists Pipedrive 500 at a time on the first sync', async () => {
    const today = day(Date.now());
    h = await startHarness({ customers: rows(250, today), pageSize: 100 });
    for (let i = 0; i < 1100; i++) h.pd.seedOrganization({ name: `Hand-made ${i}` });
    const [summary] = await pollCustomers(h.deps, { force: true });
    assert.deepEqual([summary?.outcome, summary?.pages, summary?.read, summary?.enqueued], ['polled', 3, 250, 250]);
    assert.equal(h.qad.stats().byEndpoint['GET /api/qracore/browses'], 3);
    assert.equal(h.pd.stats().byEndpoint['GET /api/v2/organizations']?.calls, 3, '1,100 organizations at 500 a page');
    const messages = await h.drainMessages();
    assert.equal(new Set(messages.map((m) => m.key)).size, 250);
  });

  test('first sync matches hand-made organizations by normalised name from the listing, without searching', async () => {
    const today = day(Date.now());
    h = await startHarness({ customers: [customerRow('C1', 'Hofmann Präzision GmbH', today), customerRow('C2', 'Iris Foundry', today)] });
    const id = h.pd.seedOrganization({ name: '  hofmann   PRÄZISION gmbh ' });
    await pollCustomers(h.deps, { force: true });
    await runWriters(h);
    const orgs = h.pd.organizations();
    assert.equal(orgs.length, 2);
    assert.equal(orgs.find((o) => o.id === id)?.custom_fields[h.keyFieldCode()!], 'C1');
    assert.equal(Object.keys(h.pd.stats().byEndpoint).filter((k) => k.endsWith('/search')).length, 0);
  });

  test('the watermark overlap re-reads the watermark day: a change on that day is sent, unchanged rows are not', async () => {
    const start = Date.parse('2026-11-20T09:00:00Z');
    let qadToday = '2026-11-20';
    h = await startHarness({
      customers: [
        customerRow('C1', 'Jupiter AG', '2026-11-20'),
        customerRow('C2', 'Kepler SA', '2026-11-20'),
        customerRow('C3', 'Lyra Oy', '2026-11-01'),
      ],
      qadToday: () => qadToday,
    });
    h.clock.ms = start;
    await pollCustomers(h.deps, { force: true });
    await runWriters(h);
    assert.equal((await h.deps.pollState.get(TENANT, 'organization')).watermark, '2026-11-20');

    // Later that same day, after the poll, someone edits C1 in QAD.
    h.qadTenant.upsertCustomer({ 'cm_mstr.cm_addr': 'C1', 'ad_mstr.ad_name': 'Jupiter Holding AG' });
    qadToday = '2026-11-21';
    h.clock.ms = start + 20 * 3_600_000; // the next morning, within a day of the full read
    const [summary] = await pollCustomers(h.deps, { force: true });
    const messages = await h.drainMessages();
    assert.deepEqual(
      messages.map((m) => m.key),
      ['C1'],
    );
    assert.deepEqual([summary?.read, summary?.unchanged], [2, 1], 'C1 and C2 re-read from the overlap; C3 is older than it');
    assert.equal((await h.deps.pollState.get(TENANT, 'organization')).watermark, '2026-11-21');
  });

  test('an expired QAD session gets exactly one re-login', async () => {
    h = await startHarness({ customers: rows(3, day(Date.now())) });
    await pollCustomers(h.deps, { force: true });
    h.qad.expireSessions();
    h.qad.resetStats();
    const [summary] = await pollCustomers(h.deps, { force: true });
    assert.equal(summary?.outcome, 'polled');
    assert.equal(h.qad.stats().byEndpoint['POST /oauth/token'], 1);
    assert.equal(h.qad.stats().byEndpoint['GET /api/qracore/browses'], 2, 'the refused call, then the retry');
  });

  test('bad QAD credentials fail that poll once, with a clear error naming the tenant, and no retry loop', async () => {
    h = await startHarness({ customers: rows(3, day(Date.now())) });
    // The stored QAD password is wrong; the Pipedrive token is right.
    h.deps.clients = createTenantClients({
      cipher: { encrypt: async (p) => p, decrypt: async (_c, ctx) => (ctx.system === 'qad' ? 'wrong-password' : API_TOKEN) },
      http: createHttpClient(),
    });
    const [summary] = await pollCustomers(h.deps, { force: true });
    assert.equal(summary?.outcome, 'failed');
    assert.match(summary?.error ?? '', /QAD login failed for tenant acme/u);
    assert.doesNotMatch(summary?.error ?? '', /wrong-password/u, 'the password is never echoed');
    assert.equal(h.qad.stats().byEndpoint['POST /oauth/token'], 1);
    const [audit] = await h.deps.audit.history(TENANT, 'organization', '_poll');
    assert.equal(audit?.action, 'failed');
    assert.equal((await h.deps.pollState.get(TENANT, 'organization')).watermark, undefined);
  });

  test('bad rows are audited with their reason, once, while the rest of the page flows', async () => {
    const today = day(Date.now());
    h = await startHarness({ customers: rows(3, today) });
    h.qadTenant.putRawCustomerRow({ ...customerRow('B1', '', today), 'ad_mstr.ad_name': undefined });
    h.qadTenant.putRawCustomerRow({ ...customerRow('B2', 'x'.repeat(1_000_000), today) });
    h.qadTenant.putRawCustomerRow({ ...customerRow('B3', 'Bell\u0007 Corp', today) });
    h.qadTenant.putRawCustomerRow({ 'cm_mstr.cm_addr': 42, 'ad_mstr.ad_name': 'No key' });
    const [summary] = await pollCustomers(h.deps, { force: true });
    assert.deepEqual([summary?.outcome, summary?.enqueued, summary?.rejected], ['polled', 3, 4]);
    const reasons = async (key: string) =>
      (await h!.deps.audit.history(TENANT, 'organization', key)).map((e) => `${e.action}: ${e.reason}`);
    assert.match((await reasons('B1'))[0] ?? '', /^failed: .*ad_mstr\.ad_name/u);
    assert.match((await reasons('B2'))[0] ?? '', /^failed: .*ad_mstr\.ad_name is longer than 255 characters \(1000000\)/u);
    assert.match((await reasons('B3'))[0] ?? '', /control characters/u);
    const b2 = await h.deps.audit.history(TENANT, 'organization', 'B2');
    assert.ok(JSON.stringify(b2[0]).length < 5_000, 'the audit entry of a 1 MB row holds none of it');
    assert.ok(b2[0]?.fields?.includes('ad_mstr.ad_name'), 'it names the fields the row had');
    assert.ok(b2[0]?.contentHash, 'and its content hash');

    await h.drainMessages();
    await pollCustomers(h.deps, { force: true });
    assert.equal((await h.deps.audit.history(TENANT, 'organization', 'B1')).length, 1, 'an unchanged bad row is not audited again');
    assert.ok((await h.deps.pollState.get(TENANT, 'organization')).watermark, 'bad rows do not hold back the watermark');
  });

  test('broken JSON from QAD fails the poll, audited, and leaves the watermark where it was', async () => {
    h = await startHarness({ customers: rows(3, day(Date.now())) });
    h.qad.setFault((req) =>
      req.path.includes('browses')
        ? { status: 200, body: '{"data":[{"cm_mstr.cm_addr":"C1"', headers: { 'content-type': 'application/json' } }
        : undefined,
    );
    const [summary] = await pollCustomers(h.deps, { force: true });
    assert.equal(summary?.outcome, 'failed');
    assert.match(summary?.error ?? '', /malformed JSON/u);
    assert.equal((await h.deps.pollState.get(TENANT, 'organization')).watermark, undefined);
    h.qad.setFault(undefined);
    const [retry] = await pollCustomers(h.deps, { force: true });
    assert.deepEqual([retry?.outcome, retry?.enqueued], ['polled', 3]);
  });
});
