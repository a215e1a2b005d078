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
  /** When the claim itself marked a create pending (claimed `asCreate`, and the record was new). */
  pendingSince?: string;
  /** Set by the writer as it sends the create: from then on only the key map's own writes end the marker. */
  createSent?: boolean;
}

/**
 * Runs `work` holding the record's claim (a conditional write in the key map): a concurrent delivery
 * of the same record waits (ClaimHeldError) instead of writing it twice. `work` completes or releases
 * the claim on its way out; when it throws, the claim is released here.
 */
export async function withClaim<T>(
  deps: { keyMap: KeyMap; clock: Clock; claimLeaseMs: number },
  target: { tenantId: string; entity: EntityName; key: string; what: string; asCreate?: boolean },
  delivery: DeliveryInfo,
  work: (claim: Claim) => Promise<T>,
): Promise<T> {
  const { tenantId, entity, key } = target;
  // Unique per processing, not per message: SQS may deliver one message (one MessageId) twice at once.
  const owner = `${delivery.messageId}#${randomUUID()}`;
  const now = deps.clock.now();
  // A record expected to be new is claimed with its create marked pending, in the same write (see upsert).
  const options = target.asCreate ? { pendingCreateAt: new Date(now).toISOString() } : {};
  const claimed = await deps.keyMap.claim(tenantId, entity, key, owner, deps.claimLeaseMs, now, options);
  // Held by another delivery of this very message (SQS delivered it twice at once): that one answers for it.
  if (claimed.held)
    throw claimHeld(target.what, claimed.until - deps.clock.now(), claimed.owner?.startsWith(`${delivery.messageId}#`) === true);
  delivery.onClaimed?.(claimed.holdMarks);
  const claim: Claim = { entry: claimed.entry, owner, ...(claimed.pendingSince && { pendingSince: claimed.pendingSince }) };
  try {
    return await work(claim);
  } catch (error) {
    await deps.keyMap.release(tenantId, entity, key, owner, releaseOptions(claim)).catch(() => undefined);
    throw error;
  }
}

/** How a claim ends without a write: a create its claim marked pending and nobody sent is no create to recover. */
export function releaseOptions(claim: Claim): { pendingCreate?: boolean } {
  return claim.pendingSince !== undefined && !claim.createSent ? { pendingCreate: true } : {};
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
