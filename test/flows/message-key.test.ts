import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import type { RecordMessage } from '../../shared/ports/index.ts';
import { contactRow, customerRow, TENANT } from '../integration/harness.ts';
import { startMemoryWorld, type MemoryWorld } from './memory-deps.ts';

let w: MemoryWorld | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

const today = () => new Date().toISOString().slice(0, 10);

describe("a message's key must be its record's own", () => {
  for (const [queueKey, label] of [
    ['HARMLESS-KEY', 'a made-up key'],
    ['C2', "another customer's key"],
  ] as const) {
    test(`an organization message under ${label} carrying C1's record is dead-lettered; C1 and its hash stay as they were`, async () => {
      w = await startMemoryWorld({ customers: [customerRow('C1', 'Acme GmbH', today()), customerRow('C2', 'Beta AG', today())] });
      await w.poll('customers');
      await w.deliver('records');
      const before = await w.adapters.keyMap.getMany(TENANT, 'organization', ['C1', 'C2']);
      const [sent] = w.adapters.queue('records').sent;
      const genuine = JSON.parse(sent!.body) as RecordMessage;
      const record = { ...(genuine.record as Record<string, unknown>), name: 'Renamed By Someone Else' };
      await w.adapters.queue('records').sendAll([{ ...genuine, key: queueKey, record, hash: 'forged-hash' }]);
      const out = await w.deliver('records');
      assert.deepEqual(out.retried, []);
      const [dead] = w.adapters.queue('records').deadLetters;
      assert.match(dead?.reason ?? '', /is not its customer's own key "C1"/u);
      assert.deepEqual(
        w.pd
          .organizations()
          .map((o) => o.name)
          .sort(),
        ['Acme GmbH', 'Beta AG'],
      );
      assert.deepEqual(await w.adapters.keyMap.getMany(TENANT, 'organization', ['C1', 'C2']), before);
    });
  }

  test("a person message under another contact's key is dead-lettered, the person untouched", async () => {
    w = await startMemoryWorld({
      customers: [customerRow('C1', 'Acme GmbH', today())],
      contacts: [contactRow('P1', 'C1', 'Anna Berg'), contactRow('P2', 'C1', 'Bo Lind')],
    });
    await w.poll('customers');
    await w.deliver('records');
    await w.poll('contacts');
    await w.deliver('records');
    const people = w.adapters
      .queue('records')
      .sent.map((m) => JSON.parse(m.body) as RecordMessage)
      .filter((m) => m.entity === 'person');
    const p1 = people.find((m) => m.key === 'P1')!;
    await w.adapters.queue('records').sendAll([{ ...p1, key: 'P2', hash: 'forged' }]);
    await w.deliver('records');
    assert.match(w.adapters.queue('records').deadLetters[0]?.reason ?? '', /is not its contact's own key "P1"/u);
    assert.deepEqual(
      w.pd
        .persons()
        .map((p) => p.name)
        .sort(),
      ['Anna Berg', 'Bo Lind'],
    );
  });
});
