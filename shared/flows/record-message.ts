import * as z from 'zod';
import type { RecordMessage } from '../ports/index.ts';

/**
 * The shape writers send: version 2 (0.2.0) adds `queuedAt`, so a held or dead-lettered message tells a person
 * its age. Readers also take version 1 (0.1.0), which is version 2 without `queuedAt`: messages in flight, held
 * or in a DLQ across an upgrade are still written.
 */
export const RECORD_MESSAGE_VERSION = 2;

const v1Schema = z.object({
  v: z.literal(1),
  tenantId: z.string().min(1),
  // Which registered flow writes it is the writer's question (an unknown entity is dead-lettered there).
  entity: z.string().regex(/^[A-Za-z][A-Za-z0-9-]{0,39}$/u, 'must be an entity name such as organization'),
  key: z.string().min(1),
  hash: z.string().min(1),
  record: z.unknown(),
  pollId: z.string(),
});
// Without `queuedAt` when 0.1.0 queued it and it comes round again upgraded (a held message released).
const v2Schema = v1Schema.extend({
  v: z.literal(RECORD_MESSAGE_VERSION),
  queuedAt: z.iso.datetime().optional(),
  rematch: z.literal(true).optional(),
});

const recordMessageSchema: z.ZodType<RecordMessage> = z.discriminatedUnion('v', [
  v2Schema,
  v1Schema.transform((m): RecordMessage => ({ ...m, v: RECORD_MESSAGE_VERSION })),
]);

/** A message in the current shape, queued now. */
export function newRecordMessage(fields: Omit<RecordMessage, 'v' | 'queuedAt'>, nowMs: number): RecordMessage {
  return { v: RECORD_MESSAGE_VERSION, ...fields, queuedAt: new Date(nowMs).toISOString() };
}

/** A queue message (or a held one) of the current or the previous version as a current one, or why it is not one. */
export function parseRecordMessage(body: string): { ok: true; value: RecordMessage } | { ok: false; reason: string } {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { ok: false, reason: 'message body is not JSON' };
  }
  const version = (json as { v?: unknown } | null)?.v;
  if (typeof version === 'number' && version > RECORD_MESSAGE_VERSION)
    return {
      ok: false,
      reason:
        `message version ${version} was written by a newer release; this one reads versions 1 and ${RECORD_MESSAGE_VERSION}` +
        ' (finish the upgrade, then redrive)',
    };
  const parsed = recordMessageSchema.safeParse(json);
  return parsed.success
    ? { ok: true, value: parsed.data }
    : {
        ok: false,
        reason: `message is not a record message: ${parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`,
      };
}
