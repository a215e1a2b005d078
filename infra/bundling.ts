import { dirname } from 'node:path';
import type { BuildOptions } from 'esbuild';

/**
 * How every Lambda function is bundled: one definition, read by the CDK construct (NodejsFunction's
 * `bundling`) and by the benchmark (esbuild's build API), so the bundle the bench weighs and loads is
 * the one that ships. No aws-cdk-lib import here: the bench loads this without the CDK.
 *
 * - ESM (`index.mjs`), `module` main field first: the AWS SDK v3, Powertools and zod ship ESM builds that
 *   tree-shake; minified; sources left out of the map (stack traces still map to file and line).
 * - Nothing is external. The nodejs22.x runtime does carry the AWS SDK v3, and externalizing it is common,
 *   but bundled it is the exact version pinned in package-lock.json and tested, it loads from one file
 *   instead of hundreds (the faster cold start), and it costs about 300 KB of the 1 MB budget.
 * - HTTP goes through undici's agent and request API only (shared/clients/http.ts), zod is imported as a namespace
 *   (`import * as z`), which lets esbuild drop its locales and JSON-schema code.
 */
export const LAMBDA_BUNDLING = {
  format: 'esm',
  platform: 'node',
  target: 'node22',
  minify: true,
  sourceMap: true,
  sourcesContent: false,
  mainFields: ['module', 'main'],
  /**
   * ESM output needs `require` for the CommonJS dependencies esbuild inlines (some call require() on Node
   * built-ins). The aliased import avoids clashing with a bundled `createRequire` import.
   */
  banner:
    "import { createRequire as __connectorCreateRequire } from 'node:module'; const require = __connectorCreateRequire(import.meta.url);",
  externalModules: [] as string[],
  /**
   * Imports replaced in the bundle, resolved from the project root. The SDK clients' default credential chain
   * becomes the environment-only one Lambda needs (shared/runtime/lambda-credentials.ts says why).
   */
  alias: { '@aws-sdk/credential-provider-node': './shared/runtime/lambda-credentials.ts' } as Readonly<Record<string, string>>,
  /**
   * What the functions' environment sets with context `sourceMaps=true`: stack traces map back to the TypeScript
   * sources. Off by default: Node reads and parses the whole map (1.1 MB) as the bundle loads, 12% of a cold start's
   * module load (69 ms against 61 on the write bundle); the map ships either way, for the flag or to decode a trace.
   */
  sourceMapsNodeOptions: '--enable-source-maps',
} as const;

/** The same settings for esbuild's build API (the CDK adds `--bundle` and names the output `index.mjs`). */
export function esbuildOptions(entry: string, outfile: string, tsconfig: string): BuildOptions & { metafile: true } {
  return {
    entryPoints: [entry],
    outfile,
    bundle: true,
    format: LAMBDA_BUNDLING.format,
    platform: LAMBDA_BUNDLING.platform,
    target: LAMBDA_BUNDLING.target,
    minify: LAMBDA_BUNDLING.minify,
    sourcemap: LAMBDA_BUNDLING.sourceMap,
    sourcesContent: LAMBDA_BUNDLING.sourcesContent,
    mainFields: [...LAMBDA_BUNDLING.mainFields],
    banner: { js: LAMBDA_BUNDLING.banner },
    external: [...LAMBDA_BUNDLING.externalModules],
    alias: { ...LAMBDA_BUNDLING.alias },
    // Where the CDK runs esbuild, so that the aliases resolve alike.
    absWorkingDir: dirname(tsconfig),
    tsconfig,
    metafile: true,
    logLevel: 'warning',
  };
}
