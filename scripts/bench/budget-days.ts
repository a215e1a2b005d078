/**
 * A first sync too large for one day's token budget (issue 19, point 7), in its own process: a company of `--seats`
 * seats whose connector may spend `pipedrive.dailyBudgetShare` (default 60%) of the daily budget. Before it starts,
 * the plan `connector sync --dry-run` prints (`budgetPlan`) for all of it. Rounds of every schedule run until
 * nothing waits; when the writers are idle because the tenant's budget gate is closed, midnight UTC passes without
 * the hours in between (`LocalPipeline.midnight()`). Writes the tokens of each day, the days taken, the plan's
 * prediction and what was lost or doubled to --out. Run by scripts/bench.ts.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import * as z from 'zod';

const args = z
  .object({
    customers: z.coerce.number().int().min(1),
    items: z.coerce.number().int().min(0),
    plan: z.enum(['lite', 'growth', 'premium', 'ultimate']),
    seats: z.coerce.number().int().min(1),
    concurrency: z.coerce.number().int().min(1).max(20),
    seed: z.coerce.number().int(),
    latency: z.enum(['realistic', 'off']),
    /** Overrides the company's daily budget (a small case that still needs two days); default the plan's. */
    'daily-budget': z.coerce.number().int().min(1).optional(),
    'max-rounds': z.coerce.number().int().min(1).default(8),
    out: z.string().min(1),
  })
  .parse(
    parseArgs({
      options: Object.fromEntries(
        ['customers', 'items', 'plan', 'seats', 'concurrency', 'seed', 'latency', 'daily-budget', 'max-rounds', 'out'].map((o) => [
          o,
          { type: 'string' as const },
        ]),
      ),
    }).values,
  );

process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED = 'true';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const { LocalPipeline, TENANT_ID } = await import('../local/pipeline.ts');
const { LATENCY_PRESETS } = await import('../simulators/latency.ts');
const { DynamoTenantStore } = await import('../../shared/adapters/aws/dynamo-tenant-store.ts');
const { LocalCipher } = await import('../../shared/adapters/local/local-cipher.ts');
const { createTenantClients } = await import('../../shared/runtime/tenant-clients.ts');
const { createHttpClient } = await import('../../shared/clients/http.ts');
const { budgetPlan, budgetPlanLine } = await import('../../shared/operations/sync.ts');
const { syncDays } = await import('./peers.ts');
const { casePipeline } = await import('./cases.ts');

const pipeline = await LocalPipeline.start(casePipeline({ ...args, latency: LATENCY_PRESETS[args.latency] }));
const say = (line: string) => process.stdout.write(`    ${line}\n`);
try {
  if (args['daily-budget'] !== undefined) pipeline.pipedrive.setDailyTokenBudget(args['daily-budget']);
  // The operator's view before the sync: the plan of `connector sync --dry-run`, for every record the first sync writes.
  const before = await pipeline.state();
  const writes = before.qad.customers + before.qad.qualifyingContacts + before.qad.items;
  const { cipherKey, env } = pipeline.connectionFile();
  Object.assign(process.env, env);
  const clients = createTenantClients({ cipher: new LocalCipher(Buffer.from(cipherKey, 'base64')), http: createHttpClient({}) });
  const tenant = await new DynamoTenantStore(pipeline.aws.dynamo, pipeline.aws.env.CONNECTIONS_TABLE).get(TENANT_ID);
  if (!tenant) throw new Error('the demo tenant is not registered');
  await (await clients.pipedrive(tenant)).listFields('organization'); // a dry run has read Pipedrive's limits by then
  const startMs = Date.now();
  const plan = await budgetPlan(clients, tenant, writes, startMs);
  const planLine = await budgetPlanLine(clients, tenant, writes, startMs);
  say(`plan for ${writes} writes: ${planLine}`);

  type Calls = Record<string, { calls: number; tokens: number }>;
  const days: Array<{
    day: number;
    tokens: number;
    elapsedMs: number;
    written: number;
    rounds: number;
    gateClosed: boolean;
    byEndpoint: Calls;
  }> = [];
  const fresh = () => ({ started: Date.now(), written: 0, rounds: 0, byEndpoint: {} as Calls });
  let today = fresh();
  let settled = false;
  for (let round = 1; round <= args['max-rounds'] && !settled; round++) {
    const report = await pipeline.runRound({ deadlineMs: 3 * 3_600_000 });
    const written = Object.values(report.entities).reduce((n, o) => n + o.created + o.updated, 0);
    today = { ...today, written: today.written + written, rounds: today.rounds + 1 };
    for (const [endpoint, c] of Object.entries(report.pipedrive.byEndpoint)) {
      const sum = (today.byEndpoint[endpoint] ??= { calls: 0, tokens: 0 });
      sum.calls += c.calls;
      sum.tokens += c.tokens;
    }
    const gateClosed = await pipeline.budgetGateClosed();
    // Done once nothing waits anywhere and every poll ran: a closed gate skips the polls, which read on the next day.
    settled = report.settled && !gateClosed;
    say(
      `day ${days.length + 1}, round ${round}: ${written} written, ${pipeline.pipedrive.dailyTokens().used} tokens today, ` +
        `${(report.elapsedMs / 1000).toFixed(0)} s${gateClosed ? ', budget gate closed' : ''}${settled ? ', settled' : ''}`,
    );
    // Records waiting for others with the gate open: the next round's polls release them, the same day.
    if (!settled && !gateClosed) continue;
    // A day after midnight that found nothing left to write is not a day of the sync.
    if (!(settled && today.written === 0 && days.length > 0))
      days.push({
        day: days.length + 1,
        tokens: pipeline.pipedrive.dailyTokens().used,
        elapsedMs: Date.now() - today.started,
        ...today,
        gateClosed,
      });
    if (gateClosed) {
      await pipeline.midnight();
      today = fresh();
    }
  }
  const state = await pipeline.state();
  const problems = [...Object.values(state.duplicates), ...Object.values(state.missing), ...Object.values(state.mismatched)].reduce(
    (a, b) => a + b,
    0,
  );
  const budget = pipeline.pipedrive.dailyTokens().budget;
  const cap = Math.floor(budget * (plan?.share ?? 1));
  writeFileSync(
    args.out,
    JSON.stringify({
      options: args,
      writes,
      startedAtMs: startMs,
      budget,
      cap,
      plan: plan && { ...plan, line: planLine },
      days,
      summary: syncDays(startMs, days, cap),
      settled,
      problems,
      duplicates: state.duplicates,
      missing: state.missing,
      mismatched: state.mismatched,
      deadLetters: await pipeline.deadLetterCount(),
    }),
  );
} finally {
  await pipeline.close();
}
