import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startQadSim, type QadCustomerRow, type QadSim, type QadSimOptions } from '../../scripts/simulators/qad/index.ts';
import {
  addDays,
  generateCustomers,
  mutateCustomers,
  normaliseSpaces,
  preexistingOrganizationNames,
} from '../../scripts/simulators/dataset.ts';

const TODAY = '2025-06-15';
const ACME = {
  basePath: '/acme/clouderp',
  clientId: 'acme-client',
  username: 'api.acme',
  password: 'pw-acme',
  workspaceId: '10USA_10USACO',
};
const GLOBEX = {
  basePath: '/globex/qad-central',
  clientId: 'globex-client',
  username: 'api.globex',
  password: 'pw-globex',
  workspaceId: '20EU_20EUCO',
};
const CUSTOMER_BROWSE = 'urn:browse:mfg:customers';

interface Creds {
  clientId: string;
  username: string;
  password: string;
}

async function tokenRequest(baseUrl: string, c: Creds): Promise<Response> {
  return fetch(`${baseUrl}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'password', client_id: c.clientId, username: c.username, password: c.password }).toString(),
  });
}

async function login(baseUrl: string, c: Creds): Promise<string> {
  const res = await tokenRequest(baseUrl, c);
  assert.equal(res.status, 200);
  const body = (await res.json()) as { access_token: string };
  return body.access_token;
}

interface BrowseBody {
  data: Array<Record<string, unknown>>;
  auxillaryData: { HasMoreParams: boolean };
}

function browseUrl(baseUrl: string, params: { page?: number; pageSize?: number; filters?: string[]; browseId?: string }): string {
  const q = new URLSearchParams({ browseId: params.browseId ?? CUSTOMER_BROWSE });
  if (params.page !== undefined) q.set('page', String(params.page));
  if (params.pageSize !== undefined) q.set('pageSize', String(params.pageSize));
  for (const f of params.filters ?? []) q.append('filter', f);
  return `${baseUrl}/api/qracore/browses?${q.toString()}`;
}

async function browse(
  baseUrl: string,
  token: string,
  workspaceId: string | undefined,
  params: Parameters<typeof browseUrl>[1],
): Promise<{ status: number; body: unknown }> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (workspaceId !== undefined) headers['x-qad-workspace-id'] = workspaceId;
  const res = await fetch(browseUrl(baseUrl, params), { headers });
  return { status: res.status, body: await res.json() };
}

function codes(body: unknown): unknown[] {
  return (body as BrowseBody).data.map((r) => r['cm_mstr.cm_addr']);
}

async function withSim(opts: Partial<QadSimOptions>, fn: (sim: QadSim) => Promise<void>): Promise<void> {
  const sim = await startQadSim({ tenants: [ACME, GLOBEX], today: () => TODAY, ...opts });
  try {
    await fn(sim);
  } finally {
    await sim.close();
  }
}

describe('QAD simulator: sessions', () => {
  let sim: QadSim;
  let acme: string;
  let globex: string;
  before(async () => {
    sim = await startQadSim({ tenants: [ACME, GLOBEX], today: () => TODAY });
    acme = sim.tenant(ACME.basePath).baseUrl;
    globex = sim.tenant(GLOBEX.basePath).baseUrl;
  });
  after(() => sim.close());

  test('tenants live at their own full base URLs', () => {
    assert.equal(acme, `${sim.url}/acme/clouderp`);
    assert.equal(globex, `${sim.url}/globex/qad-central`);
    assert.match(sim.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  });

  test('login returns a bearer JWT with sub and exp', async () => {
    const res = await tokenRequest(acme, ACME);
    assert.equal(res.status, 200);
    const body = (await res.json()) as Record<string, unknown>;
    assert.equal(body['token_type'], 'Bearer');
    assert.equal(body['expires_in'], 3600);
    assert.equal(typeof body['refresh_token'], 'string');
    const parts = String(body['access_token']).split('.');
    assert.equal(parts.length, 3);
    for (const p of parts) assert.match(p, /^[A-Za-z0-9_-]+$/);
    const payload = JSON.parse(Buffer.from(parts[1] ?? '', 'base64url').toString('utf8')) as { sub: string; exp: number };
    assert.equal(payload.sub, ACME.username);
    const nowSec = Math.floor(Date.now() / 1000);
    assert.ok(payload.exp >= nowSec + 3590 && payload.exp <= nowSec + 3610);
  });

  test('bad password, user or client id -> 401 invalid_grant', async () => {
    for (const bad of [
      { ...ACME, password: 'nope' },
      { ...ACME, username: 'someone' },
      { ...ACME, clientId: GLOBEX.clientId },
    ]) {
      const res = await tokenRequest(acme, bad);
      assert.equal(res.status, 401);
      const body = (await res.json()) as { error: string; error_description: string };
      assert.equal(body.error, 'invalid_grant');
      assert.equal(typeof body.error_description, 'string');
    }
  });

  test('credentials of tenant A do not log into tenant B', async () => {
    const res = await tokenRequest(globex, ACME);
    assert.equal(res.status, 401);
  });

  test('a token of tenant A is refused by tenant B', async () => {
    const tokenA = await login(acme, ACME);
    const ok = await browse(acme, tokenA, ACME.workspaceId, { pageSize: 1 });
    assert.equal(ok.status, 200);
    const refused = await browse(globex, tokenA, GLOBEX.workspaceId, { pageSize: 1 });
    assert.equal(refused.status, 401);
    assert.deepEqual((refused.body as { errors: Array<{ severity: number; code: string }> }).errors[0]?.code, '401');
  });

  test('missing or garbage bearer token -> 401 in the errors shape', async () => {
    const none = await fetch(browseUrl(acme, {}), { headers: { 'x-qad-workspace-id': ACME.workspaceId } });
    assert.equal(none.status, 401);
    const garbage = await browse(acme, 'a.b.c', ACME.workspaceId, {});
    assert.equal(garbage.status, 401);
    const body = garbage.body as { errors: Array<{ severity: number; code: string; message: string }> };
    assert.equal(body.errors[0]?.severity, 1);
    assert.equal(body.errors[0]?.code, '401');
  });

  test('expireSessions invalidates every issued token; a new login works', async () => {
    const a = await login(acme, ACME);
    const g = await login(globex, GLOBEX);
    sim.expireSessions();
    assert.equal((await browse(acme, a, ACME.workspaceId, {})).status, 401);
    assert.equal((await browse(globex, g, GLOBEX.workspaceId, {})).status, 401);
    const fresh = await login(acme, ACME);
    assert.equal((await browse(acme, fresh, ACME.workspaceId, {})).status, 200);
  });

  test('missing or wrong x-qad-workspace-id -> 403 Access is denied', async () => {
    const t = await login(acme, ACME);
    for (const ws of [undefined, GLOBEX.workspaceId]) {
      const r = await browse(acme, t, ws, {});
      assert.equal(r.status, 403);
      assert.deepEqual(r.body, { errors: [{ severity: 1, code: '403', message: 'Access is denied' }] });
    }
  });

  test('refresh_token grant issues a new working access token', async () => {
    const res = await tokenRequest(acme, ACME);
    const { refresh_token } = (await res.json()) as { refresh_token: string };
    sim.expireSessions();
    const r2 = await fetch(`${acme}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', client_id: ACME.clientId, refresh_token }).toString(),
    });
    assert.equal(r2.status, 200);
    const { access_token } = (await r2.json()) as { access_token: string };
    assert.equal((await browse(acme, access_token, ACME.workspaceId, {})).status, 200);
  });
});

test('tokens expire after tokenTtlSeconds (simulated clock)', async () => {
  let nowMs = Date.UTC(2025, 5, 15, 12);
  await withSim({ tokenTtlSeconds: 60, now: () => nowMs }, async (sim) => {
    const base = sim.tenant(ACME.basePath).baseUrl;
    const res = await tokenRequest(base, ACME);
    const body = (await res.json()) as { access_token: string; expires_in: number };
    assert.equal(body.expires_in, 60);
    nowMs += 59_000;
    assert.equal((await browse(base, body.access_token, ACME.workspaceId, {})).status, 200);
    nowMs += 1_000;
    const expired = await browse(base, body.access_token, ACME.workspaceId, {});
    assert.equal(expired.status, 401);
  });
});

describe('QAD simulator: swagger', () => {
  test('lists exactly the entity paths and methods it serves, no more and no less, and needs a token', async () => {
    await withSim({}, async (sim) => {
      const base = sim.tenant(ACME.basePath).baseUrl;
      assert.equal((await fetch(`${base}/api/swagger.json`)).status, 401);
      const t = await login(base, ACME);
      const headers = { authorization: `Bearer ${t}`, 'x-qad-workspace-id': ACME.workspaceId, 'content-type': 'application/json' };
      const res = await fetch(`${base}/api/swagger.json`, { headers });
      assert.equal(res.status, 200);
      const doc = (await res.json()) as { openapi: string; paths: Record<string, Record<string, unknown>> };
      assert.match(doc.openapi, /^3\./);
      const listed = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
      assert.deepEqual(listed.sort(), [
        'GET /api/erp/salesOrderHeaders',
        'GET /api/qracore/browses',
        'POST /api/erp/salesOrderHeaders',
        'PUT /api/erp/customerV2s/{code}',
      ]);
      // Each listed operation has a route (no "Not found"/"not allowed" answer), and what is not listed has none.
      const unrouted = (text: string) => /"Not found: |not allowed on /u.test(text);
      for (const op of listed) {
        const [method, path] = op.split(' ') as [string, string];
        const reply = await fetch(`${base}${path.replace('{code}', 'C1')}`, { method, headers, ...(method !== 'GET' && { body: '{}' }) });
        assert.ok(!unrouted(await reply.text()), `${op} is served`);
      }
      for (const [method, path] of [
        ['GET', '/api/erp/items'],
        ['GET', '/api/erp/customerV2s'],
        ['PUT', '/api/erp/customerV2s'],
        ['DELETE', '/api/erp/salesOrderHeaders'],
      ] as const)
        assert.ok(unrouted(await (await fetch(`${base}${path}`, { method, headers })).text()), `${method} ${path} is not served`);
    });
  });

  test('paths are configurable per tenant and at run time', async () => {
    await withSim(
      {
        tenants: [{ ...ACME, swaggerPaths: { '/api/qracore/browses': ['get'], '/api/erp/customerV2s': ['get', 'put'] } }, GLOBEX],
      },
      async (sim) => {
        const read = async (basePath: string, c: Creds): Promise<string[]> => {
          const base = sim.tenant(basePath).baseUrl;
          const t = await login(base, c);
          const res = await fetch(`${base}/api/swagger.json`, { headers: { authorization: `Bearer ${t}` } });
          return Object.keys(((await res.json()) as { paths: object }).paths).sort();
        };
        assert.deepEqual(await read(ACME.basePath, ACME), ['/api/erp/customerV2s', '/api/qracore/browses']);
        assert.equal((await read(GLOBEX.basePath, GLOBEX)).length, 3);
        sim.tenant(GLOBEX.basePath).setSwaggerPaths({ '/api/erp/items': ['get'] });
        assert.deepEqual(await read(GLOBEX.basePath, GLOBEX), ['/api/erp/items']);
      },
    );
  });
});

describe('QAD simulator: customer browse', () => {
  let sim: QadSim;
  let base: string;
  let token: string;
  const rows = generateCustomers({ count: 1200, seed: 7, today: TODAY });

  before(async () => {
    sim = await startQadSim({
      tenants: [{ ...ACME, customers: [...rows].reverse() }, GLOBEX],
      today: () => TODAY,
      maxPageSize: 1000,
    });
    base = sim.tenant(ACME.basePath).baseUrl;
    token = await login(base, ACME);
  });
  after(() => sim.close());

  test('1,200 rows at pageSize 500: three pages sorted by code, HasMoreParams false on the last', async () => {
    const seen: unknown[] = [];
    const more: boolean[] = [];
    for (let page = 1; page <= 3; page++) {
      const r = await browse(base, token, ACME.workspaceId, { page, pageSize: 500 });
      assert.equal(r.status, 200);
      const b = r.body as BrowseBody;
      seen.push(...codes(b));
      more.push(b.auxillaryData.HasMoreParams);
    }
    assert.deepEqual(more, [true, true, false]);
    assert.equal(seen.length, 1200);
    assert.deepEqual(
      seen,
      rows.map((r) => r['cm_mstr.cm_addr']),
    );
    // total an exact multiple of pageSize: the last full page says no more
    const exact = await browse(base, token, ACME.workspaceId, { page: 3, pageSize: 400 });
    assert.equal((exact.body as BrowseBody).data.length, 400);
    assert.equal((exact.body as BrowseBody).auxillaryData.HasMoreParams, false);
    const beyond = await browse(base, token, ACME.workspaceId, { page: 4, pageSize: 500 });
    assert.deepEqual(beyond.body, { data: [], auxillaryData: { HasMoreParams: false } });
  });

  test('rows carry every table.field of the customer browse', async () => {
    const r = await browse(base, token, ACME.workspaceId, { page: 1, pageSize: 1 });
    assert.deepEqual((r.body as BrowseBody).data[0], rows[0]);
  });

  test('pageSize over the maximum -> 400 submitResult', async () => {
    const r = await browse(base, token, ACME.workspaceId, { pageSize: 1001 });
    assert.equal(r.status, 400);
    const b = r.body as { submitResult: { success: boolean; errors: Array<Record<string, string>> } };
    assert.equal(b.submitResult.success, false);
    assert.equal(b.submitResult.errors[0]?.fieldName, 'pageSize');
    assert.equal(b.submitResult.errors[0]?.fieldValue, '1001');
    assert.equal(typeof b.submitResult.errors[0]?.code, 'string');
    assert.equal(typeof b.submitResult.errors[0]?.message, 'string');
  });

  test('malformed filters -> 400 submitResult', async () => {
    for (const f of ['cm_mstr.cm_addr,xx,C1,literal', 'nope.field,eq,1,literal', 'cm_mstr.cm_addr,eq', 'cm_mstr.cm_addr,eq,C1,expr']) {
      const r = await browse(base, token, ACME.workspaceId, { filters: [f] });
      assert.equal(r.status, 400, f);
      assert.equal((r.body as { submitResult: { errors: Array<{ fieldName: string }> } }).submitResult.errors[0]?.fieldName, 'filter');
    }
  });

  test('unknown browseId -> 404 in the errors shape', async () => {
    const r = await browse(base, token, ACME.workspaceId, { browseId: 'urn:browse:mfg:nothing' });
    assert.equal(r.status, 404);
    assert.equal((r.body as { errors: Array<{ code: string }> }).errors[0]?.code, '404');
  });

  test('filter operators: eq, sw, ew, cn, gt, lt, le, rg, and repeated filters AND', async () => {
    const all = async (filters: string[]): Promise<unknown[]> =>
      codes((await browse(base, token, ACME.workspaceId, { pageSize: 1000, filters })).body);
    assert.deepEqual(await all(['cm_mstr.cm_addr,eq,C000010,literal']), ['C000010']);
    assert.deepEqual(await all(['cm_mstr.cm_addr,rg,C000010|C000012,literal']), ['C000010', 'C000011', 'C000012']);
    assert.deepEqual(await all(['cm_mstr.cm_addr,sw,C00000,literal']), [
      'C000001',
      'C000002',
      'C000003',
      'C000004',
      'C000005',
      'C000006',
      'C000007',
      'C000008',
      'C000009',
    ]);
    assert.deepEqual(await all(['cm_mstr.cm_addr,ew,99,literal']), [
      'C000099',
      'C000199',
      'C000299',
      'C000399',
      'C000499',
      'C000599',
      'C000699',
      'C000799',
      'C000899',
      'C000999',
      'C001099',
      'C001199',
    ]);
    assert.deepEqual(await all(['cm_mstr.cm_addr,gt,C001197,literal']), ['C001198', 'C001199', 'C001200']);
    assert.deepEqual(await all(['cm_mstr.cm_addr,lt,C000003,literal']), ['C000001', 'C000002']);
    assert.deepEqual(await all(['cm_mstr.cm_addr,le,C000002,literal']), ['C000001', 'C000002']);
    const eur = rows
      .filter((r) => r['cm_mstr.cm_curr'] === 'EUR' && r['ad_mstr.ad_name'].includes('GmbH'))
      .map((r) => r['cm_mstr.cm_addr']);
    assert.ok(eur.length > 0);
    assert.deepEqual(await all(['cm_mstr.cm_curr,eq,EUR,literal', 'ad_mstr.ad_name,cn,GmbH,literal']), eur);
  });

  test('changed-since filter at day granularity includes a row changed today', async () => {
    const since = addDays(TODAY, -10);
    const expected = rows.filter((r) => r['cm_mstr.cm_mod_date'] >= since).map((r) => r['cm_mstr.cm_addr']);
    const r1 = await browse(base, token, ACME.workspaceId, { pageSize: 1000, filters: [`cm_mstr.cm_mod_date,ge,${since},literal`] });
    assert.deepEqual(codes(r1.body), expected);
    assert.ok(expected.length > 0 && expected.length < rows.length);

    const byToday = async (): Promise<unknown[]> =>
      codes((await browse(base, token, ACME.workspaceId, { pageSize: 1000, filters: [`cm_mstr.cm_mod_date,ge,${TODAY},literal`] })).body);
    assert.deepEqual(await byToday(), []); // generated rows are all older than today
    sim.tenant(ACME.basePath).upsertCustomer({ 'cm_mstr.cm_addr': 'C000500', 'ad_mstr.ad_phone': '+49 89 1234567' });
    sim.tenant(ACME.basePath).upsertCustomer({ 'cm_mstr.cm_addr': 'C999999', 'ad_mstr.ad_name': 'Neukunde GmbH' });
    assert.deepEqual(await byToday(), ['C000500', 'C999999']);
    const changed = sim
      .tenant(ACME.basePath)
      .customers()
      .find((c) => c['cm_mstr.cm_addr'] === 'C000500');
    assert.equal(changed?.['ad_mstr.ad_phone'], '+49 89 1234567');
    assert.equal(changed?.['cm_mstr.cm_mod_date'], TODAY);
    assert.equal(changed?.['ad_mstr.ad_mod_date'], TODAY);
    assert.equal(changed?.['ad_mstr.ad_name'], rows[499]?.['ad_mstr.ad_name']);
    const created = sim
      .tenant(ACME.basePath)
      .customers()
      .find((c) => c['cm_mstr.cm_addr'] === 'C999999');
    assert.equal(created?.['cm_mstr.cm_domain'], '10USA');
    assert.equal(created?.['cm_mstr.cm_cr_limit'], 0);
  });

  test('raw rows are served as-is, sorted where they have a code, last otherwise, regardless of filters', async () => {
    await withSim({ tenants: [{ ...ACME, customers: rows.slice(0, 5) }] }, async (s) => {
      const t = s.tenant(ACME.basePath);
      t.putRawCustomerRow({ 'cm_mstr.cm_addr': 'C000003A', 'cm_mstr.cm_cr_limit': 'lots' });
      t.putRawCustomerRow({ weird: true, nested: { a: [1, 2] } });
      t.putRawCustomerRow({ 'cm_mstr.cm_addr': null, 'ad_mstr.ad_name': 'Null Code' });
      const tok = await login(t.baseUrl, ACME);
      const r = await browse(t.baseUrl, tok, ACME.workspaceId, {});
      assert.deepEqual(codes(r.body), ['C000001', 'C000002', 'C000003', 'C000003A', 'C000004', 'C000005', undefined, null]);
      assert.deepEqual((r.body as BrowseBody).data[6], { weird: true, nested: { a: [1, 2] } });
      const f = await browse(t.baseUrl, tok, ACME.workspaceId, {
        filters: ['cm_mstr.cm_addr,eq,C000002,literal', 'cm_mstr.cm_mod_date,ge,2000-01-01,literal'],
      });
      assert.deepEqual(codes(f.body), ['C000002', undefined, null]);
      assert.equal(t.customers().length, 5); // raw rows are not customers
    });
  });
});

describe('QAD simulator: stats and faults', () => {
  test('every request is counted by endpoint, 401s and unknown paths included', async () => {
    await withSim({}, async (sim) => {
      const base = sim.tenant(ACME.basePath).baseUrl;
      const t = await login(base, ACME);
      await tokenRequest(base, { ...ACME, password: 'x' });
      await browse(base, t, ACME.workspaceId, {});
      await browse(base, 'bad', ACME.workspaceId, {});
      await fetch(`${base}/api/swagger.json`);
      const other = await fetch(`${sim.url}/nobody/clouderp/api/swagger.json`);
      assert.equal(other.status, 404);
      assert.deepEqual(sim.stats(), {
        calls: 6,
        byEndpoint: {
          'POST /oauth/token': 2,
          'GET /api/qracore/browses': 2,
          'GET /api/swagger.json': 1,
          'GET /nobody/clouderp/api/swagger.json': 1,
        },
      });
      sim.resetStats();
      assert.deepEqual(sim.stats(), { calls: 0, byEndpoint: {} });
    });
  });

  test('fault hook: status reply, socket reset and delay; cleared with undefined', async () => {
    await withSim({}, async (sim) => {
      const acme = sim.tenant(ACME.basePath).baseUrl;
      const globex = sim.tenant(GLOBEX.basePath).baseUrl;
      const t = await login(acme, ACME);
      const seen: Array<{ method: string; path: string; basePath: string }> = [];

      sim.setFault((req) => {
        seen.push(req);
        return req.basePath === ACME.basePath && req.path === '/api/qracore/browses'
          ? { status: 429, body: '{"errors":[{"severity":1,"code":"429","message":"slow down"}]}', headers: { 'retry-after': '2' } }
          : undefined;
      });
      const res = await fetch(browseUrl(acme, {}), { headers: { authorization: `Bearer ${t}`, 'x-qad-workspace-id': ACME.workspaceId } });
      assert.equal(res.status, 429);
      assert.equal(res.headers.get('retry-after'), '2');
      assert.equal(((await res.json()) as { errors: Array<{ message: string }> }).errors[0]?.message, 'slow down');
      assert.deepEqual(seen[0], { method: 'GET', path: '/api/qracore/browses', basePath: ACME.basePath });
      assert.equal((await tokenRequest(globex, GLOBEX)).status, 200); // other tenant untouched

      sim.setFault(() => ({ status: 503 }));
      const r503 = await fetch(`${acme}/api/swagger.json`);
      assert.equal(r503.status, 503);
      assert.equal(((await r503.json()) as { errors: Array<{ code: string }> }).errors[0]?.code, '503');

      sim.setFault((req) => (req.path === '/oauth/token' ? { kind: 'reset' } : undefined));
      await assert.rejects(tokenRequest(acme, ACME));

      sim.setFault(() => ({ kind: 'delay', ms: 150 }));
      const started = Date.now();
      const delayed = await browse(acme, t, ACME.workspaceId, { pageSize: 1 });
      assert.ok(Date.now() - started >= 140);
      assert.equal(delayed.status, 200);

      sim.setFault(undefined);
      assert.equal((await tokenRequest(acme, ACME)).status, 200);
      assert.equal(sim.stats().byEndpoint['POST /oauth/token'], 4); // faulted requests are counted too
    });
  });

  test('close() does not hang on a delayed request', async () => {
    const sim = await startQadSim({ tenants: [ACME] });
    sim.setFault(() => ({ kind: 'delay', ms: 60_000 }));
    const pending = fetch(`${sim.tenant(ACME.basePath).baseUrl}/api/swagger.json`).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    await sim.close();
    assert.ok(Date.now() - started < 1000);
    assert.ok((await pending) instanceof Error);
  });
});

describe('dataset', () => {
  test('same seed -> same rows; different seed -> different rows', () => {
    const a = generateCustomers({ count: 300, seed: 1, today: TODAY });
    const b = generateCustomers({ count: 300, seed: 1, today: TODAY });
    const c = generateCustomers({ count: 300, seed: 2, today: TODAY });
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
    assert.deepEqual(generateCustomers({ count: 100, seed: 1, today: TODAY }), a.slice(0, 100)); // prefix-stable
  });

  test('rows are realistic: codes, unique names, currencies, dates within 90 days, domain', () => {
    const rows = generateCustomers({ count: 2000, seed: 3, today: TODAY, domain: '20EU' });
    assert.equal(rows[0]?.['cm_mstr.cm_addr'], 'C000001');
    assert.equal(rows[1999]?.['cm_mstr.cm_addr'], 'C002000');
    const names = rows.map((r) => r['ad_mstr.ad_name'].toLocaleLowerCase());
    assert.equal(new Set(names).size, rows.length);
    assert.deepEqual([...new Set(rows.map((r) => r['cm_mstr.cm_curr']))].sort(), ['EUR', 'GBP', 'USD']);
    assert.ok(
      rows.some((r) => /[äöüßéèàçñåøłřžčůíá]/i.test(r['ad_mstr.ad_name'])),
      'some names have umlauts/accents',
    );
    assert.ok(new Set(rows.map((r) => r['ad_mstr.ad_country'])).size >= 5);
    const oldest = addDays(TODAY, -90);
    for (const r of rows) {
      assert.match(r['cm_mstr.cm_mod_date'], /^\d{4}-\d{2}-\d{2}$/);
      assert.ok(r['cm_mstr.cm_mod_date'] >= oldest && r['cm_mstr.cm_mod_date'] < TODAY);
      assert.ok(r['ad_mstr.ad_mod_date'] <= r['cm_mstr.cm_mod_date']);
      assert.equal(r['cm_mstr.cm_domain'], '20EU');
      assert.match(r['ad_mstr.ad_email'], /^[a-z]+@[a-z0-9.-]+\.[a-z.]+$/);
      assert.ok(r['cm_mstr.cm_cr_limit'] > 0);
    }
    const days = new Set(rows.map((r) => r['cm_mstr.cm_mod_date']));
    assert.ok(days.size >= 80, 'mod dates spread over the window');
  });

  test('preexisting organisation names: a third exact, a third case, a third spaces', () => {
    const rows = generateCustomers({ count: 600, seed: 11, today: TODAY });
    const names = preexistingOrganizationNames(rows, 0.25, 5);
    assert.deepEqual(names, preexistingOrganizationNames(rows, 0.25, 5));
    assert.equal(names.length, 150);
    assert.equal(new Set(names.map((n) => n.code)).size, 150);
    const byCode = new Map(rows.map((r) => [r['cm_mstr.cm_addr'], r['ad_mstr.ad_name']]));
    const counts = { exact: 0, case: 0, spaces: 0 };
    for (const n of names) {
      const original = byCode.get(n.code);
      assert.ok(original !== undefined);
      counts[n.variant] += 1;
      if (n.variant === 'exact') assert.equal(n.name, original);
      if (n.variant === 'case') {
        assert.notEqual(n.name, original);
        assert.equal(n.name.toLocaleLowerCase(), original.toLocaleLowerCase());
      }
      if (n.variant === 'spaces') {
        assert.notEqual(n.name, original);
        assert.equal(normaliseSpaces(n.name), original);
      }
    }
    assert.deepEqual(counts, { exact: 50, case: 50, spaces: 50 });
    assert.ok(names.some((n) => n.variant === 'spaces' && n.name.trim() !== n.name));
    assert.ok(names.some((n) => n.variant === 'spaces' && n.name.trim() === n.name && n.name.includes('  ')));
  });

  test('mutateCustomers changes content of the chosen fraction, deterministically', async () => {
    const rows = generateCustomers({ count: 200, seed: 9, today: TODAY });
    const patches = mutateCustomers(rows, 0.1, 4);
    assert.deepEqual(patches, mutateCustomers(rows, 0.1, 4));
    assert.equal(patches.length, 20);
    const byCode = new Map(rows.map((r) => [r['cm_mstr.cm_addr'], r]));
    for (const p of patches) {
      const before = byCode.get(p['cm_mstr.cm_addr']) as QadCustomerRow;
      const keys = Object.keys(p).filter((k) => k !== 'cm_mstr.cm_addr') as Array<keyof QadCustomerRow>;
      assert.ok(keys.length > 0);
      assert.ok(
        keys.some((k) => p[k] !== before[k]),
        `patch for ${p['cm_mstr.cm_addr']} changes something`,
      );
    }
    await withSim({ tenants: [{ ...ACME, customers: rows }] }, async (sim) => {
      const t = sim.tenant(ACME.basePath);
      for (const p of patches) t.upsertCustomer(p);
      const changedToday = t.customers().filter((c) => c['cm_mstr.cm_mod_date'] === TODAY);
      assert.deepEqual(
        changedToday.map((c) => c['cm_mstr.cm_addr']),
        patches.map((p) => p['cm_mstr.cm_addr']),
      );
    });
  });
});
