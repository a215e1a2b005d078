import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import type { RecordMessage } from '../../shared/ports/index.ts';
import { customerRow, sqsRecord, TENANT } from '../integration/harness.ts';
import { handleWriterBatch } from '../../shared/flows/writer-batch.ts';
import { startMemoryWorld, type MemoryWorld } from './memory-deps.ts';

let w: MemoryWorld | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

const today = () => new Date().toISOString().slice(0, 10);
/** Creates and updates of organizations Pipedrive was asked for, refused ones included. */
const writes = (world: MemoryWorld) => {
  const calls = world.pd.stats().byEndpoint;
  return (calls['POST /api/v2/organizations']?.calls ?? 0) + (calls['PATCH /api/v2/organizations/{id}']?.calls ?? 0);
};
const actions = async (world: MemoryWorld, key: string) =>
  (await world.adapters.audit.history(TENANT, 'organization', key)).map((e) => e.action);

describe('customers to organizations, in memory', () => {
  test('the first sync creates an organization per customer, keyed by its code; a rerun writes nothing', async () => {
    w = await startMemoryWorld({
      customers: [customerRow('C1', 'Alpha GmbH', today()), customerRow('C2', 'Beta AG', today()), customerRow('C3', 'Gamma Oy', today())],
    });
    const first = await w.poll('customers');
    assert.deepEqual([first.outcome, first.full, first.read, first.enqueued], ['polled', true, 3, 3]);

    const delivery = await w.deliver('records');
    assert.deepEqual([delivery.keys, delivery.retried], [['C1', 'C2', 'C3'], []]);
    const keyField = w.pd.customFields('organization').find((f) => f.field_name === 'QAD Customer Code')?.field_code;
    assert.ok(keyField, 'the key field was created');
    const orgs = w.pd.organizations();
    assert.deepEqual(orgs.map((o) => [o.custom_fields[keyField], o.name]).sort(), [
      ['C1', 'Alpha GmbH'],
      ['C2', 'Beta AG'],
      ['C3', 'Gamma Oy'],
    ]);
    assert.deepEqual(
      (await w.adapters.keyMap.listMapped(TENANT, 'organization')).map((e) => [e.qadKey, e.pipedriveId]),
      ['C1', 'C2', 'C3'].map((key) => [key, orgs.find((o) => o.custom_fields[keyField] === key)?.id]),
    );
    assert.deepEqual(await actions(w, 'C1'), ['created']);
    assert.equal(w.telemetry.count('outcome', 'created'), 3);
    const written = writes(w);
    assert.equal(written, 3);

    w.clock.ms += 15 * 60_000;
    const rerun = await w.poll('customers');
    assert.deepEqual([rerun.outcome, rerun.full, rerun.read, rerun.unchanged, rerun.enqueued], ['polled', false, 3, 3, 0]);
    assert.equal(w.waiting('records'), 0, 'nothing sent');
    assert.equal(writes(w), written);
    assert.equal(w.pd.organizations().length, 3);
  });

  test('one message delivered to two writers at once, and again later, makes one organization', async () => {
    w = await startMemoryWorld({ customers: [customerRow('C1', 'Alpha GmbH', today())] });
    await w.poll('customers');
    const [sent] = w.adapters.queue('records').sent;
    assert.ok(sent);

    const twice = await w.deliver('records', { duplicate: true });
    assert.deepEqual(
      twice.responses.map((r) => r.batchItemFailures.length),
      [0, 1],
      'one writer writes it; the other finds it claimed by its twin and leaves it to that one, sending no second copy',
    );
    assert.deepEqual([twice.retried, w.waiting('records')], [[], 0], 'the twin that wrote it deleted the message');
    const entries = await w.adapters.audit.history(TENANT, 'organization', 'C1');
    assert.deepEqual(
      entries.map((e) => e.action),
      ['created', 'deferred'],
      'the second writer was turned away while the first was still writing',
    );
    assert.match(entries[1]?.error ?? '', /being written by another delivery of this same message/u);
    assert.equal(writes(w), 1);

    // The same message sent again (a poll that re-sent it, a lost delete): nothing to write.
    await w.adapters.queue('records').sendAll([JSON.parse(sent.body) as RecordMessage]);
    w.clock.ms += 60_000;
    const again = await w.deliver('records');
    assert.deepEqual([again.keys, again.retried], [['C1'], []]);
    assert.equal((await actions(w, 'C1'))[0], 'unchanged');
    assert.equal(writes(w), 1);
    assert.equal(w.pd.organizations().length, 1);
  });

  test('a create whose answer was lost is looked for in a read of Pipedrive begun after it settled, never in an older one', async () => {
    w = await startMemoryWorld({
      customers: [customerRow('C1', 'Alpha GmbH', today()), customerRow('C2', 'Beta AG', today())],
      claimLeaseMs: 5_000,
    });
    await w.poll('customers');
    const sent = new Map(
      w.adapters
        .queue('records')
        .takeSent()
        .map((m) => [(JSON.parse(m.body) as RecordMessage).key, m]),
    );
    const deliver = (key: string) => {
      const m = sent.get(key)!;
      return handleWriterBatch(deps, {
        Records: [sqsRecord({ messageId: m.messageId, receiptHandle: m.messageId, body: m.body, receiveCount: 1 })],
      });
    };
    const deps = w.handlerDeps('records');
    // C1's create went out and its answer was lost: the key map says a create is pending since now.
    const { keyMap } = w.adapters;
    await keyMap.claim(TENANT, 'organization', 'C1', 'lost#1', 5_000, w.clock.now());
    await keyMap.markPendingCreate(TENANT, 'organization', 'C1', 'lost#1', new Date(w.clock.now()).toISOString());
    await keyMap.release(TENANT, 'organization', 'C1', 'lost#1');
    // C2 misses the listing: Pipedrive's changes are read now, before C1's create has landed.
    await deliver('C2');
    const keyField = w.pd.customFields('organization').find((f) => f.field_name === 'QAD Customer Code')!.field_code;
    const landed = w.pd.seedOrganization({ name: 'Alpha GmbH', custom_fields: { [keyField]: 'C1' } });
    w.clock.ms += 6_000;
    await deliver('C1');
    assert.equal((await w.adapters.keyMap.getMany(TENANT, 'organization', ['C1'])).get('C1')?.pipedriveId, landed, 'recovered');
    assert.equal(w.pd.organizations().length, 2, 'not created twice');
  });

  test('a message delivered twice whose write fails comes back once, not once per delivery', async () => {
    w = await startMemoryWorld({ customers: [customerRow('C1', 'Alpha GmbH', today()), customerRow('C2', 'Beta AG', today())] });
    await w.poll('customers');
    w.pd.setFault((req) =>
      req.method === 'POST' && req.path === '/api/v2/organizations' ? { status: 503, body: '<html>down</html>' } : undefined,
    );
    const twice = await w.deliver('records', { duplicate: true });
    w.pd.setFault(undefined);
    assert.deepEqual(twice.retried.sort(), ['C1', 'C2']);
    // Two copies would each do the record's work again, and double again on every duplicate delivery that fails.
    assert.equal(w.waiting('records'), 2, 'one retry per record');
    w.clock.ms += 15 * 60_000;
    await w.deliver('records');
    assert.equal(w.pd.organizations().length, 2);
  });

  test("a new record's claim marks its create pending: no write of its own, and none left behind when nothing was sent", async () => {
    w = await startMemoryWorld({ customers: [customerRow('C1', 'Alpha GmbH', today()), customerRow('C2', 'Beta AG', today())] });
    await w.poll('customers');
    const deps = w.handlerDeps('records');
    const { keyMap } = deps;
    let marks = 0;
    const counted = Object.assign(Object.create(keyMap) as typeof keyMap, {
      markPendingCreate: (...args: Parameters<typeof keyMap.markPendingCreate>) => {
        marks++;
        return keyMap.markPendingCreate(...args);
      },
    });
    const sent = w.adapters.queue('records').takeSent();
    const batch = {
      Records: sent.map((m) => sqsRecord({ messageId: m.messageId, receiptHandle: m.messageId, body: m.body, receiveCount: 1 })),
    };
    // Pipedrive's changes cannot be read: the records fail before their creates are sent.
    w.pd.setFault((req) => (req.method === 'GET' && req.path === '/api/v2/organizations' ? { status: 503, body: 'down' } : undefined));
    const failed = await handleWriterBatch({ ...deps, keyMap: counted }, batch);
    assert.deepEqual(failed.batchItemFailures, []);
    assert.equal(writes(w), 0);
    const entries = await keyMap.getMany(TENANT, 'organization', ['C1', 'C2']);
    assert.deepEqual(
      [...entries.values()].map((e) => e.pendingCreateAt),
      [undefined, undefined],
      'no create to look for',
    );
    w.pd.setFault(undefined);
    await handleWriterBatch({ ...deps, keyMap: counted }, batch);
    assert.deepEqual(new Set(w.pd.organizations().map((o) => o.name)), new Set(['Alpha GmbH', 'Beta AG']));
    assert.equal(writes(w), 2, 'each created once, with no look for an earlier create');
    assert.equal(marks, 0, 'marked pending by their claims');
  });
});
