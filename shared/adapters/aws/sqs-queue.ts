import { ChangeMessageVisibilityCommand, SendMessageBatchCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { sleep } from '../../clients/http.ts';
import { FAILED_ATTEMPTS_ATTRIBUTE, MAX_DELAY_SECONDS } from '../../domain/errors.ts';
import type { MessageControl, RecordMessage, RecordQueue } from '../../ports/index.ts';

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

  async requeue(body: string, delaySeconds: number, failedAttempts: number): Promise<void> {
    await this.client.send(
      new SendMessageCommand({
        QueueUrl: this.queueUrl,
        MessageBody: body,
        DelaySeconds: Math.max(0, Math.min(Math.ceil(delaySeconds), MAX_DELAY_SECONDS)),
        MessageAttributes: { [FAILED_ATTEMPTS_ATTRIBUTE]: { DataType: 'Number', StringValue: String(failedAttempts) } },
      }),
    );
  }

  async deadLetter(body: string, reason: string): Promise<void> {
    await this.client.send(
      new SendMessageCommand({
        QueueUrl: this.deadLetterUrl,
        MessageBody: body,
        MessageAttributes: { reason: { DataType: 'String', StringValue: reason.slice(0, 1000) } },
      }),
    );
  }
}
