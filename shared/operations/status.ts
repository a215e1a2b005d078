import { GetQueueAttributesCommand, StartMessageMoveTaskCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { AuditLog, HoldCandidate, KeyMap, PollStateStore, TenantHolds, TenantStore } from '../ports/index.ts';
import { entityRegistry, type EntityRegistry } from '../flows/registry.ts';
import { parseRecordMessage } from '../flows/record-message.ts';

export interface QueueStatus {
  queue: string;
  visible: number;
  inFlight: number;
  oldestAgeSeconds?: number;
  deadLetters: number;
}

export interface TenantStatus {
  tenantId: string;
  enabled: boolean;
  /** Why its Pipedrive work waits, if it does: parked (re-authorise) or the daily budget gate. */
  hold?: string;
  polls: Array<{ scope: string; watermark?: string; lastPolledAt?: string }>;
  /**
   * Records held in DynamoDB, each once (one problem, one entry): the cause as stored ('ambiguous:organization',
   * 'waiting:person' ...), why in an operator's words, and for a choice between Pipedrive records their ids and names.
   */
  held: Array<{ entity: string; key: string; cause: string; reason: string; candidates?: HoldCandidate[] }>;
  recentFailures: Array<{ at: string; entity: string; key: string; reason: string }>;
  /** Won deals deleted in Pipedrive after their QAD order was made: the orders stand, a person decides. */
  deletedAfterOrder: Array<{ deal: string; order: string; noticedAt: string }>;
}

async function depth(sqs: SQSClient, url: string): Promise<{ visible: number; inFlight: number }> {
  const a = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] }))).Attributes ?? {};
  return { visible: Number(a.ApproximateNumberOfMessages ?? 0), inFlight: Number(a.ApproximateNumberOfMessagesNotVisible ?? 0) };
}

export async function queueStatus(sqs: SQSClient, queues: Record<string, { queue: string; dlq: string }>): Promise<QueueStatus[]> {
  const out: QueueStatus[] = [];
  for (const [name, urls] of Object.entries(queues)) {
    const q = await depth(sqs, urls.queue);
    const d = await depth(sqs, urls.dlq);
    out.push({ queue: name, ...q, deadLetters: d.visible + d.inFlight });
  }
  return out;
}

/** Watermarks per poll, and the failures since `since` (the last day unless given), per tenant. */
export async function tenantStatus(
  deps: { tenants: TenantStore; pollState: PollStateStore; audit: AuditLog; holds: TenantHolds; keyMap: Pick<KeyMap, 'listMapped'> },
  now = Date.now(),
  registry: EntityRegistry = entityRegistry,
  since = new Date(now - 86_400_000).toISOString(),
): Promise<TenantStatus[]> {
  const out: TenantStatus[] = [];
  for (const tenant of await deps.tenants.list()) {
    const { tenantId } = tenant.config;
    const polls = [];
    for (const flow of registry.flows) polls.push({ scope: flow.entity, ...(await deps.pollState.get(tenantId, flow.entity)) });
    const recent = await deps.audit.byTenant(tenantId, since, new Date(now + 1).toISOString());
    const hold = await deps.holds.current(tenantId, now);
    out.push({
      tenantId,
      enabled: tenant.config.enabled,
      ...(hold && {
        hold:
          hold.kind === 'parked'
            ? `PARKED since ${hold.since}: ${hold.reason}`
            : `daily budget spent until ${new Date(hold.untilMs).toISOString()}`,
      }),
      polls,
      held: await heldRecords(deps.holds, tenantId),
      recentFailures: recent
        .filter((e) => e.action === 'failed' || e.action === 'rejected' || e.action === 'conflict')
        .slice(-10)
        .map((e) => ({ at: e.at, entity: e.entity, key: e.key, reason: e.error ?? e.reason ?? '' })),
      deletedAfterOrder: (await deps.keyMap.listMapped(tenantId, 'salesOrder')).flatMap((e) =>
        e.goneAt && e.ref ? [{ deal: e.qadKey, order: e.ref, noticedAt: e.goneAt }] : [],
      ),
    });
  }
  return out;
}

/** What is held for a tenant, one line per record: a record held twice (a duplicate delivery) shows once. */
async function heldRecords(holds: TenantHolds, tenantId: string): Promise<TenantStatus['held']> {
  const out = new Map<string, TenantStatus['held'][number]>();
  for (const { body, cause, reason, candidates } of await holds.held(tenantId)) {
    const message = parseRecordMessage(body);
    const [entity, key] = message.ok ? [message.value.entity, message.value.key] : ['?', '(unreadable message)'];
    const why = reason ?? HOLD_CAUSES[cause.split(':')[0] ?? ''] ?? cause;
    out.set(JSON.stringify([entity, key, cause]), { entity, key, cause, reason: why, ...(candidates && { candidates }) });
  }
  return [...out.values()];
}

/** Hold causes in an operator's words. */
const HOLD_CAUSES: Record<string, string> = {
  parked: 'tenant parked: re-authorise Pipedrive',
  drift: 'a mapped field drifted: fix the field or the mapping',
  budget: 'daily token budget spent: released once the gate opens',
  disabled: 'tenant disabled: released by "tenant enable"',
  waiting: 'waits for another record (a person for its organization): sent again once that is written',
  ambiguous: 'two or more Pipedrive records match: set the QAD key on the right one',
  'possible-duplicate': 'only a near-identical Pipedrive record matches: set the QAD key on it, or rename it',
  'deleted-in-pipedrive': 'deleted in Pipedrive, where deletions are final for this tenant: a person decides',
};

async function arnOf(sqs: SQSClient, url: string): Promise<string> {
  const arn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }))).Attributes?.QueueArn;
  if (!arn) throw new Error(`cannot read the ARN of ${url}`);
  return arn;
}

/**
 * Moves a dead-letter queue's messages back to its work queue (SQS does the moving). The
 * destination is named: messages the writers dead-lettered at once were sent to the DLQ directly
 * and have no "original source" SQS could find by itself.
 */
export async function redrive(
  sqs: SQSClient,
  queues: { queue: string; dlq: string },
): Promise<{ deadLetters: number; taskHandle?: string; dlqArn: string }> {
  const dlqArn = await arnOf(sqs, queues.dlq);
  const { visible, inFlight } = await depth(sqs, queues.dlq);
  // An empty DLQ moves nothing: no task is started, so none is announced.
  if (visible + inFlight === 0) return { deadLetters: 0, dlqArn };
  const res = await sqs.send(new StartMessageMoveTaskCommand({ SourceArn: dlqArn, DestinationArn: await arnOf(sqs, queues.queue) }));
  return { deadLetters: visible + inFlight, taskHandle: res.TaskHandle ?? '', dlqArn };
}
