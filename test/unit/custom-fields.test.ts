import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_FIELD_MAPPING, dealFieldEntries, parseFieldMapping } from '../../shared/config/field-mapping.ts';
import { parseTenantConfig } from '../../shared/config/tenant.ts';
import {
  checkFieldsExist,
  readMappedValues,
  resolveFields,
  typeValue,
  withMappedFields,
  type FieldDefinition,
} from '../../shared/domain/custom-fields.ts';
import { parseCustomerRow, type Customer } from '../../shared/domain/customer.ts';
import { mapDealToOrder } from '../../shared/domain/sales-order.ts';
import { customerValue, hashWithMappedValues, namedValues } from '../../shared/domain/mapped-values.ts';
import { organizations } from '../../shared/flows/entities/organizations.ts';

const hex = (c: string) => c.repeat(40);
const def = (
  code: string,
  name: string,
  type: string,
  options: Array<{ id: number; label: string }> = [],
  custom = true,
): FieldDefinition => ({ field_code: code, field_name: name, field_type: type, is_custom_field: custom, options });

const DEFS: FieldDefinition[] = [
  def('name', 'Name', 'varchar', [], false),
  def('job_title', 'Job title', 'varchar', [], false),
  def('label_ids', 'Labels', 'set', [], false),
  def(hex('a'), 'Credit terms', 'enum', [
    { id: 11, label: 'Net 30' },
    { id: 12, label: 'N60' },
  ]),
  def(hex('b'), 'Regions', 'set', [
    { id: 21, label: 'DACH' },
    { id: 22, label: 'Benelux' },
    { id: 23, label: 'Nordics' },
  ]),
  def(hex('c'), 'Credit limit', 'monetary'),
  def(hex('d'), 'Ship by', 'date'),
  def(hex('e'), 'Score', 'double'),
  def(hex('f'), 'Notes', 'text'),
  def(hex('1'), 'Currency', 'varchar'),
];

describe('name -> code resolution', () => {
  test('custom fields resolve to their 40-character hash; standard text fields to their key, top level', () => {
    const r = resolveFields(DEFS, [
      { name: 'Currency', value: 'EUR' },
      { name: 'Job title', value: 'Buyer' },
    ]);
    assert.ok(r.ok);
    assert.deepEqual(r.fields.custom, { [hex('1')]: 'EUR' });
    assert.deepEqual(r.fields.standard, { job_title: 'Buyer' });
    assert.deepEqual(r.fields.codes, { Currency: hex('1'), 'Job title': 'job_title' });
  });

  test('a missing field is a problem naming it, with a hint when only the letter case differs; nothing is resolved', () => {
    const r = resolveFields(DEFS, [
      { name: 'Currency', value: 'EUR' },
      { name: 'credit Terms', value: 'N60' },
    ]);
    assert.equal(r.ok, false);
    assert.ok(!r.ok);
    assert.deepEqual(
      r.problems.map((p) => [p.field, p.kind]),
      [['credit Terms', 'field-missing']],
    );
    assert.match(r.problems[0]!.message, /there is "Credit terms"/u);
  });

  test('two custom fields with one name are not guessed between', () => {
    const r = resolveFields([...DEFS, def(hex('9'), 'Currency', 'varchar')], [{ name: 'Currency', value: 'EUR' }]);
    assert.ok(!r.ok);
    assert.equal(r.problems[0]?.kind, 'field-ambiguous');
  });

  test('standard fields the connector keeps (a set of label ids) cannot be mapped', () => {
    const r = resolveFields(DEFS, [{ name: 'Labels', value: 'x' }]);
    assert.ok(!r.ok);
    assert.equal(r.problems[0]?.kind, 'unsupported-type');
  });

  test('checkFieldsExist reports only fields that are not there', () => {
    assert.deepEqual(checkFieldsExist(DEFS, ['Currency', 'Ship by']), []);
    assert.deepEqual(
      checkFieldsExist(DEFS, ['Currency', 'Sales region']).map((p) => p.field),
      ['Sales region'],
    );
  });
});

describe('option labels -> ids', () => {
  const enumField = DEFS[3]!;
  const setField = DEFS[4]!;
  test('enum: the label becomes its option id; a QAD code maps through `labels`; letter case is forgiven', () => {
    assert.deepEqual(typeValue(enumField, 'N60'), { ok: true, value: 12 });
    assert.deepEqual(typeValue(enumField, 'N30', { N30: 'Net 30' }), { ok: true, value: 11 });
    assert.deepEqual(typeValue(enumField, 'net 30'), { ok: true, value: 11 });
  });
  test('enum: a label that no longer exists is option-missing, never dropped', () => {
    const r = typeValue(enumField, 'EOM');
    assert.equal(r.ok, false);
    assert.ok(!r.ok);
    assert.equal(r.problem.kind, 'option-missing');
    assert.match(r.problem.message, /no option "EOM"/u);
  });
  test('set: an array or a comma list of labels becomes an array of ids, without repeats', () => {
    assert.deepEqual(typeValue(setField, ['DACH', 'Nordics']), { ok: true, value: [21, 23] });
    assert.deepEqual(typeValue(setField, 'Benelux, DACH, Benelux'), { ok: true, value: [22, 21] });
  });
  test('set: one unknown label holds the whole value', () => {
    const r = typeValue(setField, ['DACH', 'Iberia']);
    assert.ok(!r.ok);
    assert.equal(r.problem.kind, 'option-missing');
  });
});

describe('each value type', () => {
  const [, , , , , money, date, double, text, varchar] = DEFS;
  test('varchar and text are strings; varchar refuses more than 255 characters', () => {
    assert.deepEqual(typeValue(varchar!, 'EUR'), { ok: true, value: 'EUR' });
    assert.deepEqual(typeValue(varchar!, 42), { ok: true, value: '42' });
    assert.deepEqual(typeValue(text!, 'x'.repeat(1000)), { ok: true, value: 'x'.repeat(1000) });
    const long = typeValue(varchar!, 'x'.repeat(256));
    assert.ok(!long.ok);
    assert.equal(long.problem.kind, 'type-mismatch');
  });
  test('double is a number; text that is not a number is a type mismatch', () => {
    assert.deepEqual(typeValue(double!, '12.5'), { ok: true, value: 12.5 });
    assert.deepEqual(typeValue(double!, 7), { ok: true, value: 7 });
    assert.equal(typeValue(double!, 'many').ok, false);
  });
  test('monetary is {value, currency}; an amount without a currency is a mismatch', () => {
    assert.deepEqual(typeValue(money!, { amount: 50_000, currency: 'EUR' }), { ok: true, value: { value: 50_000, currency: 'EUR' } });
    assert.equal(typeValue(money!, 50_000).ok, false);
  });
  test('date is YYYY-MM-DD; an impossible date is a mismatch', () => {
    assert.deepEqual(typeValue(date!, '2026-12-15'), { ok: true, value: '2026-12-15' });
    assert.deepEqual(typeValue(date!, '2026-12-15T10:00:00Z'), { ok: true, value: '2026-12-15' });
    assert.equal(typeValue(date!, '2026-02-30').ok, false);
  });
  test('an empty QAD value clears the field with null, whatever its type', () => {
    for (const field of DEFS.slice(3)) assert.deepEqual(typeValue(field, ''), { ok: true, value: null }, field.field_name);
    assert.deepEqual(typeValue(DEFS[4]!, []), { ok: true, value: null });
  });
  test('mapped values join the body: custom ones beside the key field (which wins), standard ones at the top', () => {
    const r = resolveFields(DEFS, [
      { name: 'Currency', value: 'USD' },
      { name: 'Job title', value: 'Buyer' },
    ]);
    assert.ok(r.ok);
    const body = withMappedFields({ name: 'Acme', custom_fields: { [hex('k')]: 'C1' } }, r.fields);
    assert.deepEqual(body, { name: 'Acme', job_title: 'Buyer', custom_fields: { [hex('1')]: 'USD', [hex('k')]: 'C1' } });
  });
});

describe('deal fields read back for QAD', () => {
  const entries = [
    { qad: 'dueDate', pipedrive: 'Ship by' },
    { qad: 'remarks', pipedrive: 'Notes' },
    { qad: 'site', pipedrive: 'Credit terms' },
  ] as const;
  test('typed values become text: a date, a string, an option id as its label; unset fields are left out', () => {
    const r = readMappedValues(DEFS, { [hex('d')]: '2026-12-15', [hex('f')]: 'PO 4711', [hex('a')]: 12 }, entries);
    assert.deepEqual(r, {
      ok: true,
      values: { dueDate: '2026-12-15', remarks: 'PO 4711', site: 'N60' },
      codes: { 'Ship by': hex('d'), Notes: hex('f'), 'Credit terms': hex('a') },
    });
    const empty = readMappedValues(DEFS, {}, entries);
    assert.ok(empty.ok);
    assert.deepEqual(empty.values, {});
  });
  test('a renamed field or an option the field lost is drift', () => {
    const renamed = readMappedValues(
      DEFS.map((d) => (d.field_name === 'Ship by' ? { ...d, field_name: 'Ship date' } : d)),
      {},
      entries,
    );
    assert.ok(!renamed.ok);
    assert.deepEqual(
      renamed.problems.map((p) => p.kind),
      ['field-missing'],
    );
    const lost = readMappedValues(DEFS, { [hex('a')]: 99 }, entries);
    assert.ok(!lost.ok);
    assert.deepEqual(
      lost.problems.map((p) => p.kind),
      ['option-missing'],
    );
  });
});

describe('mapped values in the content hash', () => {
  const customer: Customer = {
    code: 'C1',
    name: 'Acme GmbH',
    currency: 'EUR',
    creditTerms: 'N30',
    site: '10-100',
    creditLimit: 50_000,
    address: { line1: '', line2: '', line3: '', city: 'Köln', state: '', zip: '', country: 'DE' },
    phone: '',
    email: '',
    modDate: '2026-11-20',
    region: 'DACH',
  };
  const config = parseTenantConfig({
    tenantId: 'acme',
    qad: { baseUrl: 'https://acme.qad.com/clouderp', clientId: 'c', username: 'u', workspaceId: 'w' },
    pipedrive: { apiBaseUrl: 'https://acme.pipedrive.com' },
  });
  test('a changed credit term changes the organization hash under the default mapping', () => {
    assert.notEqual(organizations.hash(customer, config), organizations.hash({ ...customer, creditTerms: 'N60' }, config));
  });
  test('the hash is built from names and values only: it cannot change when a field code does', () => {
    const values = namedValues(customer, config.mapping.fields.organization, customerValue);
    assert.deepEqual(
      values.map((v) => v.name),
      ['Credit terms', 'Currency', 'Sales region'],
    );
    assert.equal(JSON.stringify(values).includes(hex('a')), false);
    assert.equal(hashWithMappedValues('base', values), hashWithMappedValues('base', [...values].reverse()));
  });
  test("without mapped fields the hash is the entity's own (a tenant without a mapping rewrites nothing)", () => {
    assert.equal(hashWithMappedValues('base', []), 'base');
  });
});

describe('the mapping config', () => {
  const mappingDefaults =
    'defaults: credit terms, currency and sales region on organizations; ' +
    'job function; product line and status; ship date, PO text and site on deals';
  test(mappingDefaults, () => {
    const m = parseFieldMapping({});
    assert.deepEqual(
      m.organization.map((e) => [e.qad, e.pipedrive]),
      [
        ['creditTerms', 'Credit terms'],
        ['currency', 'Currency'],
        ['region', 'Sales region'],
      ],
    );
    assert.deepEqual(
      m.person.map((e) => e.pipedrive),
      ['Job function'],
    );
    assert.deepEqual(
      m.product.map((e) => e.pipedrive),
      ['Product line', 'Item status'],
    );
    assert.deepEqual(m.deal, DEFAULT_FIELD_MAPPING.deal);
    assert.equal(m.writeBack.enabled, false);
  });
  test('errors name the entry: an unknown QAD value, a name mapped twice, an enum to create without options', () => {
    assert.throws(() => parseFieldMapping({ organization: [{ qad: 'shoeSize', pipedrive: 'X' }] }), /organization\.0\.qad/u);
    assert.throws(
      () =>
        parseFieldMapping({
          product: [
            { qad: 'status', pipedrive: 'S' },
            { qad: 'unit', pipedrive: 'S' },
          ],
        }),
      /product\.1\.pipedrive: "S" is mapped twice/u,
    );
    assert.throws(() => parseFieldMapping({ person: [{ qad: 'title', pipedrive: 'F', create: { type: 'enum' } }] }), /create\.options/u);
  });
  test('requestedShipDateFieldName (the older setting) names the due-date field', () => {
    const entries = dealFieldEntries(parseFieldMapping({}), 'Liefertermin');
    assert.deepEqual(
      entries.filter((e) => e.qad === 'dueDate').map((e) => e.pipedrive),
      ['Liefertermin'],
    );
    assert.equal(entries.length, 3);
  });
});

describe('mapped deal values in the order, and QAD columns behind the mapped customer values', () => {
  const dealLine = {
    deal_id: 1,
    product_id: 7,
    name: 'Bolt',
    item_price: 10,
    quantity: 2,
    discount: 0,
    discount_type: 'percentage' as const,
    tax: 0,
    tax_method: 'none' as const,
    sum: 20,
    is_enabled: true,
  };
  const wonDeal = {
    id: 1,
    title: 'Won',
    value: 20,
    currency: 'EUR',
    wonTime: '2026-11-20T10:00:00Z',
    orgId: 5,
    lines: [dealLine],
    customFields: {},
  };
  const ctx = {
    customerCode: 'C1',
    poPrefix: 'PD-acme-',
    partOf: new Map([[7, '10-001']]),
    defaults: { site: '10-100', noLines: { kind: 'reject' as const } },
  };
  test('due date, remarks (the customer PO text) and site come from the deal fields; so_po keeps the deal reference', () => {
    const mapped = mapDealToOrder(wonDeal, { ...ctx, fields: { dueDate: '2026-12-15', remarks: 'PO 4711', site: '20-100' } });
    assert.ok(mapped.ok);
    assert.deepEqual(
      [mapped.order.so_due_date, mapped.order.so_rmks, mapped.order.so_site, mapped.order.so_po],
      ['2026-12-15', 'PO 4711', '20-100', 'PD-acme-1'],
    );
  });
  test('without deal values the tenant default site is used and no remarks are sent', () => {
    const mapped = mapDealToOrder(wonDeal, { ...ctx, fields: {} });
    assert.ok(mapped.ok);
    assert.equal(mapped.order.so_site, '10-100');
    assert.equal('so_rmks' in mapped.order, false);
    assert.equal('so_due_date' in mapped.order, false);
  });
  test("a customer row carries its sales region and the user fields that may hold Pipedrive's id", () => {
    const row = {
      'cm_mstr.cm_addr': 'C1',
      'ad_mstr.ad_name': 'Acme',
      'cm_mstr.cm_mod_date': '2026-11-20',
      'cm_mstr.cm_region': ' DACH ',
      'cm_mstr.cm_user1': 4711,
    };
    const parsed = parseCustomerRow(row);
    assert.ok(parsed.ok);
    assert.equal(parsed.record.region, 'DACH');
    assert.deepEqual(parsed.record.userFields, { cm_user1: '4711' });
    assert.equal(customerValue(parsed.record, 'region'), 'DACH');
    assert.deepEqual(customerValue({ ...parsed.record, creditLimit: 5000, currency: 'EUR' }, 'creditLimit'), {
      amount: 5000,
      currency: 'EUR',
    });
  });
});
