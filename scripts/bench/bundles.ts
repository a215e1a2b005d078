import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { esbuildOptions, LAMBDA_BUNDLING } from '../../infra/bundling.ts';
import { median } from './metrics.ts';

export interface BundleFigure {
  function: string;
  entry: string;
  bytes: number;
  mapBytes: number;
  /** Median of `runs` fresh `node` processes importing the bundle, with the functions' NODE_OPTIONS. */
  loadMs: number;
  loadRunsMs: number[];
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

/**
 * Builds every function as the CDK does (infra/bundling.ts) into a scratch folder outside the
 * project (so nothing can resolve from node_modules), weighs it, and times its cold module load.
 */
export async function measureBundles(opts: {
  root: string;
  functions: Array<{ id: string; entry: string }>;
  runs: number;
}): Promise<BundleFigure[]> {
  const dir = mkdtempSync(join(tmpdir(), 'connector-bundles-'));
  const figures: BundleFigure[] = [];
  try {
    for (const fn of opts.functions) {
      const outfile = join(dir, fn.id, 'index.mjs');
      const result = await build(esbuildOptions(join(opts.root, 'functions', fn.entry), outfile, join(opts.root, 'tsconfig.json')));
      const byOwner = new Map<string, number>();
      for (const output of Object.values(result.metafile.outputs)) {
        for (const [input, info] of Object.entries(output.inputs))
          byOwner.set(owner(input), (byOwner.get(owner(input)) ?? 0) + info.bytesInOutput);
      }
      const loadRunsMs: number[] = [];
      const probe =
        `const t = performance.now(); await import(${JSON.stringify(pathToFileURL(outfile).href)}); ` +
        `process.stdout.write(String(performance.now() - t));`;
      for (let i = 0; i < opts.runs; i++) {
        const out = execFileSync(process.execPath, [...LAMBDA_BUNDLING.nodeOptions.split(' '), '--input-type=module', '-e', probe], {
          cwd: dir,
          env: {
            PATH: process.env.PATH ?? '',
            POWERTOOLS_LOG_LEVEL: 'SILENT',
            AWS_REGION: 'us-east-1',
            AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
          },
          encoding: 'utf8',
        });
        loadRunsMs.push(Number(out));
      }
      figures.push({
        function: fn.id,
        entry: fn.entry,
        bytes: statSync(outfile).size,
        mapBytes: statSync(`${outfile}.map`).size,
        loadMs: median(loadRunsMs),
        loadRunsMs,
        largest: [...byOwner]
          .sort((a, b) => b[1] - a[1])
          .slice(0, 5)
          .map(([input, bytes]) => ({ input, bytes })),
      });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return figures;
}
