import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { contactRow, customerRow, TENANT } from '../integration/harness.ts';
import { startMemoryWorld, type MemoryWorld } from './memory-deps.ts';

let w: MemoryWorld | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

const today = () => new Date().toISOString().slice(0, 10);
/** Past the daily full read. */
const A_DAY_MS = 25 * 3_600_000;

const mapped = async (world: MemoryWorld, entity: 'organization' | 'person', key: string) =>
  (await world.adapters.keyMap.getMany(TENANT, entity, [key])).get(key)?.pipedriveId;
const keyField = (world: MemoryWorld) =>
  world.pd.customFields('organization').find((f) => f.field_name === 'QAD Customer Code')!.field_code;
const carrying = (world: MemoryWorld, code: string) => world.pd.organizations().filter((o) => o.custom_fields[keyField(world)] === code);
const lastAudit = async (world: MemoryWorld, entity: 'organization' | 'person', key: string) =>
  (await world.adapters.audit.history(TENANT, entity, key))[0];

/** Customers R1 and R2 with a contact each, written to Pipedrive. */
async function synced(): Promise<MemoryWorld> {
  const world = await startMemoryWorld({
    customers: [customerRow('R1', 'Reuter Hydraulik', today()), customerRow('R2', 'Brandt Stahl', today())],
    contacts: [contactRow('K1', 'R1', 'Eva Lang'), contactRow('K2', 'R2', 'Tom Roth')],
  });
  await world.poll('customers');
  await world.deliver();
  await world.poll('contacts');
  await world.deliver();
  assert.equal(world.waiting(), 0);
  return world;
}

async function drain(world: MemoryWorld): Promise<void> {
  for (let round = 0; round < 10 && world.waiting() > 0; round++) {
    await world.deliver();
    world.clock.ms += 5 * 60_000;
  }
}

describe('records changed in Pipedrive by a person', () => {
  test('deleted: the next change recreates the organization, and on the daily read its persons follow', async () => {
    w = await synced();
    const old = (await mapped(w, 'organization', 'R1'))!;
    w.pd.deleteRecord('organization', old);
    w.qadTenant.upsertCustomer(customerRow('R1', 'Reuter Hydraulik AG', today()));
    w.clock.ms += 20 * 60_000;
    await w.poll('customers');
    await drain(w);
    const [recreated] = carrying(w, 'R1');
    assert.ok(recreated && recreated.id !== old, 'created again');
    assert.equal(await mapped(w, 'organization', 'R1'), recreated.id);
    assert.match((await lastAudit(w, 'organization', 'R1'))?.reason ?? '', new RegExp(`organizations ${old} .*was deleted in Pipedrive`));

    w.clock.ms += A_DAY_MS;
    await w.poll('contacts');
    await drain(w);
    const personId = await mapped(w, 'person', 'K1');
    const person = w.pd.persons().find((p) => p.id === personId);
    assert.ok(person);
    assert.equal(person.org_id, recreated.id, 'the person moved to the new organization');
    assert.equal(w.pd.persons().length, 2, 'no person duplicated');
  });

  test('deleted, where the tenant says deletions are final: held once with the reason, not recreated', async () => {
    w = await synced();
    const tenant = (await w.adapters.tenants.get(TENANT))!;
    await w.adapters.tenants.put({
      ...tenant,
      config: { ...tenant.config, mapping: { ...tenant.config.mapping, deletedInPipedrive: 'hold' } },
    });
    const old = (await mapped(w, 'organization', 'R1'))!;
    w.pd.deleteRecord('organization', old);
    w.qadTenant.upsertCustomer(customerRow('R1', 'Reuter Hydraulik AG', today()));
    w.clock.ms += 20 * 60_000;
    await w.poll('customers');
    await drain(w);
    assert.deepEqual(carrying(w, 'R1'), []);
    assert.equal((await w.adapters.holds.held(TENANT, 'deleted-in-pipedrive:organization')).length, 1);
    w.clock.ms += 20 * 60_000;
    await w.poll('customers');
    await drain(w);
    assert.deepEqual(carrying(w, 'R1'), []);
    assert.equal((await w.adapters.holds.held(TENANT, 'deleted-in-pipedrive:organization')).length, 1, 'one hold for the record');
    const audited = (await w.adapters.audit.history(TENANT, 'organization', 'R1')).filter((e) =>
      /deletions in Pipedrive are final/u.test(e.reason ?? ''),
    );
    assert.equal(audited.length, 1, 'audited once');
  });

  test('merged into a hand-made organization (410): the survivor is adopted and the key map moves', async () => {
    w = await synced();
    const ours = (await mapped(w, 'organization', 'R1'))!;
    const handMade = w.pd.seedOrganization({ name: 'Reuter Hydraulik (sales)' });
    w.pd.mergeRecords('organization', ours, handMade);
    w.qadTenant.upsertCustomer(customerRow('R1', 'Reuter Hydraulik AG', today()));
    w.clock.ms += 20 * 60_000;
    await w.poll('customers');
    await drain(w);
    assert.equal(await mapped(w, 'organization', 'R1'), handMade);
    assert.equal(w.pd.organizations().length, 2, 'nothing created');
    assert.match((await lastAudit(w, 'organization', 'R1'))?.reason ?? '', new RegExp(`${ours} .*merged away.*key map moved`));
  });

  test('merged just after the writers last read Pipedrive’s changes: the restored record reads again, adopts the survivor', async () => {
    w = await synced();
    const ours = (await mapped(w, 'organization', 'R2'))!;
    const handMade = w.pd.seedOrganization({ name: 'Brandt (typed)' });
    w.pd.mergeRecords('organization', ours, handMade);
    // The daily full read is due, the first-sync listing still trusted, the writers' last read seconds old.
    const nowMs = w.clock.now();
    assert.ok(await w.adapters.pollState.acquire(TENANT, 'organization', 'test', 1_000, nowMs));
    const dayAgo = new Date(nowMs - A_DAY_MS).toISOString();
    await w.adapters.pollState.finish(TENANT, 'organization', 'test', { watermark: dayAgo, lastPolledAt: dayAgo, fullReadAt: dayAgo });
    w.clock.ms += 1_000;
    assert.equal((await w.poll('customers')).restored, 1);
    await w.deliver();
    assert.equal(await mapped(w, 'organization', 'R2'), handMade);
    assert.equal(carrying(w, 'R2').length, 1, 'not created again');
  });

  for (const edit of ['deleted', 'merged'] as const) {
    test(`${edit} while QAD did not change: the daily full read restores it at list-page cost`, async () => {
      w = await synced();
      const ours = (await mapped(w, 'organization', 'R2'))!;
      const handMade = w.pd.seedOrganization({ name: 'Brandt (typed)' });
      if (edit === 'deleted') w.pd.deleteRecord('organization', ours);
      else w.pd.mergeRecords('organization', ours, handMade);
      w.clock.ms += A_DAY_MS;
      w.pd.resetStats();
      const poll = await w.poll('customers');
      assert.deepEqual([poll.full, poll.restored, poll.enqueued], [true, 1, 1]);
      assert.equal(w.pd.stats().byEndpoint['GET /api/v2/organizations/{id}'], undefined, 'no GET per record');
      await drain(w);
      const now = (await mapped(w, 'organization', 'R2'))!;
      assert.equal(carrying(w, 'R2').length, 1);
      assert.equal(carrying(w, 'R2')[0]!.id, now);
      if (edit === 'merged') assert.equal(now, handMade);
    });
  }
});
