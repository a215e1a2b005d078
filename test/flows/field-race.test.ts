import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryAuditLog } from '../../shared/adapters/memory/memory-audit-log.ts';
import { MemoryPollStateStore } from '../../shared/adapters/memory/memory-sync-state.ts';
import { recordingTelemetry } from '../../shared/adapters/memory/recording-telemetry.ts';
import type { FieldMappingEntry } from '../../shared/config/field-mapping.ts';
import { ClaimHeldError, FieldDriftError, RetryLaterError } from '../../shared/domain/errors.ts';
import type { PipedriveField } from '../../shared/ports/pipedrive.ts';
import { pipedriveClientWith } from './fake-pipedrive.ts';
import { createFieldCache, resolveMappedFields, type FieldCache } from '../../shared/flows/field-resolver.ts';

/**
 * Issue 19's field race: with many writers, a mapped field one writer is creating was reported as drift by
 * the others and their records held. Each writer here resolves a record's mapped values while the first one
 * is still creating the field (its create call answers only when the test lets it).
 */

const TENANT = 'race';
const entries: FieldMappingEntry[] = [{ qad: 'title', pipedrive: 'Customer tier', create: { type: 'varchar' } }];
const values = [{ name: 'Customer tier', value: 'gold' }];

function company() {
  const fields: PipedriveField[] = [{ field_code: 'name', field_name: 'Name', field_type: 'varchar', is_custom_field: false }];
  let release: () => void = () => undefined;
  const created = new Promise<void>((resolve) => (release = resolve));
  const calls = { listFields: 0, createField: 0 };
  const client = pipedriveClientWith(
    {
      async listFields() {
        calls.listFields++;
        return fields.map((f) => ({ ...f }));
      },
      async createField(_entity, def) {
        calls.createField++;
        await created;
        const field = { field_code: 'a'.repeat(40), field_name: def.field_name, field_type: def.field_type, is_custom_field: true };
        fields.push(field);
        return field;
      },
    },
    'field resolution',
  );
  return { client, calls, release };
}

function deps() {
  const clock = {
    ms: 1_000_000,
    now() {
      return this.ms;
    },
    // A lease wait passes no real time: the waiters run out of patience long before the creator is done.
    async sleep(ms: number) {
      this.ms += ms;
    },
  };
  return { pollState: new MemoryPollStateStore(), audit: new MemoryAuditLog(clock), clock, telemetry: recordingTelemetry() };
}

/** A Lambda container's view: the shared stores, and its own field cache, as another instance has. */
const inContainer = (d: ReturnType<typeof deps>, fields: FieldCache = createFieldCache()) => ({ ...d, fields });

async function outcome(run: Promise<unknown>): Promise<'resolved' | 'wait' | 'drift'> {
  try {
    await run;
    return 'resolved';
  } catch (error) {
    if (error instanceof FieldDriftError) return 'drift';
    if (error instanceof ClaimHeldError) return 'wait';
    throw error;
  }
}

describe('a field being created while other writers resolve it', () => {
  test('writers of the same and of another container wait for it instead of holding their records, and it is made once', async () => {
    const pd = company();
    const d = deps();
    const containerA = inContainer(d);
    const containerB = inContainer(d);
    const resolve = (container: typeof containerA) => resolveMappedFields(container, TENANT, pd.client, 'person', entries, values);
    const creator = resolve(containerA);
    // Let the creator take the lease and reach its create call.
    while (pd.calls.createField === 0) await new Promise((r) => setImmediate(r));
    const waiters = await Promise.all([
      ...Array.from({ length: 4 }, () => outcome(resolve(containerA))),
      ...Array.from({ length: 4 }, () => outcome(resolve(containerB))),
    ]);
    assert.ok(!waiters.includes('drift'), `no writer reports the field being created as drift: ${waiters.join(', ')}`);
    pd.release();
    assert.equal(await outcome(creator), 'resolved');
    // Each waiter's record comes back: both containers now resolve the field, neither making a second one.
    const again = await Promise.all([...Array.from({ length: 3 }, () => resolve(containerA)), resolve(containerB)]);
    for (const r of again) assert.equal(r.fields.codes['Customer tier'], 'a'.repeat(40));
    assert.equal(pd.calls.createField, 1);
    const audit = await d.audit.byTenant(TENANT, '', '~');
    assert.deepEqual(
      audit.filter((e) => e.action === 'drift'),
      [],
    );
    assert.equal(audit.filter((e) => e.action === 'field-created').length, 1);
    assert.equal(
      d.telemetry.events.some((e) => JSON.stringify(e).includes('drift')),
      false,
    );
  });

  test('a field that existed and is gone is still drift (the wait does not hide a real problem)', async () => {
    const pd = company();
    const d = deps();
    // Seen once under this code, then deleted in Pipedrive.
    await d.pollState.acquire(TENANT, 'field:person:Customer tier', 'earlier', 30_000, d.clock.now());
    await d.pollState.finish(TENANT, 'field:person:Customer tier', 'earlier', { watermark: 'b'.repeat(40), lastPolledAt: '' });
    assert.equal(await outcome(resolveMappedFields(inContainer(d), TENANT, pd.client, 'person', entries, values)), 'drift');
    assert.equal(pd.calls.createField, 0);
  });

  test('a create whose answer never came is not made again by another writer before its lease runs out', async () => {
    const fields: PipedriveField[] = [{ field_code: 'name', field_name: 'Name', field_type: 'varchar', is_custom_field: false }];
    let creates = 0;
    const late = { field_code: 'a'.repeat(40), field_name: 'Customer tier', field_type: 'varchar', is_custom_field: true };
    const client = pipedriveClientWith(
      {
        listFields: async () => fields.map((f) => ({ ...f })),
        // The first create times out on our side and lands in Pipedrive later; a second one would make a twin.
        async createField(_entity, def) {
          creates++;
          if (creates === 1) throw new RetryLaterError('POST /v1/personFields: network error (no progress for 15000 ms)');
          const field = { ...late, field_code: 'b'.repeat(40), field_name: def.field_name };
          fields.push(field);
          return field;
        },
      },
      'a lost create',
    );
    const d = deps();
    const resolve = () => outcome(resolveMappedFields(inContainer(d), TENANT, client, 'person', entries, values));
    await assert.rejects(resolveMappedFields(inContainer(d), TENANT, client, 'person', entries, values), RetryLaterError);
    assert.equal(await resolve(), 'wait', 'another container waits while the first create may still land');
    fields.push(late);
    d.clock.ms += 30_000;
    assert.equal(await resolve(), 'resolved');
    assert.equal(creates, 1, 'one field, never a twin');
  });
});
