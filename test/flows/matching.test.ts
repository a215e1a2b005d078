import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { customerRow, contactRow, itemRow, priceRow, TENANT } from '../integration/harness.ts';
import { CHANGES_MAX_AGE_MS } from '../../shared/flows/pipedrive-changes.ts';
import { choiceHolds, settleChoice } from '../../shared/operations/settle.ts';
import { startMemoryWorld, type MemoryWorld } from './memory-deps.ts';

let w: MemoryWorld | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

const today = () => new Date().toISOString().slice(0, 10);
/** Longer than the six hours a first-sync listing stands in for search. */
const LISTING_STALE_MS = 7 * 3_600_000;

/** QAD names and how someone typed the same name in Pipedrive: case, spacing, no-break spaces, composition. */
const SAME_NAMES: Array<[code: string, qad: string, typed: string]> = [
  ['N1', 'Nordwind Logistik GmbH', 'NORDWIND  logistik gmbh '],
  ['N2', 'Caf\u00e9 M\u00fcller', 'Cafe\u0301 Mu\u0308ller'],
  ['N3', '\u00d8stergaard A/S', '\u00d8stergaard\u00a0A/S'],
  ['N4', '\u0160imek s.r.o.', 'S\u030cIMEK S.R.O.'],
  ['N5', 'Hafen  Kontor', '\u00a0hafen kontor\u2007'],
];
/** Near-identical, not the same: ß written as ss, full-width letters. A person's call. */
const NEAR_NAMES: Array<[code: string, qad: string, typed: string]> = [
  ['D1', 'Gro\u00dfmann Werkzeuge', 'Grossmann Werkzeuge'],
  ['D2', 'ACME Tools', '\uff21\uff23\uff2d\uff25 Tools'],
  ['D3', 'Stra\u00dfenbau Weiss', 'STRASSENBAU WEISS'],
];

const mappedIds = async (world: MemoryWorld, entity: 'organization' | 'person' | 'product') =>
  new Map((await world.adapters.keyMap.listMapped(TENANT, entity)).map((e) => [e.qadKey, e.pipedriveId]));

async function drain(world: MemoryWorld, queue = 'records'): Promise<void> {
  for (let round = 0; round < 20 && world.waiting(queue) > 0; round++) {
    await world.deliver(queue);
    world.clock.ms += 10 * 60_000;
  }
}

describe('matching names however they were typed, through the listing and through search', () => {
  for (const path of ['listing', 'search'] as const) {
    test(`every normalisation form matches through the ${path}; near-identical names are held, not created`, async () => {
      w = await startMemoryWorld({ customers: [...SAME_NAMES, ...NEAR_NAMES].map(([code, name]) => customerRow(code, name, today())) });
      const typed = new Map([...SAME_NAMES, ...NEAR_NAMES].map(([code, , name]) => [code, w!.pd.seedOrganization({ name })]));
      await w.poll('customers');
      if (path === 'search') w.clock.ms += LISTING_STALE_MS;
      await drain(w);

      assert.equal(w.pd.organizations().length, typed.size, 'no organization created');
      const mapped = await mappedIds(w, 'organization');
      for (const [code] of SAME_NAMES) assert.equal(mapped.get(code), typed.get(code), `${code} adopted the one typed by hand`);
      for (const [code] of NEAR_NAMES) assert.equal(mapped.get(code), undefined, `${code} is not linked`);
      const held = await w.adapters.holds.held(TENANT, 'possible-duplicate:organization');
      assert.deepEqual(held.map((h) => (JSON.parse(h.body) as { key: string }).key).sort(), ['D1', 'D2', 'D3']);
      for (const [code] of NEAR_NAMES) {
        const last = (await w.adapters.audit.history(TENANT, 'organization', code)).at(-1);
        assert.equal(last?.action, 'deferred');
        assert.match(
          last?.reason ?? '',
          new RegExp(`possible duplicate: customer ${code} and Pipedrive organizations ${typed.get(code)} `),
        );
      }
    });
  }

  test('two QAD customers whose names differ only by ß/ss are two organizations, not a possible duplicate', async () => {
    w = await startMemoryWorld({
      customers: [customerRow('G1', 'Gro\u00dfmann KG', today()), customerRow('G2', 'Grossmann KG', today())],
    });
    await w.poll('customers');
    await drain(w);
    assert.equal(w.pd.organizations().length, 2, "an organization another QAD customer owns is not this one's duplicate");
    assert.deepEqual(await w.adapters.holds.held(TENANT, 'possible-duplicate:organization'), []);
  });
});

describe('persons matched by name within their organization however it was typed', () => {
  const CONTACTS: Array<[id: string, qad: string, typed: string]> = [
    ['Q1', 'J\u00f6rg M\u00fcller', 'jo\u0308rg  MU\u0308LLER'],
    ['Q2', 'Ana Mar\u00eda Ortega', 'Ana\u00a0Mar\u00eda Ortega '],
    ['Q3', 'Lars Gro\u00dfe', 'Lars Grosse'],
  ];
  for (const path of ['listing', 'search'] as const) {
    test(`through the ${path}: same names adopted, a near-identical one held`, async () => {
      w = await startMemoryWorld({
        customers: [customerRow('P1', 'Pauls Pumpen', today())],
        contacts: CONTACTS.map(([id, name]) => contactRow(id, 'P1', name, { 'ct_mstr.ct_email': '' })),
      });
      await w.poll('customers');
      await w.deliver();
      const orgId = (await mappedIds(w, 'organization')).get('P1')!;
      const typed = new Map(CONTACTS.map(([id, , name]) => [id, w!.pd.seedPerson({ name, org_id: orgId })]));
      await w.poll('contacts');
      if (path === 'search') w.clock.ms += LISTING_STALE_MS;
      await drain(w);
      assert.equal(w.pd.persons().length, 3, 'no person created');
      const mapped = await mappedIds(w, 'person');
      assert.deepEqual([mapped.get('Q1'), mapped.get('Q2'), mapped.get('Q3')], [typed.get('Q1'), typed.get('Q2'), undefined]);
      const held = await w.adapters.holds.held(TENANT, 'possible-duplicate:person');
      assert.deepEqual(
        held.map((h) => (JSON.parse(h.body) as { key: string }).key),
        ['Q3'],
      );
    });
  }
});

describe('records typed by hand in Pipedrive after the first-sync listing was read (go-live day)', () => {
  test('organizations: one typed with the name, one with the QAD code, are adopted, not duplicated', async () => {
    w = await startMemoryWorld({
      customers: [customerRow('T1', 'Weber Antriebe', today()), customerRow('T2', 'Kessler Pumpen', today())],
    });
    await w.poll('customers');
    const keyField = w.pd.customFields('organization').find((f) => f.field_name === 'QAD Customer Code')!.field_code;
    const byName = w.pd.seedOrganization({ name: 'weber  ANTRIEBE' });
    const byKey = w.pd.seedOrganization({ name: 'Kessler (typed by sales)', custom_fields: { [keyField]: 'T2' } });
    await drain(w);
    assert.equal(w.pd.organizations().length, 2);
    assert.deepEqual([...(await mappedIds(w, 'organization'))].sort(), [
      ['T1', byName],
      ['T2', byKey],
    ]);
  });

  test('persons: one typed with the contact email, one with the name, are adopted within the organization', async () => {
    w = await startMemoryWorld({
      customers: [customerRow('C1', 'Lindner Metall', today())],
      contacts: [contactRow('P1', 'C1', 'Jonas Berg'), contactRow('P2', 'C1', 'Ida Kr\u00fcger', { 'ct_mstr.ct_email': '' })],
    });
    await w.poll('customers');
    // One delivery, so the flows' clock stays with the simulator's (a listing is read by update time).
    await w.deliver();
    const orgId = (await mappedIds(w, 'organization')).get('C1')!;
    await w.poll('contacts');
    const byEmail = w.pd.seedPerson({ name: 'J. Berg', org_id: orgId, emails: [{ value: 'P1@Example.com', primary: true }] });
    const byName = w.pd.seedPerson({ name: 'ida kru\u0308ger ', org_id: orgId });
    await drain(w);
    assert.equal(w.pd.persons().length, 2);
    assert.deepEqual([...(await mappedIds(w, 'person'))].sort(), [
      ['P1', byEmail],
      ['P2', byName],
    ]);
  });

  test('products: one typed with the item code is adopted, the other item is created', async () => {
    w = await startMemoryWorld({
      items: [itemRow('10-500', 'Flange'), itemRow('10-501', 'Gasket')],
      prices: [priceRow('10-500', 'EUR', 12.5), priceRow('10-501', 'EUR', 3)],
    });
    await w.poll('items');
    const typed = w.pd.seedProduct({ name: 'Flange DN50', code: '10-500' });
    await drain(w, 'products');
    assert.equal(w.pd.products().length, 2);
    assert.equal((await mappedIds(w, 'product')).get('10-500'), typed);
  });
});

describe('what a listing miss costs: Pipedrive\u2019s changes are read at most once a CHANGES_MAX_AGE_MS per container', () => {
  const lists = (world: MemoryWorld) => world.pd.stats().byEndpoint['GET /api/v2/organizations']?.calls ?? 0;
  const customers = (names: string[]) => names.map((n, i) => customerRow(`M${i}`, `${n} Handel`, today()));

  test('a batch of new customers reads the changes since the listing once, and a name typed before a later read is adopted', async () => {
    const names = ['Amsel', 'Buche', 'Dohle', 'Eibe', 'Fink', 'Gerste', 'Hasel', 'Iltis', 'Jasmin', 'Kiefer', 'Linde', 'Meise'];
    w = await startMemoryWorld({ customers: customers(names) });
    await w.poll('customers');
    const listed = lists(w);
    await w.deliver();
    assert.equal(lists(w) - listed, 1, 'ten misses, one read of the changes');
    assert.equal(w.pd.organizations().length, 10);

    // Typed by hand after that read: a batch begun more than CHANGES_MAX_AGE_MS later extends it and adopts it.
    const mapped = await mappedIds(w, 'organization');
    const [waiting, other] = names.map((n, i) => [`M${i}`, n] as const).filter(([code]) => !mapped.has(code));
    const typed = w.pd.seedOrganization({ name: `${waiting![1].toUpperCase()}  handel` });
    w.clock.ms += CHANGES_MAX_AGE_MS + 1_000;
    await w.deliver();
    assert.equal(lists(w) - listed, 2);
    const after = await mappedIds(w, 'organization');
    assert.equal(after.get(waiting![0]), typed, 'adopted');
    assert.ok(after.has(other![0]), 'created');
    assert.equal(w.pd.organizations().length, 12);
  });

  test('a batch begun within CHANGES_MAX_AGE_MS of the last read is served by it; the first batch after reads again', async () => {
    const names = ['Ahorn', 'Birke', 'Dachs', 'Erle', 'Falke', 'Ginster', 'Hirsch', 'Igel', 'Kranich', 'Lerche'];
    w = await startMemoryWorld({ customers: customers([...names, ...names.map((n) => `${n} Nord`), ...names.map((n) => `${n} Süd`)]) });
    await w.poll('customers');
    const listed = lists(w);
    await w.deliver();
    assert.equal(lists(w) - listed, 1);
    w.clock.ms += CHANGES_MAX_AGE_MS - 1_000;
    await w.deliver();
    assert.equal(lists(w) - listed, 1, 'ten more misses, no read: the last one is recent enough');
    w.clock.ms += 2_000;
    await w.deliver();
    assert.equal(lists(w) - listed, 2, 'begun more than CHANGES_MAX_AGE_MS after the last read: read again');
    assert.equal(w.pd.organizations().length, 30);
  });
});

describe('a Pipedrive id already recorded in QAD (the write-back field)', () => {
  test('is adopted when it exists and is no other customer’s; the field is never overwritten with a new id', async () => {
    w = await startMemoryWorld({ customers: [] });
    const tenant = (await w.adapters.tenants.get(TENANT))!;
    const { mapping } = tenant.config;
    await w.adapters.tenants.put({
      ...tenant,
      config: {
        ...tenant.config,
        mapping: { ...mapping, fields: { ...mapping.fields, writeBack: { ...mapping.fields.writeBack, enabled: true } } },
      },
    });
    await w.poll('customers'); // creates the key field
    const keyField = w.pd.customFields('organization').find((f) => f.field_name === 'QAD Customer Code')!.field_code;
    const linked = w.pd.seedOrganization({ name: 'Alder (old name)' });
    const others = w.pd.seedOrganization({ name: 'Birch Holding', custom_fields: { [keyField]: 'W9' } });
    const rows = [
      customerRow('W1', 'Alder Fabrik', today(), { 'cm_mstr.cm_user1': String(linked) }),
      customerRow('W2', 'Birch GmbH', today(), { 'cm_mstr.cm_user1': ` ${others} ` }),
      customerRow('W3', 'Cedar AG', today(), { 'cm_mstr.cm_user1': '987654' }),
      customerRow('W4', 'Dune SA', today()),
    ];
    for (const row of rows) w.qadTenant.upsertCustomer(row);
    w.clock.ms += 20 * 60_000;
    await w.poll('customers');
    await drain(w);

    const mapped = await mappedIds(w, 'organization');
    assert.equal(mapped.get('W1'), linked, 'the linked organization adopted despite another name');
    assert.ok(![linked, others].includes(mapped.get('W2')!), "another customer's organization is not adopted");
    assert.ok(mapped.get('W3') !== undefined && mapped.get('W3') !== 987654);
    assert.equal(w.pd.organizations().length, 5, 'W2, W3 and W4 created');
    const field = new Map(w.qadTenant.customers().map((c) => [c['cm_mstr.cm_addr'], c['cm_mstr.cm_user1']?.trim()]));
    assert.deepEqual(
      ['W1', 'W2', 'W3', 'W4'].map((code) => field.get(code)),
      [String(linked), String(others), '987654', String(mapped.get('W4'))],
    );
    const w3 = (await w.adapters.audit.history(TENANT, 'organization', 'W3')).find((e) => e.action === 'skipped');
    assert.match(w3?.reason ?? '', /holds 987654, not overwritten/u);
  });
});

const keyOf = (world: MemoryWorld, entity: 'organization' | 'person', name: string) =>
  world.pd.customFields(entity).find((f) => f.field_name === name)?.field_code ?? '';

describe('settling a possible duplicate by choosing the Pipedrive record', () => {
  for (const path of ['listing', 'search'] as const) {
    test(`organizations, matched through the ${path}: our key lands on the chosen one, nothing is created, the hold clears`, async () => {
      // Two near-identical candidates for one customer (ß/ss and full-width letters), one for another.
      w = await startMemoryWorld({
        customers: [customerRow('Z1', 'Wei\u00dfe Rose Handel', today()), customerRow('Z2', 'Blau Optik', today())],
      });
      const first = w.pd.seedOrganization({ name: 'Weisse Rose Handel' });
      const second = w.pd.seedOrganization({ name: 'WEISSE ROSE HANDEL' });
      const optik = w.pd.seedOrganization({ name: '\uff22\uff4c\uff41\uff55 Optik' });
      await w.poll('customers');
      if (path === 'search') w.clock.ms += LISTING_STALE_MS;
      await drain(w);
      const holds = await choiceHolds(w.handlerDeps(), w.tenant);
      assert.deepEqual(
        holds.map((h) => [h.key, h.candidates]),
        [
          [
            'Z1',
            [
              { id: first, name: 'Weisse Rose Handel' },
              { id: second, name: 'WEISSE ROSE HANDEL' },
            ],
          ],
          ['Z2', [{ id: optik, name: '\uff22\uff4c\uff41\uff55 Optik' }]],
        ],
      );

      const deps = w.handlerDeps();
      await assert.rejects(settleChoice(deps, w.tenant, { entity: 'organization', key: 'Z1', pipedriveId: optik }), /not one of/u);
      const settled = await settleChoice(deps, w.tenant, { entity: 'organization', key: 'Z1', pipedriveId: second });
      assert.equal((await choiceHolds(deps, w.tenant)).length, 2, 'held until the writer has written it');
      assert.deepEqual(
        settled.replayed.map((r) => r.outcome),
        ['enqueued'],
      );
      await drain(w);

      const code = keyOf(w, 'organization', 'QAD Customer Code');
      const orgs = w.pd.organizations();
      assert.equal(orgs.length, 3, 'no organization created');
      assert.equal(orgs.find((o) => o.id === second)?.custom_fields[code], 'Z1');
      assert.equal(orgs.find((o) => o.id === first)?.custom_fields[code] ?? null, null, 'the other candidate is left alone');
      const mapped = await w.adapters.keyMap.getMany(TENANT, 'organization', ['Z1']);
      assert.equal(mapped.get('Z1')?.pipedriveId, second);
      assert.deepEqual(
        (await choiceHolds(deps, w.tenant)).map((h) => h.key),
        ['Z2'],
      );
      const last = (await w.adapters.audit.history(TENANT, 'organization', 'Z1'))[0];
      assert.equal(last?.action, 'updated');
      await assert.rejects(settleChoice(deps, w.tenant, { entity: 'organization', key: 'Z1', pipedriveId: second }), /not held/u);
    });
  }

  test('settled moments after its writer last read the changes: the replay reads again and adopts the chosen record', async () => {
    w = await startMemoryWorld({ customers: [customerRow('Z3', 'Blau Optik', today())] });
    const optik = w.pd.seedOrganization({ name: '\uff22\uff4c\uff41\uff55 Optik' });
    await w.poll('customers');
    await w.deliver();
    assert.deepEqual(
      (await choiceHolds(w.handlerDeps(), w.tenant)).map((h) => h.key),
      ['Z3'],
    );
    await settleChoice(w.handlerDeps(), w.tenant, { entity: 'organization', key: 'Z3', pipedriveId: optik });
    // Well within CHANGES_MAX_AGE_MS of the read that found the near-identical name: that read must not serve it.
    w.clock.ms += 1_000;
    await w.deliver();
    assert.equal(w.pd.organizations().length, 1, 'no organization created');
    assert.equal((await mappedIds(w, 'organization')).get('Z3'), optik);
    assert.deepEqual(await choiceHolds(w.handlerDeps(), w.tenant), [], 'not held again');
  });

  test('a person: the chosen record must not carry another QAD key', async () => {
    w = await startMemoryWorld({
      customers: [customerRow('P1', 'Pauls Pumpen', today())],
      contacts: [contactRow('Q3', 'P1', 'Lars Gro\u00dfe', { 'ct_mstr.ct_email': '' })],
    });
    await w.poll('customers');
    await w.deliver();
    const orgId = (await w.adapters.keyMap.getMany(TENANT, 'organization', ['P1'])).get('P1')!.pipedriveId!;
    const typed = w.pd.seedPerson({ name: 'Lars Grosse', org_id: orgId });
    await w.poll('contacts');
    await drain(w);
    const deps = w.handlerDeps();
    assert.deepEqual(
      (await choiceHolds(deps, w.tenant)).map((h) => [h.entity, h.key, h.candidates.map((c) => c.id)]),
      [['person', 'Q3', [typed]]],
    );
    // Another contact owns it by the key map (written there since), or someone keyed it by hand: refused, the hold stays.
    await w.adapters.keyMap.claimPipedriveRecord(TENANT, 'person', typed, 'Q7');
    await assert.rejects(
      settleChoice(deps, w.tenant, { entity: 'person', key: 'Q3', pipedriveId: typed }),
      /already carries the QAD key Q7/u,
    );
    const code = keyOf(w, 'person', 'QAD Contact ID');
    await (await deps.clients.pipedrive(w.tenant)).update('persons', typed, { custom_fields: { [code]: 'Q9' } });
    await assert.rejects(
      settleChoice(deps, w.tenant, { entity: 'person', key: 'Q3', pipedriveId: typed }),
      /already carries the QAD key Q9/u,
    );
    assert.equal((await choiceHolds(deps, w.tenant)).length, 1);
  });
});
