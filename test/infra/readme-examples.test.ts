import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Template } from 'aws-cdk-lib/assertions';
import { buildConnectorApp } from '../../infra/connector-app.ts';
import { shellWords } from './shell-words.ts';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const cdkJson = JSON.parse(readFileSync(join(REPO, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> };

/** Every `npx cdk deploy|synth` command line in the README and docs/, with where it stands. */
function cdkExamples(): Array<{ where: string; words: string[] }> {
  const files = ['README.md', ...readdirSync(join(REPO, 'docs')).map((f) => join('docs', f))].filter((f) => f.endsWith('.md'));
  return files.flatMap((file) =>
    readFileSync(join(REPO, file), 'utf8')
      .split('\n')
      .flatMap((line, i) => {
        // A command in a code block, or inline in backticks.
        const commands = [...line.matchAll(/`([^`]*npx cdk (?:deploy|synth)[^`]*)`/gu)].map((m) => m[1]!);
        if (/^\s*npx cdk (deploy|synth)/u.test(line)) commands.push(line);
        return commands.map((command) => ({ where: `${file}:${i + 1}`, words: shellWords(command.trim()) }));
      }),
  );
}

/** The `-c key=value` context of a cdk command line. */
function contextOf(words: string[]): Record<string, string> {
  const context: Record<string, string> = {};
  for (const [i, word] of words.entries()) {
    if (word !== '-c' && word !== '--context') continue;
    const [key = '', ...value] = (words[i + 1] ?? '').split('=');
    context[key] = value.join('=');
  }
  return context;
}

const outdirs: string[] = [];
after(() => {
  for (const dir of outdirs) rmSync(dir, { recursive: true, force: true });
});

describe('the documented cdk commands work as written', () => {
  test('the shell splitting keeps quoted JSON whole', () => {
    assert.deepEqual(shellWords(`npx cdk deploy -c 'schedules={"customers":"rate(5 minutes)"}' -c a=b # note`), [
      'npx',
      'cdk',
      'deploy',
      '-c',
      'schedules={"customers":"rate(5 minutes)"}',
      '-c',
      'a=b',
    ]);
  });

  const examples = cdkExamples();
  test('the docs have cdk examples with context to try', () => {
    assert.ok(examples.filter((e) => Object.keys(contextOf(e.words)).length > 0).length >= 2, JSON.stringify(examples));
  });

  // What `npx cdk synth` does offline with that context: the deploy differs only in what needs AWS.
  for (const { where, words } of examples) {
    test(`${where}: ${words.join(' ')}`, () => {
      const outdir = mkdtempSync(join(tmpdir(), 'connector-readme-'));
      outdirs.push(outdir);
      const context = contextOf(words);
      const { app, stack } = buildConnectorApp({ outdir, context: { ...cdkJson.context, 'aws:cdk:bundling-stacks': [], ...context } });
      app.synth();
      if (context.stage) assert.equal(stack.stackName, `QadPipedriveConnector-${context.stage}`);
      assert.ok(Object.keys(Template.fromStack(stack).findResources('AWS::Scheduler::Schedule')).length > 0);
    });
  }
});
