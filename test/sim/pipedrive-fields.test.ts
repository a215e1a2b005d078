import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { startPipedriveSim, type PipedriveSim } from '../../scripts/simulators/pipedrive/index.ts';

const TOKEN = 'fields-test-token';

async function call(
  sim: PipedriveSim,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${sim.url}/api/v2${path}`, {
    method,
    headers: { 'x-api-token': TOKEN, ...(body !== undefined && { 'content-type': 'application/json' }) },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function withSims(n: number, fn: (sims: PipedriveSim[]) => Promise<void>): Promise<void> {
  const sims = await Promise.all(Array.from({ length: n }, () => startPipedriveSim({ apiToken: TOKEN })));
  try {
    await fn(sims);
  } finally {
    await Promise.all(sims.map((s) => s.close()));
  }
}

describe('simulator: custom field definitions', () => {
  test('field codes are 40-hex hashes that differ per company for the same field; options carry ids', async () => {
    await withSims(2, async ([a, b]) => {
      const codeA = a!.addCustomField('organization', { field_name: 'Credit terms', field_type: 'enum', options: ['N30', 'N60'] });
      const codeB = b!.addCustomField('organization', { field_name: 'Credit terms', field_type: 'enum', options: ['N30', 'N60'] });
      assert.match(codeA, /^[0-9a-f]{40}$/u);
      assert.notEqual(codeA, codeB);
      const list = await call(a!, 'GET', '/organizationFields?limit=500');
      const field = (list.json['data'] as Array<Record<string, unknown>>).find((f) => f['field_code'] === codeA);
      assert.deepEqual(
        (field?.['options'] as Array<{ label: string }>).map((o) => o.label),
        ['N30', 'N60'],
      );
      assert.equal(field?.['is_custom_field'], true);
    });
  });

  test('each field type is enforced on write with a Pipedrive-style 400 naming the field', async () => {
    await withSims(1, async ([sim]) => {
      const terms = sim!.addCustomField('organization', { field_name: 'Credit terms', field_type: 'enum', options: ['N30'] });
      const limit = sim!.addCustomField('organization', { field_name: 'Credit limit', field_type: 'monetary' });
      const since = sim!.addCustomField('organization', { field_name: 'Customer since', field_type: 'date' });
      const bad = await call(sim!, 'POST', '/organizations', { name: 'Acme', custom_fields: { [terms]: 'N30' } });
      assert.equal(bad.status, 400);
      assert.equal(bad.json['code'], 'ERR_SCHEMA_VALIDATION_FAILED');
      assert.match(String(bad.json['error']), new RegExp(`custom_fields\\.${terms}: must be an option id`, 'u'));
      assert.equal((await call(sim!, 'POST', '/organizations', { name: 'Acme', custom_fields: { [limit]: 5000 } })).status, 400);
      assert.equal((await call(sim!, 'POST', '/organizations', { name: 'Acme', custom_fields: { [since]: '2026-02-30' } })).status, 400);
      const optionId = sim!.customFields('organization').find((f) => f.field_code === terms)?.options?.[0]?.id;
      const ok = await call(sim!, 'POST', '/organizations', {
        name: 'Acme',
        custom_fields: { [terms]: optionId, [limit]: { value: 5000, currency: 'EUR' }, [since]: '2026-02-28' },
      });
      assert.equal(ok.status, 200);
    });
  });

  test('rename keeps the code and the values; delete makes writes naming it a 400; a removed option is refused', async () => {
    await withSims(1, async ([sim]) => {
      const region = sim!.addCustomField('organization', { field_name: 'Sales region', field_type: 'varchar' });
      const terms = sim!.addCustomField('organization', { field_name: 'Credit terms', field_type: 'enum', options: ['N30', 'EOM'] });
      const id = sim!.seedOrganization({ name: 'Acme', custom_fields: { [region]: 'DACH' } });
      assert.equal(sim!.renameField('organization', 'Sales region', 'Region'), region);
      assert.equal(sim!.customFields('organization').find((f) => f.field_code === region)?.field_name, 'Region');
      assert.equal(sim!.organizations()[0]?.custom_fields[region], 'DACH');

      sim!.deleteField('organization', 'Region');
      const refused = await call(sim!, 'PATCH', `/organizations/${id}`, { custom_fields: { [region]: 'Benelux' } });
      assert.equal(refused.status, 400);
      assert.match(String(refused.json['error']), /unknown custom field/u);
      assert.equal(region in sim!.organizations()[0]!.custom_fields, false);

      const eom = sim!
        .customFields('organization')
        .find((f) => f.field_code === terms)
        ?.options?.find((o) => o.label === 'EOM')?.id;
      sim!.removeFieldOption('organization', 'Credit terms', 'EOM');
      assert.equal((await call(sim!, 'PATCH', `/organizations/${id}`, { custom_fields: { [terms]: eom } })).status, 400);
      assert.throws(() => sim!.renameField('organization', 'Nope', 'X'), /no organization custom field named "Nope"/u);
    });
  });
});
