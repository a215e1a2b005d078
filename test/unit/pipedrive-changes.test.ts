import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { organizations } from '../../shared/flows/entities/organizations.ts';
import { changesSince, VISIBILITY_MARGIN_MS } from '../../shared/flows/pipedrive-changes.ts';
import type { PipedriveClient, RemoteRecord } from '../../shared/ports/pipedrive.ts';
import { pipedriveClientWith } from '../flows/fake-pipedrive.ts';

/**
 * Issue 19: the writers' reads of what changed in Pipedrive since the listing start from Pipedrive's own clock (the
 * newest update_time a read showed, less a visibility margin), not from ours less 30 s. Pipedrive here lists by
 * update time as the API does (whole seconds, newest first); a write may become visible a little after its stamp.
 */

const T0 = Date.parse('2026-11-30T09:00:00Z');

interface Stored {
  id: number;
  name: string;
  stampedMs: number;
  visibleMs: number;
}

function pipedriveAt(nowMs: number) {
  const stored: Stored[] = [];
  const reads: string[] = [];
  let failNext = false;
  const company: {
    nowMs: number;
    reads: string[];
    write: (name: string, stampedMs?: number, visibleMs?: number) => number;
    failNextRead: () => void;
  } = {
    nowMs,
    reads,
    /** A record written at Pipedrive's time `stampedMs` (default now), listed from `visibleMs` (default at once). */
    write(name: string, stampedMs = company.nowMs, visibleMs = stampedMs): number {
      const id = stored.length + 1;
      stored.push({ id, name, stampedMs, visibleMs });
      return id;
    },
    failNextRead: () => void (failNext = true),
  };
  const asListed = (r: Stored): RemoteRecord => ({
    id: r.id,
    name: r.name,
    update_time: new Date(Math.floor(r.stampedMs / 1000) * 1000).toISOString().replace('.000Z', 'Z'),
    custom_fields: {},
  });
  const client = pipedriveClientWith(
    {
      async list(_collection, opts) {
        reads.push(opts?.updatedSince ?? '');
        if (failNext) {
          failNext = false;
          throw new Error('503 from Pipedrive');
        }
        assert.equal(opts?.newestFirst, true, 'read newest first');
        const sinceMs = Date.parse(opts?.updatedSince ?? '1970-01-01T00:00:00Z');
        const listed = stored
          .filter((r) => r.visibleMs <= company.nowMs && Math.floor(r.stampedMs / 1000) * 1000 >= sinceMs)
          .sort((a, b) => b.stampedMs - a.stampedMs);
        return { items: listed.map(asListed), nextCursor: undefined };
      },
    },
    'changesSince',
  );
  return { client, company };
}

/** The ids changesSince shows under a name, for a writer whose batch began at `ourMs` (its own clock). */
async function namedIn(client: PipedriveClient, name: string, sinceMs: number, ourMs: number): Promise<number[]> {
  const changed = await changesSince(client, organizations, undefined, { sinceMs, scannedAfterMs: ourMs, nowMs: ourMs });
  const [sameName] = organizations.listingTokens({ id: 0, name, custom_fields: {} });
  return (changed.byToken.get(sameName!) ?? []).map((c) => c.id);
}

describe('the changes since the listing, read from Pipedrive’s clock', () => {
  test('the next read starts a visibility margin before the newest update_time the last one showed', async () => {
    const { client, company } = pipedriveAt(T0);
    company.write('Amsel Handel', T0 - 20_000);
    company.write('Buche Handel', T0 - 3_000);
    await namedIn(client, 'Amsel Handel', T0 - 60_000, T0);
    company.nowMs = T0 + 40_000;
    await namedIn(client, 'Amsel Handel', T0 - 60_000, T0 + 40_000);
    assert.deepEqual(company.reads, [
      '2026-11-30T08:59:00Z',
      new Date(T0 - 3_000 - VISIBILITY_MARGIN_MS).toISOString().replace('.000Z', 'Z'),
    ]);
  });

  test('a record stamped just before the last read’s newest, but visible only after that read, is still found', async () => {
    const { client, company } = pipedriveAt(T0);
    // A slow commit: stamped a second before the newest record the read shows, listed only once the read is over.
    const late = company.write('Dohle Handel', T0 - 1_500, T0 + 2_000);
    company.write('Eibe Handel', T0 - 500);
    assert.deepEqual(await namedIn(client, 'Dohle Handel', T0 - 60_000, T0), [], 'not visible yet');
    company.nowMs = T0 + 10_000;
    assert.deepEqual(await namedIn(client, 'Dohle Handel', T0 - 60_000, T0 + 10_000), [late]);
  });

  test('a writer whose clock runs minutes ahead of Pipedrive’s still finds a record typed by hand after its last read', async () => {
    const { client, company } = pipedriveAt(T0);
    const ahead = 10 * 60_000;
    company.write('Fink Handel', T0 - 30_000);
    await namedIn(client, 'Fink Handel', T0 - 120_000, T0 + ahead);
    company.nowMs = T0 + 5_000;
    const typed = company.write('Gerste Handel');
    assert.deepEqual(await namedIn(client, 'Gerste Handel', T0 - 120_000, T0 + ahead + 5_000), [typed]);
  });

  test('a writer whose clock runs behind re-reads no more than the margin', async () => {
    const { client, company } = pipedriveAt(T0);
    company.write('Hasel Handel', T0 - 1_000);
    await namedIn(client, 'Hasel Handel', T0 - 120_000, T0 - 10 * 60_000);
    await namedIn(client, 'Hasel Handel', T0 - 120_000, T0 - 10 * 60_000 + 1);
    assert.equal(Date.parse(company.reads[1]!), T0 - 1_000 - VISIBILITY_MARGIN_MS);
  });

  test('with nothing changed, the next read starts where the last one did', async () => {
    const { client, company } = pipedriveAt(T0);
    await namedIn(client, 'Iltis Handel', T0 - 60_000, T0);
    const typed = company.write('Iltis Handel', T0 - 50_000, T0 + 1_000);
    company.nowMs = T0 + 2_000;
    assert.deepEqual(await namedIn(client, 'Iltis Handel', T0 - 60_000, T0 + 2_000), [typed]);
    assert.deepEqual(company.reads, ['2026-11-30T08:59:00Z', '2026-11-30T08:59:00Z']);
  });
});

describe('writers sharing one read', () => {
  test('records of a batch missing the listing at once share one read; a later batch waits for it, then extends it', async () => {
    const { client, company } = pipedriveAt(T0);
    company.write('Jasmin Handel', T0 - 10_000);
    const batch = await Promise.all(['Jasmin Handel', 'Kiefer Handel', 'Linde Handel'].map((n) => namedIn(client, n, T0 - 60_000, T0)));
    assert.deepEqual(batch, [[1], [], []]);
    assert.equal(company.reads.length, 1, 'one read for the batch');

    const typed = company.write('Meise Handel', T0 + 1_000);
    company.nowMs = T0 + 2_000;
    const [early, late] = await Promise.all([
      namedIn(client, 'Meise Handel', T0 - 60_000, T0 + 2_000),
      namedIn(client, 'Meise Handel', T0 - 60_000, T0 + 3_000),
    ]);
    assert.deepEqual([early, late], [[typed], [typed]]);
    assert.equal(company.reads.length, 3, 'a batch begun after the read under way reads again');
  });

  test('a failed read serves no one: the next caller reads again instead of seeing nothing changed', async () => {
    const { client, company } = pipedriveAt(T0);
    const typed = company.write('Nelke Handel', T0 - 5_000);
    company.failNextRead();
    await assert.rejects(namedIn(client, 'Nelke Handel', T0 - 60_000, T0), /503/u);
    assert.deepEqual(await namedIn(client, 'Nelke Handel', T0 - 60_000, T0), [typed]);
  });
});
