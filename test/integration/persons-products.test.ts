import './quiet-env.ts';
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { parseContactRow, personContentHash, type Contact } from '../../shared/domain/contact.ts';
import { parseItemRow, parsePriceRow, productContentHash, type Item } from '../../shared/domain/item.ts';
import type { StoredTenant } from '../../shared/config/tenant.ts';
import { organizations } from '../../shared/flows/entities/organizations.ts';
import { persons } from '../../shared/flows/entities/persons.ts';
import { products } from '../../shared/flows/entities/products.ts';
import { WaitForDependency } from '../../shared/domain/errors.ts';
import { handleWriterBatch } from '../../shared/flows/writer-batch.ts';
import { pollEntity } from '../../shared/flows/poll.ts';
import { LEFT_OUT_KEY, writeRecord } from '../../shared/flows/write-record.ts';
import { contactRow, customerRow, itemRow, priceRow, recordMessage, startHarness, TENANT, type Harness } from './harness.ts';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const delivery = (id: string, attempt = 1) => ({ messageId: id, attempt });

function contact(row: Parameters<typeof parseContactRow>[0]): Contact {
  const parsed = parseContactRow(row);
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.reason);
  return parsed.record;
}

function item(part: string, name: string, prices: Array<[string, number]>): Item {
  const parsed = parseItemRow(
    itemRow(part, name),
    prices.map(([currency, price]) => {
      const p = parsePriceRow(priceRow(part, currency, price));
      assert.ok(p.ok);
      return p.price;
    }),
  );
  assert.ok(parsed.ok);
  return parsed.record;
}

const personMessage = (c: Contact) => recordMessage(c, c.id, personContentHash(c), 'person');
const productMessage = (i: Item, tenant: StoredTenant) =>
  recordMessage(i, i.part, productContentHash(i, tenant.config.mapping.product.activeStatuses), 'product');

/** Writes the customers as organizations, as their own sync would have. */
async function writeCustomers(harness: Harness, codes: string[]): Promise<Map<string, number>> {
  const ids = new Map<string, number>();
  await pollEntity(harness.deps, organizations, { force: true });
  for (const m of await harness.drainMessages())
    ids.set(m.key, (await writeRecord(harness.deps, organizations, harness.tenant, m, delivery(`org-${m.key}`))).pipedriveId);
  assert.deepEqual([...ids.keys()].sort(), codes);
  return ids;
}

describe('contacts become persons in their organization', () => {
  test('a person whose organization is not mapped yet waits (deferred, audited), then is written with org_id', async () => {
    h = await startHarness({ customers: [customerRow('C1', 'Acme GmbH', '2026-11-20')] });
    const c = contact(contactRow('P1', 'C1', 'Anna Berg'));
    await assert.rejects(writeRecord(h.deps, persons, h.tenant, personMessage(c), delivery('m1')), WaitForDependency);
    assert.equal(h.pd.persons().length, 0, 'never created without org_id');

    const orgs = await writeCustomers(h, ['C1']);
    const out = await writeRecord(h.deps, persons, h.tenant, personMessage(c), delivery('m1', 2));
    assert.equal(out.action, 'created');
    const [person] = h.pd.persons();
    assert.equal(person?.org_id, orgs.get('C1'));
    assert.deepEqual(
      person?.emails.map((e) => [e.value, e.primary]),
      [['p1@example.com', true]],
    );
    assert.equal(person?.job_title, 'Buyer');
  });

  test('through the writer batch the wait is audited as deferred with its reason', async () => {
    h = await startHarness();
    const c = contact(contactRow('P2', 'C9', 'Bo Ek'));
    await h.aws.sqs.send(
      new (await import('@aws-sdk/client-sqs')).SendMessageCommand({
        QueueUrl: h.aws.queueUrl,
        MessageBody: JSON.stringify(personMessage(c)),
      }),
    );
    const res = await handleWriterBatch(h.deps, await h.receiveEvent());
    assert.deepEqual(res.batchItemFailures, [], 'sent again to wait: no receive spent');
    const [entry] = await h.deps.audit.history(TENANT, 'person', 'P2');
    assert.equal(entry?.action, 'deferred');
    assert.match(entry?.error ?? '', /organization for customer C9 is not in Pipedrive yet/u);
  });

  test('a contact without an email matches a hand-made person by exact name within the organization', async () => {
    h = await startHarness({ customers: [customerRow('C1', 'Acme GmbH', '2026-11-20')] });
    const orgs = await writeCustomers(h, ['C1']);
    const handMade = h.pd.seedPerson({ name: 'carl DAHL', org_id: orgs.get('C1')! });
    h.pd.seedPerson({ name: 'Carl Dahl', org_id: null }); // same name, no organization: not him
    const c = contact(contactRow('P3', 'C1', 'Carl Dahl', { 'ct_mstr.ct_email': '' }));
    const out = await writeRecord(h.deps, persons, h.tenant, personMessage(c), delivery('m1'));
    assert.deepEqual([out.action, out.pipedriveId, out.via], ['updated', handMade, 'matched by name within the organization']);
    const person = h.pd.persons().find((p) => p.id === handMade);
    assert.deepEqual(person?.emails ?? [], []);
    assert.deepEqual(
      person?.phones.map((p) => p.value),
      ['+49 30 555'],
    );
  });

  test('a contact that moved to another customer moves to that organization', async () => {
    h = await startHarness({ customers: [customerRow('C1', 'Acme GmbH', '2026-11-20'), customerRow('C2', 'Borg AB', '2026-11-20')] });
    const orgs = await writeCustomers(h, ['C1', 'C2']);
    const first = await writeRecord(h.deps, persons, h.tenant, personMessage(contact(contactRow('P4', 'C1', 'Dana Falk'))), delivery('m1'));
    const moved = await writeRecord(h.deps, persons, h.tenant, personMessage(contact(contactRow('P4', 'C2', 'Dana Falk'))), delivery('m2'));
    assert.deepEqual([moved.action, moved.pipedriveId], ['updated', first.pipedriveId]);
    assert.equal(h.pd.persons().find((p) => p.id === first.pipedriveId)?.org_id, orgs.get('C2'));
    assert.equal(h.pd.persons().length, 1);
  });

  test('a contact removed from QAD is audited as gone on the full read, and its person is kept', async () => {
    h = await startHarness({
      customers: [customerRow('C1', 'Acme GmbH', '2026-11-20')],
      contacts: [contactRow('P5', 'C1', 'Eva Gran'), contactRow('P6', 'C1', 'Finn Holm')],
    });
    await writeCustomers(h, ['C1']);
    await pollEntity(h.deps, persons, { force: true });
    for (const m of await h.drainMessages()) await writeRecord(h.deps, persons, h.tenant, m, delivery(m.key));
    assert.equal(h.pd.persons().length, 2);
    h.qadTenant.removeContact('P6');
    h.clock.ms += 25 * 3_600_000; // the daily full read
    const [summary] = await pollEntity(h.deps, persons, { force: true });
    assert.deepEqual([summary?.full, summary?.gone], [true, 1]);
    const [entry] = await h.deps.audit.history(TENANT, 'person', 'P6');
    assert.match(entry?.reason ?? '', /no longer in QAD; its Pipedrive record is kept/u);
    assert.equal(h.pd.persons().length, 2);
  });

  test('an inactive contact is not synced, and says so in the audit once', async () => {
    h = await startHarness({
      customers: [customerRow('C1', 'Acme GmbH', '2026-11-20')],
      contacts: [contactRow('P7', 'C1', 'Gus Ito', { 'ct_mstr.ct_active': false })],
    });
    await writeCustomers(h, ['C1']);
    const [summary] = await pollEntity(h.deps, persons, { force: true });
    assert.deepEqual([summary?.enqueued, summary?.excluded], [0, 1]);
    await pollEntity(h.deps, persons, { force: true });
    const entries = await h.deps.audit.history(TENANT, 'person', 'P7');
    assert.deepEqual(
      entries.map((e) => e.action),
      ['skipped'],
    );
    assert.match(entries[0]?.reason ?? '', /inactive/u);
  });
});

describe('items become products with every price', () => {
  test('two products with one code are an ambiguous match, held for a person', async () => {
    h = await startHarness();
    const a = h.pd.seedProduct({ name: 'Bolt', code: '10-001' });
    const b = h.pd.seedProduct({ name: 'Bolt (copy)', code: '10-001' });
    const outcome = await writeRecord(
      h.deps,
      products,
      h.tenant,
      productMessage(item('10-001', 'Bolt M8', [['EUR', 1]]), h.tenant),
      delivery('m1'),
    );
    assert.equal(outcome.action, 'held');
    assert.deepEqual(
      (await h.deps.holds.held(TENANT, 'ambiguous:product'))[0]?.candidates?.map((c) => c.id),
      [a, b],
    );
    assert.equal(h.pd.products().length, 2);
  });

  test('a price in a currency the Pipedrive company does not have is left out and reported; the product is written', async () => {
    h = await startHarness({ pipedrive: { currencies: ['EUR', 'USD'] } });
    const m = productMessage(
      item('10-002', 'Nut M8', [
        ['EUR', 0.1],
        ['JPY', 15],
      ]),
      h.tenant,
    );
    await h.aws.sqs.send(
      new (await import('@aws-sdk/client-sqs')).SendMessageCommand({ QueueUrl: h.aws.queueUrl, MessageBody: JSON.stringify(m) }),
    );
    // The products writer (the harness's queue is records'; its DLQ is where this lands).
    const res = await handleWriterBatch({ ...h.deps, queue: 'products' }, await h.receiveEvent());
    assert.deepEqual(res.batchItemFailures, []);
    const [entry] = await h.deps.audit.history(TENANT, 'product', '10-002');
    assert.equal(entry?.action, 'created');
    const [report] = await h.deps.audit.history(TENANT, 'product', LEFT_OUT_KEY);
    assert.match(report?.reason ?? '', /refused currency JPY/u);
    assert.match(report?.error ?? '', /prices\.1\.currency must be one of the company's currencies/u);
    assert.equal((await h.dlqMessages()).length, 0);
    assert.deepEqual(
      h.pd.products().map((p) => p.prices.map((q) => q.currency)),
      [['EUR']],
    );
  });

  test('a price changed in one currency only is picked up and the full price set is sent', async () => {
    h = await startHarness({
      items: [itemRow('10-003', 'Washer')],
      prices: [priceRow('10-003', 'EUR', 0.05), priceRow('10-003', 'USD', 0.06)],
    });
    h.clock.ms = Date.parse('2026-11-20T08:00:00Z');
    await pollEntity(h.deps, products, { force: true });
    const [first] = await h.drainMessages('products');
    assert.ok(first);
    const created = await writeRecord(h.deps, products, h.tenant, first, delivery('m1'));
    h.qadTenant.setPrice('STD', '10-003', 'USD', 0.07);
    h.clock.ms += 3_600_000;
    const [summary] = await pollEntity(h.deps, products, { force: true });
    assert.equal(summary?.full, false);
    const messages = await h.drainMessages('products');
    assert.deepEqual(
      messages.map((m) => m.key),
      ['10-003'],
      'the item did not change, its USD price did',
    );
    h.pd.resetStats();
    const updated = await writeRecord(h.deps, products, h.tenant, messages[0]!, delivery('m2'));
    assert.deepEqual([updated.action, updated.pipedriveId], ['updated', created.pipedriveId]);
    const product = h.pd.products().find((p) => p.id === created.pipedriveId);
    assert.deepEqual(product?.prices.map((p) => [p.currency, p.price]).sort(), [
      ['EUR', 0.05],
      ['USD', 0.07],
    ]);
    assert.equal(h.pd.stats().byEndpoint['PATCH /api/v2/products/{id}']?.calls, 1);
  });

  test('an inactive item is kept and marked: not linkable to deals, description says why', async () => {
    h = await startHarness();
    const parsed = parseItemRow(itemRow('10-004', 'Old gear', { 'pt_mstr.pt_status': 'OBSOLETE' }), []);
    assert.ok(parsed.ok);
    const out = await writeRecord(h.deps, products, h.tenant, productMessage(parsed.record, h.tenant), delivery('m1'));
    const product = h.pd.products().find((p) => p.id === out.pipedriveId);
    assert.equal(product?.is_linkable, false);
    assert.match(product?.description ?? '', /Inactive in QAD \(status OBSOLETE\)/u);
  });
});
