import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..');

function sources(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => join(e.parentPath, e.name));
}

// Every Lambda bundles shared/ (infra/bundling.ts). esbuild keeps the whole zod namespace, with its
// forty locales and JSON-schema code (about 370 KB), for one `import { z } from 'zod'`; `import * as z`
// lets it keep only what is used. `npm run bench` weighs the bundles against their 1 MB target.
test('code that ships in a Lambda imports zod as a namespace, and undici only by its agent and request API', () => {
  const offenders: string[] = [];
  for (const file of [...sources('shared'), ...sources('functions')]) {
    const text = readFileSync(file, 'utf8');
    if (/^import \{[^}]*\bz\b[^}]*\} from 'zod';/mu.test(text)) offenders.push(`${file}: import * as z from 'zod'`);
    // The undici index drags in fetch, WebSocket, cache and mock code (about 230 KB): types/undici-request.d.ts.
    if (/from '(undici|axios|node-fetch|got)'/u.test(text)) offenders.push(`${file}: use shared/clients/http.ts`);
  }
  assert.deepEqual(offenders, []);
});
