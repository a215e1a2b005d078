/**
 * The Pipedrive simulator's persons, products, deals and deal products (real HTTP against the sim).
 * The organization endpoints are covered by pipedrive-sim.test.ts.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { lineSum, type PipedriveSim, type PipedriveSimOptions } from '../../scripts/simulators/pipedrive/index.ts';
import { withPipedriveSim } from './with-pipedrive-sim.ts';
import { findOperation, successStatus, validateAgainst } from '../../scripts/simulators/pipedrive/spec.ts';

const TOKEN = 'test-token-entities';
const T0 = Date.parse('2026-09-01T10:00:00Z');

interface Reply {
  status: number;
  json: Record<string, unknown>;
}

function clock(start = T0): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

const withSim = (options: Partial<PipedriveSimOptions>, fn: (sim: PipedriveSim) => Promise<void>) =>
  withPipedriveSim({ apiToken: TOKEN, ...options }, fn);

async function call(sim: PipedriveSim, method: string, path: string, body?: unknown): Promise<Reply> {
  const headers: Record<string, string> = { 'x-api-token': TOKEN };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${sim.url}/api/v2${path}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  const text = await res.text();
  const json: unknown = text.length > 0 ? JSON.parse(text) : {};
  assert.ok(typeof json === 'object' && json !== null && !Array.isArray(json), `expected a JSON object, got ${text}`);
  return { status: res.status, json: json as Record<string, unknown> };
}

function obj(value: unknown): Record<string, unknown> {
  assert.ok(typeof value === 'object' && value !== null && !Array.isArray(value), `expected an object, got ${JSON.stringify(value)}`);
  return value as Record<string, unknown>;
}

function arr(value: unknown): unknown[] {
  assert.ok(Array.isArray(value), `expected an array, got ${JSON.stringify(value)}`);
  return value;
}

function ok(reply: Reply): Record<string, unknown> {
  assert.ok(reply.status === 200 || reply.status === 201, `${reply.status} ${JSON.stringify(reply.json)}`);
  return reply.json;
}

function assertValidation(reply: Reply, mentions?: RegExp): void {
  assert.equal(reply.status, 400, JSON.stringify(reply.json));
  assert.equal(reply.json['success'], false);
  assert.equal(reply.json['code'], 'ERR_SCHEMA_VALIDATION_FAILED');
  const error = String(reply.json['error']);
  assert.match(error, /^Validation failed: /);
  if (mentions) assert.match(error, mentions);
}

/** Drops null values: the spec types many fields Pipedrive returns as null as non-nullable. */
function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== null)
        .map(([k, v]) => [k, withoutNulls(v)]),
    );
  }
  return value;
}

/** The response validates against the spec's 200 response schema for the operation (nulls aside). */
function assertMatchesSpec(method: string, path: string, json: Record<string, unknown>): void {
  const operation = findOperation(method, path);
  const schema = operation && operation.responses?.[String(successStatus(operation))];
  assert.ok(schema, `no response schema for ${method} ${path}`);
  assert.equal(validateAgainst(schema, withoutNulls(json)), undefined);
}

function ids(json: Record<string, unknown>): number[] {
  return arr(json['data']).map((r) => Number(obj(r)['id']));
}

describe('persons', () => {
  test('create with org_id, emails and phones; get, list by org_id, patch; search by email within an organization', async () => {
    const c = clock();
    await withSim({ now: c.now }, async (sim) => {
      const acme = sim.seedOrganization({ name: 'Acme' });
      const other = sim.seedOrganization({ name: 'Other' });
      const created = ok(
        await call(sim, 'POST', '/persons', {
          name: 'Ann Lee',
          org_id: acme,
          emails: [
            { value: 'ann@acme.com', primary: true, label: 'work' },
            { value: 'ann@home.net', primary: false, label: 'home' },
          ],
          phones: [{ value: '+44 20 7946 0000', primary: true, label: 'mobile' }],
          job_title: 'Buyer',
        }),
      );
      assertMatchesSpec('POST', '/persons', created);
      const person = obj(created['data']);
      const id = Number(person['id']);
      assert.equal(person['org_id'], acme);
      assert.deepEqual(person['emails'], [
        { value: 'ann@acme.com', primary: true, label: 'work' },
        { value: 'ann@home.net', primary: false, label: 'home' },
      ]);
      assert.deepEqual(person['phones'], [{ value: '+44 20 7946 0000', primary: true, label: 'mobile' }]);
      assert.equal(person['job_title'], 'Buyer');

      // same email at another organization
      sim.seedPerson({ name: 'Ann Lee', org_id: other, emails: [{ value: 'ann@acme.com' }] });
      assert.equal(sim.persons().length, 2);
      assert.deepEqual(sim.persons()[1]?.emails, [{ value: 'ann@acme.com', primary: true, label: 'work' }]);

      const got = ok(await call(sim, 'GET', `/persons/${id}`));
      assertMatchesSpec('GET', '/persons/{id}', got);
      const listed = ok(await call(sim, 'GET', `/persons?org_id=${acme}&limit=500`));
      assertMatchesSpec('GET', '/persons', listed);
      assert.deepEqual(ids(listed), [id]);
      assertValidation(await call(sim, 'GET', '/persons?limit=501'), /limit/);

      c.advance(2000);
      const patched = obj(ok(await call(sim, 'PATCH', `/persons/${id}`, { job_title: 'Head of buying' }))['data']);
      assert.equal(patched['job_title'], 'Head of buying');
      assert.deepEqual(patched['emails'], person['emails'], 'a partial PATCH keeps the rest');
      const since = ok(await call(sim, 'GET', `/persons?updated_since=${encodeURIComponent('2026-09-01T10:00:01Z')}`));
      assert.deepEqual(ids(since), [id]);

      const search = ok(await call(sim, 'GET', `/persons/search?term=ANN@acme.com&fields=email&exact_match=true&organization_id=${acme}`));
      assertMatchesSpec('GET', '/persons/search', search);
      const items = arr(obj(search['data'])['items']).map((i) => obj(obj(i)['item']));
      assert.deepEqual(
        items.map((i) => i['id']),
        [id],
      );
      assert.deepEqual(obj(items[0]?.['organization'])['id'], acme);
      const both = ok(await call(sim, 'GET', '/persons/search?term=ann@acme.com&fields=email&exact_match=true'));
      assert.equal(arr(obj(both['data'])['items']).length, 2);
      const byName = ok(await call(sim, 'GET', '/persons/search?term=lee&fields=name'));
      assert.equal(arr(obj(byName['data'])['items']).length, 2);
      assertValidation(await call(sim, 'GET', '/persons/search?term=ann&fields=address'), /fields/);

      assertValidation(await call(sim, 'POST', '/persons', { name: 'X', emails: 'x@y.z' }), /emails/);
      assertValidation(await call(sim, 'POST', '/persons', { name: 'X', org_id: '5' }), /org_id/);
      assert.equal((await call(sim, 'GET', '/persons/999')).status, 404);
    });
  });
});

describe('products', () => {
  test('create with two prices; PATCH with one price replaces the array; unknown currency is a 400; search by code', async () => {
    await withSim({ currencies: ['EUR', 'USD'] }, async (sim) => {
      const created = ok(
        await call(sim, 'POST', '/products', {
          name: 'Widget',
          code: 'W-100',
          unit: 'pcs',
          tax: 20,
          prices: [
            { currency: 'EUR', price: 10, cost: 4 },
            { currency: 'USD', price: 11.5, cost: 4.5, direct_cost: 1 },
          ],
        }),
      );
      assertMatchesSpec('POST', '/products', created);
      const product = obj(created['data']);
      const id = Number(product['id']);
      assert.equal(product['code'], 'W-100');
      assert.equal(product['unit'], 'pcs');
      assert.equal(product['tax'], 20);
      assert.equal(product['is_deleted'], false);
      assert.deepEqual(
        arr(product['prices']).map((p) => {
          const { currency, price, cost, direct_cost } = obj(p);
          return { currency, price, cost, direct_cost };
        }),
        [
          { currency: 'EUR', price: 10, cost: 4, direct_cost: null },
          { currency: 'USD', price: 11.5, cost: 4.5, direct_cost: 1 },
        ],
      );

      const patched = ok(await call(sim, 'PATCH', `/products/${id}`, { prices: [{ currency: 'USD', price: 12 }] }));
      assertMatchesSpec('PATCH', '/products/{id}', patched);
      const prices = arr(obj(patched['data'])['prices']).map((p) => obj(p));
      assert.deepEqual(
        prices.map((p) => [p['currency'], p['price']]),
        [['USD', 12]],
        'the EUR price is gone',
      );
      const unchanged = ok(await call(sim, 'PATCH', `/products/${id}`, { unit: 'box' }));
      assert.equal(arr(obj(unchanged['data'])['prices']).length, 1, 'a PATCH without prices keeps them');

      // GBP is not a currency of this company
      const bad = await call(sim, 'POST', '/products', { name: 'Gadget', prices: [{ currency: 'GBP', price: 1 }] });
      assertValidation(bad, /currency/);
      assert.deepEqual(Object.keys(bad.json).sort(), ['code', 'error', 'success']);
      assertValidation(await call(sim, 'PATCH', `/products/${id}`, { prices: [{ currency: 'GBP', price: 1 }] }), /currency/);
      assertValidation(
        await call(sim, 'POST', '/products', {
          name: 'Twice',
          prices: [
            { currency: 'EUR', price: 1 },
            { currency: 'EUR', price: 2 },
          ],
        }),
        /one price per currency/,
      );
      assertValidation(await call(sim, 'POST', '/products', { code: 'NO-NAME' }), /name/);
      assert.equal(sim.products().length, 1);

      sim.seedProduct({ name: 'Widget large', code: 'W-1000', prices: [{ currency: 'EUR', price: 20 }] });
      assert.throws(() => sim.seedProduct({ name: 'Yen', prices: [{ currency: 'JPY', price: 1 }] }), /currency/);
      const exact = ok(await call(sim, 'GET', '/products/search?term=w-100&fields=code&exact_match=true'));
      const items = arr(obj(exact['data'])['items']).map((i) => obj(obj(i)['item']));
      assert.deepEqual(
        items.map((i) => [i['id'], i['code']]),
        [[id, 'W-100']],
      );
      const partial = ok(await call(sim, 'GET', '/products/search?term=W-100&fields=code'));
      assert.equal(arr(obj(partial['data'])['items']).length, 2);
      const listed = ok(await call(sim, 'GET', '/products?limit=500'));
      assertMatchesSpec('GET', '/products', listed);
      assert.equal(ids(listed).length, 2);
      assertMatchesSpec('GET', '/products/{id}', ok(await call(sim, 'GET', `/products/${id}`)));
    });
  });
});

describe('deals and deal products', () => {
  test('list by status=won and updated_since (inclusive); PATCH and updateDeal stamp won_time', async () => {
    const c = clock();
    await withSim({ now: c.now }, async (sim) => {
      const org = sim.seedOrganization({ name: 'Acme' });
      const person = sim.seedPerson({ name: 'Ann', org_id: org });
      const won1 = sim.seedDeal({ title: 'Won early', value: 100, currency: 'EUR', status: 'won', org_id: org, person_id: person });
      c.advance(60_000);
      const open = sim.seedDeal({ title: 'Open', value: 50, currency: 'USD' });
      const lost = sim.seedDeal({ title: 'Lost', status: 'lost' });
      const won2 = sim.seedDeal({ title: 'Won later', value: 200, status: 'won', won_time: '2026-08-30T09:00:00Z' });

      const won = ok(await call(sim, 'GET', '/deals?status=won&limit=500'));
      assertMatchesSpec('GET', '/deals', won);
      assert.deepEqual(ids(won), [won1, won2]);
      const first = obj(arr(won['data'])[0]);
      assert.equal(first['won_time'], '2026-09-01T10:00:00Z');
      assert.equal(first['org_id'], org);
      assert.equal(first['person_id'], person);
      assert.equal(obj(arr(won['data'])[1])['won_time'], '2026-08-30T09:00:00Z');

      const since = '2026-09-01T10:01:00Z'; // exactly the second the later deals were written
      const recent = ok(await call(sim, 'GET', `/deals?status=won&updated_since=${encodeURIComponent(since)}`));
      assert.deepEqual(ids(recent), [won2]);
      const all = ok(await call(sim, 'GET', `/deals?updated_since=${encodeURIComponent(since)}`));
      assert.deepEqual(ids(all), [open, lost, won2]);
      assert.deepEqual(ids(ok(await call(sim, 'GET', '/deals?status=open,lost'))), [open, lost]);
      assertValidation(await call(sim, 'GET', '/deals?status=closed'), /status/);

      // cursor paging
      const page1 = ok(await call(sim, 'GET', '/deals?limit=2'));
      assert.deepEqual(ids(page1), [won1, open]);
      const cursor = String(obj(page1['additional_data'])['next_cursor']);
      const page2 = ok(await call(sim, 'GET', `/deals?limit=2&cursor=${encodeURIComponent(cursor)}`));
      assert.deepEqual(ids(page2), [lost, won2]);
      assert.equal(obj(page2['additional_data'])['next_cursor'], null);

      const got = ok(await call(sim, 'GET', `/deals/${won1}`));
      assertMatchesSpec('GET', '/deals/{id}', got);
      assert.equal(obj(got['data'])['value'], 100);

      // reopen through the API, win again through the admin API
      c.advance(60_000);
      const reopened = ok(await call(sim, 'PATCH', `/deals/${won1}`, { status: 'open' }));
      assertMatchesSpec('PATCH', '/deals/{id}', reopened);
      assert.equal(obj(reopened['data'])['won_time'], null);
      c.advance(60_000);
      sim.updateDeal(won1, { status: 'won' });
      const again = sim.deals().find((d) => d.id === won1);
      assert.equal(again?.status, 'won');
      assert.equal(again?.won_time, '2026-09-01T10:03:00Z');
      assert.equal(again?.update_time, '2026-09-01T10:03:00Z');
      assertValidation(await call(sim, 'PATCH', `/deals/${won1}`, { status: 'closed' }), /status/);
      assertValidation(await call(sim, 'PATCH', `/deals/${won1}`, { currency: 'CHF' }), /currency/);
      assert.equal((await call(sim, 'PATCH', '/deals/999', { title: 'x' })).status, 404);
    });
  });

  test('lines: per deal and in bulk (2 deals, 10 tokens); 101 ids is a 400; sum with a percentage discount', async () => {
    await withSim({}, async (sim) => {
      const widget = sim.seedProduct({ name: 'Widget', code: 'W', prices: [{ currency: 'EUR', price: 100 }] });
      const gadget = sim.seedProduct({ name: 'Gadget' });
      const d1 = sim.seedDeal({
        title: 'D1',
        currency: 'EUR',
        status: 'won',
        lines: [
          { product_id: widget, item_price: 100, quantity: 3, discount: 10, discount_type: 'percentage', tax: 20, tax_method: 'exclusive' },
          { product_id: gadget, item_price: 40, quantity: 2, discount: 5, discount_type: 'amount', tax: 20, tax_method: 'inclusive' },
        ],
      });
      const d2 = sim.seedDeal({
        title: 'D2',
        currency: 'USD',
        lines: [{ product_id: widget, name: 'Widget (custom)', item_price: 9.99, quantity: 3 }],
      });
      const empty = sim.seedDeal({ title: 'No lines' });

      // 3 x 100 = 300, less 10 % = 270, plus 20 % tax on top = 324; 2 x 40 - 5 = 75 (tax included)
      const lines = sim.dealProducts(d1);
      assert.deepEqual(
        lines.map((l) => [l.product_id, l.name, l.sum, l.currency, l.discount_type, l.is_enabled]),
        [
          [widget, 'Widget', 324, 'EUR', 'percentage', true],
          [gadget, 'Gadget', 75, 'EUR', 'amount', true],
        ],
      );
      assert.equal(sim.deals().find((d) => d.id === d1)?.value, 399, 'a seeded deal without value is the sum of its lines');
      assert.equal(lineSum({ item_price: 10, quantity: 4, discount: 25, discount_type: 'percentage', tax_method: 'none', tax: 20 }), 30);

      const one = ok(await call(sim, 'GET', `/deals/${d1}/products`));
      assertMatchesSpec('GET', '/deals/{id}/products', one);
      assert.deepEqual(
        arr(one['data']).map((l) => obj(l)['sum']),
        [324, 75],
      );
      assert.equal((await call(sim, 'GET', '/deals/999/products')).status, 404);

      sim.resetStats();
      const bulk = ok(await call(sim, 'GET', `/deals/products?deal_ids=${d1},${d2},${empty}&limit=500`));
      assertMatchesSpec('GET', '/deals/products', bulk);
      const bulkLines = arr(bulk['data']).map((l) => obj(l));
      assert.deepEqual(
        bulkLines.map((l) => [l['deal_id'], l['sum'], l['currency']]),
        [
          [d1, 324, 'EUR'],
          [d1, 75, 'EUR'],
          [d2, 29.97, 'USD'],
        ],
      );
      const first = bulkLines[0];
      assert.ok(first);
      for (const key of [
        'id',
        'deal_id',
        'product_id',
        'name',
        'item_price',
        'quantity',
        'discount',
        'discount_type',
        'tax',
        'tax_method',
        'sum',
        'currency',
        'is_enabled',
      ]) {
        assert.ok(key in first, `line has ${key}`);
      }
      assert.deepEqual(sim.stats().byEndpoint['GET /api/v2/deals/products'], { calls: 1, tokens: 10 });

      // paging through the bulk result
      const p1 = ok(await call(sim, 'GET', `/deals/products?deal_ids=${d1},${d2}&limit=2`));
      assert.equal(arr(p1['data']).length, 2);
      const cursor = String(obj(p1['additional_data'])['next_cursor']);
      const p2 = ok(await call(sim, 'GET', `/deals/products?deal_ids=${d1},${d2}&limit=2&cursor=${encodeURIComponent(cursor)}`));
      assert.deepEqual(
        arr(p2['data']).map((l) => obj(l)['deal_id']),
        [d2],
      );

      const tooMany = Array.from({ length: 101 }, (_, i) => i + 1).join(',');
      assertValidation(await call(sim, 'GET', `/deals/products?deal_ids=${tooMany}`), /deal_ids/);
      const hundred = Array.from({ length: 100 }, (_, i) => i + 1).join(',');
      assert.equal(arr(ok(await call(sim, 'GET', `/deals/products?deal_ids=${hundred}`))['data']).length, 3);
      assertValidation(await call(sim, 'GET', '/deals/products?deal_ids=a,b'), /deal_ids/);
      assertValidation(await call(sim, 'GET', '/deals/products'), /deal_ids/);
    });
  });
});

describe('custom fields of persons, products and deals', () => {
  test('fields endpoints list and create; values are enforced by type; the v1 top-level style is rejected', async () => {
    await withSim({}, async (sim) => {
      const entities = [
        { kind: 'person', fields: '/personFields', path: '/persons', create: { name: 'P' } },
        { kind: 'product', fields: '/productFields', path: '/products', create: { name: 'Prod' } },
        { kind: 'deal', fields: '/dealFields', path: '/deals', create: undefined },
      ] as const;
      for (const e of entities) {
        const listed = ok(await call(sim, 'GET', `${e.fields}?limit=500`));
        assertMatchesSpec('GET', e.fields, listed);
        assert.ok(
          arr(listed['data']).every((f) => obj(f)['is_custom_field'] === false),
          `${e.kind}: only standard fields at first`,
        );

        const made = obj(
          ok(await call(sim, 'POST', e.fields, { field_name: 'Tier', field_type: 'enum', options: [{ label: 'A' }, { label: 'B' }] }))[
            'data'
          ],
        );
        const tier = String(made['field_code']);
        assert.match(tier, /^[0-9a-f]{40}$/);
        const optionA = Number(obj(arr(made['options'])[0])['id']);
        const credit = sim.addCustomField(e.kind, { field_name: 'Credit', field_type: 'monetary' });
        const ref = sim.addCustomField(e.kind, { field_name: 'Ref', field_type: 'varchar' });
        assert.deepEqual(
          sim.customFields(e.kind).map((f) => f.field_name),
          ['Tier', 'Credit', 'Ref'],
        );

        const id =
          e.create === undefined
            ? sim.seedDeal({ title: 'D', custom_fields: { [ref]: 'R-1' } })
            : Number(obj(ok(await call(sim, 'POST', e.path, { ...e.create, custom_fields: { [ref]: 'R-1' } }))['data'])['id']);
        const good = ok(
          await call(sim, 'PATCH', `${e.path}/${id}`, { custom_fields: { [tier]: optionA, [credit]: { value: 1500, currency: 'EUR' } } }),
        );
        assert.deepEqual(obj(obj(good['data'])['custom_fields']), {
          [tier]: optionA,
          [credit]: { value: 1500, currency: 'EUR' },
          [ref]: 'R-1',
        });

        assertValidation(await call(sim, 'PATCH', `${e.path}/${id}`, { custom_fields: { [tier]: 'A' } }), /enum/);
        assertValidation(await call(sim, 'PATCH', `${e.path}/${id}`, { custom_fields: { [tier]: 999_999 } }), /option/);
        assertValidation(await call(sim, 'PATCH', `${e.path}/${id}`, { custom_fields: { [credit]: 1500 } }), /monetary/);
        assertValidation(await call(sim, 'PATCH', `${e.path}/${id}`, { custom_fields: { [ref]: 42 } }), /string|varchar/);
        assertValidation(await call(sim, 'PATCH', `${e.path}/${id}`, { custom_fields: { ['f'.repeat(40)]: 'x' } }), /unknown custom field/);
        assertValidation(await call(sim, 'PATCH', `${e.path}/${id}`, { [ref]: 'v1 style' }), /unknown property/);

        const cleared = ok(await call(sim, 'PATCH', `${e.path}/${id}`, { custom_fields: { [ref]: null } }));
        assert.equal(obj(obj(cleared['data'])['custom_fields'])[ref], null);
      }
      // an organization field stays an organization field
      assert.deepEqual(sim.customFields('organization'), []);
      assert.throws(() => sim.seedPerson({ name: 'X', custom_fields: { ['0'.repeat(40)]: 'x' } }), /unknown custom field/);
    });
  });

  test('custom field values are searchable for persons and products', async () => {
    await withSim({}, async (sim) => {
      const personRef = sim.addCustomField('person', { field_name: 'QAD contact', field_type: 'varchar' });
      const productRef = sim.addCustomField('product', { field_name: 'QAD item', field_type: 'varchar' });
      const p = sim.seedPerson({ name: 'Bo', custom_fields: { [personRef]: 'C-0042' } });
      const q = sim.seedProduct({ name: 'Bolt', custom_fields: { [productRef]: 'I-0042' } });
      const persons = ok(await call(sim, 'GET', '/persons/search?term=c-0042&fields=custom_fields&exact_match=true'));
      assert.deepEqual(
        arr(obj(persons['data'])['items']).map((i) => obj(obj(i)['item'])['id']),
        [p],
      );
      const products = ok(await call(sim, 'GET', '/products/search?term=I-0042&fields=custom_fields&exact_match=true'));
      assert.deepEqual(
        arr(obj(products['data'])['items']).map((i) => obj(obj(i)['item'])['id']),
        [q],
      );
    });
  });
});

describe('token costs of the new endpoints follow the extract', () => {
  test('every call is charged what the spec says', async () => {
    await withSim({}, async (sim) => {
      const product = sim.seedProduct({ name: 'Widget' });
      const person = sim.seedPerson({ name: 'Ann' });
      const deal = sim.seedDeal({ title: 'D', lines: [{ product_id: product, item_price: 1, quantity: 1 }] });
      const calls: Array<[string, string, string, unknown]> = [
        ['GET', '/persons', '/persons', undefined],
        ['GET', `/persons/${person}`, '/persons/{id}', undefined],
        ['POST', '/persons', '/persons', { name: 'New' }],
        ['PATCH', `/persons/${person}`, '/persons/{id}', { job_title: 'CEO' }],
        ['GET', '/persons/search?term=ann', '/persons/search', undefined],
        ['GET', '/personFields', '/personFields', undefined],
        ['POST', '/personFields', '/personFields', { field_name: 'F', field_type: 'text' }],
        ['GET', '/products', '/products', undefined],
        ['GET', `/products/${product}`, '/products/{id}', undefined],
        ['POST', '/products', '/products', { name: 'New' }],
        ['PATCH', `/products/${product}`, '/products/{id}', { unit: 'kg' }],
        ['GET', '/products/search?term=wid', '/products/search', undefined],
        ['GET', '/productFields', '/productFields', undefined],
        ['POST', '/productFields', '/productFields', { field_name: 'F', field_type: 'double' }],
        ['GET', '/deals', '/deals', undefined],
        ['GET', `/deals/${deal}`, '/deals/{id}', undefined],
        ['PATCH', `/deals/${deal}`, '/deals/{id}', { title: 'D2' }],
        ['GET', `/deals/${deal}/products`, '/deals/{id}/products', undefined],
        ['GET', `/deals/products?deal_ids=${deal}`, '/deals/products', undefined],
        ['GET', '/dealFields', '/dealFields', undefined],
        ['POST', '/dealFields', '/dealFields', { field_name: 'F', field_type: 'date' }],
      ];
      for (const [method, path, template, body] of calls) {
        sim.resetStats();
        ok(await call(sim, method, path, body));
        const expected = findOperation(method, template)?.tokenCost;
        assert.ok(typeof expected === 'number' && expected > 0, `${method} ${template} has a token cost in the extract`);
        assert.deepEqual(sim.stats().byEndpoint[`${method} /api/v2${template}`], { calls: 1, tokens: expected }, `${method} ${template}`);
      }
      // the reference's table, spot-checked
      assert.equal(findOperation('GET', '/persons/search')?.tokenCost, 20);
      assert.equal(findOperation('GET', '/deals/products')?.tokenCost, 10);
      assert.equal(findOperation('PATCH', '/products/{id}')?.tokenCost, 5);
      // deals are not created through the API in the simulator
      assert.equal((await call(sim, 'POST', '/deals', { title: 'x' })).status, 404);
    });
  });
});
