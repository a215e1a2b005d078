import './quiet-env.ts';
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { PutItemCommand, ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { parseCustomerRow } from '../../shared/domain/customer.ts';
import { organizationContentHash } from '../../shared/domain/organization.ts';
import { RetryLaterError } from '../../shared/domain/errors.ts';
import { organizations } from '../../shared/flows/entities/organizations.ts';
import { pollEntity } from '../../shared/flows/poll.ts';
import { handleWriterBatch } from '../../shared/flows/writer-batch.ts';
import { customerRow, enqueueBodies, runWriters, startHarness, TENANT, type Harness } from './harness.ts';

// A rolling upgrade from 0.1.0: its messages are still in the queue and in holds, its items in the tables, when
// the new handlers start. Version 1 of every stored shape is version 2 without `v`, and a version 1 message is
// version 2 without `queuedAt`, so the state 0.1.0 left behind is made here by running the flows and then
// taking off what 0.2.0 added.

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

type Item = Record<string, AttributeValue>;

async function scan(harness: Harness, table: string): Promise<Item[]> {
  const out: Item[] = [];
  let start: Item | undefined;
  do {
    const res = await harness.aws.dynamo.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start, ConsistentRead: true }));
    out.push(...(res.Items ?? []));
    start = res.LastEvaluatedKey;
  } while (start);
  return out;
}

/** The versioned shapes: tenant and audit items, key-map and owner items, holds (not watermarks, leases, the listing). */
const versioned = (item: Item): boolean =>
  item.pk === undefined || item.tenantId !== undefined || /^(key|pd|held)#|^(parked|budget)$/u.test(item.sk?.S ?? '');

const tables = (harness: Harness) => [harness.aws.env.CONNECTIONS_TABLE, harness.aws.env.SYNC_STATE_TABLE, harness.aws.env.AUDIT_TABLE];

/** Every item 0.2.0 wrote as 0.1.0 would have: the same attributes without `v`. */
async function downgradeItems(harness: Harness): Promise<number> {
  let downgraded = 0;
  for (const table of tables(harness))
    for (const { v, ...item } of await scan(harness, table)) {
      if (v === undefined) continue;
      await harness.aws.dynamo.send(new PutItemCommand({ TableName: table, Item: item }));
      downgraded++;
    }
  return downgraded;
}

/** A customers poll's message as 0.1.0 queued it. */
function v1Body(code: string, name: string): string {
  const parsed = parseCustomerRow(customerRow(code, name, '2026-11-20'));
  if (!parsed.ok) throw new Error(parsed.reason);
  const hash = organizationContentHash(parsed.record);
  return JSON.stringify({ v: 1, tenantId: TENANT, entity: 'organization', key: code, hash, record: parsed.record, pollId: 'poll-0.1.0' });
}

const today = () => new Date().toISOString().slice(0, 10);
const pollCustomers = (harness: Harness) => pollEntity(harness.deps, organizations, { force: true });

describe('upgrading from 0.1.0 with messages in flight and items stored', () => {
  test('old messages, held messages and items are all written once: nothing lost, nothing duplicated', async () => {
    const names: Record<string, string> = { C1: 'Acme GmbH', C2: 'Borg AB', C3: 'Cygnus SA', C4: 'Delta Oy', C5: 'Epsilon BV' };
    h = await startHarness({ customers: [customerRow('C1', names.C1!, today()), customerRow('C2', names.C2!, today())] });
    const harness = h;
    // Before the upgrade: C1 and C2 synced, a budget gate that has run out, and a C5 message held for a drift.
    await pollCustomers(harness);
    await runWriters(harness);
    await harness.deps.holds.closeBudgetGate(TENANT, harness.clock.now() - 60_000, 'spent yesterday');
    await harness.deps.holds.hold(TENANT, 'm-held-0.1.0', v1Body('C5', names.C5!), 'drift:organization');
    const stored = (await Promise.all(tables(harness).map((t) => scan(harness, t)))).flat().filter(versioned);
    assert.ok(stored.length >= 9, `tenant, key map, owners, holds and audit items: ${stored.length}`);
    assert.deepEqual(
      stored.filter((item) => item.v?.N !== '2'),
      [],
      'every item of a versioned shape that 0.2.0 writes carries its version',
    );
    assert.equal(await downgradeItems(harness), stored.length);

    // In flight when the new handlers start: C3 (new, delivered twice), C2 unchanged, C4 renamed in QAD.
    for (const code of ['C3', 'C4', 'C5']) harness.qadTenant.upsertCustomer({ 'cm_mstr.cm_addr': code, 'ad_mstr.ad_name': names[code]! });
    harness.qadTenant.upsertCustomer({ 'cm_mstr.cm_addr': 'C1', 'ad_mstr.ad_name': (names.C1 = 'Acme Holding GmbH') });
    await enqueueBodies(harness, [
      v1Body('C3', names.C3!),
      v1Body('C2', names.C2!),
      v1Body('C3', names.C3!),
      v1Body('C1', names.C1),
      v1Body('C4', names.C4!),
    ]);

    // The new release: writers take the old messages; the next poll releases the held one and sends what changed.
    await runWriters(harness);
    const [summary] = await pollCustomers(harness);
    assert.equal(summary?.released, 1, 'the message held by 0.1.0 went back on its queue');
    await runWriters(harness);

    assert.deepEqual(await harness.dlqMessages(), [], 'nothing dead-lettered');
    assert.deepEqual(await harness.deps.holds.held(TENANT), [], 'nothing left held');
    const orgs = harness.pd.organizations();
    assert.deepEqual(orgs.map((o) => o.name).sort(), Object.values(names).sort(), 'one organization per customer, with its latest name');
    const entries = await harness.deps.keyMap.getMany(TENANT, 'organization', Object.keys(names));
    assert.deepEqual(
      [...entries.values()].map((e) => [e.qadKey, orgs.find((o) => o.id === e.pipedriveId)?.name]).sort(),
      Object.entries(names).sort(),
      'the key map points every customer at its organization',
    );
    // The old audit entries are still read, in order, beside the new ones.
    const c1 = await harness.deps.audit.history(TENANT, 'organization', 'C1');
    assert.deepEqual(
      c1.map((e) => e.action),
      ['updated', 'created'],
    );
    assert.equal((await harness.deps.audit.history(TENANT, 'organization', 'C3')).filter((e) => e.action === 'created').length, 1);
    assert.equal((await harness.deps.tenants.get(TENANT))?.config.tenantId, TENANT, 'the 0.1.0 tenant item is read');
    // What the new release touched, it wrote in the current shape.
    const keyItems = (await scan(harness, harness.aws.env.SYNC_STATE_TABLE)).filter((i) => i.sk?.S?.startsWith('key#'));
    assert.deepEqual(keyItems.map((i) => i.v?.N).sort(), ['2', '2', '2', '2', '2']);
    const [tenantItem] = await scan(harness, harness.aws.env.CONNECTIONS_TABLE);
    assert.equal(tenantItem?.v, undefined, 'a tenant item is rewritten only by tenant add, enable or disable');
  });

  test('an item or a message of a newer release is refused, never half-read or overwritten', async () => {
    h = await startHarness({ customers: [customerRow('C1', 'Acme GmbH', today())] });
    const harness = h;
    await pollCustomers(harness);
    await runWriters(harness);
    const key = { pk: { S: `T#${TENANT}#organization` }, sk: { S: 'key#C1' } };
    const [item] = (await scan(harness, harness.aws.env.SYNC_STATE_TABLE)).filter((i) => i.sk?.S === 'key#C1');
    await harness.aws.dynamo.send(
      new PutItemCommand({ TableName: harness.aws.env.SYNC_STATE_TABLE, Item: { ...item, ...key, v: { N: '3' } } }),
    );
    await assert.rejects(harness.deps.keyMap.getMany(TENANT, 'organization', ['C1']), RetryLaterError);
    await assert.rejects(harness.deps.keyMap.claim(TENANT, 'organization', 'C1', 'w', 60_000, harness.clock.now()), /version 3/u);
    const [after] = (await scan(harness, harness.aws.env.SYNC_STATE_TABLE)).filter((i) => i.sk?.S === 'key#C1');
    assert.equal(after?.v?.N, '3', 'the claim did not stamp it as its own version');
    assert.equal(after?.leaseOwner, undefined);

    await enqueueBodies(harness, [JSON.stringify({ ...JSON.parse(v1Body('C2', 'Borg AB')), v: 3 })]);
    const res = await handleWriterBatch(harness.deps, await harness.receiveEvent());
    assert.deepEqual(res.batchItemFailures, []);
    const [dead] = await harness.dlqMessages();
    assert.match(dead?.MessageAttributes?.reason?.StringValue ?? '', /version 3 was written by a newer release/u);
  });
});
