/**
 * The operator's CLI: `npm run connector -- <command>` from the sources, or `npx connector <command>` from
 * dist/connector.mjs, which `npm ci` builds (scripts/build-cli.mjs).
 */
process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const { runCli, processIo } = await import('./cli/run.ts');
process.exitCode = await runCli(process.argv.slice(2), processIo);
