/**
 * One benchmark case in its own process (so its peak memory is its own): the local pipeline of
 * `npm start` on the simulators, a first sync, a rerun with nothing changed and a rerun with a share
 * of customers changed, each counted. Run by scripts/bench.ts; prints progress, writes --out.
 * BENCH_DIAGNOSE=1 also prints, per round, the time each function spent waiting on each service.
 */
import { writeFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import * as z from 'zod';

const argsSchema = z.object({
  customers: z.coerce.number().int().min(1),
  items: z.coerce.number().int().min(0),
  'won-deals': z.coerce.number().int().min(0),
  plan: z.enum(['lite', 'growth', 'premium', 'ultimate']),
  concurrency: z.coerce.number().int().min(1).max(20),
  'change-rate': z.coerce.number().min(0).max(1),
  seats: z.coerce.number().int().min(1),
  seed: z.coerce.number().int(),
  latency: z.enum(['realistic', 'off']).default('realistic'),
  auth: z.enum(['token', 'oauth']).default('token'),
  /** 1: the first sync only (a plan's write rate); 4: it and the three reruns. */
  rounds: z.coerce
    .number()
    .pipe(z.union([z.literal(1), z.literal(4)]))
    .default(4),
  out: z.string().min(1),
});
const { values } = parseArgs({
  options: {
    customers: { type: 'string' },
    items: { type: 'string' },
    'won-deals': { type: 'string' },
    plan: { type: 'string' },
    concurrency: { type: 'string' },
    'change-rate': { type: 'string' },
    seats: { type: 'string' },
    seed: { type: 'string' },
    latency: { type: 'string' },
    auth: { type: 'string' },
    rounds: { type: 'string' },
    out: { type: 'string' },
  },
});
const args = argsSchema.parse(values);

process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED = 'true';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const { LocalPipeline } = await import('../local/pipeline.ts');
const { LATENCY_PRESETS } = await import('../simulators/latency.ts');
const { installRuntimeProbe } = await import('../../shared/runtime/probe.ts');
const { pipedriveTokenCost } = await import('../../shared/runtime/observability.ts');
const { dynamoUnits } = await import('./metrics.ts');
const { keyCounts, pipedriveDoubles } = await import('./peers.ts');
const { casePipeline } = await import('./cases.ts');
const { normaliseName } = await import('../../shared/domain/text.ts');
type RoundReport = import('../local/pipeline.ts').RoundReport;
type Counters = import('./cases.ts').RoundCounters;

const fresh = (): Counters => ({
  writes: [],
  tokensByFunction: {},
  callsByFunction: {},
  aws: { sqsRequests: 0, dynamoWrites: 0, dynamoReads: 0, kmsRequests: 0, byCommand: {} },
  peakRssBytes: 0,
  eventLoopUtilization: 0,
});
let counters = fresh();
// Set once the pipeline exists: which function is running a call.
let currentFunction: () => string = () => 'setup';
/** Diagnostics: time each function spent waiting on each service (ms, summed over concurrent calls). */
let timeByFunction: Record<string, Record<string, number>> = {};
let auditTable = '';
/** Diagnostics: DynamoDB requests by command, table and item kind (the key's prefix). */
let dynamoByKind: Record<string, number> = {};
/** What a DynamoDB request is about: its table and the prefix of its (first) key, `T#<tenant>#` left out. */
function dynamoItemKind(input: unknown): string {
  const text = JSON.stringify(input);
  const table = /"TableName":"([^"]+)"/u.exec(text)?.[1] ?? /"RequestItems":\{"([^"]+)"/u.exec(text)?.[1] ?? '?';
  const pk = /"pk":\{"S":"([^"]+)"/u.exec(text)?.[1] ?? '';
  const sk = /"sk":\{"S":"([^"#:]+)/u.exec(text)?.[1] ?? '';
  return `${table.replace(/^.*-/u, '')} ${pk.replace(/^T#[^#]+#?/u, '').replace(/[#:].*$/u, '')}/${sk}`;
}
/** Diagnostics: every Pipedrive call's send time and status, for the calls per second the round reached. */
let callTimes: Array<{ sentMs: number; status: number }> = [];

installRuntimeProbe({
  awsCall(service, command, input) {
    const key = `${service} ${command.replace(/Command$/u, '')}`;
    counters.aws.byCommand[key] = (counters.aws.byCommand[key] ?? 0) + 1;
    if (process.env.BENCH_DIAGNOSE && service === 'dynamodb') {
      const detail = `${key} ${dynamoItemKind(input)}`;
      dynamoByKind[detail] = (dynamoByKind[detail] ?? 0) + 1;
    }
    if (service === 'sqs') counters.aws.sqsRequests++;
    else if (service === 'kms') counters.aws.kmsRequests++;
    else {
      const units = dynamoUnits(command, input, new Set([auditTable]));
      counters.aws.dynamoWrites += units.writes;
      counters.aws.dynamoReads += units.reads;
    }
  },
  awsCallDone(service, _command, ms) {
    const times = (timeByFunction[currentFunction()] ??= {});
    times[service] = (times[service] ?? 0) + ms;
  },
  pipedriveCall(_tenantId, info) {
    const times = (timeByFunction[currentFunction()] ??= {});
    times.pipedrive = (times.pipedrive ?? 0) + info.ms;
    const fn = currentFunction();
    counters.callsByFunction[fn] = (counters.callsByFunction[fn] ?? 0) + 1;
    counters.tokensByFunction[fn] = (counters.tokensByFunction[fn] ?? 0) + pipedriveTokenCost(info.endpoint, info.status);
    const endMs = Date.now();
    if (process.env.BENCH_DIAGNOSE) callTimes.push({ sentMs: endMs - info.ms, status: info.status });
    if (/^(POST|PATCH) /u.test(info.endpoint) && info.status >= 200 && info.status < 300)
      counters.writes.push({ startMs: endMs - info.ms, endMs, fn });
  },
});

const pipeline = await LocalPipeline.start(casePipeline({ ...args, wonDeals: args['won-deals'], latency: LATENCY_PRESETS[args.latency] }));
currentFunction = () => pipeline.lambda.current() ?? 'local run';
auditTable = pipeline.aws.env.AUDIT_TABLE;

// The event source's own SQS requests (receive, delete): Lambda's pollers make them and they are billed.
// Receives that found nothing are left out: Lambda long-polls, the local event source polls every 200 ms.
pipeline.aws.sqs.middlewareStack.add(
  (next, context) => async (input) => {
    const out = await next(input);
    const command = context.commandName ?? '';
    const received = (out.output as { Messages?: unknown[] }).Messages?.length ?? 0;
    if (command === 'DeleteMessageBatchCommand' || (command === 'ReceiveMessageCommand' && received > 0)) {
      counters.aws.sqsRequests++;
      const key = `sqs ${command.replace(/Command$/u, '')} (event source)`;
      counters.aws.byCommand[key] = (counters.aws.byCommand[key] ?? 0) + 1;
    }
    return out;
  },
  { step: 'initialize', name: 'benchEventSourceCounter' },
);

/** Pipedrive's organizations, persons and products as content (times left out), to see which a round changed. */
function pipedriveContent(): Map<string, string> {
  const content = new Map<string, string>();
  const add = (kind: string, records: ReadonlyArray<{ id: number; update_time?: string; add_time?: string }>) => {
    for (const { update_time: _u, add_time: _a, ...rest } of records) content.set(`${kind}:${rest.id}`, JSON.stringify(rest));
  };
  add('organization', pipeline.pipedrive.organizations());
  add('person', pipeline.pipedrive.persons());
  add('product', pipeline.pipedrive.products());
  // Deals: the order number and the order's life written back, a rejected deal's status field.
  add('deal', pipeline.pipedrive.deals());
  return content;
}
/** Records doubled in Pipedrive, counted as the naive peer's are (scripts/bench/peers.ts). */
function doubledInPipedrive() {
  const qad = pipeline.qad.tenant(pipeline.qadBasePath);
  // The contacts both sides sync: active, with an email or a phone.
  const qualifying = qad.contacts().filter((c) => c['ct_mstr.ct_active'] && (c['ct_mstr.ct_email'] || c['ct_mstr.ct_phone']));
  return pipedriveDoubles(
    { organizations: pipeline.pipedrive.organizations(), persons: pipeline.pipedrive.persons(), products: pipeline.pipedrive.products() },
    {
      names: keyCounts(qad.customers().map((c) => normaliseName(c['ad_mstr.ad_name']))),
      emails: keyCounts(qualifying.flatMap((c) => (c['ct_mstr.ct_email'] ? [c['ct_mstr.ct_email'].toLowerCase()] : []))),
      codes: keyCounts(qad.items().map((i) => i['pt_mstr.pt_part'])),
    },
  ).total;
}

async function round(
  label: string,
): Promise<{ label: string; report: RoundReport; counters: Counters; recordsChanged: number; notesAdded: number }> {
  counters = fresh();
  timeByFunction = {};
  callTimes = [];
  dynamoByKind = {};
  const elu = performance.eventLoopUtilization();
  const loopDelay = monitorEventLoopDelay({ resolution: 20 });
  loopDelay.enable();
  const before = pipedriveContent();
  const notesBefore = pipeline.pipedrive.notes().length;
  const started = Date.now();
  const sampler = setInterval(() => {
    counters.peakRssBytes = Math.max(counters.peakRssBytes, process.memoryUsage.rss());
  }, 100);
  try {
    let last = 0;
    const report = await pipeline.runRound({
      deadlineMs: 60 * 60_000,
      onProgress: (done) => {
        if (done - last < 1000) return;
        last = done;
        process.stdout.write(`    ${label}: ${done} records written, ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
      },
    });
    process.stdout.write(
      `    ${label}: ${report.pipedrive.tokens} tokens, ${report.pipedrive.calls} calls, ${report.pipedrive.status429} x 429, ` +
        `${(report.elapsedMs / 1000).toFixed(1)} s, ` +
        `event loop busy ${Math.round(performance.eventLoopUtilization(elu).utilization * 100)}%, ` +
        `timers late by ${Math.round(loopDelay.percentile(99) / 1e6)} ms (p99)` +
        `${report.drained ? '' : ', queues NOT drained'}\n`,
    );
    counters.peakRssBytes = Math.max(counters.peakRssBytes, process.memoryUsage.rss());
    // What had to change: Pipedrive records new or different after the round, and each new order's number written back to its deal.
    let recordsChanged = 0;
    for (const [key, value] of pipedriveContent()) if (before.get(key) !== value) recordsChanged++;
    counters.eventLoopUtilization = performance.eventLoopUtilization(elu).utilization;
    counters.loopDelayP99Ms = loopDelay.percentile(99) / 1e6;
    if (process.env.BENCH_DIAGNOSE) {
      const seconds = (ms: number) => Math.round(ms / 1000);
      const waiting = Object.fromEntries(
        Object.entries(timeByFunction).map(([f, t]) => [f, Object.fromEntries(Object.entries(t).map(([k, v]) => [k, seconds(v)]))]),
      );
      const invocations = Object.fromEntries(Object.entries(report.lambda).map(([f, s]) => [f, [s.invocations, seconds(s.ms)]]));
      process.stdout.write(
        `    time waiting, by function and service (s): ${JSON.stringify(waiting)}; invocations ${JSON.stringify(invocations)}\n`,
      );
      const t0 = Math.min(...callTimes.map((c) => c.sentMs));
      const perBucket = new Map<number, { calls: number; refused: number }>();
      for (const c of callTimes) {
        const b = perBucket.get(Math.floor((c.sentMs - t0) / 5000)) ?? { calls: 0, refused: 0 };
        b.calls++;
        if (c.status === 429) b.refused++;
        perBucket.set(Math.floor((c.sentMs - t0) / 5000), b);
      }
      const buckets = [...perBucket]
        .sort(([a], [b]) => a - b)
        .map(([b, n]) => `${b * 5}s ${n.calls / 5}/s${n.refused ? ` (${n.refused} x 429)` : ''}`);
      process.stdout.write(`    Pipedrive calls sent per second, by 5 s: ${buckets.join(', ')}\n`);
      const kinds = Object.entries(dynamoByKind).sort(([, a], [, b]) => b - a);
      process.stdout.write(`    DynamoDB requests by kind: ${kinds.map(([k, n]) => `${k} ${n}`).join(', ')}\n`);
    }
    return { label, report, counters, recordsChanged, notesAdded: pipeline.pipedrive.notes().length - notesBefore };
  } finally {
    clearInterval(sampler);
    loopDelay.disable();
  }
}

try {
  const first = await round('first sync');
  const state = await pipeline.state();
  const doubledAfterFirstSync = doubledInPipedrive();
  const reruns = args.rounds === 4 ? await rerunRounds() : { rounds: [], changed: 0, ordersMoved: 0 };
  const lambdaMemoryMb = 512;
  writeFileSync(
    args.out,
    JSON.stringify({
      options: args,
      preexistingOrganizations: Math.round(args.customers * 0.2),
      state,
      doubledAfterFirstSync,
      changedCustomers: reruns.changed,
      ordersMoved: reruns.ordersMoved,
      rounds: [first, ...reruns.rounds],
      lambdaMemoryMb,
      peakRssBytes: process.resourceUsage().maxRSS * 1024,
      dailyTokens: pipeline.pipedrive.dailyTokens(),
    }),
  );
} finally {
  await pipeline.close();
}

/** A rerun with nothing changed, one after a share of customers changed, one after QAD's order desk moved orders on. */
async function rerunRounds() {
  const unchanged = await round('rerun, nothing changed');
  const changed = pipeline.changeQad(args['change-rate']);
  const rerun = await round(`rerun, ${args['change-rate'] * 100}% changed`);
  const ordersMoved = pipeline.orderDeskWorks();
  const statuses = await round('rerun, orders moved on in QAD');
  return { rounds: [unchanged, rerun, statuses], changed, ordersMoved };
}
