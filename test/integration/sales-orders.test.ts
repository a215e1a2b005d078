import './quiet-env.ts';
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { pollWonDeals } from '../../shared/flows/poll-deals.ts';
import { writeSalesOrder } from '../../shared/flows/write-sales-order.ts';
import { tenantStatus } from '../../shared/operations/status.ts';
import type { TenantConfigInput } from '../../shared/config/tenant.ts';
import { PermanentError } from '../../shared/domain/errors.ts';
import type { RecordMessage, TenantClients } from '../../shared/ports/index.ts';
import type { QadClient } from '../../shared/ports/qad.ts';
import type { DealStatus } from '../../scripts/simulators/pipedrive/index.ts';
import { API_TOKEN, customerRow, itemRow, startHarness, TENANT, type Harness } from './harness.ts';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const delivery = (id: string, attempt = 1) => ({ messageId: id, attempt });

/** QAD has customer C1 (EUR) and items 10-001, 10-002; Pipedrive has their organization and products, linked by code. */
async function world(config: Partial<TenantConfigInput> = {}) {
  const harness = await startHarness({
    customers: [customerRow('C1', 'Acme GmbH', '2026-11-20')],
    items: [itemRow('10-001', 'Bolt'), itemRow('10-002', 'Nut')],
    config,
  });
  const code = harness.pd.addCustomField('organization', { field_name: 'QAD Customer Code', field_type: 'varchar' });
  const org = harness.pd.seedOrganization({ name: 'Acme GmbH', custom_fields: { [code]: 'C1' } });
  const bolt = harness.pd.seedProduct({ name: 'Bolt', code: '10-001' });
  const nut = harness.pd.seedProduct({ name: 'Nut', code: '10-002' });
  return { harness, org, bolt, nut };
}

async function pollMessages(harness: Harness): Promise<RecordMessage[]> {
  const [summary] = await pollWonDeals(harness.deps, { force: true });
  assert.equal(summary?.outcome, 'polled', summary?.error);
  return harness.drainMessages('orders');
}

const orderField = (harness: Harness) => harness.pd.customFields('deal').find((f) => f.field_name === 'QAD Sales Order')?.field_code;

describe('won deals become QAD sales orders', () => {
  test('won deals and their lines are read in bulk: one list page and one lines call for all of them', async () => {
    const w = await world();
    h = w.harness;
    for (let i = 0; i < 3; i++)
      h.pd.seedDeal({
        title: `Won ${i}`,
        currency: 'EUR',
        status: 'won',
        org_id: w.org,
        lines: [{ product_id: w.bolt, item_price: 2, quantity: 5 }],
      });
    h.pd.seedDeal({
      title: 'Still open',
      currency: 'EUR',
      status: 'open',
      org_id: w.org,
      lines: [{ product_id: w.bolt, item_price: 2, quantity: 5 }],
    });
    h.pd.resetStats();
    const messages = await pollMessages(h);
    assert.equal(messages.length, 3);
    const calls = Object.fromEntries(Object.entries(h.pd.stats().byEndpoint).map(([k, v]) => [k, v.calls]));
    assert.deepEqual(calls, { 'GET /api/v2/deals': 1, 'GET /api/v2/deals/products': 1 });
  });

  test('a won deal becomes one order: sold-to, lines, currency, won date, value to the cent, number written back', async () => {
    const w = await world();
    h = w.harness;
    const deal = h.pd.seedDeal({
      title: 'Big order',
      currency: 'EUR',
      status: 'won',
      won_time: '2026-11-24T15:30:00Z',
      org_id: w.org,
      lines: [
        { product_id: w.bolt, item_price: 1.25, quantity: 100 },
        { product_id: w.nut, item_price: 0.3, quantity: 1000, discount: 10, discount_type: 'percentage' },
      ],
    });
    const [m] = await pollMessages(h);
    const out = await writeSalesOrder(h.deps, h.tenant, m!, delivery('m1'));
    assert.equal(out.action, 'created');
    const [order] = h.qadTenant.salesOrders();
    assert.deepEqual(
      [order?.so_cust, order?.so_po, order?.so_curr, order?.so_ord_date, order?.so_site],
      ['C1', `PD-${TENANT}-${deal}`, 'EUR', '2026-11-24', '10-100'],
    );
    assert.deepEqual(
      order?.lines.map((l) => [l.sod_line, l.sod_part, l.sod_qty_ord, l.sod_price, l.sod_disc_pct]),
      [
        [1, '10-001', 100, 1.25, 0],
        [2, '10-002', 1000, 0.3, 10],
      ],
    );
    assert.equal(h.pd.deals().find((d) => d.id === deal)?.value, 395);
    assert.equal(h.pd.deals().find((d) => d.id === deal)?.custom_fields[orderField(h)!], order?.so_nbr);
  });

  test('a deal field mapped by its name (requested ship date) becomes the order due date', async () => {
    const w = await world({ mapping: { deal: { requestedShipDateFieldName: 'Requested ship date' } } });
    h = w.harness;
    const field = h.pd.addCustomField('deal', { field_name: 'Requested ship date', field_type: 'date' });
    h.pd.seedDeal({
      title: 'Ship later',
      currency: 'EUR',
      status: 'won',
      org_id: w.org,
      custom_fields: { [field]: '2026-12-15' },
      lines: [{ product_id: w.bolt, item_price: 4, quantity: 2 }],
    });
    const [m] = await pollMessages(h);
    assert.equal((await writeSalesOrder(h.deps, h.tenant, m!, delivery('m1'))).action, 'created');
    assert.equal(h.qadTenant.salesOrders()[0]?.so_due_date, '2026-12-15');
  });

  const unmappableDeals =
    'each deal that cannot map is rejected with its reason, audited, kept out of the DLQ, and ordered once its cause is fixed';
  test(unmappableDeals, async () => {
    const w = await world();
    h = w.harness;
    const stray = h.pd.seedOrganization({ name: 'Prospect' });
    const service = h.pd.seedProduct({ name: 'Consulting', code: 'SERVICE' });
    const cases = {
      unlinked: h.pd.seedDeal({
        title: 'unlinked',
        currency: 'EUR',
        status: 'won',
        org_id: stray,
        lines: [{ product_id: w.bolt, item_price: 1, quantity: 1 }],
      }),
      noItem: h.pd.seedDeal({
        title: 'no item',
        currency: 'EUR',
        status: 'won',
        org_id: w.org,
        lines: [{ product_id: service, item_price: 100, quantity: 1 }],
      }),
      currency: h.pd.seedDeal({
        title: 'currency',
        currency: 'USD',
        status: 'won',
        org_id: w.org,
        lines: [{ product_id: w.bolt, item_price: 1, quantity: 1 }],
      }),
      noLines: h.pd.seedDeal({ title: 'no lines', currency: 'EUR', status: 'won', org_id: w.org, value: 500, lines: [] }),
    };
    for (const m of await pollMessages(h)) assert.equal((await writeSalesOrder(h.deps, h.tenant, m, delivery(m.key))).action, 'rejected');
    const reason = async (id: number) => (await h!.deps.audit.history(TENANT, 'salesOrder', String(id)))[0];
    assert.match((await reason(cases.unlinked))?.reason ?? '', new RegExp(`organization ${stray} is not linked to a QAD customer`, 'u'));
    assert.match((await reason(cases.noItem))?.reason ?? '', /item SERVICE does not exist/u);
    assert.match((await reason(cases.currency))?.reason ?? '', /Currency USD is not allowed for customer C1/u);
    assert.match((await reason(cases.noLines))?.reason ?? '', /no product lines/u);
    assert.equal(h.qadTenant.salesOrders().length, 0);
    assert.equal((await h.dlqMessages()).length, 0);

    // Unchanged and not due for a recheck: the next poll leaves them alone.
    assert.equal((await pollMessages(h)).length, 0);

    // Someone links the prospect to QAD customer C1; an hour later the recheck orders it.
    const code = h.pd.customFields('organization').find((f) => f.field_name === 'QAD Customer Code')!.field_code;
    const linked = await fetch(`${h.pd.url}/api/v2/organizations/${stray}`, {
      method: 'PATCH',
      headers: { 'x-api-token': API_TOKEN, 'content-type': 'application/json' },
      body: JSON.stringify({ custom_fields: { [code]: 'C1' } }),
    });
    assert.equal(linked.status, 200);
    h.clock.ms += 61 * 60_000;
    const rechecked = await pollMessages(h);
    assert.deepEqual(
      rechecked.map((m) => Number(m.key)).sort(),
      Object.values(cases).sort((a, b) => a - b),
    );
    const outcomes = new Map<number, string>();
    for (const m of rechecked) outcomes.set(Number(m.key), (await writeSalesOrder(h.deps, h.tenant, m, delivery(`re-${m.key}`))).action);
    assert.equal(outcomes.get(cases.unlinked), 'created');
    assert.equal(outcomes.get(cases.noItem), 'rejected');
    assert.equal(h.qadTenant.salesOrders().length, 1);

    // Still unmappable for the same reasons at every later recheck: one entry per problem, not one per recheck.
    const harness = h;
    harness.clock.ms += 61 * 60_000;
    for (const m of await pollMessages(harness)) await writeSalesOrder(harness.deps, harness.tenant, m, delivery(`again-${m.key}`));
    for (const id of [cases.noItem, cases.currency, cases.noLines]) {
      const history = await harness.deps.audit.history(TENANT, 'salesOrder', String(id));
      assert.equal(history.filter((e) => e.action === 'rejected').length, 1, `deal ${id}: rejected once however often it is rechecked`);
    }
    assert.equal((await harness.dlqMessages()).length, 0);
  });

  test('two deliveries of one deal at the same time make one order', async () => {
    const w = await world();
    h = w.harness;
    h.pd.seedDeal({
      title: 'Twice',
      currency: 'EUR',
      status: 'won',
      org_id: w.org,
      lines: [{ product_id: w.bolt, item_price: 3, quantity: 3 }],
    });
    const [m] = await pollMessages(h);
    h.qad.setFault((req) => (req.method === 'POST' && req.path.endsWith('salesOrderHeaders') ? { kind: 'delay', ms: 300 } : undefined));
    const results = await Promise.allSettled([
      writeSalesOrder(h.deps, h.tenant, m!, delivery('a')),
      writeSalesOrder(h.deps, h.tenant, m!, delivery('b')),
    ]);
    assert.deepEqual(results.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
    assert.equal((await writeSalesOrder(h.deps, h.tenant, m!, delivery('b', 2))).action, 'unchanged');
    assert.equal(h.qadTenant.salesOrders().length, 1);
  });

  test('a crash after QAD created the order, before the claim was marked done, does not make a second order', async () => {
    const w = await world();
    h = w.harness;
    const deal = h.pd.seedDeal({
      title: 'Crash',
      currency: 'EUR',
      status: 'won',
      org_id: w.org,
      lines: [{ product_id: w.nut, item_price: 1, quantity: 7 }],
    });
    const [m] = await pollMessages(h);
    // The write-back to Pipedrive times out after QAD made the order: the Lambda dies there.
    h.pd.setFault((req) => (req.method === 'PATCH' && req.path.startsWith('/api/v2/deals/') ? { kind: 'reset' } : undefined));
    await assert.rejects(writeSalesOrder(h.deps, h.tenant, m!, delivery('first')));
    assert.equal(h.qadTenant.salesOrders().length, 1);
    h.pd.setFault(undefined);
    const retry = await writeSalesOrder(h.deps, h.tenant, m!, delivery('second', 2));
    assert.equal(retry.action, 'created');
    assert.equal(h.qadTenant.salesOrders().length, 1, 'found by customer PO and adopted');
    assert.match((await h.deps.audit.history(TENANT, 'salesOrder', String(deal)))[0]?.reason ?? '', /adopted/u);
    assert.equal(h.pd.deals().find((d) => d.id === deal)?.custom_fields[orderField(h)!], h.qadTenant.salesOrders()[0]?.so_nbr);
  });

  test('won deals deleted after their order are reported once (audit, status); the orders are left alone', async () => {
    const w = await world();
    h = w.harness;
    const line = { product_id: w.bolt, item_price: 2, quantity: 5 };
    const deals = ['Gone', 'Marked deleted', 'Kept'].map((title) =>
      h!.pd.seedDeal({ title, currency: 'EUR', status: 'won', org_id: w.org, lines: [line] }),
    );
    for (const [i, m] of (await pollMessages(h)).entries()) await writeSalesOrder(h.deps, h.tenant, m, delivery(`m${i}`));
    assert.equal(h.qadTenant.salesOrders().length, 3);
    h.pd.deleteRecord('deal', deals[0]!);
    h.pd.updateDeal(deals[1]!, { status: 'deleted' });

    for (let day = 1; day <= 2; day++) {
      h.clock.ms += 25 * 3_600_000;
      const [summary] = await pollWonDeals(h.deps, { force: true });
      assert.equal(summary?.deletedAfterOrder, day === 1 ? 2 : 0, 'reported once');
    }
    assert.equal(h.qadTenant.salesOrders().length, 3, 'no order touched');
    const [entry] = await h.deps.audit.history(TENANT, 'salesOrder', String(deals[0]));
    assert.equal(entry?.action, 'conflict');
    assert.match(entry?.reason ?? '', /deleted in Pipedrive after QAD sales order \S+ was made from it; the order is left alone/u);
    const [status] = await tenantStatus(h.deps, h.clock.ms);
    assert.deepEqual(status?.deletedAfterOrder.map((d) => d.deal).sort(), [String(deals[0]), String(deals[1])].sort());
  });

  test('a deal reopened and won again does not make a second order', async () => {
    const w = await world();
    h = w.harness;
    const deal = h.pd.seedDeal({
      title: 'Again',
      currency: 'EUR',
      status: 'won',
      org_id: w.org,
      lines: [{ product_id: w.bolt, item_price: 2, quantity: 2 }],
    });
    for (const m of await pollMessages(h)) await writeSalesOrder(h.deps, h.tenant, m, delivery(m.key));
    h.pd.updateDeal(deal, { status: 'open' as DealStatus });
    h.pd.updateDeal(deal, { status: 'won' as DealStatus });
    h.clock.ms += 60_000;
    assert.equal((await pollMessages(h)).length, 0, 'same value and lines: already handled');
    assert.equal(h.qadTenant.salesOrders().length, 1);
  });

  test('lines edited after the order exists are a conflict for a person: audited, not applied, no second order', async () => {
    const w = await world();
    h = w.harness;
    const deal = h.pd.seedDeal({
      title: 'Edited',
      currency: 'EUR',
      status: 'won',
      org_id: w.org,
      lines: [{ product_id: w.bolt, item_price: 2, quantity: 2 }],
    });
    for (const m of await pollMessages(h)) await writeSalesOrder(h.deps, h.tenant, m, delivery(m.key));
    const before = h.qadTenant.salesOrders();
    h.pd.updateDeal(deal, { value: 8 });
    h.clock.ms += 60_000;
    const [edited] = await pollMessages(h);
    assert.ok(edited, 'the edited deal is read again');
    const out = await writeSalesOrder(h.deps, h.tenant, edited, delivery('edit'));
    assert.equal(out.action, 'conflict');
    assert.deepEqual(h.qadTenant.salesOrders(), before);
    assert.equal((await h.deps.audit.history(TENANT, 'salesOrder', String(deal)))[0]?.action, 'conflict');
    assert.equal((await pollMessages(h)).length, 0, 'told once; not re-sent while it stays the same');
  });
});

/** The harness's deps with the QAD client seen through `wrap`: a QAD whose lookup answers what a test needs. */
function withQad(harness: Harness, wrap: (qad: QadClient) => Partial<QadClient>) {
  const clients: TenantClients = {
    ...harness.deps.clients,
    qad: async (t) => {
      const real = await harness.deps.clients.qad(t);
      return { ...real, ...wrap(real) };
    },
  };
  return { ...harness.deps, clients };
}

describe('only orders that are ours are adopted', () => {
  async function wonDeal(w: Awaited<ReturnType<typeof world>>) {
    const deal = w.harness.pd.seedDeal({
      title: 'Ours?',
      currency: 'EUR',
      status: 'won',
      org_id: w.org,
      lines: [{ product_id: w.bolt, item_price: 3, quantity: 4 }],
    });
    const [m] = await pollMessages(w.harness);
    return { deal, message: m! };
  }
  const PATH = '/api/erp/salesOrderHeaders';
  const orderOf = (harness: Harness, so_po: string, so_cust: string) =>
    harness.deps.clients.qad(harness.tenant).then((qad) =>
      qad.createSalesOrder(PATH, {
        so_cust,
        so_po,
        so_ord_date: '2026-11-01',
        so_curr: 'EUR',
        so_site: '10-100',
        lines: [{ sod_line: 1, sod_part: '10-001', sod_qty_ord: 1, sod_price: 1, sod_disc_pct: 0 }],
      }),
    );

  test('an order QAD answers for a looser match (another PO, another sold-to) is not adopted: ours is created', async () => {
    const w = await world();
    h = w.harness;
    h.qadTenant.upsertCustomer({ ...customerRow('C2', 'Other AG', '2026-11-20') });
    const { deal, message } = await wonDeal(w);
    const notOurs = [
      { so_nbr: 'S7000001', so_po: `PD-${deal + 1}`, so_cust: 'C1' },
      { so_nbr: 'S7000004', so_po: `PD-${TENANT}-${deal}0`, so_cust: 'C1' },
      { so_nbr: 'S7000002', so_po: `PD-${TENANT}-${deal}`, so_cust: 'C2' },
    ];
    const deps = withQad(h, (qad) => ({ findSalesOrders: async (p, po) => [...notOurs, ...(await qad.findSalesOrders(p, po))] }));
    const out = await writeSalesOrder(deps, h.tenant, message, delivery('m1'));
    assert.equal(out.action, 'created');
    const orders = h.qadTenant.salesOrders();
    assert.deepEqual(
      orders.map((o) => [o.so_po, o.so_cust]),
      [[`PD-${TENANT}-${deal}`, 'C1']],
    );
    assert.equal(out.ref, orders[0]?.so_nbr);
  });

  test('a lookup answer that cannot be read stops the deal: never adopted, never a second order', async () => {
    const w = await world();
    h = w.harness;
    const { deal, message } = await wonDeal(w);
    const unreadable = { orderNumber: 'S7000003', so_po: `PD-${TENANT}-${deal}`, so_cust: 'C1' };
    const deps = withQad(h, () => ({ findSalesOrders: async () => [unreadable] }));
    await assert.rejects(
      writeSalesOrder(deps, h.tenant, message, delivery('m1')),
      (e: unknown) => e instanceof PermanentError && /cannot be trusted/u.test(e.message),
    );
    assert.equal(h.qadTenant.salesOrders().length, 0);
  });

  test("the tenant's reference keeps two Pipedrive companies on one QAD apart; the old form is still recognised", async () => {
    const w = await world();
    h = w.harness;
    const { deal, message } = await wonDeal(w);
    // Another tenant's order for the same deal id and customer, under its own reference: not ours.
    await orderOf(h, `PD-globex-${deal}`, 'C1');
    // The order an older version made for this deal, before the reference carried the tenant: ours.
    const legacy = await orderOf(h, `PD-${deal}`, 'C1');
    const out = await writeSalesOrder(h.deps, h.tenant, message, delivery('m1'));
    assert.deepEqual([out.action, out.ref], ['created', legacy.orderNumber]);
    assert.equal(h.qadTenant.salesOrders().length, 2, 'adopted, not created');
    assert.match((await h.deps.audit.history(TENANT, 'salesOrder', String(deal)))[0]?.reason ?? '', /adopted/u);
  });

  test('an old-form order of another sold-to is not adopted', async () => {
    const w = await world();
    h = w.harness;
    h.qadTenant.upsertCustomer({ ...customerRow('C2', 'Other AG', '2026-11-20') });
    const { deal, message } = await wonDeal(w);
    const foreign = await orderOf(h, `PD-${deal}`, 'C2');
    const out = await writeSalesOrder(h.deps, h.tenant, message, delivery('m1'));
    assert.equal(out.action, 'created');
    assert.notEqual(out.ref, foreign.orderNumber);
  });

  test("a configured prefix is the tenant's reference", async () => {
    const w = await world();
    h = w.harness;
    const { qad } = h.tenant.config;
    const tenant = { ...h.tenant, config: { ...h.tenant.config, qad: { ...qad, salesOrders: { ...qad.salesOrders, poPrefix: 'AC/' } } } };
    const { deal, message } = await wonDeal(w);
    await writeSalesOrder(h.deps, tenant, message, delivery('m1'));
    assert.equal(h.qadTenant.salesOrders()[0]?.so_po, `AC/${deal}`);
  });
});
