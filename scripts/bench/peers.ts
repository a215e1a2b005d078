/**
 * The arithmetic of the bench's comparisons, free of I/O so that it is unit-tested: records doubled in
 * Pipedrive, the naive peer against the connector, and a first sync spread over days by the daily budget.
 */

import * as z from 'zod';
import { normaliseName } from '../../shared/domain/text.ts';

const DAY_MS = 86_400_000;

/**
 * Records beyond those expected under each key: a key seen three times where one is expected is two records doubled.
 * Without `expected` one record per key is; a key QAD itself has twice (two contacts with one email) expects two.
 */
export function doubled(keys: Iterable<string>, expected?: ReadonlyMap<string, number>): number {
  return [...keyCounts(keys)].reduce((n, [key, count]) => n + Math.max(0, count - (expected?.get(key) ?? 1)), 0);
}

/** How many records of a dataset have each key. */
export function keyCounts(keys: Iterable<string>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const key of keys) counts.set(key, (counts.get(key) ?? 0) + 1);
  return counts;
}

/**
 * Pipedrive records that stand for one QAD record twice or more: organizations with the same name as a reader
 * sees it (`normaliseName`), persons with the same email, products with the same code, beyond as many as the
 * dataset has under that key (`ofDataset`: how many of its records have each name normalised, email in lower
 * case, code); keys not in the dataset never count.
 */
export function pipedriveDoubles(
  pipedrive: {
    organizations: ReadonlyArray<{ name: string }>;
    persons: ReadonlyArray<{ emails: ReadonlyArray<{ value: string }> }>;
    products: ReadonlyArray<{ code?: string | null }>;
  },
  ofDataset: { names: ReadonlyMap<string, number>; emails: ReadonlyMap<string, number>; codes: ReadonlyMap<string, number> },
): { organizations: number; persons: number; products: number; total: number } {
  const organizations = doubled(
    pipedrive.organizations.map((o) => normaliseName(o.name)).filter((k) => ofDataset.names.has(k)),
    ofDataset.names,
  );
  const persons = doubled(
    pipedrive.persons.flatMap((p) => [...new Set(p.emails.map((e) => e.value.toLowerCase()))].filter((e) => ofDataset.emails.has(e))),
    ofDataset.emails,
  );
  const products = doubled(
    pipedrive.products.flatMap((p) => (p.code && ofDataset.codes.has(p.code) ? [p.code] : [])),
    ofDataset.codes,
  );
  return { organizations, persons, products, total: organizations + persons + products };
}

/** One side of the comparison: what it wrote and what that cost. */
export interface PeerRun {
  records: number;
  tokens: number;
  seconds: number;
  /** Records doubled in Pipedrive (pipedriveDoubles). */
  doubled: number;
}

export interface PeerComparison {
  naive: PeerRates;
  connector: PeerRates;
  /** naive / connector; null where the connector's figure is 0 (the naive one is then printed beside it). */
  ratios: { tokensPerRecord: number | null; secondsPerRecord: number | null; doubledPer1000: number | null };
}

export interface PeerRates {
  tokensPerRecord: number;
  recordsPerSecond: number;
  secondsPerRecord: number;
  doubledPer1000: number;
}

export function peerRates(run: PeerRun): PeerRates {
  const records = Math.max(1, run.records);
  return {
    tokensPerRecord: run.tokens / records,
    recordsPerSecond: run.seconds > 0 ? run.records / run.seconds : 0,
    secondsPerRecord: run.seconds / records,
    doubledPer1000: (1000 * run.doubled) / records,
  };
}

/** Rates per record, so that a peer run on part of the dataset compares with the connector's run of all of it. */
export function comparePeers(naive: PeerRun, connector: PeerRun): PeerComparison {
  const n = peerRates(naive);
  const c = peerRates(connector);
  const ratio = (a: number, b: number) => (b > 0 ? a / b : null);
  return {
    naive: n,
    connector: c,
    ratios: {
      tokensPerRecord: ratio(n.tokensPerRecord, c.tokensPerRecord),
      secondsPerRecord: ratio(n.secondsPerRecord, c.secondsPerRecord),
      doubledPer1000: ratio(n.doubledPer1000, c.doubledPer1000),
    },
  };
}

/** One simulated day of a first sync held back by the daily budget: Pipedrive's tokens that day and the run's time in it. */
export interface SyncDay {
  tokens: number;
  elapsedMs: number;
}

/**
 * A first sync over several days, as midnight UTC would have cut it: day 1 starts at `startMs`, each later day at
 * midnight UTC, the sync ends `elapsedMs` into its last day. `capTokens` is the connector's share of a day's budget.
 */
export function syncDays(
  startMs: number,
  days: readonly SyncDay[],
  capTokens: number,
): { days: number; tokensPerDay: number[]; daysOverCap: number; maxShareOfCap: number; finishedAtMs: number } {
  const last = days.length - 1;
  const lastDayStart = last <= 0 ? startMs : (Math.floor(startMs / DAY_MS) + last) * DAY_MS;
  const tokensPerDay = days.map((d) => d.tokens);
  return {
    days: days.length,
    tokensPerDay,
    daysOverCap: tokensPerDay.filter((t) => t > capTokens).length,
    maxShareOfCap: capTokens > 0 ? Math.max(0, ...tokensPerDay) / capTokens : Number.POSITIVE_INFINITY,
    finishedAtMs: lastDayStart + (days[last]?.elapsedMs ?? 0),
  };
}

const doubledSchema = z.object({ organizations: z.number(), persons: z.number(), products: z.number(), total: z.number() });

/** What scripts/bench/naive-peer.ts writes. */
export const naiveRunSchema = z.object({
  records: z.object({ organizations: z.number(), persons: z.number(), products: z.number(), total: z.number() }),
  tokens: z.number(),
  calls: z.number(),
  status429: z.number(),
  seconds: z.number(),
  doubled: doubledSchema,
  failed: z.number(),
  errors: z.record(z.string(), z.number()),
  byEndpoint: z.record(z.string(), z.object({ calls: z.number(), tokens: z.number() })),
});
export type NaiveRun = z.infer<typeof naiveRunSchema>;

/** What scripts/bench/budget-days.ts writes. */
export const budgetDaysSchema = z.object({
  writes: z.number(),
  budget: z.number(),
  cap: z.number(),
  plan: z.object({ tokens: z.number(), tokensPerDay: z.number(), days: z.number(), etaMs: z.number(), line: z.string() }).optional(),
  days: z.array(
    z.object({
      day: z.number(),
      tokens: z.number(),
      elapsedMs: z.number(),
      written: z.number(),
      rounds: z.number(),
      gateClosed: z.boolean(),
      /** Pipedrive calls and tokens of the day by endpoint (absent in runs before it was recorded). */
      byEndpoint: z.record(z.string(), z.object({ calls: z.number(), tokens: z.number() })).optional(),
    }),
  ),
  summary: z.object({
    days: z.number(),
    tokensPerDay: z.array(z.number()),
    daysOverCap: z.number(),
    maxShareOfCap: z.number(),
    finishedAtMs: z.number(),
  }),
  settled: z.boolean(),
  problems: z.number(),
  deadLetters: z.number(),
  startedAtMs: z.number().optional(),
});
export type BudgetDays = z.infer<typeof budgetDaysSchema>;
