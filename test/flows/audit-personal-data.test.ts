import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { replay } from '../../shared/operations/replay.ts';
import type { RecordMessage } from '../../shared/ports/index.ts';
import { contactRow, customerRow, TENANT } from '../integration/harness.ts';
import { startMemoryWorld, type MemoryWorld } from './memory-deps.ts';

let w: MemoryWorld | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

const today = () => new Date().toISOString().slice(0, 10);
const everything = (world: MemoryWorld) => world.adapters.audit.byTenant(TENANT, '2000-01-01', '2999-01-01');

/** People with contact details of their own (not the fixtures' defaults), a customer with a sole trader's. */
const PEOPLE = [
  { id: 'P-ODA', name: 'Oda Quist-Ramberg', email: 'oda.qr@fjordmail.example', phone: '+47 912 34 567' },
  { id: 'P-LUIS', name: 'Luis Ybarra Tellechea', email: 'ybarra.l@correo.example', phone: '+34 611 22 33 44' },
  { id: 'P-BAD', name: 'Mireille Vautrin', email: 'not-an-email-mireille', phone: '+33 6 12 34 56 78' },
];
const SOLE_TRADER = { name: 'Hanne Solberg Handel', email: 'hanne@solberg-handel.example', phone: '+47 22 11 00 99' };

describe('the audit keeps what an operator needs, no contact details', () => {
  test('created, unchanged, updated, bad and dead-lettered records: key, outcome, reason, hash, field names; no value', async () => {
    w = await startMemoryWorld({
      customers: [
        customerRow('C1', SOLE_TRADER.name, today(), { 'ad_mstr.ad_email': SOLE_TRADER.email, 'ad_mstr.ad_phone': SOLE_TRADER.phone }),
      ],
      contacts: PEOPLE.map((p) => contactRow(p.id, 'C1', p.name, { 'ct_mstr.ct_email': p.email, 'ct_mstr.ct_phone': p.phone })),
    });
    await w.poll('customers');
    await w.deliver('records');
    await w.poll('contacts');
    await w.deliver('records');
    // The same again (unchanged), then a change, then a message under a key that is not its record's (dead-lettered).
    await w.poll('contacts');
    await w.deliver('records');
    w.qadTenant.upsertContact({ ...contactRow('P-ODA', 'C1', PEOPLE[0]!.name), 'ct_mstr.ct_email': 'oda.new@fjordmail.example' });
    await w.poll('contacts');
    await w.deliver('records');
    const oda = w.adapters
      .queue('records')
      .sent.map((m) => JSON.parse(m.body) as RecordMessage)
      .find((m) => m.key === 'P-ODA')!;
    await w.adapters.queue('records').sendAll([{ ...oda, key: 'P-LUIS' }]);
    await w.deliver('records');

    const entries = await everything(w);
    const actions = new Set(entries.map((e) => e.action));
    for (const a of ['created', 'updated', 'failed']) assert.ok(actions.has(a as never), `saw ${a}: ${[...actions].join(', ')}`);
    const stored = JSON.stringify(entries);
    for (const value of [
      ...PEOPLE.flatMap((p) => [p.name, p.email, p.phone]),
      'oda.new@fjordmail.example',
      SOLE_TRADER.email,
      SOLE_TRADER.phone,
    ])
      assert.ok(!stored.includes(value), `the audit holds ${value}`);
    const written = entries.find((e) => e.key === 'P-LUIS' && e.action === 'created');
    assert.ok(written?.contentHash, 'a written record is audited with its content hash');
    assert.ok(written?.fields?.includes('emails'), `and the names of the fields written: ${written?.fields?.join(', ')}`);
  });

  test('replay re-reads the record from its source by key, says whether it changed since, and sends today’s content', async () => {
    w = await startMemoryWorld({
      customers: [customerRow('C1', 'Acme GmbH', today())],
      contacts: [contactRow('P1', 'C1', 'Anna Berg'), contactRow('P2', 'C1', 'Bo Lind')],
    });
    await w.poll('customers');
    await w.deliver('records');
    await w.poll('contacts');
    await w.deliver('records');
    w.qadTenant.upsertContact({ ...contactRow('P2', 'C1', 'Bo Lind-Ek') });
    const deps = w.handlerDeps('records');
    const results = await replay(deps, w.tenant, { from: '2000-01-01', to: '2999-01-01', action: 'created' });
    assert.deepEqual(
      results.map((r) => [r.entity, r.key, r.outcome, r.content]),
      [
        ['organization', 'C1', 'enqueued', 'as audited'],
        ['person', 'P1', 'enqueued', 'as audited'],
        ['person', 'P2', 'enqueued', 'changed since'],
      ],
    );
    await w.deliver('records');
    assert.deepEqual(
      w.pd
        .persons()
        .map((p) => p.name)
        .sort(),
      ['Anna Berg', 'Bo Lind-Ek'],
    );
    w.qadTenant.removeContact('P1');
    assert.deepEqual(await replay(deps, w.tenant, { entity: 'person', key: 'P1' }), [
      { entity: 'person', key: 'P1', outcome: 'not at its source' },
    ]);
  });
});
