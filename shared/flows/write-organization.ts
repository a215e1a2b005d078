import type { StoredTenant } from '../config/tenant.ts';
import { customerSchema, type Customer } from '../domain/customer.ts';
import { PermanentError, RateLimitedError, RetryLaterError } from '../domain/errors.ts';
import { mapCustomerToOrganization } from '../domain/organization.ts';
import { normaliseName } from '../domain/text.ts';
import { chooseMatch, decideFirstStep, type MatchResult, type NameCandidate } from '../domain/upsert-decision.ts';
import { PipedriveNotFoundError, type PipedriveClient } from '../clients/pipedrive-client.ts';
import type { AuditLog, Clock, KeyMap, ListingIndex, PollStateStore, RecordMessage } from '../ports/index.ts';
import type { Connections } from './connections.ts';
import { resolveKeyField } from './key-fields.ts';

export interface WriterDeps {
  keyMap: KeyMap;
  listing: ListingIndex;
  pollState: PollStateStore;
  audit: AuditLog;
  connections: Connections;
  clock: Clock;
  /** How long a claim protects a record from a concurrent delivery; longer than one invocation. */
  claimLeaseMs: number;
}

export interface DeliveryInfo {
  messageId: string;
  attempt: number;
}

export type WriteOutcome = { action: 'created' | 'updated' | 'unchanged'; pipedriveId: number; via?: string };

const ENTITY = 'organization';
/** How long a first-sync listing stands in for searches. After that, new customers are searched. */
const LISTING_TRUST_MS = 6 * 3_600_000;
/** How far before a pending create we look for it: clocks and update_time seconds differ a little. */
const RECOVERY_SLACK_MS = 5 * 60_000;

/**
 * Upserts one customer as an organization:
 * 1. claim the record (a conditional write; a concurrent delivery of it waits);
 * 2. unchanged content -> done; known Pipedrive id -> PATCH;
 * 3. a create that may have happened before a crash -> find it by listing recent updates;
 * 4. else match: the first-sync listing, or searches on the key field then the exact name;
 *    a failed search throws "try later" and never falls through to create;
 * 5. mark the create pending, POST, record id + hash and release the claim.
 */
export async function writeOrganization(deps: WriterDeps, tenant: StoredTenant, message: RecordMessage, delivery: DeliveryInfo): Promise<WriteOutcome> {
  const { tenantId } = tenant.config;
  const customer = parseCustomer(message.record);
  const key = customer.code;
  const owner = delivery.messageId;
  const claim = await deps.keyMap.claim(tenantId, ENTITY, key, owner, deps.claimLeaseMs, deps.clock.now());
  if (claim.held) throw new ClaimWait(key, claim.until - deps.clock.now());

  try {
    const step = decideFirstStep(claim.entry, message.hash);
    const audit = (action: WriteOutcome['action'], pipedriveId: number, reason: string) =>
      deps.audit.record({ tenantId, entity: ENTITY, key, action, pipedriveId, reason, attempt: delivery.attempt, messageId: delivery.messageId, snapshot: customer });

    if (step.kind === 'unchanged') {
      await audit('unchanged', step.pipedriveId, 'content hash unchanged since the last write');
      await deps.keyMap.release(tenantId, ENTITY, key, owner);
      return { action: 'unchanged', pipedriveId: step.pipedriveId };
    }

    const pipedrive = await deps.connections.pipedrive(tenant);
    const keyField = await resolveKeyField({ locks: deps.pollState, audit: deps.audit, now: () => deps.clock.now() }, tenantId, pipedrive, 'organization', tenant.config.mapping.organization.keyFieldName);
    const payload = mapCustomerToOrganization(customer, keyField);

    let targetId: number | undefined;
    let via = 'key map';
    if (step.kind === 'update') {
      targetId = step.pipedriveId;
    } else if (step.kind === 'recover') {
      targetId = await findRecentlyCreated(pipedrive, keyField, key, Date.parse(step.since) - RECOVERY_SLACK_MS);
      via = 'recovered pending create';
    }
    if (targetId === undefined) {
      const match = await matchOrganization(deps, tenant, pipedrive, keyField, customer);
      if (match.kind === 'ambiguous') {
        throw new PermanentError(`ambiguous match: Pipedrive organizations ${match.ids.join(' and ')} all match customer ${key} by ${match.via}; link one by setting its "${tenant.config.mapping.organization.keyFieldName}" field`, { ids: match.ids });
      }
      // Two QAD customers with one name must not share an organization: the first to claim it wins.
      if (match.kind === 'matched' && (await deps.keyMap.claimPipedriveRecord(tenantId, ENTITY, match.pipedriveId, key)).owner === key) {
        targetId = match.pipedriveId;
        via = `matched by ${match.via}`;
      }
    }

    if (targetId !== undefined) {
      try {
        await pipedrive.updateOrganization(targetId, payload);
        await audit('updated', targetId, `updated (${via})`);
        await deps.keyMap.complete(tenantId, ENTITY, key, owner, { pipedriveId: targetId, contentHash: message.hash });
        return { action: 'updated', pipedriveId: targetId, via };
      } catch (error) {
        if (!(error instanceof PipedriveNotFoundError)) throw error;
        // Deleted in Pipedrive since we mapped it: forget it and let the retry match or create afresh.
        await deps.keyMap.forgetPipedriveId(tenantId, ENTITY, key, owner);
        throw new RetryLaterError(`organization ${targetId} no longer exists in Pipedrive; the mapping was dropped and the customer will be matched again`, 1);
      }
    }

    await deps.keyMap.markPendingCreate(tenantId, ENTITY, key, owner, new Date(deps.clock.now()).toISOString());
    let created: { id: number };
    try {
      created = await pipedrive.createOrganization(payload);
    } catch (error) {
      // A 429 or a 4xx is Pipedrive saying no: nothing was created, so the retry need not look for it.
      // Timeouts, resets and 5xx leave the marker: the create may have happened.
      if (error instanceof RateLimitedError || error instanceof PermanentError) await deps.keyMap.clearPendingCreate(tenantId, ENTITY, key, owner);
      throw error;
    }
    await deps.keyMap.claimPipedriveRecord(tenantId, ENTITY, created.id, key);
    await audit('created', created.id, 'no organization carries this QAD code or name; created');
    await deps.keyMap.complete(tenantId, ENTITY, key, owner, { pipedriveId: created.id, contentHash: message.hash });
    return { action: 'created', pipedriveId: created.id };
  } catch (error) {
    await deps.keyMap.release(tenantId, ENTITY, key, owner).catch(() => undefined);
    throw error;
  }
}

/** Another delivery holds this record; come back when its lease ends. */
export class ClaimWait extends RetryLaterError {
  constructor(key: string, waitMs: number) {
    super(`customer ${key} is being written by another delivery`, Math.max(1, Math.ceil(waitMs / 1000)));
  }
}

function parseCustomer(record: unknown): Customer {
  const parsed = customerSchema.safeParse(record);
  if (!parsed.success) throw new PermanentError(`message does not hold a valid customer: ${parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`);
  return parsed.data;
}

/**
 * After a crash between POST and the key-map write, the organization exists but search may not
 * show it yet. Listing by update time is consistent, so look there, never in search.
 */
async function findRecentlyCreated(pipedrive: PipedriveClient, keyField: string, key: string, sinceMs: number): Promise<number | undefined> {
  const updatedSince = new Date(sinceMs).toISOString().replace(/\.\d{3}Z$/u, 'Z');
  let cursor: string | undefined;
  do {
    const page = await pipedrive.listOrganizations({ updatedSince, newestFirst: true, ...(cursor && { cursor }) });
    const found = page.items.find((o) => o.custom_fields[keyField] === key);
    if (found) return found.id;
    cursor = page.nextCursor;
  } while (cursor);
  return undefined;
}

async function matchOrganization(deps: WriterDeps, tenant: StoredTenant, pipedrive: PipedriveClient, keyField: string, customer: Customer): Promise<MatchResult> {
  const { tenantId } = tenant.config;
  const name = normaliseName(customer.name);
  let byKey: number[];
  let byName: NameCandidate[];
  const listing = await deps.listing.meta(tenantId, ENTITY);
  if (listing && deps.clock.now() - Date.parse(listing.listedAt) < LISTING_TRUST_MS) {
    ({ byKey, byName } = await deps.listing.lookup(tenantId, ENTITY, customer.code, name));
  } else {
    // Search errors propagate as "try later": a search that did not answer is not "not found".
    byKey = (await pipedrive.searchOrganizations(customer.code, 'custom_fields')).filter((h) => h.customFieldValues.includes(customer.code)).map((h) => h.id);
    byName = [];
    if (byKey.length === 0) {
      const hits = (await pipedrive.searchOrganizations(customer.name, 'name')).filter((h) => normaliseName(h.name) === name);
      byName = hits.map((h) => ({ id: h.id, keyValue: h.customFieldValues.length > 0 ? (h.customFieldValues[0] ?? null) : null }));
    }
  }
  const owners = await deps.keyMap.ownersOf(tenantId, ENTITY, byName.map((c) => c.id));
  const ownedByOthers = new Set([...owners].filter(([, owner]) => owner !== customer.code).map(([id]) => id));
  return chooseMatch(customer.code, byKey, byName, ownedByOthers);
}
