import { randomUUID } from 'node:crypto';
import type { SQSRecord } from 'aws-lambda';
import { DEPENDENCY_WAITS_ATTRIBUTE, FAILED_ATTEMPTS_ATTRIBUTE, MAX_FAILED_ATTEMPTS } from '../domain/errors.ts';
import type { AuditEntry, MessageControl, RecordMessage, RetryCounts, TenantHolds, TimedAuditEntry } from '../ports/index.ts';
import { handleWriterBatch, type WriterBatchDeps } from '../flows/writer-batch.ts';

/** A message the in-process writer has yet to deliver: when, with the counts a requeue carries. */
interface Pending {
  body: string;
  dueMs: number;
  counts: RetryCounts;
  /** How often a batch reported it back (SQS would not take its retry); after a few it goes to the work queue. */
  returned?: number;
}

/** Where each record ended, as `connector sync` reports it. */
export interface Disposition {
  key: string;
  /** The last audit entry of its writes here (created, updated, unchanged, deferred, failed ...). */
  entry?: AuditEntry;
  /**
   * Written; left for the stack's writers on the work queue (a wait or retry due after this run); held; or failed
   * for good (handed to its writer, which dead-letters it).
   */
  end: 'written' | 'queued' | 'held' | 'failed';
}

/** How long `sync` writes in-process at most: the poll lease it holds meanwhile is 6 minutes. */
export const IN_PROCESS_LIMIT_MS = 4 * 60_000;
const BATCH = 10;

/** An object whose other methods (and their `this`) stay the base's. */
export const override = <T extends object>(base: T, methods: Partial<T>): T => Object.assign(Object.create(base) as T, methods);

/**
 * Writes a poll's messages in this process with the writers' own code and semantics (`handleWriterBatch`: the
 * error policy, waits, retries, holds, dead letters, audit), as if the work queue delivered them:
 * - a wait or retry due before `waitUntilMs` is delivered again here, after sleeping until it is due;
 * - one due later (a person waiting for its organization, a rate limit's reset) goes on the real work queue with
 *   its counts, where the stack's writers take it: the same path a scheduled poll's message takes;
 * - holds go where the writers put them (DynamoDB); a record the policy dead-letters is handed to its writer on the
 *   work queue, its retry budget spent, and that writer dead-letters it: a DLQ takes messages from its writer only
 *   (the stack's queue policies), and the operator running this is not one.
 * So every record ends written, held, failed or on the work queue: none is left behind a moved watermark.
 */
export async function writeInProcess(
  deps: WriterBatchDeps,
  /** The entity's real work queue. */
  workQueue: Pick<MessageControl, 'requeue'>,
  messages: readonly RecordMessage[],
  options: { waitUntilMs: number; onProgress?: (done: number, total: number) => void },
): Promise<Disposition[]> {
  const { clock } = deps;
  const startMs = clock.now();
  // Fresh messages are written here until the limit; a retry is waited for only if it falls due within the wait.
  const limitMs = startMs + IN_PROCESS_LIMIT_MS;
  const retryUntilMs = Math.min(options.waitUntilMs, limitMs);
  const keyOf = new Map(messages.map((m) => [JSON.stringify(m), m.key]));
  const results = new Map<string, Disposition>(messages.map((m) => [m.key, { key: m.key, end: 'written' }]));
  const end = (body: string, how: Disposition['end']) => {
    const result = results.get(keyOf.get(body) ?? '');
    if (result) result.end = how;
  };
  const pending: Pending[] = [...keyOf.keys()].map((body) => ({ body, dueMs: startMs, counts: { failedAttempts: 0, dependencyWaits: 0 } }));

  const control: MessageControl = {
    // A receive here is no SQS receive: a record whose requeue failed is put back by the loop below.
    setVisibility: async () => undefined,
    async requeue(body, delaySeconds, counts) {
      const dueMs = clock.now() + delaySeconds * 1000;
      if (dueMs <= retryUntilMs) {
        pending.push({ body, dueMs, counts });
        return;
      }
      await workQueue.requeue(body, delaySeconds, counts);
      end(body, 'queued');
    },
    async deadLetter(body) {
      await workQueue.requeue(body, 0, { failedAttempts: MAX_FAILED_ATTEMPTS - 1, dependencyWaits: 0 });
      end(body, 'failed');
    },
  };
  const holds = override<TenantHolds>(deps.holds, {
    hold: async (tenantId, messageId, body, cause, detail) => {
      const first = await deps.holds.hold(tenantId, messageId, body, cause, detail);
      end(body, 'held');
      return first;
    },
  });
  const note = (entry: AuditEntry) => {
    const result = entry.key.startsWith('_') ? undefined : results.get(entry.key);
    if (result && entry.entity === messages[0]?.entity) result.entry = entry;
  };
  // The writer batch writes its entries together at its end (recordAll); anything else one by one.
  const audit = override(deps.audit, {
    record: async (entry: AuditEntry) => {
      await deps.audit.record(entry);
      note(entry);
    },
    recordAll: async (entries: readonly TimedAuditEntry[]) => {
      await deps.audit.recordAll(entries);
      entries.forEach(note);
    },
  });
  const writer: WriterBatchDeps = { ...deps, messages: control, holds, audit };
  const handOff = async (p: Pending) => {
    await workQueue.requeue(p.body, Math.max(0, (p.dueMs - clock.now()) / 1000), p.counts);
    end(p.body, 'queued');
  };

  let done = 0;
  while (pending.length > 0) {
    pending.sort((a, b) => a.dueMs - b.dueMs);
    const dueMs = pending[0]!.dueMs;
    if (clock.now() > limitMs) break;
    const batch = pending.splice(0, Math.min(BATCH, pending.filter((p) => p.dueMs <= dueMs).length));
    const waitMs = dueMs - clock.now();
    if (waitMs > 0) await clock.sleep(waitMs);
    const event = { Records: batch.map((p) => sqsRecord(p, deps.queue)) };
    const { batchItemFailures } = await handleWriterBatch(writer, event);
    const failed = new Set(batchItemFailures.map((f) => f.itemIdentifier));
    // Reported back when SQS would not take a retry: delivered again a little later, as a receive would be.
    for (const [i, r] of event.Records.entries()) {
      const p = batch[i]!;
      if (!failed.has(r.messageId)) continue;
      if ((p.returned ?? 0) < 3) pending.push({ ...p, dueMs: clock.now() + 1000, returned: (p.returned ?? 0) + 1 });
      else await handOff(p);
    }
    done += batch.length - failed.size;
    options.onProgress?.(done, messages.length);
  }
  // Out of time here: the rest goes on the work queue, for the stack's writers.
  for (const p of pending) await handOff(p);
  return [...results.values()];
}

/** A pending message as the SQS event source hands it to a writer. */
function sqsRecord(p: Pending, queue: string): SQSRecord {
  const count = (n: number) => ({ dataType: 'Number', stringValue: String(n) });
  return {
    messageId: `sync-${randomUUID()}`,
    receiptHandle: 'in-process',
    body: p.body,
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: '0',
      SenderId: 'connector-sync',
      ApproximateFirstReceiveTimestamp: '0',
    },
    messageAttributes: {
      [FAILED_ATTEMPTS_ATTRIBUTE]: count(p.counts.failedAttempts),
      [DEPENDENCY_WAITS_ATTRIBUTE]: count(p.counts.dependencyWaits),
    },
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: `in-process:${queue}`,
    awsRegion: '',
  };
}
