import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { MAX_DEPENDENCY_WAITS, waitingCause } from '../../shared/domain/errors.ts';
import { tenantStatus } from '../../shared/operations/status.ts';
import { contactRow, customerRow, TENANT } from '../integration/harness.ts';
import { startMemoryWorld, type MemoryWorld } from './memory-deps.ts';

let w: MemoryWorld | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

/** Delivers the records queue until nothing is left on it, as its event source would, a minute apart. */
async function deliverUntilEmpty(world: MemoryWorld): Promise<number> {
  let deliveries = 0;
  while (world.waiting('records') > 0 && deliveries < 100) {
    world.clock.ms += 60_000;
    await world.deliver('records');
    deliveries++;
  }
  return deliveries;
}

describe('a record that waits on a person is one held entry, not a message on every poll', () => {
  test('a contact whose customer is not synced waits a bounded time, is held once, shows once, and lands once it can', async () => {
    w = await startMemoryWorld({
      customers: [customerRow('K7', 'Kappa GmbH', new Date().toISOString().slice(0, 10))],
      contacts: [contactRow('Q1', 'K7', 'Quinn Ek'), contactRow('Q2', 'K7', 'Rune Ek')],
    });
    for (let poll = 1; poll <= 3; poll++) {
      await w.poll('contacts');
      const deliveries = await deliverUntilEmpty(w);
      assert.ok(deliveries <= MAX_DEPENDENCY_WAITS, `poll ${poll}: ${deliveries} deliveries, then held`);
      const held = await w.adapters.holds.held(TENANT, waitingCause('person'));
      assert.deepEqual(held.map((m) => (JSON.parse(m.body) as { key: string }).key).sort(), ['Q1', 'Q2'], `poll ${poll}: each held once`);
      assert.deepEqual(w.adapters.queue('records').deadLetters, [], 'never dead-lettered: nothing for a person to redrive');
      // Held, they are not sent again while their customer is still missing: no new waits, no new entries.
      if (poll > 1) assert.equal(deliveries, 0, `poll ${poll}: nothing sent for records still waiting`);
      for (const key of ['Q1', 'Q2']) {
        const history = await w.adapters.audit.history(TENANT, 'person', key);
        assert.equal(history.filter((e) => /still waiting/u.test(e.reason ?? '')).length, 1, `poll ${poll}: ${key}'s hold audited once`);
      }
    }
    const [status] = await tenantStatus(w.handlerDeps(), w.clock.now());
    assert.deepEqual(
      status?.held.map((h) => [h.entity, h.key]),
      [
        ['person', 'Q1'],
        ['person', 'Q2'],
      ],
    );
    assert.equal(status?.held[0]?.cause, waitingCause('person'));
    assert.match(status?.held[0]?.reason ?? '', /waiting for another record/u);

    // The cause is fixed (the customer syncs): the next contacts poll releases them and they land, once each.
    await w.poll('customers');
    await deliverUntilEmpty(w);
    await w.poll('contacts');
    await deliverUntilEmpty(w);
    assert.deepEqual(
      w.pd
        .persons()
        .map((p) => p.name)
        .sort(),
      ['Quinn Ek', 'Rune Ek'],
    );
    assert.deepEqual(await w.adapters.holds.held(TENANT), []);
  });
});
