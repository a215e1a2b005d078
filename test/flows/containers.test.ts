import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryAuditLog, MemoryPollStateStore } from '../../shared/adapters/memory/index.ts';
import { recordingTelemetry } from '../../shared/adapters/memory/recording-telemetry.ts';
import type { FieldMappingEntry } from '../../shared/config/field-mapping.ts';
import { FieldDriftError } from '../../shared/domain/errors.ts';
import { resolveMappedFields } from '../../shared/flows/field-resolver.ts';
import type { PipedriveField } from '../../shared/ports/pipedrive.ts';
import { buildDependencies, useLocalCipher } from '../../shared/runtime/dependencies.ts';
import { pipedriveClientWith } from './fake-pipedrive.ts';

/**
 * Issue 19 point 2: two writer containers of one tenant are two Lambda instances, each with what its handler built
 * (buildDependencies, once per container). Nothing the field resolution caches may be shared between them.
 */

// What buildDependencies reads; nothing here is called (the stores are swapped for memory ones below).
Object.assign(process.env, {
  AWS_REGION: 'us-east-1',
  CONNECTIONS_TABLE: 'connections',
  SYNC_STATE_TABLE: 'sync-state',
  AUDIT_TABLE: 'audit',
  CREDENTIALS_CIPHER: 'local',
  ...Object.fromEntries(
    ['RECORDS', 'PRODUCTS', 'ORDERS'].flatMap((q) => [
      [`${q}_QUEUE_URL`, `http://127.0.0.1:1/000000000000/${q.toLowerCase()}`],
      [`${q}_DLQ_URL`, `http://127.0.0.1:1/000000000000/${q.toLowerCase()}-dlq`],
    ]),
  ),
});
useLocalCipher({ encrypt: () => Promise.reject(new Error('unused')), decrypt: () => Promise.reject(new Error('unused')) });

const TENANT = 'containers';
const tier: FieldMappingEntry[] = [{ qad: 'title', pipedrive: 'Customer tier' }];
const values = [{ name: 'Customer tier', value: 'gold' }];

function company(fields: PipedriveField[]) {
  const calls = { listFields: 0 };
  const client = pipedriveClientWith(
    {
      async listFields() {
        calls.listFields++;
        return fields.map((f) => ({ ...f }));
      },
    },
    'containers',
  );
  return { client, calls };
}

/** The stores every container shares (DynamoDB in AWS), and two containers of the records writer. */
function twoContainers() {
  const clock = { now: () => 1_000_000, sleep: () => Promise.resolve() };
  const shared = { pollState: new MemoryPollStateStore(), audit: new MemoryAuditLog(clock), clock, telemetry: recordingTelemetry() };
  const container = () => ({ ...buildDependencies('records'), ...shared });
  return { shared, a: container(), b: container() };
}

describe('writer containers of one tenant', () => {
  test('each reads the field definitions itself: nothing one container cached serves the other', async () => {
    const pd = company([{ field_code: 'c'.repeat(40), field_name: 'Customer tier', field_type: 'varchar', is_custom_field: true }]);
    const { a, b } = twoContainers();
    await resolveMappedFields(a, TENANT, pd.client, 'person', tier, values);
    await resolveMappedFields(a, TENANT, pd.client, 'person', tier, values);
    assert.equal(pd.calls.listFields, 1, 'a warm container reads the list once');
    const resolved = await resolveMappedFields(b, TENANT, pd.client, 'person', tier, values);
    assert.equal(pd.calls.listFields, 2, 'the second container reads it for itself, as another Lambda instance does');
    assert.equal(resolved.fields.codes['Customer tier'], 'c'.repeat(40));
  });

  test('a drift one container has reported is not known to the other, which reports it itself', async () => {
    const pd = company([]);
    const { shared, a, b } = twoContainers();
    const drifts = async () => (await shared.audit.byTenant(TENANT, '', '~')).filter((e) => e.action === 'drift').length;
    for (const container of [a, a])
      await assert.rejects(resolveMappedFields(container, TENANT, pd.client, 'person', tier, values), FieldDriftError);
    assert.equal(await drifts(), 1, 'audited once per container');
    await assert.rejects(resolveMappedFields(b, TENANT, pd.client, 'person', tier, values), FieldDriftError);
    assert.equal(await drifts(), 2, 'the other container saw it for the first time');
  });
});
