import type { Context } from 'aws-lambda';
import { z } from 'zod';
import { pollCustomers } from '../shared/flows/poll-customers.ts';
import { buildDependencies } from '../shared/runtime/dependencies.ts';
import { logger, publishMetrics } from '../shared/runtime/observability.ts';

/** EventBridge Scheduler invokes this with {"entity":"customers"}; `force` skips the per-tenant cadence. */
const eventSchema = z.object({ entity: z.literal('customers'), force: z.boolean().optional() });

let deps: ReturnType<typeof buildDependencies> | undefined;

export async function handler(event: unknown, context?: Context) {
  if (context) logger.addContext(context);
  const input = eventSchema.parse(event);
  deps ??= buildDependencies();
  try {
    const summaries = await pollCustomers(deps, { force: input.force ?? false });
    for (const s of summaries) logger.info('customer poll', { ...s });
    return { summaries };
  } finally {
    publishMetrics();
  }
}
