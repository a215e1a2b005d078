import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { esbuildOptions } from '../../infra/bundling.ts';
import { median } from './metrics.ts';

export interface BundleFigure {
  function: string;
  entry: string;
  bytes: number;
  mapBytes: number;
  /** Median of `runs` fresh `node` processes importing the bundle, as a function loads it by default. */
  loadMs: number;
  loadRunsMs: number[];
  /** Median load of the reference (REFERENCE_IMPORT alone) in the same runs. */
  referenceMs: number;
  /** Median over the runs of this bundle's load / the reference's load in the same run. */
  loadRatio: number;
  /** Largest inputs by bytes in the output, for reading where the size goes. */
  largest: Array<{ input: string; bytes: number }>;
}

/** Groups an input path by package (node_modules/<pkg>) or by the project's top folder. */
function owner(input: string): string {
  const parts = input.split('/');
  const at = parts.lastIndexOf('node_modules');
  if (at < 0) return parts[0] ?? input;
  const name = parts[at + 1] ?? '';
  return name.startsWith('@') ? `${name}/${parts[at + 2] ?? ''}` : name;
}

/** What every function's load is measured against: the DynamoDB client alone, the one package every function needs. */
export const REFERENCE_IMPORT = '@aws-sdk/client-dynamodb';

/**
 * Builds every function as the CDK does (infra/bundling.ts) into a scratch folder outside the
 * project (so nothing can resolve from node_modules), weighs it, and times its cold module load.
 * The machine is shared, so a load time alone says little: each run times the reference (REFERENCE_IMPORT
 * alone, as installed in node_modules) just before each function, alternating, and `loadRatio` is the
 * median of each function / reference pair.
 */
export async function measureBundles(opts: {
  root: string;
  /** `environment`: the function's own variables (POLL_NAME, WORK_QUEUE), which its module reads as it loads. */
  functions: Array<{ id: string; entry: string; environment?: Readonly<Record<string, string>> }>;
  runs: number;
}): Promise<BundleFigure[]> {
  const dir = mkdtempSync(join(tmpdir(), 'connector-bundles-'));
  try {
    const built = [];
    for (const fn of opts.functions) {
      const outfile = join(dir, fn.id, 'index.mjs');
      const result = await build(esbuildOptions(join(opts.root, 'functions', fn.entry), outfile, join(opts.root, 'tsconfig.json')));
      const byOwner = new Map<string, number>();
      for (const output of Object.values(result.metafile.outputs)) {
        for (const [input, info] of Object.entries(output.inputs))
          byOwner.set(owner(input), (byOwner.get(owner(input)) ?? 0) + info.bytesInOutput);
      }
      built.push({ fn, outfile, byOwner, loadRunsMs: [] as number[], ratios: [] as number[] });
    }
    const referenceRunsMs: number[] = [];
    for (let i = 0; i < opts.runs; i++) {
      for (const b of built) {
        // Each function against a reference load timed just before it: the host's pace drifts within a run of eight.
        const referenceMs = loadTime(REFERENCE_IMPORT, opts.root);
        referenceRunsMs.push(referenceMs);
        const ms = loadTime(b.outfile, dir, b.fn.environment);
        b.loadRunsMs.push(ms);
        b.ratios.push(ms / referenceMs);
      }
    }
    return built.map((b) => ({
      function: b.fn.id,
      entry: b.fn.entry,
      bytes: statSync(b.outfile).size,
      mapBytes: statSync(`${b.outfile}.map`).size,
      loadMs: median(b.loadRunsMs),
      loadRunsMs: b.loadRunsMs,
      referenceMs: median(referenceRunsMs),
      loadRatio: median(b.ratios),
      largest: [...b.byOwner]
        .sort((a, c) => c[1] - a[1])
        .slice(0, 5)
        .map(([input, bytes]) => ({ input, bytes })),
    }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A fresh `node` process importing a bundle (a path) or a package (a name, resolved from `cwd`) as a function loads it
 * by default (no NODE_OPTIONS: source maps only with context `sourceMaps=true`): ms from import to loaded.
 */
function loadTime(bundle: string, cwd: string, environment: Readonly<Record<string, string>> = {}): number {
  const specifier = bundle.startsWith('/') ? pathToFileURL(bundle).href : bundle;
  const probe =
    `const t = performance.now(); await import(${JSON.stringify(specifier)}); ` + `process.stdout.write(String(performance.now() - t));`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', probe], {
    cwd,
    env: {
      ...environment,
      PATH: process.env.PATH ?? '',
      POWERTOOLS_LOG_LEVEL: 'SILENT',
      AWS_REGION: 'us-east-1',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
    encoding: 'utf8',
  });
  return Number(out);
}
