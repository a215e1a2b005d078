import './quiet-env.ts';
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { synthesized } from '../../scripts/local/artifacts/synth.ts';
import type { ArtifactFunction } from '../../scripts/local/artifacts/template.ts';
import type { Statement } from '../../scripts/local/iam/policy.ts';
import { LocalPipeline, TENANT_ID, type PipelineOptions } from '../../scripts/local/pipeline.ts';
import { fieldsReport, writtenBackKeys, effectiveMapping } from '../../scripts/local/fields.ts';
import { STACK_NAME } from '../../infra/names.ts';

/** The synthesized stack (cached in .local/synth by a hash of the sources), built once for this file. */
let cdkOut = '';
before(async () => {
  cdkOut = (await synthesized(process.cwd())).dir;
});

const WRITE_BACK = { writeBack: { enabled: true, customerField: 'cm_user1' as const } };
const options = (editStatements?: (fn: ArtifactFunction) => Statement[]): PipelineOptions => ({
  customers: 12,
  contactsPerCustomer: 1,
  items: 6,
  currencies: ['USD'],
  seed: 31,
  preexisting: 0.25,
  plan: 'growth',
  writerConcurrency: 2,
  wonDeals: 4,
  fields: WRITE_BACK,
  artifacts: { cdkOut, stackName: STACK_NAME, ...(editStatements && { editStatements }) },
});

/** QAD customers holding their Pipedrive organization id, read back from the simulators. */
const keysWrittenBack = (pipeline: LocalPipeline) =>
  writtenBackKeys(pipeline.pipedrive, pipeline.qad.tenant(pipeline.qadBasePath), effectiveMapping(WRITE_BACK), 'QAD Customer Code');

describe('the synthesized stack, run locally with its IAM enforced', () => {
  test('with write-back on, every function works within its role: calls checked, none denied, keys both ways', async () => {
    const pipeline = await LocalPipeline.start(options());
    try {
      const round = await pipeline.runRound();
      assert.equal(round.drained, true);
      assert.equal(round.deadLetters, 0);
      const iam = pipeline.iam();
      assert.ok(iam && iam.checked > 0, 'the functions calls went through the local IAM');
      assert.equal(iam.denied, 0, JSON.stringify(iam.byFunction));
      // Every function of the stack ran from its bundle and was checked under its own role.
      assert.deepEqual(Object.keys(iam.byFunction).sort(), [
        'PollContacts',
        'PollCustomers',
        'PollDeals',
        'PollItems',
        'PollOrderStatus',
        'WritePipedrive',
        'WriteProducts',
        'WriteQad',
      ]);
      // As Lambda runs them: a container per concurrent poller of a writer's event source that had a batch (the records
      // queue keeps both of writerConcurrency 2 busy), made on its first one; one per poll.
      const containers = pipeline.containers() ?? {};
      assert.equal(containers.WritePipedrive, 2, JSON.stringify(containers));
      for (const writer of ['WriteProducts', 'WriteQad']) assert.ok([1, 2].includes(containers[writer] ?? 0), JSON.stringify(containers));
      for (const poll of ['PollContacts', 'PollCustomers', 'PollDeals', 'PollItems', 'PollOrderStatus'])
        assert.equal(containers[poll], 1, poll);
      const keys = keysWrittenBack(pipeline);
      assert.equal(keys.holdingTheirOrganizationId, 12, 'the records writer decrypted the QAD password and wrote every key back');
      const state = await pipeline.state();
      assert.deepEqual(state.missing, { organizations: 0, persons: 0, products: 0, salesOrders: 0, notes: 0 });
      assert.deepEqual(state.duplicates, { organizations: 0, persons: 0, products: 0, salesOrders: 0, notes: 0 });
    } finally {
      await pipeline.close();
    }
  });

  test('with Pipedrive OAuth and short-lived tokens, the functions refresh and store the tokens within their roles', async () => {
    const pipeline = await LocalPipeline.start({ ...options(), fields: {}, auth: 'oauth', tokenTtlSeconds: 4 });
    try {
      // Let the first access token expire before the schedule fires.
      await new Promise((resolve) => setTimeout(resolve, 4_500));
      const round = await pipeline.runRound();
      assert.equal(round.drained, true);
      assert.ok((await pipeline.authReport()).refreshes > 0, 'tokens were refreshed, and so stored encrypted');
      assert.equal(pipeline.iam()?.denied, 0, JSON.stringify(pipeline.iam()?.byFunction));
    } finally {
      await pipeline.close();
    }
  });

  test('a grant removed from the template: the call fails with AccessDeniedException and is audited like any failure', async () => {
    // The grant of the bug this suite guards: the records writer may decrypt only Pipedrive credentials.
    const withoutQad = (fn: ArtifactFunction): Statement[] =>
      fn.name !== 'WritePipedrive'
        ? fn.statements
        : fn.statements.map((s) =>
            s.Action === 'kms:Decrypt' ? { ...s, Condition: { StringEquals: { 'kms:EncryptionContext:system': 'pipedrive' } } } : s,
          );
    const pipeline = await LocalPipeline.start(options(withoutQad));
    try {
      const from = new Date().toISOString();
      const round = await pipeline.runRound({ deadlineMs: 8_000 });
      assert.equal(round.drained, false, 'the customers whose key cannot be written back stay on the queue');
      const iam = pipeline.iam();
      assert.ok(iam && iam.denied > 0);
      const arnOfKey = /^kms:Decrypt on arn:aws:kms:[\w-]+:\d{12}:key\/[\w-]+$/u;
      assert.ok(
        iam.byFunction.WritePipedrive?.deniedCalls.every((c) => arnOfKey.test(c)),
        JSON.stringify(iam.byFunction),
      );
      for (const [name, f] of Object.entries(iam.byFunction)) if (name !== 'WritePipedrive') assert.equal(f.denied, 0, name);

      const audit = await pipeline.auditLog().byTenant(TENANT_ID, from, new Date(Date.now() + 1000).toISOString());
      // AccessDeniedException's message as AWS words it, naming the role and the call (test/integration/local-iam.test.ts
      // shows the SDK raising it under that name).
      const denial =
        /^User: arn:aws:sts::\d{12}:assumed-role\/WritePipedrive\w*\/WritePipedrive is not authorized to perform: kms:Decrypt/u;
      const denied = audit.filter((e) => e.entity === 'organization' && denial.test(e.error ?? ''));
      assert.equal(new Set(denied.map((e) => e.key)).size, 12, 'every customer denied its write-back is audited with the error AWS gave');
      assert.ok(
        denied.every((e) => e.action === 'failed' && /retry/u.test(e.reason ?? '')),
        JSON.stringify(denied[0]),
      );
      assert.ok(
        denied.every((e) => !(e.error ?? '').includes('local-demo-qad-password')),
        'no secret in the audit',
      );
      const keys = keysWrittenBack(pipeline);
      assert.equal(keys.holdingTheirOrganizationId, 0, 'no QAD customer was updated without the QAD credentials');
      // Products need no QAD credentials in the records writer: the rest of the stack flowed.
      assert.equal(round.entities.products.failed, 0);
      assert.ok(round.entities.products.created > 0);
      assert.equal(fieldsReport(TENANT_ID, pipeline.pipedrive, effectiveMapping(WRITE_BACK), audit).drift.length, 0);
    } finally {
      await pipeline.close();
    }
  });
});
