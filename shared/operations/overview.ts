import type { StoredTenant } from '../config/tenant.ts';
import { parseRecordMessage } from '../flows/record-message.ts';
import { entityRegistry, type EntityRegistry } from '../flows/registry.ts';
import type { AuditEntry, DeadLetters, TenantClients } from '../ports/index.ts';
import { pipedriveTokenCost } from '../runtime/observability.ts';
import { latestPerRecord } from './replay.ts';
import { choiceCauses, choiceHolds, type ChoiceHold, type SettleDeps } from './settle.ts';
import type { TenantStatus } from './status.ts';

/** Records written and Pipedrive tokens spent on those writes in one hour. */
export interface ActivityBucket {
  hour: string;
  written: number;
  tokens: number;
}

export interface DeadLetterGroup {
  queue: string;
  /** The writer's cause (permanent, retryBudget), or maxReceiveCount for one SQS moved. */
  cause: string;
  reason: string;
  records: Array<{ entity: string; key: string }>;
}

/** What needs a person for one tenant, besides its status. */
export interface Attention {
  /** Held until a person chooses the Pipedrive record (possible duplicates, ambiguous matches). */
  choices: ChoiceHold[];
  /** Held for other causes (drift, a contact waiting for its organization, a parked tenant, ...). */
  held: TenantStatus['held'];
  /** Won deals whose latest outcome in the window is a rejection, with the reason. */
  rejectedDeals: Array<{ deal: string; at: string; reason: string }>;
  deadLetters: DeadLetterGroup[];
}

/**
 * Records written (created or updated) and the tokens those writes cost, per hour of [from, to), from the
 * audit. Searches and list pages are not audited, so this is the write share of the tokens, not all of them.
 */
export function activityByHour(entries: ReadonlyArray<AuditEntry & { at: string }>, fromMs: number, toMs: number): ActivityBucket[] {
  const hour = 3_600_000;
  const start = Math.floor(fromMs / hour) * hour;
  const buckets = Array.from({ length: Math.ceil((toMs - start) / hour) }, (_, i) => ({
    hour: new Date(start + i * hour).toISOString(),
    written: 0,
    tokens: 0,
  }));
  const writeCost = pipedriveTokenCost('POST /api/v2/organizations', 201);
  for (const e of entries) {
    if (e.action !== 'created' && e.action !== 'updated') continue;
    const bucket = buckets[Math.floor((Date.parse(e.at) - start) / hour)];
    if (!bucket) continue;
    bucket.written++;
    // A sales order is written to QAD; its number then goes onto the deal, one Pipedrive write as well.
    bucket.tokens += writeCost;
  }
  return buckets;
}

/** What needs a person: held records (a choice first), rejected won deals, and this tenant's dead letters by cause. */
export async function attentionFor(
  deps: Pick<SettleDeps, 'holds'> & { deadLettersOf(queue: string): DeadLetters },
  tenant: StoredTenant,
  status: TenantStatus,
  recent: ReadonlyArray<AuditEntry & { at: string }>,
  registry: EntityRegistry = entityRegistry,
): Promise<Attention> {
  const { tenantId } = tenant.config;
  const choices = await choiceHolds(deps, tenant, registry);
  const choiceKeys = new Set(choices.map((c) => `${c.entity}|${c.key}`));
  const choiceCauseNames = new Set(registry.flows.flatMap((f) => choiceCauses(f.entity)));
  const deals = registry.flows.filter((f) => f.definition === undefined).map((f) => f.entity);
  const rejectedDeals = latestPerRecord(recent)
    .filter((e) => deals.includes(e.entity) && e.action === 'rejected')
    .map((e) => ({ deal: e.key, at: e.at, reason: e.error ?? e.reason ?? '' }));
  const groups = new Map<string, DeadLetterGroup>();
  for (const { name } of registry.queues)
    for (const letter of await deps.deadLettersOf(name).read()) {
      const message = parseRecordMessage(letter.body);
      if (message.ok && message.value.tenantId !== tenantId) continue;
      const [entity, key] = message.ok ? [message.value.entity, message.value.key] : ['?', '(unreadable message)'];
      const cause = letter.cause ?? 'maxReceiveCount';
      const reason = letter.reason ?? 'received too often without an answer (a writer crashed or timed out)';
      const id = JSON.stringify([name, cause, reason]);
      const group = groups.get(id) ?? { queue: name, cause, reason, records: [] };
      group.records.push({ entity, key });
      groups.set(id, group);
    }
  return {
    choices,
    held: status.held.filter((h) => !choiceKeys.has(`${h.entity}|${h.key}`) && !choiceCauseNames.has(h.cause)),
    rejectedDeals,
    deadLetters: [...groups.values()],
  };
}

/**
 * The tenant's daily Pipedrive token budget as Pipedrive reports it now: one fields list (10 tokens) to read
 * the answer's x-daily-ratelimit headers. Undefined when Pipedrive does not say.
 */
export async function dailyBudget(clients: TenantClients, tenant: StoredTenant): Promise<{ used: number; limit: number } | undefined> {
  const pipedrive = await clients.pipedrive(tenant);
  await pipedrive.listFields('organization');
  const { dailyLimit, dailyRemaining } = pipedrive.rateLimits();
  return dailyLimit === undefined || dailyRemaining === undefined ? undefined : { used: dailyLimit - dailyRemaining, limit: dailyLimit };
}
