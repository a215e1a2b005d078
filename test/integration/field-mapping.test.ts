import './quiet-env.ts';
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import type { FieldMappingInput } from '../../shared/config/field-mapping.ts';
import type { TenantConfigInput } from '../../shared/config/tenant.ts';
import { organizations } from '../../shared/flows/entities/organizations.ts';
import { persons } from '../../shared/flows/entities/persons.ts';
import { products } from '../../shared/flows/entities/products.ts';
import type { SyncEntity } from '../../shared/flows/entities/entity.ts';
import { FieldDriftError } from '../../shared/domain/errors.ts';
import { createFieldCache } from '../../shared/flows/field-resolver.ts';
import { pollWonDeals } from '../../shared/flows/poll-deals.ts';
import { pollEntity } from '../../shared/flows/poll.ts';
import { writeRecord } from '../../shared/flows/write-record.ts';
import { handleWriterBatch } from '../../shared/flows/writer-batch.ts';
import { writeSalesOrder } from '../../shared/flows/write-sales-order.ts';
import { checkTenant } from '../../shared/operations/check.ts';
import { syncEntity } from '../../shared/operations/sync.ts';
import type { RecordMessage } from '../../shared/ports/index.ts';
import { RetryLaterError } from '../../shared/domain/errors.ts';
import { contactRow, customerRow, itemRow, startHarness, TENANT, type Harness } from './harness.ts';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const delivery = (id: string, attempt = 1) => ({ messageId: id, attempt });
const withFields = (fields: FieldMappingInput = {}, extra: Partial<TenantConfigInput['mapping']> = {}): Partial<TenantConfigInput> => ({
  mapping: { fields, ...extra },
});
const today = new Date().toISOString().slice(0, 10);
const codeOf = (harness: Harness, entity: 'organization' | 'person' | 'product' | 'deal', name: string) =>
  harness.pd.customFields(entity).find((f) => f.field_name === name)?.field_code;
const fieldsCalls = (harness: Harness, entity: string) => harness.pd.stats().byEndpoint[`GET /api/v2/${entity}Fields`]?.calls ?? 0;

async function pollAndWrite<R, C>(harness: Harness, entity: SyncEntity<R, C>): Promise<RecordMessage[]> {
  const [summary] = await pollEntity(harness.deps, entity, { force: true });
  assert.notEqual(summary?.outcome, 'failed', summary?.error);
  const messages = await harness.drainMessages(entity.entity === 'product' ? 'products' : 'records');
  for (const m of messages) await writeRecord(harness.deps, entity, harness.tenant, m, delivery(`${m.entity}-${m.key}-${Math.random()}`));
  return messages;
}

describe('field mapping by name', () => {
  const defaultMapping =
    "the default mapping: values arrive under the company's hashes for all four entities, typed per field (dropdowns as option ids)";
  test(defaultMapping, async () => {
    h = await startHarness({
      customers: [customerRow('C1', 'Acme GmbH', today, { 'cm_mstr.cm_cr_terms': 'N30', 'cm_mstr.cm_region': 'DACH' })],
      contacts: [contactRow('P1', 'C1', 'Anna Berg', { 'ct_mstr.ct_title': 'Head of Purchasing' })],
      items: [itemRow('10-001', 'Bolt', { 'pt_mstr.pt_prod_line': '2000', 'pt_mstr.pt_status': 'ACTIVE', 'pt_mstr.pt_mod_date': today })],
      config: withFields(),
    });
    // What the company made by hand: credit terms and product line as dropdowns; the rest the connector creates.
    const terms = h.pd.addCustomField('organization', { field_name: 'Credit terms', field_type: 'enum', options: ['N30', 'N60'] });
    const line = h.pd.addCustomField('product', { field_name: 'Product line', field_type: 'enum', options: ['1000', '2000'] });
    const site = h.pd.addCustomField('deal', { field_name: 'Site', field_type: 'enum', options: ['10-100', '20-100'] });
    await pollAndWrite(h, organizations);
    await pollAndWrite(h, persons);
    await pollAndWrite(h, products);

    const optionId = (entity: 'organization' | 'product' | 'deal', code: string, label: string) =>
      h!.pd
        .customFields(entity)
        .find((f) => f.field_code === code)
        ?.options?.find((o) => o.label === label)?.id;
    const [org] = h.pd.organizations();
    assert.match(codeOf(h, 'organization', 'Currency') ?? '', /^[0-9a-f]{40}$/u);
    assert.deepEqual(
      {
        terms: org?.custom_fields[terms],
        currency: org?.custom_fields[codeOf(h, 'organization', 'Currency')!],
        region: org?.custom_fields[codeOf(h, 'organization', 'Sales region')!],
        key: org?.custom_fields[h.keyFieldCode()!],
      },
      { terms: optionId('organization', terms, 'N30'), currency: 'EUR', region: 'DACH', key: 'C1' },
    );
    const [person] = h.pd.persons();
    assert.equal(person?.custom_fields[codeOf(h, 'person', 'Job function')!], 'Head of Purchasing');
    const [product] = h.pd.products();
    assert.equal(product?.custom_fields[line], optionId('product', line, '2000'));
    assert.equal(product?.custom_fields[codeOf(h, 'product', 'Item status')!], 'ACTIVE');

    // Deal -> order: requested ship date, the customer's PO text and the site arrive in QAD.
    const shipBy = h.pd.addCustomField('deal', { field_name: 'Requested ship date', field_type: 'date' });
    const po = h.pd.addCustomField('deal', { field_name: 'Customer PO', field_type: 'varchar' });
    h.pd.seedDeal({
      title: 'Won',
      currency: 'EUR',
      status: 'won',
      org_id: org!.id,
      lines: [{ product_id: product!.id, item_price: 4, quantity: 2 }],
      custom_fields: { [shipBy]: '2026-12-15', [po]: 'PO-ACME-4711', [site]: optionId('deal', site, '20-100') },
    });
    const [summary] = await pollWonDeals(h.deps, { force: true });
    assert.equal(summary?.enqueued, 1);
    const [m] = await h.drainMessages('orders');
    assert.equal((await writeSalesOrder(h.deps, h.tenant, m!, delivery('d1'))).action, 'created');
    const [order] = h.qadTenant.salesOrders();
    assert.deepEqual(
      { due: order?.so_due_date, remarks: order?.so_rmks, site: order?.so_site, po: order?.so_po },
      { due: '2026-12-15', remarks: 'PO-ACME-4711', site: '20-100', po: `PD-${TENANT}-${h.pd.deals()[0]?.id}` },
    );
  });

  test('the fields list is read once and cached; a miss (an option added since) reads it once more', async () => {
    h = await startHarness({
      customers: [
        customerRow('C1', 'Acme GmbH', today, { 'cm_mstr.cm_cr_terms': 'N30' }),
        customerRow('C2', 'Beta AG', today, { 'cm_mstr.cm_cr_terms': 'N30' }),
      ],
      config: withFields({ organization: [{ qad: 'creditTerms', pipedrive: 'Credit terms' }] }),
    });
    h.pd.addCustomField('organization', { field_name: 'QAD Customer Code', field_type: 'varchar' });
    const terms = h.pd.addCustomField('organization', { field_name: 'Credit terms', field_type: 'enum', options: ['N30'] });
    await pollAndWrite(h, organizations);
    assert.equal(fieldsCalls(h, 'organization'), 1, 'one list for the gate, the key field and both records');

    const n90 = h.pd.addFieldOption('organization', 'Credit terms', 'N90');
    h.qadTenant.upsertCustomer({ 'cm_mstr.cm_addr': 'C2', 'cm_mstr.cm_cr_terms': 'N90' });
    h.pd.resetStats();
    h.clock.ms += 120_000; // a later poll: its gate reads the definitions again, and the writers use them
    await pollAndWrite(h, organizations);
    assert.equal(fieldsCalls(h, 'organization'), 1);
    assert.equal(h.pd.organizations().find((o) => o.name === 'Beta AG')?.custom_fields[terms], n90);

    // A writer with a warm cache that misses reads once more (not once per record).
    const n120 = h.pd.addFieldOption('organization', 'Credit terms', 'N120');
    h.qadTenant.upsertCustomer({ 'cm_mstr.cm_addr': 'C1', 'cm_mstr.cm_cr_terms': 'N120' });
    const [s] = await pollEntity(h.deps, organizations, { force: true });
    assert.equal(s?.enqueued, 1);
    h.pd.resetStats();
    for (const m of await h.drainMessages()) await writeRecord(h.deps, organizations, h.tenant, m, delivery('again'));
    assert.equal(fieldsCalls(h, 'organization'), 1, 'one refresh on the miss');
    assert.equal(h.pd.organizations().find((o) => o.name === 'Acme GmbH')?.custom_fields[terms], n120);

    // A label the dropdown does not have, even after a fresh read: that record is held, its old value stays.
    h.qadTenant.upsertCustomer({ 'cm_mstr.cm_addr': 'C1', 'cm_mstr.cm_cr_terms': 'EOM' });
    await pollEntity(h.deps, organizations, { force: true });
    const [eom] = await h.drainMessages();
    await assert.rejects(
      writeRecord(h.deps, organizations, h.tenant, eom!, delivery('eom')),
      (e: unknown) => e instanceof FieldDriftError && /"Credit terms" has no option "EOM" \[option-missing\]/u.test(e.message),
    );
    assert.equal(h.pd.organizations().find((o) => o.name === 'Acme GmbH')?.custom_fields[terms], n120);
  });

  test('10 concurrent writers on an empty company create the key field and each mapped field exactly once', async () => {
    const customers = Array.from({ length: 10 }, (_, i) => customerRow(`C${i}`, `Company ${i}`, today));
    h = await startHarness({ customers, config: withFields() });
    await pollEntity(h.deps, organizations, { force: true });
    const messages = await h.drainMessages();
    assert.equal(messages.length, 10);
    const outcomes = await Promise.all(messages.map((m) => writeRecord(h!.deps, organizations, h!.tenant, m, delivery(m.key))));
    assert.deepEqual(
      outcomes.map((o) => o.action),
      Array(10).fill('created'),
    );
    const names = h.pd
      .customFields('organization')
      .map((f) => f.field_name)
      .sort();
    assert.deepEqual(names, ['Credit terms', 'Currency', 'QAD Customer Code', 'Sales region']);
    const created = (await h.deps.audit.byTenant(TENANT, '2000-01-01T00:00:00Z', '2100-01-01T00:00:00Z')).filter(
      (e) => e.action === 'field-created',
    );
    assert.equal(created.length, 4);
    assert.equal(h.pd.organizations().filter((o) => o.custom_fields[codeOf(h!, 'organization', 'Currency')!] === 'EUR').length, 10);
  });

  const driftMidRun =
    'drift: a mapped field renamed mid-run holds that entity (nothing written without it) ' +
    'while the others carry on; fixing it releases them';
  test(driftMidRun, async () => {
    h = await startHarness({
      customers: [customerRow('C1', 'Acme GmbH', today)],
      items: [itemRow('10-001', 'Bolt', { 'pt_mstr.pt_mod_date': today }), itemRow('10-002', 'Nut', { 'pt_mstr.pt_mod_date': today })],
      config: withFields(),
    });
    await pollAndWrite(h, organizations);
    await pollAndWrite(h, products);
    const line = codeOf(h, 'product', 'Product line')!;
    assert.equal(
      h.pd.products().every((p) => p.custom_fields[line] === '1000'),
      true,
    );

    // A person renames the field in Pipedrive; QAD changes both items and the customer.
    h.pd.renameField('product', 'Product line', 'Product family');
    h.qadTenant.upsertItem({ 'pt_mstr.pt_part': '10-001', 'pt_mstr.pt_prod_line': '3000' });
    h.qadTenant.upsertItem({ 'pt_mstr.pt_part': '10-002', 'pt_mstr.pt_prod_line': '3000' });
    h.qadTenant.upsertCustomer({ 'cm_mstr.cm_addr': 'C1', 'cm_mstr.cm_curr': 'USD' });
    h.clock.ms += 120_000;

    const [held] = await pollEntity(h.deps, products, { force: true });
    assert.deepEqual([held?.held, held?.enqueued], [2, 0]);
    assert.equal((await h.drainMessages('products')).length, 0, 'nothing enqueued for the drifted entity');
    const drift = (await h.deps.audit.history(TENANT, 'product', 'field:Product line')).find((e) => e.action === 'drift');
    assert.match(drift?.error ?? '', /field-missing: no field named "Product line"/u);
    assert.match(drift?.reason ?? '', /2 records held/u);
    // The watermark did not move: the next poll reads them again.
    assert.equal((await pollEntity(h.deps, products, { force: true }))[0]?.held, 2);

    // A message already in flight is held by the writer too, and Pipedrive keeps the old value.
    const item = {
      part: '10-001',
      description: 'Bolt',
      description2: '',
      unit: 'EA',
      productLine: '3000',
      status: 'ACTIVE',
      modDate: today,
      prices: [],
    };
    await assert.rejects(
      writeRecord(
        h.deps,
        products,
        h.tenant,
        { v: 2, tenantId: TENANT, entity: 'product', key: '10-001', hash: products.hash(item, h.tenant.config), record: item, pollId: 'p' },
        delivery('inflight'),
      ),
      FieldDriftError,
    );
    assert.equal(
      h.pd.products().every((p) => p.custom_fields[line] === '1000'),
      true,
      'no write without the field',
    );

    // Organizations carry on.
    await pollAndWrite(h, organizations);
    assert.equal(h.pd.organizations()[0]?.custom_fields[codeOf(h, 'organization', 'Currency')!], 'USD');

    // The field is named back: the held items go through with their value.
    h.pd.renameField('product', 'Product family', 'Product line');
    h.clock.ms += 120_000;
    const written = await pollAndWrite(h, products);
    assert.equal(written.length, 2);
    assert.equal(
      h.pd.products().every((p) => p.custom_fields[line] === '3000'),
      true,
    );
    assert.ok(
      (await h.deps.audit.byTenant(TENANT, '2000-01-01T00:00:00Z', '2100-01-01T00:00:00Z')).some(
        (e) => e.action === 'drift-cleared' && e.entity === 'product',
      ),
    );
    assert.equal(
      h.pd.customFields('product').filter((f) => f.field_name === 'Product line').length,
      1,
      'a field that existed is never re-created',
    );
  });

  const driftInFlight =
    'a message in flight when a field drifts is held in DynamoDB by the writer (acknowledged, never dead-lettered); ' +
    'the first poll after the fix puts it back';
  test(driftInFlight, async () => {
    h = await startHarness({
      customers: [customerRow('C1', 'Acme GmbH', today)],
      config: withFields({ organization: [{ qad: 'currency', pipedrive: 'Currency' }] }),
    });
    const currency = h.pd.addCustomField('organization', { field_name: 'Currency', field_type: 'varchar' });
    await pollAndWrite(h, organizations);
    h.qadTenant.upsertCustomer({ 'cm_mstr.cm_addr': 'C1', 'cm_mstr.cm_curr': 'USD' });
    h.clock.ms += 120_000;
    assert.equal((await pollEntity(h.deps, organizations, { force: true }))[0]?.enqueued, 1);
    // The field is renamed while the message waits; a cold container reads the definitions afresh.
    h.pd.renameField('organization', 'Currency', 'Währung');
    h.deps.fields = createFieldCache();
    assert.deepEqual(
      (await handleWriterBatch(h.deps, await h.receiveEvent())).batchItemFailures,
      [],
      'held, so acknowledged: no receive loop',
    );
    assert.equal((await h.drainMessages()).length, 0);
    assert.equal((await h.dlqMessages()).length, 0);
    assert.equal((await h.deps.holds.held(TENANT, 'drift:organization')).length, 1);
    assert.equal(h.pd.organizations()[0]?.custom_fields[currency], 'EUR', 'nothing written without the field');

    h.clock.ms += 120_000;
    assert.equal((await pollEntity(h.deps, organizations, { force: true }))[0]?.released, 0, 'still drifted: stays held');
    h.pd.renameField('organization', 'Währung', 'Currency');
    h.clock.ms += 120_000;
    h.pd.resetStats();
    assert.equal((await pollEntity(h.deps, organizations, { force: true }))[0]?.released, 1);
    assert.equal((await h.deps.holds.held(TENANT)).length, 0);
    for (let event = await h.receiveEvent(); event.Records.length > 0; event = await h.receiveEvent())
      assert.deepEqual((await handleWriterBatch(h.deps, event)).batchItemFailures, []);
    assert.equal(h.pd.organizations()[0]?.custom_fields[currency], 'USD');
    assert.equal(h.pd.stats().byEndpoint['PATCH /api/v2/organizations/{id}']?.calls, 1, 'released and re-polled copies make one write');
  });

  const driftOnDeals =
    'drift on deals: a deleted deal field holds the order; the deal is not rejected and is ordered once the mapping is fixed';
  test(driftOnDeals, async () => {
    h = await startHarness({
      customers: [customerRow('C1', 'Acme GmbH', today)],
      items: [itemRow('10-001', 'Bolt')],
      config: withFields({ deal: [{ qad: 'remarks', pipedrive: 'Customer PO' }] }),
    });
    const key = h.pd.addCustomField('organization', { field_name: 'QAD Customer Code', field_type: 'varchar' });
    const org = h.pd.seedOrganization({ name: 'Acme GmbH', custom_fields: { [key]: 'C1' } });
    const bolt = h.pd.seedProduct({ name: 'Bolt', code: '10-001' });
    const po = h.pd.addCustomField('deal', { field_name: 'Customer PO', field_type: 'varchar' });
    h.pd.seedDeal({
      title: 'Won',
      currency: 'EUR',
      status: 'won',
      org_id: org,
      lines: [{ product_id: bolt, item_price: 4, quantity: 2 }],
      custom_fields: { [po]: 'PO-1' },
    });
    await pollWonDeals(h.deps, { force: true });
    const [m] = await h.drainMessages('orders');
    h.pd.deleteField('deal', 'Customer PO');
    // A container that reads the definitions now (a cold start) holds the deal: neither ordered nor rejected.
    h.deps.fields = createFieldCache();
    await assert.rejects(writeSalesOrder(h.deps, h.tenant, m!, delivery('d1')), FieldDriftError);
    assert.equal(h.qadTenant.salesOrders().length, 0, 'no order without the mapped value');
    assert.equal(
      (await h.deps.audit.history(TENANT, 'salesOrder', m!.key)).some((e) => e.action === 'rejected'),
      false,
    );
    assert.equal(
      (await h.deps.audit.history(TENANT, 'salesOrder', 'field:Customer PO')).some((e) => e.action === 'drift'),
      true,
    );
    // The next poll holds it too (the watermark stays) ...
    h.clock.ms += 120_000;
    assert.equal((await pollWonDeals(h.deps, { force: true }))[0]?.held, 1);
    // ... until a person makes the field again: then it is ordered once.
    const again = h.pd.addCustomField('deal', { field_name: 'Customer PO', field_type: 'varchar' });
    h.pd.updateDeal(h.pd.deals()[0]!.id, { custom_fields: { [again]: 'PO-2' } });
    h.clock.ms += 120_000;
    assert.equal((await pollWonDeals(h.deps, { force: true }))[0]?.enqueued, 1);
    const [fixed] = await h.drainMessages('orders');
    assert.equal((await writeSalesOrder(h.deps, h.tenant, fixed!, delivery('d2'))).action, 'created');
    assert.equal(h.qadTenant.salesOrders()[0]?.so_rmks, 'PO-2');
  });

  const staleDefinitions =
    'a 400 naming a custom field while the definitions were cached reads them again: ' +
    'a deleted field then holds the record, never a dead letter';
  test(staleDefinitions, async () => {
    h = await startHarness({
      customers: [customerRow('C1', 'Acme GmbH', today)],
      config: withFields({ organization: [{ qad: 'currency', pipedrive: 'Currency' }] }),
    });
    h.pd.addCustomField('organization', { field_name: 'Currency', field_type: 'varchar' });
    await pollAndWrite(h, organizations);
    h.qadTenant.upsertCustomer({ 'cm_mstr.cm_addr': 'C1', 'cm_mstr.cm_curr': 'USD' });
    await pollEntity(h.deps, organizations, { force: true });
    const [m] = await h.drainMessages();
    h.pd.deleteField('organization', 'Currency');
    h.pd.resetStats();
    await assert.rejects(
      writeRecord(h.deps, organizations, h.tenant, m!, delivery('x')),
      (e: unknown) => e instanceof RetryLaterError && !(e instanceof FieldDriftError) && /field definitions may be stale/u.test(e.message),
    );
    assert.equal(fieldsCalls(h, 'organization'), 0, 'the refused PATCH used the cache');
    await assert.rejects(writeRecord(h.deps, organizations, h.tenant, m!, delivery('x', 2)), FieldDriftError);
    assert.equal(fieldsCalls(h, 'organization'), 1, 'read again once');
    assert.equal((await h.dlqMessages()).length, 0);
  });

  test('connector check lists each mapped field with its code; a dry run shows mapped values and writes nothing', async () => {
    h = await startHarness({
      customers: [customerRow('C1', 'Acme GmbH', today, { 'cm_mstr.cm_cr_terms': 'N60' })],
      config: withFields({
        organization: [
          { qad: 'creditTerms', pipedrive: 'Credit terms' },
          { qad: 'currency', pipedrive: 'Currency', create: { type: 'varchar' } },
          { qad: 'site', pipedrive: 'Plant' },
        ],
      }),
    });
    const terms = h.pd.addCustomField('organization', { field_name: 'Credit terms', field_type: 'enum', options: ['N30', 'N60'] });
    const rows = await checkTenant(h.deps.clients, h.tenant);
    const org = rows.find((r) => r.check === 'Pipedrive mapped organization fields');
    assert.equal(org?.ok, false, 'a mapped field that is missing and may not be created fails the check');
    assert.match(
      org?.detail ?? '',
      new RegExp(
        `"Credit terms" -> ${terms} \\(enum\\); "Currency" missing, created as varchar on first use; ` +
          `"Plant" PROBLEM: no field named "Plant"`,
        'u',
      ),
    );

    h.pd.addCustomField('organization', { field_name: 'Plant', field_type: 'varchar' });
    h.pd.resetStats();
    const plan = await syncEntity(h.deps, h.tenant, organizations, { dryRun: true });
    const n60 = h.pd
      .customFields('organization')
      .find((f) => f.field_code === terms)
      ?.options?.find((o) => o.label === 'N60')?.id;
    const changes = plan.rows[0]?.changes.map((c) => `${c.field}=${JSON.stringify(c.to)}`) ?? [];
    assert.ok(changes.includes(`custom_fields.${terms}=${n60}`), changes.join(' '));
    assert.ok(changes.includes('custom_fields.(new field "Currency")="EUR"'), changes.join(' '));
    assert.deepEqual(
      Object.keys(h.pd.stats().byEndpoint).filter((k) => !k.startsWith('GET')),
      [],
      'a dry run writes nothing',
    );
  });

  test('keys both ways (tenant option): the organization id is written into the QAD customer once, audited', async () => {
    h = await startHarness({
      customers: [customerRow('C1', 'Acme GmbH', today)],
      config: withFields({ organization: [], writeBack: { enabled: true } }),
    });
    await pollAndWrite(h, organizations);
    const orgId = h.pd.organizations()[0]?.id;
    assert.equal(h.qadTenant.customers()[0]?.['cm_mstr.cm_user1'], String(orgId));
    // The write-back changed the mod date: the next poll reads the customer, finds its content unchanged, and writes nothing.
    h.clock.ms += 1000;
    const [s] = await pollEntity(h.deps, organizations, { force: true });
    assert.deepEqual([s?.enqueued, s?.unchanged], [0, 1]);
    // A real change travels, and finds the id already in QAD: no second update.
    h.qadTenant.upsertCustomer({ 'cm_mstr.cm_addr': 'C1', 'ad_mstr.ad_name': 'Acme Group GmbH' });
    await pollAndWrite(h, organizations);
    const writtenBack = (await h.deps.audit.history(TENANT, 'organization', 'C1')).filter((e) => e.action === 'written-back');
    assert.equal(writtenBack.length, 1);
    assert.match(writtenBack[0]?.reason ?? '', new RegExp(`organization id ${orgId} written to QAD customer C1 field cm_user1`, 'u'));
  });
});
