import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { customerRow, TENANT } from '../integration/harness.ts';
import { startMemoryWorld, type MemoryWorld } from './memory-deps.ts';

let w: MemoryWorld | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

describe('what the alarms count', () => {
  test('a poll that catches its failure still counts it, per tenant and entity; a good poll counts nothing', async () => {
    w = await startMemoryWorld({ customers: [customerRow('C1', 'Alpha GmbH', new Date().toISOString().slice(0, 10))] });
    w.qad.setFault(() => ({ status: 503, body: 'maintenance' }));
    const failed = await w.poll('customers');
    assert.equal(failed.outcome, 'failed');
    assert.deepEqual(
      w.telemetry.events.filter((e) => e.kind === 'poll-failed'),
      [{ kind: 'poll-failed', tenantId: TENANT, entity: 'organization' }],
    );
    w.qad.setFault(undefined);
    assert.equal((await w.poll('customers')).outcome, 'polled');
    assert.equal(w.telemetry.count('poll-failed'), 1);
  });
});
