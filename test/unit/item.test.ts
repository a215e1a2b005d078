import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { expectOk, expectRejected as rejected, rowWith, rowWithout } from './parsed-row-helpers.ts';
import type { ParsedRow } from '../../shared/domain/customer.ts';
import {
  mapItemToProduct,
  parseItemRow,
  parsePriceRow,
  pricesOf,
  productContentHash,
  type Item,
  type PriceRow,
} from '../../shared/domain/item.ts';

const ONE_MB = 1024 * 1024;
/** As the tenant config hands them over: upper-cased. */
const ACTIVE = ['ACTIVE', 'AC'] as const;

function goodPriceRow(): Record<string, unknown> {
  return {
    'pi_mstr.pi_list': 'LIST1',
    'pi_mstr.pi_part_code': '10-001',
    'pi_mstr.pi_curr': 'USD',
    'pi_mstr.pi_list_price': 12.5,
    'pi_mstr.pi_mod_date': '2025-06-15',
  };
}

function goodItemRow(): Record<string, unknown> {
  return {
    'pt_mstr.pt_part': '10-001',
    'pt_mstr.pt_desc1': 'Gear wheel',
    'pt_mstr.pt_desc2': '40 teeth, steel',
    'pt_mstr.pt_um': 'EA',
    'pt_mstr.pt_prod_line': 'GEAR',
    'pt_mstr.pt_status': 'ACTIVE',
    'pt_mstr.pt_mod_date': '2025-06-15',
  };
}

const withField = (field: string, value: unknown) => rowWith(goodItemRow(), field, value);
const withoutField = (field: string) => rowWithout(goodItemRow(), field);
const expectRejected = (result: ParsedRow<Item>) => rejected(result);

function priceRow(currency: string, price: number, modDate = '2025-06-15'): PriceRow {
  return { list: 'LIST1', part: '10-001', currency, price, modDate };
}

function item(overrides: Partial<Item> = {}): Item {
  return {
    part: '10-001',
    description: 'Gear wheel',
    description2: '40 teeth, steel',
    unit: 'EA',
    productLine: 'GEAR',
    status: 'ACTIVE',
    modDate: '2025-06-15',
    prices: [
      { currency: 'EUR', price: 11 },
      { currency: 'USD', price: 12.5 },
    ],
    ...overrides,
  };
}

function expectPrice(row: unknown): PriceRow {
  const result = parsePriceRow(row);
  if (!result.ok) assert.fail(`expected ok, got: ${result.reason}`);
  return result.price;
}

function expectPriceRejected(row: unknown): string {
  const result = parsePriceRow(row);
  if (result.ok) assert.fail(`expected a rejection, got: ${JSON.stringify(result.price)}`);
  return result.reason;
}

describe('parsePriceRow', () => {
  test('a good row becomes a PriceRow, part code cleaned', () => {
    assert.deepEqual(expectPrice({ ...goodPriceRow(), 'pi_mstr.pi_part_code': ' 10-001 ' }), {
      list: 'LIST1',
      part: '10-001',
      currency: 'USD',
      price: 12.5,
      modDate: '2025-06-15',
    });
  });

  for (const bad of ['usd', 'US', 'USDX', 'U$D', '', ' USD', 'Eur']) {
    test(`currency ${JSON.stringify(bad)} is rejected`, () => {
      const reason = expectPriceRejected({ ...goodPriceRow(), 'pi_mstr.pi_curr': bad });
      assert.match(reason, /^invalid QAD price row: /u);
      assert.match(reason, /pi_mstr\.pi_curr must be an ISO currency code/u);
    });
  }

  test('a missing currency is rejected', () => {
    const row = goodPriceRow();
    delete row['pi_mstr.pi_curr'];
    assert.match(expectPriceRejected(row), /pi_mstr\.pi_curr/u);
  });

  for (const bad of [-1, -0.01, '-5', '-0.5']) {
    test(`negative price ${JSON.stringify(bad)} is rejected`, () => {
      const reason = expectPriceRejected({ ...goodPriceRow(), 'pi_mstr.pi_list_price': bad });
      assert.match(reason, /pi_mstr\.pi_list_price must not be negative/u);
    });
  }

  for (const [input, expected] of [
    ['12.50', 12.5],
    ['0', 0],
    ['100', 100],
    [0, 0],
    [99.99, 99.99],
  ] as const) {
    test(`price ${JSON.stringify(input)} is accepted as ${expected}`, () => {
      assert.equal(expectPrice({ ...goodPriceRow(), 'pi_mstr.pi_list_price': input }).price, expected);
    });
  }

  for (const bad of ['abc', '', '1e3', '12,50', ' 12', Number.POSITIVE_INFINITY, Number.NaN, null]) {
    test(`price ${String(bad)} is rejected`, () => {
      assert.match(expectPriceRejected({ ...goodPriceRow(), 'pi_mstr.pi_list_price': bad }), /pi_mstr\.pi_list_price/u);
    });
  }

  test('a bad mod date is rejected', () => {
    assert.match(
      expectPriceRejected({ ...goodPriceRow(), 'pi_mstr.pi_mod_date': '2025/06/15' }),
      /pi_mstr\.pi_mod_date must be a date YYYY-MM-DD/u,
    );
  });

  for (const input of [null, undefined, [], 42, 'USD']) {
    test(`never throws on ${JSON.stringify(input) ?? 'undefined'}`, () => {
      assert.doesNotThrow(() => parsePriceRow(input));
      assert.match(expectPriceRejected(input), /^invalid QAD price row: /u);
    });
  }
});

describe('pricesOf', () => {
  test('no rows: no prices', () => {
    assert.deepEqual(pricesOf([]), []);
  });

  test('one price per currency, sorted by currency', () => {
    assert.deepEqual(pricesOf([priceRow('USD', 12.5), priceRow('CHF', 13), priceRow('EUR', 11)]), [
      { currency: 'CHF', price: 13 },
      { currency: 'EUR', price: 11 },
      { currency: 'USD', price: 12.5 },
    ]);
  });

  test('the latest mod date wins, whatever the row order', () => {
    const older = priceRow('USD', 10, '2025-01-01');
    const newer = priceRow('USD', 12, '2025-06-01');
    const expected = [{ currency: 'USD', price: 12 }];
    assert.deepEqual(pricesOf([older, newer]), expected);
    assert.deepEqual(pricesOf([newer, older]), expected);
  });

  test('the latest mod date wins per currency, independently', () => {
    assert.deepEqual(
      pricesOf([
        priceRow('USD', 10, '2025-01-01'),
        priceRow('EUR', 9, '2025-09-01'),
        priceRow('USD', 12, '2025-06-01'),
        priceRow('EUR', 8, '2025-03-01'),
        priceRow('USD', 11, '2025-02-01'),
      ]),
      [
        { currency: 'EUR', price: 9 },
        { currency: 'USD', price: 12 },
      ],
    );
  });

  test('returns only currency and price', () => {
    for (const p of pricesOf([priceRow('USD', 1)])) assert.deepEqual(Object.keys(p).sort(), ['currency', 'price']);
  });
});

describe('parseItemRow', () => {
  test('a good row becomes an Item with cleaned text and its prices attached', () => {
    const row = { ...goodItemRow(), 'pt_mstr.pt_part': ' 10-001 ', 'pt_mstr.pt_desc1': '  Gear   wheel ' };
    const prices = [priceRow('USD', 12.5), priceRow('EUR', 10, '2025-01-01'), priceRow('EUR', 11, '2025-02-01')];
    assert.deepEqual(expectOk(parseItemRow(row, prices)), {
      part: '10-001',
      description: 'Gear wheel',
      description2: '40 teeth, steel',
      unit: 'EA',
      productLine: 'GEAR',
      status: 'ACTIVE',
      modDate: '2025-06-15',
      prices: [
        { currency: 'EUR', price: 11 },
        { currency: 'USD', price: 12.5 },
      ],
    });
  });

  test('an item without prices has an empty price set', () => {
    assert.deepEqual(expectOk(parseItemRow(goodItemRow(), [])).prices, []);
  });

  test('optional text fields may be missing or null and become empty strings', () => {
    const row: Record<string, unknown> = { ...withoutField('pt_mstr.pt_desc2'), 'pt_mstr.pt_um': null };
    delete row['pt_mstr.pt_status'];
    delete row['pt_mstr.pt_prod_line'];
    const i = expectOk(parseItemRow(row, []));
    assert.equal(i.description2, '');
    assert.equal(i.unit, '');
    assert.equal(i.status, '');
    assert.equal(i.productLine, '');
  });

  test('a missing desc1 is rejected, keeping the key', () => {
    const { key, reason } = expectRejected(parseItemRow(withoutField('pt_mstr.pt_desc1'), []));
    assert.equal(key, '10-001');
    assert.match(reason, /^invalid QAD item row: /u);
    assert.match(reason, /pt_mstr\.pt_desc1/u);
  });

  test('a blank desc1 is rejected as required', () => {
    const { key, reason } = expectRejected(parseItemRow(withField('pt_mstr.pt_desc1', '   '), []));
    assert.equal(key, '10-001');
    assert.match(reason, /pt_mstr\.pt_desc1 is required/u);
  });

  test('a missing part is rejected without a key', () => {
    const { key, reason } = expectRejected(parseItemRow(withoutField('pt_mstr.pt_part'), []));
    assert.equal(key, undefined);
    assert.match(reason, /pt_mstr\.pt_part/u);
  });

  test('an oversize (1 MB) part is rejected, naming the field, without a key', () => {
    const { key, reason } = expectRejected(parseItemRow(withField('pt_mstr.pt_part', 'P'.repeat(ONE_MB)), []));
    assert.equal(key, undefined);
    assert.match(reason, new RegExp(`pt_mstr\\.pt_part is longer than 255 characters \\(${ONE_MB}\\)`, 'u'));
    assert.ok(reason.length < 1000, 'the reason does not echo the value');
  });

  for (const field of ['pt_mstr.pt_desc1', 'pt_mstr.pt_desc2', 'pt_mstr.pt_um']) {
    test(`an oversize ${field} is rejected, naming the field, keeping the key`, () => {
      const { key, reason } = expectRejected(parseItemRow(withField(field, 'x'.repeat(256)), []));
      assert.equal(key, '10-001');
      assert.match(reason, new RegExp(`${field.replace('.', '\\.')} is longer than 255 characters \\(256\\)`, 'u'));
    });
  }

  test('control characters in desc1 are rejected', () => {
    const { reason } = expectRejected(parseItemRow(withField('pt_mstr.pt_desc1', 'Gear\u0000wheel'), []));
    assert.match(reason, /pt_mstr\.pt_desc1 contains control characters/u);
  });

  test('a bad mod date is rejected', () => {
    const { reason } = expectRejected(parseItemRow(withField('pt_mstr.pt_mod_date', '15/06/2025'), []));
    assert.match(reason, /pt_mstr\.pt_mod_date must be a date YYYY-MM-DD/u);
  });

  for (const input of [null, undefined, [], 42, '10-001']) {
    test(`never throws on ${JSON.stringify(input) ?? 'undefined'}`, () => {
      let result: ParsedRow<Item> | undefined;
      assert.doesNotThrow(() => {
        result = parseItemRow(input, []);
      });
      assert.ok(result);
      assert.equal(expectRejected(result).key, undefined);
    });
  }
});

describe('mapItemToProduct', () => {
  test('an active item: code = part, name = desc1, unit, description = desc2, linkable, all prices', () => {
    assert.deepEqual(mapItemToProduct(item(), ACTIVE), {
      name: 'Gear wheel',
      code: '10-001',
      unit: 'EA',
      description: '40 teeth, steel',
      is_linkable: true,
      prices: [
        { currency: 'EUR', price: 11 },
        { currency: 'USD', price: 12.5 },
      ],
    });
  });

  test('an active item without unit or desc2 has neither unit nor description', () => {
    const product = mapItemToProduct(item({ unit: '', description2: '' }), ACTIVE);
    assert.equal('unit' in product, false);
    assert.equal('description' in product, false);
    assert.equal(product.is_linkable, true);
  });

  test('an item whose status is not active is not linkable and its description says why', () => {
    const product = mapItemToProduct(item({ status: 'OBSOLETE' }), ACTIVE);
    assert.equal(product.is_linkable, false);
    assert.equal(product.description, '40 teeth, steel | Inactive in QAD (status OBSOLETE)');
  });

  test('an inactive item without desc2 gets only the inactive note as description', () => {
    const product = mapItemToProduct(item({ status: 'OBSOLETE', description2: '' }), ACTIVE);
    assert.equal(product.is_linkable, false);
    assert.equal(product.description, 'Inactive in QAD (status OBSOLETE)');
  });

  test('a blank status is not active and is described as blank', () => {
    const product = mapItemToProduct(item({ status: '', description2: '' }), ACTIVE);
    assert.equal(product.is_linkable, false);
    assert.equal(product.description, 'Inactive in QAD (status blank)');
  });

  test('the inactive note shows the status as QAD has it', () => {
    assert.equal(mapItemToProduct(item({ status: 'Hold', description2: '' }), ACTIVE).description, 'Inactive in QAD (status Hold)');
  });

  for (const status of ['active', 'Active', 'ACTIVE', 'ac', 'aC']) {
    test(`status ${JSON.stringify(status)} compares case-insensitively as active`, () => {
      const product = mapItemToProduct(item({ status }), ACTIVE);
      assert.equal(product.is_linkable, true);
      assert.equal(product.description, '40 teeth, steel');
    });
  }

  test('any status in the active list counts as active', () => {
    assert.equal(mapItemToProduct(item({ status: 'AC' }), ACTIVE).is_linkable, true);
    assert.equal(mapItemToProduct(item({ status: 'AC' }), ['ACTIVE']).is_linkable, false);
  });

  test('prices are the full set, in order', () => {
    const prices = [
      { currency: 'CHF', price: 13 },
      { currency: 'EUR', price: 11 },
      { currency: 'USD', price: 12.5 },
    ];
    assert.deepEqual(mapItemToProduct(item({ prices }), ACTIVE).prices, prices);
  });

  test('no prices: an empty price array, not an absent one', () => {
    assert.deepEqual(mapItemToProduct(item({ prices: [] }), ACTIVE).prices, []);
  });

  test('the payload does not share price objects with the item', () => {
    const i = item();
    const product = mapItemToProduct(i, ACTIVE);
    assert.notEqual(product.prices, i.prices);
    assert.notEqual(product.prices[0], i.prices[0]);
  });
});

describe('productContentHash', () => {
  const base = productContentHash(item(), ACTIVE);

  test('is stable for equal content', () => {
    assert.equal(productContentHash(item(), ACTIVE), base);
  });

  test('does not change when only the mod date changes', () => {
    assert.equal(productContentHash(item({ modDate: '2030-12-31' }), ACTIVE), base);
  });

  test('changes when any one currency price changes', () => {
    assert.notEqual(
      productContentHash(
        item({
          prices: [
            { currency: 'EUR', price: 11.01 },
            { currency: 'USD', price: 12.5 },
          ],
        }),
        ACTIVE,
      ),
      base,
    );
    assert.notEqual(
      productContentHash(
        item({
          prices: [
            { currency: 'EUR', price: 11 },
            { currency: 'USD', price: 13 },
          ],
        }),
        ACTIVE,
      ),
      base,
    );
  });

  test('changes when a currency is added or removed', () => {
    assert.notEqual(productContentHash(item({ prices: [{ currency: 'USD', price: 12.5 }] }), ACTIVE), base);
    assert.notEqual(
      productContentHash(
        item({
          prices: [
            { currency: 'CHF', price: 13 },
            { currency: 'EUR', price: 11 },
            { currency: 'USD', price: 12.5 },
          ],
        }),
        ACTIVE,
      ),
      base,
    );
  });

  test('changes when the status flips active -> inactive and back', () => {
    const inactive = productContentHash(item({ status: 'OBSOLETE' }), ACTIVE);
    assert.notEqual(inactive, base);
    assert.equal(productContentHash(item({ status: 'ACTIVE' }), ACTIVE), base);
  });

  test('changes when the status leaves the active list', () => {
    assert.notEqual(productContentHash(item(), ['AC']), base);
  });

  test('changes when name, desc2 or unit changes', () => {
    assert.notEqual(productContentHash(item({ description: 'Gear wheel XL' }), ACTIVE), base);
    assert.notEqual(productContentHash(item({ description2: '42 teeth' }), ACTIVE), base);
    assert.notEqual(productContentHash(item({ unit: 'PC' }), ACTIVE), base);
  });

  test('the hash computed from parsed rows is independent of the item mod date', () => {
    const prices = [priceRow('USD', 12.5)];
    const a = expectOk(parseItemRow(goodItemRow(), prices));
    const b = expectOk(parseItemRow(withField('pt_mstr.pt_mod_date', '2026-01-01'), prices));
    assert.equal(productContentHash(a, ACTIVE), productContentHash(b, ACTIVE));
  });
});
