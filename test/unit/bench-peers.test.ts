import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { comparePeers, doubled, keyCounts, pipedriveDoubles, syncDays } from '../../scripts/bench/peers.ts';

const DAY = 86_400_000;

describe('bench comparisons', () => {
  test('doubled counts the records beyond the first under each key', () => {
    assert.equal(doubled([]), 0);
    assert.equal(doubled(['a', 'b', 'c']), 0);
    assert.equal(doubled(['a', 'b', 'a', 'a', 'c', 'c']), 3, 'a three times is two extra, c twice is one');
    assert.equal(
      doubled(['a', 'a', 'a', 'c', 'c'], keyCounts(['a', 'a', 'c'])),
      2,
      'QAD has a twice: two persons of one email are not doubled',
    );
    assert.equal(doubled(['a'], keyCounts(['a', 'a'])), 0, 'fewer than QAD has is no double (it is a loss, counted elsewhere)');
  });

  test('Pipedrive doubles: a name typed with other case or spacing is the same organization, only dataset records count', () => {
    const counted = pipedriveDoubles(
      {
        organizations: [
          { name: 'Brauerei  Nord GmbH' },
          { name: 'brauerei nord gmbh ' },
          { name: '\u00a0BRAUEREI NORD GMBH' },
          { name: 'Prospect' },
          { name: 'Prospect' },
          { name: 'Molino Sur' },
        ],
        persons: [
          { emails: [{ value: 'Ana@Molino.es' }, { value: 'ana@molino.es' }] },
          { emails: [{ value: 'ana@molino.es' }] },
          { emails: [{ value: 'x@y.z' }] },
          { emails: [{ value: 'x@y.z' }] },
        ],
        products: [{ code: 'P-1' }, { code: 'P-1' }, { code: null }, { code: null }, { code: 'P-2' }],
      },
      { names: keyCounts(['brauerei nord gmbh', 'molino sur']), emails: keyCounts(['ana@molino.es']), codes: keyCounts(['P-1', 'P-2']) },
    );
    assert.deepEqual(counted, { organizations: 2, persons: 1, products: 1, total: 4 });
    const shared = pipedriveDoubles(
      { organizations: [], persons: [{ emails: [{ value: 'info@molino.es' }] }, { emails: [{ value: 'INFO@molino.es' }] }], products: [] },
      { names: new Map(), emails: keyCounts(['info@molino.es', 'info@molino.es']), codes: new Map() },
    );
    assert.equal(shared.persons, 0, 'two QAD contacts with one email are two persons');
  });

  test('naive against connector: per record, so a peer run on part of the dataset compares; a 0 of the connector gives no ratio', () => {
    const c = comparePeers(
      { records: 500, tokens: 12_500, seconds: 250, doubled: 10 },
      { records: 3_000, tokens: 15_300, seconds: 120, doubled: 0 },
    );
    assert.equal(c.naive.tokensPerRecord, 25);
    assert.equal(c.connector.tokensPerRecord, 5.1);
    assert.equal(c.naive.recordsPerSecond, 2);
    assert.equal(c.connector.recordsPerSecond, 25);
    assert.equal(c.naive.doubledPer1000, 20);
    assert.equal(Math.round(c.ratios.tokensPerRecord! * 1000) / 1000, 4.902);
    assert.equal(c.ratios.secondsPerRecord, 12.5, '0.5 s a record against 0.04');
    assert.equal(c.ratios.doubledPer1000, null);
    assert.equal(
      comparePeers({ records: 10, tokens: 0, seconds: 0, doubled: 2 }, { records: 10, tokens: 0, seconds: 1, doubled: 1 }).ratios
        .doubledPer1000,
      2,
    );
  });

  test('a first sync over days: each later day starts at midnight UTC, the end is its time into the last day', () => {
    const start = Date.parse('2026-11-30T09:15:00Z');
    const two = syncDays(
      start,
      [
        { tokens: 89_800, elapsedMs: 40 * 60_000 },
        { tokens: 80_100, elapsedMs: 35 * 60_000 },
      ],
      90_000,
    );
    assert.equal(two.days, 2);
    assert.deepEqual(two.tokensPerDay, [89_800, 80_100]);
    assert.equal(two.daysOverCap, 0);
    assert.equal(two.finishedAtMs, Date.parse('2026-12-01T00:35:00Z'));
    assert.ok(Math.abs(two.maxShareOfCap - 89_800 / 90_000) < 1e-9);

    const one = syncDays(start, [{ tokens: 1_000, elapsedMs: 60_000 }], 90_000);
    assert.equal(one.finishedAtMs, start + 60_000, 'within its first day the sync ends its own time after the start');
    const over = syncDays(
      start,
      [
        { tokens: 90_001, elapsedMs: 1 },
        { tokens: 90_000, elapsedMs: 1 },
        { tokens: 5, elapsedMs: 2 },
      ],
      90_000,
    );
    assert.equal(over.daysOverCap, 1, 'exactly the cap is within it');
    assert.equal(over.finishedAtMs, start - (start % DAY) + 2 * DAY + 2);
  });
});
