import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startPipedriveSim, type PipedriveSim, type PipedriveSimOptions } from '../../scripts/simulators/pipedrive/index.ts';
import { withPipedriveSim } from './with-pipedrive-sim.ts';
import { findOperation, successStatus, validateAgainst } from '../../scripts/simulators/pipedrive/spec.ts';

const TOKEN = 'test-token-123';
const T0 = Date.parse('2026-09-01T10:00:00Z');

interface Reply {
  status: number;
  headers: Headers;
  json: Record<string, unknown>;
}

function clock(start = T0): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

const withSim = (options: Partial<PipedriveSimOptions>, fn: (sim: PipedriveSim) => Promise<void>) =>
  withPipedriveSim({ apiToken: TOKEN, ...options }, fn);

async function call(sim: PipedriveSim, method: string, path: string, body?: unknown, token: string | null = TOKEN): Promise<Reply> {
  const headers: Record<string, string> = {};
  if (token !== null) headers['x-api-token'] = token;
  let payload: string | undefined;
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    payload = typeof body === 'string' ? body : JSON.stringify(body);
  }
  const res = await fetch(`${sim.url}/api/v2${path}`, { method, headers, ...(payload !== undefined ? { body: payload } : {}) });
  const text = await res.text();
  const json: unknown = text.length > 0 ? JSON.parse(text) : {};
  assert.ok(typeof json === 'object' && json !== null && !Array.isArray(json), `expected a JSON object, got ${text}`);
  return { status: res.status, headers: res.headers, json: json as Record<string, unknown> };
}

function obj(value: unknown): Record<string, unknown> {
  assert.ok(typeof value === 'object' && value !== null && !Array.isArray(value), `expected an object, got ${JSON.stringify(value)}`);
  return value as Record<string, unknown>;
}

function arr(value: unknown): unknown[] {
  assert.ok(Array.isArray(value), `expected an array, got ${JSON.stringify(value)}`);
  return value;
}

function assertValidation(reply: Reply, mentions?: RegExp): void {
  assert.equal(reply.status, 400, JSON.stringify(reply.json));
  assert.equal(reply.json['success'], false);
  assert.equal(reply.json['code'], 'ERR_SCHEMA_VALIDATION_FAILED');
  const error = String(reply.json['error']);
  assert.match(error, /^Validation failed: /);
  if (mentions) assert.match(error, mentions);
}

/**
 * The response validates against the 200 response schema the spec gives for the operation.
 * The spec types `next_cursor` as a non-nullable string yet documents `null` at the end, so a null
 * cursor is checked by the tests themselves and left out here.
 */
function assertMatchesSpec(method: string, path: string, json: Record<string, unknown>): void {
  const operation = findOperation(method, path);
  const schema = operation && operation.responses?.[String(successStatus(operation))];
  assert.ok(schema, `no response schema for ${method} ${path}`);
  const copy = structuredClone(json);
  const additional = copy['additional_data'];
  if (typeof additional === 'object' && additional !== null && 'next_cursor' in additional && additional.next_cursor === null) {
    delete (additional as Record<string, unknown>)['next_cursor'];
  }
  assert.equal(validateAgainst(schema, copy), undefined);
}

describe('auth', () => {
  test('a missing or wrong x-api-token is 401 in Pipedrive shape and costs nothing', async () => {
    await withSim({}, async (sim) => {
      for (const token of [null, 'wrong']) {
        const reply = await call(sim, 'GET', '/organizations', undefined, token);
        assert.equal(reply.status, 401);
        assert.deepEqual(reply.json, { success: false, error: 'unauthorized access', errorCode: 401 });
      }
      assert.equal(sim.stats().tokens, 0);
      assert.equal(sim.stats().calls, 2);
    });
  });
});

describe('organizations: create, get, patch', () => {
  test('create returns the full record; get reads it; patch changes only what is sent and bumps update_time', async () => {
    const c = clock();
    await withSim({ now: c.now }, async (sim) => {
      const code = sim.addCustomField('organization', { field_name: 'QAD customer', field_type: 'varchar' });
      const other = sim.addCustomField('organization', { field_name: 'Credit limit', field_type: 'monetary' });
      assert.match(code, /^[0-9a-f]{40}$/);

      const created = await call(sim, 'POST', '/organizations', {
        name: 'Acme GmbH',
        address: { value: 'Hauptstr. 1, Berlin' },
        custom_fields: { [code]: 'C-1001' },
      });
      assert.equal(created.status, 200, JSON.stringify(created.json));
      assertMatchesSpec('POST', '/organizations', created.json);
      const org = obj(created.json['data']);
      assert.equal(org['id'], 1);
      assert.equal(org['name'], 'Acme GmbH');
      assert.equal(org['add_time'], '2026-09-01T10:00:00Z');
      assert.equal(org['update_time'], '2026-09-01T10:00:00Z');
      assert.equal(org['is_deleted'], false);
      assert.equal(typeof org['owner_id'], 'number');
      assert.equal(typeof org['visible_to'], 'number');
      assert.deepEqual(org['address'], { value: 'Hauptstr. 1, Berlin' });
      assert.deepEqual(org['custom_fields'], { [code]: 'C-1001', [other]: null });

      c.advance(5_500);
      const patched = await call(sim, 'PATCH', '/organizations/1', { custom_fields: { [other]: { value: 5000, currency: 'EUR' } } });
      assert.equal(patched.status, 200, JSON.stringify(patched.json));
      assertMatchesSpec('PATCH', '/organizations/{id}', patched.json);
      const after = obj(patched.json['data']);
      assert.equal(after['name'], 'Acme GmbH');
      assert.deepEqual(after['address'], { value: 'Hauptstr. 1, Berlin' });
      assert.deepEqual(after['custom_fields'], { [code]: 'C-1001', [other]: { value: 5000, currency: 'EUR' } });
      assert.equal(after['add_time'], '2026-09-01T10:00:00Z');
      assert.equal(after['update_time'], '2026-09-01T10:00:05Z');

      const cleared = await call(sim, 'PATCH', '/organizations/1', { name: 'Acme AG', custom_fields: { [code]: null } });
      assert.equal(obj(cleared.json['data'])['name'], 'Acme AG');
      assert.equal(obj(obj(cleared.json['data'])['custom_fields'])[code], null);

      const got = await call(sim, 'GET', '/organizations/1');
      assert.equal(got.status, 200);
      assertMatchesSpec('GET', '/organizations/{id}', got.json);
      assert.deepEqual(got.json['data'], sim.organizations()[0]);
      assert.equal(sim.organizations()[0]?.name, 'Acme AG');
    });
  });

  test('unknown id is 404 with a Pipedrive-like error', async () => {
    await withSim({}, async (sim) => {
      for (const reply of [await call(sim, 'GET', '/organizations/42'), await call(sim, 'PATCH', '/organizations/42', { name: 'x' })]) {
        assert.equal(reply.status, 404);
        assert.equal(reply.json['success'], false);
        assert.equal(reply.json['error'], 'Organization not found');
      }
    });
  });
});

describe('validation', () => {
  test('rejects what Pipedrive v2 rejects, with ERR_SCHEMA_VALIDATION_FAILED', async () => {
    await withSim({}, async (sim) => {
      const code = sim.addCustomField('organization', { field_name: 'Revenue', field_type: 'double' });
      const kind = sim.addCustomField('organization', { field_name: 'Kind', field_type: 'enum', options: ['A', 'B'] });
      const tags = sim.addCustomField('organization', { field_name: 'Tags', field_type: 'set', options: ['x', 'y'] });
      const since = sim.addCustomField('organization', { field_name: 'Since', field_type: 'date' });
      const ref = sim.addCustomField('organization', { field_name: 'QAD customer', field_type: 'varchar' });
      const optionsOf = (fieldCode: string): number[] =>
        sim
          .customFields('organization')
          .find((f) => f.field_code === fieldCode)
          ?.options?.map((o) => o.id) ?? [];
      const optionIds = optionsOf(kind);
      assert.equal(optionIds.length, 2);
      const tagIds = optionsOf(tags);
      assert.equal(tagIds.length, 2);
      assert.ok(!tagIds.some((id) => optionIds.includes(id)), 'option ids are unique across fields');

      assertValidation(await call(sim, 'POST', '/organizations', {}), /name/);
      assertValidation(await call(sim, 'POST', '/organizations', { name: 42 }), /name/);
      assertValidation(await call(sim, 'POST', '/organizations', { name: 'x'.repeat(256) }), /name/);
      assertValidation(await call(sim, 'GET', '/organizations?limit=501'), /limit/);
      assertValidation(await call(sim, 'GET', '/organizations?limit=abc'), /limit/);
      assertValidation(await call(sim, 'GET', '/organizations?sort_by=name'), /sort_by/);
      assertValidation(await call(sim, 'GET', '/organizations?updated_since=yesterday'), /updated_since/);
      // v1 style: custom field hash at top level
      assertValidation(await call(sim, 'POST', '/organizations', { name: 'Acme', [code]: 12 }), new RegExp(code));
      assertValidation(
        await call(sim, 'POST', '/organizations', { name: 'Acme', custom_fields: { ['f'.repeat(40)]: 'x' } }),
        /unknown custom field/,
      );
      assertValidation(await call(sim, 'POST', '/organizations', { name: 'Acme', custom_fields: { [code]: '12.5' } }), /number/);
      assertValidation(await call(sim, 'POST', '/organizations', { name: 'Acme', custom_fields: { [kind]: 'A' } }), /option/);
      assertValidation(await call(sim, 'POST', '/organizations', { name: 'Acme', custom_fields: { [kind]: 999999 } }), /option/);
      assertValidation(await call(sim, 'POST', '/organizations', { name: 'Acme', custom_fields: { [tags]: [] } }), /null/);
      assertValidation(await call(sim, 'POST', '/organizations', { name: 'Acme', custom_fields: { [tags]: [optionIds[0]] } }), /option/);
      assertValidation(await call(sim, 'POST', '/organizations', { name: 'Acme', custom_fields: { [since]: '01.02.2026' } }), /date/);
      assertValidation(await call(sim, 'POST', '/organizations', { name: 'Acme', custom_fields: { [ref]: 1001 } }), /string/);
      assertValidation(await call(sim, 'POST', '/organizations', { name: 'Acme', custom_fields: { [ref]: 'x'.repeat(256) } }), /255/);
      assertValidation(await call(sim, 'POST', '/organizations', { name: 'Acme', visible_to: '3' }), /visible_to/);
      assertValidation(await call(sim, 'POST', '/organizations', '{"name": "Acme",'), /JSON/);
      assertValidation(await call(sim, 'PATCH', '/organizations/abc', { name: 'x' }), /id/);

      // accepted values of the same fields, to show the checks are not blanket rejections
      const ok = await call(sim, 'POST', '/organizations', {
        name: 'Acme',
        custom_fields: { [code]: 12.5, [kind]: optionIds[1], [tags]: tagIds, [since]: '2026-02-01', [ref]: 'x'.repeat(255) },
      });
      assert.equal(ok.status, 200, JSON.stringify(ok.json));
      // tokens are charged for 400s too (17 x POST/PATCH/GET list) but nothing was stored by them
      assert.equal(sim.organizations().length, 1);
    });
  });
});

describe('list', () => {
  test('pages 1,200 records at limit 500 in 3 pages with next_cursor null at the end', async () => {
    await withSim({}, async (sim) => {
      for (let i = 1; i <= 1200; i++) sim.seedOrganization({ name: `Org ${i}` });
      const ids: number[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const reply: Reply = await call(sim, 'GET', `/organizations?limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        assert.equal(reply.status, 200);
        pages += 1;
        const data = arr(reply.json['data']);
        ids.push(...data.map((o) => Number(obj(o)['id'])));
        const next = obj(reply.json['additional_data'])['next_cursor'];
        cursor = typeof next === 'string' ? next : null;
        if (pages === 3) assert.equal(next, null);
      } while (cursor !== null && pages < 10);
      assert.equal(pages, 3);
      assert.equal(ids.length, 1200);
      assert.deepEqual(
        ids,
        Array.from({ length: 1200 }, (_, i) => i + 1),
      );
      assert.equal(sim.stats().byEndpoint['GET /api/v2/organizations']?.tokens, 30);
    });
  });

  test('default limit is 100; updated_since is inclusive; ids and sort_direction filter and order', async () => {
    const c = clock();
    await withSim({ now: c.now }, async (sim) => {
      for (let i = 1; i <= 150; i++) sim.seedOrganization({ name: `Org ${i}` });
      const first = await call(sim, 'GET', '/organizations');
      assert.equal(arr(first.json['data']).length, 100);
      assert.equal(typeof obj(first.json['additional_data'])['next_cursor'], 'string');

      c.advance(60_000);
      await call(sim, 'PATCH', '/organizations/7', { name: 'Seven' });
      c.advance(1_000);
      await call(sim, 'PATCH', '/organizations/9', { name: 'Nine' });

      const since = await call(sim, 'GET', '/organizations?updated_since=2026-09-01T10:01:00Z');
      assert.deepEqual(
        arr(since.json['data']).map((o) => obj(o)['id']),
        [7, 9],
      );
      const window = await call(sim, 'GET', '/organizations?updated_since=2026-09-01T10:01:00Z&updated_until=2026-09-01T10:01:01Z');
      assert.deepEqual(
        arr(window.json['data']).map((o) => obj(o)['id']),
        [7],
      );
      const later = await call(sim, 'GET', '/organizations?updated_since=2026-09-01T10:01:02Z');
      assert.deepEqual(arr(later.json['data']), []);
      assert.equal(obj(later.json['additional_data'])['next_cursor'], null);

      const byIds = await call(sim, 'GET', '/organizations?ids=3,1,2&sort_by=id&sort_direction=desc');
      assert.deepEqual(
        arr(byIds.json['data']).map((o) => obj(o)['id']),
        [3, 2, 1],
      );
      const byUpdate = await call(sim, 'GET', '/organizations?sort_by=update_time&sort_direction=desc&limit=3');
      assert.deepEqual(
        arr(byUpdate.json['data']).map((o) => obj(o)['id']),
        [9, 7, 150],
      );
    });
  });
});

describe('search', () => {
  test('exact match is whole-value and case-insensitive on name and on a custom field; term length rules', async () => {
    await withSim({}, async (sim) => {
      const code = sim.addCustomField('organization', { field_name: 'QAD customer', field_type: 'varchar' });
      sim.seedOrganization({ name: 'Acme GmbH', address: { value: 'Berlin' }, custom_fields: { [code]: 'C-1001' } });
      sim.seedOrganization({ name: 'Acme GmbH Holding', address: { value: 'Munich' }, custom_fields: { [code]: 'C-10010' } });

      const byName = await call(sim, 'GET', '/organizations/search?term=acme%20gmbh&fields=name&exact_match=true');
      assert.equal(byName.status, 200, JSON.stringify(byName.json));
      assertMatchesSpec('GET', '/organizations/search', byName.json);
      const items = arr(obj(byName.json['data'])['items']);
      assert.equal(items.length, 1);
      const item = obj(obj(items[0])['item']);
      assert.equal(item['id'], 1);
      assert.equal(item['type'], 'organization');
      assert.equal(item['address'], 'Berlin');
      assert.deepEqual(item['notes'], []);

      const byCustom = await call(sim, 'GET', '/organizations/search?term=c-1001&fields=custom_fields&exact_match=true');
      const customItems = arr(obj(byCustom.json['data'])['items']);
      assert.deepEqual(
        customItems.map((i) => obj(obj(i)['item'])['id']),
        [1],
      );
      assert.deepEqual(obj(obj(customItems[0])['item'])['custom_fields'], ['C-1001']);

      const substring = await call(sim, 'GET', '/organizations/search?term=acme&fields=name,custom_fields');
      assert.equal(arr(obj(substring.json['data'])['items']).length, 2);
      const notInName = await call(sim, 'GET', '/organizations/search?term=c-1001&fields=name');
      assert.equal(arr(obj(notInName.json['data'])['items']).length, 0);

      assertValidation(await call(sim, 'GET', '/organizations/search?term=a'), /term/);
      const one = await call(sim, 'GET', '/organizations/search?term=a&exact_match=true');
      assert.equal(one.status, 200);
      assertValidation(await call(sim, 'GET', '/organizations/search'), /term/);
      assertValidation(await call(sim, 'GET', '/organizations/search?term=acme&fields=email'), /fields/);
      assertValidation(await call(sim, 'GET', '/organizations/search?term=acme&exact_match=1'), /exact_match/);
    });
  });

  test('records created within searchLagMs are not found yet', async () => {
    const c = clock();
    await withSim({ now: c.now, searchLagMs: 5_000 }, async (sim) => {
      const created = await call(sim, 'POST', '/organizations', { name: 'Fresh Ltd' });
      assert.equal(created.status, 200);
      const search = (): Promise<Reply> => call(sim, 'GET', '/organizations/search?term=fresh%20ltd&exact_match=true');
      assert.equal(arr(obj((await search()).json['data'])['items']).length, 0);
      c.advance(4_999);
      assert.equal(arr(obj((await search()).json['data'])['items']).length, 0);
      c.advance(1);
      assert.equal(arr(obj((await search()).json['data'])['items']).length, 1);
      // a rename is searchable under the new name only after the lag too
      await call(sim, 'PATCH', '/organizations/1', { name: 'Renamed Ltd' });
      assert.equal(arr(obj((await search()).json['data'])['items']).length, 1);
      c.advance(5_000);
      assert.equal(arr(obj((await search()).json['data'])['items']).length, 0);
    });
  });
});

describe('organizationFields', () => {
  test('lists standard and custom fields; POST creates a field; duplicate names are allowed', async () => {
    await withSim({}, async (sim) => {
      const created = await call(sim, 'POST', '/organizationFields', { field_name: 'QAD customer', field_type: 'varchar' });
      assert.equal(created.status, 200, JSON.stringify(created.json));
      assertMatchesSpec('POST', '/organizationFields', created.json);
      const field = obj(created.json['data']);
      assert.match(String(field['field_code']), /^[0-9a-f]{40}$/);
      assert.equal(field['is_custom_field'], true);
      const dup = await call(sim, 'POST', '/organizationFields', { field_name: 'QAD customer', field_type: 'varchar' });
      assert.equal(dup.status, 200);
      assert.notEqual(obj(dup.json['data'])['field_code'], field['field_code']);
      const withOptions = await call(sim, 'POST', '/organizationFields', {
        field_name: 'Tier',
        field_type: 'enum',
        options: [{ label: 'Gold' }, { label: 'Silver' }],
      });
      assert.deepEqual(
        arr(obj(withOptions.json['data'])['options']).map((o) => obj(o)['label']),
        ['Gold', 'Silver'],
      );

      assertValidation(await call(sim, 'POST', '/organizationFields', { field_name: 'X', field_type: 'nonsense' }), /field_type/);
      assertValidation(await call(sim, 'POST', '/organizationFields', { field_type: 'varchar' }), /field_name/);
      assertValidation(await call(sim, 'POST', '/organizationFields', { field_name: 'Tier', field_type: 'enum' }), /options/);

      const list = await call(sim, 'GET', '/organizationFields?limit=500');
      assert.equal(list.status, 200);
      assertMatchesSpec('GET', '/organizationFields', list.json);
      const fields = arr(list.json['data']).map(obj);
      const name = fields.find((f) => f['field_code'] === 'name');
      assert.equal(name?.['is_custom_field'], false);
      assert.ok(fields.some((f) => f['field_code'] === 'address'));
      const custom = fields.filter((f) => f['is_custom_field'] === true);
      assert.deepEqual(
        custom.map((f) => f['field_name']),
        ['QAD customer', 'QAD customer', 'Tier'],
      );
      assert.equal(sim.customFields('organization').length, 3);

      const paged = await call(sim, 'GET', '/organizationFields?limit=2');
      assert.equal(arr(paged.json['data']).length, 2);
      const cursor = String(obj(paged.json['additional_data'])['next_cursor']);
      const page2 = await call(sim, 'GET', `/organizationFields?limit=2&cursor=${encodeURIComponent(cursor)}`);
      assert.notDeepEqual(page2.json['data'], paged.json['data']);
    });
  });
});

describe('token costs and stats', () => {
  test('charges the spec cost per served call and counts by templated endpoint', async () => {
    await withSim({ dailyTokenBudget: 1_000 }, async (sim) => {
      await call(sim, 'POST', '/organizations', { name: 'Acme' }); // 5
      await call(sim, 'GET', '/organizations/1'); // 1
      await call(sim, 'PATCH', '/organizations/1', { name: 'Acme 2' }); // 5
      await call(sim, 'GET', '/organizations'); // 10
      await call(sim, 'GET', '/organizations/search?term=acme'); // 20
      await call(sim, 'GET', '/organizationFields'); // 10
      await call(sim, 'POST', '/organizationFields', { field_name: 'F', field_type: 'text' }); // 5
      await call(sim, 'POST', '/organizations', { name: 7 }); // 400, still 5
      await call(sim, 'GET', '/organizations', undefined, 'bad'); // 401, free
      const stats = sim.stats();
      assert.equal(stats.tokens, 61);
      assert.equal(stats.calls, 9);
      assert.deepEqual(stats.byEndpoint['POST /api/v2/organizations'], { calls: 2, tokens: 10 });
      assert.deepEqual(stats.byEndpoint['GET /api/v2/organizations/{id}'], { calls: 1, tokens: 1 });
      assert.deepEqual(stats.byEndpoint['PATCH /api/v2/organizations/{id}'], { calls: 1, tokens: 5 });
      assert.deepEqual(stats.byEndpoint['GET /api/v2/organizations'], { calls: 2, tokens: 10 });
      assert.deepEqual(stats.byEndpoint['GET /api/v2/organizations/search'], { calls: 1, tokens: 20 });
      assert.deepEqual(stats.byEndpoint['GET /api/v2/organizationFields'], { calls: 1, tokens: 10 });
      assert.deepEqual(stats.byEndpoint['POST /api/v2/organizationFields'], { calls: 1, tokens: 5 });
      assert.equal(stats.byStatus['401'], 1);
      assert.equal(stats.byStatus['400'], 1);
      assert.deepEqual(sim.dailyTokens(), { used: 61, budget: 1_000 });
      sim.resetStats();
      assert.deepEqual(sim.stats(), { calls: 0, tokens: 0, status429: 0, byEndpoint: {}, byStatus: {} });
    });
  });
});

describe('rate limits', () => {
  test('burst limit per 2-second window: 429 with headers, then recovery', async () => {
    const c = clock();
    await withSim({ plan: 'lite', now: c.now }, async (sim) => {
      sim.seedOrganization({ name: 'Acme' });
      for (let i = 0; i < 20; i++) {
        const ok = await call(sim, 'GET', '/organizations/1');
        assert.equal(ok.status, 200, `request ${i + 1}`);
        assert.equal(ok.headers.get('x-ratelimit-limit'), '20');
        assert.equal(ok.headers.get('x-ratelimit-remaining'), String(19 - i));
        if (i < 19) c.advance(50);
      }
      const limited = await call(sim, 'GET', '/organizations/1');
      assert.equal(limited.status, 429);
      assert.deepEqual(limited.json, { success: false, error: 'Request over limit', errorCode: 429 });
      assert.equal(limited.headers.get('x-ratelimit-limit'), '20');
      assert.equal(limited.headers.get('x-ratelimit-remaining'), '0');
      const reset = Number(limited.headers.get('x-ratelimit-reset'));
      assert.ok(reset >= 1 && reset <= 2, `reset ${reset}`);
      assert.equal(sim.stats().status429, 1);
      assert.equal(sim.stats().tokens, 20);

      // the first request (t=0) leaves the rolling window 2 s after it was made: 1,050 ms from now (t=950)
      c.advance(1_049);
      assert.equal((await call(sim, 'GET', '/organizations/1')).status, 429);
      c.advance(1);
      const again = await call(sim, 'GET', '/organizations/1');
      assert.equal(again.status, 200);
      assert.equal(again.headers.get('x-ratelimit-remaining'), '0');
      c.advance(2_000);
      assert.equal((await call(sim, 'GET', '/organizations/1')).headers.get('x-ratelimit-remaining'), '19');
      assert.equal(sim.stats().status429, 2);
    });
  });

  test('plan limits: premium 100 per window', async () => {
    const c = clock();
    await withSim({ now: c.now }, async (sim) => {
      const reply = await call(sim, 'GET', '/organizations');
      assert.equal(reply.headers.get('x-ratelimit-limit'), '100');
      assert.equal(reply.headers.get('x-ratelimit-remaining'), '99');
      assert.equal(reply.headers.get('x-ratelimit-reset'), '2');
      assert.equal(reply.headers.get('x-daily-ratelimit-limit'), String(30_000 * 5));
      assert.equal(reply.headers.get('x-daily-ratelimit-remaining'), String(30_000 * 5 - 10));
    });
    await withSim({ plan: 'growth', seats: 3 }, async (sim) => {
      const reply = await call(sim, 'GET', '/organizations');
      assert.equal(reply.headers.get('x-ratelimit-limit'), '40');
      assert.equal(reply.headers.get('x-daily-ratelimit-limit'), String(30_000 * 2 * 3));
      assert.deepEqual(sim.dailyTokens(), { used: 10, budget: 180_000 });
    });
  });

  test('search endpoints: 10 per 2 s on every plan, other endpoints unaffected', async () => {
    const c = clock();
    await withSim({ plan: 'ultimate', now: c.now }, async (sim) => {
      for (let i = 0; i < 10; i++) assert.equal((await call(sim, 'GET', '/organizations/search?term=acme')).status, 200);
      const limited = await call(sim, 'GET', '/organizations/search?term=acme');
      assert.equal(limited.status, 429);
      assert.equal(limited.headers.get('x-ratelimit-limit'), '10');
      assert.equal(limited.headers.get('x-ratelimit-remaining'), '0');
      assert.equal((await call(sim, 'GET', '/organizations')).status, 200);
      c.advance(2_000);
      assert.equal((await call(sim, 'GET', '/organizations/search?term=acme')).status, 200);
      assert.equal(sim.stats().byEndpoint['GET /api/v2/organizations/search']?.tokens, 11 * 20);
    });
  });

  test('daily budget: once spent every call is 429 until the next day', async () => {
    const c = clock(Date.parse('2026-09-01T23:59:00Z'));
    await withSim({ now: c.now, dailyTokenBudget: 25 }, async (sim) => {
      assert.equal((await call(sim, 'GET', '/organizations')).status, 200);
      assert.equal((await call(sim, 'GET', '/organizations')).status, 200);
      const last = await call(sim, 'GET', '/organizations'); // 30 >= 25 afterwards
      assert.equal(last.status, 200);
      assert.equal(last.headers.get('x-daily-ratelimit-remaining'), '0');
      c.advance(10_000);
      for (const [method, path] of [
        ['GET', '/organizations/1'],
        ['POST', '/organizations'],
      ] as const) {
        const denied = await call(sim, method, path, method === 'POST' ? { name: 'x' } : undefined);
        assert.equal(denied.status, 429);
        assert.equal(denied.headers.get('x-daily-ratelimit-remaining'), '0');
      }
      assert.equal(sim.stats().status429, 2);
      assert.equal(sim.stats().tokens, 30);
      assert.equal(sim.organizations().length, 0);
      c.advance(60_000); // past midnight UTC
      const next = await call(sim, 'POST', '/organizations', { name: 'x' });
      assert.equal(next.status, 200);
      assert.equal(next.headers.get('x-daily-ratelimit-remaining'), '20');
    });
  });

  test('daily budget: startNewDay is midnight without waiting for it, the spent budget serves again', async () => {
    const c = clock(Date.parse('2026-09-01T09:00:00Z'));
    await withSim({ now: c.now, dailyTokenBudget: 20 }, async (sim) => {
      assert.equal((await call(sim, 'GET', '/organizations')).status, 200);
      assert.equal((await call(sim, 'GET', '/organizations')).status, 200);
      c.advance(3_000);
      assert.equal((await call(sim, 'GET', '/organizations')).status, 429);
      sim.startNewDay();
      assert.deepEqual(sim.dailyTokens(), { used: 0, budget: 20 });
      const next = await call(sim, 'GET', '/organizations');
      assert.equal(next.status, 200);
      assert.equal(next.headers.get('x-daily-ratelimit-remaining'), '10');
    });
  });
});

describe('fault hook', () => {
  let sim: PipedriveSim;
  before(async () => {
    sim = await startPipedriveSim({ apiToken: TOKEN });
  });
  after(async () => {
    await sim.close();
  });

  test('status: responds with the given status, body and headers, before auth and limits', async () => {
    sim.setFault((req) =>
      req.method === 'POST' && req.path === '/api/v2/organizations'
        ? { status: 503, body: '{"success":false,"error":"down"}', headers: { 'retry-after': '3' } }
        : undefined,
    );
    const reply = await call(sim, 'POST', '/organizations', { name: 'Acme' }, null);
    assert.equal(reply.status, 503);
    assert.deepEqual(reply.json, { success: false, error: 'down' });
    assert.equal(reply.headers.get('retry-after'), '3');
    assert.equal(sim.organizations().length, 0);
    assert.equal((await call(sim, 'GET', '/organizations')).status, 200);
    sim.setFault(undefined);
    assert.equal((await call(sim, 'POST', '/organizations', { name: 'Acme' })).status, 200);
  });

  test('reset destroys the connection; delay answers normally after the wait', async () => {
    sim.setFault(() => ({ kind: 'reset' }));
    await assert.rejects(fetch(`${sim.url}/api/v2/organizations`, { headers: { 'x-api-token': TOKEN } }));
    sim.setFault(() => ({ kind: 'delay', ms: 150 }));
    const started = Date.now();
    const reply = await call(sim, 'GET', '/organizations');
    assert.equal(reply.status, 200);
    assert.ok(Date.now() - started >= 140, 'delayed');
    sim.setFault(undefined);
    assert.equal(sim.stats().byStatus['reset'], 1);
  });
});
