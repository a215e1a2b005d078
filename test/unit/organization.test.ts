import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Customer } from '../../shared/domain/customer.ts';
import { mapCustomerToOrganization, organizationContentHash } from '../../shared/domain/organization.ts';

const KEY_HASH = 'a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4';

function customer(overrides: Partial<Omit<Customer, 'address'>> & { address?: Partial<Customer['address']> } = {}): Customer {
  const { address, ...rest } = overrides;
  return {
    code: 'C1000',
    name: 'Acme Industries',
    currency: 'USD',
    creditTerms: 'N30',
    site: '10-100',
    creditLimit: 50000,
    address: {
      line1: '1 Main Street',
      line2: 'Building 4',
      line3: 'Dock 7',
      city: 'Springfield',
      state: 'IL',
      zip: '62701',
      country: 'USA',
      ...address,
    },
    phone: '+1 217 555 0100',
    email: 'ap@acme.example',
    modDate: '2025-06-15',
    ...rest,
  };
}

const EMPTY_ADDRESS: Customer['address'] = { line1: '', line2: '', line3: '', city: '', state: '', zip: '', country: '' };

describe('mapCustomerToOrganization', () => {
  test('maps the name, the full address and the key field', () => {
    assert.deepEqual(mapCustomerToOrganization(customer(), KEY_HASH), {
      name: 'Acme Industries',
      address: {
        value: '1 Main Street, Building 4, Dock 7, 62701 Springfield, IL, USA',
        locality: 'Springfield',
        postal_code: '62701',
        country: 'USA',
        admin_area_level_1: 'IL',
      },
      custom_fields: { [KEY_HASH]: 'C1000' },
    });
  });

  test('address value order is line1, line2, line3, "zip city", state, country', () => {
    const org = mapCustomerToOrganization(
      customer({ address: { line1: 'L1', line2: 'L2', line3: 'L3', zip: 'Z', city: 'C', state: 'S', country: 'K' } }),
      KEY_HASH,
    );
    assert.equal(org.address?.value, 'L1, L2, L3, Z C, S, K');
  });

  test('empty parts are skipped, with no doubled separators', () => {
    const org = mapCustomerToOrganization(customer({ address: { line2: '', line3: '', state: '' } }), KEY_HASH);
    assert.equal(org.address?.value, '1 Main Street, 62701 Springfield, USA');
    assert.equal(org.address?.admin_area_level_1, undefined);
    assert.equal(Object.hasOwn(org.address ?? {}, 'admin_area_level_1'), false);
  });

  test('zip without city and city without zip', () => {
    assert.equal(
      mapCustomerToOrganization(customer({ address: { city: '' } }), KEY_HASH).address?.value,
      '1 Main Street, Building 4, Dock 7, 62701, IL, USA',
    );
    const noZip = mapCustomerToOrganization(customer({ address: { zip: '' } }), KEY_HASH);
    assert.equal(noZip.address?.value, '1 Main Street, Building 4, Dock 7, Springfield, IL, USA');
    assert.equal(Object.hasOwn(noZip.address ?? {}, 'postal_code'), false);
  });

  test('only a country gives an address with just the country', () => {
    const org = mapCustomerToOrganization(customer({ address: { ...EMPTY_ADDRESS, country: 'France' } }), KEY_HASH);
    assert.deepEqual(org.address, { value: 'France', country: 'France' });
  });

  test('the address is omitted entirely when every part is empty', () => {
    const org = mapCustomerToOrganization(customer({ address: EMPTY_ADDRESS }), KEY_HASH);
    assert.equal(Object.hasOwn(org, 'address'), false);
    assert.deepEqual(org, { name: 'Acme Industries', custom_fields: { [KEY_HASH]: 'C1000' } });
  });

  test('the key field sits under the given hash and nothing else is in custom_fields', () => {
    const org = mapCustomerToOrganization(customer({ code: 'XYZ-9' }), 'other_hash');
    assert.deepEqual(org.custom_fields, { other_hash: 'XYZ-9' });
  });

  test('unmapped fields (phone, email, currency, credit) do not leak into the payload', () => {
    const json = JSON.stringify(mapCustomerToOrganization(customer(), KEY_HASH));
    for (const v of ['+1 217 555 0100', 'ap@acme.example', 'USD', 'N30', '50000', '2025-06-15']) assert.equal(json.includes(v), false, v);
  });
});

describe('organizationContentHash', () => {
  test('equal content hashes equal, also for separately built objects', () => {
    assert.equal(organizationContentHash(customer()), organizationContentHash(customer()));
    assert.match(organizationContentHash(customer()), /^[A-Za-z0-9_-]{32}$/u);
  });

  test('changes when the name changes', () => {
    assert.notEqual(organizationContentHash(customer()), organizationContentHash(customer({ name: 'Acme Industries Ltd' })));
  });

  for (const part of ['line1', 'line2', 'line3', 'city', 'state', 'zip', 'country'] as const) {
    test(`changes when address ${part} changes`, () => {
      assert.notEqual(organizationContentHash(customer()), organizationContentHash(customer({ address: { [part]: 'changed' } })));
    });
  }

  test('changes when the customer code changes', () => {
    assert.notEqual(organizationContentHash(customer()), organizationContentHash(customer({ code: 'C1001' })));
  });

  test('stays the same when only unmapped fields change', () => {
    const base = organizationContentHash(customer());
    assert.equal(organizationContentHash(customer({ creditTerms: 'N60' })), base);
    assert.equal(organizationContentHash(customer({ phone: '+44 20 7946 0000' })), base);
    assert.equal(organizationContentHash(customer({ currency: 'EUR' })), base);
    assert.equal(organizationContentHash(customer({ modDate: '2025-07-01' })), base);
    assert.equal(organizationContentHash(customer({ email: 'x@y.example', site: 'S2', creditLimit: null })), base);
  });
});
