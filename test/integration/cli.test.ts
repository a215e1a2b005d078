import './quiet-env.ts';
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { GetQueueAttributesCommand, ListMessageMoveTasksCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { environmentFromOutputs } from '../../scripts/cli/run.ts';
import { API_TOKEN, cli, contactRow, customerRow, QAD_PASSWORD, runWriters, startHarness, type Harness } from './harness.ts';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

// Changed today, so a second poll re-reads them inside its overlap.
const today = new Date().toISOString().slice(0, 10);
const customers = [customerRow('C1', 'Acme GmbH', today), customerRow('C2', 'Borg AB', today)];

describe('the operator CLI', () => {
  test('a deployed stack is reached through the outputs file cdk deploy writes', () => {
    const names = [
      'ConnectionsTableName',
      'SyncStateTableName',
      'AuditTableName',
      'RecordsQueueUrl',
      'RecordsDlqUrl',
      'ProductsQueueUrl',
      'ProductsDlqUrl',
      'OrdersQueueUrl',
      'OrdersDlqUrl',
      'CredentialsKeyArn',
    ];
    const outputs = { QadPipedriveConnector: Object.fromEntries(names.map((n) => [n, `value-of-${n}`])) };
    const env = environmentFromOutputs(outputs);
    assert.equal(env.CONNECTIONS_TABLE, 'value-of-ConnectionsTableName');
    assert.equal(env.ORDERS_DLQ_URL, 'value-of-OrdersDlqUrl');
    assert.deepEqual([env.KMS_KEY_ID, env.CREDENTIALS_CIPHER], ['value-of-CredentialsKeyArn', 'kms']);
    assert.throws(() => environmentFromOutputs({ QadPipedriveConnector: { ConnectionsTableName: 'x' } }), /lacks SyncStateTableName/u);
  });

  test('tenant add, list, show: secrets are encrypted, never echoed', async () => {
    h = await startHarness({ customers });
    const config = JSON.stringify({ ...h.tenant.config, tenantId: 'globex' });
    const secrets = JSON.stringify({ qadPassword: QAD_PASSWORD, pipedriveApiToken: API_TOKEN });
    const added = await cli(h, ['tenant', 'add', '--config', 'c.json', '--secrets', 's.json'], { 'c.json': config, 's.json': secrets });
    assert.equal(added.code, 0, added.err);
    assert.match(added.out, /tenant globex stored/u);
    const list = await cli(h, ['tenant', 'list']);
    assert.match(list.out, /acme\s+true/u);
    assert.match(list.out, /globex\s+true/u);
    const show = await cli(h, ['tenant', 'show', 'globex']);
    for (const output of [added.out, list.out, show.out]) {
      assert.ok(!output.includes(QAD_PASSWORD) && !output.includes(API_TOKEN), 'no secret in any output');
    }
    assert.match(show.out, /"qad": "\[encrypted\]"/u);
    const stored = await h.deps.tenants.get('globex');
    assert.ok(stored && !stored.encryptedSecrets.qad.includes(QAD_PASSWORD));
    // The operator's first steps with the new tenant: check it, then plan its first sync.
    assert.equal((await cli(h, ['check', 'globex'])).code, 0);
    h.pd.resetStats();
    const plan = await cli(h, ['sync', 'globex', '--entity', 'customers', '--dry-run']);
    assert.match(plan.out, /C1\s+create[\s\S]*C2\s+create[\s\S]*would create 2, update 0/u);
    assert.deepEqual(
      Object.keys(h.pd.stats().byEndpoint).filter((k) => !k.startsWith('GET')),
      [],
      'nothing written',
    );
    assert.equal(h.pd.organizations().length, 0);

    const bad = await cli(h, ['tenant', 'add', '--config', 'c.json', '--secrets', 's.json'], {
      'c.json': config,
      's.json': '{"qadPassword":"x"}',
    });
    assert.equal(bad.code, 1);
    assert.match(bad.err, /pipedriveApiToken is missing/u);
  });

  test('tenant add reads the QAD Swagger first: a missing entity path stores nothing and names each path and method', async () => {
    h = await startHarness({ customers });
    const config = JSON.stringify({
      ...h.tenant.config,
      tenantId: 'globex',
      qad: { ...h.tenant.config.qad, salesOrders: { ...h.tenant.config.qad.salesOrders, path: '/api/erp/orders' } },
    });
    const secrets = JSON.stringify({ qadPassword: QAD_PASSWORD, pipedriveApiToken: API_TOKEN });
    const refused = await cli(h, ['tenant', 'add', '--config', 'c.json', '--secrets', 's.json'], { 'c.json': config, 's.json': secrets });
    assert.notEqual(refused.code, 0);
    assert.match(
      refused.err,
      new RegExp(
        String.raw`tenant globex: the QAD instance at .* does not serve: ` +
          String.raw`sales orders \(lookup\): GET \/api\/erp\/orders is not in the instance's Swagger; ` +
          String.raw`sales orders \(create\): POST \/api\/erp\/orders is not`,
        'u',
      ),
    );
    assert.equal(await h.deps.tenants.get('globex'), undefined, 'nothing stored');
    // An operator who knows better (an instance not reachable yet) stores it unchecked.
    const forced = await cli(h, ['tenant', 'add', '--config', 'c.json', '--secrets', 's.json', '--no-verify'], {
      'c.json': config,
      's.json': secrets,
    });
    assert.equal(forced.code, 0, forced.err);
    assert.equal((await h.deps.tenants.get('globex'))?.config.qad.salesOrders.path, '/api/erp/orders');
  });

  test('check prints a pass/fail table and fails on a path the Swagger does not list', async () => {
    h = await startHarness({ customers });
    const ok = await cli(h, ['check', 'acme']);
    assert.equal(ok.code, 0, ok.out);
    assert.match(ok.out, /QAD login and Swagger\s+pass/u);
    assert.match(ok.out, /Pipedrive API token\s+pass\s+http:\S+: burst limit 120 requests per 2 s; daily token budget \d+ of 210000 left/u);
    assert.match(ok.out, /missing, created on first use: organization "QAD Customer Code"/u);
    h.qadTenant.setSwaggerPaths({ '/api/qracore/browses': ['get'], '/api/erp/salesOrderHeaders': ['get'] });
    const failed = await cli(h, ['check', 'acme']);
    assert.equal(failed.code, 1);
    assert.match(failed.out, /QAD sales orders \(create\)\s+FAIL\s+POST \/api\/erp\/salesOrderHeaders missing/u);
  });

  test('sync --dry-run prints the plan with field changes and writes nothing; sync writes it', async () => {
    h = await startHarness({ customers });
    const code = h.pd.addCustomField('organization', { field_name: 'QAD Customer Code', field_type: 'varchar' });
    const borg = h.pd.seedOrganization({ name: 'borg ab', custom_fields: {} });
    h.pd.resetStats();
    const plan = await cli(h, ['sync', 'acme', '--entity', 'customers', '--dry-run']);
    assert.equal(plan.code, 0, plan.err);
    assert.match(plan.out, /C1\s+create/u);
    assert.match(
      plan.out,
      new RegExp(`C2\\s+update\\s+${borg}\\s+matched by name\\s+name: "borg ab" -> "Borg AB"; .*custom_fields.${code}: null -> "C2"`, 'u'),
    );
    assert.match(plan.out, /would create 1, update 1/u);
    const writes = Object.keys(h.pd.stats().byEndpoint).filter((k) => !k.startsWith('GET'));
    assert.deepEqual(writes, [], 'a dry run writes nothing to Pipedrive');
    assert.equal((await h.deps.pollState.get('acme', 'organization')).watermark, undefined, 'nor moves the watermark');

    const real = await cli(h, ['sync', 'acme', '--entity', 'customers']);
    assert.equal(real.code, 0, real.err);
    assert.match(real.out, /create 1, update 1/u);
    // Each row says what its writer did, from the audit entry it wrote.
    assert.match(real.out, /C1\s+create/u);
    assert.match(real.out, new RegExp(`C2\\s+update\\s+${borg}`, 'u'));
    assert.equal(h.pd.organizations().length, 2);
    const again = await cli(h, ['sync', 'acme', '--entity', 'customers', '--dry-run']);
    assert.match(again.out, /would create 0, update 0, skip 2 \(2 unchanged since the last write\)/u);
  });

  test("erase removes a person's audit history, held messages, listing entries and dead letters, and says how many", async () => {
    h = await startHarness({
      customers,
      contacts: [
        contactRow('P1', 'C1', 'Ingrid Halvorsen', { 'ct_mstr.ct_email': 'ingrid.h@nordlys.example' }),
        contactRow('P2', 'C1', 'Tomas Berg'),
      ],
    });
    await cli(h, ['sync', 'acme', '--entity', 'customers']);
    await cli(h, ['sync', 'acme', '--entity', 'contacts']);
    const message = (key: string) =>
      JSON.stringify({
        v: 1,
        tenantId: 'acme',
        entity: 'person',
        key,
        hash: `h-${key}`,
        record: { id: key, email: `${key}@x.example` },
        pollId: 'p',
      });
    for (const key of ['P1', 'P2']) {
      await h.deps.holds.hold('acme', `held-${key}`, message(key), 'parked');
      await h.aws.sqs.send(new SendMessageCommand({ QueueUrl: h.aws.dlqUrl, MessageBody: message(key) }));
    }
    await h.deps.listing.save(
      'acme',
      'person',
      { byKey: new Map([['P1', [901]]]), byToken: new Map([['mail:ingrid', [{ id: 901, keyValue: 'P1' }]]]) },
      new Date().toISOString(),
    );

    const erased = await cli(h, ['erase', 'acme', 'person', 'P1', '--json']);
    assert.equal(erased.code, 0, erased.err);
    const report = JSON.parse(erased.out) as { removed: Record<string, number> };
    assert.deepEqual(report.removed, { audit: 1, held: 1, listing: 2, deadLetters: 1 });
    const history = await h.deps.audit.history('acme', 'person', 'P1');
    assert.deepEqual(
      history.map((e) => e.action),
      ['erased'],
    );
    assert.ok(!JSON.stringify(history).includes('ingrid'), 'the erasure is audited without the data it removed');
    assert.deepEqual(
      (await h.deps.holds.held('acme')).map((x) => x.messageId),
      ['held-P2'],
    );
    assert.deepEqual(
      (await h.dlqMessages()).map((m) => (JSON.parse(m.Body ?? '{}') as { key: string }).key),
      ['P2'],
      "the other person's dead letter is back, visible",
    );
    assert.equal((await h.deps.audit.history('acme', 'person', 'P2')).length, 1);
    const again = await cli(h, ['erase', 'acme', 'person', 'P1']);
    assert.match(again.out, /audit\s+0/u);
    assert.deepEqual(
      (await h.deps.audit.history('acme', 'person', 'P1')).map((e) => e.action),
      ['erased', 'erased'],
      'each erasure stays on record',
    );
  });

  test('audit, replay, redrive and status', async () => {
    h = await startHarness({ customers });
    await cli(h, ['sync', 'acme', '--entity', 'customers']);
    const audit = await cli(h, ['audit', 'acme', 'organization', 'C1']);
    assert.match(audit.out, /created\s+1/u);

    const replayed = await cli(h, ['replay', 'acme', 'organization', 'C1']);
    assert.match(replayed.out, /organization\s+C1\s+enqueued/u);
    const [message] = await h.drainMessages();
    assert.equal(message?.key, 'C1');

    await h.aws.sqs.send(new SendMessageCommand({ QueueUrl: h.aws.dlqUrl, MessageBody: '{"broken":true}' }));
    const status = await cli(h, ['status']);
    assert.match(status.out, /records\s+0\s+0\s+1/u);
    assert.match(status.out, /organization\s+\d{4}-\d{2}-\d{2}/u);
    const redriven = await cli(h, ['redrive', '--queue', 'records']);
    assert.equal(redriven.code, 0, redriven.err);
    // SQS moves the messages in the background; wait for the task to finish.
    for (let i = 0; i < 40; i++) {
      const tasks = await h.aws.sqs.send(new ListMessageMoveTasksCommand({ SourceArn: h.aws.dlqArn }));
      if (tasks.Results?.[0]?.Status === 'COMPLETED') break;
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.equal((await h.dlqMessages()).length, 0);
    assert.equal((await h.drainMessages()).length, 1, 'the message is back on its queue');

    const disabled = await cli(h, ['tenant', 'disable', 'acme']);
    assert.match(disabled.out, /tenant acme disabled/u);
    assert.equal((await h.deps.tenants.listEnabled()).length, 0);
    const unknown = await cli(h, ['frobnicate']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.err, /unknown command "frobnicate"/u);
  });
});

describe('connector sync writes as the writers do', () => {
  const contacts = [contactRow('P1', 'C1', 'Ingrid Halvorsen'), contactRow('P2', 'C2', 'Tomas Berg')];

  test('contacts before their customers are queued for the writers, never rejected; the watermark moves once all are queued', async () => {
    h = await startHarness({ customers, contacts });
    const run = await cli(h, ['sync', 'acme', '--entity', 'contacts', '--wait', '0s']);
    assert.equal(run.code, 0, run.err);
    assert.doesNotMatch(run.out, /reject|failed [1-9]/u);
    assert.match(run.out, /P1\s+queued\s+will retry in 60s: .*organization/u);
    assert.match(run.out, /create 0, update 0, .*queued for the records writers 2, failed 0/u);
    assert.equal(h.pd.persons().length, 0);
    const attributes = await h.aws.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: h.aws.queueUrl, AttributeNames: ['ApproximateNumberOfMessagesDelayed'] }),
    );
    assert.equal(
      attributes.Attributes?.ApproximateNumberOfMessagesDelayed,
      '2',
      'both wait on the work queue, as a scheduled poll leaves them',
    );
    assert.ok((await h.deps.pollState.get('acme', 'person')).watermark, 'the watermark moved: every record is on the queue');
    assert.equal((await cli(h, ['sync', 'acme', '--entity', 'contacts', '--wait', '0s'])).code, 0, 'the lease was released');
    // A scheduled poll holding the lease: nothing is read, and the operator is told so rather than shown an empty sync.
    assert.ok(await h.deps.pollState.acquire('acme', 'person', 'a-scheduled-poll', 60_000, h.clock.now()));
    const busy = await cli(h, ['sync', 'acme', '--entity', 'contacts']);
    assert.equal(busy.code, 1);
    assert.match(busy.err, /^connector sync: another poll of acme's contacts is running/mu);
  });

  test('a failed attempt is retried here after its backoff; a permanent error goes to its writer, which dead-letters it', async () => {
    h = await startHarness({ customers, contacts });
    const harness = h;
    // The backoff is waited on the harness clock, not in real time.
    const deps = { ...h.cliDeps(), clock: { now: () => harness.clock.ms, sleep: async (ms: number) => void (harness.clock.ms += ms) } };
    const sync = (argv: string[]) => cli(harness, argv, {}, deps);
    assert.equal((await sync(['sync', 'acme', '--entity', 'customers'])).code, 0);
    let failures = 2;
    h.pd.setFault((req) => (req.method === 'POST' && req.path === '/api/v2/persons' && failures-- > 0 ? { status: 503 } : undefined));
    const retried = await sync(['sync', 'acme', '--entity', 'contacts', '--wait', '5m']);
    assert.equal(retried.code, 0, retried.err);
    assert.match(retried.out, /create 2, update 0, .*queued for the records writers 0, failed 0/u);
    assert.equal(h.pd.persons().length, 2);
    for (const key of ['P1', 'P2']) {
      const history = await h.deps.audit.history('acme', 'person', key);
      assert.equal(history[0]?.action, 'created', `${key} written in the end`);
      assert.ok(
        history.some((e) => e.action === 'failed' && /HTTP 503/u.test(e.error ?? '')),
        `${key}: its failed attempt is audited`,
      );
    }

    harness.qadTenant.upsertContact(contactRow('P3', 'C1', 'Nora Lind'));
    h.pd.setFault((req) =>
      req.method === 'POST' && req.path === '/api/v2/persons' ? { status: 400, body: '{"success":false,"error":"bad"}' } : undefined,
    );
    const dead = await sync(['sync', 'acme', '--entity', 'contacts']);
    assert.equal(dead.code, 1);
    assert.match(dead.out, /P3\s+failed\s+permanent error: dead-lettered, no retries: POST \/api\/v2\/persons: HTTP 400/u);
    assert.match(dead.err, /^connector sync: 1 records failed for good \(their writer dead-letters them\)/mu);
    // The operator may not send to a DLQ (only its writer may): the writer takes it, and dead-letters it at once.
    assert.equal((await h.dlqMessages()).length, 0);
    await runWriters(harness);
    assert.deepEqual(
      (await h.dlqMessages()).map((m) => (JSON.parse(m.Body ?? '{}') as { key: string }).key),
      ['P3'],
    );
  });
});
