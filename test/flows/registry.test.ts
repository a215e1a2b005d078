import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import * as z from 'zod';
import { contentHash } from '../../shared/domain/content-hash.ts';
import { browsePages, changedSinceFilter, type SyncEntity } from '../../shared/flows/entities/entity.ts';
import { createRegistry, entityRegistry, FLOWS, syncFlow, WORK_QUEUES } from '../../shared/flows/registry.ts';
import type { RecordMessage } from '../../shared/ports/index.ts';
import { pollHandler, writerHandler } from '../../shared/runtime/handlers.ts';
import type { Dependencies } from '../../shared/runtime/dependencies.ts';
import { runCli } from '../../scripts/cli/run.ts';
import { customerRow, sqsRecord, TENANT } from '../integration/harness.ts';
import { startMemoryWorld, type MemoryWorld } from './memory-deps.ts';

/**
 * A fifth entity, defined only here: QAD customers' ship-to addresses as Pipedrive organizations of
 * their own, on a queue of their own. Nothing but this definition and one registry entry names it;
 * the poll handler, the writer, the queue routing and the CLI must all find it through the registry.
 */
interface ShipTo {
  code: string;
  name: string;
}

const shipToSchema = z.object({ code: z.string().min(1), name: z.string().min(1) });
const text = (row: unknown, field: string): string => {
  const value = row !== null && typeof row === 'object' ? (row as Record<string, unknown>)[field] : undefined;
  return typeof value === 'string' ? value.trim() : '';
};

const shipTos: SyncEntity<ShipTo, Record<string, never>> = {
  entity: 'shipTo',
  poll: 'ship-tos',
  queue: 'ship-tos',
  label: 'ship-to',
  collection: 'organizations',
  fieldEntity: 'organization',
  source: 'qad',
  schedule: 'rate(10 minutes)',
  tenantSchedule: 'rate(30 minutes)',
  recordSchema: shipToSchema,
  readChanged: (qad, config, since) => browsePages(qad, config.qad.customers, changedSinceFilter(config.qad.customers.modDateField, since)),
  parse(row) {
    const code = text(row, 'cm_mstr.cm_addr');
    const name = text(row, 'ad_mstr.ad_name');
    if (!code || !name) return { ok: false, key: code || undefined, reason: 'a ship-to needs a code and a name' };
    return { ok: true, record: { code: `S-${code}`, name: `${name} (ship-to)` } };
  },
  key: (s) => s.code,
  hash: (s) => contentHash(s),
  mappedValues: () => [],
  keyFieldName: () => 'QAD Ship-to Code',
  context: async () => ({}),
  payload: (s, keyField) => ({ name: s.name, custom_fields: { [keyField ?? '']: s.code } }),
  keyValueOf: (remote, keyField) => {
    const value = keyField ? remote.custom_fields[keyField] : undefined;
    return typeof value === 'string' ? value : null;
  },
  listingTokens: () => [],
  evidence: () => [],
  async search(pipedrive, s) {
    const hits = await pipedrive.search('organizations', { term: s.code, fields: 'custom_fields' });
    return { byKey: hits.filter((h) => h.customFieldValues.includes(s.code)).map((h) => h.id), evidence: [] };
  },
};

const testRegistry = createRegistry(
  [
    ...WORK_QUEUES,
    { name: 'ship-tos', writer: 'WriteShipTos', decrypts: ['pipedrive'], description: 'ship-tos into Pipedrive', traffic: 'bulk' },
  ],
  [...FLOWS, syncFlow(shipTos)],
);

let w: MemoryWorld | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

const today = () => new Date().toISOString().slice(0, 10);

describe('the entity registry is the only list', () => {
  test('a registered fifth entity is polled, queued on its own queue and written by the handlers', async () => {
    w = await startMemoryWorld({
      customers: [customerRow('C1', 'Alpha GmbH', today()), customerRow('C2', 'Beta AG', today())],
      registry: testRegistry,
    });
    const world = w;
    const poll = pollHandler('ship-tos', testRegistry, () => world.handlerDeps());
    const { summaries } = await poll({ entity: 'ship-tos', force: true });
    assert.deepEqual(
      summaries.map((s) => [s.tenantId, s.entity, s.outcome, s.enqueued]),
      [[TENANT, 'shipTo', 'polled', 2]],
    );
    assert.equal(w.waiting('ship-tos'), 2, 'its messages went to its own queue');
    assert.equal(w.waiting('records'), 0);

    const delivery = await w.deliver('ship-tos');
    assert.deepEqual([delivery.keys.sort(), delivery.retried], [['S-C1', 'S-C2'], []]);
    const keyField = w.pd.customFields('organization').find((f) => f.field_name === 'QAD Ship-to Code')?.field_code;
    assert.ok(keyField, 'its key field was created in Pipedrive');
    assert.deepEqual(
      w.pd
        .organizations()
        .map((o) => [o.custom_fields[keyField], o.name])
        .sort(),
      [
        ['S-C1', 'Alpha GmbH (ship-to)'],
        ['S-C2', 'Beta AG (ship-to)'],
      ],
    );
    assert.deepEqual(
      (await w.adapters.audit.history(TENANT, 'shipTo', 'S-C1')).map((e) => e.action),
      ['created'],
    );
    // The rerun finds nothing changed: the key map is keyed by the new entity too.
    const again = await poll({ entity: 'ship-tos', force: true });
    assert.deepEqual(
      again.summaries.map((s) => [s.enqueued, 'unchanged' in s ? s.unchanged : undefined]),
      [[0, 2]],
    );
  });

  test('the writer handler of its queue writes it; without the entry the same message is refused, naming the known ones', async () => {
    w = await startMemoryWorld({ customers: [customerRow('C7', 'Eta SA', today())], registry: testRegistry });
    const world = w;
    const message: RecordMessage = {
      v: 2,
      tenantId: TENANT,
      entity: 'shipTo',
      key: 'S-C7',
      hash: contentHash({ code: 'S-C7', name: 'Eta SA (ship-to)' }),
      record: { code: 'S-C7', name: 'Eta SA (ship-to)' },
      pollId: 'p1',
    };
    const event = { Records: [sqsRecord({ messageId: 'm1', receiptHandle: 'r1', body: JSON.stringify(message), receiveCount: 1 })] };
    const write = writerHandler('ship-tos', testRegistry, (queue) => world.handlerDeps(queue));
    assert.deepEqual((await write(event)).batchItemFailures, []);
    assert.equal(w.pd.organizations().length, 1);

    // The shipped registry has no ship-tos: the message is dead-lettered as unknown, once, with the reason.
    const shipped = writerHandler('records', entityRegistry, (queue) => ({ ...world.handlerDeps(queue), registry: entityRegistry }));
    const refused = { Records: [sqsRecord({ messageId: 'm2', receiptHandle: 'r2', body: JSON.stringify(message), receiveCount: 1 })] };
    assert.deepEqual((await shipped(refused)).batchItemFailures, []);
    const [entry] = await w.adapters.audit.history(TENANT, 'shipTo', 'S-C7');
    assert.equal(entry?.action, 'failed');
    assert.match(entry?.error ?? '', /unknown entity "shipTo" \(known: organization, person, product, salesOrder, orderStatus\)/u);
    assert.equal(w.adapters.queue('records').deadLetters.length, 1);
    assert.equal(w.pd.organizations().length, 1, 'nothing more was written');
  });

  test('the CLI lists it: help and audit take its names from the registry', async () => {
    w = await startMemoryWorld({ customers: [customerRow('C3', 'Gamma Oy', today())], registry: testRegistry });
    const world = w;
    await pollHandler('ship-tos', testRegistry, () => world.handlerDeps())({ entity: 'ship-tos', force: true });
    await w.deliver('ship-tos');

    const lines: string[] = [];
    const io = { out: (l: string) => void lines.push(l), err: (l: string) => void lines.push(l), readFile: () => '' };
    // The CLI's commands here use only the ports the memory world has.
    const deps = w.handlerDeps() as unknown as Dependencies;
    assert.equal(await runCli(['--help'], io, deps, testRegistry), 0);
    const help = lines.join('\n');
    assert.match(help, /sync <tenant> --entity customers\|contacts\|items\|ship-tos/u);
    assert.match(help, /audit <tenant> organization\|person\|product\|salesOrder\|orderStatus\|shipTo <key>/u);
    assert.match(help, /--queue records\|products\|orders\|ship-tos/u);

    lines.length = 0;
    assert.equal(await runCli(['audit', TENANT, 'shipTo', 'S-C3', '--json'], io, deps, testRegistry), 0);
    const history = z.array(z.object({ action: z.string(), key: z.string() })).parse(JSON.parse(lines.join('\n')));
    assert.deepEqual(
      history.map((h) => [h.key, h.action]),
      [['S-C3', 'created']],
    );

    lines.length = 0;
    assert.equal(await runCli(['audit', TENANT, 'shipTo', 'S-C3'], io, deps, entityRegistry), 2, 'the shipped CLI does not know it');
    assert.match(lines.join('\n'), /<entity> must be one of organization, person, product, salesOrder, orderStatus \(got "shipTo"\)/u);
  });
});
