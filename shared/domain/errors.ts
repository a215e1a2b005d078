/**
 * Every way a step can fail, and the one policy that says what a writer does about each.
 * Messages never carry secrets: callers pass method, path and status only.
 */

/** Transient: 5xx, timeouts, connection resets, a search that did not answer. The record is retried later. */
export class RetryLaterError extends Error {
  override readonly name: string = 'RetryLaterError';
  constructor(
    message: string,
    readonly delaySeconds?: number,
  ) {
    super(message);
  }
}

/** HTTP 429 from an outside system; `resetSeconds` is when the window frees up. */
export class RateLimitedError extends RetryLaterError {
  override readonly name = 'RateLimitedError';
  constructor(
    message: string,
    readonly resetSeconds: number,
    readonly dailyBudgetSpent = false,
  ) {
    super(message, resetSeconds);
  }
}

/** Another delivery of the same record holds the claim: not a failure, come back when its lease ends. */
export class ClaimHeldError extends RetryLaterError {
  override readonly name: string = 'ClaimHeldError';
  constructor(
    message: string,
    delaySeconds?: number,
    /** The holder is another delivery of this same SQS message: it completes, re-sends or dead-letters it. */
    readonly bySameMessage = false,
  ) {
    super(message, delaySeconds);
  }
}

/** The claim on `what` is held by another delivery (of this same message, or of another) for `waitMs` more. */
export function claimHeld(what: string, waitMs: number, bySameMessage = false): ClaimHeldError {
  const by = bySameMessage ? 'another delivery of this same message' : 'another delivery';
  return new ClaimHeldError(`${what} is being written by ${by}`, Math.max(1, Math.ceil(waitMs / 1000)), bySameMessage);
}

/** The record depends on another that is not in Pipedrive yet (a person's organization): deferred, audited, retried. */
export class WaitForDependency extends RetryLaterError {
  override readonly name = 'WaitForDependency';
}

/** A mapped Pipedrive field was renamed, deleted or lost an option: the record is held until it resolves again. */
export class FieldDriftError extends RetryLaterError {
  override readonly name = 'FieldDriftError';
  constructor(
    /** The Pipedrive field entity whose mapping drifted: organization, person, product, deal. */
    readonly fieldEntity: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * A person must re-authorise the tenant's Pipedrive connection (`invalid_grant`, no tokens stored):
 * its work waits, neither retried in a loop nor dead-lettered. Never carries a token.
 */
export class TenantParkedError extends Error {
  override readonly name = 'TenantParkedError';
  constructor(
    readonly tenantId: string,
    message: string,
  ) {
    super(message);
  }
}

/** Will fail the same way every time (validation, bad record, ambiguous match): audit, dead-letter, no retries. */
export class PermanentError extends Error {
  override readonly name: string = 'PermanentError';
  constructor(
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

/** Pipedrive answered 404: the record is gone (deleted, or merged away). */
export class PipedriveNotFoundError extends PermanentError {
  override readonly name: string = 'PipedriveNotFoundError';
}

/** Pipedrive answered 410: the record was merged into another, which lives on. */
export class PipedriveGoneError extends PipedriveNotFoundError {
  override readonly name = 'PipedriveGoneError';
}

/** Bad QAD credentials: an operator must fix the tenant; retrying will not help. */
export class QadAuthError extends PermanentError {
  override readonly name = 'QadAuthError';
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** SQS lets one receive stay invisible for 12 hours at most, counted from the receive. */
export const MAX_VISIBILITY_SECONDS = 43_200;
/** SQS delays a new message by 15 minutes at most. */
export const MAX_DELAY_SECONDS = 900;
/** The message attribute that carries how many real attempts at the outside system failed (a wait never adds one). */
export const FAILED_ATTEMPTS_ATTRIBUTE = 'failedAttempts';
/**
 * The retry budget: after this many failed attempts at the outside system a record is dead-lettered. Waits
 * (a claim held, a dependency, a rate limit, a closed gate) never count; SQS's maxReceiveCount is only the
 * safety net for writers that crash or time out. Twenty attempts back off over about three and a half hours
 * (10 s base in AWS): an outage of a morning heals itself, and at 30% of calls failing at random a record that
 * makes three calls an attempt fails twenty in a row about once in two million records, where eight was once in 300.
 */
export const MAX_FAILED_ATTEMPTS = 20;
/** The hold cause of messages that wait for a tenant's daily budget gate longer than SQS can delay them. */
export const BUDGET_CAUSE = 'budget';
/** The message attribute that counts how often a record waited for another (a person for its organization). */
export const DEPENDENCY_WAITS_ATTRIBUTE = 'dependencyWaits';
/**
 * A record waits for another this many times (six backoff steps each: 10 minutes in AWS), then it is held in
 * DynamoDB until the next poll of its entity, instead of cycling through the queue: the other may never come
 * (its customer waits for a person), and one held entry is one problem.
 */
export const MAX_DEPENDENCY_WAITS = 10;
/** The hold cause of a record that waits for another record of its tenant. */
export const waitingCause = (entity: string): string => `waiting:${entity}`;

/** The hold cause of a parked tenant's messages: `connector authorize` puts them back on their queues. */
export const PARKED_CAUSE = 'parked';

/** The hold cause of a record whose only match is a near-identical Pipedrive record: a person says if it is this one. */
export const possibleDuplicateCause = (entity: string): string => `possible-duplicate:${entity}`;
/** The hold cause of a record that two or more Pipedrive records match equally well: a person picks one. */
export const ambiguousCause = (entity: string): string => `ambiguous:${entity}`;

/** The hold cause of messages of a disabled tenant: `tenant enable` puts them back on their queues. */
export const DISABLED_CAUSE = 'disabled';

/**
 * Why a message is in a dead-letter queue: sent there by a writer for a permanent error or a spent retry
 * budget (the message carries this as its `cause` attribute), or moved there by SQS after maxReceiveCount
 * receives (no attribute: a writer crashed or timed out on it that often).
 */
export type DeadLetterCause = 'permanent' | 'retryBudget';
export const DEAD_LETTER_CAUSE_ATTRIBUTE = 'cause';

/**
 * What happens to a message whose write did not go through. Exactly one of `hold`, `deadLetter` or
 * `retryInSeconds` applies; a retry is sent again as a new message (so a wait spends no receive count).
 */
export interface ErrorOutcome {
  /** The audit action and metric outcome: `deferred` when the record only waits, `failed` when an attempt failed. */
  action: 'deferred' | 'failed';
  /** Why, in words an operator reads in the audit. */
  reason: string;
  /** Seconds until the message is delivered again (at most MAX_DELAY_SECONDS). */
  retryInSeconds?: number;
  /** Moved to the dead-letter queue at once, and why: a permanent error, or the retry budget spent. A person must look. */
  deadLetter?: DeadLetterCause;
  /** Kept in DynamoDB under this cause and acknowledged, until something releases it ('parked', 'drift:<entity>', 'budget'). */
  hold?: string;
  /** The hold is the record's, not the message's: one per record and cause, audited once (it waits on another record). */
  holdPerRecord?: true;
  /** The whole tenant waits: parked until a person re-authorises, or its daily budget gate closed until `untilMs`. */
  tenantHold?: TenantHoldDecision;
  /** The tenant's other records in this batch wait this long too, without calling anyone. */
  pauseTenantSeconds?: number;
  /** The record waits for another record (counted apart from failed attempts: see MAX_DEPENDENCY_WAITS). */
  dependencyWait?: true;
  /**
   * Waits on this receive (its visibility) instead of as a new message: a duplicate delivery whose twin holds the
   * claim. The twin deletes the message when done or sends it again itself; this receive comes back only if the
   * twin crashed. A new message here would be a second copy, doing the record's work again on every retry.
   */
  keepReceive?: true;
}

export interface OutcomeContext {
  /** The entity the message carries: a drifted field holds this entity's messages. */
  entity: string;
  /** This attempt's number: 1 + the failed attempts before it (waits do not count). The backoff grows with it. */
  attempt: number;
  /** How often the record already waited for another record. */
  dependencyWaits?: number;
  /** The first backoff step in seconds (10 in AWS). */
  retryBaseSeconds: number;
  nowMs: number;
  /** Jitter in [0, 1): spreads retries so a tenant's messages do not all return in one second. */
  random?: () => number;
}

export type TenantHoldDecision = { kind: 'parked'; reason: string } | { kind: 'budget'; untilMs: number; reason: string };

/** What an error says about the tenant as a whole: parked (re-authorise), its daily budget spent, or nothing. */
export function tenantHoldOf(error: unknown, nowMs: number): TenantHoldDecision | undefined {
  if (error instanceof TenantParkedError) return { kind: 'parked', reason: error.message };
  if (error instanceof RateLimitedError && error.dailyBudgetSpent)
    return { kind: 'budget', untilMs: nowMs + error.resetSeconds * 1000, reason: error.message };
  return undefined;
}

/** The cause under which a writer holds a message whose entity has a drifted mapped field. */
export const driftCause = (entity: string): string => `drift:${entity}`;

/**
 * The error policy: the one place that says what each failure means for its message. Pure; the
 * writer batch applies the outcome (audit, metric, requeue, hold, dead letter, tenant hold).
 */
export function outcomeOf(error: unknown, ctx: OutcomeContext): ErrorOutcome {
  const random = ctx.random ?? Math.random;
  const jitter = (upTo: number) => Math.floor(random() * Math.max(1, upTo));

  const tenantHold = tenantHoldOf(error, ctx.nowMs);
  if (tenantHold?.kind === 'parked')
    return { action: 'deferred', reason: 'tenant parked: message held until Pipedrive is re-authorised', hold: PARKED_CAUSE, tenantHold };
  if (error instanceof FieldDriftError) {
    return {
      action: 'deferred',
      reason: 'a mapped field drifted: message held (never written without the field) until the field or the mapping is fixed',
      hold: driftCause(ctx.entity),
    };
  }
  if (error instanceof PermanentError)
    return { action: 'failed', reason: 'permanent error: dead-lettered, no retries', deadLetter: 'permanent' };
  if (tenantHold?.kind === 'budget') {
    const wait = gateOutcome(tenantHold.untilMs, ctx.nowMs, random);
    return { ...wait, tenantHold, ...(wait.retryInSeconds !== undefined && { pauseTenantSeconds: wait.retryInSeconds }) };
  }
  if (error instanceof RateLimitedError) {
    const wait = Math.min(error.resetSeconds + 1 + jitter(3), MAX_DELAY_SECONDS);
    return { action: 'deferred', reason: `will retry in ${wait}s`, retryInSeconds: wait, pauseTenantSeconds: wait };
  }
  // A record waiting for another (a person for its organization) waits a few backoff steps at once.
  if (error instanceof WaitForDependency) {
    if ((ctx.dependencyWaits ?? 0) + 1 >= MAX_DEPENDENCY_WAITS)
      return {
        action: 'deferred',
        reason: 'still waiting for another record: held until it is written',
        hold: waitingCause(ctx.entity),
        holdPerRecord: true,
      };
    return { ...deferred(ctx.retryBaseSeconds * 6), dependencyWait: true };
  }
  if (error instanceof ClaimHeldError && error.bySameMessage)
    return { ...deferred(error.delaySeconds ?? ctx.retryBaseSeconds), reason: 'duplicate delivery: left to its twin', keepReceive: true };
  if (error instanceof ClaimHeldError) return deferred(error.delaySeconds ?? ctx.retryBaseSeconds);
  if (ctx.attempt >= MAX_FAILED_ATTEMPTS)
    return {
      action: 'failed',
      reason: `failed ${ctx.attempt} attempts in a row: dead-lettered, retry budget spent`,
      deadLetter: 'retryBudget',
    };
  if (error instanceof RetryLaterError && error.delaySeconds !== undefined) return failed(Math.min(error.delaySeconds, MAX_DELAY_SECONDS));
  // Backoff from the failed attempts: base, 2 x base, 4 x base ... capped at 90 x base (15 minutes in AWS).
  const base = ctx.retryBaseSeconds;
  // The jitter goes inside the cap: SQS refuses a delay over 15 minutes.
  return failed(Math.min(Math.min(base * 2 ** Math.max(0, ctx.attempt - 1), base * 90) + jitter(base / 2), MAX_DELAY_SECONDS));
}

const deferred = (seconds: number): ErrorOutcome => ({ action: 'deferred', reason: `will retry in ${seconds}s`, retryInSeconds: seconds });
const failed = (seconds: number): ErrorOutcome => ({ action: 'failed', reason: `will retry in ${seconds}s`, retryInSeconds: seconds });

/**
 * How a message waits for a closed budget gate: sent again just after the reset (plus a little jitter, so the
 * tenant's messages do not all return in the same second) when SQS can delay it that long; held in DynamoDB
 * under BUDGET_CAUSE when the reset is further away (a poll releases it once the gate is open), so a gate
 * hours away neither loops the message through the queue nor asks SQS for more than it allows.
 */
export function gateOutcome(untilMs: number, nowMs: number, random: () => number = Math.random): ErrorOutcome {
  const wait = Math.max(1, Math.ceil((untilMs - nowMs) / 1000)) + Math.floor(random() * 30);
  const until = new Date(untilMs).toISOString();
  if (wait > MAX_DELAY_SECONDS)
    return { action: 'deferred', reason: `daily token budget spent: held until the gate opens at ${until}`, hold: BUDGET_CAUSE };
  return { action: 'deferred', reason: `daily token budget spent: held until ${until}, retry in ${wait}s`, retryInSeconds: wait };
}
