/**
 * The bench's win-to-order case (issue 20), in its own process: won deals from a deal becoming won in the Pipedrive
 * simulator to its QAD order existing, p50 and p95, once pushed by webhooks (the simulator dropping, doubling and
 * delaying deliveries, the poll catching what is lost) and once with the deal poll alone. Source mode: the figure is
 * the connector's path, not the artifact containers' start-up. Writes --out.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import * as z from 'zod';

const args = z
  .object({
    'won-deals': z.coerce.number().int().min(1),
    'win-interval-ms': z.coerce.number().int().min(0),
    seed: z.coerce.number().int(),
    out: z.string().min(1),
  })
  .parse(
    parseArgs({
      options: {
        'won-deals': { type: 'string' },
        'win-interval-ms': { type: 'string' },
        seed: { type: 'string' },
        out: { type: 'string' },
      },
    }).values,
  );

process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED = 'true';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const { LocalPipeline } = await import('../local/pipeline.ts');
const { DEFAULT_SCHEDULES } = await import('../../infra/topology.ts');
const { rateToMs } = await import('../../shared/domain/schedule.ts');

/** One run: a small synced dataset, then the won deals of round 1. */
async function run(webhooks: boolean) {
  const pipeline = await LocalPipeline.start({
    customers: 60,
    contactsPerCustomer: 1,
    items: 60,
    currencies: ['EUR', 'USD'],
    seed: args.seed,
    preexisting: 0,
    plan: 'premium',
    writerConcurrency: 5,
    wonDeals: args['won-deals'],
    seats: 3,
    ...(webhooks && { webhooks: { dropRate: 0.05, duplicateRate: 0.1, maxDelayMs: 500, winIntervalMs: args['win-interval-ms'] } }),
  });
  try {
    await pipeline.runRound();
    const state = await pipeline.state();
    const report = pipeline.winReport;
    if (!report) throw new Error('round 1 measured no won deals');
    return { report, problems: state.duplicates.salesOrders + state.missing.salesOrders + state.mismatched.salesOrders };
  } finally {
    await pipeline.close();
  }
}

const pushed = await run(true);
const polled = await run(false);
// With the poll alone a deal won at a random moment first waits for the poll's next tick: half the schedule's interval
// at the median, 95% of it at p95 (adding the quantiles bounds the p95 from above).
const intervalMs = rateToMs(DEFAULT_SCHEDULES['deals'] ?? 'rate(5 minutes)');
const after = polled.report.afterPollMs;
const pollAlone = { p50: intervalMs / 2 + after.p50, p95: 0.95 * intervalMs + after.p95 };
const figures = {
  webhooks: pushed.report,
  pollAfterPollMs: after,
  pollAloneMs: pollAlone,
  intervalMs,
  problems: pushed.problems + polled.problems,
};
writeFileSync(args.out, `${JSON.stringify(figures, null, 2)}\n`);
