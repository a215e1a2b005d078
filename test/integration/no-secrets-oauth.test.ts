import './loud-env.ts';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { capture, scanAll } from './secret-scan.ts';
import { LocalPipeline, QAD_PASSWORD } from '../../scripts/local/pipeline.ts';
import { CLIENT_SECRET } from '../../scripts/local/oauth.ts';

const noOAuthSecrets =
  'with OAuth, no client secret, access or refresh token appears in any log line, audit entry or stored state, ' +
  'refreshes and parking included';
test(noOAuthSecrets, async () => {
  const pipeline = await LocalPipeline.start({
    customers: 30,
    contactsPerCustomer: 1,
    items: 10,
    currencies: ['EUR'],
    seed: 7,
    preexisting: 0.2,
    plan: 'lite',
    writerConcurrency: 2,
    wonDeals: 4,
    auth: 'oauth',
    tokenTtlSeconds: 2,
  });
  try {
    const logs = await capture(async () => {
      await pipeline.runRound();
      // The app is revoked: the next refresh answers invalid_grant and the tenant is parked.
      pipeline.pipedrive.oauth!.revokeRefreshTokens();
      pipeline.pipedrive.oauth!.expireAccessTokens();
      pipeline.changeQad(0.3);
      await pipeline.runRound();
    });
    const auth = await pipeline.authReport();
    assert.ok(auth.refreshes >= 1, `the access token was refreshed (${auth.refreshes})`);
    assert.deepEqual(auth.parkedTenants, ['demo']);
    assert.ok(logs.split('\n').filter((l) => l.includes('"level":"DEBUG"')).length > 100, 'the run logged at DEBUG');
    const stored = [
      await scanAll(pipeline, pipeline.aws.env.AUDIT_TABLE),
      await scanAll(pipeline, pipeline.aws.env.SYNC_STATE_TABLE),
      await scanAll(pipeline, pipeline.aws.env.CONNECTIONS_TABLE),
    ].join('\n');
    const secrets = [CLIENT_SECRET, QAD_PASSWORD, ...pipeline.pipedrive.oauth!.issuedTokens()];
    assert.ok(secrets.length >= 4);
    for (const secret of secrets) {
      assert.equal(logs.includes(secret), false, 'a secret reached the logs');
      assert.equal(stored.includes(secret), false, 'a secret reached DynamoDB');
    }
  } finally {
    await pipeline.close();
  }
});
