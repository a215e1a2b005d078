import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { basicAuthHeader, WEBHOOK_BODY_LIMIT_BYTES, type WebhookCredentials } from '../../shared/domain/webhook.ts';
import { pollWonDealsTenant } from '../../shared/flows/poll-deals.ts';
import { webhookReceiver, type WebhookRequest } from '../../shared/flows/webhook-receive.ts';
import { customerRow, itemRow, TENANT } from '../integration/harness.ts';
import { startMemoryWorld, type MemoryWorld } from './memory-deps.ts';

let w: MemoryWorld | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

const COMPANY = 4711;
const CREDENTIALS: WebhookCredentials = { user: 'connector-hook', password: 'a-long-random-password-of-32-chars' };

/** A world whose tenant has webhooks installed for company 4711, a mapped organization and product, and the receiver. */
async function webhookWorld() {
  const world = await startMemoryWorld({ customers: [customerRow('K7', 'Kestrel AG', '2026-11-20')], items: [itemRow('77-1', 'Gear')] });
  w = world;
  const tenant = (await world.adapters.tenants.get(TENANT))!;
  await world.adapters.tenants.put({
    ...tenant,
    webhook: {
      url: `https://hooks.example.com/webhooks/${TENANT}`,
      companyId: COMPANY,
      secret: await world.cipher.encrypt(JSON.stringify(CREDENTIALS), { tenantId: TENANT, system: 'webhook' }),
    },
  });
  const code = world.pd.addCustomField('organization', { field_name: 'QAD Customer Code', field_type: 'varchar' });
  const org = world.pd.seedOrganization({ name: 'Kestrel AG', custom_fields: { [code]: 'K7' } });
  const gear = world.pd.seedProduct({ name: 'Gear', code: '77-1' });
  const deps = world.handlerDeps('orders');
  const receive = webhookReceiver({ ...deps, cipher: world.cipher });
  const openDeal = () =>
    world.pd.seedDeal({
      title: 'Gears',
      currency: 'EUR',
      status: 'open',
      org_id: org,
      lines: [{ product_id: gear, item_price: 3, quantity: 4 }],
    });
  return { world, receive, openDeal };
}

/** A v2 `change.deal` delivery as Pipedrive sends it (ids in `meta` as strings). */
function delivery(dealId: number, o: { company?: number; status?: string; previous?: string | null; attempt?: number } = {}) {
  return JSON.stringify({
    meta: {
      action: 'change',
      entity: 'deal',
      entity_id: String(dealId),
      company_id: String(o.company ?? COMPANY),
      webhook_id: '91',
      attempt: o.attempt ?? 1,
      timestamp: '2026-11-30T06:00:00.000Z',
      version: '2.0',
      host: 'acme.pipedrive.com',
    },
    data: { id: dealId, status: o.status ?? 'won', title: 'forged title', value: 1e9 },
    previous: o.previous === null ? null : { status: o.previous ?? 'open' },
  });
}

const request = (body: string, o: { tenantId?: string; auth?: string | undefined } = {}): WebhookRequest => ({
  tenantId: o.tenantId ?? TENANT,
  authorization: 'auth' in o ? o.auth : basicAuthHeader(CREDENTIALS),
  body,
});

/** Delivers what is on the orders queue until it is empty. */
async function drainOrders(world: MemoryWorld): Promise<void> {
  for (let i = 0; i < 20 && world.waiting('orders') > 0; i++) await world.deliver('orders');
}

describe('webhook deliveries: a won deal is queued at once, ordered once, and nothing else gets in', () => {
  test('a deal that became won is queued by id and ordered once from what the API says, not from the body', async () => {
    const { world, receive, openDeal } = await webhookWorld();
    const deal = openDeal();
    world.pd.updateDeal(deal, { status: 'won' });
    const answer = await receive(request(delivery(deal)));
    assert.equal(answer.status, 202);
    await drainOrders(world);
    const orders = world.qadTenant.salesOrders();
    assert.equal(orders.length, 1);
    // 4 gears at 3 EUR: the body's value of 1e9 was never read.
    assert.equal(
      orders[0]!.lines.reduce((sum, l) => sum + l.sod_qty_ord * l.sod_price, 0),
      12,
    );
  });

  test('forged, missing, oversized, wrong-tenant, wrong-company and unknown-tenant deliveries create nothing', async () => {
    const { world, receive, openDeal } = await webhookWorld();
    const deal = openDeal();
    world.pd.updateDeal(deal, { status: 'won' });
    const forged = basicAuthHeader({ user: CREDENTIALS.user, password: `${CREDENTIALS.password}x` });
    const answers = [
      await receive(request(delivery(deal), { auth: forged })),
      await receive(request(delivery(deal), { auth: undefined })),
      await receive(request(delivery(deal), { auth: 'Bearer whatever' })),
      await receive(request(delivery(deal), { tenantId: 'another-tenant' })),
      await receive(request(delivery(deal), { tenantId: '../../etc' })),
      await receive(request(delivery(deal, { company: COMPANY + 1 }))),
      await receive(request(`${delivery(deal)}${' '.repeat(WEBHOOK_BODY_LIMIT_BYTES)}`)),
      await receive(request('{"meta": ')),
    ].map((a) => a.status);
    assert.deepEqual(answers, [401, 401, 401, 401, 401, 403, 413, 400]);
    assert.equal(world.waiting('orders'), 0);
    assert.equal(world.telemetry.count('webhook', '401'), 5);
    assert.equal(world.qadTenant.salesOrders().length, 0);
  });

  test('what is not a deal that became won is let go with a 200 and queues nothing', async () => {
    const { world, receive, openDeal } = await webhookWorld();
    const deal = openDeal();
    const statuses = [
      await receive(request(delivery(deal, { status: 'open', previous: 'lost' }))),
      await receive(request(delivery(deal, { status: 'won', previous: 'won' }))),
      await receive(request(delivery(deal, { status: 'won', previous: null }))),
      await receive(request(delivery(deal).replace('"entity":"deal"', '"entity":"person"'))),
    ].map((a) => a.status);
    assert.deepEqual(statuses, [200, 200, 200, 200]);
    assert.equal(world.waiting('orders'), 0);
  });

  test('a forged "won" for a deal that is open in Pipedrive orders nothing', async () => {
    const { world, receive, openDeal } = await webhookWorld();
    const deal = openDeal();
    assert.equal((await receive(request(delivery(deal)))).status, 202);
    await drainOrders(world);
    assert.equal(world.qadTenant.salesOrders().length, 0);
    const audit = await world.adapters.audit.history(TENANT, 'salesOrder', String(deal));
    assert.ok(audit.some((e) => e.action === 'skipped'));
  });

  test('replayed, duplicated and reordered deliveries, and the poll finding the same deal, make one order', async () => {
    const { world, receive, openDeal } = await webhookWorld();
    const deals = [openDeal(), openDeal(), openDeal()];
    for (const d of deals) world.pd.updateDeal(d, { status: 'won' });
    const [a, b, c] = deals as [number, number, number];
    for (const body of [delivery(c), delivery(a), delivery(a, { attempt: 2 }), delivery(b), delivery(c)])
      assert.equal((await receive(request(body))).status, 202);
    // Two writers at once on the same batch, as at-least-once delivery may do.
    await world.deliver('orders', { duplicate: true });
    await drainOrders(world);
    const tenant = (await world.adapters.tenants.get(TENANT))!;
    const summary = await pollWonDealsTenant(world.handlerDeps('orders'), tenant, true);
    assert.equal(summary.handled, 3, 'the poll finds every deal already ordered');
    await drainOrders(world);
    // A replay of an old delivery after the orders exist.
    assert.equal((await receive(request(delivery(a)))).status, 202);
    await drainOrders(world);
    assert.deepEqual(world.qadTenant.salesOrders().length, 3);
    assert.deepEqual(new Set(world.qadTenant.salesOrders().map((o) => o.so_po)).size, 3);
  });

  test('a deal whose delivery was lost is ordered by the poll, once, and a later delivery changes nothing', async () => {
    const { world, receive, openDeal } = await webhookWorld();
    const deal = openDeal();
    world.pd.updateDeal(deal, { status: 'won' });
    const tenant = (await world.adapters.tenants.get(TENANT))!;
    await pollWonDealsTenant(world.handlerDeps('orders'), tenant, true);
    await drainOrders(world);
    assert.equal((await receive(request(delivery(deal, { attempt: 3 })))).status, 202);
    await drainOrders(world);
    assert.equal(world.qadTenant.salesOrders().length, 1);
  });
});
