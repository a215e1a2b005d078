import './quiet-env.ts';
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { parseCustomerRow, type Customer } from '../../shared/domain/customer.ts';
import { RateLimitedError, RetryLaterError } from '../../shared/domain/errors.ts';
import { organizationContentHash } from '../../shared/domain/organization.ts';
import { organizations } from '../../shared/flows/entities/organizations.ts';
import { writeRecord } from '../../shared/flows/write-record.ts';
import { ClaimHeldError } from '../../shared/domain/errors.ts';
import type { StoredTenant } from '../../shared/config/tenant.ts';
import type { RecordMessage } from '../../shared/ports/index.ts';
import { DynamoKeyMap } from '../../shared/adapters/aws/dynamo-sync-state.ts';
import { customerRow, recordMessage, startHarness, TENANT, type Harness } from './harness.ts';

function customer(code: string, name: string, extra: Parameters<typeof customerRow>[3] = {}): Customer {
  const parsed = parseCustomerRow(customerRow(code, name, '2026-11-20', extra));
  assert.ok(parsed.ok);
  return parsed.record;
}

function message(c: Customer) {
  return recordMessage(c, c.code, organizationContentHash(c));
}

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const delivery = (id: string, attempt = 1) => ({ messageId: id, attempt });
const writeOrganization = (deps: Harness['deps'], tenant: StoredTenant, m: RecordMessage, d: { messageId: string; attempt: number }) =>
  writeRecord(deps, organizations, tenant, m, d);

describe('writing a customer as an organization', () => {
  test('no match creates; a key-map hit PATCHes the same organization; unchanged content costs no call', async () => {
    h = await startHarness();
    const c = customer('C100', 'Acme Tooling GmbH');
    const first = await writeOrganization(h.deps, h.tenant, message(c), delivery('m1'));
    assert.equal(first.action, 'created');
    const keyField = h.keyFieldCode();
    assert.ok(keyField, 'the key field was created through organizationFields');
    assert.deepEqual(
      h.pd.organizations().map((o) => [o.id, o.name, o.custom_fields[keyField]]),
      [[first.pipedriveId, 'Acme Tooling GmbH', 'C100']],
    );

    h.clock.ms += 1000;
    const renamed = customer('C100', 'Acme Tooling AG');
    const second = await writeOrganization(h.deps, h.tenant, message(renamed), delivery('m2'));
    assert.deepEqual([second.action, second.pipedriveId, second.via], ['updated', first.pipedriveId, 'key map']);
    assert.equal(h.pd.organizations()[0]?.name, 'Acme Tooling AG');

    h.pd.resetStats();
    h.clock.ms += 1000;
    const third = await writeOrganization(h.deps, h.tenant, message(renamed), delivery('m3'));
    assert.equal(third.action, 'unchanged');
    assert.equal(h.pd.stats().calls, 0);
    const history = await h.deps.audit.history(TENANT, 'organization', 'C100');
    assert.deepEqual(
      history.map((e) => e.action),
      ['unchanged', 'updated', 'created'],
    );
    assert.equal(history[2]?.messageId, 'm1');
  });

  test('a search hit on the QAD code field updates that organization instead of creating one', async () => {
    h = await startHarness();
    const code = h.pd.addCustomField('organization', { field_name: 'QAD Customer Code', field_type: 'varchar' });
    const id = h.pd.seedOrganization({ name: 'Old name', custom_fields: { [code]: 'C200' } });
    const out = await writeOrganization(h.deps, h.tenant, message(customer('C200', 'New name')), delivery('m1'));
    assert.deepEqual([out.action, out.pipedriveId, out.via], ['updated', id, 'matched by key']);
    assert.equal(h.pd.organizations().length, 1);
  });

  test('a search hit on the exact name (any letter case) links a hand-made organization', async () => {
    h = await startHarness();
    const id = h.pd.seedOrganization({ name: 'BRAUN maschinenbau kg' });
    const out = await writeOrganization(h.deps, h.tenant, message(customer('C300', 'Braun Maschinenbau KG')), delivery('m1'));
    assert.deepEqual([out.action, out.pipedriveId, out.via], ['updated', id, 'matched by name']);
    assert.equal(h.pd.organizations()[0]?.custom_fields[h.keyFieldCode()!], 'C300');
  });

  test('two QAD customers with one name do not share an organization', async () => {
    h = await startHarness();
    const id = h.pd.seedOrganization({ name: 'Nordic Parts AB' });
    const a = await writeOrganization(h.deps, h.tenant, message(customer('C401', 'Nordic Parts AB')), delivery('m1'));
    const b = await writeOrganization(h.deps, h.tenant, message(customer('C402', 'Nordic Parts AB')), delivery('m2'));
    assert.deepEqual([a.action, a.pipedriveId], ['updated', id]);
    assert.equal(b.action, 'created');
    assert.notEqual(b.pipedriveId, id);
  });

  test('a failed search is "try later", never "not found, create"', async () => {
    h = await startHarness();
    h.pd.setFault((req) => (req.path.endsWith('/search') ? { status: 503, body: '<html>Service Unavailable</html>' } : undefined));
    await assert.rejects(writeOrganization(h.deps, h.tenant, message(customer('C500', 'Delta Castings')), delivery('m1')), RetryLaterError);
    h.pd.setFault((req) => (req.path.endsWith('/search') ? { status: 429, headers: { 'x-ratelimit-reset': '2' } } : undefined));
    await assert.rejects(
      writeOrganization(h.deps, h.tenant, message(customer('C500', 'Delta Castings')), delivery('m2')),
      (e) => e instanceof RateLimitedError && e.resetSeconds === 2,
    );
    assert.equal(h.pd.organizations().length, 0);
    assert.equal(h.pd.stats().byEndpoint['POST /api/v2/organizations'], undefined);
    h.pd.setFault(undefined);
    const out = await writeOrganization(h.deps, h.tenant, message(customer('C500', 'Delta Castings')), delivery('m3'));
    assert.equal(out.action, 'created');
    assert.equal(h.pd.organizations().length, 1);
  });

  test('two deliveries of one customer at the same time make one organization', async () => {
    h = await startHarness();
    // Slow creates widen the window in which the second delivery arrives.
    h.pd.setFault((req) => (req.method === 'POST' && req.path === '/api/v2/organizations' ? { kind: 'delay', ms: 300 } : undefined));
    const m = message(customer('C600', 'Eagle Pumps Ltd'));
    // One message delivered twice has one MessageId: the claim must still let only one in.
    const results = await Promise.allSettled([
      writeOrganization(h.deps, h.tenant, m, delivery('same')),
      writeOrganization(h.deps, h.tenant, m, delivery('same')),
    ]);
    const fulfilled = results.filter((r) => r.status === 'fulfilled');
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    assert.equal(fulfilled.length, 1);
    assert.ok(rejected[0]?.reason instanceof ClaimHeldError, 'the second delivery waits for the claim');
    const retry = await writeOrganization(h.deps, h.tenant, m, delivery('b', 2));
    assert.equal(retry.action, 'unchanged');
    assert.equal(h.pd.organizations().length, 1);
  });

  test('a crash after the create and before the key-map write is recovered by listing, not by a second create', async () => {
    // Search lags far behind creates, so only the pending-create recovery can find the organization.
    h = await startHarness({ pipedrive: { searchLagMs: 600_000 }, claimLeaseMs: 30_000 });
    const real = h.deps.keyMap as DynamoKeyMap;
    let crash = true;
    h.deps.keyMap = Object.assign(Object.create(real) as DynamoKeyMap, {
      complete: async (...args: Parameters<DynamoKeyMap['complete']>) => {
        if (crash) throw new Error('Lambda killed');
        return real.complete(...args);
      },
      release: async (...args: Parameters<DynamoKeyMap['release']>) => {
        if (crash) throw new Error('Lambda killed');
        return real.release(...args);
      },
    });
    const m = message(customer('C700', 'Falcon Robotics'));
    await assert.rejects(writeOrganization(h.deps, h.tenant, m, delivery('first')), /Lambda killed/u);
    assert.equal(h.pd.organizations().length, 1);
    crash = false;
    // Redelivery before the dead container's lease ran out waits ...
    await assert.rejects(writeOrganization(h.deps, h.tenant, m, delivery('second')), ClaimHeldError);
    // ... and after it finds the organization the first attempt made.
    h.clock.ms += 31_000;
    const out = await writeOrganization(h.deps, h.tenant, m, delivery('third', 3));
    assert.deepEqual([out.action, out.via], ['updated', 'recovered pending create']);
    assert.equal(h.pd.organizations().length, 1);
  });

  test('a create refused with 429 leaves nothing to recover: the retry creates without a recovery listing', async () => {
    h = await startHarness();
    let refuse = true;
    h.pd.setFault((req) =>
      refuse && req.method === 'POST' && req.path === '/api/v2/organizations'
        ? { status: 429, headers: { 'x-ratelimit-reset': '1' } }
        : undefined,
    );
    const m = message(customer('C750', 'Garnet Valves'));
    await assert.rejects(writeOrganization(h.deps, h.tenant, m, delivery('first')), RateLimitedError);
    refuse = false;
    h.pd.resetStats();
    const out = await writeOrganization(h.deps, h.tenant, m, delivery('second', 2));
    assert.equal(out.action, 'created');
    assert.equal(h.pd.stats().byEndpoint['GET /api/v2/organizations'], undefined, 'no listing was needed');
    assert.equal(h.pd.organizations().length, 1);
  });

  test('two organizations carrying one QAD code is an ambiguous match held for a person (in DynamoDB), not a guess', async () => {
    h = await startHarness();
    const code = h.pd.addCustomField('organization', { field_name: 'QAD Customer Code', field_type: 'varchar' });
    const a = h.pd.seedOrganization({ name: 'Gamma 1', custom_fields: { [code]: 'C800' } });
    const b = h.pd.seedOrganization({ name: 'Gamma 2', custom_fields: { [code]: 'C800' } });
    for (const id of ['m1', 'm2']) {
      const outcome = await writeOrganization(h.deps, h.tenant, message(customer('C800', 'Gamma')), delivery(id));
      assert.deepEqual(outcome, { action: 'held', pipedriveId: a, via: 'ambiguous:organization' });
    }
    const held = await h.deps.holds.held(TENANT);
    assert.deepEqual(
      held.map((m) => [m.cause, m.candidates]),
      [
        [
          'ambiguous:organization',
          [
            { id: a, name: 'Gamma 1' },
            { id: b, name: 'Gamma 2' },
          ],
        ],
      ],
      'one hold for two messages, with what an operator page links to',
    );
    assert.match(held[0]?.reason ?? '', new RegExp(`${a} and ${b} all match customer C800 by key`, 'u'));
    assert.equal(h.pd.organizations().length, 2);
  });
});
