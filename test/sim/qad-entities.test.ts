import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  startQadSim,
  type QadContactRow,
  type QadCustomerRow,
  type QadSalesOrder,
  type QadSim,
  type QadSimTenantSpec,
} from '../../scripts/simulators/qad/index.ts';
import { generateContacts, generateCustomers, generateItems, generatePrices } from '../../scripts/simulators/dataset.ts';

const TODAY = '2025-06-15';
const ACME = {
  basePath: '/acme/clouderp',
  clientId: 'acme-client',
  username: 'api.acme',
  password: 'pw-acme',
  workspaceId: '10USA_10USACO',
};
const CONTACTS = 'urn:browse:mfg:customer-contacts';
const ITEMS = 'urn:browse:mfg:items';
const PRICES = 'urn:browse:mfg:price-lists';

interface BrowseBody {
  data: Array<Record<string, unknown>>;
  auxillaryData: { HasMoreParams: boolean };
}

interface SubmitResult {
  submitResult: { success: boolean; errors: Array<{ fieldName: string; message: string; fieldValue: string; code: string }> };
}

async function login(baseUrl: string): Promise<string> {
  const res = await fetch(`${baseUrl}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'password',
      client_id: ACME.clientId,
      username: ACME.username,
      password: ACME.password,
    }).toString(),
  });
  assert.equal(res.status, 200);
  return ((await res.json()) as { access_token: string }).access_token;
}

class Client {
  constructor(
    readonly base: string,
    private readonly token: string,
  ) {}

  headers(extra: Record<string, string> = {}, workspace = true): Record<string, string> {
    const h: Record<string, string> = { authorization: `Bearer ${this.token}`, ...extra };
    if (workspace) h['x-qad-workspace-id'] = ACME.workspaceId;
    return h;
  }

  async get(path: string, query: URLSearchParams, workspace = true): Promise<{ status: number; body: unknown }> {
    const res = await fetch(`${this.base}${path}?${query.toString()}`, { headers: this.headers({}, workspace) });
    return { status: res.status, body: await res.json() };
  }

  async browse(
    browseId: string,
    opts: { page?: number; pageSize?: number; filters?: string[] } = {},
    workspace = true,
  ): Promise<{ status: number; body: unknown }> {
    const q = new URLSearchParams({ browseId });
    if (opts.page !== undefined) q.set('page', String(opts.page));
    if (opts.pageSize !== undefined) q.set('pageSize', String(opts.pageSize));
    for (const f of opts.filters ?? []) q.append('filter', f);
    return this.get('/api/qracore/browses', q, workspace);
  }

  /** Every page of a browse. */
  async browseAll(
    browseId: string,
    pageSize: number,
    filters: string[] = [],
  ): Promise<{ rows: Array<Record<string, unknown>>; pages: number }> {
    const rows: Array<Record<string, unknown>> = [];
    for (let page = 1; ; page++) {
      const r = await this.browse(browseId, { page, pageSize, filters });
      assert.equal(r.status, 200);
      const body = r.body as BrowseBody;
      rows.push(...body.data);
      if (!body.auxillaryData.HasMoreParams) return { rows, pages: page };
    }
  }

  async send(method: 'POST' | 'PUT', path: string, body: unknown, raw?: string): Promise<{ status: number; body: unknown }> {
    const res = await fetch(`${this.base}${path}`, {
      method,
      headers: this.headers({ 'content-type': 'application/json' }),
      body: raw ?? JSON.stringify(body),
    });
    return { status: res.status, body: await res.json() };
  }
}

function customer(code: string, curr: string): QadCustomerRow {
  const [row] = generateCustomers({ count: 1, seed: 99, today: TODAY });
  assert.ok(row);
  return { ...row, 'cm_mstr.cm_addr': code, 'cm_mstr.cm_curr': curr };
}

describe('QAD simulator: contacts browse', () => {
  let sim: QadSim;
  let c: Client;
  const customers = generateCustomers({ count: 40, seed: 3, today: TODAY });
  const contacts = generateContacts(customers, 3, 11);

  before(async () => {
    sim = await startQadSim({ tenants: [{ ...ACME, customers, contacts: [...contacts].reverse() }], today: () => TODAY });
    const base = sim.tenant(ACME.basePath).baseUrl;
    c = new Client(base, await login(base));
  });
  after(() => sim.close());

  test('pages through every contact in id order with the session and workspace rules', async () => {
    const { rows, pages } = await c.browseAll(CONTACTS, 25);
    assert.equal(pages, 5);
    assert.deepEqual(
      rows,
      [...contacts].sort((a, b) => (a['ct_mstr.ct_id'] < b['ct_mstr.ct_id'] ? -1 : 1)),
    );
    const last = await c.browse(CONTACTS, { page: 5, pageSize: 25 });
    assert.equal((last.body as BrowseBody).data.length, 20);
    assert.equal((last.body as BrowseBody).auxillaryData.HasMoreParams, false);
    assert.equal((await c.browse(CONTACTS, {}, false)).status, 403);
    const noToken = await fetch(`${c.base}/api/qracore/browses?browseId=${encodeURIComponent(CONTACTS)}`, {
      headers: { 'x-qad-workspace-id': ACME.workspaceId },
    });
    assert.equal(noToken.status, 401);
    const bad = await c.browse(CONTACTS, { filters: ['cm_mstr.cm_addr,eq,C000001,literal'] });
    assert.equal(bad.status, 400);
    assert.equal((bad.body as SubmitResult).submitResult.errors[0]?.code, 'INVALID_FILTER_FIELD');
  });

  test('changed-since filter on ct_mod_date, and by customer', async () => {
    const since = '2025-05-01';
    const { rows } = await c.browseAll(CONTACTS, 50, [`ct_mstr.ct_mod_date,ge,${since},literal`]);
    const expected = contacts
      .filter((r) => r['ct_mstr.ct_mod_date'] >= since)
      .map((r) => r['ct_mstr.ct_id'])
      .sort();
    assert.ok(expected.length > 0 && expected.length < contacts.length);
    assert.deepEqual(
      rows.map((r) => r['ct_mstr.ct_id']),
      expected,
    );
    const one = await c.browse(CONTACTS, { filters: ['ct_mstr.ct_cust,eq,C000007,literal'] });
    assert.deepEqual(
      (one.body as BrowseBody).data.map((r) => r['ct_mstr.ct_id']),
      contacts.filter((r) => r['ct_mstr.ct_cust'] === 'C000007').map((r) => r['ct_mstr.ct_id']),
    );
  });

  test('a moved contact changes ct_cust and gets today as mod date; stats and faults apply', async () => {
    const t = sim.tenant(ACME.basePath);
    const moving = contacts.find((r) => r['ct_mstr.ct_cust'] === 'C000002' && !r['ct_mstr.ct_primary']);
    assert.ok(moving);
    const id = moving['ct_mstr.ct_id'];
    t.upsertContact({ 'ct_mstr.ct_id': id, 'ct_mstr.ct_cust': 'C000005' });
    const moved = t.contacts().find((r) => r['ct_mstr.ct_id'] === id);
    assert.deepEqual(moved, { ...moving, 'ct_mstr.ct_cust': 'C000005', 'ct_mstr.ct_mod_date': TODAY });
    const { rows } = await c.browseAll(CONTACTS, 100, [`ct_mstr.ct_mod_date,ge,${TODAY},literal`]);
    assert.deepEqual(
      rows.map((r) => r['ct_mstr.ct_id']),
      [id],
    );
    assert.equal(rows[0]?.['ct_mstr.ct_cust'], 'C000005');

    assert.equal(t.removeContact(id), true);
    assert.equal(t.removeContact(id), false);
    assert.equal(t.contacts().length, contacts.length - 1);

    sim.resetStats();
    sim.setFault((req) => (req.path === '/api/qracore/browses' ? { status: 503 } : undefined));
    try {
      assert.equal((await c.browse(CONTACTS)).status, 503);
    } finally {
      sim.setFault(undefined);
    }
    assert.equal((await c.browse(CONTACTS, { pageSize: 1 })).status, 200);
    assert.deepEqual(sim.stats(), { calls: 2, byEndpoint: { 'GET /api/qracore/browses': 2 } });
  });
});

describe('QAD simulator: items and price lists', () => {
  let sim: QadSim;
  let c: Client;
  const items = generateItems({ count: 30, seed: 5, today: TODAY });
  const prices = generatePrices(items, ['EUR', 'USD'], 6);

  before(async () => {
    sim = await startQadSim({ tenants: [{ ...ACME, items, prices }], today: () => TODAY });
    const base = sim.tenant(ACME.basePath).baseUrl;
    c = new Client(base, await login(base));
  });
  after(() => sim.close());

  test('items browse pages and filters', async () => {
    const { rows, pages } = await c.browseAll(ITEMS, 7);
    assert.equal(pages, 5);
    assert.deepEqual(rows, items);
    const active = await c.browseAll(ITEMS, 100, ['pt_mstr.pt_status,eq,ACTIVE,literal']);
    assert.deepEqual(
      active.rows,
      items.filter((i) => i['pt_mstr.pt_status'] === 'ACTIVE'),
    );
  });

  test('price-list browse pages in (list, part, currency) order with no duplicates', async () => {
    const { rows } = await c.browseAll(PRICES, 9);
    assert.deepEqual(rows, prices);
    const keys = rows.map((r) => `${String(r['pi_mstr.pi_list'])}|${String(r['pi_mstr.pi_part_code'])}|${String(r['pi_mstr.pi_curr'])}`);
    assert.equal(new Set(keys).size, keys.length);
  });

  test('a price change updates only that row and its mod date', async () => {
    const t = sim.tenant(ACME.basePath);
    const target = prices.find((p) => p['pi_mstr.pi_list'] === 'STD' && p['pi_mstr.pi_curr'] === 'USD');
    assert.ok(target);
    assert.notEqual(target['pi_mstr.pi_mod_date'], TODAY);
    const part = target['pi_mstr.pi_part_code'];
    t.setPrice('STD', part, 'USD', target['pi_mstr.pi_list_price'] + 10);
    const changed = await c.browseAll(PRICES, 100, [`pi_mstr.pi_mod_date,ge,${TODAY},literal`]);
    assert.deepEqual(changed.rows, [
      { ...target, 'pi_mstr.pi_list_price': target['pi_mstr.pi_list_price'] + 10, 'pi_mstr.pi_mod_date': TODAY },
    ]);
    assert.equal(t.prices().length, prices.length);
    // setting the same price again is no change; a new (list, part, currency) is a new row
    t.setPrice('STD', part, 'USD', target['pi_mstr.pi_list_price'] + 10);
    t.setPrice('PROMO', part, 'EUR', 1.5);
    assert.equal(t.prices().length, prices.length + 1);
    t.upsertItem({ 'pt_mstr.pt_part': 'NEW-1', 'pt_mstr.pt_desc1': 'New part' });
    const added = t.items().find((i) => i['pt_mstr.pt_part'] === 'NEW-1');
    assert.equal(added?.['pt_mstr.pt_mod_date'], TODAY);
    assert.equal(added?.['pt_mstr.pt_um'], 'EA');
  });
});

describe('QAD simulator: sales orders and customer PUT', () => {
  let sim: QadSim;
  let c: Client;
  const items = generateItems({ count: 5, seed: 1, today: TODAY });
  const part = (i: number): string => items[i]?.['pt_mstr.pt_part'] ?? '';
  const spec: QadSimTenantSpec = {
    ...ACME,
    customers: [customer('C000001', 'EUR'), customer('C000002', 'GBP')],
    items,
    orderCurrencies: ['USD'],
  };
  const order = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
    so_cust: 'C000001',
    so_po: 'PD-DEAL-1001',
    so_ord_date: '2025-06-14',
    so_curr: 'EUR',
    so_site: '10-100',
    lines: [
      { sod_line: 1, sod_part: part(0), sod_qty_ord: 4, sod_price: 12.5, sod_disc_pct: 0 },
      { sod_line: 2, sod_part: part(1), sod_qty_ord: 1, sod_price: 99, sod_disc_pct: 10, sod_um: 'BX', sod_due_date: '2025-07-01' },
    ],
    ...over,
  });

  before(async () => {
    sim = await startQadSim({ tenants: [spec], today: () => TODAY });
    const base = sim.tenant(ACME.basePath).baseUrl;
    c = new Client(base, await login(base));
  });
  after(() => sim.close());

  test('creates an order with a generated number', async () => {
    const res = await c.send('POST', '/api/erp/salesOrderHeaders', order({ so_due_date: '2025-06-30' }));
    assert.equal(res.status, 200);
    const so = res.body as QadSalesOrder;
    assert.match(so.so_nbr, /^S\d{7}$/);
    assert.equal(so.so_cust, 'C000001');
    assert.equal(so.so_po, 'PD-DEAL-1001');
    assert.equal(so.so_domain, spec.customers?.[0]?.['cm_mstr.cm_domain']);
    assert.equal(so.lines.length, 2);
    assert.equal(so.lines[0]?.sod_um, items[0]?.['pt_mstr.pt_um']);
    assert.equal(so.lines[0]?.sod_due_date, '2025-06-30');
    assert.equal(so.lines[0]?.sod_list_pr, items[0]?.['pt_mstr.pt_price']);
    assert.equal(so.lines[1]?.sod_um, 'BX');
    assert.equal(so.lines[1]?.sod_due_date, '2025-07-01');
    assert.deepEqual(sim.tenant(ACME.basePath).salesOrders(), [so]);

    // an extra tenant currency is allowed; a second order gets the next number
    const usd = await c.send('POST', '/api/erp/salesOrderHeaders', order({ so_po: 'PD-DEAL-1002', so_curr: 'USD' }));
    assert.equal(usd.status, 200);
    assert.notEqual((usd.body as QadSalesOrder).so_nbr, so.so_nbr);
    assert.equal((usd.body as QadSalesOrder).so_due_date, '2025-06-14');
  });

  test('rejects an unknown customer, an unknown item and a currency not allowed, in the submitResult shape', async () => {
    const before = sim.tenant(ACME.basePath).salesOrders().length;
    const reject = async (body: Record<string, unknown>): Promise<SubmitResult['submitResult']['errors']> => {
      const res = await c.send('POST', '/api/erp/salesOrderHeaders', body);
      assert.equal(res.status, 422);
      const r = res.body as SubmitResult;
      assert.equal(r.submitResult.success, false);
      for (const e of r.submitResult.errors) {
        assert.deepEqual(Object.keys(e).sort(), ['code', 'fieldName', 'fieldValue', 'message']);
      }
      return r.submitResult.errors;
    };
    const cust = await reject(order({ so_cust: 'NOPE' }));
    assert.deepEqual(
      cust.map((e) => [e.fieldName, e.fieldValue, e.code]),
      [['so_cust', 'NOPE', 'UNKNOWN_CUSTOMER']],
    );
    const item = await reject(order({ lines: [{ sod_line: 1, sod_part: 'NO-SUCH-PART', sod_qty_ord: 1, sod_price: 1, sod_disc_pct: 0 }] }));
    assert.deepEqual(
      item.map((e) => [e.fieldName, e.fieldValue, e.code]),
      [['sod_part', 'NO-SUCH-PART', 'UNKNOWN_ITEM']],
    );
    const curr = await reject(order({ so_cust: 'C000002', so_curr: 'EUR' }));
    assert.deepEqual(
      curr.map((e) => [e.fieldName, e.fieldValue, e.code]),
      [['so_curr', 'EUR', 'CURRENCY_NOT_ALLOWED']],
    );
    const shape = await reject(order({ so_po: '', lines: [] }));
    assert.deepEqual(shape.map((e) => e.fieldName).sort(), ['lines', 'so_po']);
    const invalidJson = await c.send('POST', '/api/erp/salesOrderHeaders', null, '{not json');
    assert.equal(invalidJson.status, 400);
    assert.equal((invalidJson.body as SubmitResult).submitResult.success, false);
    assert.equal(sim.tenant(ACME.basePath).salesOrders().length, before);
  });

  test('looks orders up by customer PO', async () => {
    const created = await c.send('POST', '/api/erp/salesOrderHeaders', order({ so_po: 'PD-DEAL-2001, rush' }));
    assert.equal(created.status, 200);
    const q = (po: string): URLSearchParams => new URLSearchParams({ filter: `so_mstr.so_po,eq,${po},literal` });
    const found = await c.get('/api/erp/salesOrderHeaders', q('PD-DEAL-2001, rush'));
    assert.equal(found.status, 200);
    assert.deepEqual((found.body as { data: QadSalesOrder[] }).data, [created.body]);
    const none = await c.get('/api/erp/salesOrderHeaders', q('PD-DEAL-404'));
    assert.deepEqual(none.body, { data: [], auxillaryData: { HasMoreParams: false } });
    const bad = await c.get('/api/erp/salesOrderHeaders', new URLSearchParams({ filter: 'so_mstr.so_po,xx,1,literal' }));
    assert.equal(bad.status, 400);
    assert.equal((await c.get('/api/erp/salesOrderHeaders', q('PD-DEAL-2001, rush'), false)).status, 403);
  });

  test('PUT customerV2s/{code} stores the Pipedrive organization id', async () => {
    const t = sim.tenant(ACME.basePath);
    const before = t.customers().find((r) => r['cm_mstr.cm_addr'] === 'C000002');
    assert.ok(before);
    assert.equal(before['cm_mstr.cm_user1'], undefined);
    const res = await c.send('PUT', '/api/erp/customerV2s/C000002', { cm_user1: '123' });
    assert.equal(res.status, 200);
    const after = t.customers().find((r) => r['cm_mstr.cm_addr'] === 'C000002');
    assert.deepEqual(after, { ...before, 'cm_mstr.cm_user1': '123', 'cm_mstr.cm_mod_date': TODAY });
    assert.deepEqual(res.body, after);
    const browse = await c.browse('urn:browse:mfg:customers', { filters: ['cm_mstr.cm_addr,eq,C000002,literal'] });
    assert.equal((browse.body as BrowseBody).data[0]?.['cm_mstr.cm_user1'], '123');

    assert.equal((await c.send('PUT', '/api/erp/customerV2s/NOPE', { cm_user1: '1' })).status, 404);
    const unknown = await c.send('PUT', '/api/erp/customerV2s/C000002', { nonsense: 1 });
    assert.equal(unknown.status, 422);
    assert.equal((unknown.body as SubmitResult).submitResult.errors[0]?.code, 'UNKNOWN_FIELD');
    const wrongMethod = await fetch(`${c.base}/api/erp/customerV2s/C000002`, { method: 'DELETE', headers: c.headers() });
    assert.equal(wrongMethod.status, 405);
  });

  test('swagger lists the new paths and browses', async () => {
    const res = await fetch(`${c.base}/api/swagger.json`, { headers: c.headers() });
    assert.equal(res.status, 200);
    interface Op {
      parameters: Array<{ name: string; in: string; schema: { enum?: string[] } }>;
    }
    const doc = (await res.json()) as { paths: Record<string, Record<string, Op>> };
    assert.deepEqual(Object.keys(doc.paths['/api/erp/salesOrderHeaders'] ?? {}).sort(), ['get', 'post']);
    assert.deepEqual(Object.keys(doc.paths['/api/erp/customerV2s/{code}'] ?? {}), ['put']);
    assert.ok(doc.paths['/api/erp/customerV2s/{code}']?.['put']?.parameters.some((p) => p.name === 'code' && p.in === 'path'));
    const browseId = doc.paths['/api/qracore/browses']?.['get']?.parameters.find((p) => p.name === 'browseId');
    assert.deepEqual(browseId?.schema.enum, [CONTACTS, 'urn:browse:mfg:customers', ITEMS, PRICES, 'urn:browse:mfg:sales-order-lines']);
  });

  test("the order-line browse: a row per line with its header, filtered by customer PO; the order desk's changes show", async () => {
    const made = (await c.send('POST', '/api/erp/salesOrderHeaders', order({ so_po: 'PD-LINES-7' }))).body as QadSalesOrder;
    await c.send('POST', '/api/erp/salesOrderHeaders', order({ so_po: 'OTHER-1' }));
    const browse = async () => {
      const query = new URLSearchParams({ browseId: 'urn:browse:mfg:sales-order-lines', filter: 'so_mstr.so_po,sw,PD-LINES-,literal' });
      const res = await c.get('/api/qracore/browses', query);
      assert.equal(res.status, 200);
      return (res.body as { data: Array<Record<string, unknown>> }).data;
    };
    const rows = await browse();
    assert.deepEqual(
      rows.map((r) => [
        r['so_mstr.so_nbr'],
        r['sod_det.sod_line'],
        r['sod_det.sod_qty_ord'],
        r['sod_det.sod_qty_ship'],
        r['so_mstr.so_stat'],
      ]),
      [
        [made.so_nbr, 1, 4, 0, ''],
        [made.so_nbr, 2, 1, 0, ''],
      ],
    );
    const tenant = sim.tenant(ACME.basePath);
    tenant.changeSalesOrder(made.so_nbr, { so_stat: 'HD', so_conf_date: '2025-07-04', so_inv_nbr: 'I-9', shipped: { 2: 1 } });
    const [first, second] = await browse();
    assert.deepEqual(
      [first?.['so_mstr.so_stat'], first?.['so_mstr.so_conf_date'], first?.['so_mstr.so_inv_nbr']],
      ['HD', '2025-07-04', 'I-9'],
    );
    assert.equal(second?.['sod_det.sod_qty_ship'], 1);
    assert.throws(() => tenant.changeSalesOrder(made.so_nbr, { shipped: { 9: 1 } }), /has no line 9/u);
    assert.equal(tenant.removeSalesOrder(made.so_nbr), true);
    assert.deepEqual(await browse(), []);
  });
});

describe('dataset: contacts, items, prices', () => {
  const customers = generateCustomers({ count: 60, seed: 21, today: TODAY });

  test('contacts are deterministic with one primary per customer and realistic gaps', () => {
    const a = generateContacts(customers, 4, 8);
    assert.deepEqual(generateContacts(customers, 4, 8), a);
    assert.notDeepEqual(generateContacts(customers, 4, 9), a);
    assert.equal(a.length, 240);
    assert.equal(new Set(a.map((r) => r['ct_mstr.ct_id'])).size, a.length);
    const byCust = new Map<string, QadContactRow[]>();
    for (const r of a) byCust.set(r['ct_mstr.ct_cust'], [...(byCust.get(r['ct_mstr.ct_cust']) ?? []), r]);
    assert.equal(byCust.size, 60);
    for (const list of byCust.values()) {
      const primaries = list.filter((r) => r['ct_mstr.ct_primary']);
      assert.equal(primaries.length, 1);
      assert.equal(primaries[0]?.['ct_mstr.ct_active'], true);
    }
    assert.ok(a.some((r) => r['ct_mstr.ct_email'] === ''));
    assert.ok(a.some((r) => r['ct_mstr.ct_phone'] === ''));
    assert.ok(a.some((r) => !r['ct_mstr.ct_active']));
    assert.ok(a.filter((r) => r['ct_mstr.ct_email'] !== '').every((r) => /^[a-z0-9.]+@[a-z0-9.-]+$/.test(r['ct_mstr.ct_email'])));
    assert.ok(a.every((r) => /^\d{4}-\d{2}-\d{2}$/.test(r['ct_mstr.ct_mod_date']) && r['ct_mstr.ct_mod_date'] <= TODAY));
  });

  test('items and prices are deterministic, one price per list, item and currency', () => {
    const items = generateItems({ count: 50, seed: 4, today: TODAY });
    assert.deepEqual(generateItems({ count: 50, seed: 4, today: TODAY }), items);
    assert.notDeepEqual(generateItems({ count: 50, seed: 5, today: TODAY }), items);
    assert.equal(new Set(items.map((i) => i['pt_mstr.pt_part'])).size, 50);
    assert.ok(items.every((i) => i['pt_mstr.pt_price'] > 0 && i['pt_mstr.pt_mod_date'] <= TODAY));
    const prices = generatePrices(items, ['USD', 'EUR', 'EUR'], 2);
    assert.deepEqual(generatePrices(items, ['USD', 'EUR'], 2), prices);
    const keys = prices.map((p) => `${p['pi_mstr.pi_list']}|${p['pi_mstr.pi_part_code']}|${p['pi_mstr.pi_curr']}`);
    assert.equal(new Set(keys).size, keys.length);
    assert.equal(prices.filter((p) => p['pi_mstr.pi_list'] === 'STD').length, 100);
    assert.ok(prices.some((p) => p['pi_mstr.pi_list'] === 'VOLUME'));
    assert.ok(prices.every((p) => p['pi_mstr.pi_list_price'] > 0));
  });
});
