/**
 * The three ways a step can fail, as the writers must treat them.
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

/** Another delivery of the same record holds the claim: not a failure, come back later. */
export class ClaimHeldError extends RetryLaterError {
  override readonly name = 'ClaimHeldError';
}

/** Will fail the same way every time (validation, bad record, ambiguous match): audit, dead-letter, no retries. */
export class PermanentError extends Error {
  override readonly name = 'PermanentError';
  constructor(
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
