import type { PipelineOptions, RoundReport, StateReport } from '../local/pipeline.ts';
import type { LatencyModel } from '../simulators/latency.ts';
import { BURST_LIMIT, OAUTH_BURST_LIMIT, type PipedrivePlan } from '../simulators/pipedrive/rate-limit.ts';
import type { LocalAuth } from '../local/oauth.ts';
import type { AwsPrices } from './aws-prices.ts';
import { DEALS_PER_LINES_CALL, estimateCost, listPages, tokenFloor, writePhase, type CostEstimate } from './metrics.ts';

export type Plan = PipedrivePlan;

/** The plan's allowed write rate: its burst limit per 2 s (an API token's, or an OAuth app's: four times that) / 2. */
export function allowedPerSecond(plan: Plan, auth: LocalAuth = 'token'): number {
  return (auth === 'oauth' ? OAUTH_BURST_LIMIT : BURST_LIMIT)[plan] / 2;
}

/** Functions of the QAD -> Pipedrive direction; the deal poll and the QAD writer are the other one. */
export const SYNC_FUNCTIONS = ['poll-customers', 'poll-contacts', 'poll-items', 'write-pipedrive', 'write-products'] as const;

/**
 * The writes a first sync's write rate counts: those of the QAD -> Pipedrive writers. A won deal's order number written
 * back to it (and a note) waits on QAD's answer for its order, one deal at a time, after the sync's queues drained:
 * paced by QAD and by how many deals were won, not by the burst window, so its few seconds say nothing of the rate.
 */
export function firstSyncWrites<T extends { fn: string }>(writes: readonly T[]): T[] {
  return writes.filter((w) => (SYNC_FUNCTIONS as readonly string[]).includes(w.fn));
}

export interface RoundCounters {
  /** Each write's call and the function that made it. */
  writes: Array<{ startMs: number; endMs: number; fn: string }>;
  tokensByFunction: Record<string, number>;
  callsByFunction: Record<string, number>;
  aws: { sqsRequests: number; dynamoWrites: number; dynamoReads: number; kmsRequests: number; byCommand: Record<string, number> };
  peakRssBytes: number;
  /** Share of the round the local run's one event loop was busy (simulators, stand-ins and functions share it). */
  eventLoopUtilization: number;
  /** The 99th percentile of how late the event loop ran a timer (ms): high when the host starves this process. */
  loopDelayP99Ms?: number;
}

/**
 * The local pipeline of a bench case: the dataset every case shares (2 contacts a customer, prices in EUR and USD,
 * 20% typed into Pipedrive by hand); the bench moves orders on in QAD itself, only before its own round for that.
 */
export function casePipeline(c: {
  customers: number;
  items: number;
  plan: Plan;
  seats: number;
  concurrency: number;
  seed: number;
  latency: LatencyModel | undefined;
  wonDeals?: number;
  auth?: LocalAuth;
}): PipelineOptions {
  return {
    customers: c.customers,
    contactsPerCustomer: 2,
    items: c.items,
    currencies: ['EUR', 'USD'],
    seed: c.seed,
    preexisting: 0.2,
    plan: c.plan,
    seats: c.seats,
    writerConcurrency: c.concurrency,
    ...(c.wonDeals !== undefined && { wonDeals: c.wonDeals }),
    ...(c.latency && { latency: c.latency }),
    ...(c.auth && { auth: c.auth }),
    orderDesk: false,
  };
}

/** What scripts/bench/run-case.ts writes. */
export interface CaseOutput {
  options: {
    customers: number;
    items: number;
    'won-deals': number;
    plan: Plan;
    concurrency: number;
    'change-rate': number;
    seats?: number;
    auth?: LocalAuth;
  };
  /** The company's day so far: tokens used by the three runs and its budget. */
  dailyTokens?: { used: number; budget: number };
  preexistingOrganizations: number;
  state: StateReport;
  /** Pipedrive records standing for one QAD record twice after the first sync, counted as the naive peer's are. */
  doubledAfterFirstSync?: number;
  changedCustomers: number;
  /** Orders the bench's QAD order desk moved on before its last round. */
  ordersMoved?: number;
  /**
   * recordsChanged: Pipedrive organizations, persons, products and deals new or different after the round (a
   * deal: its order number, order status or rejection written back); notesAdded: notes left on rejected deals.
   */
  rounds: Array<{ label: string; report: RoundReport; counters: RoundCounters; recordsChanged: number; notesAdded?: number }>;
}

export interface RoundFigures {
  label: string;
  records: number;
  recordsToChange: number;
  listPages: number;
  floor: number;
  tokens: number;
  /** Tokens spent by the QAD -> Pipedrive functions only (the deal poll reads Pipedrive on its own schedule). */
  syncTokens: number;
  calls: number;
  share429: number;
  byEndpoint: Record<string, { calls: number; tokens: number }>;
  /** The first sync's writes in its write phase (firstSyncWrites): what the write rate counts. */
  writes: number;
  /** Every write of the round, in both directions: what DynamoDB requests per record written divides by. */
  recordsWritten: number;
  writePhaseSeconds: number;
  writesPerSecond: number;
  allowedPerSecond: number;
  wallSeconds: number;
  peakRssMb: number;
  invocations: Record<string, { invocations: number; ms: number }>;
  aws: RoundCounters['aws'];
  /** DynamoDB requests the functions made (every command, whatever its units). */
  dynamoRequests: number;
  eventLoopUtilization: number;
  loopDelayP99Ms: number;
  cost: CostEstimate;
}

export interface CaseFigures {
  name: string;
  customers: number;
  items: number;
  wonDeals: number;
  seats: number;
  dailyTokens?: { used: number; budget: number };
  /** Missing, duplicated or mismatched records after the first sync: must be 0 for the figures to count. */
  problems: number;
  /** Records doubled in Pipedrive after the first sync (scripts/bench/peers.ts), the naive peer's measure. */
  doubled: number;
  rounds: RoundFigures[];
}

/**
 * The floor inputs of each round. Records that must change: those the round left new or different
 * in Pipedrive (read back from the simulator, times aside), plus each order number written back to
 * its deal. Pages, first sync: the listings of what is already in Pipedrive (organizations, persons,
 * products; 500 a page), one page of field definitions for each custom key field (organization,
 * person, deal) and the deal poll (won deals 500 a page, their lines 100 deals a call). Reruns: the
 * deal poll's pages (it re-reads its ten-minute overlap) and, when customers changed (the only QAD
 * changes the bench makes), one page of organization field definitions: a writer cannot send the key
 * field without its hash, and a Lambda container that wrote nothing lately has not read it.
 */
export function floorInputs(out: CaseOutput, roundIndex: number): { recordsToChange: number; pages: number; notes: number } {
  const won = out.state.pipedrive.wonDeals;
  const dealPoll = listPages(won) + Math.ceil(won / DEALS_PER_LINES_CALL);
  const recordsToChange = out.rounds[roundIndex]?.recordsChanged ?? 0;
  const notes = out.rounds[roundIndex]?.notesAdded ?? 0;
  if (roundIndex === 0) {
    const pre = out.preexistingOrganizations;
    const preProducts = Math.round(out.options.items * 0.2);
    return { recordsToChange, notes, pages: listPages(pre) + listPages(pre) + listPages(preProducts) + 3 + dealPoll };
  }
  return { recordsToChange, notes, pages: dealPoll + (recordsToChange > 0 ? 1 : 0) };
}

export function summariseCase(name: string, out: CaseOutput, opts: { memoryMb: number; prices: AwsPrices }): CaseFigures {
  const allowed = allowedPerSecond(out.options.plan, out.options.auth);
  const records = out.state.qad.customers + out.state.qad.qualifyingContacts + out.state.qad.items + out.state.pipedrive.wonDeals;
  const rounds = out.rounds.map(({ label, report, counters }, i): RoundFigures => {
    const { recordsToChange, pages, notes } = floorInputs(out, i);
    const phase = writePhase(firstSyncWrites(counters.writes), report.drains);
    const invocations = Object.values(report.lambda).reduce((n, s) => n + s.invocations, 0);
    const polls = Object.entries(report.lambda)
      .filter(([fn]) => fn.startsWith('poll-'))
      .reduce((n, [, s]) => n + s.invocations, 0);
    const durationMs = Object.values(report.lambda).reduce((n, s) => n + s.ms, 0);
    return {
      label,
      records,
      recordsToChange,
      listPages: pages,
      floor: tokenFloor(recordsToChange, pages, notes),
      tokens: report.pipedrive.tokens,
      syncTokens: SYNC_FUNCTIONS.reduce((n, fn) => n + (counters.tokensByFunction[fn] ?? 0), 0),
      calls: report.pipedrive.calls,
      share429: report.pipedrive.calls > 0 ? report.pipedrive.status429 / report.pipedrive.calls : 0,
      byEndpoint: report.pipedrive.byEndpoint,
      writes: phase.writes,
      recordsWritten: counters.writes.length,
      writePhaseSeconds: phase.seconds,
      writesPerSecond: phase.seconds > 0 ? phase.writes / phase.seconds : 0,
      allowedPerSecond: allowed,
      wallSeconds: report.elapsedMs / 1000,
      peakRssMb: counters.peakRssBytes / 2 ** 20,
      invocations: report.lambda,
      aws: counters.aws,
      dynamoRequests: Object.entries(counters.aws.byCommand)
        .filter(([command]) => command.startsWith('dynamodb '))
        .reduce((sum, [, count]) => sum + count, 0),
      eventLoopUtilization: counters.eventLoopUtilization,
      loopDelayP99Ms: counters.loopDelayP99Ms ?? 0,
      cost: estimateCost(
        {
          invocations,
          durationMs,
          memoryMb: opts.memoryMb,
          sqsRequests: counters.aws.sqsRequests,
          dynamoWrites: counters.aws.dynamoWrites,
          dynamoReads: counters.aws.dynamoReads,
          kmsRequests: counters.aws.kmsRequests,
          schedulerInvocations: polls,
        },
        records,
        opts.prices,
      ),
    };
  });
  const problems = [
    ...Object.values(out.state.duplicates),
    ...Object.values(out.state.missing),
    ...Object.values(out.state.mismatched),
  ].reduce((a, b) => a + b, 0);
  return {
    name,
    customers: out.options.customers,
    items: out.options.items,
    wonDeals: out.state.pipedrive.wonDeals,
    seats: out.options.seats ?? 1,
    ...(out.dailyTokens && { dailyTokens: out.dailyTokens }),
    problems,
    doubled: out.doubledAfterFirstSync ?? 0,
    rounds,
  };
}
