import './quiet-env.ts';
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { createHttpClient } from '../../shared/clients/http.ts';
import { PERSISTENT_429_COUNT, PERSISTENT_429_MS } from '../../shared/clients/pipedrive-client.ts';
import { createTenantClients } from '../../shared/runtime/tenant-clients.ts';
import { pollWonDeals } from '../../shared/flows/poll-deals.ts';
import { registerTenant } from '../../shared/operations/register-tenant.ts';
import { handleWriterBatch } from '../../shared/flows/writer-batch.ts';
import { BUDGET_CAUSE } from '../../shared/domain/errors.ts';
import { startPipedriveSim, type PipedriveSim } from '../../scripts/simulators/pipedrive/index.ts';
import { API_TOKEN, QAD_PASSWORD, startHarness, TENANT, type Harness, enqueueBodies, organizationMessageBody } from './harness.ts';

let h: Harness | undefined;
let other: PipedriveSim | undefined;
afterEach(async () => {
  await h?.close();
  await other?.close();
  h = undefined;
  other = undefined;
});

/** Keeps the delay of each message a writer sent again, by key, passing every call on to SQS. */
function recordWaits(harness: Harness): Array<{ key: string; seconds: number }> {
  const seen: Array<{ key: string; seconds: number }> = [];
  const real = harness.deps.messages;
  harness.deps.messages = {
    setVisibility: (handle, seconds) => real.setVisibility(handle, seconds),
    requeue: async (body, seconds, counts) => {
      seen.push({ key: (JSON.parse(body) as { key: string }).key, seconds });
      await real.requeue(body, seconds, counts);
    },
    deadLetter: (b, reason, cause) => real.deadLetter(b, reason, cause),
  };
  return seen;
}

const heldForBudget = async (harness: Harness) =>
  (await harness.deps.holds.held(TENANT, BUDGET_CAUSE)).map((m) => (JSON.parse(m.body) as { key: string }).key).sort();

const calls = (sim: PipedriveSim) => sim.stats().calls;

describe('rate limits and faults', () => {
  test("one tenant's 429s never hold up another tenant's records in the same batch", async () => {
    h = await startHarness();
    other = await startPipedriveSim({ apiToken: API_TOKEN, plan: 'ultimate' });
    await registerTenant(
      h.cliDeps(),
      { ...h.tenant.config, tenantId: 'beta', pipedrive: { apiBaseUrl: other.url } },
      { qadPassword: QAD_PASSWORD, pipedriveApiToken: API_TOKEN },
    );
    const waits = recordWaits(h);
    h.pd.setFault(() => ({ status: 429, headers: { 'x-ratelimit-reset': '7', 'x-ratelimit-remaining': '0', 'x-ratelimit-limit': '120' } }));
    await enqueueBodies(h, [
      organizationMessageBody('A1', 'Acme One'),
      organizationMessageBody('B1', 'Beta One', 'beta'),
      organizationMessageBody('A2', 'Acme Two'),
      organizationMessageBody('B2', 'Beta Two', 'beta'),
    ]);
    const res = await handleWriterBatch(h.deps, await h.receiveEvent());
    assert.deepEqual(res.batchItemFailures, [], 'waits are sent again as new messages: no receive spent');
    assert.deepEqual(
      waits.map((w) => w.key),
      ['A1', 'A2'],
    );
    assert.equal(calls(h.pd), 1, 'acme: one call (429), its second record deferred without a call');
    assert.deepEqual(
      other
        .organizations()
        .map((o) => o.name)
        .sort(),
      ['Beta One', 'Beta Two'],
    );
    const [deferred] = await h.deps.audit.history(TENANT, 'organization', 'A2');
    assert.equal(deferred?.action, 'deferred');
  });

  test('a 5xx answer is retried in-process and the record goes through', async () => {
    h = await startHarness();
    let failures = 1;
    h.pd.setFault((req) =>
      req.method === 'GET' && failures-- > 0 ? { status: 503, body: '<html>Service Unavailable</html>' } : undefined,
    );
    await enqueueBodies(h, [organizationMessageBody('C1', 'Alpha GmbH')]);
    const res = await handleWriterBatch(h.deps, await h.receiveEvent());
    assert.deepEqual(res.batchItemFailures, []);
    assert.equal(h.pd.stats().byStatus['503'], 1);
    assert.deepEqual(
      h.pd.organizations().map((o) => o.name),
      ['Alpha GmbH'],
    );
    assert.equal((await h.deps.audit.history(TENANT, 'organization', 'C1'))[0]?.action, 'created');
  });

  const spentDailyBudget =
    "a spent daily budget closes the tenant's gate until the reset: no calls, held in DynamoDB, no DLQ; then a poll releases it";
  test(spentDailyBudget, async () => {
    // 22:00 UTC by every clock in the test: the simulator's budget resets at midnight, two hours on.
    const clock = { ms: Date.parse('2026-11-26T22:00:00Z') };
    h = await startHarness({ pipedrive: { now: () => clock.ms, dailyTokenBudget: 1 } });
    h.clock.now = () => clock.ms;
    const container = () => createTenantClients({ cipher: h!.cliDeps().cipher, http: createHttpClient(), now: () => clock.ms });
    h.deps.clients = container();
    const waits = recordWaits(h);
    await enqueueBodies(h, [
      organizationMessageBody('C1', 'Alpha GmbH'),
      organizationMessageBody('C2', 'Beta GmbH'),
      organizationMessageBody('C3', 'Gamma GmbH'),
    ]);

    const first = await handleWriterBatch(h.deps, await h.receiveEvent());
    assert.deepEqual(first.batchItemFailures, []);
    // The first call spent the budget (Pipedrive said 0 left); nothing more was sent.
    assert.equal(calls(h.pd), 1);
    const gate = await h.deps.holds.current(TENANT, clock.ms);
    assert.equal(gate?.kind, 'budget');
    assert.equal(gate?.kind === 'budget' && gate.untilMs, Date.parse('2026-11-27T00:00:00Z'));
    // Two hours is more than SQS can delay a message or keep it invisible from this receive: held, not looped.
    assert.deepEqual(waits, []);
    assert.deepEqual(await heldForBudget(h), ['C1', 'C2', 'C3']);
    const [why] = await h.deps.audit.history(TENANT, 'organization', '_pipedrive-access');
    assert.match(why?.reason ?? '', /daily token budget is spent: no Pipedrive calls for this tenant until 2026-11-27T00:00:00\.000Z/u);
    assert.equal((await h.dlqMessages()).length, 0);

    // Another container, another message: the gate in DynamoDB holds it without a call; the deal poll skips too.
    h.deps.clients = container();
    h.pd.resetStats();
    await enqueueBodies(h, [organizationMessageBody('C4', 'Delta GmbH')]);
    const second = await handleWriterBatch(h.deps, await h.receiveEvent());
    assert.deepEqual(second.batchItemFailures, []);
    assert.deepEqual(await heldForBudget(h), ['C1', 'C2', 'C3', 'C4']);
    const [deals] = await pollWonDeals(h.deps, { force: true });
    assert.equal(deals?.outcome, 'tenant-on-hold');
    assert.equal(calls(h.pd), 0);

    // Past the reset (a new day's budget) the gate is open and writes resume.
    clock.ms = Date.parse('2026-11-27T00:00:05Z');
    h.pd.setDailyTokenBudget(30_000);
    h.deps.clients = container();
    assert.equal(await h.deps.holds.current(TENANT, clock.ms), undefined);
    // The next poll of the tenant puts what was held back on its queue, and writes resume.
    await pollWonDeals(h.deps, { force: true });
    assert.deepEqual(await heldForBudget(h), []);
    assert.deepEqual((await h.drainMessages()).map((m) => m.key).sort(), ['C1', 'C2', 'C3', 'C4']);
    await enqueueBodies(h, [organizationMessageBody('C5', 'Epsilon GmbH')]);
    const third = await handleWriterBatch(h.deps, await h.receiveEvent());
    assert.deepEqual(third.batchItemFailures, []);
    assert.deepEqual(
      h.pd
        .organizations()
        .map((o) => o.name)
        .sort(),
      ['Epsilon GmbH'],
    );
  });

  test('429s that keep coming for a minute (without budget headers) are taken as a spent budget: gate, not the DLQ', async () => {
    h = await startHarness();
    const waits = recordWaits(h);
    // The writer's Pipedrive client on a clock the test moves.
    const clock = { ms: Date.now() };
    const deps = {
      ...h.deps,
      clients: createTenantClients({ cipher: h.cliDeps().cipher, http: createHttpClient(), now: () => clock.ms }),
    };
    // A reset longer than a call waits out in-process: each 429 sends the record back to its queue.
    h.pd.setFault(() => ({ status: 429, headers: { 'x-ratelimit-reset': '3', 'x-ratelimit-remaining': '0' } }));
    await enqueueBodies(h, [organizationMessageBody('C1', 'Alpha GmbH')]);
    // Pipedrive answers nothing but 429 for a minute: the record comes back after each wait.
    for (let i = 1; i < PERSISTENT_429_COUNT; i++) {
      assert.deepEqual((await handleWriterBatch(deps, await h.receiveEvent())).batchItemFailures, []);
      assert.equal(await h.deps.holds.current(TENANT, h.clock.now()), undefined, `429 number ${i}: a burst, back off, no gate`);
      assert.ok(waits.at(-1)!.seconds <= 6, `the reset and a little jitter: ${waits.at(-1)!.seconds}`);
      clock.ms += PERSISTENT_429_MS / (PERSISTENT_429_COUNT - 1);
      // The resent message, as SQS delivers it once its delay has passed.
      await enqueueBodies(h, [organizationMessageBody('C1', 'Alpha GmbH')]);
    }
    assert.deepEqual((await handleWriterBatch(deps, await h.receiveEvent())).batchItemFailures, []);
    assert.equal((await h.deps.holds.current(TENANT, h.clock.now()))?.kind, 'budget');
    assert.deepEqual(await heldForBudget(h), ['C1']);
    assert.equal((await h.dlqMessages()).length, 0);
  });

  test('a 429 saying the daily budget is spent closes the gate from its reset header', async () => {
    h = await startHarness();
    h.pd.setFault(() => ({
      status: 429,
      headers: { 'x-ratelimit-reset': '1', 'x-daily-ratelimit-remaining': '0', 'x-daily-ratelimit-reset': '3600' },
    }));
    await enqueueBodies(h, [organizationMessageBody('C1', 'Alpha GmbH'), organizationMessageBody('C2', 'Beta GmbH')]);
    const res = await handleWriterBatch(h.deps, await h.receiveEvent());
    assert.deepEqual(res.batchItemFailures, []);
    assert.equal(calls(h.pd), 1);
    assert.equal((await h.deps.holds.current(TENANT, h.clock.now()))?.kind, 'budget');
    assert.deepEqual(await heldForBudget(h), ['C1', 'C2']);
    assert.equal((await h.dlqMessages()).length, 0);
  });
});
