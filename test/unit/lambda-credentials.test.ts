import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LAMBDA_BUNDLING } from '../../infra/bundling.ts';
import { defaultProvider } from '../../shared/runtime/lambda-credentials.ts';

const root = join(import.meta.dirname, '..', '..');

// The bundles replace the SDK's default credential chain with the environment's (infra/bundling.ts): what the
// clients import from it must be what the replacement exports, and it must answer with Lambda's variables.
test('the bundles credential chain: what the SDK clients import, answering with the role keys Lambda sets', async () => {
  const target = LAMBDA_BUNDLING.alias['@aws-sdk/credential-provider-node'];
  assert.equal(target, './shared/runtime/lambda-credentials.ts');
  for (const client of ['client-dynamodb', 'client-sqs', 'client-kms']) {
    const config = readFileSync(join(root, 'node_modules', '@aws-sdk', client, 'dist-es', 'runtimeConfig.js'), 'utf8');
    const imported = /import \{([^}]*)\} from "@aws-sdk\/credential-provider-node"/u.exec(config)?.[1] ?? '';
    assert.deepEqual(
      imported.split(',').map((name) => name.trim().split(/\s+as\s+/u)[0]),
      ['defaultProvider'],
      client,
    );
  }
  const saved = { ...process.env };
  try {
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'ASIAEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret', AWS_SESSION_TOKEN: 'token' });
    const credentials = await defaultProvider()();
    assert.deepEqual([credentials.accessKeyId, credentials.secretAccessKey, credentials.sessionToken], ['ASIAEXAMPLE', 'secret', 'token']);
    delete process.env.AWS_ACCESS_KEY_ID;
    await assert.rejects(defaultProvider()(), /AWS_ACCESS_KEY_ID|credentials/iu);
  } finally {
    process.env = saved;
  }
});
