import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { basicAuthHeader, basicAuthMatches, judgeDelivery } from '../../shared/domain/webhook.ts';
import { webhookHandler } from '../../shared/runtime/handlers.ts';
import { recordingTelemetry } from '../../shared/adapters/memory/recording-telemetry.ts';
import { MemoryTenantStore } from '../../shared/adapters/memory/memory-tenant-store.ts';
import type { RecordMessage } from '../../shared/ports/index.ts';

const PAIR = { user: 'connector-north', password: 'Zq9-long_random_password_0123456789' };
const basic = (text: string) => `Basic ${Buffer.from(text, 'utf8').toString('base64')}`;

describe('Basic credentials of a webhook delivery', () => {
  test('only the exact pair matches; every other header does not', () => {
    assert.equal(basicAuthMatches(basicAuthHeader(PAIR), PAIR), true);
    const refused = [
      undefined,
      '',
      'Basic',
      'Basic !!!not-base64!!!',
      basic(`${PAIR.user}${PAIR.password}`), // no colon
      basic(`${PAIR.user}:`),
      basic(`:${PAIR.password}`),
      basic(`${PAIR.user}:${PAIR.password} `),
      basic(`${PAIR.user.toUpperCase()}:${PAIR.password}`),
      basic(`${PAIR.user}:${PAIR.password.slice(0, -1)}`),
      basic(`${PAIR.user}:${PAIR.password}${PAIR.password}`),
      `Bearer ${Buffer.from(`${PAIR.user}:${PAIR.password}`).toString('base64')}`,
      `${basicAuthHeader(PAIR)}, ${basicAuthHeader(PAIR)}`,
    ];
    for (const header of refused) assert.equal(basicAuthMatches(header, PAIR), false, String(header));
  });

  test('a password holding a colon is split at the first one, as RFC 7617 says', () => {
    const withColon = { user: 'connector-west', password: 'a:b:c-and-more-characters-to-be-long' };
    assert.equal(basicAuthMatches(basic(`${withColon.user}:${withColon.password}`), withColon), true);
  });
});

const delivery = (overrides: { meta?: object; data?: object | null; previous?: object | null } = {}) => ({
  meta: { action: 'change', entity: 'deal', entity_id: 812, company_id: 55, version: '2.0', attempt: 1, ...overrides.meta },
  data: 'data' in overrides ? overrides.data : { id: 812, status: 'won' },
  previous: 'previous' in overrides ? overrides.previous : { status: 'lost' },
});

describe('judging a delivery', () => {
  test('a deal that became won (from open or lost, ids as numbers or strings) is queued by its id', () => {
    assert.deepEqual(judgeDelivery(delivery(), 55), { kind: 'enqueue', dealId: 812 });
    const strings = delivery({ meta: { entity_id: '812', company_id: '55' }, previous: { status: 'open' } });
    assert.deepEqual(judgeDelivery(strings, 55), { kind: 'enqueue', dealId: 812 });
  });

  test("another company's delivery is refused (403), whatever it says", () => {
    assert.equal(judgeDelivery(delivery(), 56).kind, 'refuse');
    assert.deepEqual(
      [judgeDelivery(delivery({ meta: { company_id: '550' } }), 55)].map((v) => (v.kind === 'refuse' ? v.status : v.kind)),
      [403],
    );
  });

  test('what is not a v2 delivery is refused (400): v1 shape, no ids, ids that are not whole numbers', () => {
    const bad = [
      { event: 'updated.deal', current: { id: 1, status: 'won' }, previous: { status: 'open' }, meta: { v: 1 } },
      delivery({ meta: { version: '1.0' } }),
      delivery({ meta: { entity_id: undefined } }),
      delivery({ meta: { entity_id: '12a' } }),
      delivery({ meta: { entity_id: -4 } }),
      delivery({ meta: { company_id: 1.5 } }),
      [],
      null,
    ];
    for (const body of bad) {
      const verdict = judgeDelivery(body, 55);
      assert.equal(verdict.kind === 'refuse' && verdict.status, 400, JSON.stringify(body));
    }
  });

  test('everything else is let go: other entities and actions, not won, already won, created won', () => {
    const ignored = [
      delivery({ meta: { entity: 'person' } }),
      delivery({ meta: { action: 'delete' }, data: null }),
      delivery({ meta: { action: 'create' }, previous: null }),
      delivery({ data: { id: 812, status: 'lost' }, previous: { status: 'won' } }),
      delivery({ previous: { title: 'old title' } }),
      delivery({ previous: { status: 'won' } }),
      delivery({ data: null }),
    ];
    for (const body of ignored) assert.equal(judgeDelivery(body, 55).kind, 'ignore', JSON.stringify(body));
  });
});

describe('the webhook function', () => {
  test('reads the tenant from the path and the body base64-encoded, and answers with the status and no detail', async () => {
    const sent: RecordMessage[][] = [];
    const handler = webhookHandler(() => ({
      tenants: new MemoryTenantStore(),
      cipher: { encrypt: () => Promise.reject(new Error('unused')), decrypt: () => Promise.reject(new Error('unused')) },
      queueFor: () => ({ sendAll: async (m) => void sent.push([...m]) }),
      clock: { now: () => 0, sleep: async () => undefined },
      telemetry: recordingTelemetry(),
    }));
    const body = Buffer.from(JSON.stringify(delivery())).toString('base64');
    const answer = await handler({
      pathParameters: { tenantId: 'nobody' },
      headers: { authorization: basicAuthHeader(PAIR) },
      body,
      isBase64Encoded: true,
    });
    assert.deepEqual(answer, { statusCode: 401, headers: { 'content-type': 'application/json' }, body: '{"status":"unauthorized"}' });
    assert.equal(sent.length, 0);
    await assert.rejects(handler({ pathParameters: 'not an object' }));
  });
});
