/**
 * The benchmark's arithmetic, free of I/O so that it is unit-tested: the token floor, the write
 * phase and its rate, targets, and the AWS cost estimate.
 */
import { DEFAULT_DAILY_BUDGET_SHARE } from '../../shared/config/tenant.ts';
import { dailyBudget, type PipedrivePlan } from '../simulators/pipedrive/rate-limit.ts';
import type { AwsPrices } from './aws-prices.ts';

/** Pipedrive's costs the floor counts: a write 5 tokens, a list page (up to 500) 10. */
export const WRITE_TOKENS = 5;
export const LIST_PAGE_TOKENS = 10;
export const LIST_PAGE_SIZE = 500;
/** GET /deals/products reads the lines of up to 100 deals a call. */
export const DEALS_PER_LINES_CALL = 100;

/** Pipedrive's daily token budget: 30,000 x plan multiplier x seats, shared by every app of the company. */

/**
 * Seats a company needs for a case to fit in the connector's share of one day's token budget, with room to spare: a
 * first sync writes every customer, contact, item and deal once (5 tokens), and half as much again is kept free.
 */
export function seatsFor(records: number, plan: PipedrivePlan): number {
  return Math.max(1, Math.ceil((WRITE_TOKENS * records * 1.5) / (dailyBudget(plan, 1) * DEFAULT_DAILY_BUDGET_SHARE)));
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Pages needed to list `count` records at 500 a page; a listing of nothing still reads one page. */
export function listPages(count: number, pageSize = LIST_PAGE_SIZE): number {
  return Math.max(1, Math.ceil(count / pageSize));
}

/** A note on a deal: v1 POST /notes. */
export const NOTE_TOKENS = 10;

/** The floor of any sync: 5 tokens per record that must change plus 10 per list page, and 10 per note left on a deal. */
export function tokenFloor(recordsToChange: number, pages: number, notes = 0): number {
  return WRITE_TOKENS * recordsToChange + LIST_PAGE_TOKENS * pages + NOTE_TOKENS * notes;
}

export interface Interval {
  startMs: number;
  endMs: number;
}

/** Total length of a set of intervals, overlaps counted once. */
export function unionMs(intervals: readonly Interval[]): number {
  const sorted = intervals.filter((i) => i.endMs > i.startMs).sort((a, b) => a.startMs - b.startMs);
  let total = 0;
  let current: Interval | undefined;
  for (const i of sorted) {
    if (current && i.startMs <= current.endMs) current.endMs = Math.max(current.endMs, i.endMs);
    else {
      if (current) total += current.endMs - current.startMs;
      current = { ...i };
    }
  }
  return total + (current ? current.endMs - current.startMs : 0);
}

/**
 * The write phase: within each window in which writers drained a queue, from the first write's
 * request to the last write's answer; windows that overlap (two queues drained at once) count once.
 * Returns the writes in those phases and their length.
 */
export function writePhase(writes: readonly Interval[], windows: readonly Interval[]): { writes: number; seconds: number } {
  const phases: Interval[] = [];
  for (const w of windows) {
    const inside = writes.filter((c) => c.startMs >= w.startMs && c.endMs <= w.endMs);
    if (inside.length > 0)
      phases.push({ startMs: Math.min(...inside.map((c) => c.startMs)), endMs: Math.max(...inside.map((c) => c.endMs)) });
  }
  const counted = writes.filter((c) => phases.some((p) => c.startMs >= p.startMs && c.endMs <= p.endMs)).length;
  return { writes: counted, seconds: unionMs(phases) / 1000 };
}

export interface Target {
  name: string;
  value: number;
  limit: number;
  /** 'max': value must be at most limit; 'min': at least. */
  kind: 'max' | 'min';
  pass: boolean;
}

export function target(name: string, value: number, kind: 'max' | 'min', limit: number): Target {
  const pass = Number.isFinite(value) && (kind === 'max' ? value <= limit : value >= limit);
  return { name, value, limit, kind, pass };
}

export interface AwsCounts {
  /** Lambda invocations and their summed duration. */
  invocations: number;
  durationMs: number;
  memoryMb: number;
  sqsRequests: number;
  dynamoWrites: number;
  dynamoReads: number;
  kmsRequests: number;
  schedulerInvocations: number;
}

export interface CostEstimate {
  usd: Record<'lambdaRequests' | 'lambdaCompute' | 'sqs' | 'dynamoWrites' | 'dynamoReads' | 'kms' | 'scheduler' | 'total', number>;
  gbSeconds: number;
  perMillionRecordsUsd: number;
}

/** What the counted calls would cost in AWS, and that per million records. */
export function estimateCost(counts: AwsCounts, records: number, prices: AwsPrices): CostEstimate {
  const gbSeconds = (counts.durationMs / 1000) * (counts.memoryMb / 1024);
  const usd = {
    lambdaRequests: (counts.invocations / 1e6) * prices.lambdaPerMillionRequests,
    lambdaCompute: gbSeconds * prices.lambdaPerGbSecondArm,
    sqs: (counts.sqsRequests / 1e6) * prices.sqsPerMillionRequests,
    dynamoWrites: (counts.dynamoWrites / 1e6) * prices.dynamoPerMillionWrites,
    dynamoReads: (counts.dynamoReads / 1e6) * prices.dynamoPerMillionReads,
    kms: (counts.kmsRequests / 1e4) * prices.kmsPer10kRequests,
    scheduler: (counts.schedulerInvocations / 1e6) * prices.schedulerPerMillionInvocations,
    total: 0,
  };
  usd.total = usd.lambdaRequests + usd.lambdaCompute + usd.sqs + usd.dynamoWrites + usd.dynamoReads + usd.kms + usd.scheduler;
  return { usd, gbSeconds, perMillionRecordsUsd: records > 0 ? (usd.total / records) * 1e6 : 0 };
}

/**
 * DynamoDB request units of one SDK command, from its input: a write of an item up to 1 KB is one
 * write unit (two on a table whose global secondary index projects the item); a read one read unit
 * (items are small; a query is counted as one unit per call).
 */
export function dynamoUnits(command: string, input: object, tablesWithGsi: ReadonlySet<string>): { writes: number; reads: number } {
  const i = input as { TableName?: string; RequestItems?: Record<string, unknown[] | { Keys?: unknown[] }>; TransactItems?: unknown[] };
  const factor = (table: string | undefined) => (table !== undefined && tablesWithGsi.has(table) ? 2 : 1);
  switch (command) {
    case 'PutItemCommand':
    case 'UpdateItemCommand':
    case 'DeleteItemCommand':
      return { writes: factor(i.TableName), reads: 0 };
    case 'BatchWriteItemCommand':
      return {
        writes: Object.entries(i.RequestItems ?? {}).reduce(
          (n, [table, items]) => n + (Array.isArray(items) ? items.length : 0) * factor(table),
          0,
        ),
        reads: 0,
      };
    case 'TransactWriteItemsCommand':
      return { writes: 2 * (i.TransactItems?.length ?? 0), reads: 0 };
    case 'GetItemCommand':
    case 'QueryCommand':
    case 'ScanCommand':
      return { writes: 0, reads: 1 };
    case 'BatchGetItemCommand':
      return {
        writes: 0,
        reads: Object.values(i.RequestItems ?? {}).reduce((n, r) => n + (Array.isArray(r) ? r.length : (r.Keys?.length ?? 0)), 0),
      };
    default:
      return { writes: 0, reads: 0 };
  }
}
