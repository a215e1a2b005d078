import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  customerPo,
  legacyCustomerPo,
  orderOfOurs,
  poPrefixOf,
  dealContentHash,
  mapDealToOrder,
  pipedriveLineSum,
  type DealLine,
  type OrderDefaults,
  type OrderMapping,
  type SalesOrder,
  type WonDeal,
} from '../../shared/domain/sales-order.ts';

const line = (over: Partial<DealLine> = {}): DealLine => ({
  deal_id: 101,
  product_id: 7,
  name: 'Widget',
  item_price: 10,
  quantity: 2,
  discount: 0,
  discount_type: 'percentage',
  tax: 0,
  tax_method: 'none',
  sum: 20,
  is_enabled: true,
  ...over,
});

const deal = (over: Partial<WonDeal> = {}): WonDeal => ({
  id: 101,
  title: 'Big order',
  value: 20,
  currency: 'EUR',
  wonTime: '2025-06-15 23:30:00',
  orgId: 5,
  lines: [line()],
  customFields: {},
  ...over,
});

const REJECT: OrderDefaults = { site: '10-100', noLines: { kind: 'reject' } };
const parts = new Map<number, string>([
  [7, 'WID-001'],
  [8, 'GAD-002'],
  [9, 'BOLT-003'],
]);

const ctx = (over: Partial<Parameters<typeof mapDealToOrder>[1]> = {}): Parameters<typeof mapDealToOrder>[1] => ({
  customerCode: 'C1000',
  poPrefix: 'PD-acme-',
  partOf: parts,
  defaults: REJECT,
  ...over,
});

function order(m: OrderMapping): { order: SalesOrder; value: number } {
  if (!m.ok) assert.fail(`expected an order, got: ${m.reason}`);
  return { order: m.order, value: m.value };
}

function reason(m: OrderMapping): string {
  if (m.ok) assert.fail(`expected a rejection, got an order: ${JSON.stringify(m.order)}`);
  return m.reason;
}

describe('customerPo', () => {
  test("is the tenant's prefix and the deal id; the prefix defaults to PD-<tenant>-, so two tenants never share one", () => {
    assert.equal(customerPo(poPrefixOf('acme', undefined), 101), 'PD-acme-101');
    assert.equal(customerPo(poPrefixOf('globex', undefined), 101), 'PD-globex-101');
    assert.equal(customerPo(poPrefixOf('acme', 'AC/'), 0), 'AC/0');
    assert.equal(order(mapDealToOrder(deal(), ctx({ poPrefix: 'X-' }))).order.so_po, `X-${deal().id}`);
  });

  test('the reference older versions wrote is PD- and the deal id', () => {
    assert.equal(legacyCustomerPo(101), 'PD-101');
  });
});

describe('orderOfOurs: only an order with exactly our customer PO and sold-to is adopted', () => {
  const ours = { po: 'PD-acme-42', customer: 'C1000' };
  test('the exact match is ours, under either field naming', () => {
    assert.deepEqual(orderOfOurs([{ so_nbr: 'S1', so_po: 'PD-acme-42', so_cust: 'C1000' }], ours), { kind: 'ours', orderNumber: 'S1' });
    const prefixed = { 'so_mstr.so_nbr': 'S2', 'so_mstr.so_po': 'PD-acme-42', 'so_mstr.so_cust': 'C1000' };
    assert.deepEqual(orderOfOurs([prefixed], ours), { kind: 'ours', orderNumber: 'S2' });
  });

  test('another PO (a looser match QAD answered) or another sold-to is not ours', () => {
    for (const row of [
      { so_nbr: 'S3', so_po: 'PD-1', so_cust: 'C1000' },
      { so_nbr: 'S4', so_po: 'pd-acme-42', so_cust: 'C1000' },
      { so_nbr: 'S5', so_po: 'PD-acme-421', so_cust: 'C1000' },
      { so_nbr: 'S6', so_po: 'PD-acme-42', so_cust: 'C2000' },
    ])
      assert.deepEqual(orderOfOurs([row], ours), { kind: 'none' }, JSON.stringify(row));
    assert.deepEqual(orderOfOurs([], ours), { kind: 'none' });
  });

  test('a row that cannot be read makes the answer unreadable, never "none" (that would create a second order)', () => {
    for (const row of [
      { order_number: 'S7', so_po: 'PD-acme-42', so_cust: 'C1000' },
      { so_nbr: 'S8', so_cust: 'C1000' },
      { so_nbr: 'S9', so_po: 'PD-acme-42' },
      { so_nbr: 9, so_po: 'PD-acme-42', so_cust: 'C1000' },
      'S10',
      null,
    ])
      assert.equal(orderOfOurs([{ so_nbr: 'S0', so_po: 'X', so_cust: 'C9' }, row], ours).kind, 'unreadable', JSON.stringify(row));
  });

  test('two orders that are both ours are not adopted either', () => {
    const rows = ['S1', 'S2'].map((so_nbr) => ({ so_nbr, so_po: 'PD-acme-42', so_cust: 'C1000' }));
    assert.equal(orderOfOurs(rows, ours).kind, 'unreadable');
  });
});

describe('pipedriveLineSum', () => {
  const base = { item_price: 10, quantity: 3, discount: 0, discount_type: 'percentage', tax: 0, tax_method: 'none' } as const;

  test('no discount, no tax: quantity x price', () => {
    assert.equal(pipedriveLineSum(base), 30);
  });

  test('percentage discount', () => {
    assert.equal(pipedriveLineSum({ ...base, discount: 10 }), 27);
    assert.equal(pipedriveLineSum({ ...base, discount: 100 }), 0);
  });

  test('amount discount comes off the line total, not each unit', () => {
    assert.equal(pipedriveLineSum({ ...base, discount: 5, discount_type: 'amount' }), 25);
  });

  test('exclusive tax is added after the discount', () => {
    assert.equal(pipedriveLineSum({ ...base, tax: 20, tax_method: 'exclusive' }), 36);
    assert.equal(pipedriveLineSum({ ...base, discount: 10, tax: 20, tax_method: 'exclusive' }), 32.4);
    assert.equal(pipedriveLineSum({ ...base, discount: 6, discount_type: 'amount', tax: 10, tax_method: 'exclusive' }), 26.4);
  });

  test('inclusive tax is already in the price: not added', () => {
    assert.equal(pipedriveLineSum({ ...base, tax: 20, tax_method: 'inclusive' }), 30);
    assert.equal(pipedriveLineSum({ ...base, discount: 10, tax: 20, tax_method: 'inclusive' }), 27);
  });

  test('no tax method: a tax rate is ignored', () => {
    assert.equal(pipedriveLineSum({ ...base, tax: 20, tax_method: 'none' }), 30);
  });

  test('rounds to cents', () => {
    // 3 x 3.333 = 9.999
    assert.equal(pipedriveLineSum({ ...base, item_price: 3.333 }), 10);
    // 1 x 10 less 1/3 % = 9.96666...
    assert.equal(pipedriveLineSum({ ...base, quantity: 1, discount: 1 / 3 }), 9.97);
    // 0.1 x 3 = 0.30000000000000004
    assert.equal(pipedriveLineSum({ ...base, item_price: 0.1 }), 0.3);
    // 12.35 + 10 % = 13.585
    assert.equal(pipedriveLineSum({ ...base, item_price: 12.35, quantity: 1, tax: 10, tax_method: 'exclusive' }), 13.59);
  });

  // The decimal amount is exactly half a cent; binary floating point stores it just below
  // (0.575 -> 0.57499999...), so Math.round(n * 100) rounds it down. Half-up and half-even both give 0.58.
  test('a half cent rounds up even when its binary value falls just below it', () => {
    // 0.50 + 15 % tax = 0.575
    assert.equal(pipedriveLineSum({ ...base, item_price: 0.5, quantity: 1, tax: 15, tax_method: 'exclusive' }), 0.58);
    // 1.15 less 50 % = 0.575
    assert.equal(pipedriveLineSum({ ...base, item_price: 1.15, quantity: 1, discount: 50 }), 0.58);
  });
});

describe('mapDealToOrder: a good deal', () => {
  test('header and lines', () => {
    const d = deal({
      value: 47,
      lines: [
        line({ product_id: 7, item_price: 10, quantity: 2, discount: 10, sum: 18 }),
        line({ product_id: 8, item_price: 14.5, quantity: 2, sum: 29 }),
      ],
    });
    const { order: o, value } = order(mapDealToOrder(d, ctx()));
    assert.equal(value, 47);
    assert.deepEqual(o, {
      so_cust: 'C1000',
      so_po: 'PD-acme-101',
      so_ord_date: '2025-06-15',
      so_curr: 'EUR',
      so_site: '10-100',
      lines: [
        { sod_line: 1, sod_part: 'WID-001', sod_qty_ord: 2, sod_price: 10, sod_disc_pct: 10 },
        { sod_line: 2, sod_part: 'GAD-002', sod_qty_ord: 2, sod_price: 14.5, sod_disc_pct: 0 },
      ],
    });
  });

  test("the order date is the won time's day, in either Pipedrive or ISO form", () => {
    assert.equal(order(mapDealToOrder(deal({ wonTime: '2024-12-31 23:59:59' }), ctx())).order.so_ord_date, '2024-12-31');
    assert.equal(order(mapDealToOrder(deal({ wonTime: '2025-01-02T08:00:00.000Z' }), ctx())).order.so_ord_date, '2025-01-02');
  });

  test('currency and site come from the deal and the defaults', () => {
    const { order: o } = order(mapDealToOrder(deal({ currency: 'USD' }), ctx({ defaults: { site: 'S2', noLines: { kind: 'reject' } } })));
    assert.equal(o.so_curr, 'USD');
    assert.equal(o.so_site, 'S2');
  });

  test('an amount discount becomes the equivalent percentage', () => {
    // 5 x 40 = 200, less 30 = 170: 15 %
    const d = deal({ value: 170, lines: [line({ item_price: 40, quantity: 5, discount: 30, discount_type: 'amount', sum: 170 })] });
    const { order: o, value } = order(mapDealToOrder(d, ctx()));
    assert.equal(value, 170);
    assert.equal(o.lines[0]?.sod_disc_pct, 15);
    assert.equal(o.lines[0]?.sod_price, 40);
    assert.equal(o.lines[0]?.sod_qty_ord, 5);
  });

  test('an amount discount that is not a round percentage is kept to four decimals', () => {
    // 3 less 1 = 2: 33.3333 %
    const d = deal({ value: 2, lines: [line({ item_price: 3, quantity: 1, discount: 1, discount_type: 'amount', sum: 2 })] });
    assert.equal(order(mapDealToOrder(d, ctx())).order.lines[0]?.sod_disc_pct, 33.3333);
  });

  test('an amount discount on a zero-value line is 0 %', () => {
    const d = deal({ value: 0, lines: [line({ item_price: 0, quantity: 1, discount: 0, discount_type: 'amount', sum: 0 })] });
    assert.equal(order(mapDealToOrder(d, ctx())).order.lines[0]?.sod_disc_pct, 0);
  });

  test('disabled lines are left out and the rest are numbered from 1', () => {
    const d = deal({
      value: 30,
      lines: [
        line({ product_id: 8, item_price: 99, quantity: 1, sum: 99, is_enabled: false }),
        line({ product_id: 7, item_price: 10, quantity: 1, sum: 10 }),
        line({ product_id: 9, item_price: 5, quantity: 1, sum: 5, is_enabled: false }),
        line({ product_id: 9, item_price: 20, quantity: 1, sum: 20 }),
      ],
    });
    const { order: o, value } = order(mapDealToOrder(d, ctx()));
    assert.equal(value, 30);
    assert.deepEqual(
      o.lines.map((l) => [l.sod_line, l.sod_part, l.sod_price]),
      [
        [1, 'WID-001', 10],
        [2, 'BOLT-003', 20],
      ],
    );
  });

  test('a disabled line needs no QAD item', () => {
    const d = deal({ lines: [line(), line({ product_id: 404, sum: 1, item_price: 1, quantity: 1, is_enabled: false })] });
    assert.equal(order(mapDealToOrder(d, ctx())).order.lines.length, 1);
  });

  test('an exclusive tax rejects the deal with a reason naming the tax, the net and the deal figure', () => {
    for (const [tax, price, quantity, sum] of [
      [20, 10, 2, 24],
      [19, 100, 1, 119],
      [7.7, 12.5, 4, 53.85],
    ] as const) {
      const d = deal({
        value: sum,
        lines: [line(), line({ product_id: 8, item_price: price, quantity, tax, tax_method: 'exclusive', sum })],
      });
      const why = reason(mapDealToOrder(d, ctx()));
      assert.match(
        why,
        new RegExp(`^line 2 carries ${tax} % exclusive tax: the QAD order would be ${(price * quantity).toFixed(2)} net `, 'u'),
      );
      assert.match(why, new RegExp(`for ${sum.toFixed(2)} EUR in the deal`, 'u'));
    }
  });

  test('an exclusive method with no tax, and an inclusive tax, are ordered at the deal value', () => {
    const d = deal({ value: 20, lines: [line({ item_price: 10, quantity: 2, tax: 0, tax_method: 'exclusive', sum: 20 })] });
    assert.equal(order(mapDealToOrder(d, ctx())).value, 20);
    const inclusive = deal({ value: 20, lines: [line({ item_price: 10, quantity: 2, tax: 19, tax_method: 'inclusive', sum: 20 })] });
    assert.equal(order(mapDealToOrder(inclusive, ctx())).value, 20);
  });

  test('a deal value equal to the cent, with floating-point noise, is accepted', () => {
    const lines = [
      line({ product_id: 7, item_price: 0.1, quantity: 1, sum: 0.1 }),
      line({ product_id: 8, item_price: 0.2, quantity: 1, sum: 0.2 }),
    ];
    // the lines add up to 0.30000000000000004
    const a = order(mapDealToOrder(deal({ value: 0.3, lines }), ctx()));
    assert.equal(a.value, 0.3);
    const b = order(mapDealToOrder(deal({ value: 0.1 + 0.2, lines }), ctx()));
    assert.equal(b.value, 0.3);
  });

  test('a half-cent line that Pipedrive rounds up is accepted', () => {
    // 0.125 x 3 = 0.375 -> Pipedrive shows 0.38
    const d = deal({ value: 0.38, lines: [line({ item_price: 0.125, quantity: 3, sum: 0.38 })] });
    assert.equal(order(mapDealToOrder(d, ctx())).value, 0.38);
  });
});

describe('mapDealToOrder: deals without lines', () => {
  test('rejected when the defaults say reject', () => {
    assert.match(reason(mapDealToOrder(deal({ lines: [] }), ctx())), /no product lines/u);
  });

  test('only disabled lines counts as no lines', () => {
    assert.match(reason(mapDealToOrder(deal({ lines: [line({ is_enabled: false })] }), ctx())), /no product lines/u);
  });

  test('with a default item: one line of it for the deal value', () => {
    const defaults: OrderDefaults = { site: '10-100', noLines: { kind: 'item', part: 'SERVICE' } };
    const { order: o, value } = order(mapDealToOrder(deal({ value: 1234.56, lines: [] }), ctx({ defaults })));
    assert.equal(value, 1234.56);
    assert.deepEqual(o, {
      so_cust: 'C1000',
      so_po: 'PD-acme-101',
      so_ord_date: '2025-06-15',
      so_curr: 'EUR',
      so_site: '10-100',
      lines: [{ sod_line: 1, sod_part: 'SERVICE', sod_qty_ord: 1, sod_price: 1234.56, sod_disc_pct: 0 }],
    });
  });

  test('with a default item, only disabled lines also gives the one line', () => {
    const defaults: OrderDefaults = { site: '10-100', noLines: { kind: 'item', part: 'SERVICE' } };
    const { order: o } = order(mapDealToOrder(deal({ value: 50, lines: [line({ is_enabled: false })] }), ctx({ defaults })));
    assert.deepEqual(o.lines, [{ sod_line: 1, sod_part: 'SERVICE', sod_qty_ord: 1, sod_price: 50, sod_disc_pct: 0 }]);
  });
});

describe('mapDealToOrder: rejections', () => {
  test('an amount discount QAD cannot reproduce to the cent as a percentage is rejected with both figures', () => {
    // 100,000 off 300,000 is 33.3333%, which QAD turns into 200,000.10.
    const l = line({ item_price: 300_000, quantity: 1, discount: 100_000, discount_type: 'amount', sum: 200_000 });
    const r = reason(mapDealToOrder(deal({ value: 200_000, lines: [l] }), ctx()));
    assert.match(r, /line 1: QAD would compute 200000\.10 from the discount as a percentage, Pipedrive 200000\.00/u);
  });

  test('no organization', () => {
    assert.equal(reason(mapDealToOrder(deal({ orgId: null }), ctx({ customerCode: undefined }))), 'the deal has no organization');
  });

  test('organization not linked to a QAD customer', () => {
    const r = reason(mapDealToOrder(deal({ orgId: 55 }), ctx({ customerCode: undefined })));
    assert.match(r, /organization 55 /u);
    assert.match(r, /not linked/u);
  });

  test('the organization is checked before the lines', () => {
    assert.match(reason(mapDealToOrder(deal({ orgId: 55, lines: [] }), ctx({ customerCode: undefined }))), /not linked/u);
  });

  test('a product with no QAD item: the reason lists each product id once', () => {
    const d = deal({
      value: 40,
      lines: [
        line({ product_id: 7, sum: 10, item_price: 10, quantity: 1 }),
        line({ product_id: 300, sum: 10, item_price: 10, quantity: 1 }),
        line({ product_id: 301, sum: 10, item_price: 10, quantity: 1 }),
        line({ product_id: 300, sum: 10, item_price: 10, quantity: 1 }),
      ],
    });
    const r = reason(mapDealToOrder(d, ctx()));
    assert.match(r, /no QAD item/u);
    assert.match(r, /\b300, 301\b/u);
    assert.doesNotMatch(r, /\b7\b/u);
    assert.equal(r.match(/\b300\b/gu)?.length, 1);
  });

  test('a line whose Pipedrive sum disagrees with its own figures', () => {
    const d = deal({
      value: 29,
      lines: [
        line({ product_id: 7, item_price: 10, quantity: 1, sum: 10 }),
        line({ product_id: 8, item_price: 10, quantity: 2, discount: 10, sum: 19 }),
      ],
    });
    const r = reason(mapDealToOrder(d, ctx()));
    assert.match(r, /^line 2:/u);
    assert.match(r, /\b19\b/u);
    assert.match(r, /\b18\b/u);
  });

  test('a line sum off by one cent is rejected', () => {
    const d = deal({ value: 20.01, lines: [line({ item_price: 10, quantity: 2, sum: 20.01 })] });
    assert.match(reason(mapDealToOrder(d, ctx())), /^line 1:/u);
  });

  test('an order value a cent away from the deal value: rejected with both figures', () => {
    const d = deal({ value: 100.01, lines: [line({ item_price: 50, quantity: 2, sum: 100 })] });
    const r = reason(mapDealToOrder(d, ctx()));
    assert.match(r, /100\.00/u);
    assert.match(r, /100\.01/u);
    assert.match(r, /EUR/u);
  });

  test('a cent below the deal value is rejected too', () => {
    const d = deal({ value: 99.99, lines: [line({ item_price: 50, quantity: 2, sum: 100 })] });
    const r = reason(mapDealToOrder(d, ctx()));
    assert.match(r, /100\.00/u);
    assert.match(r, /99\.99/u);
  });
});

describe('dealContentHash', () => {
  const twoLines = (): WonDeal =>
    deal({ lines: [line({ product_id: 7 }), line({ product_id: 8, item_price: 5, quantity: 4, discount: 5 })] });
  const h0 = dealContentHash(twoLines());

  test('stable for equal content', () => {
    assert.equal(dealContentHash(twoLines()), h0);
    assert.equal(typeof h0, 'string');
    assert.ok(h0.length > 0);
  });

  test('not changed by title, won time, line name or line sum', () => {
    assert.equal(dealContentHash({ ...twoLines(), title: 'Renamed' }), h0);
    assert.equal(dealContentHash({ ...twoLines(), wonTime: '2030-01-01 00:00:00' }), h0);
    const d = twoLines();
    assert.equal(dealContentHash({ ...d, lines: d.lines.map((l) => ({ ...l, name: 'Other name' })) }), h0);
    assert.equal(dealContentHash({ ...d, lines: d.lines.map((l) => ({ ...l, sum: l.sum + 1 })) }), h0);
  });

  test('changes with value, currency and organization', () => {
    assert.notEqual(dealContentHash({ ...twoLines(), value: 20.01 }), h0);
    assert.notEqual(dealContentHash({ ...twoLines(), currency: 'USD' }), h0);
    assert.notEqual(dealContentHash({ ...twoLines(), orgId: 6 }), h0);
    assert.notEqual(dealContentHash({ ...twoLines(), orgId: null }), h0);
  });

  const changeLine = (index: number, over: Partial<DealLine>): string => {
    const d = twoLines();
    return dealContentHash({ ...d, lines: d.lines.map((l, i) => (i === index ? { ...l, ...over } : l)) });
  };

  for (const index of [0, 1]) {
    test(`changes with line ${index + 1}'s quantity, price, discount and enabled flag`, () => {
      const l = twoLines().lines[index];
      assert.ok(l);
      const seen = new Set<string>([h0]);
      for (const h of [
        changeLine(index, { quantity: l.quantity + 1 }),
        changeLine(index, { item_price: l.item_price + 0.01 }),
        changeLine(index, { discount: l.discount + 1 }),
        changeLine(index, { is_enabled: !l.is_enabled }),
      ]) {
        assert.ok(!seen.has(h), 'each change gives a new hash');
        seen.add(h);
      }
    });
  }

  test('changes with the product and with a line added or removed', () => {
    assert.notEqual(changeLine(0, { product_id: 9 }), h0);
    const d = twoLines();
    assert.notEqual(dealContentHash({ ...d, lines: d.lines.slice(0, 1) }), h0);
    assert.notEqual(dealContentHash({ ...d, lines: [...d.lines, line({ product_id: 9 })] }), h0);
  });
});
