import { createHash, timingSafeEqual } from 'node:crypto';
import * as z from 'zod';

/**
 * Pipedrive webhooks v2 as the endpoint judges them (facts: Pipedrive's webhooks v2 docs). Pipedrive signs
 * nothing: the only proof a delivery is Pipedrive's is the HTTP Basic pair chosen at `webhook install`.
 */

/** A deal change is a few KB even with many custom fields; anything far larger is not a deal delivery. */
export const WEBHOOK_BODY_LIMIT_BYTES = 64 * 1024;

/** The pair Pipedrive sends as `Authorization: Basic`, stored encrypted under the tenant's `webhook` context. */
export const webhookCredentialsSchema = z.object({
  user: z.string().regex(/^[A-Za-z0-9_-]{8,64}$/u, 'must be 8-64 letters, digits, dashes or underscores'),
  password: z.string().regex(/^[A-Za-z0-9_-]{24,128}$/u, 'must be 24-128 letters, digits, dashes or underscores'),
});
export type WebhookCredentials = z.infer<typeof webhookCredentialsSchema>;

/** Compared as SHA-256 digests, so neither the lengths nor the first differing byte show in the time taken. */
function sameSecret(given: string, expected: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/** Whether an Authorization header carries exactly these credentials; both halves are always compared. */
export function basicAuthMatches(header: string | undefined, expected: WebhookCredentials): boolean {
  const match = /^Basic ([A-Za-z0-9+/=]+)$/u.exec(header?.trim() ?? '');
  const decoded = match ? Buffer.from(match[1]!, 'base64').toString('utf8') : '';
  const colon = decoded.indexOf(':');
  const user = colon < 0 ? '' : decoded.slice(0, colon);
  const password = colon < 0 ? '' : decoded.slice(colon + 1);
  const userOk = sameSecret(user, expected.user);
  const passwordOk = sameSecret(password, expected.password);
  return match !== null && colon >= 0 && userOk && passwordOk;
}

/** The `Authorization` value for these credentials (what Pipedrive, or the simulator, sends). */
export function basicAuthHeader(credentials: WebhookCredentials): string {
  return `Basic ${Buffer.from(`${credentials.user}:${credentials.password}`, 'utf8').toString('base64')}`;
}

/** Ids arrive as numbers or numeric strings (v2 sends strings in `meta`). */
const id = z
  .union([
    z.number(),
    z
      .string()
      .regex(/^\d{1,15}$/u)
      .transform(Number),
  ])
  .pipe(z.number().int().positive());

export const webhookDeliverySchema = z.looseObject({
  meta: z.looseObject({
    action: z.string(),
    entity: z.string(),
    entity_id: id,
    company_id: id,
    webhook_id: z.union([z.string(), z.number()]).optional(),
    attempt: z.number().int().min(1).optional(),
    timestamp: z.string().optional(),
    version: z.literal('2.0'),
  }),
  data: z.looseObject({ status: z.string().optional() }).nullable(),
  previous: z.looseObject({ status: z.string().nullish() }).nullable(),
});
export type WebhookDelivery = z.infer<typeof webhookDeliverySchema>;

/** What the endpoint does with one delivery: queue the deal, let it go (2xx, so Pipedrive stops), or refuse it. */
export type DeliveryVerdict =
  { kind: 'enqueue'; dealId: number } | { kind: 'ignore'; reason: string } | { kind: 'refuse'; status: 400 | 403; reason: string };

/**
 * A deal that became won, for this tenant's company. Only the id is taken from the body: the writer reads the
 * deal and its lines from the API, so a delivery can at most make the connector look at a deal sooner.
 */
export function judgeDelivery(body: unknown, companyId: number): DeliveryVerdict {
  const parsed = webhookDeliverySchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { kind: 'refuse', status: 400, reason: `not a Pipedrive webhook v2 delivery: ${issue?.path.join('.')} ${issue?.message}` };
  }
  const { meta, data, previous } = parsed.data;
  if (meta.company_id !== companyId) return { kind: 'refuse', status: 403, reason: `company ${meta.company_id} is not this tenant's` };
  if (meta.entity !== 'deal' || meta.action !== 'change') return { kind: 'ignore', reason: `${meta.action}.${meta.entity} is not watched` };
  if (data?.status !== 'won') return { kind: 'ignore', reason: 'the deal is not won' };
  // `previous` holds only the fields that changed: without a status there, the deal was already won.
  if (!previous || previous.status === undefined || previous.status === 'won')
    return { kind: 'ignore', reason: 'the deal was already won (another field changed)' };
  return { kind: 'enqueue', dealId: meta.entity_id };
}
