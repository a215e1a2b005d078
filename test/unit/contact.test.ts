import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { expectOk, expectRejected as rejected, rowWith, rowWithout } from './parsed-row-helpers.ts';
import type { ParsedRow } from '../../shared/domain/customer.ts';
import {
  contactExclusion,
  mapContactToPerson,
  parseContactRow,
  personContentHash,
  type Contact,
  type ContactRule,
} from '../../shared/domain/contact.ts';

const KEY_HASH = 'a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4';
const ONE_MB = 1024 * 1024;

/** A complete, valid contact browse row as QAD returns it. */
function goodRow(): Record<string, unknown> {
  return {
    'ct_mstr.ct_id': 'CT-0001',
    'ct_mstr.ct_cust': 'C1000',
    'ct_mstr.ct_name': 'Jane Doe',
    'ct_mstr.ct_email': 'jane.doe@acme.example',
    'ct_mstr.ct_phone': '+1 217 555 0101',
    'ct_mstr.ct_title': 'Purchasing Manager',
    'ct_mstr.ct_primary': true,
    'ct_mstr.ct_active': true,
    'ct_mstr.ct_mod_date': '2025-06-15',
  };
}

const withField = (field: string, value: unknown) => rowWith(goodRow(), field, value);
const withoutField = (field: string) => rowWithout(goodRow(), field);
const expectRejected = (result: ParsedRow<Contact>) => rejected(result);

function contact(overrides: Partial<Contact> = {}): Contact {
  return {
    id: 'CT-0001',
    customerCode: 'C1000',
    name: 'Jane Doe',
    email: 'jane.doe@acme.example',
    phone: '+1 217 555 0101',
    title: 'Purchasing Manager',
    primary: true,
    active: true,
    modDate: '2025-06-15',
    ...overrides,
  };
}

describe('parseContactRow', () => {
  test('a good row becomes a Contact with cleaned text and a lower-cased email', () => {
    const row = {
      ...goodRow(),
      'ct_mstr.ct_id': '  CT-0001 ',
      'ct_mstr.ct_cust': ' C1000',
      'ct_mstr.ct_name': '  Jose\u0301   Doe\t ',
      'ct_mstr.ct_email': ' Jane.Doe@ACME.Example ',
      'ct_mstr.ct_phone': ' +1  217 555  0101 ',
      'ct_mstr.ct_title': 'Purchasing\n Manager ',
    };
    assert.deepEqual(expectOk(parseContactRow(row)), {
      id: 'CT-0001',
      customerCode: 'C1000',
      name: 'Jos\u00e9 Doe',
      email: 'jane.doe@acme.example',
      phone: '+1 217 555 0101',
      title: 'Purchasing Manager',
      primary: true,
      active: true,
      modDate: '2025-06-15',
    });
  });

  test('optional text fields may be missing or null and become empty strings', () => {
    const row: Record<string, unknown> = { ...withoutField('ct_mstr.ct_email'), 'ct_mstr.ct_phone': null };
    delete row['ct_mstr.ct_title'];
    const c = expectOk(parseContactRow(row));
    assert.equal(c.email, '');
    assert.equal(c.phone, '');
    assert.equal(c.title, '');
  });

  test('a missing id is rejected without a key', () => {
    const { key, reason } = expectRejected(parseContactRow(withoutField('ct_mstr.ct_id')));
    assert.equal(key, undefined);
    assert.match(reason, /^invalid QAD contact row: /u);
    assert.match(reason, /ct_mstr\.ct_id/u);
  });

  test('a blank id is rejected without a key', () => {
    const { key, reason } = expectRejected(parseContactRow(withField('ct_mstr.ct_id', '   ')));
    assert.equal(key, undefined);
    assert.match(reason, /ct_mstr\.ct_id is required/u);
  });

  test('a missing name is rejected but keeps the (cleaned) key', () => {
    const { key, reason } = expectRejected(parseContactRow({ ...withoutField('ct_mstr.ct_name'), 'ct_mstr.ct_id': ' CT-0001 ' }));
    assert.equal(key, 'CT-0001');
    assert.match(reason, /ct_mstr\.ct_name/u);
  });

  test('a blank name is rejected as required, keeping the key', () => {
    const { key, reason } = expectRejected(parseContactRow(withField('ct_mstr.ct_name', '  ')));
    assert.equal(key, 'CT-0001');
    assert.match(reason, /ct_mstr\.ct_name is required/u);
  });

  test('a missing customer is rejected, keeping the key', () => {
    const { key, reason } = expectRejected(parseContactRow(withoutField('ct_mstr.ct_cust')));
    assert.equal(key, 'CT-0001');
    assert.match(reason, /ct_mstr\.ct_cust/u);
  });

  for (const bad of ['not-an-email', 'jane@acme', '@acme.example', 'jane doe@acme.example', 'jane@@acme.example']) {
    test(`a bad email ${JSON.stringify(bad)} is rejected`, () => {
      const { key, reason } = expectRejected(parseContactRow(withField('ct_mstr.ct_email', bad)));
      assert.equal(key, 'CT-0001');
      assert.match(reason, /ct_mstr\.ct_email is not an email address/u);
    });
  }

  for (const field of ['ct_mstr.ct_name', 'ct_mstr.ct_cust', 'ct_mstr.ct_phone', 'ct_mstr.ct_title']) {
    test(`a 1 MB ${field} is rejected, naming the field`, () => {
      const { key, reason } = expectRejected(parseContactRow(withField(field, 'x'.repeat(ONE_MB))));
      assert.equal(key, 'CT-0001');
      assert.match(reason, new RegExp(`${field.replace('.', '\\.')} is longer than 255 characters \\(${ONE_MB}\\)`, 'u'));
      assert.ok(reason.length < 1000, 'the reason does not echo the value');
    });
  }

  test('a 1 MB email is rejected, naming the field', () => {
    const email = `${'a'.repeat(ONE_MB)}@acme.example`;
    const { reason } = expectRejected(parseContactRow(withField('ct_mstr.ct_email', email)));
    assert.match(reason, new RegExp(`ct_mstr\\.ct_email is longer than 255 characters \\(${email.length}\\)`, 'u'));
    assert.ok(reason.length < 1000, 'the reason does not echo the value');
  });

  test('a 1 MB id is rejected, naming the field, and yields no key', () => {
    const { key, reason } = expectRejected(parseContactRow(withField('ct_mstr.ct_id', 'x'.repeat(ONE_MB))));
    assert.equal(key, undefined);
    assert.match(reason, /ct_mstr\.ct_id is longer than 255 characters/u);
  });

  test('exactly 255 characters is accepted', () => {
    const c = expectOk(parseContactRow(withField('ct_mstr.ct_name', 'x'.repeat(255))));
    assert.equal(c.name.length, 255);
  });

  for (const [field, value] of [
    ['ct_mstr.ct_name', 'Jane\u0000Doe'],
    ['ct_mstr.ct_title', 'Buyer\u0007'],
    ['ct_mstr.ct_phone', '555\u001B0101'],
    ['ct_mstr.ct_cust', 'C1\u007F000'],
    ['ct_mstr.ct_name', 'Jane\u0085Doe'],
  ] as const) {
    test(`control characters in ${field} are rejected, naming the field`, () => {
      const { key, reason } = expectRejected(parseContactRow(withField(field, value)));
      assert.equal(key, 'CT-0001');
      assert.match(reason, new RegExp(`${field.replace('.', '\\.')} contains control characters`, 'u'));
    });
  }

  test('control characters in the id are rejected and yield no key', () => {
    const { key, reason } = expectRejected(parseContactRow(withField('ct_mstr.ct_id', 'CT\u00000001')));
    assert.equal(key, undefined);
    assert.match(reason, /ct_mstr\.ct_id contains control characters/u);
  });

  test('several problems are all reported', () => {
    const { reason } = expectRejected(parseContactRow({ ...goodRow(), 'ct_mstr.ct_name': 'A\u0000', 'ct_mstr.ct_email': 'nope' }));
    assert.match(reason, /ct_mstr\.ct_name contains control characters/u);
    assert.match(reason, /ct_mstr\.ct_email is not an email address/u);
  });

  for (const [input, expected] of [
    [true, true],
    [false, false],
    ['yes', true],
    ['no', false],
    ['true', true],
    ['false', false],
  ] as const) {
    test(`flag ${JSON.stringify(input)} reads as ${expected}`, () => {
      const c = expectOk(parseContactRow({ ...goodRow(), 'ct_mstr.ct_primary': input, 'ct_mstr.ct_active': input }));
      assert.equal(c.primary, expected);
      assert.equal(c.active, expected);
    });
  }

  for (const bad of ['maybe', 'Y', 1, null] as const) {
    test(`flag ${JSON.stringify(bad)} is rejected`, () => {
      const { key, reason } = expectRejected(parseContactRow(withField('ct_mstr.ct_active', bad)));
      assert.equal(key, 'CT-0001');
      assert.match(reason, /ct_mstr\.ct_active/u);
    });
  }

  test('missing flags default to primary=false, active=true', () => {
    const row = withoutField('ct_mstr.ct_primary');
    delete row['ct_mstr.ct_active'];
    const c = expectOk(parseContactRow(row));
    assert.equal(c.primary, false);
    assert.equal(c.active, true);
  });

  for (const bad of ['2025-6-15', '15.06.2025', '', 20250615]) {
    test(`mod date ${JSON.stringify(bad)} is rejected`, () => {
      const { reason } = expectRejected(parseContactRow(withField('ct_mstr.ct_mod_date', bad)));
      assert.match(reason, /ct_mstr\.ct_mod_date/u);
    });
  }

  for (const input of [null, undefined, [], [goodRow()], 42, 'CT-0001', true]) {
    test(`never throws on ${JSON.stringify(input) ?? 'undefined'}: rejects without a key`, () => {
      let result: ParsedRow<Contact> | undefined;
      assert.doesNotThrow(() => {
        result = parseContactRow(input);
      });
      assert.ok(result);
      const { key, reason } = expectRejected(result);
      assert.equal(key, undefined);
      assert.match(reason, /^invalid QAD contact row: /u);
    });
  }
});

describe('contactExclusion', () => {
  describe("rule 'active-with-email-or-phone'", () => {
    const rule: ContactRule = 'active-with-email-or-phone';

    test('an active contact with email and phone is included', () => {
      assert.equal(contactExclusion(contact(), rule), undefined);
    });

    test('an inactive contact is excluded', () => {
      assert.equal(contactExclusion(contact({ active: false }), rule), 'contact is inactive in QAD');
    });

    test('a contact with neither email nor phone is excluded', () => {
      assert.equal(contactExclusion(contact({ email: '', phone: '' }), rule), 'contact has neither an email nor a phone');
    });

    test('a contact with only a phone is included', () => {
      assert.equal(contactExclusion(contact({ email: '' }), rule), undefined);
    });

    test('a contact with only an email is included', () => {
      assert.equal(contactExclusion(contact({ phone: '' }), rule), undefined);
    });
  });

  describe("rule 'active'", () => {
    const rule: ContactRule = 'active';

    test('an inactive contact is excluded', () => {
      assert.equal(contactExclusion(contact({ active: false }), rule), 'contact is inactive in QAD');
    });

    test('an active contact with neither email nor phone is included', () => {
      assert.equal(contactExclusion(contact({ email: '', phone: '' }), rule), undefined);
    });
  });

  describe("rule 'all'", () => {
    const rule: ContactRule = 'all';

    test('an inactive contact without email or phone is included', () => {
      assert.equal(contactExclusion(contact({ active: false, email: '', phone: '' }), rule), undefined);
    });

    test('an active contact is included', () => {
      assert.equal(contactExclusion(contact(), rule), undefined);
    });
  });
});

describe('mapContactToPerson', () => {
  test('maps a full contact, with emails/phones in array form and the key under the given hash', () => {
    assert.deepEqual(mapContactToPerson(contact(), KEY_HASH, 42), {
      name: 'Jane Doe',
      org_id: 42,
      emails: [{ value: 'jane.doe@acme.example', primary: true, label: 'work' }],
      phones: [{ value: '+1 217 555 0101', primary: true, label: 'work' }],
      job_title: 'Purchasing Manager',
      custom_fields: { [KEY_HASH]: 'CT-0001' },
    });
  });

  test('a contact without email, phone or title gets only name, org_id and the key', () => {
    const person = mapContactToPerson(contact({ email: '', phone: '', title: '' }), KEY_HASH, 7);
    assert.deepEqual(person, { name: 'Jane Doe', org_id: 7, custom_fields: { [KEY_HASH]: 'CT-0001' } });
    assert.equal('emails' in person, false);
    assert.equal('phones' in person, false);
    assert.equal('job_title' in person, false);
  });

  test('only a phone: phones present, emails absent', () => {
    const person = mapContactToPerson(contact({ email: '' }), KEY_HASH, 7);
    assert.equal('emails' in person, false);
    assert.deepEqual(person.phones, [{ value: '+1 217 555 0101', primary: true, label: 'work' }]);
  });

  test('only an email: emails present, phones absent', () => {
    const person = mapContactToPerson(contact({ phone: '' }), KEY_HASH, 7);
    assert.equal('phones' in person, false);
    assert.deepEqual(person.emails, [{ value: 'jane.doe@acme.example', primary: true, label: 'work' }]);
  });

  test('org_id is always set, whatever the contact holds', () => {
    for (const c of [contact(), contact({ email: '', phone: '', title: '', active: false, primary: false })]) {
      assert.equal(mapContactToPerson(c, KEY_HASH, 123).org_id, 123);
    }
  });

  test('the key field goes under the given hash, and only there', () => {
    assert.deepEqual(mapContactToPerson(contact(), 'other_hash', 1).custom_fields, { other_hash: 'CT-0001' });
  });
});

describe('personContentHash', () => {
  test('is stable for equal content', () => {
    assert.equal(personContentHash(contact()), personContentHash(contact()));
  });

  test('is independent of the mod date', () => {
    assert.equal(personContentHash(contact({ modDate: '2030-01-01' })), personContentHash(contact()));
  });

  for (const [what, change] of [
    ['the contact moves to another customer', { customerCode: 'C2000' }],
    ['the name changes', { name: 'Jane Smith' }],
    ['the email changes', { email: 'jane.smith@acme.example' }],
    ['the email is removed', { email: '' }],
    ['the phone changes', { phone: '+1 217 555 0199' }],
    ['the phone is removed', { phone: '' }],
    ['the title changes', { title: 'Head of Purchasing' }],
    ['the title is removed', { title: '' }],
    ['the id changes', { id: 'CT-0002' }],
  ] as const satisfies ReadonlyArray<readonly [string, Partial<Contact>]>) {
    test(`changes when ${what}`, () => {
      assert.notEqual(personContentHash(contact(change)), personContentHash(contact()));
    });
  }
});
