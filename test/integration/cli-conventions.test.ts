import './quiet-env.ts';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parseFieldMapping } from '../../shared/config/field-mapping.ts';
import { API_TOKEN, cli, contactRow, customerRow, itemRow, runCliWith, startHarness, type CliRun, type Harness } from './harness.ts';

/**
 * Every command with good and bad input, as a new operator types them: exit codes (0 done, 1 failed, 2 the command
 * line was wrong), one-line errors without a stack trace, errors as JSON with --json, and reasons printed whole.
 * One harness for the file; each case reads or writes only what it names.
 */
let h: Harness;
before(async () => {
  const today = new Date().toISOString().slice(0, 10);
  h = await startHarness({
    customers: [customerRow('C1', 'Acme GmbH', today, { 'cm_mstr.cm_cr_terms': 'N30' }), customerRow('C2', 'Borg AB', today)],
    contacts: [contactRow('P1', 'C1', 'Ingrid Halvorsen', { 'ct_mstr.ct_title': 'Head of purchasing' })],
    items: [itemRow('WIDGET-7', 'Widget seven')],
  });
});
after(async () => h.close());

/** The CLI as an operator runs it, with no stack injected: --outputs, --local and the environment decide. */
const alone = (argv: string[], files: Record<string, string> = {}) => runCliWith(argv, files);

/** A failed or refused run: its exit code, and one line on stderr (after any progress) naming the cause, no stack. */
function refused(run: CliRun, code: 1 | 2, cause: RegExp): void {
  assert.equal(run.code, code, `exit ${run.code}: ${run.err}`);
  const lines = run.err.split('\n');
  assert.match(lines.at(-1)!, /^connector[ :]/u, run.err);
  assert.match(lines.at(-1)!, cause);
  assert.ok(!/^\s+at /mu.test(run.err), `no stack trace: ${run.err}`);
  assert.ok(lines.filter((l) => l.startsWith('connector')).length === 1, `one error line: ${run.err}`);
}

/** The same refusal with --json: nothing on stderr but progress, the error as JSON on stdout. */
function refusedAsJson(run: CliRun, code: 1 | 2, fields: Record<string, unknown>): void {
  assert.equal(run.code, code, run.out);
  const { error } = JSON.parse(run.out) as { error: Record<string, unknown> };
  assert.equal(error.kind, code === 2 ? 'usage' : 'failure');
  for (const [k, v] of Object.entries(fields))
    assert.ok(v instanceof RegExp ? v.test(String(error[k])) : JSON.stringify(error[k]) === JSON.stringify(v), `${k}: ${run.out}`);
  assert.ok(!run.err.includes('connector'), 'no error line besides the JSON');
}

describe('the CLI: help', () => {
  test('--help, -h, help <command> and <command> --help exit 0; no command or an unknown one exits 2', async () => {
    for (const argv of [['--help'], ['-h'], ['help']]) {
      const run = await alone(argv);
      assert.equal(run.code, 0, argv.join(' '));
      assert.match(run.out, /^connector <command> \[options\]/u);
      assert.match(run.out, /discover <tenant>/u);
    }
    for (const argv of [
      ['help', 'sync'],
      ['sync', '--help'],
      ['sync', '-h'],
    ]) {
      const run = await alone(argv);
      assert.equal(run.code, 0, argv.join(' '));
      assert.match(run.out, /^connector sync <tenant> --entity customers\|contacts\|items \[--dry-run\] \[--wait DURATION\]/u);
    }
    const group = await alone(['help', 'tenant']);
    assert.equal(group.code, 0);
    assert.match(group.out, /connector tenant add --config FILE[\s\S]*connector tenant enable <tenant>/u);
    refused(await alone([]), 2, /no command given; "connector --help" lists them/u);
    refused(await alone(['frobnicate']), 2, /unknown command "frobnicate"; commands: tenant, check, .*status, .*help/u);
    refused(await alone(['help', 'frobnicate']), 2, /no command "frobnicate"/u);
    assert.equal((await alone(['--version'])).code, 0);
  });
});

describe('the CLI: usage errors are caught before any call', () => {
  test('an unknown option, a missing or bad value, a wrong enum value and a bad time each name the option', async () => {
    refused(await alone(['status', '--verbose']), 2, /unknown option --verbose; "status" takes .*--since/u);
    refusedAsJson(await alone(['status', '--verbose', '--json']), 2, { option: '--verbose', command: 'status' });
    refused(await alone(['sync', 'acme', '--entity', 'orders']), 2, /--entity must be one of customers, contacts, items \(got "orders"\)/u);
    refused(await alone(['sync', 'acme']), 2, /missing --entity: one of customers, contacts, items/u);
    refused(await alone(['sync', 'acme', '--entity', '--dry-run']), 2, /--entity needs a value: one of customers, contacts, items/u);
    refused(await alone(['sync', 'acme', '--entity', 'customers', '--wait', 'soon']), 2, /--wait "soon" is not a duration/u);
    refused(await alone(['sync', '--entity', 'customers']), 2, /missing <tenant>; usage: connector sync <tenant>/u);
    refused(await alone(['audit', 'acme', 'org', 'C1']), 2, /<entity> must be one of organization, person, product, salesOrder/u);
    refused(
      await alone(['replay', 'demo', '--from', 'yesterday', '--outcome', 'failed']),
      2,
      /--from "yesterday" is not a time: use an ISO/u,
    );
    refusedAsJson(await alone(['replay', 'demo', '--from', '24h', '--outcome', 'lost', '--json']), 2, {
      option: '--outcome',
      allowed: ['failed', 'rejected', 'deferred', 'conflict'],
    });
    refused(await alone(['replay', 'demo', '--from', '2026-13-45', '--outcome', 'failed']), 2, /--from "2026-13-45" is not a time/u);
    refused(await alone(['redrive', '--queue', 'everything']), 2, /--queue must be one of records, products, orders/u);
    refused(await alone(['status', '--since', 'last week']), 2, /--since "last week" is not a time/u);
    refused(await alone(['sync', 'acme', '--entity', 'customers', '--dry-run=yes']), 2, /--dry-run takes no value/u);
    refused(await alone(['tenant', 'show']), 2, /missing <tenant>/u);
    refused(await alone(['tenant', 'add']), 2, /missing --config FILE/u);
    refused(await alone(['authorize', 'acme', '--code', 'x']), 2, /missing --redirect-uri URL/u);
    refused(await alone(['erase', 'acme', 'person']), 2, /missing <key>/u);
    refused(await alone(['discover']), 2, /missing <tenant>/u);
    refused(await alone(['check', 'acme', 'extra']), 2, /unexpected argument "extra"/u);
  });

  test('which stack: neither --outputs nor --local, a missing outputs file, an empty or foreign local file', async () => {
    refused(await alone(['status']), 2, /which stack\? name it with --outputs FILE .* or --local FILE/u);
    refused(await alone(['status', '--outputs', 'outputs.json']), 2, /--outputs outputs\.json: cannot read it \(ENOENT/u);
    refused(await alone(['status', '--local', 'c.json'], { 'c.json': '' }), 2, /--local c\.json: the file is empty/u);
    refused(
      await alone(['status', '--local', 'c.json'], { 'c.json': '{"env": {}}' }),
      2,
      /--local c\.json: not the local run's .*cipherKey/u,
    );
    refused(await alone(['status', '--outputs', 'o.json'], { 'o.json': '{"Other": {}}' }), 2, /the outputs file holds no connector stack/u);
    refusedAsJson(await alone(['tenant', 'list', '--json']), 2, { message: /which stack/u });
  });
});

describe('the CLI against a stack', () => {
  test('tenant: list, show, add with bad files, enable; an unknown tenant fails in one line', async () => {
    assert.match((await cli(h, ['tenant', 'list'])).out, /acme\s+true/u);
    refused(await cli(h, ['tenant', 'show', 'nobody']), 1, /nobody/u);
    refusedAsJson(await cli(h, ['tenant', 'show', 'nobody', '--json']), 1, { message: /nobody/u, command: 'tenant show' });
    refused(await cli(h, ['tenant', 'add', '--config', 'c.json'], { 'c.json': '{not json' }), 2, /--config c\.json: not JSON/u);
    const config = JSON.stringify({ ...h.tenant.config, tenantId: 'globex' });
    refused(
      await cli(h, ['tenant', 'add', '--config', 'c.json', '--secrets', 's.json'], { 'c.json': config, 's.json': '{}' }),
      1,
      /qadPassword/u,
    );
    assert.equal((await cli(h, ['tenant', 'enable', 'acme'])).code, 0);
  });

  test('check passes with progress on stderr; after a failed QAD login the paths are "skipped", not FAIL', async () => {
    const ok = await cli(h, ['check', 'acme', '--json']);
    assert.equal(ok.code, 0, ok.err);
    assert.ok(Array.isArray(JSON.parse(ok.out)), 'stdout is the result alone');
    assert.match(ok.err, /^checking QAD login and Swagger…$/mu);
    assert.match(ok.err, /^checking Pipedrive mapped organization fields…$/mu);

    const config = JSON.stringify({ ...h.tenant.config, tenantId: 'wrongpw' });
    const secrets = JSON.stringify({ qadPassword: 'not-the-password', pipedriveApiToken: API_TOKEN });
    const files = { 'c.json': config, 's.json': secrets };
    assert.equal((await cli(h, ['tenant', 'add', '--config', 'c.json', '--secrets', 's.json', '--no-verify'], files)).code, 0);
    const failed = await cli(h, ['check', 'wrongpw']);
    assert.equal(failed.code, 1);
    assert.match(failed.out, /QAD login and Swagger\s+FAIL/u);
    assert.equal(failed.out.match(/FAIL/gu)?.length, 1, failed.out);
    assert.match(failed.out, /QAD sales orders \(create\)\s+skipped\s+skipped: the QAD login failed/u);
    assert.match(failed.out, /Pipedrive API token\s+pass/u);
    assert.equal((await cli(h, ['tenant', 'disable', 'wrongpw'])).code, 0);
  });

  test('discover: QAD values with samples beside Pipedrive fields, and a starter mapping the schema accepts', async () => {
    h.pd.addCustomField('organization', { field_name: 'Credit terms', field_type: 'enum', options: ['N30', 'N60'] });
    const run = await cli(h, ['discover', 'acme']);
    assert.equal(run.code, 0, run.err);
    assert.match(run.out, /creditTerms\s+N30, 30D\s+Credit terms\s+enum\s+exists in Pipedrive/u);
    assert.match(run.out, /title\s+Head of purchasing\s+Job function\s+varchar\s+created as varchar on first use/u);
    assert.match(run.out, /cm_mstr\.cm_addr\s+C1, C2/u);
    assert.match(run.out, /Credit terms\s+enum\s+true\s+\w+\s+N30, N60/u);
    assert.match(run.err, /reading one page of QAD's customer browse…/u);
    const json = await cli(h, ['discover', 'acme', '--json']);
    const { mapping, entities } = JSON.parse(json.out) as { mapping: unknown; entities: Array<{ fieldEntity: string }> };
    const parsed = parseFieldMapping(mapping);
    assert.deepEqual(
      parsed.organization.find((e) => e.qad === 'creditTerms'),
      { qad: 'creditTerms', pipedrive: 'Credit terms' },
      'an existing field is taken as it is',
    );
    assert.deepEqual(
      entities.map((e) => e.fieldEntity),
      ['organization', 'person', 'product', 'deal'],
    );
    refused(await cli(h, ['discover', 'nobody']), 1, /nobody/u);
  });

  test('sync: a dry run keeps stdout pure JSON; a run writes; reasons, audit, replay, erase, redrive and status', async () => {
    const plan = await cli(h, ['sync', 'acme', '--entity', 'customers', '--dry-run', '--json']);
    assert.equal(plan.code, 0, plan.err);
    assert.equal((JSON.parse(plan.out) as { rows: unknown[] }).rows.length, 2);
    assert.match(
      plan.err,
      /^reading customers of acme from QAD…\n {2}2 changed, 0 unchanged; listing Pipedrive's organizations to plan against…$/mu,
    );
    const run = await cli(h, ['sync', 'acme', '--entity', 'customers']);
    assert.match(run.out, /create 2, update 0/u);

    const cause =
      'QAD rejected POST /api/erp/salesOrderHeaders for tenant acme: HTTP 422 item SERVICE-1 does not exist in the item master ' +
      'of domain 10USA; the order desk must add it or change the deal';
    await h.deps.audit.record({
      tenantId: 'acme',
      entity: 'salesOrder',
      key: 'D-77',
      action: 'failed',
      reason: 'permanent error: dead-lettered, no retries: a person must look at the product lines of this won deal',
      error: cause,
    });
    const status = await cli(h, ['status', '--since', '1h']);
    assert.equal(status.code, 0, status.err);
    assert.ok(
      status.out.split('\n').some((l) => l.includes(cause)),
      'the reason in full, on one line',
    );
    const audit = await cli(h, ['audit', 'acme', 'salesOrder', 'D-77']);
    assert.ok(
      audit.out.split('\n').some((l) => l.includes(cause)),
      audit.out,
    );
    assert.ok(audit.out.includes('a person must look at the product lines of this won deal'), audit.out);

    assert.match((await cli(h, ['replay', 'acme', 'organization', 'C1'])).out, /organization\s+C1\s+enqueued/u);
    assert.equal((await cli(h, ['replay', 'acme', '--from', '1h', '--outcome', 'rejected'])).code, 0);
    refused(await cli(h, ['replay', 'acme', '--from', '1h', '--to', '2h', '--outcome', 'failed']), 2, /--to .* must be after --from/u);
    refused(await cli(h, ['replay', 'acme']), 2, /missing --from TIME \(or <entity> <key>\)/u);
    assert.match((await cli(h, ['erase', 'acme', 'person', 'P9'])).out, /audit\s+0/u);

    const redrive = await cli(h, ['redrive']);
    assert.equal(redrive.code, 0, redrive.err);
    assert.match(redrive.out, /the records DLQ is empty: nothing to move/u);
    assert.doesNotMatch(redrive.out, /moving/u);
  });

  test('a failure prints its cause in one line; --debug adds the stack trace', async () => {
    refused(await cli(h, ['authorize', 'acme', '--code', 'c', '--redirect-uri', 'https://example.com/cb']), 1, /acme/u);
    const debug = await cli(h, ['tenant', 'show', 'nobody', '--debug']);
    assert.equal(debug.code, 1);
    assert.match(debug.err, /^connector tenant show: .*nobody/u);
    assert.match(debug.err, /^\s+at /mu, 'the stack, asked for');
  });
});
