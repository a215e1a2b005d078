import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { recordsInFlight, TenantSlots } from '../../shared/flows/tenant-slots.ts';

describe('records in flight per tenant', () => {
  test('follow the burst limit from the headers, capped by the batch; few before any headers', () => {
    assert.equal(recordsInFlight({}, 10), 2);
    assert.equal(recordsInFlight({ burstLimit: 40 }, 10), 4);
    assert.equal(recordsInFlight({ burstLimit: 80 }, 10), 8);
    assert.equal(recordsInFlight({ burstLimit: 100 }, 10), 10);
    assert.equal(recordsInFlight({ burstLimit: 120 }, 10), 10);
    assert.equal(recordsInFlight({ burstLimit: 480 }, 10), 10);
    assert.equal(recordsInFlight({ burstLimit: 20 }, 10), 2);
    assert.equal(recordsInFlight({ burstLimit: 5 }, 10), 1);
    assert.equal(recordsInFlight({ burstLimit: 100 }, 3), 3);
  });

  test('three times as many while its container is alone in the window and busy (the last of a drain)', () => {
    assert.equal(recordsInFlight({ burstLimit: 100, burstAlone: true }, 50), 30);
    assert.equal(recordsInFlight({ burstLimit: 100, burstAlone: false, burstRemaining: 90 }, 50), 10, 'a window merely empty');
    assert.equal(recordsInFlight({ burstLimit: 100, burstAlone: true }, 10), 10);
  });

  test('no more than the limit run at once per tenant, others tenants apart; a raised limit starts waiting work', async () => {
    const slots = new TenantSlots(1);
    let running = 0;
    let most = 0;
    const gates: Array<() => void> = [];
    const work = () =>
      new Promise<void>((resolve) => {
        running++;
        most = Math.max(most, running);
        gates.push(() => {
          running--;
          resolve();
        });
      });
    const done = [slots.run('a', work), slots.run('a', work), slots.run('a', work), slots.run('b', work)];
    await new Promise((r) => setImmediate(r));
    assert.equal(running, 2, "one of tenant a's and tenant b's");
    slots.setLimit('a', 2);
    await new Promise((r) => setImmediate(r));
    assert.equal(running, 3);
    while (gates.length > 0) {
      gates.shift()!();
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all(done);
    assert.equal(running, 0);
    assert.equal(most, 3);
  });
});
