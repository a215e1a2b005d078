import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { choiceHolds, settleChoice } from '../../shared/operations/settle.ts';
import { contactRow, customerRow, TENANT } from '../integration/harness.ts';
import { startMemoryWorld, type MemoryWorld } from './memory-deps.ts';

let w: MemoryWorld | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

const today = () => new Date().toISOString().slice(0, 10);
const LISTING_STALE_MS = 7 * 3_600_000;

async function drain(world: MemoryWorld, queue = 'records'): Promise<void> {
  for (let round = 0; round < 20 && world.waiting(queue) > 0; round++) {
    await world.deliver(queue);
    world.clock.ms += 10 * 60_000;
  }
}

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
          ['Z1', [first, second].sort((a, b) => a - b)],
          ['Z2', [optik]],
        ],
      );

      const deps = w.handlerDeps();
      await assert.rejects(settleChoice(deps, w.tenant, { entity: 'organization', key: 'Z1', pipedriveId: optik }), /not one of/u);
      const settled = await settleChoice(deps, w.tenant, { entity: 'organization', key: 'Z1', pipedriveId: second });
      assert.equal(settled.released, 1);
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
      (await choiceHolds(deps, w.tenant)).map((h) => [h.entity, h.key, h.candidates]),
      [['person', 'Q3', [typed]]],
    );
    // Someone keyed it by hand to another contact meanwhile: the choice is refused, the hold stays.
    const code = keyOf(w, 'person', 'QAD Contact ID');
    await (await deps.clients.pipedrive(w.tenant)).update('persons', typed, { custom_fields: { [code]: 'Q9' } });
    await assert.rejects(
      settleChoice(deps, w.tenant, { entity: 'person', key: 'Q3', pipedriveId: typed }),
      /already carries the QAD key Q9/u,
    );
    assert.equal((await choiceHolds(deps, w.tenant)).length, 1);
  });
});
