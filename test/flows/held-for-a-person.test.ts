import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { ambiguousCause } from '../../shared/domain/errors.ts';
import { tenantStatus } from '../../shared/operations/status.ts';
import { API_TOKEN, customerRow, itemRow, priceRow, TENANT } from '../integration/harness.ts';
import { startMemoryWorld, type MemoryWorld } from './memory-deps.ts';

let w: MemoryWorld | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

const today = () => new Date().toISOString().slice(0, 10);
const HOUR = 3_600_000;
const LONG_AGO = '2026-01-15';
/** The memory world's claim lease (its default). */
const CLAIM_LEASE_MS = 60_000;

async function drain(world: MemoryWorld, queue = 'records'): Promise<void> {
  for (let round = 0; round < 30 && world.waiting(queue) > 0; round++) {
    await world.deliver(queue);
    world.clock.ms += 10 * 60_000;
  }
}

/** What a person does in Pipedrive's UI: an edit of one record. */
async function edit(world: MemoryWorld, collection: string, id: number, body: Record<string, unknown>): Promise<void> {
  const res = await fetch(`${world.pd.url}/api/v2/${collection}/${id}`, {
    method: 'PATCH',
    headers: { 'x-api-token': API_TOKEN, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  assert.equal(res.status, 200, await res.text());
}

const keyFieldCode = (world: MemoryWorld) =>
  world.pd.customFields('organization').find((f) => f.field_name === 'QAD Customer Code')!.field_code;

async function ambiguityEntries(world: MemoryWorld, entity: string, key: string) {
  return (await world.adapters.audit.history(TENANT, entity, key)).filter((e) => /ambiguous match/u.test(e.reason ?? ''));
}

describe('an ambiguous match is one hold for a person, not a dead letter on every poll', () => {
  /**
   * Two hand-made organizations carrying a customer's name (written two ways), beside one that matches nothing.
   * The rows changed long ago: after the first read, only the recheck of held records (or a daily read) sends them.
   */
  async function ambiguousWorld() {
    w = await startMemoryWorld({
      customers: [customerRow('AM1', 'Atlas Getriebe', LONG_AGO), customerRow('AM2', 'Brandt Ventile', LONG_AGO)],
    });
    const twins = [w.pd.seedOrganization({ name: 'Atlas Getriebe' }), w.pd.seedOrganization({ name: 'ATLAS  getriebe' })];
    await w.poll('customers');
    await drain(w);
    return { world: w, twins };
  }

  /** A daily full read sends every record not written yet again, and the hourly recheck the held ones. */
  async function sendAgain(world: MemoryWorld) {
    world.clock.ms += 25 * HOUR;
    await world.poll('customers');
    await drain(world);
  }

  test('held once with the candidates named, shown once in status; sent again still ambiguous adds nothing', async () => {
    const { world, twins } = await ambiguousWorld();
    for (let poll = 0; poll < 3; poll++) {
      assert.deepEqual(world.adapters.queue('records').deadLetters, [], 'nothing dead-lettered');
      const held = await world.adapters.holds.held(TENANT, ambiguousCause('organization'));
      assert.equal(held.length, 1, `poll ${poll}: one hold`);
      assert.deepEqual(held[0]?.candidates, [
        { id: twins[0], name: 'Atlas Getriebe' },
        { id: twins[1], name: 'ATLAS  getriebe' },
      ]);
      assert.match(held[0]?.reason ?? '', new RegExp(`organizations ${twins[0]} and ${twins[1]} all match customer AM1`, 'u'));
      assert.equal((await ambiguityEntries(world, 'organization', 'AM1')).length, 1, `poll ${poll}: one audit entry`);
      const [status] = await tenantStatus(world.handlerDeps(), world.clock.now());
      assert.deepEqual(
        status?.held.map((h) => [h.key, h.cause, h.candidates?.map((c) => c.id)]),
        [['AM1', 'ambiguous:organization', twins]],
      );
      await sendAgain(world);
    }
    assert.equal(world.pd.organizations().length, 3, 'the other customer created, none for the ambiguous one');
  });

  test('two deliveries that both found it not held yet (a lease ran out meanwhile): one hold, one audit entry', async () => {
    w = await startMemoryWorld({ customers: [customerRow('AM1', 'Atlas Getriebe', LONG_AGO)] });
    const world = w;
    world.pd.seedOrganization({ name: 'Atlas Getriebe' });
    world.pd.seedOrganization({ name: 'ATLAS  getriebe' });
    await world.poll('customers');
    const holds = world.adapters.holds;
    const hold = holds.hold.bind(holds);
    let overtaken = false;
    holds.hold = async (...args: Parameters<typeof hold>) => {
      if (!overtaken) {
        overtaken = true;
        // This delivery's lease runs out before its hold is stored: SQS delivers the message again, which holds it first.
        world.clock.ms += CLAIM_LEASE_MS + 1_000;
        await world.deliver('records');
      }
      return hold(...args);
    };
    await world.deliver('records');
    assert.ok(overtaken, 'the record was held by a delivery that overtook the first');
    holds.hold = hold;
    await drain(world);
    assert.equal((await holds.held(TENANT, ambiguousCause('organization'))).length, 1);
    assert.equal((await ambiguityEntries(world, 'organization', 'AM1')).length, 1, 'one problem, one audit entry');
  });

  test('released once a person types the QAD key into one candidate: adopted, the hold gone, nothing created', async () => {
    const { world, twins } = await ambiguousWorld();
    await edit(world, 'organizations', twins[1]!, { custom_fields: { [keyFieldCode(world)]: 'AM1' } });
    world.clock.ms += HOUR;
    await world.poll('customers');
    await drain(world);
    const mapped = (await world.adapters.keyMap.getMany(TENANT, 'organization', ['AM1'])).get('AM1');
    assert.equal(mapped?.pipedriveId, twins[1]);
    assert.deepEqual(await world.adapters.holds.held(TENANT), []);
    assert.equal(world.pd.organizations().length, 3);
    assert.deepEqual(world.adapters.queue('records').deadLetters, []);
  });

  test('released once a person deletes the other candidate', async () => {
    const { world, twins } = await ambiguousWorld();
    world.pd.deleteRecord('organization', twins[0]!);
    world.clock.ms += HOUR;
    await world.poll('customers');
    await drain(world);
    assert.equal((await world.adapters.keyMap.getMany(TENANT, 'organization', ['AM1'])).get('AM1')?.pipedriveId, twins[1]);
    assert.deepEqual(await world.adapters.holds.held(TENANT), []);
  });

  test('any write of the record clears its hold: a QAD change after the person settled it, before any recheck', async () => {
    const { world, twins } = await ambiguousWorld();
    await edit(world, 'organizations', twins[0]!, { custom_fields: { [keyFieldCode(world)]: 'AM1' } });
    world.qadTenant.upsertCustomer(customerRow('AM1', 'Atlas Getriebe GmbH', today()));
    world.clock.ms += 10 * 60_000;
    await world.poll('customers');
    await drain(world);
    assert.equal((await world.adapters.keyMap.getMany(TENANT, 'organization', ['AM1'])).get('AM1')?.pipedriveId, twins[0]);
    assert.deepEqual(await world.adapters.holds.held(TENANT), [], 'written, so no longer held');
  });

  test('a hold its key-map mark does not show (lost in a crash, or older than marks) is cleared by the write after a recheck', async () => {
    const { world, twins } = await ambiguousWorld();
    const keyMap = world.adapters.keyMap;
    const seen = await keyMap.claim(TENANT, 'organization', 'AM1', 'crash', 1, world.clock.now());
    assert.ok(!seen.held && seen.holdMarks !== undefined, 'holding the record marked it');
    await keyMap.clearHeld(TENANT, 'organization', 'AM1', seen.holdMarks);
    await edit(world, 'organizations', twins[1]!, { custom_fields: { [keyFieldCode(world)]: 'AM1' } });
    await sendAgain(world);
    assert.equal((await keyMap.getMany(TENANT, 'organization', ['AM1'])).get('AM1')?.pipedriveId, twins[1]);
    assert.deepEqual(await world.adapters.holds.held(TENANT), []);
  });

  test('a record never held costs its write no look at the holds; one held, one look, then none', async () => {
    const { world, twins } = await ambiguousWorld();
    const holds = world.adapters.holds;
    const looked: string[] = [];
    const heldRecord = holds.heldRecord.bind(holds);
    holds.heldRecord = (tenantId, entity, key) => {
      looked.push(key);
      return heldRecord(tenantId, entity, key);
    };
    await edit(world, 'organizations', twins[1]!, { custom_fields: { [keyFieldCode(world)]: 'AM1' } });
    world.qadTenant.upsertCustomer(customerRow('AM1', 'Atlas Getriebe GmbH', today()));
    world.qadTenant.upsertCustomer(customerRow('AM2', 'Brandt Ventile GmbH', today()));
    world.clock.ms += 10 * 60_000;
    await world.poll('customers');
    await drain(world);
    assert.deepEqual(looked, ['AM1'], 'AM2 was never held');
    assert.deepEqual(await holds.held(TENANT), []);
    world.qadTenant.upsertCustomer(customerRow('AM1', 'Atlas Getriebe AG', today()));
    world.clock.ms += 10 * 60_000;
    await world.poll('customers');
    await drain(world);
    assert.deepEqual(looked, ['AM1'], 'its holds cleared, the mark went with them');
    assert.equal(world.pd.organizations().find((o) => o.id === twins[1])?.name, 'Atlas Getriebe AG');
  });

  test('products: two carrying one item code are held once with both named', async () => {
    w = await startMemoryWorld({ items: [itemRow('77-100', 'Flansch DN50')], prices: [priceRow('77-100', 'EUR', 12)] });
    const twins = [w.pd.seedProduct({ name: 'Flansch', code: '77-100' }), w.pd.seedProduct({ name: 'Flansch (alt)', code: '77-100' })];
    for (let poll = 0; poll < 2; poll++) {
      w.clock.ms += 25 * HOUR;
      await w.poll('items');
      await drain(w, 'products');
    }
    assert.deepEqual(w.adapters.queue('products').deadLetters, []);
    const held = await w.adapters.holds.held(TENANT, ambiguousCause('product'));
    assert.deepEqual(
      held.map((h) => h.candidates),
      [
        [
          { id: twins[0], name: 'Flansch' },
          { id: twins[1], name: 'Flansch (alt)' },
        ],
      ],
    );
    assert.equal((await ambiguityEntries(w, 'product', '77-100')).length, 1);
  });
});
