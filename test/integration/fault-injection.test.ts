import './quiet-env.ts';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { API_TOKEN, LocalPipeline } from '../../scripts/local/pipeline.ts';
import { queueDepth } from '../../scripts/local/sqs-event-source.ts';
import { runCli } from '../../scripts/cli/run.ts';
import { DynamoTenantHolds } from '../../shared/adapters/aws/dynamo-tenant-holds.ts';
import { redrive } from '../../shared/operations/status.ts';
import type { EntityName } from '../../shared/ports/index.ts';

/**
 * The whole pipeline under injected faults at 30% of calls (5xx pages, timeouts, resets, 429s, slow
 * answers, lost answers after writes, search lag, duplicate concurrent deliveries). After it converges,
 * nothing is lost or doubled, nothing is stuck, the DLQ holds only what a person must fix (nothing moved
 * by maxReceiveCount), and the audit has an entry for every retry.
 */
test('under injected faults every record lands exactly once and every retry is audited', async () => {
  const pipeline = await LocalPipeline.start({
    customers: 60,
    contactsPerCustomer: 2,
    items: 40,
    currencies: ['EUR', 'USD'],
    seed: 11,
    preexisting: 0.2,
    plan: 'ultimate',
    writerConcurrency: 4,
    wonDeals: 20,
    chaos: 0.3,
  });
  // One problem for a person among the transient ones: two hand-made organizations with a customer's exact name.
  const twin = pipeline.qad.tenant(pipeline.qadBasePath).customers()[3]!;
  const twins = [
    pipeline.pipedrive.seedOrganization({ name: twin['ad_mstr.ad_name'] }),
    pipeline.pipedrive.seedOrganization({ name: twin['ad_mstr.ad_name'] }),
  ];
  try {
    const rounds = [await pipeline.runRound(), await pipeline.runRound()];
    assert.ok(
      rounds.every((r) => r.drained),
      'every queue drained: nothing stuck in flight',
    );
    const injected = pipeline.chaos!.injected;
    assert.ok(
      injected.http5xx + injected.timeout + injected.connectionReset + injected.status429 + injected.lostResponse > 10,
      `faults were injected: ${JSON.stringify(injected)}`,
    );
    assert.ok(injected.lostResponse > 0 && injected.duplicateDelivery > 0, 'including lost answers after writes and duplicate deliveries');

    // Nothing in a DLQ: every fault was transient, and the ambiguous twin waits for a person in DynamoDB, held once
    // with both candidates named; its contacts, waiting for it, are held once each.
    assert.deepEqual(
      rounds[1]!.deadLettersByCause,
      { permanent: 0, retryBudget: 0, maxReceiveCount: 0 },
      `dead letters and their histories: ${await deadLetterHistories(pipeline)}`,
    );
    const code = twin['cm_mstr.cm_addr'];
    const holds = new DynamoTenantHolds(pipeline.aws.dynamo, pipeline.aws.env.SYNC_STATE_TABLE);
    const held = await holds.held('demo');
    assert.deepEqual(
      held.filter((h) => h.cause === 'ambiguous:organization').map((h) => h.candidates?.map((c) => c.id)),
      [twins],
    );
    assert.equal(new Set(held.map((h) => h.messageId)).size, held.length);
    const history = await pipeline.auditLog().history('demo', 'organization', code);
    assert.equal(history.filter((e) => /ambiguous match/u.test(e.reason ?? '')).length, 1, 'one problem, one audit entry');

    // A person settles it (renames the other twin) and replays the customer, as the operator console does; any dead
    // letter is redriven. The customer lands on the twin left, its contacts follow, and nothing is left anywhere.
    // The outage is over first: the replay re-reads the customer from QAD, and a 503 there is the operator's to retry.
    pipeline.pipedrive.setFault(undefined);
    pipeline.qad.setFault(undefined);
    const renamed = await fetch(`${pipeline.pipedrive.url}/api/v2/organizations/${twins[1]}`, {
      method: 'PATCH',
      headers: { 'x-api-token': API_TOKEN, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Someone else entirely' }),
    });
    assert.equal(renamed.status, 200);
    const io = { out: () => undefined, err: (l: string) => assert.fail(l), readFile: () => assert.fail('no files') };
    assert.equal(await runCli(['replay', 'demo', 'organization', code], io), 0);
    for (const name of ['records', 'products', 'orders'] as const) {
      const queue = pipeline.aws.queue(name);
      const dead = (await queueDepth(pipeline.aws.sqs, queue.dlqUrl)).visible;
      if (dead > 0) await redrive(pipeline.aws.sqs, { queue: queue.url, dlq: queue.dlqUrl });
    }
    assert.equal(await pipeline.drainAll(), true);
    // Written onto the twin left (a duplicate delivery after it says `unchanged`), never created beside it.
    const settled = await pipeline.auditLog().history('demo', 'organization', code);
    assert.deepEqual(
      settled.filter((e) => e.action === 'updated' || e.action === 'created').map((e) => e.action),
      ['updated'],
    );
    const after = await pipeline.runRound();
    assert.deepEqual([after.drained, after.settled, await pipeline.deadLetterCount()], [true, true, 0]);
    const state = await pipeline.state();
    assert.deepEqual(state.duplicates, { organizations: 0, persons: 0, products: 0, salesOrders: 0, notes: 0 });
    assert.deepEqual(state.missing, { organizations: 0, persons: 0, products: 0, salesOrders: 0, notes: 0 });
    assert.deepEqual(state.mismatched, { persons: 0, products: 0, salesOrders: 0, orderStatuses: 0 });

    // Every delivery that did not go through first time left a failed or deferred entry saying why.
    const audit = await pipeline.aws.dynamo.send(new ScanCommand({ TableName: pipeline.aws.env.AUDIT_TABLE }));
    const entries = (audit.Items ?? []).map((i) => ({
      action: i.action?.S ?? '',
      attempt: Number(i.attempt?.N ?? '1'),
      why: i.error?.S ?? i.reason?.S ?? '',
      key: i.pk?.S ?? '',
    }));
    const retried = entries.filter((e) => e.attempt > 1).map((e) => e.key);
    const explained = new Set(entries.filter((e) => (e.action === 'failed' || e.action === 'deferred') && e.why !== '').map((e) => e.key));
    assert.ok(retried.length > 0, 'some records needed more than one attempt');
    assert.deepEqual(
      retried.filter((k) => !explained.has(k)),
      [],
      'each retried record has an audited reason',
    );
  } finally {
    await pipeline.close();
  }
});

/** Each dead letter's record and what its audit says happened to it, for a failure message a person can act on. */
async function deadLetterHistories(pipeline: LocalPipeline): Promise<string> {
  const out: string[] = [];
  for (const name of ['records', 'products', 'orders'] as const) {
    const queue = pipeline.aws.queue(name);
    const res = await pipeline.aws.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queue.dlqUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 0 }),
    );
    for (const m of res.Messages ?? []) {
      const { entity, key } = JSON.parse(m.Body ?? '{}') as { entity: EntityName; key: string };
      const history = await pipeline.auditLog().history('demo', entity, key);
      out.push(`${entity} ${key}: ${history.map((e) => `${e.action} (${e.error ?? e.reason ?? ''})`).join('; ')}`);
    }
  }
  return out.join('\n');
}
