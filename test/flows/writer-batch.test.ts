import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { DISABLED_CAUSE } from '../../shared/domain/errors.ts';
import { setTenantEnabled } from '../../shared/operations/tenants.ts';
import type { EntityName } from '../../shared/ports/index.ts';
import { handleWriterBatch, WRITER_TIME_RESERVE_MS } from '../../shared/flows/writer-batch.ts';
import { contactRow, customerRow, sqsRecord, TENANT } from '../integration/harness.ts';
import { startMemoryWorld, type MemoryWorld } from './memory-deps.ts';

let w: MemoryWorld | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

const today = () => new Date().toISOString().slice(0, 10);
const history = (world: MemoryWorld, entity: EntityName, key: string) => world.adapters.audit.history(TENANT, entity, key);
/** What the polls sent to the records queue, as one SQS batch a writer is handed directly. */
const sentAsBatch = (world: MemoryWorld) =>
  world.adapters
    .queue('records')
    .takeSent()
    .map((m) => sqsRecord({ messageId: m.messageId, receiptHandle: m.messageId, body: m.body, receiveCount: 1 }));

describe('the writer batch, in memory', () => {
  test('a contact whose organization is not in Pipedrive yet waits, then lands in it', async () => {
    w = await startMemoryWorld({
      customers: [customerRow('C1', 'Acme GmbH', today())],
      contacts: [contactRow('P1', 'C1', 'Anna Berg')],
    });
    assert.equal((await w.poll('contacts')).enqueued, 1);
    const early = await w.deliver('records');
    assert.deepEqual([early.keys, early.retried], [['P1'], ['P1']]);
    assert.equal(w.pd.persons().length, 0, 'never created without its organization');
    const [wait] = await history(w, 'person', 'P1');
    assert.equal(wait?.action, 'deferred');
    assert.match(wait?.error ?? '', /organization for customer C1 is not in Pipedrive yet/u);
    assert.deepEqual(
      w.adapters.queue('records').requeued.map((m) => [m.delaySeconds, m.failedAttempts, m.dependencyWaits]),
      [[60, 0, 1]],
      'six backoff steps at once, sent again as a new message: a wait is no failed attempt',
    );

    await w.poll('customers');
    const orgs = await w.deliver('records');
    assert.deepEqual(orgs.keys, ['C1'], 'the contact is not visible again yet');
    assert.equal(w.waiting('records'), 1);

    w.clock.ms += 60_000;
    const later = await w.deliver('records');
    assert.deepEqual([later.keys, later.retried], [['P1'], []]);
    const [org] = w.pd.organizations();
    const [person] = w.pd.persons();
    assert.deepEqual([person?.name, person?.org_id], ['Anna Berg', org?.id]);
    assert.deepEqual(
      (await history(w, 'person', 'P1')).map((e) => [e.action, e.attempt]),
      [
        ['created', 1],
        ['deferred', 1],
      ],
      'the wait spent none of the retry budget',
    );
  });

  test("a 429 defers the rest of the tenant's batch without a call; all of it lands once the window has passed", async () => {
    w = await startMemoryWorld({
      customers: [customerRow('C1', 'Alpha GmbH', today()), customerRow('C2', 'Beta AG', today()), customerRow('C3', 'Gamma Oy', today())],
    });
    await w.poll('customers');
    const creates = () => w?.pd.stats().byEndpoint['POST /api/v2/organizations']?.calls ?? 0;
    w.pd.setFault((req) =>
      req.method === 'POST' && req.path === '/api/v2/organizations'
        ? { status: 429, headers: { 'x-ratelimit-reset': '7' }, body: '{"success":false,"error":"Request over limit"}' }
        : undefined,
    );

    const limited = await w.deliver('records');
    assert.deepEqual(
      [limited.keys, limited.retried],
      [
        ['C1', 'C2', 'C3'],
        ['C1', 'C2', 'C3'],
      ],
    );
    assert.equal(creates(), 1, 'only the first record called Pipedrive');
    const [first] = await history(w, 'organization', 'C1');
    assert.deepEqual([first?.action, first?.error?.includes('HTTP 429')], ['deferred', true]);
    for (const key of ['C2', 'C3']) {
      const [entry] = await history(w, 'organization', key);
      assert.equal(entry?.action, 'deferred');
      assert.match(entry?.reason ?? '', /^tenant rate-limited earlier in this batch/u);
    }
    const waits = w.adapters.queue('records').requeued.map((m) => m.delaySeconds!);
    assert.equal(waits.length, 3);
    assert.ok(waits[0]! >= 8 && waits[0]! <= 10, `the reset and a little jitter: ${waits[0]}`);
    assert.deepEqual(new Set(waits).size, 1, 'the rest wait as long as the first');
    assert.equal(await w.adapters.holds.current(TENANT, w.clock.now()), undefined, 'a burst 429 closes no gate');
    assert.equal(w.pd.organizations().length, 0);

    w.pd.setFault(undefined);
    w.clock.ms += 10_000;
    const later = await w.deliver('records');
    assert.deepEqual([later.keys, later.retried], [['C1', 'C2', 'C3'], []]);
    assert.equal(w.pd.organizations().length, 3);
    assert.equal(creates(), 4);
  });

  test('disabling a tenant holds its in-flight messages, and enabling it puts them back: nothing dead-lettered', async () => {
    w = await startMemoryWorld({ customers: [customerRow('C1', 'Alpha GmbH', today()), customerRow('C2', 'Beta AG', today())] });
    assert.equal((await w.poll('customers')).enqueued, 2);
    const deps = w.handlerDeps('records');
    await setTenantEnabled(deps, TENANT, false);

    const whileDisabled = await w.deliver('records');
    assert.deepEqual([whileDisabled.keys, whileDisabled.retried], [['C1', 'C2'], []]);
    assert.deepEqual(w.adapters.queue('records').deadLetters, []);
    assert.equal(w.pd.organizations().length, 0);
    assert.equal((await w.adapters.holds.held(TENANT, DISABLED_CAUSE)).length, 2);
    const [held] = await history(w, 'organization', 'C1');
    assert.deepEqual([held?.action, held?.reason], ['deferred', 'tenant disabled: message held until "connector tenant enable"']);

    const enabled = await setTenantEnabled(deps, TENANT, true);
    assert.equal(enabled.released, 2);
    assert.deepEqual(await w.adapters.holds.held(TENANT), []);
    const resumed = await w.deliver('records');
    assert.deepEqual(resumed.keys.sort(), ['C1', 'C2']);
    assert.equal(w.pd.organizations().length, 2);
  });

  test('near the time limit a writer hands the unstarted records back instead of overrunning the invocation', async () => {
    w = await startMemoryWorld({
      customers: [customerRow('C1', 'Alpha GmbH', today()), customerRow('C2', 'Beta AG', today()), customerRow('C3', 'Gamma Oy', today())],
    });
    await w.poll('customers');
    const queue = w.adapters.queue('records');
    const records = sentAsBatch(w);
    // 25 s left for the first record, then less than the reserve.
    let left = WRITER_TIME_RESERVE_MS + 5_000;
    const res = await handleWriterBatch(w.handlerDeps('records'), { Records: records }, () => {
      const now = left;
      left = WRITER_TIME_RESERVE_MS - 1;
      return now;
    });
    assert.deepEqual(res.batchItemFailures, [], 'nothing comes back through a receive: no whole batch redelivered');
    assert.deepEqual(
      w.pd.organizations().map((o) => o.name),
      ['Alpha GmbH'],
    );
    assert.deepEqual(
      queue.requeued.map((m) => [(JSON.parse(m.body) as { key: string }).key, m.delaySeconds, m.failedAttempts]),
      [
        ['C2', 0, 0],
        ['C3', 0, 0],
      ],
    );
    const [handedBack] = await history(w, 'organization', 'C3');
    assert.deepEqual(
      [handedBack?.action, handedBack?.reason],
      ['deferred', 'handed back unstarted: the invocation is near its time limit'],
    );
  });

  test("a batch's decisions reach the audit in one write, each at its own time, before the batch is answered", async () => {
    w = await startMemoryWorld({
      customers: [customerRow('C1', 'Alpha GmbH', today()), customerRow('C2', 'Beta AG', today()), customerRow('C3', 'Gamma Oy', today())],
      contacts: [contactRow('P1', 'C9', 'Anna Berg')],
    });
    await w.poll('customers');
    await w.poll('contacts');
    const records = sentAsBatch(w);
    const deps = w.handlerDeps('records');
    const clock = w.clock;
    const writes: number[] = [];
    const singles: string[] = [];
    const audit = deps.audit;
    const counted = Object.assign(Object.create(audit) as typeof audit, {
      record: async (e: Parameters<typeof audit.record>[0]) => void singles.push(e.key),
      recordAll: async (entries: Parameters<typeof audit.recordAll>[0]) => {
        writes.push(entries.length);
        // Time passes while it is written: each entry keeps the time of its decision.
        clock.ms += 5_000;
        return audit.recordAll(entries);
      },
    });
    clock.ms += 1_000;
    const startedAt = new Date(clock.ms).toISOString();
    await handleWriterBatch({ ...deps, audit: counted }, { Records: records });
    assert.deepEqual([writes, singles], [[4], []], 'three created and one waiting, in one write');
    const entries = await w.adapters.audit.byTenant(TENANT, startedAt, new Date(clock.ms + 1).toISOString());
    assert.deepEqual(entries.map((e) => [e.key, e.action]).sort(), [
      ['C1', 'created'],
      ['C2', 'created'],
      ['C3', 'created'],
      ['P1', 'deferred'],
    ]);
    assert.ok(entries.every((e) => e.at < new Date(clock.ms - 4_000).toISOString()));

    // Not written, the batch fails as a whole: SQS delivers it again and its records decide (and audit) again.
    const failing = Object.assign(Object.create(audit) as typeof audit, {
      recordAll: async () => Promise.reject(new Error('throttled')),
    });
    await assert.rejects(handleWriterBatch({ ...deps, audit: failing }, { Records: records }), /throttled/u);
  });

  test("a batch reads its persons' organizations and their listing matches once, not per record", async () => {
    w = await startMemoryWorld({
      customers: [customerRow('C1', 'Alpha GmbH', today()), customerRow('C2', 'Beta AG', today())],
      contacts: [contactRow('P1', 'C1', 'Jonas Berg'), contactRow('P2', 'C2', 'Anna Lind'), contactRow('P3', 'C9', 'Ida Kron')],
    });
    await w.poll('customers');
    await w.deliver('records');
    const beta = (await w.adapters.keyMap.getMany(TENANT, 'organization', ['C2'])).get('C2')?.pipedriveId;
    const typed = w.pd.seedPerson({ name: 'anna  LIND', org_id: beta });
    await w.poll('contacts');
    const records = sentAsBatch(w);
    const deps = w.handlerDeps('records');
    const asked: string[] = [];
    const { keyMap, listing } = deps;
    const counted = {
      keyMap: Object.assign(Object.create(keyMap) as typeof keyMap, {
        getMany: (t: string, entity: string, keys: readonly string[]) => {
          asked.push(`getMany ${entity} ${[...keys].sort().join(',')}`);
          return keyMap.getMany(t, entity, keys);
        },
        getAcross: (t: string, wants: Parameters<typeof keyMap.getAcross>[1]) => {
          asked.push(`getAcross ${wants.map((x) => `${x.entity} ${[...new Set(x.qadKeys)].sort().join(',')}`).join('; ')}`);
          return keyMap.getAcross(t, wants);
        },
      }),
      listing: Object.assign(Object.create(listing) as typeof listing, {
        lookup: (...args: Parameters<typeof listing.lookup>) => {
          asked.push(`lookup ${args[2]}`);
          return listing.lookup(...args);
        },
        lookupMany: (...args: Parameters<typeof listing.lookupMany>) => {
          asked.push(`lookupMany ${args[2].map((q) => q.qadKey).join(',')}`);
          return listing.lookupMany(...args);
        },
      }),
    };
    const res = await handleWriterBatch({ ...deps, ...counted }, { Records: records });
    assert.deepEqual(res.batchItemFailures, []);
    assert.deepEqual(
      asked.filter((a) => !a.startsWith('getMany person')),
      [
        // The batch's persons and their organizations in one read.
        'getAcross person P1,P2,P3; organization C1,C2,C9',
        'lookupMany P1,P2',
        // P3's organization was not found at the batch's start: read again at its write, in case it came meanwhile.
        'getMany organization C9',
      ],
    );
    const people = new Map((await w.adapters.keyMap.listMapped(TENANT, 'person')).map((e) => [e.qadKey, e.pipedriveId]));
    assert.equal(people.get('P2'), typed, 'matched through the listing the batch read');
    assert.equal(w.pd.persons().find((p) => p.id === people.get('P1'))?.name, 'Jonas Berg');
    assert.equal(people.has('P3'), false, 'waits for its organization');
  });
});
