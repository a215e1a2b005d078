import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { pollEnabledTenants } from '../../shared/flows/poll.ts';
import { entityRegistry } from '../../shared/flows/registry.ts';
import { customerRow, TENANT } from '../integration/harness.ts';
import { startMemoryWorld, type MemoryWorld } from './memory-deps.ts';

let w: MemoryWorld | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

describe('tenants are isolated in failure', () => {
  test('a connections item that no longer validates is skipped and audited; the other tenants are polled', async () => {
    w = await startMemoryWorld({ customers: [customerRow('C1', 'Alpha GmbH', new Date().toISOString().slice(0, 10))] });
    w.adapters.tenants.putUnchecked('broken', { tenantId: 'broken', qad: { baseUrl: 'not a url' } });
    const deps = w.handlerDeps();
    const customers = entityRegistry.byPoll('customers')!;
    const summaries = await pollEnabledTenants(deps, (tenant) => customers.pollTenant(deps, tenant, true));
    assert.deepEqual(
      summaries.map((s) => [s.tenantId, s.outcome]),
      [[TENANT, 'polled']],
    );
    assert.equal(w.waiting('records'), 1);
    const [skipped] = await w.adapters.audit.history('broken', '_tenant', '_poll');
    assert.equal(skipped?.action, 'failed');
    assert.match(skipped?.reason ?? '', /stored tenant config does not validate/u);
  });

  test("one tenant's poll that throws is audited and does not stop the next tenant's", async () => {
    w = await startMemoryWorld();
    await w.adapters.tenants.put({ ...w.tenant, config: { ...w.tenant.config, tenantId: 'second' } });
    const polled: string[] = [];
    const summaries = await pollEnabledTenants(w.handlerDeps(), async (tenant) => {
      if (tenant.config.tenantId === TENANT) throw new Error('QAD answered nothing for five minutes');
      polled.push(tenant.config.tenantId);
      return tenant.config.tenantId;
    });
    assert.deepEqual([summaries, polled], [['second'], ['second']]);
    const [failed] = await w.adapters.audit.history(TENANT, '_tenant', '_poll');
    assert.match(failed?.reason ?? '', /QAD answered nothing for five minutes/u);
  });
});
