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
const sentKeys = (world: MemoryWorld) => world.adapters.queue('records').sent.map((m) => (JSON.parse(m.body) as { key: string }).key);

/** Three rows a page, and a person deleting rows in QAD while the poll reads the second page onwards. */
async function pagedWorld(options: Parameters<typeof startMemoryWorld>[0], deleteOnSecondRead: (world: MemoryWorld) => void) {
  const world = await startMemoryWorld(options);
  const tenant = (await world.adapters.tenants.get(TENANT))!;
  const qad = tenant.config.qad;
  await world.adapters.tenants.put({
    ...tenant,
    config: { ...tenant.config, qad: { ...qad, customers: { ...qad.customers, pageSize: 3 }, contacts: { ...qad.contacts, pageSize: 3 } } },
  });
  let browses = 0;
  world.qad.setFault(({ method, path }) => {
    if (method === 'GET' && path === '/api/qracore/browses' && ++browses === 2) deleteOnSecondRead(world);
    return undefined;
  });
  return world;
}

describe('QAD paging while rows are deleted', () => {
  test('customers: a customer deleted during the first read hides no other', async () => {
    const codes = ['A01', 'A02', 'A03', 'A04', 'A05', 'A06', 'A07', 'A08'];
    w = await pagedWorld({ customers: codes.map((c) => customerRow(c, `Firma ${c}`, today())) }, (world) => {
      world.qadTenant.removeCustomer('A02');
      world.qadTenant.removeCustomer('A03');
    });
    const poll = await w.poll('customers');
    assert.equal(poll.outcome, 'polled');
    const sent = new Set(sentKeys(w));
    for (const code of codes.filter((c) => c !== 'A02' && c !== 'A03')) assert.ok(sent.has(code), `${code} was read`);
  });

  test('contacts: the same with contact rows', async () => {
    const ids = ['K1', 'K2', 'K3', 'K4', 'K5', 'K6', 'K7'];
    w = await pagedWorld({ customers: [], contacts: ids.map((id) => contactRow(id, 'X1', `Person ${id}`)) }, (world) =>
      world.qadTenant.removeContact('K1'),
    );
    await w.poll('contacts');
    const sent = new Set(sentKeys(w));
    for (const id of ids.slice(1)) assert.ok(sent.has(id), `${id} was read`);
  });
});
