import '../integration/quiet-env.ts';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { chromium } from 'playwright-core';
import { LocalPipeline } from '../../scripts/local/pipeline.ts';

const CHROMIUM = '/usr/bin/chromium';
const BROWSER_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Full-width letters for the first word: near-identical to the QAD name, so the writer holds it for a person. */
const fullWidthFirstWord = (name: string) =>
  name.replace(/^\S+/u, (word) =>
    [...word].map((c) => (/[A-Za-z]/u.test(c) ? String.fromCodePoint(c.codePointAt(0)! + 0xfee0) : c)).join(''),
  );

/** Starts `connector --local FILE console` as an operator would and answers its URL (the line it prints). */
async function startConsoleProcess(connectionFile: string): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/connector.ts', '--local', connectionFile, 'console'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  for await (const line of lines) {
    const url = /^console: (http:\/\/\S+)$/u.exec(line)?.[1];
    if (url) return { url, child };
  }
  throw new Error('the console exited without printing its URL');
}

test('the console, in Chromium against the local run: the demo tenant held records, a possible duplicate settled by clicking', async () => {
  assert.ok(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM}: install Debian's package (apt-get install -y chromium), as .ci/run does`);
  const pipeline = await LocalPipeline.start({
    customers: 4,
    contactsPerCustomer: 0,
    items: 0,
    currencies: ['EUR'],
    seed: 11,
    preexisting: 0,
    plan: 'premium',
    writerConcurrency: 2,
  });
  const dir = mkdtempSync(join(tmpdir(), 'console-test-'));
  const stop = new AbortController();
  let serving: Promise<void> | undefined;
  let consoleProcess: ChildProcess | undefined;
  try {
    // Two near-identical organizations typed by hand for one customer: which one it is, a person says.
    const customer = pipeline.qad.tenant(pipeline.qadBasePath).customers()[1]!;
    const code = customer['cm_mstr.cm_addr'];
    const name = customer['ad_mstr.ad_name'];
    const first = pipeline.pipedrive.seedOrganization({ name: fullWidthFirstWord(name) });
    const chosen = pipeline.pipedrive.seedOrganization({ name: fullWidthFirstWord(name.toUpperCase()) });
    const round = await pipeline.runRound();
    assert.equal(round.settled, false, 'the customer is held for a person');
    const organizationsBefore = pipeline.pipedrive.organizations().length;

    const file = join(dir, 'connector.json');
    writeFileSync(file, JSON.stringify(pipeline.connectionFile()), { mode: 0o600 });
    serving = pipeline.serve({ pollEveryMs: 600_000, signal: stop.signal, onPollError: () => undefined });
    const started = await startConsoleProcess(file);
    consoleProcess = started.child;
    const { url } = started;
    assert.equal(new URL(url).hostname, '127.0.0.1');

    // Without the token, with a wrong one, from another origin: refused.
    const origin = new URL(url).origin;
    assert.equal((await fetch(`${origin}/`)).status, 404);
    assert.equal((await fetch(`${origin}/not-the-token/`)).status, 404);
    const forged = await fetch(`${url}do/redrive`, {
      method: 'POST',
      headers: { origin: 'http://evil.example', 'content-type': 'application/x-www-form-urlencoded' },
      body: 'queue=records',
    });
    assert.equal(forged.status, 403);

    const context = await chromium.launchPersistentContext(join(dir, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: BROWSER_ARGS,
    });
    try {
      const page = await context.newPage();
      await page.goto(url);
      await page.getByRole('link', { name: 'demo', exact: true }).click();
      const row = page.locator('#choices tr', { hasText: `customer ${code}` });
      await row.waitFor();
      assert.match(await row.innerText(), /possible duplicate/u);
      assert.equal(await row.locator('a[target=_blank]').count(), 2, 'both candidates linked to their Pipedrive pages');
      assert.match((await row.locator(`a[href$="/organization/${first}"]`).getAttribute('href')) ?? '', /^http:\/\/127\.0\.0\.1:\d+\//u);

      await row
        .locator('div', { has: page.locator(`a[href$="/organization/${chosen}"]`) })
        .locator('a.choose')
        .click();
      assert.match(await page.locator('#what').innerText(), new RegExp(`Pipedrive record ${chosen}`, 'u'));
      await page.locator('#confirm').click();
      assert.match(await page.locator('#outcome').innerText(), /Our key is on Pipedrive record/u);

      // The writer, running as in AWS, takes the replayed record: our key on the chosen organization, nothing created.
      const keyField = pipeline.pipedrive.customFields('organization').find((f) => f.field_name === 'QAD Customer Code')!.field_code;
      const keyOn = (id: number) => pipeline.pipedrive.organizations().find((o) => o.id === id)?.custom_fields[keyField];
      for (let i = 0; i < 100 && !(await pipeline.settled()); i++) await new Promise((r) => setTimeout(r, 200));
      assert.equal(await pipeline.settled(), true, 'nothing held or queued once the hold is settled');
      assert.equal(keyOn(chosen), code);
      assert.equal(keyOn(first) ?? null, null);
      assert.equal(pipeline.pipedrive.organizations().length, organizationsBefore, 'no organization created');
      const history = await pipeline.auditLog().history('demo', 'organization', code);
      assert.equal(history[0]?.action, 'updated');
      assert.equal(history[0]?.pipedriveId, chosen);

      await page.locator('#back').click();
      assert.equal(await page.locator('#choices tr', { hasText: `customer ${code}` }).count(), 0, 'the hold is gone from the page');
    } finally {
      await context.close();
    }
  } finally {
    consoleProcess?.kill('SIGTERM');
    stop.abort();
    await serving;
    await pipeline.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
