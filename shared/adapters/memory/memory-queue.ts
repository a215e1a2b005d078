import { MAX_DELAY_SECONDS, type DeadLetterCause } from '../../domain/errors.ts';
import type { DeadLetters, MessageControl, RecordMessage, RecordQueue, RetryCounts } from '../../ports/index.ts';

/** SQS lets one receive stay invisible for 12 hours at most. */
const MAX_VISIBILITY_SECONDS = 43_200;

export interface SentMessage {
  messageId: string;
  /** The body as SqsRecordQueue sends it: the message as JSON. */
  body: string;
  /** For a message a writer sent again: its delay (rounded and capped as SqsMessageControl sends it) and failed attempts. */
  delaySeconds?: number;
  failedAttempts?: number;
  dependencyWaits?: number;
}

/**
 * One work queue and its dead-letter queue in memory: records what was sent, every visibility change
 * (rounded and capped as SqsMessageControl sends it) and every message dead-lettered. It delivers
 * nothing by itself; a test turns the sent messages into the events a writer receives.
 */
export class MemoryQueue implements RecordQueue, MessageControl {
  readonly sent: SentMessage[] = [];
  readonly visibility: Array<{ receiptHandle: string; seconds: number }> = [];
  readonly deadLetters: Array<{ body: string; reason: string; cause: DeadLetterCause }> = [];
  private taken = 0;

  constructor(readonly name: string) {}

  async sendAll(messages: readonly RecordMessage[]): Promise<void> {
    for (const message of messages) this.sent.push({ messageId: `${this.name}-${this.sent.length + 1}`, body: JSON.stringify(message) });
  }

  /** The messages sent since the last call: what a writer would receive next. */
  takeSent(): SentMessage[] {
    const out = this.sent.slice(this.taken);
    this.taken = this.sent.length;
    return out;
  }

  /** The messages writers sent again (to wait, or after a failed attempt), in order. */
  get requeued(): SentMessage[] {
    return this.sent.filter((m) => m.delaySeconds !== undefined);
  }

  async setVisibility(receiptHandle: string, seconds: number): Promise<void> {
    this.visibility.push({ receiptHandle, seconds: Math.max(0, Math.min(Math.round(seconds), MAX_VISIBILITY_SECONDS)) });
  }

  async requeue(body: string, delaySeconds: number, counts: RetryCounts): Promise<void> {
    const delay = Math.max(0, Math.min(Math.ceil(delaySeconds), MAX_DELAY_SECONDS));
    this.sent.push({ messageId: `${this.name}-${this.sent.length + 1}`, body, delaySeconds: delay, ...counts });
  }

  async deadLetter(body: string, reason: string, cause: DeadLetterCause): Promise<void> {
    this.deadLetters.push({ body, reason: reason.slice(0, 1000), cause });
  }

  /** This queue's dead letters, as an erasure sees them. */
  readonly deadLetterStore: DeadLetters = {
    erase: async (match) => {
      const kept = this.deadLetters.filter((d) => !match(d.body));
      const erased = this.deadLetters.length - kept.length;
      this.deadLetters.splice(0, this.deadLetters.length, ...kept);
      return erased;
    },
    read: async () => this.deadLetters.map((d) => ({ ...d })),
  };
}
