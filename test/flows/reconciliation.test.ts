import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { RECONCILE_EVERY_MS } from '../../shared/flows/poll.ts';
import { handleWriterBatch } from '../../shared/flows/writer-batch.ts';
import type { MessageControl } from '../../shared/ports/index.ts';
import { customerRow, sqsRecord, TENANT } from '../integration/harness.ts';
import { startMemoryWorld, type MemoryWorld } from './memory-deps.ts';

let w: MemoryWorld | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

const daysAgo = (n: number) => new Date(Date.now() - n * 86_400_000).toISOString().slice(0, 10);

describe('reconciliation', () => {
  test('a create left pending whose message is gone is found from the key map and sent again by the next poll', async () => {
    w = await startMemoryWorld({ customers: [customerRow('C1', 'Alpha GmbH', daysAgo(10)), customerRow('C2', 'Beta AG', daysAgo(10))] });
    assert.equal((await w.poll('customers')).enqueued, 2);
    // The create goes through but its answer is lost, and the message that would retry it is lost too.
    let creates = 0;
    w.pd.setFault((req) =>
      req.method === 'POST' && req.path === '/api/v2/organizations' && creates++ === 0 ? { kind: 'lose-response' } : undefined,
    );
    const lost: MessageControl = {
      requeue: async () => undefined,
      setVisibility: async () => undefined,
      deadLetter: async () => undefined,
    };
    const deps = { ...w.handlerDeps('records'), messages: lost };
    const sent = w.adapters.queue('records').takeSent();
    await handleWriterBatch(deps, {
      Records: sent.map((m) => sqsRecord({ messageId: m.messageId, receiptHandle: m.messageId, body: m.body, receiveCount: 1 })),
    });
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
});
