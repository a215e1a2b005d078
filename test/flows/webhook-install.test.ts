import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, test } from 'node:test';
import { basicAuthMatches, webhookCredentialsSchema } from '../../shared/domain/webhook.ts';
import { checkTenant } from '../../shared/operations/check.ts';
import { installWebhook, removeWebhook, webhookUser } from '../../shared/operations/webhook.ts';
import { TENANT } from '../integration/harness.ts';
import { startMemoryWorld, type MemoryWorld } from './memory-deps.ts';

let w: MemoryWorld | undefined;
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await w?.close();
  w = undefined;
  for (const close of closers.splice(0)) await close();
});

const PREFIX = 'https://abc123.execute-api.eu-central-1.amazonaws.com/webhooks/';

async function webhookWorld() {
  w = await startMemoryWorld();
  const deps = { ...w.handlerDeps('orders'), cipher: w.cipher };
  return { world: w, deps };
}

/** An HTTP endpoint that records what is posted and answers with the next status of `answers` (the last one repeats). */
async function endpoint(answers: number[]) {
  const received: Array<{ authorization: string | undefined; body: Record<string, unknown> }> = [];
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({
        authorization: req.headers.authorization,
        body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>,
      });
      res.writeHead(answers[Math.min(received.length - 1, answers.length - 1)]!).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise((resolve) => server.close(() => resolve())));
  return { prefix: `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/`, received };
}

describe('connector webhook install / remove / check, against the Pipedrive simulator', () => {
  test('install creates one v2 change.deal webhook with a stored pair; again it changes nothing; check passes', async () => {
    const { world: w1, deps } = await webhookWorld();
    const first = await installWebhook(deps, TENANT, PREFIX);
    assert.equal(first.action, 'installed');
    const hooks = w1.pd.webhooks.list();
    assert.equal(hooks.length, 1);
    assert.deepEqual(
      [hooks[0]!.subscription_url, hooks[0]!.event_action, hooks[0]!.event_object, hooks[0]!.version, hooks[0]!.http_auth_user],
      [`${PREFIX}${TENANT}`, 'change', 'deal', '2.0', webhookUser(TENANT)],
    );
    const stored = (await w1.adapters.tenants.get(TENANT))!.webhook!;
    assert.equal(stored.companyId, w1.pd.webhooks.companyId);
    const pair = webhookCredentialsSchema.parse(
      JSON.parse(await w1.cipher.decrypt(stored.secret, { tenantId: TENANT, system: 'webhook' })),
    );
    assert.ok(!stored.secret.includes(pair.password), 'stored as ciphertext only');
    await assert.rejects(w1.cipher.decrypt(stored.secret, { tenantId: TENANT, system: 'pipedrive' }), 'bound to the webhook context');

    assert.equal((await installWebhook(deps, TENANT, PREFIX)).action, 'unchanged');
    assert.equal(w1.pd.webhooks.list().length, 1);
    const row = (await checkTenant(deps.clients, (await w1.adapters.tenants.get(TENANT))!)).find((r) => r.check === 'Pipedrive webhook');
    assert.equal(row?.ok, true, row?.detail);
  });

  test('check reports the webhook missing or pointing elsewhere; install puts it right; remove deletes it and the pair', async () => {
    const { world: w1, deps } = await webhookWorld();
    await installWebhook(deps, TENANT, PREFIX);
    const webhookRow = async () =>
      (await checkTenant(deps.clients, (await w1.adapters.tenants.get(TENANT))!)).find((r) => r.check === 'Pipedrive webhook');
    const [ours] = w1.pd.webhooks.list();
    w1.pd.webhooks.delete(ours!.id);
    // Someone recreates it by hand, pointing at an old stack.
    w1.pd.webhooks.create({
      subscription_url: 'https://old-stack.example.com/webhooks/acme',
      event_action: 'change',
      event_object: 'deal',
      version: '2.0',
      http_auth_user: webhookUser(TENANT),
      http_auth_password: 'x'.repeat(30),
    });
    assert.match((await webhookRow())?.detail ?? '', /points elsewhere.*old-stack/u);
    const fixed = await installWebhook(deps, TENANT, PREFIX);
    assert.equal(fixed.action, 'installed');
    assert.equal(fixed.deleted.length, 1);
    assert.equal((await webhookRow())?.ok, true);
    w1.pd.webhooks.delete(w1.pd.webhooks.list()[0]!.id);
    assert.match((await webhookRow())?.detail ?? '', /missing in Pipedrive/u);

    await installWebhook(deps, TENANT, PREFIX);
    // Another integration's webhook is not ours to remove.
    w1.pd.webhooks.create({ subscription_url: 'https://other.example.com/hook', event_action: '*', event_object: '*', version: '2.0' });
    assert.equal((await removeWebhook(deps, TENANT)).action, 'removed');
    assert.deepEqual(
      w1.pd.webhooks.list().map((h) => h.subscription_url),
      ['https://other.example.com/hook'],
    );
    assert.equal((await w1.adapters.tenants.get(TENANT))!.webhook, undefined);
    assert.equal(await webhookRow(), undefined, 'no webhook row once removed');
    assert.equal((await removeWebhook(deps, TENANT)).action, 'absent');
  });

  test('install refuses a plain-http URL that is not loopback', async () => {
    const { deps } = await webhookWorld();
    await assert.rejects(installWebhook(deps, TENANT, 'http://hooks.example.com/webhooks/'), /must be https/u);
  });

  test('the simulator posts v2 deliveries with the Basic pair, retries a refusal counting attempts, can drop or double', async () => {
    const { world: w1, deps } = await webhookWorld();
    const hook = await endpoint([503, 202]);
    await installWebhook(deps, TENANT, hook.prefix);
    w1.pd.webhooks.setChaos({ retryDelaysMs: [1, 1], random: () => 0.5 });
    const deal = w1.pd.seedDeal({ title: 'Retry me', currency: 'EUR', status: 'open' });
    w1.pd.updateDeal(deal, { status: 'won' });
    await w1.pd.webhooks.idle();
    assert.deepEqual(
      hook.received.map((r) => (r.body['meta'] as { attempt: number }).attempt),
      [1, 2],
    );
    const [first] = hook.received;
    const stored = (await w1.adapters.tenants.get(TENANT))!.webhook!;
    const pair = webhookCredentialsSchema.parse(
      JSON.parse(await w1.cipher.decrypt(stored.secret, { tenantId: TENANT, system: 'webhook' })),
    );
    assert.ok(basicAuthMatches(first!.authorization, pair));
    const meta = first!.body['meta'] as Record<string, unknown>;
    assert.deepEqual([meta['action'], meta['entity'], meta['entity_id'], meta['version']], ['change', 'deal', String(deal), '2.0']);
    assert.equal((first!.body['data'] as { status: string }).status, 'won');
    // `previous` holds the changed fields only: the status and the times the win stamped, not the title.
    assert.equal((first!.body['previous'] as { status?: string }).status, 'open');
    assert.ok(!('title' in (first!.body['previous'] as object)));

    w1.pd.webhooks.setChaos({ dropRate: 1 });
    w1.pd.updateDeal(deal, { title: 'Dropped' });
    w1.pd.webhooks.setChaos({ duplicateRate: 1, random: () => 0.5 });
    w1.pd.updateDeal(deal, { title: 'Doubled' });
    await w1.pd.webhooks.idle();
    const titles = hook.received.slice(2).map((r) => (r.body['data'] as { title: string }).title);
    assert.deepEqual(titles, ['Doubled', 'Doubled']);
    assert.deepEqual([w1.pd.webhooks.stats().dropped, w1.pd.webhooks.stats().duplicated], [1, 1]);
  });
});
