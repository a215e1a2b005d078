import type { Context, SQSEvent } from 'aws-lambda';
import { handleWriterBatch } from '../shared/flows/pipedrive-writer-batch.ts';
import { buildDependencies } from '../shared/runtime/dependencies.ts';
import { logger, publishMetrics } from '../shared/runtime/observability.ts';

let deps: ReturnType<typeof buildDependencies> | undefined;

/** SQS event source with reportBatchItemFailures: returns the records to retry. */
export async function handler(event: SQSEvent, context?: Context) {
  if (context) logger.addContext(context);
  deps ??= buildDependencies();
  try {
    return await handleWriterBatch(deps, event);
  } finally {
    publishMetrics();
  }
}
