import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Every .ts file below a folder of the repo. */
function sources(folder: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.ts')) out.push(path);
    }
  };
  walk(join(REPO, folder));
  return out;
}

/** The repo-relative modules a file imports (static and dynamic), ignoring packages. */
export function importsOf(file: string, text = readFileSync(file, 'utf8')): string[] {
  const specifiers = [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/gu)].map((m) => m[1]!);
  return specifiers.map((s) => relative(REPO, resolve(dirname(file), s)));
}

/** Files under `folder` that import a module under any of `forbidden`, as "file -> module". */
function violations(folder: string, forbidden: string[]): string[] {
  return sources(folder).flatMap((file) =>
    importsOf(file)
      .filter((m) => forbidden.some((f) => m.startsWith(f)))
      .map((m) => `${relative(REPO, file)} -> ${m}`),
  );
}

describe('dependencies point down', () => {
  test('the import scan sees static and dynamic imports, and nothing else', () => {
    const file = join(REPO, 'shared/flows/example.ts');
    const text = [
      "import type { A } from '../runtime/a.ts';",
      "import { b } from '../../test/b.ts';",
      "const c = await import('../clients/c.ts');",
      "import * as z from 'zod';",
      "// see '../runtime/not-an-import.ts'",
    ].join('\n');
    assert.deepEqual(importsOf(file, text), ['shared/runtime/a.ts', 'test/b.ts', 'shared/clients/c.ts']);
  });

  test('flows see ports and the domain: no runtime, no concrete client, no AWS adapter', () => {
    assert.deepEqual(violations('shared/flows', ['shared/runtime/', 'shared/clients/', 'shared/adapters/', 'shared/operations/']), []);
  });

  test('the domain is pure: it imports only the domain and config schemas', () => {
    const outside = sources('shared/domain').flatMap((file) =>
      importsOf(file)
        .filter((m) => !m.startsWith('shared/domain/') && !m.startsWith('shared/config/'))
        .map((m) => `${relative(REPO, file)} -> ${m}`),
    );
    assert.deepEqual(outside, []);
  });

  test('ports import nothing but other ports and config types', () => {
    const outside = sources('shared/ports').flatMap((file) =>
      importsOf(file)
        .filter((m) => !m.startsWith('shared/ports/') && !m.startsWith('shared/config/') && !m.startsWith('shared/domain/'))
        .map((m) => `${relative(REPO, file)} -> ${m}`),
    );
    assert.deepEqual(outside, []);
  });

  test('nothing outside test/ imports from test/', () => {
    const folders = ['shared', 'functions', 'infra', 'scripts'];
    assert.deepEqual(
      folders.flatMap((f) => violations(f, ['test/'])),
      [],
    );
  });

  test('handlers in functions/ only reach the runtime', () => {
    const outside = sources('functions').flatMap((file) =>
      importsOf(file)
        .filter((m) => !m.startsWith('shared/runtime/'))
        .map((m) => `${relative(REPO, file)} -> ${m}`),
    );
    assert.deepEqual(outside, []);
  });
});
