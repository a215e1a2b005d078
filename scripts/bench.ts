/**
 * npm run bench: the token, rate, bundle and cost benchmark of issue 9.
 * Options: --quick (the 1k case only), --json FILE (the figures and the targets as JSON),
 *          --plan P (default premium), --concurrency C (writers per queue, default: the stack's
 *          writerMaxConcurrency in cdk.json), --seed S,
 *          --no-bundles / --no-sync (skip a part while working on the other),
 *          --keep DIR (keep each case's raw counts there), --no-win-latency (skip the win-to-order case),
 *          --latency realistic|off (default realistic: Pipedrive 250 ± 100 ms, QAD 150 ± 50, DynamoDB and SQS 8 ± 2),
 *          --no-naive, --naive-customers N (the naive peer: N customers of the 1k case's dataset; default 250, 50 with --quick),
 *          --no-budget-days, --budget-latency realistic|off (the 10k first sync on one premium seat over two days at the
 *          60% cap; not in --quick; default off: its figures are tokens and days, not rates),
 *          --rate-plans LIST (the 1k case's first sync alone on each further plan, for its write rate; default
 *          "ultimate,lite-oauth": plan, "-oauth" for an OAuth app's limits; "" for none).
 * The naive peer (scripts/bench/naive-peer.ts): search then upsert, one record at a time, on the same simulator and
 * dataset; the bench prints its tokens, time and doubled records per record against the connector's 1k first sync.
 * The win-to-order case (issue 20): 200 deals won 250 ms apart, pushed by webhooks (5% of deliveries dropped, 10%
 * doubled) and with the deal poll alone; p50 and p95 from won in Pipedrive to the order in QAD.
 * Exits non-zero when a target fails.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as z from 'zod';
import { AWS_PRICES } from './bench/aws-prices.ts';
import { measureBundles, REFERENCE_IMPORT, type BundleFigure } from './bench/bundles.ts';
import { summariseCase, type CaseFigures, type CaseOutput } from './bench/cases.ts';
import { seatsFor, target, type Target } from './bench/metrics.ts';
import { budgetDaysSchema, comparePeers, naiveRunSchema } from './bench/peers.ts';

const planSchema = z.enum(['lite', 'growth', 'premium', 'ultimate']);
const argsSchema = z.object({
  quick: z.boolean(),
  json: z.string().min(1).optional(),
  plan: planSchema,
  concurrency: z.coerce.number().int().min(1).max(20),
  seed: z.coerce.number().int(),
  'no-bundles': z.boolean(),
  'no-sync': z.boolean(),
  keep: z.string().min(1).optional(),
  'no-win-latency': z.boolean(),
  latency: z.enum(['realistic', 'off']),
  'no-naive': z.boolean(),
  'naive-customers': z.coerce.number().int().min(1).optional(),
  'no-budget-days': z.boolean(),
  'budget-latency': z.enum(['realistic', 'off']),
  'rate-plans': z
    .string()
    .transform((list) => list.split(',').filter((p) => p.trim() !== ''))
    .pipe(z.array(z.string().regex(/^(lite|growth|premium|ultimate)(-oauth)?$/u, 'a plan, with -oauth for an OAuth app'))),
});
const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    json: { type: 'string' },
    plan: { type: 'string', default: 'premium' },
    // The stack's writerMaxConcurrency (cdk.json): the writers the deployment runs per queue.
    concurrency: {
      type: 'string',
      default: String(
        (
          JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', 'cdk.json'), 'utf8')) as {
            context: { writerMaxConcurrency: number };
          }
        ).context.writerMaxConcurrency,
      ),
    },
    seed: { type: 'string', default: '42' },
    'no-bundles': { type: 'boolean', default: false },
    'no-sync': { type: 'boolean', default: false },
    keep: { type: 'string' },
    'no-win-latency': { type: 'boolean', default: false },
    latency: { type: 'string', default: 'realistic' },
    'no-naive': { type: 'boolean', default: false },
    'naive-customers': { type: 'string' },
    'no-budget-days': { type: 'boolean', default: false },
    'budget-latency': { type: 'string', default: 'off' },
    'rate-plans': { type: 'string', default: 'ultimate,lite-oauth' },
  },
});
const parsed = argsSchema.safeParse(values);
if (!parsed.success) {
  console.error(`npm run bench: ${parsed.error.issues.map((i) => `--${i.path.join('.')}: ${i.message}`).join('; ')}`);
  process.exit(2);
}
const args = parsed.data;
/** Timers running later than this (p99) mean the host, not the connector, set the pace. */
const SATURATED_DELAY_MS = 250;
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const say = (line = '') => process.stdout.write(`${line}\n`);

// The topology names the functions and their memory; it is read without synthesizing anything.
const { POLLERS, WRITERS } = await import('../infra/topology.ts');
const functions = [...POLLERS, ...WRITERS].map((f) => ({ id: f.id, entry: f.entry, memorySize: f.memorySize, environment: f.environment }));
const memoryMb = Math.max(...functions.map((f) => f.memorySize));

const CASES = [
  { name: '1k', customers: 1_000, items: 500, wonDeals: 50 },
  { name: '10k', customers: 10_000, items: 5_000, wonDeals: 200 },
];
const cases = args.quick ? CASES.slice(0, 1) : CASES;
const started = Date.now();

let bundles: BundleFigure[] = [];
if (!args['no-bundles']) {
  say('Bundling every function as the CDK does (infra/bundling.ts) and timing its cold module load ...');
  bundles = await measureBundles({ root, functions, runs: 7 });
}

const figures: CaseFigures[] = [];
/** The first sync alone on the --rate-plans: write rate, 429s, nothing lost. */
const rateFigures: CaseFigures[] = [];
if (!args['no-sync']) {
  const scratch = args.keep ?? mkdtempSync(join(tmpdir(), 'connector-bench-'));
  mkdirSync(scratch, { recursive: true });
  try {
    for (const c of cases) {
      // A first sync of 10k customers spends more than one premium seat's daily budget (150,000 tokens).
      const seats = seatsFor(c.customers * 3 + c.items + c.wonDeals, args.plan);
      say(
        `Case ${c.name}: ${c.customers} customers x 2 contacts, ${c.items} items in EUR and USD, ${c.wonDeals} won deals, ` +
          `20% already in Pipedrive; plan ${args.plan} with ${seats} seat(s), ${args.concurrency} writers per queue, ` +
          `latency ${args.latency} ...`,
      );
      const out = join(scratch, `${c.name}.json`);
      const t0 = Date.now();
      runCase(c, { plan: args.plan, auth: 'token', seats, rounds: 4, out });
      const output = JSON.parse(readFileSync(out, 'utf8')) as CaseOutput;
      figures.push(summariseCase(c.name, output, { memoryMb, prices: AWS_PRICES }));
      say(`  done in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    }
    // The write rate on the other plans: the 1k case's first sync alone, each in its own process.
    const c = CASES[0]!;
    for (const name of args['rate-plans']) {
      const [plan, auth] = name.endsWith('-oauth') ? [name.slice(0, -'-oauth'.length), 'oauth' as const] : [name, 'token' as const];
      const p = planSchema.parse(plan);
      const seats = seatsFor(c.customers * 3 + c.items + c.wonDeals, p);
      say(`Write rate, plan ${p} (${auth === 'oauth' ? 'OAuth app' : 'API token'}): the ${c.name} case's first sync ...`);
      const out = join(scratch, `${c.name}-${name}.json`);
      runCase(c, { plan: p, auth, seats, rounds: 1, out });
      rateFigures.push(
        summariseCase(`${c.name} ${name}`, JSON.parse(readFileSync(out, 'utf8')) as CaseOutput, { memoryMb, prices: AWS_PRICES }),
      );
    }
  } finally {
    if (!args.keep) rmSync(scratch, { recursive: true, force: true });
  }
}

// ---- win to order (webhooks and the poll alone) ----
const winLatency = args['no-win-latency'] ? undefined : measureWinLatency();

// ---- the naive peer beside the connector's 1k first sync; the first sync over two days at the budget cap ----
const firstCase = CASES[0]!;
const connector1k = figures.find((f) => f.name === firstCase.name);
const naive = args['no-naive'] || !connector1k ? undefined : measureNaivePeer(connector1k);
const budgetDays = args.quick || args['no-budget-days'] ? undefined : measureBudgetDays();

// ---- targets ----
const targets: Target[] = [];
for (const f of figures) {
  const [first, unchanged, changed] = f.rounds;
  if (!first || !unchanged || !changed) continue;
  targets.push(target(`${f.name}: first sync tokens / floor`, round3(first.tokens / first.floor), 'max', 1.05));
  targets.push(target(`${f.name}: rerun, nothing changed: tokens of the QAD -> Pipedrive sync`, unchanged.syncTokens, 'max', 0));
  targets.push(target(`${f.name}: rerun, 1% changed: tokens / floor`, round3(changed.tokens / changed.floor), 'max', 1.1));
  targets.push(
    target(
      `${f.name}: first sync DynamoDB requests per record written`,
      round3(first.dynamoRequests / Math.max(1, first.recordsWritten)),
      'max',
      4,
    ),
  );
  targets.push(...rateTargets(f));
}
for (const f of rateFigures) targets.push(...rateTargets(f));
if (winLatency) {
  targets.push(target('won deal to QAD order, webhooks: p95 seconds', round3(winLatency.webhooks.latencyMs.p95 / 1000), 'max', 10));
  targets.push(target('won deals ordered once, with webhooks and with the poll alone', winLatency.problems, 'max', 0));
}
if (budgetDays) {
  const b = budgetDays;
  targets.push(
    target(`budget cap: tokens of the busiest day / the connector's share (${b.cap})`, round3(b.summary.maxShareOfCap), 'max', 1),
  );
  targets.push(target(`budget cap: days the ${b.writes}-write first sync took (plan: ${b.plan?.days ?? '-'})`, b.summary.days, 'max', 2));
  targets.push(
    target('budget cap: records lost, doubled, mismatched or dead-lettered', b.problems + b.deadLetters + (b.settled ? 0 : 1), 'max', 0),
  );
}
for (const b of bundles) {
  targets.push(target(`bundle ${b.function}: bytes`, b.bytes, 'max', 1_000_000));
  targets.push(
    target(`bundle ${b.function}: module load / ${REFERENCE_IMPORT}'s (median of paired runs)`, round3(b.loadRatio), 'max', 1.2),
  );
}

// ---- the table ----
const { renderReport, renderNaivePeer, renderBudgetDays } = await import('./bench/report.ts');
say();
say(renderReport({ plan: args.plan, concurrency: args.concurrency, figures, rateFigures, bundles, targets, prices: AWS_PRICES }));
if (winLatency) {
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const w = winLatency.webhooks;
  say(`\nWon deal to QAD order (${w.deals} deals, ${w.notOrdered} not mappable):`);
  say(
    `  webhooks    p50 ${s(w.latencyMs.p50)}, p95 ${s(w.latencyMs.p95)} (${w.orderedByWebhook} pushed; ${w.orderedByPoll} ` +
      `lost deliveries ordered by the poll)`,
  );
  say(
    `  poll alone  p50 ${s(winLatency.pollAloneMs.p50)}, p95 ${s(winLatency.pollAloneMs.p95)} (the wait for the next poll of ` +
      `${s(winLatency.intervalMs)}, then p50 ${s(winLatency.pollAfterPollMs.p50)}, p95 ${s(winLatency.pollAfterPollMs.p95)} after it)`,
  );
}
if (naive) say(`\n${renderNaivePeer(naive.comparison, naive.run)}`);
if (budgetDays) say(`\n${renderBudgetDays(budgetDays)}`);
say(`\nBench wall time ${((Date.now() - started) / 1000).toFixed(0)} s.`);

if (args.json) {
  const json = {
    options: args,
    prices: AWS_PRICES,
    cases: figures,
    ratePlans: rateFigures,
    bundles,
    winLatency,
    naivePeer: naive,
    budgetDays,
    targets,
  };
  writeFileSync(args.json, `${JSON.stringify(json, null, 2)}\n`);
  say(`JSON written to ${args.json}`);
}
const failed = targets.filter((t) => !t.pass);
process.exitCode = failed.length === 0 ? 0 : 1;

/** A case's write rate, its 429s, whether the host starved it (then no pass is reported), and nothing lost. */
function rateTargets(f: CaseFigures): Target[] {
  const first = f.rounds[0];
  if (!first) return [];
  return [
    target(`${f.name}: first sync write rate / plan's allowed rate`, round3(first.writesPerSecond / first.allowedPerSecond), 'min', 0.85),
    ...f.rounds.map((r) => target(`${f.name}: ${r.label}: 429 share of calls`, round3(r.share429), 'max', 0.01)),
    target(`${f.name}: first sync: event loop utilisation (host not saturated)`, round3(first.eventLoopUtilization), 'max', 0.9),
    target(
      `${f.name}: first sync: timers late by, p99 ms (host not saturated)`,
      Math.round(first.loopDelayP99Ms),
      'max',
      SATURATED_DELAY_MS,
    ),
    target(`${f.name}: nothing lost or duplicated`, f.problems, 'max', 0),
  ];
}

/** One case of scripts/bench/run-case.ts in its own process: its peak memory and event loop are its own. */
function runCase(
  c: (typeof CASES)[number],
  o: { plan: z.infer<typeof planSchema>; auth: 'token' | 'oauth'; seats: number; rounds: 1 | 4; out: string },
): void {
  const options = {
    customers: c.customers,
    items: c.items,
    'won-deals': c.wonDeals,
    plan: o.plan,
    auth: o.auth,
    concurrency: args.concurrency,
    seats: o.seats,
    rounds: o.rounds,
    'change-rate': 0.01,
    seed: args.seed,
    latency: args.latency,
    out: o.out,
  };
  const argv = Object.entries(options).flatMap(([k, v]) => [`--${k}`, String(v)]);
  execFileSync(process.execPath, ['--import', 'tsx', join(root, 'scripts/bench/run-case.ts'), ...argv], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
}

/** The win-to-order case in its own process (scripts/bench/win-latency.ts). */
function measureWinLatency() {
  say('Win to order: 200 deals won 250 ms apart, with webhooks and with the deal poll alone ...');
  const q = z.object({ p50: z.number(), p95: z.number() });
  return z
    .object({
      webhooks: z.object({
        deals: z.number(),
        notOrdered: z.number(),
        orderedByWebhook: z.number(),
        orderedByPoll: z.number(),
        latencyMs: q,
      }),
      pollAfterPollMs: q,
      pollAloneMs: q,
      intervalMs: z.number(),
      problems: z.number(),
    })
    .parse(runChild('scripts/bench/win-latency.ts', { 'won-deals': 200, 'win-interval-ms': 250, seed: args.seed }));
}

/** The child's JSON, in its own scratch folder: one process per measurement, so that its memory and event loop are its own. */
function runChild(script: string, options: Record<string, string | number>): unknown {
  const scratch = mkdtempSync(join(tmpdir(), 'connector-bench-'));
  try {
    const out = join(scratch, 'out.json');
    const argv = Object.entries({ ...options, out }).flatMap(([k, v]) => [`--${k}`, String(v)]);
    execFileSync(process.execPath, ['--import', 'tsx', join(root, script), ...argv], {
      cwd: root,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    return JSON.parse(readFileSync(out, 'utf8')) as unknown;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** The naive peer on part of the 1k case's dataset, at the same plan, seats and latency, against the connector's first sync. */
function measureNaivePeer(connector: CaseFigures) {
  const subset = args['naive-customers'] ?? (args.quick ? 50 : 250);
  say(`Naive peer: search then upsert, one record at a time, ${subset} customers of the ${firstCase.name} case's dataset ...`);
  const run = naiveRunSchema.parse(
    runChild('scripts/bench/naive-peer.ts', {
      customers: firstCase.customers,
      items: firstCase.items,
      subset,
      plan: args.plan,
      seats: connector.seats,
      seed: args.seed,
      latency: args.latency,
    }),
  );
  const first = connector.rounds[0]!;
  const comparison = comparePeers(
    { records: run.records.total, tokens: run.tokens, seconds: run.seconds, doubled: run.doubled.total },
    { records: first.records - connector.wonDeals, tokens: first.syncTokens, seconds: first.wallSeconds, doubled: connector.doubled },
  );
  return { run, comparison };
}

/** The 10k case's first sync on one premium seat, at the default 60% share, over as many days as it takes. */
function measureBudgetDays() {
  const c = CASES[1]!;
  say(`Budget cap: ${c.customers} customers, ${c.items} items on 1 premium seat (150,000 tokens a day, 60% for the connector) ...`);
  return budgetDaysSchema.parse(
    runChild('scripts/bench/budget-days.ts', {
      customers: c.customers,
      items: c.items,
      plan: 'premium',
      seats: 1,
      concurrency: args.concurrency,
      seed: args.seed,
      latency: args['budget-latency'],
    }),
  );
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}
