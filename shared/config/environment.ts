import * as z from 'zod';

/** The functions' environment, checked once per container with a clear message for what is missing. */
const environmentSchema = z.object({
  CONNECTIONS_TABLE: z.string().min(1),
  SYNC_STATE_TABLE: z.string().min(1),
  AUDIT_TABLE: z.string().min(1),
  CREDENTIALS_CIPHER: z.enum(['kms', 'local']).default('kms'),
  KMS_KEY_ID: z.string().optional(),
  AUDIT_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(90),
  CLAIM_LEASE_SECONDS: z.coerce.number().int().min(1).max(900).default(90),
  RETRY_BASE_SECONDS: z.coerce.number().int().min(1).max(300).default(10),
  HTTP_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(15_000),
});

export type Environment = z.infer<typeof environmentSchema>;

export function readEnvironment(env: NodeJS.ProcessEnv = process.env): Environment {
  const parsed = environmentSchema.safeParse(env);
  if (!parsed.success)
    throw new Error(`bad function environment: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  if (parsed.data.CREDENTIALS_CIPHER === 'kms' && !parsed.data.KMS_KEY_ID)
    throw new Error('bad function environment: KMS_KEY_ID is required with CREDENTIALS_CIPHER=kms');
  return parsed.data;
}

/** A work queue's environment variable prefix: `records` -> RECORDS (RECORDS_QUEUE_URL, RECORDS_DLQ_URL). */
export const queueEnvName = (queue: string): string => queue.replace(/[^A-Za-z0-9]+/gu, '_').toUpperCase();

/** Each work queue's URL and its DLQ's, from `<NAME>_QUEUE_URL` / `<NAME>_DLQ_URL`. */
export function readQueueUrls(
  queues: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Record<string, { queue: string; dlq: string }> {
  const url = z.string().url();
  const out: Record<string, { queue: string; dlq: string }> = {};
  const problems: string[] = [];
  for (const name of queues) {
    const [queue, dlq] = ['QUEUE_URL', 'DLQ_URL'].map((suffix) => {
      const key = `${queueEnvName(name)}_${suffix}`;
      const parsed = url.safeParse(env[key]);
      if (!parsed.success) problems.push(`${key}: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
      return parsed.data ?? '';
    });
    out[name] = { queue: queue ?? '', dlq: dlq ?? '' };
  }
  if (problems.length > 0) throw new Error(`bad function environment: ${problems.join('; ')}`);
  return out;
}
