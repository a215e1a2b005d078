#!/usr/bin/env -S node --import tsx
/** The operator's CLI: `npm run connector -- <command>` (or `npx connector` after install). */
process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const { runCli, processIo } = await import('./cli/run.ts');
process.exitCode = await runCli(process.argv.slice(2), processIo);
