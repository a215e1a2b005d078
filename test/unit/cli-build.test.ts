import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { runCli, type Io } from '../../scripts/cli/run.ts';

// `npm ci --omit=dev && npx connector` must work: npm runs `prepare` (the build) without devDependencies, and the
// built CLI then runs on Node with production dependencies only.
const root = join(import.meta.dirname, '..', '..');
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  version: string;
  bin: Record<string, string>;
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
};

/** Builds the CLI as `npm ci` does, into a folder inside the repository so its packages resolve from node_modules. */
function buildCli(): { file: string; remove(): void } {
  mkdirSync(join(root, '.local'), { recursive: true });
  const dir = mkdtempSync(join(root, '.local', 'cli-build-'));
  const file = join(dir, 'connector.mjs');
  execFileSync(process.execPath, [join(root, 'scripts', 'build-cli.mjs'), file], { cwd: root });
  return { file, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

test('npm ci builds the CLI that bin names, with nothing a production install lacks', () => {
  assert.match(manifest.version, /^\d+\.\d+\.\d+$/u, 'package.json carries a semantic version');
  assert.equal(manifest.scripts.prepare, 'npm run build');
  assert.equal(manifest.scripts.build, 'node scripts/build-cli.mjs');
  assert.equal(manifest.bin.connector, 'dist/connector.mjs', 'bin is the file build-cli.mjs writes by default');
  assert.ok(manifest.dependencies.esbuild, 'prepare runs under --omit=dev too, so the bundler is a production dependency');
});

test('the built CLI runs on Node alone, prints its version, and imports only production dependencies', () => {
  const built = buildCli();
  try {
    const out = execFileSync(built.file, ['--version'], { cwd: root, encoding: 'utf8' });
    assert.equal(out, `connector ${manifest.version}\nstack: none (name one with --outputs FILE or --local FILE)\n`);
    const text = readFileSync(built.file, 'utf8');
    assert.ok(text.startsWith('#!/usr/bin/env node\n'), 'runs as an executable, without tsx');
    const specifiers = [...text.matchAll(/^\s*(?:import|export)\b[^'"]*?from\s*["']([^"']+)["']/gmu)].map((m) => m[1]!);
    const packages = new Set(specifiers.map((s) => (s.startsWith('@') ? s.split('/', 2).join('/') : s.split('/')[0]!)));
    assert.ok(packages.has('zod') && packages.has('@aws-sdk/client-dynamodb'), `imports found: ${[...packages].join(', ')}`);
    const missing = [...packages].filter((p) => !p.startsWith('node:') && !builtinModules.includes(p) && !manifest.dependencies[p]);
    assert.deepEqual(missing, [], 'the CLI imports a package a production install (npm ci --omit=dev) does not have');
  } finally {
    built.remove();
  }
});

function io(files: Record<string, string> = {}): Io & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    out: (l) => lines.push(l),
    err: (l) => lines.push(`ERR ${l}`),
    readFile: (path) => {
      const content = files[path];
      if (content === undefined) throw new Error(`ENOENT: ${path}`);
      return content;
    },
  };
}

test('--version names the deployed stack from the outputs file, and says when it runs another release', async () => {
  const outputs = (version?: string) =>
    JSON.stringify({
      Other: { DashboardName: 'x' },
      QadPipedriveConnector: {
        CredentialsKeyArn: 'arn:aws:kms:eu-central-1:123456789012:key/1b2c',
        ...(version && { ConnectorVersion: version }),
      },
    });
  const same = io({ 'o.json': outputs(manifest.version) });
  assert.equal(await runCli(['--version', '--outputs', 'o.json'], same), 0);
  assert.deepEqual(same.lines, [
    `connector ${manifest.version}`,
    `stack: QadPipedriveConnector in eu-central-1, deployed at ${manifest.version} (o.json)`,
  ]);

  const older = io({ 'o.json': outputs('0.0.9') });
  assert.equal(await runCli(['--version', '--outputs', 'o.json'], older), 0);
  assert.match(older.lines[1]!, /deployed at 0\.0\.9/u);
  assert.match(older.lines[2]!, /different releases; see docs\/upgrading\.md/u);

  // Stacks deployed before the version output existed.
  const unversioned = io({ 'o.json': outputs() });
  assert.equal(await runCli(['--version', '--json', '--outputs', 'o.json'], unversioned), 0);
  assert.deepEqual(JSON.parse(unversioned.lines.join('\n')), {
    version: manifest.version,
    stack: { kind: 'deployed', name: 'QadPipedriveConnector', region: 'eu-central-1', outputsFile: 'o.json' },
  });
});

test('--version with the local run, and with a file that is not there', async () => {
  const local = io();
  assert.equal(await runCli(['--version', '--local', '.local/connection.json'], local), 0);
  assert.deepEqual(local.lines, [`connector ${manifest.version}`, 'stack: the local run of npm start (.local/connection.json)']);
  const missing = io();
  assert.equal(await runCli(['--version', '--outputs', 'gone.json'], missing), 2);
  assert.deepEqual(missing.lines, ['ERR connector --version: --outputs gone.json: cannot read it (ENOENT: gone.json)']);
  const empty = io({ 'o.json': '{}' });
  assert.equal(await runCli(['--version', '--outputs', 'o.json'], empty), 2);
  assert.deepEqual(empty.lines, ['ERR connector --version: the outputs file holds no connector stack']);
});
