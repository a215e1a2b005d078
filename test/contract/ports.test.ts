import { HELD_MESSAGE_DAYS } from '../../shared/config/tables.ts';
import '../integration/quiet-env.ts';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DynamoAuditLog } from '../../shared/adapters/aws/dynamo-audit-log.ts';
import { DynamoOAuthTokenStore } from '../../shared/adapters/aws/dynamo-oauth-tokens.ts';
import { DynamoKeyMap, DynamoListingIndex, DynamoPollStateStore } from '../../shared/adapters/aws/dynamo-sync-state.ts';
import { DynamoTenantHolds } from '../../shared/adapters/aws/dynamo-tenant-holds.ts';
import { DynamoBurstPauses } from '../../shared/adapters/aws/dynamo-burst-pauses.ts';
import { DynamoTenantStore } from '../../shared/adapters/aws/dynamo-tenant-store.ts';
import { createMemoryAdapters } from '../../shared/adapters/memory/index.ts';
import { parseTenantConfig, type StoredTenant } from '../../shared/config/tenant.ts';
import { ClaimHeldError, RetryLaterError } from '../../shared/domain/errors.ts';
import type { NameCandidate } from '../../shared/domain/upsert-decision.ts';
import { recordHoldId } from '../../shared/ports/index.ts';
import type {
  AuditLog,
  BurstPauses,
  EntityName,
  KeyMap,
  ListingIndex,
  OAuthTokenStore,
  PollStateStore,
  TenantHolds,
  TenantStore,
} from '../../shared/ports/index.ts';
import { startLocalAws } from '../../scripts/local/aws-stand-ins.ts';

/**
 * One set of behavioural specs per port, run against the in-memory adapters and against the DynamoDB
 * adapters on dynalite: what a flow test on memory shows holds on AWS too.
 */
interface Ports {
  tenants: TenantStore;
  keyMap: KeyMap;
  listing: ListingIndex;
  pollState: PollStateStore;
  audit: AuditLog;
  holds: TenantHolds;
  burstPauses: BurstPauses;
  oauthTokens: OAuthTokenStore;
  /** The time the audit log and the key map stamp entries with. */
  clock: { ms: number; now(): number };
  close(): Promise<void>;
}

const T0 = Date.parse('2026-11-20T08:00:00.000Z');
const LEASE = 60_000;
const ORG = 'organization';
const PERSON = 'person';
const iso = (ms: number) => new Date(ms).toISOString();

const fakeClock = () => ({
  ms: T0,
  now() {
    return this.ms;
  },
});

const implementations: Array<{ name: string; start(): Promise<Ports> }> = [
  {
    name: 'in memory',
    async start() {
      const clock = fakeClock();
      return { ...createMemoryAdapters(clock), clock, close: async () => undefined };
    },
  },
  {
    name: 'DynamoDB (dynalite)',
    async start() {
      const clock = fakeClock();
      const aws = await startLocalAws({ prefix: `contract${Math.floor(Math.random() * 1e9)}` });
      const table = aws.env.SYNC_STATE_TABLE;
      return {
        tenants: new DynamoTenantStore(aws.dynamo, aws.env.CONNECTIONS_TABLE),
        keyMap: new DynamoKeyMap(aws.dynamo, table, clock),
        listing: new DynamoListingIndex(aws.dynamo, table),
        pollState: new DynamoPollStateStore(aws.dynamo, table),
        audit: new DynamoAuditLog(aws.dynamo, aws.env.AUDIT_TABLE, 30, () => clock.now()),
        holds: new DynamoTenantHolds(aws.dynamo, table, () => clock.now()),
        burstPauses: new DynamoBurstPauses(aws.dynamo, table),
        oauthTokens: new DynamoOAuthTokenStore(aws.dynamo, table),
        clock,
        close: () => aws.close(),
      };
    },
  },
];

/** Every test works in a tenant of its own, so the specs share one table without seeing each other. */
let tenants = 0;
const newTenant = () => `tenant-${++tenants}`;

for (const implementation of implementations) {
  describe(`ports contract: ${implementation.name}`, () => {
    let p: Ports;
    before(async () => {
      p = await implementation.start();
    });
    after(() => p.close());

    describe('KeyMap', () => {
      const claim = (t: string, key: string, owner: string, nowMs: number) => p.keyMap.claim(t, ORG, key, owner, LEASE, nowMs);
      const entryOf = async (t: string, key: string) => (await p.keyMap.getMany(t, ORG, [key])).get(key);

      test('a first claim holds a new record, which then reads back as a bare entry', async () => {
        const t = newTenant();
        assert.deepEqual(await claim(t, 'C1', 'a', T0), { held: false, entry: undefined });
        assert.deepEqual([...(await p.keyMap.getMany(t, ORG, ['C1', 'C2', 'C1']))], [['C1', { qadKey: 'C1' }]]);
        assert.deepEqual(await p.keyMap.getMany(t, PERSON, ['C1']), new Map(), 'entities do not share keys');
      });

      test('getAcross reads several entities at once, each answer its own entity’s, the same key apart', async () => {
        const t = newTenant();
        await claim(t, 'C1', 'a', T0);
        await p.keyMap.complete(t, ORG, 'C1', 'a', { pipedriveId: 7, contentHash: 'h1' });
        await p.keyMap.claim(t, PERSON, 'C1', 'a', LEASE, T0);
        const [orgs, persons, none] = await p.keyMap.getAcross(t, [
          { entity: ORG, qadKeys: ['C1', 'C2'] },
          { entity: PERSON, qadKeys: ['C1'] },
          { entity: PERSON, qadKeys: [] },
        ]);
        assert.deepEqual([...orgs!], [['C1', { qadKey: 'C1', pipedriveId: 7, contentHash: 'h1' }]]);
        assert.deepEqual([...persons!], [['C1', { qadKey: 'C1' }]]);
        assert.deepEqual(none, new Map());
      });

      test('another owner is held until the lease has run out (its last millisecond included); the holder may claim again', async () => {
        const t = newTenant();
        await claim(t, 'C1', 'a', T0);
        assert.deepEqual(await claim(t, 'C1', 'b', T0 + 1), { held: true, until: T0 + LEASE, owner: 'a' }, 'and says by whom');
        assert.deepEqual(await claim(t, 'C1', 'b', T0 + LEASE), { held: true, until: T0 + LEASE, owner: 'a' });
        assert.deepEqual(await claim(t, 'C1', 'a', T0 + 10), { held: false, entry: undefined }, 'the holder extends its lease');
        assert.deepEqual(await claim(t, 'C1', 'b', T0 + LEASE + 1), { held: true, until: T0 + 10 + LEASE, owner: 'a' });
        assert.deepEqual(await claim(t, 'C1', 'b', T0 + 11 + LEASE), { held: false, entry: undefined });
      });

      test('complete records the id and hash and releases the claim: the next claim goes at once and sees them', async () => {
        const t = newTenant();
        await claim(t, 'C1', 'a', T0);
        await p.keyMap.complete(t, ORG, 'C1', 'a', { pipedriveId: 7, contentHash: 'h1' });
        const mapped = { qadKey: 'C1', pipedriveId: 7, contentHash: 'h1' };
        assert.deepEqual(await entryOf(t, 'C1'), mapped);
        assert.deepEqual(await claim(t, 'C1', 'b', T0 + 1), { held: false, entry: mapped });
      });

      test('only the holder writes: anyone else completing, marking or forgetting gets ClaimHeldError and changes nothing', async () => {
        const t = newTenant();
        await claim(t, 'C1', 'a', T0);
        await assert.rejects(p.keyMap.complete(t, ORG, 'C1', 'b', { pipedriveId: 1, contentHash: 'h' }), ClaimHeldError);
        await assert.rejects(p.keyMap.markPendingCreate(t, ORG, 'C1', 'b', iso(T0)), ClaimHeldError);
        await assert.rejects(p.keyMap.clearPendingCreate(t, ORG, 'C1', 'b'), ClaimHeldError);
        await assert.rejects(p.keyMap.forgetPipedriveId(t, ORG, 'C1', 'b'), ClaimHeldError);
        assert.deepEqual(await entryOf(t, 'C1'), { qadKey: 'C1' });
        await assert.rejects(p.keyMap.complete(t, ORG, 'C9', 'a', { pipedriveId: 1, contentHash: 'h' }), ClaimHeldError);
        assert.equal(await entryOf(t, 'C9'), undefined, 'a record never claimed is not created by a refused write');
      });

      test('a lease that ran out is lost only to a new claim: until then the holder writes; after, it cannot, nor release', async () => {
        const t = newTenant();
        await claim(t, 'C1', 'a', T0);
        await p.keyMap.markPendingCreate(t, ORG, 'C1', 'a', iso(T0 + 2 * LEASE));
        assert.deepEqual(await claim(t, 'C1', 'b', T0 + LEASE + 1), {
          held: false,
          entry: { qadKey: 'C1', pendingCreateAt: iso(T0 + 2 * LEASE) },
        });
        await assert.rejects(p.keyMap.complete(t, ORG, 'C1', 'a', { pipedriveId: 1, contentHash: 'h' }), ClaimHeldError);
        await p.keyMap.release(t, ORG, 'C1', 'a');
        assert.deepEqual(
          await claim(t, 'C1', 'c', T0 + LEASE + 2),
          { held: true, until: T0 + 2 * LEASE + 1, owner: 'b' },
          'b still holds it',
        );
      });

      test('release frees the record at once, and only the holder can release it', async () => {
        const t = newTenant();
        await claim(t, 'C1', 'a', T0);
        await p.keyMap.release(t, ORG, 'C1', 'b');
        assert.equal((await claim(t, 'C1', 'c', T0 + 1)).held, true);
        await p.keyMap.release(t, ORG, 'C1', 'a');
        assert.equal((await claim(t, 'C1', 'c', T0 + 1)).held, false);
      });

      test('a pending create makes the record known; clearing it or completing removes the marker', async () => {
        const t = newTenant();
        await claim(t, 'C1', 'a', T0);
        await p.keyMap.markPendingCreate(t, ORG, 'C1', 'a', iso(T0));
        await p.keyMap.release(t, ORG, 'C1', 'a');
        assert.deepEqual(await claim(t, 'C1', 'b', T0), { held: false, entry: { qadKey: 'C1', pendingCreateAt: iso(T0) } });
        await p.keyMap.clearPendingCreate(t, ORG, 'C1', 'b');
        await p.keyMap.release(t, ORG, 'C1', 'b');
        assert.deepEqual(await claim(t, 'C1', 'c', T0), { held: false, entry: undefined });
        await p.keyMap.markPendingCreate(t, ORG, 'C1', 'c', iso(T0));
        await p.keyMap.complete(t, ORG, 'C1', 'c', { pipedriveId: 9, contentHash: 'h9' });
        assert.deepEqual(await claim(t, 'C1', 'd', T0), { held: false, entry: { qadKey: 'C1', pipedriveId: 9, contentHash: 'h9' } });
      });

      test('forgetPipedriveId drops the id and the hash and keeps the reference; complete without one keeps it too', async () => {
        const t = newTenant();
        await claim(t, 'C1', 'a', T0);
        await p.keyMap.complete(t, ORG, 'C1', 'a', { pipedriveId: 5, contentHash: 'h5', ref: 'SO-1' });
        await claim(t, 'C1', 'b', T0);
        await p.keyMap.complete(t, ORG, 'C1', 'b', { pipedriveId: 5, contentHash: 'h6' });
        assert.deepEqual(await entryOf(t, 'C1'), { qadKey: 'C1', pipedriveId: 5, contentHash: 'h6', ref: 'SO-1' });
        await claim(t, 'C1', 'c', T0);
        await p.keyMap.forgetPipedriveId(t, ORG, 'C1', 'c');
        assert.deepEqual(await entryOf(t, 'C1'), { qadKey: 'C1', ref: 'SO-1' });
        assert.deepEqual(await p.keyMap.listMapped(t, ORG), []);
      });

      test('listIncomplete lists pending creates and hash-less mapped records whose claim ran out, nothing else', async () => {
        const t = newTenant();
        await claim(t, 'P1', 'a', T0);
        await p.keyMap.markPendingCreate(t, ORG, 'P1', 'a', iso(T0));
        await claim(t, 'P2', 'a', T0);
        await p.keyMap.complete(t, ORG, 'P2', 'a', { pipedriveId: 2, contentHash: 'h2' });
        await claim(t, 'P3', 'a', T0);
        await p.keyMap.markRejected(t, ORG, 'P4', 'bad');
        const incomplete = async (nowMs: number) => (await p.keyMap.listIncomplete(t, ORG, nowMs)).map((e) => e.qadKey);
        assert.deepEqual(await incomplete(T0), [], 'claims still running: their writers are on it');
        assert.deepEqual(await incomplete(T0 + 3_600_000), ['P1'], 'a claim alone (in flight, held or dead-lettered) is not listed');
      });

      test('markRejected and markGone need no claim; a claim hands over the rejection; complete clears both marks', async () => {
        const t = newTenant();
        await p.keyMap.markRejected(t, ORG, 'C1', 'bad-hash', iso(T0));
        p.clock.ms = T0 + 7;
        await p.keyMap.markRejected(t, ORG, 'C2', 'bad-2');
        assert.deepEqual(await entryOf(t, 'C1'), { qadKey: 'C1', rejectedHash: 'bad-hash', rejectedAt: iso(T0) });
        assert.equal((await entryOf(t, 'C2'))?.rejectedAt, iso(T0 + 7), 'stamped with the clock when no time is given');
        assert.deepEqual(
          (await p.keyMap.listRejected(t, ORG)).map((e) => [e.qadKey, e.rejectedHash]),
          [
            ['C1', 'bad-hash'],
            ['C2', 'bad-2'],
          ],
        );
        // The writer of a rejected deal must see the rejection, or every copy of its message asks QAD again.
        assert.deepEqual(await claim(t, 'C1', 'a', T0), {
          held: false,
          entry: { qadKey: 'C1', rejectedHash: 'bad-hash', rejectedAt: iso(T0) },
        });
        await p.keyMap.markGone(t, ORG, 'C1', iso(T0 + 1));
        assert.equal((await entryOf(t, 'C1'))?.goneAt, iso(T0 + 1));
        await p.keyMap.complete(t, ORG, 'C1', 'a', { pipedriveId: 3, contentHash: 'h3' });
        assert.deepEqual(await entryOf(t, 'C1'), { qadKey: 'C1', pipedriveId: 3, contentHash: 'h3' });
        assert.deepEqual(
          (await p.keyMap.listRejected(t, ORG)).map((e) => e.qadKey),
          ['C2'],
        );
        await p.keyMap.markGone(t, ORG, 'C3', iso(T0));
        assert.deepEqual(await entryOf(t, 'C3'), { qadKey: 'C3', goneAt: iso(T0) }, 'marking a key never seen creates its entry');
      });

      test('markNoted keeps each note fingerprint once, needs no claim, and survives a completed write', async () => {
        const t = newTenant();
        await p.keyMap.markNoted(t, ORG, 'D1', 'reason-b');
        await p.keyMap.markNoted(t, ORG, 'D1', 'reason-a');
        await p.keyMap.markNoted(t, ORG, 'D1', 'reason-b');
        assert.deepEqual(await entryOf(t, 'D1'), { qadKey: 'D1', noted: ['reason-a', 'reason-b'] });
        await claim(t, 'D1', 'a', T0);
        await p.keyMap.complete(t, ORG, 'D1', 'a', { pipedriveId: 4, contentHash: 'h4', ref: 'S1' });
        assert.deepEqual((await entryOf(t, 'D1'))?.noted, ['reason-a', 'reason-b']);
      });

      test('markNoted with an owner marks only while that delivery holds the claim: one that lost it to another is refused', async () => {
        const t = newTenant();
        await claim(t, 'D2', 'a', T0);
        await p.keyMap.markNoted(t, ORG, 'D2', 'pending:x', 'a');
        // The lease ran out and another delivery took the record over: the first may no longer mark (nor send).
        await claim(t, 'D2', 'b', T0 + LEASE + 1);
        await assert.rejects(p.keyMap.markNoted(t, ORG, 'D2', 'pending:y', 'a'), ClaimHeldError);
        await p.keyMap.markNoted(t, ORG, 'D2', 'pending:z', 'b');
        assert.deepEqual((await entryOf(t, 'D2'))?.noted, ['pending:x', 'pending:z']);
      });

      test('a claim as a create marks it pending in the same write, only on a record with neither id nor pending create', async () => {
        const t = newTenant();
        const asCreate = (key: string, owner: string, nowMs: number) =>
          p.keyMap.claim(t, ORG, key, owner, LEASE, nowMs, { pendingCreateAt: iso(nowMs) });
        assert.deepEqual(await asCreate('N1', 'a', T0), { held: false, entry: undefined, pendingSince: iso(T0) });
        assert.deepEqual(await entryOf(t, 'N1'), { qadKey: 'N1', pendingCreateAt: iso(T0) });
        assert.deepEqual(await asCreate('N1', 'b', T0 + 1), { held: true, until: T0 + LEASE, owner: 'a' });
        // Never sent: the release takes the marker with it; sent (a lost answer): an ordinary release keeps it.
        await p.keyMap.release(t, ORG, 'N1', 'a', { pendingCreate: true });
        assert.deepEqual(await entryOf(t, 'N1'), { qadKey: 'N1' });
        await asCreate('N1', 'c', T0 + 2);
        await p.keyMap.release(t, ORG, 'N1', 'c');
        const pending = { qadKey: 'N1', pendingCreateAt: iso(T0 + 2) };
        assert.deepEqual(
          await asCreate('N1', 'd', T0 + 3),
          { held: false, entry: pending },
          'pending: an ordinary claim, the first marker kept',
        );
        await p.keyMap.complete(t, ORG, 'N1', 'd', { pipedriveId: 9, contentHash: 'h9' });
        const mapped = { qadKey: 'N1', pipedriveId: 9, contentHash: 'h9' };
        assert.deepEqual(await asCreate('N1', 'e', T0 + 4), { held: false, entry: mapped }, 'mapped: an ordinary claim');
        assert.deepEqual(await entryOf(t, 'N1'), mapped);
        await p.keyMap.markHeld(t, ORG, 'N2');
        assert.deepEqual(await asCreate('N2', 'a', T0), { held: false, entry: undefined, holdMarks: 1, pendingSince: iso(T0) });
      });

      test('markHeld counts holds for a person; a claim answers the count; clearHeld forgets it only as it was seen', async () => {
        const t = newTenant();
        await p.keyMap.markHeld(t, ORG, 'H1');
        assert.deepEqual(await claim(t, 'H1', 'a', T0), { held: false, entry: undefined, holdMarks: 1 }, 'marking creates the entry');
        await p.keyMap.markHeld(t, ORG, 'H1');
        await p.keyMap.complete(t, ORG, 'H1', 'a', { pipedriveId: 5, contentHash: 'h5' });
        const mapped = { qadKey: 'H1', pipedriveId: 5, contentHash: 'h5' };
        assert.deepEqual(await entryOf(t, 'H1'), mapped, 'not part of the entry');
        await p.keyMap.clearHeld(t, ORG, 'H1', 1);
        assert.deepEqual(await claim(t, 'H1', 'b', T0), { held: false, entry: mapped, holdMarks: 2 }, 'held again since 1 was seen');
        await p.keyMap.clearHeld(t, ORG, 'H1', 2);
        await p.keyMap.release(t, ORG, 'H1', 'b');
        assert.deepEqual(await claim(t, 'H1', 'c', T0), { held: false, entry: mapped });
        await p.keyMap.clearHeld(t, ORG, 'H9', 1);
        assert.equal(await entryOf(t, 'H9'), undefined, 'clearing a record never marked creates nothing');
      });

      test('listMapped lists the mapped records of one tenant and entity, in key order, gone ones with their mark', async () => {
        const t = newTenant();
        for (const [key, id] of [
          ['B', 2],
          ['A', 1],
          ['C', 3],
        ] as const) {
          await claim(t, key, 'a', T0);
          await p.keyMap.complete(t, ORG, key, 'a', { pipedriveId: id, contentHash: `h${id}` });
        }
        await claim(t, 'D', 'a', T0);
        await p.keyMap.markRejected(t, ORG, 'E', 'bad', iso(T0));
        const other = newTenant();
        await p.keyMap.claim(other, ORG, 'Z', 'a', LEASE, T0);
        await p.keyMap.complete(other, ORG, 'Z', 'a', { pipedriveId: 26, contentHash: 'h' });
        await p.keyMap.claim(t, PERSON, 'P', 'a', LEASE, T0);
        await p.keyMap.complete(t, PERSON, 'P', 'a', { pipedriveId: 16, contentHash: 'h' });
        await p.keyMap.markGone(t, ORG, 'B', iso(T0));
        assert.deepEqual(await p.keyMap.listMapped(t, ORG), [
          { qadKey: 'A', pipedriveId: 1, contentHash: 'h1' },
          { qadKey: 'B', pipedriveId: 2, contentHash: 'h2', goneAt: iso(T0) },
          { qadKey: 'C', pipedriveId: 3, contentHash: 'h3' },
        ]);
      });

      test('the first QAD key to claim a Pipedrive record owns it, per tenant and entity', async () => {
        const t = newTenant();
        assert.deepEqual(await p.keyMap.claimPipedriveRecord(t, ORG, 42, 'C1'), { owner: 'C1' });
        assert.deepEqual(await p.keyMap.claimPipedriveRecord(t, ORG, 42, 'C2'), { owner: 'C1' });
        assert.deepEqual(await p.keyMap.claimPipedriveRecord(t, ORG, 42, 'C1'), { owner: 'C1' });
        assert.deepEqual(await p.keyMap.claimPipedriveRecord(t, PERSON, 42, 'P1'), { owner: 'P1' });
        assert.deepEqual(await p.keyMap.claimPipedriveRecord(newTenant(), ORG, 42, 'X'), { owner: 'X' });
        assert.deepEqual(await p.keyMap.ownersOf(t, ORG, [42, 43, 42]), new Map([[42, 'C1']]));
        assert.deepEqual(await p.keyMap.ownersOf(t, ORG, []), new Map());
      });
    });

    describe('ListingIndex', () => {
      const candidates = (...ids: Array<[number, string | null]>): NameCandidate[] => ids.map(([id, keyValue]) => ({ id, keyValue }));
      const longToken = 'ü'.repeat(300);

      test('nothing until a listing is saved; then its meta, and matches by QAD key and by token', async () => {
        const t = newTenant();
        assert.equal(await p.listing.meta(t, ORG), undefined);
        assert.deepEqual(await p.listing.lookup(t, ORG, 'C1', ['acme']), { byKey: [], byToken: new Map() });
        const byToken = new Map([
          ['acme', candidates([1, 'C1'], [4, null])],
          [longToken, candidates([5, null])],
        ]);
        const byKey = new Map([
          ['C1', [1]],
          ['C2', [2, 3]],
        ]);
        await p.listing.save(t, ORG, { byKey, byToken }, iso(T0));
        assert.deepEqual(await p.listing.meta(t, ORG), { listedAt: iso(T0), records: 5 });
        assert.deepEqual(await p.listing.lookup(t, ORG, 'C2', ['acme', 'nobody']), {
          byKey: [2, 3],
          byToken: new Map([['acme', candidates([1, 'C1'], [4, null])]]),
        });
        assert.deepEqual(await p.listing.lookup(t, ORG, 'C9', [longToken]), {
          byKey: [],
          byToken: new Map([[longToken, candidates([5, null])]]),
        });
        assert.equal(await p.listing.meta(t, PERSON), undefined, 'per entity');
        assert.equal(await p.listing.meta(newTenant(), ORG), undefined, 'per tenant');
      });

      test("lookupMany answers each record's lookup, shared tokens and all, beyond one request's 100 keys", async () => {
        const t = newTenant();
        const byKey = new Map(Array.from({ length: 70 }, (_, i) => [`K${i}`, [i]]));
        const byToken = new Map(Array.from({ length: 70 }, (_, i) => [`name:${i}`, candidates([i, null], [1000 + i, 'X'])]));
        await p.listing.save(t, ORG, { byKey, byToken }, iso(T0));
        const queries = Array.from({ length: 70 }, (_, i) => ({ qadKey: `K${i}`, tokens: [`name:${i}`, 'name:0', 'unknown'] }));
        const many = await p.listing.lookupMany(t, ORG, [...queries, { qadKey: 'K99', tokens: [] }]);
        assert.equal(many.size, 71);
        for (const q of queries) assert.deepEqual(many.get(q.qadKey), await p.listing.lookup(t, ORG, q.qadKey, q.tokens), q.qadKey);
        assert.deepEqual(many.get('K5'), {
          byKey: [5],
          byToken: new Map([
            ['name:5', candidates([5, null], [1005, 'X'])],
            ['name:0', candidates([0, null], [1000, 'X'])],
          ]),
        });
        assert.deepEqual(many.get('K99'), { byKey: [], byToken: new Map() });
        assert.deepEqual(await p.listing.lookupMany(t, ORG, []), new Map());
      });

      test('a second save adds to the first (nothing is deleted) and its meta counts only its own records', async () => {
        const t = newTenant();
        await p.listing.save(t, ORG, { byKey: new Map([['C1', [1]]]), byToken: new Map([['acme', candidates([1, 'C1'])]]) }, iso(T0));
        await p.listing.save(t, ORG, { byKey: new Map([['C2', [2]]]), byToken: new Map() }, iso(T0 + 1));
        assert.deepEqual(await p.listing.meta(t, ORG), { listedAt: iso(T0 + 1), records: 1 });
        assert.deepEqual(await p.listing.lookup(t, ORG, 'C1', ['acme']), {
          byKey: [1],
          byToken: new Map([['acme', candidates([1, 'C1'])]]),
        });
        assert.deepEqual((await p.listing.lookup(t, ORG, 'C2', [])).byKey, [2]);
      });

      test('an erasure forgets the record by key and by Pipedrive id, under every token; the others stay', async () => {
        const t = newTenant();
        const byToken = new Map([
          ['mail:p1', candidates([11, 'P1'])],
          ['name:anna', candidates([11, null], [12, 'P2'])],
          ['name:bo', candidates([12, 'P2'], [13, 'P3'])],
        ]);
        await p.listing.save(
          t,
          PERSON,
          {
            byKey: new Map([
              ['P1', [11]],
              ['P2', [12]],
            ]),
            byToken,
          },
          iso(T0),
        );
        assert.equal(await p.listing.erase(t, PERSON, 'P1', [11]), 3);
        assert.deepEqual(await p.listing.lookup(t, PERSON, 'P1', ['mail:p1', 'name:anna', 'name:bo']), {
          byKey: [],
          byToken: new Map([
            ['name:anna', candidates([12, 'P2'])],
            ['name:bo', candidates([12, 'P2'], [13, 'P3'])],
          ]),
        });
        assert.deepEqual((await p.listing.lookup(t, PERSON, 'P2', [])).byKey, [12]);
        assert.equal(await p.listing.erase(t, PERSON, 'P1', [11]), 0, 'twice is a no-op');
      });
    });

    describe('PollStateStore', () => {
      const state = { watermark: '2026-11-20', lastPolledAt: iso(T0), fullReadAt: iso(T0) };

      test('empty until a poll finishes; finish advances the state and releases the lease', async () => {
        const t = newTenant();
        assert.deepEqual(await p.pollState.get(t, ORG), {});
        assert.equal(await p.pollState.acquire(t, ORG, 'a', LEASE, T0), true);
        await p.pollState.finish(t, ORG, 'a', state);
        assert.deepEqual(await p.pollState.get(t, ORG), state);
        assert.equal(await p.pollState.acquire(t, ORG, 'b', LEASE, T0 + 1), true, 'released by finish');
        await p.pollState.finish(t, ORG, 'b', { watermark: '2026-11-21', lastPolledAt: iso(T0 + 1) });
        assert.deepEqual(await p.pollState.get(t, ORG), { watermark: '2026-11-21', lastPolledAt: iso(T0 + 1), fullReadAt: iso(T0) });
        assert.deepEqual(await p.pollState.get(t, 'field:organization'), {}, 'per scope');
      });

      test('one holder at a time, the holder itself included, until the lease runs out', async () => {
        const t = newTenant();
        assert.equal(await p.pollState.acquire(t, ORG, 'a', LEASE, T0), true);
        assert.equal(await p.pollState.acquire(t, ORG, 'b', LEASE, T0 + 1), false);
        assert.equal(await p.pollState.acquire(t, ORG, 'a', LEASE, T0 + 1), false);
        assert.equal(await p.pollState.acquire(t, ORG, 'b', LEASE, T0 + LEASE), false);
        assert.equal(await p.pollState.acquire(t, PERSON, 'b', LEASE, T0 + 1), true, 'another scope is free');
        assert.equal(await p.pollState.acquire(t, ORG, 'b', LEASE, T0 + LEASE + 1), true);
      });

      test('a lost lease: finish throws RetryLaterError and advances nothing; only the holder releases', async () => {
        const t = newTenant();
        await p.pollState.acquire(t, ORG, 'a', LEASE, T0);
        assert.equal(await p.pollState.acquire(t, ORG, 'b', LEASE, T0 + LEASE + 1), true);
        await assert.rejects(p.pollState.finish(t, ORG, 'a', state), RetryLaterError);
        assert.deepEqual(await p.pollState.get(t, ORG), {});
        await p.pollState.release(t, ORG, 'a');
        assert.equal(await p.pollState.acquire(t, ORG, 'c', LEASE, T0 + LEASE + 2), false, 'b still holds it');
        await p.pollState.release(t, ORG, 'b');
        assert.equal(await p.pollState.acquire(t, ORG, 'c', LEASE, T0 + LEASE + 2), true);
        await assert.rejects(p.pollState.finish(newTenant(), ORG, 'a', state), RetryLaterError, 'never acquired');
      });
    });

    describe('AuditLog', () => {
      const entry = (tenantId: string, key: string, action: 'created' | 'updated' | 'unchanged', entity: EntityName = ORG) => ({
        tenantId,
        entity,
        key,
        action,
      });

      test("an erasure deletes one record's whole history, no other record's", async () => {
        const t = newTenant();
        p.clock.ms = T0;
        for (let i = 0; i < 30; i++) await p.audit.record(entry(t, 'P1', 'updated', PERSON));
        await p.audit.record(entry(t, 'P2', 'created', PERSON));
        await p.audit.record(entry(t, 'P1', 'created'));
        await p.audit.record({ tenantId: t, entity: PERSON, key: 'P9', action: 'erased', reason: 'an earlier erasure' });
        assert.equal(await p.audit.erase(t, PERSON, 'P1'), 30);
        assert.deepEqual(await p.audit.history(t, PERSON, 'P1'), []);
        assert.equal(await p.audit.erase(t, PERSON, 'P9'), 0, "an erasure's own entry stays");
        assert.equal((await p.audit.history(t, PERSON, 'P2')).length, 1);
        assert.equal((await p.audit.history(t, ORG, 'P1')).length, 1, 'per entity');
        assert.equal((await p.audit.byTenant(t, iso(T0), iso(T0 + 1))).length, 3);
      });

      test("a record's history is its own, newest first; entries of one millisecond newest first too", async () => {
        const t = newTenant();
        p.clock.ms = T0;
        await p.audit.record(entry(t, 'C1', 'created'));
        p.clock.ms = T0 + 1_000;
        await p.audit.record(entry(t, 'C1', 'updated'));
        await p.audit.record(entry(t, 'C1', 'unchanged'));
        await p.audit.record(entry(t, 'C2', 'created'));
        await p.audit.record(entry(t, 'C1', 'created', PERSON));
        await p.audit.record(entry(newTenant(), 'C1', 'created'));
        assert.deepEqual(
          (await p.audit.history(t, ORG, 'C1')).map((e) => [e.action, e.at]),
          [
            ['unchanged', iso(T0 + 1_000)],
            ['updated', iso(T0 + 1_000)],
            ['created', iso(T0)],
          ],
        );
      });

      test("a tenant's entries from one time up to (not including) another, oldest first, across entities", async () => {
        const t = newTenant();
        const at = [T0, T0 + 1_000, T0 + 2_000, T0 + 3_000];
        for (const [i, ms] of at.entries()) {
          p.clock.ms = ms;
          await p.audit.record(entry(t, `K${i}`, 'created', i === 1 ? PERSON : ORG));
        }
        p.clock.ms = T0 + 1_500;
        await p.audit.record(entry(newTenant(), 'X', 'created'));
        const keys = async (from: number, to: number) => (await p.audit.byTenant(t, iso(from), iso(to))).map((e) => [e.key, e.at]);
        assert.deepEqual(await keys(T0 + 1_000, T0 + 3_000), [
          ['K1', iso(T0 + 1_000)],
          ['K2', iso(T0 + 2_000)],
        ]);
        assert.deepEqual(
          (await keys(T0, T0 + 3_001)).map(([k]) => k),
          ['K0', 'K1', 'K2', 'K3'],
        );
      });

      test('entries written together keep the time each was decided, read back as entries written one by one', async () => {
        const t = newTenant();
        p.clock.ms = T0 + 9_000;
        // 30: more than one BatchWriteItem takes.
        const decided = Array.from({ length: 30 }, (_, i) => ({ ...entry(t, `B${i % 3}`, 'updated'), at: iso(T0 + i * 10) }));
        await p.audit.recordAll([...decided, { ...entry(t, 'B0', 'created', PERSON), reason: 'r'.repeat(2_100), at: iso(T0) }]);
        await p.audit.recordAll([]);
        await p.audit.record(entry(t, 'B0', 'unchanged'));
        assert.deepEqual(
          (await p.audit.history(t, ORG, 'B0')).map((e) => [e.action, e.at]),
          [
            ['unchanged', iso(T0 + 9_000)],
            ...decided
              .filter((e) => e.key === 'B0')
              .map((e) => [e.action, e.at] as const)
              .reverse(),
          ],
        );
        assert.equal((await p.audit.history(t, PERSON, 'B0'))[0]?.reason, 'r'.repeat(2_000));
        assert.equal((await p.audit.byTenant(t, iso(T0), iso(T0 + 150))).length, 16);
      });

      test('an entry keeps its fields; reason and error are cut at 2,000 characters; 200 field names; detail secrets masked', async () => {
        const t = newTenant();
        p.clock.ms = T0;
        await p.audit.record({
          tenantId: t,
          entity: ORG,
          key: 'C1',
          action: 'updated',
          reason: 'r'.repeat(2_500),
          error: 'e'.repeat(2_001),
          pipedriveId: 0,
          attempt: 3,
          messageId: 'm-1',
          contentHash: 'h-1',
          fields: Array.from({ length: 250 }, (_, i) => `f${i}`),
          detail: { field: 'Region', password: 'hunter2', recordsHeld: 3, held: true },
        });
        await p.audit.record({ tenantId: t, entity: ORG, key: 'C2', action: 'skipped', reason: '', messageId: '' });
        assert.deepEqual(await p.audit.history(t, ORG, 'C1'), [
          {
            tenantId: t,
            entity: ORG,
            key: 'C1',
            action: 'updated',
            at: iso(T0),
            reason: 'r'.repeat(2_000),
            error: 'e'.repeat(2_000),
            pipedriveId: 0,
            attempt: 3,
            messageId: 'm-1',
            contentHash: 'h-1',
            fields: Array.from({ length: 200 }, (_, i) => `f${i}`),
            detail: { field: 'Region', password: '[redacted]', recordsHeld: 3, held: true },
          },
        ]);
        assert.deepEqual(await p.audit.history(t, ORG, 'C2'), [{ tenantId: t, entity: ORG, key: 'C2', action: 'skipped', at: iso(T0) }]);
      });
    });

    describe('TenantHolds', () => {
      test('a held message (it carries record content) is gone after HELD_MESSAGE_DAYS; one held later stays', async () => {
        const t = newTenant();
        p.clock.ms = T0;
        await p.holds.hold(t, 'm-old', '{"old":true}', 'parked');
        p.clock.ms = T0 + HELD_MESSAGE_DAYS * 86_400_000 - 1_000;
        await p.holds.hold(t, 'm-new', '{"new":true}', 'parked');
        assert.deepEqual(
          (await p.holds.held(t)).map((h) => h.messageId),
          ['m-new', 'm-old'],
        );
        p.clock.ms = T0 + HELD_MESSAGE_DAYS * 86_400_000;
        assert.deepEqual(
          (await p.holds.held(t, 'parked')).map((h) => h.messageId),
          ['m-new'],
        );
      });

      test('a budget gate holds until its time (not including it); a later gate replaces it, even an earlier-ending one', async () => {
        const t = newTenant();
        assert.equal(await p.holds.current(t, T0), undefined);
        await p.holds.closeBudgetGate(t, T0 + 1_000, 'spent');
        assert.deepEqual(await p.holds.current(t, T0), { kind: 'budget', untilMs: T0 + 1_000, reason: 'spent' });
        assert.deepEqual(await p.holds.current(t, T0 + 999), { kind: 'budget', untilMs: T0 + 1_000, reason: 'spent' });
        assert.equal(await p.holds.current(t, T0 + 1_000), undefined);
        await p.holds.closeBudgetGate(t, T0 + 500, 'again');
        assert.deepEqual(await p.holds.current(t, T0), { kind: 'budget', untilMs: T0 + 500, reason: 'again' });
        assert.equal(await p.holds.current(newTenant(), T0), undefined, 'per tenant');
      });

      test('parking answers true once, keeps the first reason, wins over a gate; unparking leaves the gate', async () => {
        const t = newTenant();
        await p.holds.closeBudgetGate(t, T0 + 1_000, 'spent');
        assert.equal(await p.holds.park(t, 'invalid_grant', iso(T0)), true);
        assert.equal(await p.holds.park(t, 'again', iso(T0 + 1)), false);
        assert.deepEqual(await p.holds.current(t, T0), { kind: 'parked', reason: 'invalid_grant', since: iso(T0) });
        assert.deepEqual(await p.holds.current(t, T0 + 5_000), { kind: 'parked', reason: 'invalid_grant', since: iso(T0) });
        await p.holds.unpark(t);
        assert.deepEqual(await p.holds.current(t, T0), { kind: 'budget', untilMs: T0 + 1_000, reason: 'spent' });
        assert.equal(await p.holds.park(t, 'later', iso(T0 + 2)), true);
        await p.holds.unpark(newTenant());
        assert.equal((await p.holds.current(t, T0))?.kind, 'parked', "unparking another tenant leaves this one's");
      });

      test('held messages: in message id order, by cause (parked unless named), a redelivery overwrites, released one by one', async () => {
        const t = newTenant();
        await p.holds.hold(t, 'm2', 'body-2');
        await p.holds.hold(t, 'm1', 'body-1', 'drift:organization');
        await p.holds.hold(t, 'm3', 'body-3', 'parked');
        await p.holds.hold(t, 'm2', 'body-2b');
        assert.deepEqual(await p.holds.held(t), [
          { messageId: 'm1', body: 'body-1', cause: 'drift:organization' },
          { messageId: 'm2', body: 'body-2b', cause: 'parked' },
          { messageId: 'm3', body: 'body-3', cause: 'parked' },
        ]);
        assert.deepEqual(
          (await p.holds.held(t, 'parked')).map((h) => h.messageId),
          ['m2', 'm3'],
        );
        assert.deepEqual(
          (await p.holds.held(t, 'drift:organization')).map((h) => h.messageId),
          ['m1'],
        );
        assert.deepEqual(await p.holds.held(t, 'drift:person'), []);
        await p.holds.release(t, 'm2');
        assert.deepEqual(
          (await p.holds.held(t)).map((h) => h.messageId),
          ['m1', 'm3'],
        );
        assert.deepEqual(await p.holds.held(newTenant()), []);
        assert.equal(await p.holds.current(t, T0), undefined, 'holding a message does not hold the tenant');
      });
      test("a record's hold: one per record and cause, says whether it is new, keeps reason and candidates, listed by record", async () => {
        const t = newTenant();
        const ambiguous = recordHoldId('organization', 'C#1', 'ambiguous:organization');
        const detail = {
          reason: 'two match',
          candidates: [
            { id: 7, name: 'Gamma' },
            { id: 9, name: 'Gamma (2)' },
          ],
        };
        assert.equal(await p.holds.hold(t, ambiguous, 'body-1', 'ambiguous:organization', detail), true);
        assert.equal(await p.holds.hold(t, ambiguous, 'body-2', 'ambiguous:organization', detail), false, 'held before');
        await p.holds.hold(t, recordHoldId('organization', 'C#1', 'waiting:organization'), 'body-3', 'waiting:organization');
        await p.holds.hold(t, recordHoldId('organization', 'C#10', 'ambiguous:organization'), 'body-4', 'ambiguous:organization');
        await p.holds.hold(t, 'm1', 'body-5', 'parked');
        assert.deepEqual(await p.holds.heldRecord(t, 'organization', 'C#1'), [
          { messageId: ambiguous, body: 'body-2', cause: 'ambiguous:organization', ...detail },
          { messageId: recordHoldId('organization', 'C#1', 'waiting:organization'), body: 'body-3', cause: 'waiting:organization' },
        ]);
        assert.deepEqual(await p.holds.heldRecord(t, 'person', 'C#1'), []);
        assert.equal((await p.holds.held(t)).length, 4);
        await p.holds.release(t, ambiguous);
        assert.equal(await p.holds.hold(t, ambiguous, 'body-6', 'ambiguous:organization'), true, 'new again once released');
      });
    });

    describe('BurstPauses', () => {
      test('a tenant without a wait reads 0; a wait only ever moves later, and belongs to one tenant', async () => {
        const t = newTenant();
        const other = newTenant();
        assert.equal(await p.burstPauses.until(t), 0);
        await p.burstPauses.pause(t, T0 + 2_000);
        await p.burstPauses.pause(t, T0 + 1_000);
        assert.equal(await p.burstPauses.until(t), T0 + 2_000);
        await p.burstPauses.pause(t, T0 + 3_000);
        assert.equal(await p.burstPauses.until(t), T0 + 3_000);
        assert.equal(await p.burstPauses.until(other), 0);
      });
    });

    describe('OAuthTokenStore', () => {
      test('the first save only when nothing is stored; every later one only on the stored version', async () => {
        const t = newTenant();
        assert.equal(await p.oauthTokens.get(t), undefined);
        assert.equal(await p.oauthTokens.save(t, 1, 'c0'), false);
        assert.equal(await p.oauthTokens.save(t, undefined, 'c1'), true);
        assert.deepEqual(await p.oauthTokens.get(t), { version: 1, ciphertext: 'c1' });
        assert.equal(await p.oauthTokens.save(t, undefined, 'c1b'), false);
        assert.equal(await p.oauthTokens.save(t, 2, 'c2'), false);
        assert.equal(await p.oauthTokens.save(t, 1, 'c2'), true);
        assert.equal(await p.oauthTokens.save(t, 1, 'c2b'), false, 'a token refreshed from an older version is not stored');
        assert.deepEqual(await p.oauthTokens.get(t), { version: 2, ciphertext: 'c2' });
        assert.equal(await p.oauthTokens.get(newTenant()), undefined);
      });

      test('the refresh lease: on the stored version only, one holder (itself included) until it runs out, ended by the save', async () => {
        const t = newTenant();
        assert.equal(await p.oauthTokens.beginRefresh(t, 1, 'a', LEASE, T0), false, 'nothing stored');
        assert.equal(await p.oauthTokens.get(t), undefined, 'and nothing created');
        await p.oauthTokens.save(t, undefined, 'c1');
        assert.equal(await p.oauthTokens.beginRefresh(t, 2, 'a', LEASE, T0), false, 'not the stored version');
        assert.equal(await p.oauthTokens.beginRefresh(t, 1, 'a', LEASE, T0), true);
        assert.deepEqual(await p.oauthTokens.get(t), { version: 1, ciphertext: 'c1', refreshingUntil: T0 + LEASE });
        assert.equal(await p.oauthTokens.beginRefresh(t, 1, 'b', LEASE, T0 + LEASE), false);
        assert.equal(await p.oauthTokens.beginRefresh(t, 1, 'a', LEASE, T0 + 1), false);
        assert.equal(await p.oauthTokens.beginRefresh(t, 1, 'b', LEASE, T0 + LEASE + 1), true);
        assert.equal((await p.oauthTokens.get(t))?.refreshingUntil, T0 + 2 * LEASE + 1);
        assert.equal(await p.oauthTokens.save(t, 1, 'c2'), true);
        assert.deepEqual(await p.oauthTokens.get(t), { version: 2, ciphertext: 'c2' });
        assert.equal(await p.oauthTokens.beginRefresh(t, 2, 'c', LEASE, T0 + LEASE + 2), true);
      });
    });

    describe('TenantStore', () => {
      const tenant = (tenantId: string, enabled: boolean, updatedAt: string): StoredTenant => ({
        config: parseTenantConfig({
          tenantId,
          enabled,
          qad: { baseUrl: `https://qad.example.com/${tenantId}/`, clientId: 'c', username: 'u', workspaceId: '10USA_10USACO' },
          pipedrive: { apiBaseUrl: 'https://acme.pipedrive.com' },
          schedules: { customers: 'rate(5 minutes)' },
        }),
        encryptedSecrets: { qad: `qad-${updatedAt}`, pipedrive: `pd-${updatedAt}` },
        updatedAt,
      });

      test('put, get, list and listEnabled; a put replaces the tenant whole', async () => {
        assert.equal(await p.tenants.get('store-one'), undefined);
        const one = tenant('store-one', true, iso(T0));
        const two = tenant('store-two', false, iso(T0));
        await p.tenants.put(one);
        await p.tenants.put(two);
        assert.deepEqual(await p.tenants.get('store-one'), one);
        assert.equal((await p.tenants.get('store-one'))?.config.qad.baseUrl, 'https://qad.example.com/store-one');
        const ids = (list: StoredTenant[]) => list.map((t) => t.config.tenantId).sort();
        assert.deepEqual(ids(await p.tenants.list()), ['store-one', 'store-two']);
        assert.deepEqual(await p.tenants.listEnabled(), [one]);
        const replaced = tenant('store-one', false, iso(T0 + 1));
        await p.tenants.put(replaced);
        assert.deepEqual(await p.tenants.get('store-one'), replaced);
        assert.deepEqual(await p.tenants.listEnabled(), []);
        assert.deepEqual(ids(await p.tenants.list()), ['store-one', 'store-two']);
      });

      test('a webhook installation is kept with the tenant, and a put without one drops it', async () => {
        const webhook = { url: 'https://hooks.example.com/webhooks/store-hook', companyId: 4711, secret: 'ciphertext' };
        const hooked = { ...tenant('store-hook', true, iso(T0)), webhook };
        await p.tenants.put(hooked);
        assert.deepEqual(await p.tenants.get('store-hook'), hooked);
        await p.tenants.put(tenant('store-hook', true, iso(T0 + 1)));
        assert.equal((await p.tenants.get('store-hook'))?.webhook, undefined);
      });

      test('what get returns is a copy: changing it changes nothing stored', async () => {
        await p.tenants.put(tenant('store-three', true, iso(T0)));
        const got = await p.tenants.get('store-three');
        assert.ok(got);
        got.config.enabled = false;
        got.encryptedSecrets.qad = 'changed';
        assert.deepEqual(await p.tenants.get('store-three'), tenant('store-three', true, iso(T0)));
      });

      test('a stored config is validated again when read: one that breaks the rules is refused, not used', async () => {
        const valid = tenant('store-four', true, iso(T0));
        await p.tenants.put({ ...valid, config: { ...valid.config, qad: { ...valid.config.qad, baseUrl: 'http://169.254.169.254' } } });
        await assert.rejects(p.tenants.get('store-four'), /baseUrl/u);
        // Listing skips it and names it: one bad item never hides the other tenants.
        assert.ok(!(await p.tenants.list()).some((t) => t.config.tenantId === 'store-four'));
        const [invalid] = (await p.tenants.listInvalid()).filter((i) => i.tenantId === 'store-four');
        assert.match(invalid?.reason ?? '', /baseUrl/u);
      });
    });
  });
}
