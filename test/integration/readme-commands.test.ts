import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { shellWords } from '../infra/shell-words.ts';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Every `npm …` / `npx …` command the README shows, in a code block or inline, with its line. */
function readmeCommands(): Array<{ line: number; command: string }> {
  const found: Array<{ line: number; command: string }> = [];
  let inCode = false;
  readFileSync(join(REPO, 'README.md'), 'utf8')
    .split('\n')
    .forEach((text, i) => {
      if (/^```/u.test(text)) {
        inCode = !inCode;
        return;
      }
      const commands = inCode && /^\s*np[mx] /u.test(text) ? [text] : [...text.matchAll(/`(np[mx] [^`]+)`/gu)].map((m) => m[1]!);
      for (const command of commands) found.push({ line: i + 1, command: shellWords(command.trim()).join(' ') });
    });
  return found;
}

/**
 * What the test does with each command. `run`: run it as written; npm start gets a small dataset appended, so the
 * command line, its options and its exit code are proven without minutes of data. `covered`: not run here, and why.
 * A README command that matches none of these fails the test: a new example must be proven or excused.
 */
const SMALL_DEMO = ['--customers', '25', '--items', '15', '--won-deals', '6', '--contacts-per-customer', '1'];
const POLICY: Array<{ match: RegExp; run?: (words: string[]) => string[]; covered?: string }> = [
  { match: /^npx cdk /u, covered: 'synthesized offline with the same context by test/infra/readme-examples.test.ts' },
  { match: /^npm ci$/u, covered: 'the first step of .ci/run, on a fresh clone' },
  { match: /^npm test$/u, covered: 'this suite itself, run by .ci/run' },
  { match: /^npm run (lint|format)$/u, covered: '.ci/run runs the linter and the format check before the tests' },
  { match: /^npm run test:fast$/u, covered: 'a subset of npm test (unit and flow suites)' },
  { match: /^npm run bench\b/u, covered: 'measures throughput for minutes; its metrics are unit-tested (test/unit/bench-metrics.test.ts)' },
  { match: /^npm start\b/u, run: (words) => [...words, ...(words.includes('--') ? [] : ['--']), ...SMALL_DEMO] },
  { match: /^npx connector\b/u, run: (words) => words },
];

const commands = readmeCommands();

describe("the README's commands work as written", () => {
  test('the README shows the two commands and the operator CLI', () => {
    const shown = new Set(commands.map((c) => c.command));
    for (const command of ['npm start', 'npm test', 'npm ci']) assert.ok(shown.has(command), `README lacks ${command}`);
  });

  test('the README names this release', () => {
    const { version } = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string };
    assert.match(readFileSync(join(REPO, 'README.md'), 'utf8'), new RegExp(`^Version ${version.replaceAll('.', '\\.')}:`, 'mu'));
  });

  const seen = new Set<string>();
  for (const { line, command } of commands) {
    if (seen.has(command)) continue;
    seen.add(command);
    const policy = POLICY.find((p) => p.match.test(command));
    test(`README.md:${line}: ${command}`, { timeout: 240_000 }, () => {
      assert.ok(policy, `no policy for a README command: run it here or say which check covers it`);
      if (!policy.run) {
        assert.ok(policy.covered);
        return;
      }
      const [program = '', ...args] = policy.run(shellWords(command));
      const result = spawnSync(program, args, {
        cwd: REPO,
        encoding: 'utf8',
        timeout: 220_000,
        env: { ...process.env, NO_COLOR: '1', POWERTOOLS_LOG_LEVEL: 'SILENT', POWERTOOLS_METRICS_DISABLED: 'true' },
      });
      const tail = `${result.stdout ?? ''}\n${result.stderr ?? ''}`.split('\n').slice(-25).join('\n');
      assert.equal(result.status, 0, `${program} ${args.join(' ')} exited ${result.status ?? result.signal}:\n${tail}`);
      assert.doesNotMatch(result.stderr ?? '', /^\s+at .+:\d+:\d+\)?$/mu, 'no stack trace');
    });
  }
});
