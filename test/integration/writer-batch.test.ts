import './quiet-env.ts';
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { queueDepth } from '../../scripts/local/sqs-event-source.ts';
import { handleWriterBatch } from '../../shared/flows/writer-batch.ts';
import { startHarness, TENANT, type Harness, enqueueBodies, organizationMessageBody } from './harness.ts';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('the Pipedrive writer batch', () => {
  test('a broken message is audited and dead-lettered while the rest of the batch is written', async () => {
    h = await startHarness();
    await enqueueBodies(h, [
      organizationMessageBody('C1', 'Alpha GmbH'),
      '{"v":1,"tenantId":"acme",',
      organizationMessageBody('C2', 'Beta GmbH'),
    ]);
    const event = await h.receiveEvent();
    assert.equal(event.Records.length, 3);
    const res = await handleWriterBatch(h.deps, event);
    assert.deepEqual(res.batchItemFailures, []);
    assert.deepEqual(
      h.pd
        .organizations()
        .map((o) => o.name)
        .sort(),
      ['Alpha GmbH', 'Beta GmbH'],
    );
    const dlq = await h.dlqMessages();
    assert.equal(dlq.length, 1);
    assert.equal(dlq[0]?.Body, '{"v":1,"tenantId":"acme",');
    assert.equal(dlq[0]?.MessageAttributes?.reason?.StringValue, 'message body is not JSON');
  });

  test('a validation error from Pipedrive is dead-lettered once, audited, not retried', async () => {
    h = await startHarness();
    h.pd.setFault((req) =>
      req.method === 'POST' && req.path === '/api/v2/organizations'
        ? { status: 400, body: '{"success":false,"error":"Validation failed: name: too long","code":"ERR_SCHEMA_VALIDATION_FAILED"}' }
        : undefined,
    );
    await enqueueBodies(h, [organizationMessageBody('C3', 'Gamma GmbH')]);
    const res = await handleWriterBatch(h.deps, await h.receiveEvent());
    assert.deepEqual(res.batchItemFailures, [], 'not reported for retry');
    assert.equal((await h.dlqMessages()).length, 1);
    const [entry] = await h.deps.audit.history(TENANT, 'organization', 'C3');
    assert.equal(entry?.action, 'failed');
    assert.match(entry?.error ?? '', /Validation failed: name: too long/u);
  });

  test("a 429 sends the record again after the reset (no receive spent), defers the tenant's other records without calling", async () => {
    h = await startHarness();
    h.pd.addCustomField('organization', { field_name: 'QAD Customer Code', field_type: 'varchar' });
    await enqueueBodies(h, [
      organizationMessageBody('C4', 'Delta GmbH'),
      organizationMessageBody('C5', 'Epsilon GmbH'),
      organizationMessageBody('C6', 'Zeta GmbH'),
    ]);
    const event = await h.receiveEvent();
    h.pd.setFault((req) =>
      req.path.endsWith('/search')
        ? { status: 429, headers: { 'x-ratelimit-reset': '7', 'x-ratelimit-remaining': '0', 'x-ratelimit-limit': '10' } }
        : undefined,
    );
    h.pd.resetStats();
    const res = await handleWriterBatch(h.deps, event);
    assert.deepEqual(res.batchItemFailures, []);
    assert.equal((await queueDepth(h.aws.sqs, h.aws.queueUrl)).delayed, 3);
    // The first record read the fields and reached the search (429); the other two made no call at all.
    assert.deepEqual(Object.fromEntries(Object.entries(h.pd.stats().byEndpoint).map(([k, v]) => [k, v.calls])), {
      'GET /api/v2/organizationFields': 1,
      'GET /api/v2/organizations/search': 1,
    });
    const deferred = await h.deps.audit.history(TENANT, 'organization', 'C6');
    assert.equal(deferred[0]?.action, 'deferred');
    assert.match(deferred[0]?.reason ?? '', /rate-limited earlier in this batch; retry in (8|9|10)s/u);
    // Nothing is visible until the reset has passed.
    assert.equal((await h.receiveEvent()).Records.length, 0);
  });
});
