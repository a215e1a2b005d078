import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseMatch, decideFirstStep, type NameCandidate } from '../../shared/domain/upsert-decision.ts';

const NONE: ReadonlySet<number> = new Set<number>();

describe('decideFirstStep', () => {
  test('no key-map entry: match', () => {
    assert.deepEqual(decideFirstStep(undefined, 'h1'), { kind: 'match' });
    assert.deepEqual(decideFirstStep({}, 'h1'), { kind: 'match' });
  });

  test('known id with the same hash: unchanged', () => {
    assert.deepEqual(decideFirstStep({ pipedriveId: 42, contentHash: 'h1' }, 'h1'), { kind: 'unchanged', pipedriveId: 42 });
  });

  test('known id with a different hash: update', () => {
    assert.deepEqual(decideFirstStep({ pipedriveId: 42, contentHash: 'h0' }, 'h1'), { kind: 'update', pipedriveId: 42 });
  });

  test('known id without a recorded hash: update', () => {
    assert.deepEqual(decideFirstStep({ pipedriveId: 42 }, 'h1'), { kind: 'update', pipedriveId: 42 });
  });

  test('id 0 still counts as a known id', () => {
    assert.deepEqual(decideFirstStep({ pipedriveId: 0, contentHash: 'h1' }, 'h1'), { kind: 'unchanged', pipedriveId: 0 });
  });

  test('a pending create without an id: recover since the pending time', () => {
    const at = '2025-06-15T10:00:00.000Z';
    assert.deepEqual(decideFirstStep({ pendingCreateAt: at }, 'h1'), { kind: 'recover', since: at });
  });

  test('a known id wins over a stale pending create', () => {
    assert.deepEqual(decideFirstStep({ pipedriveId: 7, contentHash: 'h0', pendingCreateAt: '2025-06-15T10:00:00.000Z' }, 'h1'), {
      kind: 'update',
      pipedriveId: 7,
    });
  });
});

/** Candidates found by name: the organization's only kind of evidence besides the key. */
const named = (candidates: NameCandidate[]) => [{ via: 'name', candidates }];

describe('chooseMatch', () => {
  test('evidence counts in order: a single email match wins before the name is looked at', () => {
    const evidence = [
      { via: 'email', candidates: [{ id: 8, keyValue: null }] },
      {
        via: 'name',
        candidates: [
          { id: 8, keyValue: null },
          { id: 9, keyValue: null },
        ],
      },
    ];
    assert.deepEqual(chooseMatch('P1', [], evidence, NONE), { kind: 'matched', pipedriveId: 8, via: 'email' });
    assert.deepEqual(chooseMatch('P1', [], [{ via: 'email', candidates: [] }, evidence[1]!], NONE), {
      kind: 'ambiguous',
      ids: [8, 9],
      via: 'name',
    });
  });

  test('one key hit: matched via key', () => {
    assert.deepEqual(chooseMatch('C1', [10], named([]), NONE), { kind: 'matched', pipedriveId: 10, via: 'key' });
  });

  test('the same id found twice by key is one hit', () => {
    assert.deepEqual(chooseMatch('C1', [10, 10], named([]), NONE), { kind: 'matched', pipedriveId: 10, via: 'key' });
  });

  test('several key hits: ambiguous via key, ids sorted and unique', () => {
    assert.deepEqual(chooseMatch('C1', [30, 10, 20, 10], named([]), NONE), { kind: 'ambiguous', ids: [10, 20, 30], via: 'key' });
  });

  test('ids sort numerically, not as strings', () => {
    assert.deepEqual(chooseMatch('C1', [100, 9], named([]), NONE), { kind: 'ambiguous', ids: [9, 100], via: 'key' });
  });

  test('no key hit, one clean name candidate: matched via name', () => {
    assert.deepEqual(chooseMatch('C1', [], named([{ id: 5, keyValue: null }]), NONE), { kind: 'matched', pipedriveId: 5, via: 'name' });
  });

  test('a name candidate carrying another QAD key is excluded', () => {
    assert.deepEqual(chooseMatch('C1', [], named([{ id: 5, keyValue: 'C2' }]), NONE), { kind: 'notFound' });
  });

  test('a name candidate owned by another QAD record is excluded', () => {
    assert.deepEqual(chooseMatch('C1', [], named([{ id: 5, keyValue: null }]), new Set([5])), { kind: 'notFound' });
  });

  test('a name candidate carrying the same key is allowed', () => {
    assert.deepEqual(chooseMatch('C1', [], named([{ id: 5, keyValue: 'C1' }]), NONE), { kind: 'matched', pipedriveId: 5, via: 'name' });
  });

  test('exclusions leave the one remaining candidate matched', () => {
    const byName: NameCandidate[] = [
      { id: 1, keyValue: 'OTHER' },
      { id: 2, keyValue: null },
      { id: 3, keyValue: null },
    ];
    assert.deepEqual(chooseMatch('C1', [], named(byName), new Set([3])), { kind: 'matched', pipedriveId: 2, via: 'name' });
  });

  test('two eligible name candidates: ambiguous via name with sorted ids', () => {
    const byName: NameCandidate[] = [
      { id: 90, keyValue: null },
      { id: 12, keyValue: 'C1' },
    ];
    assert.deepEqual(chooseMatch('C1', [], named(byName), NONE), { kind: 'ambiguous', ids: [12, 90], via: 'name' });
  });

  test('the same name candidate listed twice is one candidate', () => {
    assert.deepEqual(
      chooseMatch(
        'C1',
        [],
        named([
          { id: 4, keyValue: null },
          { id: 4, keyValue: null },
        ]),
        NONE,
      ),
      { kind: 'matched', pipedriveId: 4, via: 'name' },
    );
  });

  test('nothing found: notFound', () => {
    assert.deepEqual(chooseMatch('C1', [], named([]), NONE), { kind: 'notFound' });
  });

  test('a key hit wins over name candidates', () => {
    const byName: NameCandidate[] = [
      { id: 1, keyValue: null },
      { id: 2, keyValue: null },
    ];
    assert.deepEqual(chooseMatch('C1', [77], named(byName), NONE), { kind: 'matched', pipedriveId: 77, via: 'key' });
  });

  test('key ambiguity is reported even when one name candidate would match', () => {
    assert.deepEqual(chooseMatch('C1', [3, 4], named([{ id: 3, keyValue: 'C1' }]), NONE), { kind: 'ambiguous', ids: [3, 4], via: 'key' });
  });

  test('inputs are not mutated', () => {
    const byKey = [3, 1, 2];
    chooseMatch('C1', byKey, named([]), NONE);
    assert.deepEqual(byKey, [3, 1, 2]);
  });

  test('a near-identical candidate is a possible duplicate, unless the same name matched first or another key owns it', () => {
    const near = { via: 'near-identical name', candidates: [{ id: 9, keyValue: null }], possibleDuplicate: true };
    assert.deepEqual(chooseMatch('C1', [], [{ via: 'name', candidates: [] }, near], NONE), {
      kind: 'possibleDuplicate',
      ids: [9],
      via: 'near-identical name',
    });
    assert.deepEqual(chooseMatch('C1', [], [{ via: 'name', candidates: [{ id: 5, keyValue: null }] }, near], NONE), {
      kind: 'matched',
      pipedriveId: 5,
      via: 'name',
    });
    assert.deepEqual(chooseMatch('C1', [], [near], new Set([9])), { kind: 'notFound' });
  });
});
