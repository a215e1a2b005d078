import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AWS_PRICES } from '../../scripts/bench/aws-prices.ts';
import { firstSyncWrites, floorInputs, summariseCase, type CaseOutput, type RoundCounters } from '../../scripts/bench/cases.ts';
import {
  dynamoUnits,
  estimateCost,
  listPages,
  median,
  seatsFor,
  target,
  tokenFloor,
  unionMs,
  writePhase,
} from '../../scripts/bench/metrics.ts';

describe('benchmark arithmetic', () => {
  test('the floor is 5 tokens per record that must change plus 10 per list page of 500', () => {
    assert.equal(tokenFloor(1000, 3), 5030);
    assert.equal(tokenFloor(0, 0), 0);
    assert.equal(tokenFloor(40, 2, 5), 40 * 5 + 2 * 10 + 5 * 10, 'a note on a deal costs 10 (v1 POST /notes)');
    assert.equal(listPages(0), 1, 'a listing of nothing still reads one page');
    assert.equal(listPages(500), 1);
    assert.equal(listPages(501), 2);
    assert.equal(listPages(2000), 4);
  });

  test("a case gets the seats its first sync needs within the connector's 60% of one day's budget, with half again to spare", () => {
    assert.equal(seatsFor(3_550, 'premium'), 1, '1k customers: about 27,000 tokens of 90,000');
    assert.equal(seatsFor(35_200, 'premium'), 3, '10k customers: about 264,000 tokens');
    // 18,000 of a lite seat's 30,000: one seat closed the gate before the 1k first sync was done.
    assert.equal(seatsFor(3_550, 'lite'), 2);
    assert.equal(seatsFor(35_200, 'lite'), 15);
  });

  test('median of odd and even counts', () => {
    assert.equal(median([5, 1, 3]), 3);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.ok(Number.isNaN(median([])));
  });

  test('overlapping intervals count once', () => {
    assert.equal(
      unionMs([
        { startMs: 0, endMs: 10 },
        { startMs: 5, endMs: 15 },
        { startMs: 20, endMs: 30 },
      ]),
      25,
    );
    assert.equal(unionMs([]), 0);
  });

  test('the write phase runs from the first write to the last within each drain window, not over the polls between', () => {
    const writes = [
      { startMs: 1_000, endMs: 1_010 },
      { startMs: 2_990, endMs: 3_000 },
      // a poll between the drains makes no writes; the second drain writes from 10 s to 11 s
      { startMs: 10_000, endMs: 10_010 },
      { startMs: 10_990, endMs: 11_000 },
    ];
    const windows = [
      { startMs: 0, endMs: 5_000 },
      { startMs: 9_000, endMs: 12_000 },
    ];
    assert.deepEqual(writePhase(writes, windows), { writes: 4, seconds: 3 });
    // Two queues drained at once: the shared time counts once.
    assert.deepEqual(
      writePhase(writes.slice(0, 2), [
        { startMs: 0, endMs: 5_000 },
        { startMs: 0, endMs: 5_000 },
      ]),
      { writes: 2, seconds: 2 },
    );
  });

  test("the first sync's write rate counts the QAD -> Pipedrive writers' writes, not a won deal's order number written back", () => {
    const writes = [
      { startMs: 1_000, endMs: 1_010, fn: 'write-pipedrive' },
      { startMs: 1_500, endMs: 1_510, fn: 'write-products' },
      { startMs: 6_000, endMs: 6_010, fn: 'write-qad' },
    ];
    assert.deepEqual(
      firstSyncWrites(writes).map((w) => w.fn),
      ['write-pipedrive', 'write-products'],
    );
    // The orders' drain after the sync's adds neither writes nor seconds.
    const windows = [
      { startMs: 0, endMs: 5_000 },
      { startMs: 5_500, endMs: 7_000 },
    ];
    assert.deepEqual(writePhase(firstSyncWrites(writes), windows), { writes: 2, seconds: 0.51 });
  });

  test('targets pass at their limit and fail past it, or on a value that is not a number', () => {
    assert.equal(target('t', 1.15, 'max', 1.15).pass, true);
    assert.equal(target('t', 1.16, 'max', 1.15).pass, false);
    assert.equal(target('t', 0.85, 'min', 0.85).pass, true);
    assert.equal(target('t', 0.84, 'min', 0.85).pass, false);
    assert.equal(target('t', Number.NaN, 'max', 1).pass, false);
  });

  test('DynamoDB units: a write to a table with a projecting index costs two, batch writes per item', () => {
    const gsi = new Set(['audit']);
    assert.deepEqual(dynamoUnits('PutItemCommand', { TableName: 'audit' }, gsi), { writes: 2, reads: 0 });
    assert.deepEqual(dynamoUnits('UpdateItemCommand', { TableName: 'sync' }, gsi), { writes: 1, reads: 0 });
    assert.deepEqual(dynamoUnits('BatchWriteItemCommand', { RequestItems: { sync: [{}, {}, {}], audit: [{}] } }, gsi), {
      writes: 5,
      reads: 0,
    });
    assert.deepEqual(dynamoUnits('BatchGetItemCommand', { RequestItems: { sync: { Keys: [{}, {}] } } }, gsi), { writes: 0, reads: 2 });
    assert.deepEqual(dynamoUnits('QueryCommand', { TableName: 'sync' }, gsi), { writes: 0, reads: 1 });
    assert.deepEqual(dynamoUnits('DescribeTableCommand', {}, gsi), { writes: 0, reads: 0 });
  });

  test('the cost estimate adds every service at its price and scales to a million records', () => {
    const cost = estimateCost(
      {
        invocations: 1_000_000,
        durationMs: 2_000_000,
        memoryMb: 512,
        sqsRequests: 1_000_000,
        dynamoWrites: 1_000_000,
        dynamoReads: 1_000_000,
        kmsRequests: 10_000,
        schedulerInvocations: 1_000_000,
      },
      500_000,
      AWS_PRICES,
    );
    assert.equal(cost.gbSeconds, 1000);
    const expected =
      AWS_PRICES.lambdaPerMillionRequests +
      1000 * AWS_PRICES.lambdaPerGbSecondArm +
      AWS_PRICES.sqsPerMillionRequests +
      AWS_PRICES.dynamoPerMillionWrites +
      AWS_PRICES.dynamoPerMillionReads +
      AWS_PRICES.kmsPer10kRequests +
      AWS_PRICES.schedulerPerMillionInvocations;
    assert.ok(Math.abs(cost.usd.total - expected) < 1e-9);
    assert.ok(Math.abs(cost.perMillionRecordsUsd - expected * 2) < 1e-9);
  });
});

describe('benchmark cases', () => {
  const counters = (writes: RoundCounters['writes'], tokensByFunction: Record<string, number>) => ({
    writes,
    tokensByFunction,
    callsByFunction: {},
    aws: { sqsRequests: 10, dynamoWrites: 20, dynamoReads: 5, kmsRequests: 2, byCommand: {} },
    peakRssBytes: 100 * 2 ** 20,
    eventLoopUtilization: 0.5,
  });
  const report = (tokens: number, calls: number, status429: number, drains: Array<{ startMs: number; endMs: number }>) => ({
    round: 1,
    entities: {} as never,
    pipedrive: { calls, tokens, status429, byEndpoint: {} },
    qad: { calls: 0 },
    lambda: { 'poll-customers': { invocations: 1, ms: 100 }, 'write-pipedrive': { invocations: 9, ms: 900 } },
    drains: drains.map((d) => ({ queue: 'records', ...d })),
    ordersChangedInQad: 0,
    deadLetters: 0,
    deadLettersByCause: { permanent: 0, retryBudget: 0, maxReceiveCount: 0 },
    drained: true,
    settled: true,
    unsettled: { queued: 0, held: {}, pendingCreates: 0, pendingKeys: [] },
    elapsedMs: 5_000,
  });
  const output: CaseOutput = {
    options: { customers: 1000, items: 500, 'won-deals': 50, plan: 'premium', concurrency: 4, 'change-rate': 0.01 },
    preexistingOrganizations: 200,
    state: {
      pipedrive: { organizations: 1001, persons: 1848, products: 501, wonDeals: 50 },
      qad: { customers: 1000, qualifyingContacts: 1848, items: 500, salesOrders: 35 },
      duplicates: { organizations: 0, persons: 0, products: 0, salesOrders: 0, notes: 0 },
      missing: { organizations: 0, persons: 0, products: 0, salesOrders: 0, notes: 0 },
      mismatched: { persons: 0, products: 0, salesOrders: 0, orderStatuses: 0 },
      deals: { rejected: 15, notes: 15, withStatus: 50, statusByKind: { Ordered: 35, Rejected: 15 } },
    },
    changedCustomers: 10,
    rounds: [
      {
        label: 'first sync',
        report: report(17_100, 3_400, 17, [{ startMs: 0, endMs: 100_000 }]),
        counters: counters(
          [
            { startMs: 1_000, endMs: 1_010, fn: 'write-pipedrive' },
            { startMs: 2_000, endMs: 3_000, fn: 'write-products' },
            // a won deal's order number written back: not the first sync's
            { startMs: 9_000, endMs: 9_300, fn: 'write-qad' },
          ],
          { 'write-pipedrive': 17_000, 'poll-deals': 100 },
        ),
        recordsChanged: 3383,
      },
      { label: 'rerun, nothing changed', report: report(20, 2, 0, []), counters: counters([], { 'poll-deals': 20 }), recordsChanged: 0 },
      {
        label: 'rerun, 1% changed',
        report: report(70, 12, 0, [{ startMs: 0, endMs: 10_000 }]),
        counters: counters([{ startMs: 1_000, endMs: 2_000, fn: 'write-pipedrive' }], { 'write-pipedrive': 50, 'poll-deals': 20 }),
        recordsChanged: 10,
      },
    ],
  };

  test('the first sync must write what it changed and read the listings, the field definitions and the deal poll', () => {
    // pages: 1 + 1 + 1 listings, 3 field lists, 1 deals page + 1 lines call
    assert.deepEqual(floorInputs(output, 0), { recordsToChange: 3383, pages: 8, notes: 0 });
    assert.deepEqual(floorInputs(output, 1), { recordsToChange: 0, pages: 2, notes: 0 });
    assert.deepEqual(
      floorInputs(output, 2),
      { recordsToChange: 10, pages: 3, notes: 0 },
      'changed customers: the organization fields once',
    );
  });

  test("a case is summarised against the floor, the plan's rate, and by direction", () => {
    const f = summariseCase('1k', output, { memoryMb: 512, prices: AWS_PRICES });
    const [first, unchanged, changed] = f.rounds;
    assert.equal(f.problems, 0);
    assert.equal(first!.floor, 5 * 3383 + 80);
    assert.equal(first!.share429, 0.005);
    assert.equal(first!.allowedPerSecond, 50);
    assert.equal(first!.writes, 2);
    assert.equal(first!.recordsWritten, 3, 'DynamoDB requests per record written count the order written back too');
    assert.equal(first!.writePhaseSeconds, 2);
    assert.equal(unchanged!.syncTokens, 0, 'the deal poll reads Pipedrive on its own: not the QAD -> Pipedrive sync');
    assert.equal(unchanged!.tokens, 20);
    assert.equal(changed!.floor, 80);
    assert.equal(changed!.syncTokens, 50);
    assert.equal(first!.records, 1000 + 1848 + 500 + 50);
    assert.ok(first!.cost.perMillionRecordsUsd > 0);
  });
});
