import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { RECONCILE_EVERY_MS } from '../../shared/flows/poll.ts';
import { handleWriterBatch } from '../../shared/flows/writer-batch.ts';
import type { MessageControl } from '../../shared/ports/index.ts';
import type { WriterBatchDeps } from '../../shared/flows/writer-batch.ts';
import { customerRow, itemRow, sqsRecord, TENANT } from '../integration/harness.ts';
import { startMemoryWorld, type MemoryWorld } from './memory-deps.ts';

let w: MemoryWorld | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

const daysAgo = (n: number) => new Date(Date.now() - n * 86_400_000).toISOString().slice(0, 10);

/** A writer's queue controls that lose what they are given: the message that would retry a record is gone. */
const lostMessages: MessageControl = {
  requeue: async () => undefined,
  setVisibility: async () => undefined,
  deadLetter: async () => undefined,
};

/** Hands everything sent to `queue` to its writer once, with the messages it sends back lost. */
async function deliverLosingRetries(world: MemoryWorld, queue: string): Promise<void> {
  const deps: WriterBatchDeps = { ...world.handlerDeps(queue), messages: lostMessages };
  const sent = world.adapters.queue(queue).takeSent();
  await handleWriterBatch(deps, {
    Records: sent.map((m) => sqsRecord({ messageId: m.messageId, receiptHandle: m.messageId, body: m.body, receiveCount: 1 })),
  });
}

describe('reconciliation', () => {
  test('a create left pending whose message is gone is found from the key map and sent again by the next poll', async () => {
    w = await startMemoryWorld({ customers: [customerRow('C1', 'Alpha GmbH', daysAgo(10)), customerRow('C2', 'Beta AG', daysAgo(10))] });
    assert.equal((await w.poll('customers')).enqueued, 2);
    // The create goes through but its answer is lost, and the message that would retry it is lost too.
    let creates = 0;
    w.pd.setFault((req) =>
      req.method === 'POST' && req.path === '/api/v2/organizations' && creates++ === 0 ? { kind: 'lose-response' } : undefined,
    );
    await deliverLosingRetries(w, 'records');
    w.pd.setFault(undefined);
    const incomplete = await w.adapters.keyMap.listIncomplete(TENANT, 'organization', w.clock.now() + 3_600_000);
    assert.equal(incomplete.length, 1);
    assert.ok(incomplete[0]?.pendingCreateAt);

    // Within the hour nothing is read again: the cost is bounded.
    w.clock.ms += 10 * 60_000;
    const early = await w.poll('customers');
    assert.deepEqual([early.full, early.enqueued], [false, 0]);

    w.clock.ms += RECONCILE_EVERY_MS;
    const reconciled = await w.poll('customers');
    assert.deepEqual([reconciled.full, reconciled.enqueued, reconciled.unchanged], [true, 1, 1], 'only the incomplete record is sent');
    w.clock.ms += 60_000;
    await w.deliver('records');
    assert.deepEqual(
      w.pd
        .organizations()
        .map((o) => o.name)
        .sort(),
      ['Alpha GmbH', 'Beta AG'],
    );
    assert.deepEqual(await w.adapters.keyMap.listIncomplete(TENANT, 'organization', w.clock.now()), []);
  });

  test('a sales order left pending whose message is gone is found from the key map; its deal is read again and ordered once', async () => {
    w = await startMemoryWorld({ customers: [customerRow('K9', 'Norrland AB', daysAgo(10))], items: [itemRow('P-1', 'Pump')] });
    const key = w.pd.addCustomField('organization', { field_name: 'QAD Customer Code', field_type: 'varchar' });
    const org = w.pd.seedOrganization({ name: 'Norrland AB', custom_fields: { [key]: 'K9' } });
    const pump = w.pd.seedProduct({ name: 'Pump', code: 'P-1' });
    const deal = w.pd.seedDeal({
      title: 'Pumps',
      currency: 'EUR',
      status: 'won',
      org_id: org,
      lines: [{ product_id: pump, item_price: 10, quantity: 2 }],
    });
    // Won a while ago: past the overlap the deal poll re-reads, so only the key map can bring it back.
    w.clock.ms += 15 * 60_000;
    assert.equal((await w.pollFlow('deals')).enqueued, 1);
    // QAD takes the order but its answer is lost; the message that would retry it is lost too. The deal does not change again.
    let creates = 0;
    w.qad.setFault((req) =>
      req.method === 'POST' && /salesOrderHeaders/u.test(req.path) && creates++ === 0 ? { kind: 'lose-response' } : undefined,
    );
    await deliverLosingRetries(w, 'orders');
    w.qad.setFault(undefined);
    assert.equal(w.qadTenant.salesOrders().length, 1);
    assert.equal((await w.adapters.keyMap.listIncomplete(TENANT, 'salesOrder', w.clock.now() + 3_600_000)).length, 1);

    // The next poll reads only what changed since: nothing. Within the hour the key map is not looked at again either.
    w.clock.ms += 5 * 60_000;
    assert.equal((await w.pollFlow('deals')).enqueued, 0);
    w.clock.ms += RECONCILE_EVERY_MS;
    const reconciled = await w.pollFlow('deals');
    assert.deepEqual('reconciled' in reconciled && [reconciled.reconciled, reconciled.enqueued], [1, 1]);
    w.clock.ms += 60_000;
    await w.deliver('orders');
    // The order QAD took is found by its PO and kept: one order, and the key map is complete.
    assert.deepEqual(
      w.qadTenant.salesOrders().map((o) => o.so_po.endsWith(`-${deal}`)),
      [true],
    );
    assert.deepEqual(await w.adapters.keyMap.listIncomplete(TENANT, 'salesOrder', w.clock.now()), []);
  });
});
