import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { withPipedriveSim } from './with-pipedrive-sim.ts';

const TOKEN = 'notes-token';

async function addNote(url: string, body: unknown, token = TOKEN) {
  const res = await fetch(`${url}/api/v1/notes`, {
    method: 'POST',
    headers: { 'x-api-token': token, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

describe('the Pipedrive simulator: v1 notes as the v1 spec describes addNote', () => {
  test('a note on a deal costs 10 tokens; no content, no record, an unknown deal or a bad token are refused', async () => {
    await withPipedriveSim({ apiToken: TOKEN }, async (sim) => {
      const deal = sim.seedDeal({ title: 'Won', currency: 'EUR', status: 'won' });
      const ok = await addNote(sim.url, { content: '<p>Why: no organization</p>', deal_id: deal });
      assert.equal(ok.status, 200);
      assert.equal((ok.json['data'] as { deal_id: number }).deal_id, deal);
      assert.equal(sim.stats().byEndpoint['POST /api/v1/notes']?.tokens, 10);
      for (const body of [
        { deal_id: deal },
        { content: '', deal_id: deal },
        { content: '<p>x</p>' },
        { content: '<p>x</p>', deal_id: 999 },
      ])
        assert.equal((await addNote(sim.url, body)).status, 400, JSON.stringify(body));
      assert.equal((await addNote(sim.url, { content: '<p>x</p>', deal_id: deal }, 'wrong')).status, 401);
      assert.deepEqual(
        sim.notes().map((n) => [n.deal_id, n.content]),
        [[deal, '<p>Why: no organization</p>']],
      );
    });
  });
});
