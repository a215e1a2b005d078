import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import { claimHeld, PermanentError } from '../domain/errors.ts';
import type { Clock, EntityName, KeyMap, KeyMapEntry } from '../ports/index.ts';

export interface DeliveryInfo {
  messageId: string;
  attempt: number;
  /** When the writer batch carrying it began: reads of Pipedrive made since then serve the whole batch. */
  batchStartedAt?: number;
  /** Told what the claim found of holds for a person on the record (ClaimOutcome's holdMarks), for its writer to clear. */
  onClaimed?: (holdMarks: number | undefined) => void;
}

/** The record a writer holds: its key-map entry as the claim found it, and the claim's owner. */
export interface Claim {
  entry: KeyMapEntry | undefined;
  owner: string;
}

/**
 * Runs `work` holding the record's claim (a conditional write in the key map): a concurrent delivery
 * of the same record waits (ClaimHeldError) instead of writing it twice. `work` completes or releases
 * the claim on its way out; when it throws, the claim is released here.
 */
export async function withClaim<T>(
  deps: { keyMap: KeyMap; clock: Clock; claimLeaseMs: number },
  target: { tenantId: string; entity: EntityName; key: string; what: string },
  delivery: DeliveryInfo,
  work: (claim: Claim) => Promise<T>,
): Promise<T> {
  const { tenantId, entity, key } = target;
  // Unique per processing, not per message: SQS may deliver one message (one MessageId) twice at once.
  const owner = `${delivery.messageId}#${randomUUID()}`;
  const claim = await deps.keyMap.claim(tenantId, entity, key, owner, deps.claimLeaseMs, deps.clock.now());
  // Held by another delivery of this very message (SQS delivered it twice at once): that one answers for it.
  if (claim.held) throw claimHeld(target.what, claim.until - deps.clock.now(), claim.owner?.startsWith(`${delivery.messageId}#`) === true);
  delivery.onClaimed?.(claim.holdMarks);
  try {
    return await work({ entry: claim.entry, owner });
  } catch (error) {
    await deps.keyMap.release(tenantId, entity, key, owner).catch(() => undefined);
    throw error;
  }
}

/**
 * The record a message carries, validated, and checked against the message's key: a message whose
 * key is not its record's own could overwrite another record's mapping.
 */
export function recordOf<R>(
  schema: z.ZodType<R>,
  message: { record: unknown; key: string },
  label: string,
  keyOf: (record: R) => string,
): R {
  const parsed = schema.safeParse(message.record);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ');
    throw new PermanentError(`message does not hold a valid ${label}: ${issues}`);
  }
  const key = keyOf(parsed.data);
  if (key !== message.key) throw new PermanentError(`message key "${message.key}" is not its ${label}'s own key "${key}"`);
  return parsed.data;
}
