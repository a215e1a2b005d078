import * as z from 'zod';

/** The functions' environment, checked once per container with a clear message for what is missing. */
const environmentSchema = z.object({
  CONNECTIONS_TABLE: z.string().min(1),
  SYNC_STATE_TABLE: z.string().min(1),
  AUDIT_TABLE: z.string().min(1),
  RECORDS_QUEUE_URL: z.string().url(),
  RECORDS_DLQ_URL: z.string().url(),
  PRODUCTS_QUEUE_URL: z.string().url(),
  PRODUCTS_DLQ_URL: z.string().url(),
  ORDERS_QUEUE_URL: z.string().url(),
  ORDERS_DLQ_URL: z.string().url(),
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
