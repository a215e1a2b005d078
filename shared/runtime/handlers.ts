import type { APIGatewayProxyStructuredResultV2, Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import * as z from 'zod';
import { pollEnabledTenants, type PollDeps } from '../flows/poll.ts';
import { entityRegistry, type EntityRegistry, type FlowPollSummary } from '../flows/registry.ts';
import { handleWriterBatch, type WriterBatchDeps } from '../flows/writer-batch.ts';
import { webhookReceiver, type WebhookDeps } from '../flows/webhook-receive.ts';
import { buildDependencies, buildWebhookDependencies } from './dependencies.ts';
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

/** What the webhook function reads of API Gateway's HTTP API event (payload format 2.0); header names arrive lowercased. */
const httpEventSchema = z.object({
  pathParameters: z.object({ tenantId: z.string() }).partial().optional(),
  headers: z.record(z.string(), z.string()).optional(),
  body: z.string().optional(),
  isBase64Encoded: z.boolean().optional(),
});

/** The webhook endpoint's function: one HTTP API request in, the receiver's answer out. */
export function webhookHandler(build: () => WebhookDeps = buildWebhookDependencies) {
  let receive: ReturnType<typeof webhookReceiver> | undefined;
  return async (event: unknown, context?: Context): Promise<APIGatewayProxyStructuredResultV2> => {
    if (context) logger.addContext(context);
    receive ??= webhookReceiver(build());
    const request = httpEventSchema.parse(event);
    const raw = request.body ?? '';
    try {
      const answer = await receive({
        tenantId: request.pathParameters?.tenantId ?? '',
        authorization: request.headers?.['authorization'],
        body: request.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw,
      });
      return { statusCode: answer.status, headers: { 'content-type': 'application/json' }, body: answer.body };
    } finally {
      publishMetrics();
    }
  };
}

/** The invocation's time left, as Lambda tells it; unbounded where no context is given (tests, the CLI). */
function remainingOf(context: Context | undefined): () => number {
  return context ? () => context.getRemainingTimeInMillis() : () => Number.POSITIVE_INFINITY;
}
