import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { expectOk, expectRejected as rejected, rowWith, rowWithout } from './parsed-row-helpers.ts';
import { parseCustomerRow, type Customer, type ParsedRow } from '../../shared/domain/customer.ts';

/** A complete, valid customer browse row as QAD returns it. */
function goodRow(): Record<string, unknown> {
  return {
    'cm_mstr.cm_addr': 'C1000',
    'ad_mstr.ad_name': 'Acme Industries',
    'cm_mstr.cm_curr': 'USD',
    'cm_mstr.cm_cr_terms': 'N30',
    'cm_mstr.cm_site': '10-100',
    'cm_mstr.cm_cr_limit': 50000,
    'cm_mstr.cm_mod_date': '2025-06-15',
    'ad_mstr.ad_line1': '1 Main Street',
    'ad_mstr.ad_line2': 'Building 4',
    'ad_mstr.ad_line3': '',
    'ad_mstr.ad_city': 'Springfield',
    'ad_mstr.ad_state': 'IL',
    'ad_mstr.ad_zip': '62701',
    'ad_mstr.ad_country': 'USA',
    'ad_mstr.ad_phone': '+1 217 555 0100',
    'ad_mstr.ad_email': 'ap@acme.example',
  };
}

const withField = (field: string, value: unknown) => rowWith(goodRow(), field, value);
const withoutField = (field: string) => rowWithout(goodRow(), field);
const expectRejected = (result: ParsedRow<Customer>) => rejected(result, /^invalid QAD customer row: /u);

/** Parses without ever letting an exception escape unnoticed. */
function parse(row: unknown): ParsedRow<Customer> {
  let result: ParsedRow<Customer> | undefined;
  assert.doesNotThrow(() => {
    result = parseCustomerRow(row);
  });
  assert.ok(result);
  return result;
}

describe('parseCustomerRow: good rows', () => {
  test('a complete row becomes a Customer with every field in place', () => {
    const c = expectOk(parse(goodRow()));
    assert.deepEqual(c, {
      code: 'C1000',
      name: 'Acme Industries',
      currency: 'USD',
      creditTerms: 'N30',
      site: '10-100',
      creditLimit: 50000,
      address: { line1: '1 Main Street', line2: 'Building 4', line3: '', city: 'Springfield', state: 'IL', zip: '62701', country: 'USA' },
      phone: '+1 217 555 0100',
      email: 'ap@acme.example',
      modDate: '2025-06-15',
    });
  });

  test('text is trimmed, inner white space collapsed, and composed to NFC', () => {
    const row = {
      ...goodRow(),
      'cm_mstr.cm_addr': '  C1000 ',
      'ad_mstr.ad_name': '  Cafe\u0301   du\t\tMonde \n',
      'ad_mstr.ad_city': ' Saint   Louis ',
      'cm_mstr.cm_curr': ' EUR ',
    };
    const c = expectOk(parse(row));
    assert.equal(c.code, 'C1000');
    assert.equal(c.name, 'Caf\u00e9 du Monde');
    assert.equal(c.name.length, 'Café du Monde'.normalize('NFC').length);
    assert.equal(c.address.city, 'Saint Louis');
    assert.equal(c.currency, 'EUR');
  });

  test('credit limit: a number is kept', () => {
    assert.equal(expectOk(parse(withField('cm_mstr.cm_cr_limit', 1234.5))).creditLimit, 1234.5);
    assert.equal(expectOk(parse(withField('cm_mstr.cm_cr_limit', 0))).creditLimit, 0);
  });

  test('credit limit: a numeric string becomes a number', () => {
    assert.equal(expectOk(parse(withField('cm_mstr.cm_cr_limit', '2500.75'))).creditLimit, 2500.75);
    assert.equal(expectOk(parse(withField('cm_mstr.cm_cr_limit', '-100'))).creditLimit, -100);
  });

  test('credit limit: null or absent becomes null', () => {
    assert.equal(expectOk(parse(withField('cm_mstr.cm_cr_limit', null))).creditLimit, null);
    assert.equal(expectOk(parse(withoutField('cm_mstr.cm_cr_limit'))).creditLimit, null);
  });

  test('credit limit: a non-numeric string is rejected and names the field', () => {
    const { reason, key } = expectRejected(parse(withField('cm_mstr.cm_cr_limit', 'lots')));
    assert.match(reason, /cm_mstr\.cm_cr_limit/u);
    assert.equal(key, 'C1000');
  });

  test('optional text fields that are null or absent become empty strings', () => {
    const row = withField('ad_mstr.ad_line2', null);
    delete row['ad_mstr.ad_phone'];
    delete row['cm_mstr.cm_curr'];
    const c = expectOk(parse(row));
    assert.equal(c.address.line2, '');
    assert.equal(c.phone, '');
    assert.equal(c.currency, '');
  });

  test('emoji and right-to-left text are accepted and preserved', () => {
    const name = 'شركة الأمل 🚀 Acme 👨‍👩‍👧';
    const city = 'תל אביב';
    const c = expectOk(parse({ ...goodRow(), 'ad_mstr.ad_name': name, 'ad_mstr.ad_city': city }));
    assert.equal(c.name, name);
    assert.equal(c.address.city, city);
  });

  test('unknown extra columns are ignored', () => {
    const row = { ...goodRow(), 'cm_mstr.cm_something_new': 'x', extra: { nested: true }, 'ad_mstr.ad_fax': 42 };
    const c = expectOk(parse(row));
    assert.deepEqual(Object.keys(c).sort(), [
      'address',
      'code',
      'creditLimit',
      'creditTerms',
      'currency',
      'email',
      'modDate',
      'name',
      'phone',
      'site',
    ]);
    assert.equal(JSON.stringify(c).includes('something_new'), false);
  });

  test('a name exactly 255 characters long (code points) is accepted', () => {
    const name = '😀'.repeat(255); // 510 UTF-16 units, 255 code points
    assert.equal(expectOk(parse(withField('ad_mstr.ad_name', name))).name, name);
  });
});

describe('parseCustomerRow: missing required fields', () => {
  test('missing customer code: rejected, no key, reason names the field', () => {
    const { key, reason } = expectRejected(parse(withoutField('cm_mstr.cm_addr')));
    assert.equal(key, undefined);
    assert.match(reason, /cm_mstr\.cm_addr/u);
  });

  test('blank customer code: rejected as required, no key', () => {
    const { key, reason } = expectRejected(parse(withField('cm_mstr.cm_addr', '   ')));
    assert.equal(key, undefined);
    assert.match(reason, /cm_mstr\.cm_addr is required/u);
  });

  test('missing name: rejected, the key is kept for the audit', () => {
    const { key, reason } = expectRejected(parse(withoutField('ad_mstr.ad_name')));
    assert.equal(key, 'C1000');
    assert.match(reason, /ad_mstr\.ad_name/u);
  });

  test('white-space-only name: rejected as required, key kept', () => {
    const { key, reason } = expectRejected(parse(withField('ad_mstr.ad_name', ' \t ')));
    assert.equal(key, 'C1000');
    assert.match(reason, /ad_mstr\.ad_name is required/u);
  });

  test('missing mod date: rejected, names the field', () => {
    const { key, reason } = expectRejected(parse(withoutField('cm_mstr.cm_mod_date')));
    assert.equal(key, 'C1000');
    assert.match(reason, /cm_mstr\.cm_mod_date/u);
  });

  test('the audit key of a rejected row is the same code a valid row would get (cleaned like the code)', () => {
    // The valid row's code is cleanText(value); the audit/rejection key should be the same string so
    // that markRejected and later successes land on one key-map entry.
    const code = 'AB  01';
    const good = expectOk(parse(withField('cm_mstr.cm_addr', code)));
    const bad = expectRejected(parse({ ...withoutField('ad_mstr.ad_name'), 'cm_mstr.cm_addr': code }));
    assert.equal(bad.key, good.code);
  });
});

describe('parseCustomerRow: wrong types', () => {
  test('a number for the name is rejected', () => {
    const { key, reason } = expectRejected(parse(withField('ad_mstr.ad_name', 12345)));
    assert.equal(key, 'C1000');
    assert.match(reason, /ad_mstr\.ad_name/u);
  });

  test('an object for the name is rejected', () => {
    const { reason } = expectRejected(parse(withField('ad_mstr.ad_name', { first: 'Acme' })));
    assert.match(reason, /ad_mstr\.ad_name/u);
  });

  test('a number for the customer code is rejected with no key', () => {
    const { key, reason } = expectRejected(parse(withField('cm_mstr.cm_addr', 1000)));
    assert.equal(key, undefined);
    assert.match(reason, /cm_mstr\.cm_addr/u);
  });

  test('an object for an optional text field is rejected and named', () => {
    const { reason } = expectRejected(parse(withField('ad_mstr.ad_city', { city: 'X' })));
    assert.match(reason, /ad_mstr\.ad_city/u);
  });

  test('an empty object row is rejected naming the required fields', () => {
    const { key, reason } = expectRejected(parse({}));
    assert.equal(key, undefined);
    assert.match(reason, /cm_mstr\.cm_addr/u);
    assert.match(reason, /ad_mstr\.ad_name/u);
  });

  for (const [label, row] of [
    ['null', null],
    ['undefined', undefined],
    ['an array', [goodRow()]],
    ['a string', 'C1000,Acme'],
    ['a number', 42],
    ['a boolean', true],
  ] as const) {
    test(`a row that is ${label} is rejected without a key and without throwing`, () => {
      const { key, reason } = expectRejected(parse(row));
      assert.equal(key, undefined);
      assert.ok(reason.length > 'invalid QAD customer row: '.length, 'reason says something');
    });
  }
});

describe('parseCustomerRow: oversized and unsafe text', () => {
  const MB = 1024 * 1024;

  test('a 1 MB name is rejected; the reason names the field and the length', () => {
    const { key, reason } = expectRejected(parse(withField('ad_mstr.ad_name', 'x'.repeat(MB))));
    assert.equal(key, 'C1000');
    assert.match(reason, /ad_mstr\.ad_name/u);
    assert.match(reason, new RegExp(`\\(${MB}\\)`, 'u'));
    assert.ok(reason.length < 1000, 'the reason does not echo the value');
  });

  test('a 1 MB address line is rejected naming the field and the length', () => {
    const { reason } = expectRejected(parse(withField('ad_mstr.ad_line1', 'y'.repeat(MB))));
    assert.match(reason, /ad_mstr\.ad_line1 is longer than 255 characters \(1048576\)/u);
  });

  test('a 1 MB customer code is rejected and not used as the key', () => {
    const { key, reason } = expectRejected(parse(withField('cm_mstr.cm_addr', 'K'.repeat(MB))));
    assert.equal(key, undefined);
    assert.match(reason, /cm_mstr\.cm_addr/u);
    assert.ok(reason.length < 1000);
  });

  // Every text field goes into the queued record, so each must be bounded: an unbounded value makes
  // the SQS message too large and fails the whole poll instead of rejecting the one row.
  for (const field of ['cm_mstr.cm_curr', 'cm_mstr.cm_cr_terms', 'cm_mstr.cm_site']) {
    test(`a 1 MB ${field} is rejected naming the field and the length`, () => {
      const { key, reason } = expectRejected(parse(withField(field, 'z'.repeat(MB))));
      assert.equal(key, 'C1000');
      assert.ok(reason.includes(field), `reason names ${field}: ${reason.slice(0, 200)}`);
      assert.ok(reason.includes(String(MB)), 'reason gives the length');
    });
  }

  for (const [label, ch] of [
    ['NUL', '\u0000'],
    ['BEL', '\u0007'],
    ['ESC', '\u001B'],
    ['DEL', '\u007F'],
    ['C1 CSI', '\u009B'],
  ] as const) {
    test(`a ${label} control character in the name is rejected`, () => {
      const { key, reason } = expectRejected(parse(withField('ad_mstr.ad_name', `Acme${ch}Corp`)));
      assert.equal(key, 'C1000');
      assert.match(reason, /ad_mstr\.ad_name contains control characters/u);
    });
  }

  test('a control character in an address field is rejected and named', () => {
    const { reason } = expectRejected(parse(withField('ad_mstr.ad_zip', '627\u000101')));
    assert.match(reason, /ad_mstr\.ad_zip contains control characters/u);
  });

  test('a control character in the customer code is rejected with no key', () => {
    const { key, reason } = expectRejected(parse(withField('cm_mstr.cm_addr', 'C1\u00000')));
    assert.equal(key, undefined);
    assert.match(reason, /cm_mstr\.cm_addr contains control characters/u);
  });

  for (const field of ['cm_mstr.cm_curr', 'cm_mstr.cm_cr_terms', 'cm_mstr.cm_site']) {
    test(`a control character in ${field} is rejected`, () => {
      const { reason } = expectRejected(parse(withField(field, 'A\u0000B')));
      assert.ok(reason.includes(field), `reason names ${field}: ${reason}`);
    });
  }

  test('tabs and newlines are white space, not rejected: they collapse to one space', () => {
    assert.equal(expectOk(parse(withField('ad_mstr.ad_name', 'Acme\t\r\nCorp'))).name, 'Acme Corp');
  });

  test('several problems are all reported', () => {
    const row = { ...goodRow(), 'ad_mstr.ad_line1': 'a\u0000', 'ad_mstr.ad_city': 'c'.repeat(300) };
    const { reason } = expectRejected(parse(row));
    assert.match(reason, /ad_mstr\.ad_line1 contains control characters/u);
    assert.match(reason, /ad_mstr\.ad_city is longer than 255 characters \(300\)/u);
  });
});

describe('parseCustomerRow: dates', () => {
  for (const bad of ['15/06/2025', '2025-6-15', '2025-06-15T10:00:00Z', '20250615', '', ' 2025-06-15']) {
    test(`mod date ${JSON.stringify(bad)} is rejected with the expected format`, () => {
      const { key, reason } = expectRejected(parse(withField('cm_mstr.cm_mod_date', bad)));
      assert.equal(key, 'C1000');
      assert.match(reason, /cm_mstr\.cm_mod_date must be a date YYYY-MM-DD/u);
    });
  }

  test('a mod date that is not a string is rejected', () => {
    const { reason } = expectRejected(parse(withField('cm_mstr.cm_mod_date', 20250615)));
    assert.match(reason, /cm_mstr\.cm_mod_date/u);
  });
});
