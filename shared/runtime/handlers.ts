import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import * as z from 'zod';
import { pollEnabledTenants, type PollDeps } from '../flows/poll.ts';
import { entityRegistry, type EntityRegistry, type FlowPollSummary } from '../flows/registry.ts';
import { handleWriterBatch, type WriterBatchDeps } from '../flows/writer-batch.ts';
import { buildDependencies } from './dependencies.ts';
import { logger, publishMetrics } from './observability.ts';

/** What a handler hands its flow. */
export type HandlerDeps = PollDeps & WriterBatchDeps;

/** Builds a container's dependencies for a writer of `consumes` (undefined for a poller); tests build them in memory. */
export type BuildDependencies = (consumes: string | undefined, registry: EntityRegistry) => HandlerDeps;

/**
 * The poll handler of one registered flow (`customers`, `deals` ...), as the stack's schedule invokes it
 * with `{"entity": "<poll>"}`. Dependencies are built on the first invocation of a container.
 */
export function pollHandler(poll: string, registry: EntityRegistry = entityRegistry, build: BuildDependencies = buildDependencies) {
  const flow = registry.byPoll(poll);
  if (!flow) throw new Error(`no registered flow polls "${poll}" (known: ${registry.flows.map((f) => f.poll).join(', ')})`);
  const eventSchema = z.object({ entity: z.literal(poll), force: z.boolean().optional() });
  let deps: HandlerDeps | undefined;
  return async (event: unknown, context?: Context): Promise<{ summaries: FlowPollSummary[] }> => {
    if (context) logger.addContext(context);
    const { force = false } = eventSchema.parse(event);
    const ready = (deps ??= build(undefined, registry));
    try {
      const summaries = await pollEnabledTenants(ready, (tenant) => flow.pollTenant(ready, tenant, force), remainingOf(context));
      for (const s of summaries) logger.info(`${poll} poll`, { ...s });
      return { summaries };
    } finally {
      publishMetrics();
    }
  };
}

/** The writer of one work queue: an SQS event source with reportBatchItemFailures; returns the records to retry. */
export function writerHandler(queue: string, registry: EntityRegistry = entityRegistry, build: BuildDependencies = buildDependencies) {
  registry.queue(queue);
  let deps: HandlerDeps | undefined;
  return async (event: SQSEvent, context?: Context): Promise<SQSBatchResponse> => {
    if (context) logger.addContext(context);
    deps ??= build(queue, registry);
    try {
      return await handleWriterBatch(deps, event, remainingOf(context));
    } finally {
      publishMetrics();
    }
  };
}

/** The invocation's time left, as Lambda tells it; unbounded where no context is given (tests, the CLI). */
function remainingOf(context: Context | undefined): () => number {
  return context ? () => context.getRemainingTimeInMillis() : () => Number.POSITIVE_INFINITY;
}
