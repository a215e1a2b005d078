import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { sleep } from '../../clients/http.ts';
import {
  DEAD_LETTER_CAUSE_ATTRIBUTE,
  DEPENDENCY_WAITS_ATTRIBUTE,
  FAILED_ATTEMPTS_ATTRIBUTE,
  MAX_DELAY_SECONDS,
  type DeadLetterCause,
} from '../../domain/errors.ts';
import type { DeadLetter, DeadLetters, MessageControl, RecordMessage, RecordQueue, RetryCounts } from '../../ports/index.ts';

/** SendMessageBatch, 10 at a time; failed entries are retried, and what still fails throws. */
export class SqsRecordQueue implements RecordQueue {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
    /** How it waits before retrying failed entries: a timer unless a test passes its own (a Clock fits). */
    private readonly time: { sleep?(ms: number): Promise<void> } = {},
  ) {}

  async sendAll(messages: readonly RecordMessage[]): Promise<void> {
    for (let i = 0; i < messages.length; i += 10) {
      let entries = messages.slice(i, i + 10).map((m, j) => ({ Id: String(j), MessageBody: JSON.stringify(m) }));
      for (let attempt = 0; entries.length > 0; attempt++) {
        if (attempt > 0) {
          const ms = Math.min(100 * 2 ** attempt, 3000);
          await (this.time.sleep ? this.time.sleep(ms) : sleep(ms));
        }
        const res = await this.client.send(new SendMessageBatchCommand({ QueueUrl: this.queueUrl, Entries: entries }));
        const failed = new Set((res.Failed ?? []).map((f) => f.Id));
        const permanent = (res.Failed ?? []).filter((f) => f.SenderFault);
        if (permanent.length > 0) throw new Error(`SQS refused ${permanent.length} message(s): ${permanent.map((f) => f.Code).join(', ')}`);
        if (attempt >= 5 && failed.size > 0) throw new Error(`SQS did not accept ${failed.size} message(s) after ${attempt + 1} attempts`);
        entries = entries.filter((e) => failed.has(e.Id));
      }
    }
  }
}

export class SqsMessageControl implements MessageControl {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
    private readonly deadLetterUrl: string,
  ) {}

  async setVisibility(receiptHandle: string, seconds: number): Promise<void> {
    // SQS caps a receive's visibility at 12 hours.
    const VisibilityTimeout = Math.max(0, Math.min(Math.round(seconds), 43_200));
    await this.client.send(
      new ChangeMessageVisibilityCommand({ QueueUrl: this.queueUrl, ReceiptHandle: receiptHandle, VisibilityTimeout }),
    );
  }

  async requeue(body: string, delaySeconds: number, counts: RetryCounts): Promise<void> {
    await this.client.send(
      new SendMessageCommand({
        QueueUrl: this.queueUrl,
        MessageBody: body,
        DelaySeconds: Math.max(0, Math.min(Math.ceil(delaySeconds), MAX_DELAY_SECONDS)),
        MessageAttributes: {
          [FAILED_ATTEMPTS_ATTRIBUTE]: { DataType: 'Number', StringValue: String(counts.failedAttempts) },
          [DEPENDENCY_WAITS_ATTRIBUTE]: { DataType: 'Number', StringValue: String(counts.dependencyWaits) },
        },
      }),
    );
  }

  async deadLetter(body: string, reason: string, cause: DeadLetterCause): Promise<void> {
    await this.client.send(
      new SendMessageCommand({
        QueueUrl: this.deadLetterUrl,
        MessageBody: body,
        MessageAttributes: {
          reason: { DataType: 'String', StringValue: reason.slice(0, 1000) },
          [DEAD_LETTER_CAUSE_ATTRIBUTE]: { DataType: 'String', StringValue: cause },
        },
      }),
    );
  }
}

/**
 * A DLQ read to its end (to erase some, or to show them): each message is received (hidden for a minute), the
 * picked ones deleted, the others made visible again at once. It stops when a receive (a 1-second long poll,
 * which asks every SQS server) brings nothing new.
 */
export class SqsDeadLetters implements DeadLetters {
  constructor(
    private readonly client: SQSClient,
    private readonly deadLetterUrl: string,
  ) {}

  async erase(match: (body: string) => boolean): Promise<number> {
    let erased = 0;
    await this.sweep((m) => {
      const picked = match(m.Body ?? '');
      if (picked) erased++;
      return picked;
    });
    return erased;
  }

  async read(): Promise<DeadLetter[]> {
    const out: DeadLetter[] = [];
    await this.sweep((m) => {
      const reason = m.MessageAttributes?.reason?.StringValue;
      const cause = m.MessageAttributes?.[DEAD_LETTER_CAUSE_ATTRIBUTE]?.StringValue;
      out.push({ body: m.Body ?? '', ...(reason !== undefined && { reason }), ...(cause !== undefined && { cause }) });
      return false;
    });
    return out;
  }

  /** Receives every message once; deletes those `remove` picks and makes the others visible again. */
  private async sweep(remove: (message: Message) => boolean): Promise<void> {
    const seen = new Set<string>();
    const keep: string[] = [];
    for (;;) {
      const res = await this.client.send(
        new ReceiveMessageCommand({
          QueueUrl: this.deadLetterUrl,
          MaxNumberOfMessages: 10,
          VisibilityTimeout: 60,
          WaitTimeSeconds: 1,
          MessageAttributeNames: ['All'],
        }),
      );
      const fresh = (res.Messages ?? []).filter((m) => m.MessageId && m.ReceiptHandle && !seen.has(m.MessageId));
      if (fresh.length === 0) break;
      for (const m of fresh) {
        seen.add(m.MessageId!);
        if (remove(m)) await this.client.send(new DeleteMessageCommand({ QueueUrl: this.deadLetterUrl, ReceiptHandle: m.ReceiptHandle! }));
        else keep.push(m.ReceiptHandle!);
      }
    }
    for (const ReceiptHandle of keep)
      await this.client.send(new ChangeMessageVisibilityCommand({ QueueUrl: this.deadLetterUrl, ReceiptHandle, VisibilityTimeout: 0 }));
  }
}
