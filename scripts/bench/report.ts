import type { AwsPrices } from './aws-prices.ts';
import type { BundleFigure } from './bundles.ts';
import type { CaseFigures } from './cases.ts';
import type { Target } from './metrics.ts';
import type { BudgetDays, NaiveRun, PeerComparison } from './peers.ts';

/** A Markdown table, so the output pastes into the README as it is. */
export function table(header: string[], rows: Array<Array<string | number>>): string {
  const lines = [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`];
  for (const row of rows) lines.push(`| ${row.map(String).join(' | ')} |`);
  return lines.join('\n');
}

const fixed = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '-');
const pct = (n: number, digits = 1) => `${fixed(n * 100, digits)}%`;
const kb = (bytes: number) => `${fixed(bytes / 1024, 0)} KB`;

export function renderReport(r: {
  plan: string;
  concurrency: number;
  figures: CaseFigures[];
  /** The first sync alone on further plans (--rate-plans). */
  rateFigures?: CaseFigures[];
  bundles: BundleFigure[];
  targets: Target[];
  prices: AwsPrices;
}): string {
  const out: string[] = [];
  const rates = r.rateFigures ?? [];
  if (rates.length > 0) {
    out.push(`Write rate on further plans (first sync alone, ${r.concurrency} writers per queue)`);
    out.push(
      table(
        [
          'case',
          'writes/s (write phase)',
          'allowed/s',
          'of allowed',
          'calls',
          '429s',
          'tokens',
          'event loop busy',
          'timers late p99',
          'lost, doubled',
        ],
        rates.flatMap((f) =>
          f.rounds
            .slice(0, 1)
            .map((x) => [
              f.name,
              `${fixed(x.writesPerSecond)} (${x.writes} in ${fixed(x.writePhaseSeconds)} s)`,
              fixed(x.allowedPerSecond, 0),
              pct(x.writesPerSecond / x.allowedPerSecond, 0),
              x.calls,
              pct(x.share429, 2),
              x.tokens,
              pct(x.eventLoopUtilization, 0),
              `${fixed(x.loopDelayP99Ms, 0)} ms`,
              f.problems,
            ]),
        ),
      ),
      '',
    );
  }
  if (r.figures.length > 0) {
    out.push(
      `Pipedrive (plan ${r.plan}, ${r.concurrency} writers per queue; floor = 5 tokens x records that must change + 10 x list pages)`,
    );
    out.push(
      table(
        [
          'case',
          'run',
          'records',
          'must change',
          'floor',
          'tokens',
          'tokens / floor',
          'per record',
          'QAD->PD sync tokens',
          'calls',
          '429s',
          'writes/s (write phase)',
          'allowed/s',
          'of allowed',
          'wall s',
          'peak RSS',
          'event loop busy',
          'timers late p99',
        ],
        r.figures.flatMap((f) =>
          f.rounds.map((x) => [
            f.name,
            x.label,
            x.records,
            x.recordsToChange,
            x.floor,
            x.tokens,
            fixed(x.tokens / x.floor, 3),
            fixed(x.tokens / x.records, 2),
            x.syncTokens,
            x.calls,
            pct(x.share429, 2),
            `${fixed(x.writesPerSecond)} (${x.writes} in ${fixed(x.writePhaseSeconds)} s)`,
            fixed(x.allowedPerSecond, 0),
            pct(x.writesPerSecond / x.allowedPerSecond, 0),
            fixed(x.wallSeconds),
            `${fixed(x.peakRssMb, 0)} MB`,
            pct(x.eventLoopUtilization, 0),
            `${fixed(x.loopDelayP99Ms, 0)} ms`,
          ]),
        ),
      ),
    );
    out.push(
      '',
      r.figures
        .map((f) => {
          const tokens = f.dailyTokens
            ? `${f.dailyTokens.used} of ${f.dailyTokens.budget} (${pct(f.dailyTokens.used / f.dailyTokens.budget, 0)})`
            : '-';
          return `${f.name}: company of ${f.seats} seat(s); daily token budget used ${tokens}`;
        })
        .join('; '),
    );
    out.push('', 'Pipedrive calls by endpoint (calls / tokens)');
    const endpoints = [...new Set(r.figures.flatMap((f) => f.rounds.flatMap((x) => Object.keys(x.byEndpoint))))].sort();
    const columns = r.figures.flatMap((f) => f.rounds.map((x) => ({ name: `${f.name} ${x.label}`, x })));
    out.push(
      table(
        ['endpoint', ...columns.map((c) => c.name)],
        endpoints.map((e) => [
          e,
          ...columns.map((c) => (c.x.byEndpoint[e] ? `${c.x.byEndpoint[e].calls} / ${c.x.byEndpoint[e].tokens}` : '-')),
        ]),
      ),
    );
    out.push(
      '',
      `AWS, counted in the local run; cost at ${r.prices.region} list prices as of ${r.prices.asOf} (scripts/bench/aws-prices.ts)`,
    );
    out.push(
      table(
        [
          'case',
          'run',
          'Lambda invocations',
          'GB-s (upper bound)',
          'SQS requests',
          'DynamoDB writes',
          'DynamoDB reads',
          'DynamoDB requests per record written',
          'KMS calls',
          'USD',
          'USD per million records',
        ],
        r.figures.flatMap((f) =>
          f.rounds.map((x) => [
            f.name,
            x.label,
            Object.values(x.invocations).reduce((n, s) => n + s.invocations, 0),
            fixed(x.cost.gbSeconds, 0),
            x.aws.sqsRequests,
            x.aws.dynamoWrites,
            x.aws.dynamoReads,
            x.recordsWritten > 0 ? fixed(x.dynamoRequests / x.recordsWritten, 2) : '-',
            x.aws.kmsRequests,
            fixed(x.cost.usd.total, 4),
            fixed(x.cost.perMillionRecordsUsd, 2),
          ]),
        ),
      ),
    );
  }
  if (r.bundles.length > 0) {
    out.push(
      '',
      'Lambda bundles (infra/bundling.ts; load = fresh node process importing the bundle, as a function loads it by default ' +
        '(no source maps), median of 5; x reference = median of paired runs of this bundle / @aws-sdk/client-dynamodb alone ' +
        'from node_modules, timed alternately)',
    );
    out.push(
      table(
        ['function', 'bundle', 'source map', 'module load ms', 'x reference', 'reference ms', 'runs ms', 'largest inputs'],
        r.bundles.map((b) => [
          b.function,
          kb(b.bytes),
          kb(b.mapBytes),
          fixed(b.loadMs, 0),
          fixed(b.loadRatio, 2),
          fixed(b.referenceMs, 0),
          b.loadRunsMs.map((m) => fixed(m, 0)).join(' '),
          b.largest
            .slice(0, 3)
            .map((l) => `${l.input} ${kb(l.bytes)}`)
            .join(', '),
        ]),
      ),
    );
  }
  out.push('', 'Targets');
  out.push(
    table(
      ['target', 'value', 'limit', 'result'],
      r.targets.map((t) => [t.name, t.value, `${t.kind === 'max' ? '<=' : '>='} ${t.limit}`, t.pass ? 'PASS' : 'FAIL']),
    ),
  );
  return out.join('\n');
}

/** The naive peer beside the connector: per record, and naive / connector. */
export function renderNaivePeer(c: PeerComparison, run: NaiveRun): string {
  const ratio = (r: number | null, naive: number, connector: number, digits: number) =>
    r === null ? `${fixed(naive, digits)} vs ${fixed(connector, digits)}` : `${fixed(r, 1)}x`;
  const r = run.records;
  return [
    `Naive peer (search then upsert, one record at a time, sleeping on x-ratelimit-reset; ${r.total} records: ` +
      `${r.organizations} organizations, ${r.persons} persons, ${r.products} products; ${run.calls} calls, ${run.status429} x 429, ` +
      `${run.failed} refused) against the connector's first sync`,
    table(
      ['', 'tokens per record', 'records per second', 'records doubled per 1,000'],
      [
        ['naive', fixed(c.naive.tokensPerRecord, 2), fixed(c.naive.recordsPerSecond, 2), fixed(c.naive.doubledPer1000, 1)],
        ['connector', fixed(c.connector.tokensPerRecord, 2), fixed(c.connector.recordsPerSecond, 2), fixed(c.connector.doubledPer1000, 1)],
        [
          'naive / connector',
          ratio(c.ratios.tokensPerRecord, c.naive.tokensPerRecord, c.connector.tokensPerRecord, 2),
          `${ratio(c.ratios.secondsPerRecord, c.naive.secondsPerRecord, c.connector.secondsPerRecord, 3)} the time`,
          ratio(c.ratios.doubledPer1000, c.naive.doubledPer1000, c.connector.doubledPer1000, 1),
        ],
      ],
    ),
    `doubled by the naive peer: ${run.doubled.organizations} organizations, ${run.doubled.persons} persons, ` +
      `${run.doubled.products} products`,
  ].join('\n');
}

/** The first sync held back by the daily budget, day by day, and the plan's prediction. */
export function renderBudgetDays(b: BudgetDays): string {
  const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/u, 'Z');
  return [
    `First sync of ${b.writes} records on a company budget of ${b.budget} tokens a day, the connector's share ${b.cap}`,
    table(
      ['day', 'tokens', 'of the share', 'records written', 'rounds', 'run time s', 'ended with'],
      b.days.map((d) => [
        d.day,
        d.tokens,
        pct(d.tokens / b.cap, 1),
        d.written,
        d.rounds,
        fixed(d.elapsedMs / 1000, 0),
        d.gateClosed ? 'budget gate closed: midnight UTC' : 'nothing left to write',
      ]),
    ),
    `predicted: ${b.plan ? `${b.plan.days} day(s), ${b.plan.tokens} tokens, done about ${iso(b.plan.etaMs)}` : 'no plan'}; ` +
      `happened: ${b.summary.days} day(s), ${b.summary.tokensPerDay.reduce((a, t) => a + t, 0)} tokens, ` +
      `done ${iso(b.summary.finishedAtMs)} ` +
      `(days after the first start at midnight UTC); lost, doubled or mismatched ${b.problems}, dead letters ${b.deadLetters}` +
      `${b.settled ? '' : ', NOT settled'}`,
  ].join('\n');
}
