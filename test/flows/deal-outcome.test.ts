import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { DEFAULT_FIELD_MAPPING } from '../../shared/config/field-mapping.ts';
import type { RecordMessage } from '../../shared/ports/index.ts';
import { adviceHash } from '../../shared/domain/deal-outcome.ts';
import { API_TOKEN, customerRow, itemRow, TENANT } from '../integration/harness.ts';
import { startMemoryWorld, type MemoryWorld } from './memory-deps.ts';

/**
 * What the salesperson sees on a won deal: why it made no order (a note per distinct reason, the status field),
 * and afterwards the order's life in QAD (status, confirmed ship date, invoice), written only when it changes.
 */

let w: MemoryWorld | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

const HOUR = 3_600_000;
/** The memory world's claim lease (its default). */
const CLAIM_LEASE_MS = 60_000;

/** QAD knows customer K9 and item P-1; Pipedrive has K9's organization (keyed) and three products, one QAD lacks. */
async function setup() {
  w = await startMemoryWorld({
    customers: [customerRow('K9', 'Norrland AB', '2026-11-02')],
    items: [itemRow('P-1', 'Pump')],
    fields: { orderStatus: DEFAULT_FIELD_MAPPING.orderStatus },
  });
  const key = w.pd.addCustomField('organization', { field_name: 'QAD Customer Code', field_type: 'varchar' });
  const org = w.pd.seedOrganization({ name: 'Norrland AB', custom_fields: { [key]: 'K9' } });
  const pump = w.pd.seedProduct({ name: 'Pump', code: 'P-1' });
  const install = w.pd.seedProduct({ name: 'Installation', code: 'INSTALL-2' });
  const gadget = w.pd.seedProduct({ name: 'Gadget' });
  return { world: w, org, pump, install, gadget };
}

/** A deal field's value by the field's name. */
function dealField(world: MemoryWorld, dealId: number, name: string): unknown {
  const code = world.pd.customFields('deal').find((f) => f.field_name === name)?.field_code;
  return code === undefined ? undefined : world.pd.deals().find((d) => d.id === dealId)?.custom_fields[code];
}

type Line = { product_id: number; item_price: number; quantity: number };
/** A won deal in EUR with these lines, on this organization (or none). */
const wonDeal = (world: MemoryWorld, title: string, orgId: number | null, lines: Line[]) =>
  world.pd.seedDeal({ title, currency: 'EUR', status: 'won', org_id: orgId, lines });

const notesOf = (world: MemoryWorld, dealId: number) => world.pd.notes().filter((n) => n.deal_id === dealId);

/** Polls won deals and lets the order writer take everything queued, twice at once (an at-least-once delivery). */
async function round(world: MemoryWorld) {
  const summary = await world.pollFlow('deals');
  assert.equal(summary.outcome, 'polled', summary.error);
  await drain(world, 'orders', true);
}

/** Delivers a queue until it is empty, letting the clock run to each message's visibility; a bounded number of times. */
async function drain(world: MemoryWorld, queue: string, duplicate = false) {
  for (let i = 0; world.waiting(queue) > 0; i++) {
    assert.ok(i < 50, `${queue} does not drain`);
    // The first delivery twice at once; what the losing writer sent back comes once (or it would race itself forever).
    const { keys } = await world.deliver(queue, { duplicate: duplicate && i === 0 });
    if (keys.length === 0) world.clock.ms += 30_000;
  }
}

describe('a rejected won deal says why on the deal', () => {
  test('one note per distinct reason across duplicate deliveries, rechecks and polls; the status field follows', async () => {
    const { world, org, pump, install, gadget } = await setup();
    const qadRefuses = wonDeal(world, 'Pumps and install', org, [
      { product_id: pump, item_price: 100, quantity: 2 },
      { product_id: install, item_price: 50, quantity: 1 },
    ]);
    const unmapped = wonDeal(world, 'Gadgets', org, [{ product_id: gadget, item_price: 5, quantity: 3 }]);
    const noOrg = wonDeal(world, 'Walk-in', null, [{ product_id: pump, item_price: 9, quantity: 1 }]);

    await round(world);
    assert.equal(world.qadTenant.salesOrders().length, 0);
    const [refusedNote] = notesOf(world, qadRefuses);
    assert.equal(notesOf(world, qadRefuses).length, 1);
    assert.match(refusedNote!.content, /product INSTALL-2 is not in QAD's catalogue: ask the order desk/u);
    assert.equal(
      dealField(world, qadRefuses, 'QAD order status'),
      "Rejected: product INSTALL-2 is not in QAD's catalogue: ask the order desk",
    );
    assert.match(notesOf(world, unmapped)[0]?.content ?? '', /product Gadget is not in QAD's catalogue/u);
    assert.match(notesOf(world, noOrg)[0]?.content ?? '', /the deal has no organization/u);
    assert.equal(world.pd.notes().length, 3, 'one note per deal, though every message was delivered twice at once');

    // The recheck looks at them again an hour later (and QAD refuses again): nothing new to say.
    world.clock.ms += HOUR + 60_000;
    await round(world);
    await round(world);
    assert.equal(world.pd.notes().length, 3);

    // Another reason is another note; back to the first reason, already said, is none.
    world.pd.updateDeal(qadRefuses, { org_id: null });
    world.clock.ms += HOUR + 60_000;
    await round(world);
    assert.equal(notesOf(world, qadRefuses).length, 2);
    assert.equal(
      dealField(world, qadRefuses, 'QAD order status'),
      "Rejected: the deal has no organization: link the customer's organization to the deal",
    );
    world.pd.updateDeal(qadRefuses, { org_id: org });
    world.clock.ms += HOUR + 60_000;
    await round(world);
    assert.equal(notesOf(world, qadRefuses).length, 2);
    const noted = (await world.adapters.audit.history(TENANT, 'salesOrder', String(qadRefuses))).filter((e) => e.action === 'noted');
    assert.equal(noted.length, 2, 'each note is audited');

    // Fixed in QAD: ordered at the next recheck, and the field says so.
    world.qadTenant.upsertItem(itemRow('INSTALL-2', 'Installation'));
    world.clock.ms += HOUR + 60_000;
    await round(world);
    const [order] = world.qadTenant.salesOrders();
    assert.equal(dealField(world, qadRefuses, 'QAD order status'), `Ordered ${order?.so_nbr}`);
    assert.equal(dealField(world, qadRefuses, 'QAD Sales Order'), order?.so_nbr);
    assert.equal(world.pd.notes().length, 4);
  });
});

describe('a deal QAD refuses, under faults and duplicate deliveries', () => {
  test('a copy of its message delivered after the refusal sees it: QAD is not sent the order again', async () => {
    const { world, org, install } = await setup();
    const deal = wonDeal(world, 'Install', org, [{ product_id: install, item_price: 80, quantity: 1 }]);
    assert.equal((await world.pollFlow('deals')).enqueued, 1);
    const [message] = world.adapters.queue('orders').sent;
    let posts = 0;
    world.qad.setFault((req) => {
      if (req.method === 'POST' && /salesOrderHeaders/u.test(req.path)) posts++;
      return undefined;
    });
    await drain(world, 'orders');
    assert.equal(posts, 1);
    // SQS delivers at least once: the same message again, later.
    await world.adapters.queue('orders').sendAll([JSON.parse(message!.body) as RecordMessage]);
    await drain(world, 'orders');
    assert.equal(posts, 1, 'QAD is not asked again');
    const history = await world.adapters.audit.history(TENANT, 'salesOrder', String(deal));
    assert.deepEqual(
      history.filter((e) => e.action === 'rejected' || e.action === 'unchanged').map((e) => e.action),
      ['unchanged', 'rejected'],
    );
  });

  test('every copy of the message after the refusal sees it: rejected once, no order, no create left pending', async () => {
    const { world, org, install } = await setup();
    const deals = Array.from({ length: 10 }, (_, n) =>
      wonDeal(world, `Install ${n}`, org, [{ product_id: install, item_price: 80, quantity: 1 }]),
    );
    assert.equal((await world.pollFlow('deals')).enqueued, 10);
    // QAD's answers lost, reset, failed or slow; Pipedrive failing too: a quarter and a tenth of calls, so that an attempt
    // (five calls or so) gets through within the retry budget and every deal ends rejected, never dead-lettered.
    let seed = 7;
    const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    const faults = [{ kind: 'lose-response' }, { kind: 'reset' }, { kind: 'status', status: 500 }, { kind: 'delay', ms: 20 }] as const;
    world.qad.setFault(() => (random() < 0.25 ? faults[Math.floor(random() * faults.length)] : undefined));
    world.pd.setFault(() => (random() < 0.1 ? { kind: 'status', status: 503 } : undefined));
    for (let i = 0; world.waiting('orders') > 0; i++) {
      assert.ok(i < 3000, 'the orders queue drains (backoffs of up to 15 minutes, the clock 30 s a step)');
      const { keys } = await world.deliver('orders', { duplicate: random() < 0.3 });
      if (keys.length === 0) world.clock.ms += 30_000;
    }
    world.qad.setFault(undefined);
    world.pd.setFault(undefined);
    assert.deepEqual(world.qadTenant.salesOrders(), []);
    for (const deal of deals) {
      const entry = (await world.adapters.keyMap.getMany(TENANT, 'salesOrder', [String(deal)])).get(String(deal));
      const history = await world.adapters.audit.history(TENANT, 'salesOrder', String(deal));
      const trail = history.map((e) => `${e.at} ${e.action} ${e.messageId ?? ''}#${e.attempt ?? ''} ${e.reason ?? ''} ${e.error ?? ''}`);
      assert.equal(
        entry?.pendingCreateAt,
        undefined,
        `deal ${deal}: no create left pending; ${JSON.stringify(entry)}\n${trail.join('\n')}`,
      );
      assert.equal(history.filter((e) => e.action === 'rejected').length, 1, `deal ${deal}: one rejection`);
    }
  });
});

describe('a note whose answer was lost', () => {
  test('is looked for on the deal before it is sent again: one note, however the answer was lost', async () => {
    const { world, org, install } = await setup();
    const deal = wonDeal(world, 'Install only', org, [{ product_id: install, item_price: 80, quantity: 1 }]);
    let lost = 0;
    world.pd.setFault((req) =>
      req.method === 'POST' && req.path === '/api/v1/notes' && lost++ === 0 ? { kind: 'lose-response' } : undefined,
    );
    await round(world);
    assert.equal(lost, 1, 'the note was sent once, its answer lost');
    assert.equal(notesOf(world, deal).length, 1);
    assert.equal(world.pd.stats().byEndpoint['GET /api/v1/notes']?.calls, 1, "the retry read the deal's notes once");
  });

  test('and carried out late is not sent again by a retry that came before it was: one note', async () => {
    const { world, org, install } = await setup();
    const deal = wonDeal(world, 'Install only', org, [{ product_id: install, item_price: 80, quantity: 1 }]);
    let carryOut = (): void => undefined;
    const carriedOut = new Promise<void>((resolve) => (carryOut = resolve));
    let posts = 0;
    world.pd.setFault((req) =>
      req.method === 'POST' && req.path === '/api/v1/notes' && posts++ === 0 ? { kind: 'late', after: carriedOut } : undefined,
    );
    assert.equal((await world.pollFlow('deals')).enqueued, 1);
    const sentAt = world.clock.now();
    assert.deepEqual((await world.deliver('orders')).retried, [String(deal)], 'the note was sent, no answer came');
    // The message comes back while Pipedrive may still be carrying the note out (within the claim's lease).
    for (let retries = 0; retries === 0;) {
      world.clock.ms += 10_000;
      retries = (await world.deliver('orders')).keys.length;
    }
    assert.ok(world.clock.now() - sentAt < CLAIM_LEASE_MS, 'the retry came within the lease');
    carryOut();
    for (let i = 0; notesOf(world, deal).length === 0; i++) {
      assert.ok(i < 1_000, 'the late note is carried out');
      await new Promise((resolve) => setImmediate(resolve));
    }
    await drain(world, 'orders');
    assert.equal(notesOf(world, deal).length, 1);
    assert.equal(posts, 1, 'the note was sent once');
    assert.equal(world.pd.stats().byEndpoint['GET /api/v1/notes']?.calls, 1, "the deal's notes were read once, after the lease");
  });

  test('a delivery that lost the deal to another while it worked sends no note: only the claim holder does', async () => {
    const { world, org, install } = await setup();
    const deal = wonDeal(world, 'Install only', org, [{ product_id: install, item_price: 80, quantity: 1 }]);
    assert.equal((await world.pollFlow('deals')).enqueued, 1);
    // As the first delivery sets the deal's status field, just before its note, its lease has run out and a redelivery
    // has taken the deal over (it has not got as far as the note yet).
    let takenOver: Promise<unknown> | undefined;
    world.pd.setFault((req) => {
      if (takenOver || req.method !== 'PATCH' || !req.path.startsWith('/api/v2/deals/')) return undefined;
      const later = world.clock.now() + CLAIM_LEASE_MS + 1;
      takenOver = world.adapters.keyMap.claim(TENANT, 'salesOrder', String(deal), 'redelivery', CLAIM_LEASE_MS, later);
      return { kind: 'delay', ms: 20 };
    });
    const first = await world.deliver('orders');
    assert.ok(takenOver, 'the status field was set before the note');
    assert.deepEqual(first.retried, [String(deal)], 'the first delivery gave the deal up');
    assert.equal(notesOf(world, deal).length, 0, 'and sent no note');
    assert.equal(world.pd.stats().byEndpoint['POST /api/v1/notes']?.calls, undefined);
  });

  test("an older release's mark of a note sent (no time) is looked for at once: no second note", async () => {
    const { world, org, install } = await setup();
    const deal = wonDeal(world, 'Install only', org, [{ product_id: install, item_price: 80, quantity: 1 }]);
    // As an earlier build left a note whose answer was lost: on the deal, and marked pending without a time.
    const advice = "product INSTALL-2 is not in QAD's catalogue: ask the order desk";
    const sent = await fetch(`${world.pd.url}/api/v1/notes`, {
      method: 'POST',
      headers: { 'x-api-token': API_TOKEN, 'content-type': 'application/json' },
      body: JSON.stringify({ content: `<p>Why: ${advice}.</p>`, deal_id: deal }),
    });
    assert.equal(sent.status, 200);
    await world.adapters.keyMap.markNoted(TENANT, 'salesOrder', String(deal), `pending:${adviceHash(advice)}`);
    world.pd.resetStats();

    assert.equal((await world.pollFlow('deals')).enqueued, 1);
    assert.deepEqual((await world.deliver('orders')).retried, [], 'settled at the first delivery, no wait');
    assert.equal(notesOf(world, deal).length, 1);
    assert.equal(world.pd.stats().byEndpoint['POST /api/v1/notes']?.calls, undefined, 'not sent again');
    assert.equal(world.pd.stats().byEndpoint['GET /api/v1/notes']?.calls, 1, "the deal's notes were read");
    const entry = (await world.adapters.keyMap.getMany(TENANT, 'salesOrder', [String(deal)])).get(String(deal));
    assert.ok(entry?.noted?.includes(adviceHash(advice)), 'noted as left');
  });
});

describe("the order's life on the deal", () => {
  test('a status change in QAD shows on the deal at the next round; nothing changed costs no token', async () => {
    const { world, org, pump } = await setup();
    const deal = wonDeal(world, 'Pumps', org, [{ product_id: pump, item_price: 100, quantity: 4 }]);
    await round(world);
    const nbr = world.qadTenant.salesOrders()[0]!.so_nbr;
    assert.equal(dealField(world, deal, 'QAD order status'), `Ordered ${nbr}`);

    /** One round of the order-status poll and the writer of its queue; answers what it spent in Pipedrive tokens. */
    const statusRound = async () => {
      const before = world.pd.stats().tokens;
      const summary = await world.pollFlow('order-status');
      assert.equal(summary.outcome, 'polled', summary.error);
      await drain(world, 'records');
      return { summary, tokens: world.pd.stats().tokens - before };
    };

    // The writer recorded what it wrote: the first look at an untouched order costs nothing.
    assert.equal((await statusRound()).tokens, 0);

    world.qadTenant.changeSalesOrder(nbr, { so_conf_date: '2026-12-18', shipped: { 1: 1 } });
    const partly = await statusRound();
    assert.equal('enqueued' in partly.summary && partly.summary.enqueued, 1);
    assert.equal(dealField(world, deal, 'QAD order status'), `Partly shipped (order ${nbr})`);
    assert.equal(dealField(world, deal, 'Ship date'), '2026-12-18');
    assert.equal((await statusRound()).tokens, 0, 'a rerun with nothing changed spends no token');

    world.qadTenant.changeSalesOrder(nbr, { shipped: { 1: 4 }, so_inv_nbr: 'INV-5512', so_invoiced: false });
    await statusRound();
    assert.equal(dealField(world, deal, 'QAD order status'), `Shipped (order ${nbr})`);
    assert.equal(dealField(world, deal, 'Invoice'), 'INV-5512 (not posted yet)');
    world.qadTenant.changeSalesOrder(nbr, { so_invoiced: true });
    await statusRound();
    assert.equal(dealField(world, deal, 'QAD order status'), `Invoiced (order ${nbr})`);
    assert.equal(dealField(world, deal, 'Invoice'), 'INV-5512 (posted)');
    assert.equal((await statusRound()).tokens, 0);
  });

  test('a cancelled order says so, and so does one deleted in QAD; a hold reads as a hold', async () => {
    const { world, org, pump } = await setup();
    const deals = [1, 2, 3].map((n) => wonDeal(world, `Order ${n}`, org, [{ product_id: pump, item_price: 10, quantity: n }]));
    await round(world);
    const orders = world.qadTenant.salesOrders();
    const nbrOf = (deal: number) => orders.find((o) => o.so_po.endsWith(`-${deal}`))!.so_nbr;
    world.qadTenant.changeSalesOrder(nbrOf(deals[0]!), { so_stat: 'x' });
    world.qadTenant.changeSalesOrder(nbrOf(deals[1]!), { so_stat: 'HD' });
    world.qadTenant.removeSalesOrder(nbrOf(deals[2]!));
    const summary = await world.pollFlow('order-status');
    assert.deepEqual('gone' in summary && [summary.enqueued, summary.gone], [3, 1]);
    await drain(world, 'records');
    assert.equal(dealField(world, deals[0]!, 'QAD order status'), `Cancelled in QAD (order ${nbrOf(deals[0]!)})`);
    assert.equal(dealField(world, deals[1]!, 'QAD order status'), `On hold in QAD (order ${nbrOf(deals[1]!)}, status HD)`);
    assert.equal(dealField(world, deals[2]!, 'QAD order status'), `Cancelled: order ${nbrOf(deals[2]!)} was deleted in QAD`);
  });
});
