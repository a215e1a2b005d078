import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

// AWS SDK v3 clients share @aws-sdk/core, @smithy/* and the credential chain. Clients at different versions pull
// in several copies of those into node_modules and into every Lambda bundle, and let their behaviour drift apart.
// The Powertools packages are released together and expect each other at the same version. So each family moves
// as one: bump all its members in the same change, to a version that every one of them publishes.

const root = join(import.meta.dirname, '..', '..');

interface PackageJson {
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

interface PackageLock {
  packages: Record<string, { version?: string }>;
}

const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as PackageJson;
const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as PackageLock;
const declared: Record<string, string> = { ...manifest.devDependencies, ...manifest.dependencies };

const families = [
  {
    name: 'AWS SDK clients',
    prefix: '@aws-sdk/client-',
    expected: ['@aws-sdk/client-dynamodb', '@aws-sdk/client-kms', '@aws-sdk/client-sqs'],
  },
  {
    name: 'Powertools',
    prefix: '@aws-lambda-powertools/',
    expected: ['@aws-lambda-powertools/batch', '@aws-lambda-powertools/logger', '@aws-lambda-powertools/metrics'],
  },
];

function members(prefix: string): [string, string][] {
  return Object.entries(declared)
    .filter(([name]) => name.startsWith(prefix))
    .sort(([a], [b]) => a.localeCompare(b));
}

for (const family of families) {
  test(`package.json declares every ${family.name} package the code uses`, () => {
    const names = members(family.prefix).map(([name]) => name);
    for (const name of family.expected) assert.ok(names.includes(name), `${name} missing from package.json; found ${names.join(', ')}`);
  });

  test(`the ${family.name} are pinned to one exact version`, () => {
    const found = members(family.prefix);
    const inexact = found.filter(([, version]) => !/^\d+\.\d+\.\d+$/u.test(version));
    assert.deepEqual(inexact, [], `pin ${family.name} exactly (no ^, ~ or ranges)`);
    const versions = [...new Set(found.map(([, version]) => version))];
    assert.equal(versions.length, 1, `${family.name} differ in version: ${found.map(([n, v]) => `${n}@${v}`).join(', ')}`);
  });

  test(`package-lock.json installs the ${family.name} at the version package.json declares`, () => {
    const mismatched = members(family.prefix)
      .map(([name, version]) => ({ name, declared: version, locked: lock.packages[`node_modules/${name}`]?.version }))
      .filter((entry) => entry.locked !== entry.declared);
    assert.deepEqual(mismatched, [], 'run npm install so the lock file follows package.json');
  });
}
