import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import * as z from 'zod';
import { withEntity } from '../flows/entities/index.ts';
import type { PollName } from '../flows/entities/entity.ts';
import { handleWriterBatch, writeToPipedrive } from '../flows/writer-batch.ts';
import { pollWonDeals, type DealPollSummary } from '../flows/poll-deals.ts';
import { writeSalesOrder } from '../flows/write-sales-order.ts';
import { pollEntity, type PollSummary } from '../flows/poll.ts';
import { buildDependencies, type WorkQueue } from './dependencies.ts';
import { logger, publishMetrics } from './observability.ts';

/**
 * The Lambda handlers, one factory per kind, so each file in functions/ is a single line that
 * names its entity or queue. Dependencies are built on the first invocation of a container.
 */
export function pollHandler(poll: PollName) {
  const eventSchema = z.object({ entity: z.literal(poll), force: z.boolean().optional() });
  let deps: ReturnType<typeof buildDependencies> | undefined;
  return async (event: unknown, context?: Context): Promise<{ summaries: Array<PollSummary | DealPollSummary> }> => {
    if (context) logger.addContext(context);
    const input = eventSchema.parse(event);
    const ready = (deps ??= buildDependencies());
    const force = input.force ?? false;
    try {
      // Won deals come from Pipedrive; every other poll reads a QAD entity.
      const summaries =
        poll === 'deals' ? await pollWonDeals(ready, { force }) : await withEntity(poll, (entity) => pollEntity(ready, entity, { force }));
      for (const s of summaries) logger.info(`${poll} poll`, { ...s });
      return { summaries };
    } finally {
      publishMetrics();
    }
  };
}

/** An SQS event source with reportBatchItemFailures: returns the records to retry. */
export function writerHandler(queue: WorkQueue) {
  let deps: ReturnType<typeof buildDependencies> | undefined;
  return async (event: SQSEvent, context?: Context): Promise<SQSBatchResponse> => {
    if (context) logger.addContext(context);
    deps ??= buildDependencies(queue);
    try {
      const ready = deps;
      return await handleWriterBatch(
        ready,
        event,
        queue === 'orders' ? (tenant, m, d) => writeSalesOrder(ready, tenant, m, d) : writeToPipedrive(ready),
      );
    } finally {
      publishMetrics();
    }
  };
}
