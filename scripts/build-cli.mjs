// Builds the operator CLI to one JavaScript file that Node runs alone: `npm ci` runs this as `prepare`, also
// under --omit=dev, so it is JavaScript (no tsx) and esbuild is a production dependency. The packages the CLI
// imports stay external: a production install has every one of them in node_modules.
import { chmodSync } from 'node:fs';
import { dirname, join } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outfile = process.argv[2] ?? join(root, 'dist', 'connector.mjs');

await build({
  entryPoints: [join(root, 'scripts', 'connector.ts')],
  outfile,
  bundle: true,
  packages: 'external',
  format: 'esm',
  platform: 'node',
  target: 'node20',
  tsconfig: join(root, 'tsconfig.json'),
  banner: { js: '#!/usr/bin/env node' },
  logLevel: 'warning',
});
// `npx connector` runs the bin file itself, which needs the executable bit.
chmodSync(outfile, 0o755);
