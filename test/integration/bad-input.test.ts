import './quiet-env.ts';
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { organizations } from '../../shared/flows/entities/organizations.ts';
import { pollEntity } from '../../shared/flows/poll.ts';
import { queueDepth } from '../../scripts/local/sqs-event-source.ts';
import { handleWriterBatch } from '../../shared/flows/writer-batch.ts';
import { customerRow, startHarness, TENANT, type Harness } from './harness.ts';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const today = new Date().toISOString().slice(0, 10);

/** Polls, then hands every queued message to the writer once; answers the batch failures. */
async function pollAndWrite(harness: Harness): Promise<number> {
  await pollEntity(harness.deps, organizations, { force: true });
  let failures = 0;
  for (let event = await harness.receiveEvent(); event.Records.length > 0; event = await harness.receiveEvent()) {
    failures += (await handleWriterBatch(harness.deps, event)).batchItemFailures.length;
    if (failures > 0) break;
  }
  return failures;
}

describe('bad input', () => {
  test('emoji and right-to-left names travel intact; a key twice in one page is sent once', async () => {
    h = await startHarness({ customers: [customerRow('C1', 'Café ☕ Ünal 🚀', today), customerRow('C2', 'شركة الأمل للتجارة', today)] });
    h.qadTenant.putRawCustomerRow({ ...customerRow('C1', 'Café ☕ Ünal 🚀', today) });
    const [summary] = await pollEntity(h.deps, organizations, { force: true });
    assert.deepEqual([summary?.read, summary?.enqueued], [3, 2]);
    for (let event = await h.receiveEvent(); event.Records.length > 0; event = await h.receiveEvent())
      await handleWriterBatch(h.deps, event);
    assert.deepEqual(
      h.pd
        .organizations()
        .map((o) => o.name)
        .sort(),
      ['Café ☕ Ünal 🚀', 'شركة الأمل للتجارة'].sort(),
    );
  });

  const garbledBodies =
    'Pipedrive answering with an HTML page, a missing envelope or truncated JSON: ' +
    'audited with a clear reason, retried, the rest of the batch written';
  test(garbledBodies, async () => {
    h = await startHarness({
      customers: [customerRow('C1', 'Alpha', today), customerRow('C2', 'Beta', today), customerRow('C3', 'Gamma', today)],
    });
    await pollEntity(h.deps, organizations, { force: true });
    const bodies = ['<html><body>Bad gateway</body></html>', '{"data":{"id":1,"name":"x"}}', '{"success":true,"data":{"id":'];
    let creates = 0;
    h.pd.setFault((req) =>
      req.method === 'POST' && req.path === '/api/v2/organizations' && creates < bodies.length
        ? { status: 200, body: bodies[creates++]!, headers: { 'content-type': 'application/json' } }
        : undefined,
    );
    const event = await h.receiveEvent();
    const res = await handleWriterBatch(h.deps, event);
    // Each is sent again to retry (the create may or may not have happened: the pending-create recovery decides).
    assert.deepEqual(res.batchItemFailures, []);
    assert.equal((await queueDepth(h.aws.sqs, h.aws.queueUrl)).delayed, 3);
    const reasons = await Promise.all(
      ['C1', 'C2', 'C3'].map(async (k) => (await h!.deps.audit.history(TENANT, 'organization', k))[0]?.error ?? ''),
    );
    assert.ok(reasons.some((r) => /answered with an HTML page/u.test(r)));
    assert.ok(reasons.some((r) => /unexpected response shape \(success/u.test(r)));
    assert.ok(reasons.some((r) => /answered with malformed JSON/u.test(r)));
  });

  test('a QAD page with unexpected fields is read; its bad rows do not hold back the good ones or the watermark', async () => {
    h = await startHarness({ customers: [customerRow('C1', 'Alpha', today)] });
    h.qadTenant.putRawCustomerRow({
      ...customerRow('C9', 'Extra columns', today),
      'cm_mstr.cm_new_thing': { nested: [1, 2] },
      'xx_mstr.unknown': 'ignored',
    });
    h.qadTenant.putRawCustomerRow({ 'cm_mstr.cm_addr': 'C10', 'ad_mstr.ad_name': ['not', 'a', 'string'], 'cm_mstr.cm_mod_date': today });
    assert.equal(await pollAndWrite(h), 0);
    assert.deepEqual(
      h.pd
        .organizations()
        .map((o) => o.name)
        .sort(),
      ['Alpha', 'Extra columns'],
    );
    assert.match((await h.deps.audit.history(TENANT, 'organization', 'C10'))[0]?.reason ?? '', /ad_mstr\.ad_name/u);
    assert.ok((await h.deps.pollState.get(TENANT, 'organization')).watermark);
  });

  test('a message that is not a record message is dead-lettered with its reason, once', async () => {
    h = await startHarness();
    await h.aws.sqs.send(
      new SendMessageBatchCommand({ QueueUrl: h.aws.queueUrl, Entries: [{ Id: '1', MessageBody: '{"v":2,"tenantId":"acme"}' }] }),
    );
    const res = await handleWriterBatch(h.deps, await h.receiveEvent());
    assert.deepEqual(res.batchItemFailures, []);
    const [dead] = await h.dlqMessages();
    assert.match(dead?.MessageAttributes?.reason?.StringValue ?? '', /not a record message: entity/u);
  });
});
