import './quiet-env.ts';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { synthesized } from '../../scripts/local/artifacts/synth.ts';
import { LocalPipeline, type StateReport } from '../../scripts/local/pipeline.ts';
import { STACK_NAME } from '../../infra/names.ts';

test('the local run drives the synthesized functions end to end: first sync matches and creates, the rerun writes nothing', async () => {
  // What npm start runs by default: the bundles cdk synth writes, the template's settings, its IAM enforced.
  const cdkOut = (await synthesized(process.cwd())).dir;
  const pipeline = await LocalPipeline.start({
    artifacts: { cdkOut, stackName: STACK_NAME },
    customers: 150,
    contactsPerCustomer: 2,
    items: 120,
    currencies: ['EUR', 'USD'],
    seed: 7,
    preexisting: 0.2,
    plan: 'ultimate',
    writerConcurrency: 3,
  });
  try {
    const first = await pipeline.runRound();
    const o = first.entities.organizations;
    assert.equal(first.drained, true);
    assert.equal(o.created + o.updated, 150);
    assert.equal(o.updated, 30, 'the 20% hand-made organizations are matched, case and spacing differences included');
    assert.equal(o.failed, 0);
    assert.equal(first.deadLetters, 0);
    assert.equal(
      Object.keys(first.pipedrive.byEndpoint).filter((k) => k.endsWith('/search')).length,
      0,
      'the first sync matches on one listing, not searches',
    );

    const second = await pipeline.runRound();
    const writes = Object.entries(second.pipedrive.byEndpoint).filter(([k]) => k.startsWith('POST') || k.startsWith('PATCH'));
    assert.deepEqual(writes, []);
    // Unchanged QAD records cost nothing; the one call left is the won-deal poll's list page.
    assert.deepEqual(Object.keys(second.pipedrive.byEndpoint), ['GET /api/v2/deals']);
    assert.equal(second.pipedrive.tokens, 10);

    const persons = first.entities.persons;
    assert.ok(persons.updated > 0, 'hand-made persons are matched by email within their organization');
    assert.equal(first.entities.products.updated, 24, 'the 20% hand-made products are matched by code');

    const iam = pipeline.iam();
    assert.ok(iam && iam.checked > 0);
    assert.equal(iam.denied, 0, JSON.stringify(iam.byFunction));

    const state = await pipeline.state();
    assert.deepEqual([state.pipedrive.organizations, state.duplicates.organizations, state.missing.organizations], [150, 0, 0]);
    assert.equal(state.pipedrive.products, 120);
    assert.equal(persons.created + persons.updated, state.qad.qualifyingContacts);
    nothingLostOrDoubled(state, "persons in their customer's organization; products with every QAD price");
  } finally {
    await pipeline.close();
  }
});

test('records typed during the first sync, organizations deleted and merged in Pipedrive: no duplicates, nothing lost', async () => {
  const pipeline = await LocalPipeline.start({
    customers: 60,
    contactsPerCustomer: 2,
    items: 40,
    currencies: ['EUR'],
    seed: 11,
    preexisting: 0.5,
    plan: 'ultimate',
    writerConcurrency: 3,
    wonDeals: 0,
    typedDuringSync: 12,
  });
  try {
    const first = await pipeline.runRound();
    assert.equal(pipeline.typedDuringSync, 12);
    assert.equal(first.entities.organizations.updated, 30 + 4, 'the hand-made and the typed organizations are adopted');
    assert.equal(first.entities.products.updated, 20 + 4);
    const edits = await pipeline.editPipedrive(2);
    assert.deepEqual(edits, { deleted: 2, merged: 2 });
    const second = await pipeline.runRound();
    assert.equal(second.entities.organizations.created, 2, 'the deleted ones written again; the merged ones follow their survivor');
    const state = await pipeline.state();
    nothingLostOrDoubled(state, 'persons followed their organization');
  } finally {
    await pipeline.close();
  }
});

test('webhooks dropping, doubling and delaying deliveries: each mappable deal ordered once, the poll catches the lost', async () => {
  const pipeline = await LocalPipeline.start({
    customers: 12,
    contactsPerCustomer: 0,
    items: 12,
    currencies: ['EUR'],
    seed: 23,
    preexisting: 0,
    plan: 'ultimate',
    writerConcurrency: 3,
    wonDeals: 30,
    // A third of deliveries lost and a third doubled: far worse than Pipedrive, so every path is taken.
    webhooks: { dropRate: 0.3, duplicateRate: 0.3, maxDelayMs: 200, winIntervalMs: 20 },
  });
  try {
    await pipeline.runRound();
    const wins = pipeline.winReport;
    assert.ok(wins?.deliveries && wins.endpoint);
    assert.equal(wins.deals, 30);
    assert.ok(wins.deliveries.dropped > 0 && wins.deliveries.duplicated > 0, JSON.stringify(wins.deliveries));
    assert.ok(wins.orderedByWebhook > 0, 'deals were ordered from their deliveries');
    const state = await pipeline.state();
    assert.equal(state.qad.salesOrders, wins.orderedByWebhook + wins.orderedByPoll);
    assert.equal(wins.notOrdered, 9, 'the three kinds of unmappable deal, one in ten each, are rejected, not ordered');
    assert.deepEqual(
      [state.duplicates.salesOrders, state.missing.salesOrders, state.mismatched.salesOrders],
      [0, 0, 0],
      'every mappable deal ordered exactly once, as its deal says',
    );
  } finally {
    await pipeline.close();
  }
});

/** No record duplicated or missing, nothing mismatched (notes on deals and order statuses included). */
function nothingLostOrDoubled(state: StateReport, mismatchedMessage: string): void {
  assert.deepEqual(state.duplicates, { organizations: 0, persons: 0, products: 0, salesOrders: 0, notes: 0 });
  assert.deepEqual(state.missing, { organizations: 0, persons: 0, products: 0, salesOrders: 0, notes: 0 });
  assert.deepEqual(state.mismatched, { persons: 0, products: 0, salesOrders: 0, orderStatuses: 0 }, mismatchedMessage);
}
