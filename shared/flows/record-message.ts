import * as z from 'zod';
import type { RecordMessage } from '../ports/index.ts';

const recordMessageSchema: z.ZodType<RecordMessage> = z.object({
  v: z.literal(1),
  tenantId: z.string().min(1),
  // Which registered flow writes it is the writer's question (an unknown entity is dead-lettered there).
  entity: z.string().regex(/^[A-Za-z][A-Za-z0-9-]{0,39}$/u, 'must be an entity name such as organization'),
  key: z.string().min(1),
  hash: z.string().min(1),
  record: z.unknown(),
  pollId: z.string(),
});

/** A queue message (or a held one) as a record message, or why it is not one. */
export function parseRecordMessage(body: string): { ok: true; value: RecordMessage } | { ok: false; reason: string } {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { ok: false, reason: 'message body is not JSON' };
  }
  const parsed = recordMessageSchema.safeParse(json);
  return parsed.success
    ? { ok: true, value: parsed.data }
    : {
        ok: false,
        reason: `message is not a record message: ${parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`,
      };
}
