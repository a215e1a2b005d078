import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { LEFT_OUT_KEY } from '../../shared/flows/write-record.ts';
import { checkTenant } from '../../shared/operations/check.ts';
import { itemRow, priceRow, TENANT } from '../integration/harness.ts';
import { startMemoryWorld, type MemoryWorld } from './memory-deps.ts';

let w: MemoryWorld | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

async function drainProducts(world: MemoryWorld): Promise<void> {
  for (let round = 0; round < 10 && world.waiting('products') > 0; round++) {
    await world.deliver('products');
    world.clock.ms += 5 * 60_000;
  }
}

describe('a price-list currency the Pipedrive company lacks', () => {
  test('products are written with the currencies Pipedrive has; each missing one is reported once per tenant', async () => {
    w = await startMemoryWorld({
      currencies: ['EUR', 'USD'],
      items: [itemRow('20-100', 'Valve'), itemRow('20-101', 'Seal'), itemRow('20-102', 'Pipe')],
      prices: [
        priceRow('20-100', 'CHF', 14),
        priceRow('20-100', 'EUR', 12),
        priceRow('20-100', 'USD', 13),
        priceRow('20-101', 'SEK', 90),
        priceRow('20-101', 'CHF', 2.2),
        priceRow('20-101', 'EUR', 2),
        priceRow('20-102', 'USD', 5),
      ],
    });
    await w.poll('items');
    await drainProducts(w);
    const byCode = new Map(w.pd.products().map((p) => [p.code, p.prices.map((q) => `${q.currency} ${q.price}`).sort()]));
    assert.deepEqual(Object.fromEntries(byCode), {
      '20-100': ['EUR 12', 'USD 13'],
      '20-101': ['EUR 2'],
      '20-102': ['USD 5'],
    });
    const reports = await w.adapters.audit.history(TENANT, 'product', LEFT_OUT_KEY);
    assert.deepEqual(reports.map((r) => /refused currency ([A-Z]{3})/u.exec(r.reason ?? '')?.[1]).sort(), ['CHF', 'SEK']);

    const rows = await checkTenant(w.handlerDeps().clients, w.tenant, undefined, w.adapters.audit);
    const row = rows.find((r) => r.check === 'Pipedrive has what QAD sends');
    assert.equal(row?.ok, false);
    assert.match(row?.detail ?? '', /currency CHF/u);
    assert.match(row?.detail ?? '', /currency SEK/u);
  });
});
