import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';

/** What the synthesized stack depends on: a change to any of these means a new synth. */
const INPUTS = ['infra', 'functions', 'shared', 'package-lock.json', 'cdk.json', 'tsconfig.json'];

function filesUnder(root: string, path: string): string[] {
  const full = join(root, path);
  if (!existsSync(full)) return [];
  if (!statSync(full).isDirectory()) return [path];
  return readdirSync(full)
    .sort()
    .flatMap((name) => filesUnder(root, join(path, name)));
}

/** A hash of the sources, the lock file and the context: the cache key of one synth. */
export function synthKey(root: string, context: Record<string, string>): string {
  const hash = createHash('sha256');
  for (const file of INPUTS.flatMap((p) => filesUnder(root, p)))
    hash.update(`${relative(root, join(root, file))}\0`).update(readFileSync(join(root, file)));
  hash.update(JSON.stringify(Object.entries(context).sort()));
  return hash.digest('hex').slice(0, 16);
}

/** Synths kept: switching branches back and forth reuses them; older ones only take disk space. */
const KEEP = 4;

function pruneOlderThanNewest(parent: string, keep: number): void {
  const done = readdirSync(parent)
    .filter((name) => !name.endsWith('.tmp'))
    .map((name) => ({ name, at: statSync(join(parent, name)).mtimeMs }))
    .sort((a, b) => b.at - a.at);
  for (const { name } of done.slice(keep)) rmSync(join(parent, name), { recursive: true, force: true });
}

/**
 * `cdk synth` once per key into `.local/synth/<key>` (written to a temporary directory and renamed, so a
 * half-written synth is never reused); a second start with the same sources and context reuses it.
 */
export async function synthesized(
  root: string,
  context: Record<string, string> = {},
  onSynth?: () => void,
): Promise<{ dir: string; key: string; cached: boolean }> {
  const key = synthKey(root, context);
  const dir = join(root, '.local', 'synth', key);
  if (existsSync(join(dir, 'manifest.json'))) return { dir, key, cached: true };
  onSynth?.();
  const temporary = `${dir}.${process.pid}.tmp`;
  mkdirSync(temporary, { recursive: true });
  const contextArgs = Object.entries(context).flatMap(([k, v]) => ['-c', `${k}=${v}`]);
  await promisify(execFile)(join(root, 'node_modules', '.bin', 'cdk'), ['synth', '--quiet', '-o', temporary, ...contextArgs], {
    cwd: root,
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, CDK_DISABLE_VERSION_CHECK: 'true' },
  });
  try {
    renameSync(temporary, dir);
  } catch (error) {
    // Another run (a parallel test file) finished the same synth first: keep its copy.
    rmSync(temporary, { recursive: true, force: true });
    if (!existsSync(join(dir, 'manifest.json'))) throw error;
  }
  pruneOlderThanNewest(join(root, '.local', 'synth'), KEEP);
  return { dir, key, cached: false };
}
