import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';

export type SqsHandler = (event: SQSEvent) => Promise<SQSBatchResponse>;

function toRecord(message: Message, queueArn: string): SQSRecord {
  const a = message.Attributes ?? {};
  return {
    messageId: message.MessageId!,
    receiptHandle: message.ReceiptHandle!,
    body: message.Body ?? '',
    attributes: {
      ApproximateReceiveCount: a.ApproximateReceiveCount ?? '1',
      SentTimestamp: a.SentTimestamp ?? String(Date.now()),
      SenderId: a.SenderId ?? 'local',
      ApproximateFirstReceiveTimestamp: a.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
    },
    // Lambda hands message attributes on with lower-case names; a writer sends its failed attempts in one.
    messageAttributes: Object.fromEntries(
      Object.entries(message.MessageAttributes ?? {}).map(([name, v]) => [
        name,
        { dataType: v.DataType ?? 'String', ...(v.StringValue !== undefined && { stringValue: v.StringValue }) },
      ]),
    ),
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: 'us-east-1',
  };
}

export async function queueDepth(sqs: SQSClient, queueUrl: string): Promise<{ visible: number; inFlight: number; delayed: number }> {
  const res = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['All'] }));
  const a = res.Attributes ?? {};
  return {
    visible: Number(a.ApproximateNumberOfMessages ?? 0),
    inFlight: Number(a.ApproximateNumberOfMessagesNotVisible ?? 0),
    delayed: Number(a.ApproximateNumberOfMessagesDelayed ?? 0),
  };
}

/** How often a poller gathering a batch asks the queue again while its window is open. */
const WINDOW_POLL_MS = 100;

/**
 * What Lambda's SQS event source does, on loopback: up to `concurrency` pollers gather batches of up to `batchSize`
 * (for up to the batching window), invoke the handler, delete what succeeded and leave the reported failures to come
 * back after their visibility timeout (or to the DLQ once maxReceiveCount is spent). Runs until the queue is empty,
 * nothing is in flight, or `deadlineMs` passes.
 */
export async function drainQueue(options: {
  sqs: SQSClient;
  queueUrl: string;
  queueArn: string;
  /**
   * The function instance each concurrent poller (0 .. concurrency - 1) invokes: Lambda runs one container per
   * concurrent batch, each with its own module state, clients and pacer.
   */
  handlerFor: (poller: number) => SqsHandler;
  concurrency: number;
  /** The event source's BatchSize (SQS hands out at most 10 per receive; larger batches take several). */
  batchSize?: number;
  /** The event source's MaximumBatchingWindowInSeconds, in ms: how long a batch is gathered before it is handed on. */
  batchingWindowMs?: number;
  /** Without ReportBatchItemFailures Lambda ignores the response: a batch that returns is wholly done. */
  reportBatchItemFailures?: boolean;
  deadlineMs: number;
  onBatch?: (info: { received: number; failed: number }) => void;
  /** Fault injection: hand this batch to two handlers at once, as a duplicate delivery would. */
  duplicate?: () => boolean;
  /** Lambda's event source never stops: with a signal, poll an empty queue until it aborts instead of returning. */
  until?: AbortSignal;
}): Promise<{ batches: number; received: number; failed: number; drained: boolean }> {
  const totals = { batches: 0, received: 0, failed: 0 };
  let done = false;

  /**
   * One batch, as Lambda gathers it: receives of up to 10 until the batch is full; without a window the first short
   * receive ends it, with one the poller keeps receiving until the window that began with its first message closes.
   */
  async function gather(): Promise<Message[]> {
    const batchSize = options.batchSize ?? 10;
    const windowMs = options.batchingWindowMs ?? 0;
    const messages: Message[] = [];
    let closesAt: number | undefined;
    while (messages.length < batchSize && !done) {
      const wanted = Math.min(10, batchSize - messages.length);
      const res = await options.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: options.queueUrl,
          MaxNumberOfMessages: wanted,
          AttributeNames: ['All'],
          MessageAttributeNames: ['All'],
          WaitTimeSeconds: 0,
        }),
      );
      const got = res.Messages ?? [];
      messages.push(...got);
      if (got.length === wanted) continue;
      if (messages.length === 0 || windowMs === 0) break;
      closesAt ??= Date.now() + windowMs;
      const left = closesAt - Date.now();
      if (left <= 0) break;
      await new Promise((r) => setTimeout(r, Math.min(WINDOW_POLL_MS, left)));
    }
    return messages;
  }

  async function poller(index: number): Promise<void> {
    const handler = options.handlerFor(index);
    while (!done && Date.now() < options.deadlineMs) {
      const messages = await gather();
      if (messages.length === 0) {
        await new Promise((r) => setTimeout(r, options.until ? 1000 : 200));
        continue;
      }
      const records = messages.map((m) => toRecord(m, options.queueArn));
      const invoke = async (): Promise<Set<string>> => {
        try {
          const response = await handler({ Records: records });
          if (options.reportBatchItemFailures === false) return new Set<string>();
          return new Set(response.batchItemFailures.map((f) => f.itemIdentifier));
        } catch {
          // A handler that throws fails the whole batch, as in Lambda.
          return new Set(records.map((r) => r.messageId));
        }
      };
      // Two deliveries of one message: whichever writer succeeds deletes it.
      const outcomes = await Promise.all(options.duplicate?.() ? [invoke(), invoke()] : [invoke()]);
      const failedIds = new Set(records.map((r) => r.messageId).filter((id) => outcomes.every((failed) => failed.has(id))));
      const succeeded = records.filter((r) => !failedIds.has(r.messageId));
      for (let i = 0; i < succeeded.length; i += 10) {
        await options.sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: options.queueUrl,
            Entries: succeeded.slice(i, i + 10).map((r, j) => ({ Id: String(j), ReceiptHandle: r.receiptHandle })),
          }),
        );
      }
      totals.batches++;
      totals.received += records.length;
      totals.failed += failedIds.size;
      options.onBatch?.({ received: records.length, failed: failedIds.size });
    }
  }

  async function watcher(): Promise<void> {
    if (options.until) {
      const signal = options.until;
      if (!signal.aborted) await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
      done = true;
      return;
    }
    while (!done && Date.now() < options.deadlineMs) {
      await new Promise((r) => setTimeout(r, 250));
      const depth = await queueDepth(options.sqs, options.queueUrl);
      if (depth.visible + depth.inFlight + depth.delayed === 0) done = true;
    }
    done = true;
  }

  await Promise.all([watcher(), ...Array.from({ length: options.concurrency }, (_, i) => poller(i))]);
  const depth = await queueDepth(options.sqs, options.queueUrl);
  return { ...totals, drained: depth.visible + depth.inFlight + depth.delayed === 0 };
}
