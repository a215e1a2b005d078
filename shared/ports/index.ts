/**
 * The outside world as the flows see it. AWS adapters implement these in production and in the
 * local run; unit tests implement them in memory.
 */
import type { KeyMapState, NameCandidate } from '../domain/upsert-decision.ts';
import type { SecretSystem, StoredTenant } from '../config/tenant.ts';
import type { DeadLetterCause } from '../domain/errors.ts';
import type { PipedriveClient } from './pipedrive.ts';
import type { QadClient } from './qad.ts';

/**
 * A flow's name in messages, the key map, holds and the audit: `organization`, `person`, `product`,
 * `salesOrder`, or any other the entity registry (shared/flows/registry.ts) holds.
 */
export type EntityName = string;

/** A connections item whose stored config no longer validates (edited by hand, an older shape): skipped by list. */
export interface InvalidTenantItem {
  tenantId: string;
  reason: string;
}

export interface TenantStore {
  /** Every tenant whose item validates: one bad item never hides the others. */
  list(): Promise<StoredTenant[]>;
  listEnabled(): Promise<StoredTenant[]>;
  /** The items list skips, with why. */
  listInvalid(): Promise<InvalidTenantItem[]>;
  get(tenantId: string): Promise<StoredTenant | undefined>;
  put(tenant: StoredTenant): Promise<void>;
}

/** Encrypts with a context that binds tenant and system, as KMS does. */
export interface Cipher {
  encrypt(plaintext: string, context: { tenantId: string; system: SecretSystem }): Promise<string>;
  decrypt(ciphertext: string, context: { tenantId: string; system: SecretSystem }): Promise<string>;
}

export interface KeyMapEntry extends KeyMapState {
  qadKey: string;
  /** A bad QAD row's hash, so the poller does not re-audit the same bad row every cycle. */
  rejectedHash?: string;
  /** When a full read last found the record gone from QAD (audited once; Pipedrive keeps it). */
  goneAt?: string;
  /** The other side's reference where it is not a Pipedrive id: a QAD sales order number. */
  ref?: string;
  rejectedAt?: string;
  /**
   * Fingerprints of the notes already left on the Pipedrive record (a rejected deal's reasons): each is left once. Also
   * the marks of notes sent whose answer has not come (`pendingNoteMark`): never a fingerprint, so never read as one.
   */
  noted?: string[];
}

/** What a completed write records: the Pipedrive id, the content hash written, and the other side's reference. */
export interface WrittenState {
  pipedriveId: number;
  contentHash: string;
  ref?: string;
}

/**
 * The entry a claim hands its writer: undefined for a key that holds nothing but leases. A rejection counts: the
 * writer of a rejected deal must see it, or every copy of the message sends QAD the order again.
 */
export function knownEntry(entry: KeyMapEntry): KeyMapEntry | undefined {
  const known =
    entry.pipedriveId !== undefined ||
    entry.pendingCreateAt !== undefined ||
    entry.contentHash !== undefined ||
    entry.rejectedHash !== undefined;
  return known ? entry : undefined;
}

/**
 * Held: until when, and by whom (the holder's owner string, when known). Claimed: the entry, and `holdMarks` when
 * the record was held for a person (markHeld): its writer then clears those holds once it is written.
 */
export type ClaimOutcome =
  | { held: false; entry: KeyMapEntry | undefined; holdMarks?: number; pendingSince?: string }
  | { held: true; until: number; owner?: string };

/**
 * A claim of a record its writer expects to create: `pendingCreateAt` marks the create pending in the claim's own
 * write when the record has neither a Pipedrive id nor a pending create (then ClaimOutcome's `pendingSince` says so,
 * and `entry` is the record as it was before); otherwise it is an ordinary claim.
 */
export interface ClaimOptions {
  pendingCreateAt?: string;
}

/** Tenant + entity + QAD key -> Pipedrive id and content hash, with a per-record claim. */
export interface KeyMap {
  getMany(tenantId: string, entity: EntityName, qadKeys: readonly string[]): Promise<Map<string, KeyMapEntry>>;
  /** getMany for several entities in one read (a writer batch's records and the organizations its persons need): one answer per want. */
  getAcross(
    tenantId: string,
    wants: ReadonlyArray<{ entity: EntityName; qadKeys: readonly string[] }>,
  ): Promise<Array<Map<string, KeyMapEntry>>>;
  /** Conditional write: succeeds when nobody holds the record, or the holder's lease ran out. */
  claim(
    tenantId: string,
    entity: EntityName,
    qadKey: string,
    owner: string,
    leaseMs: number,
    nowMs: number,
    options?: ClaimOptions,
  ): Promise<ClaimOutcome>;
  markPendingCreate(tenantId: string, entity: EntityName, qadKey: string, owner: string, at: string): Promise<void>;
  /** Pipedrive refused the create outright (429, 4xx): there is nothing to recover. */
  clearPendingCreate(tenantId: string, entity: EntityName, qadKey: string, owner: string): Promise<void>;
  /** Records the written state and releases the claim, in one conditional write. */
  complete(tenantId: string, entity: EntityName, qadKey: string, owner: string, state: WrittenState): Promise<void>;
  /** Forgets a Pipedrive id that no longer exists there. */
  forgetPipedriveId(tenantId: string, entity: EntityName, qadKey: string, owner: string): Promise<void>;
  /** Ends the owner's claim; `pendingCreate`: also the pending create its claim marked and never sent. */
  release(tenantId: string, entity: EntityName, qadKey: string, owner: string, options?: { pendingCreate?: boolean }): Promise<void>;
  markRejected(tenantId: string, entity: EntityName, qadKey: string, hash: string, at?: string): Promise<void>;
  /** Records rejected with a reason that may be fixed later (for a deal: an unlinked organization). */
  listRejected(tenantId: string, entity: EntityName): Promise<KeyMapEntry[]>;
  /** Which QAD key owns a Pipedrive record; claiming it makes sure two QAD records never share one. */
  claimPipedriveRecord(tenantId: string, entity: EntityName, pipedriveId: number, qadKey: string): Promise<{ owner: string }>;
  ownersOf(tenantId: string, entity: EntityName, pipedriveIds: readonly number[]): Promise<Map<number, string>>;
  /**
   * Records whose last write did not complete and that nothing else will send again: a create left pending
   * (its outcome unknown), or a Pipedrive id without a content hash; nobody's claim running now, rejected rows
   * excluded. The poll's reconciliation reads them again. A key with neither id nor hash is not listed: it is on
   * a queue, held, or dead-lettered for a person, and reconciling it would re-dead-letter it every time.
   */
  listIncomplete(tenantId: string, entity: EntityName, nowMs: number): Promise<KeyMapEntry[]>;
  /** Every mapped record of an entity, for the full-read reconciliation. */
  listMapped(tenantId: string, entity: EntityName): Promise<KeyMapEntry[]>;
  markGone(tenantId: string, entity: EntityName, qadKey: string, at: string): Promise<void>;
  /**
   * Remembers that a note with this fingerprint was left on the record (`noted`); kept through later writes. With
   * `owner`, only while that delivery still holds the record's claim (ClaimHeldError once another took it over).
   */
  markNoted(tenantId: string, entity: EntityName, qadKey: string, noteHash: string, owner?: string): Promise<void>;
  /** Counts a hold of the record for a person (after the hold is stored): its claims answer the count (holdMarks). */
  markHeld(tenantId: string, entity: EntityName, qadKey: string): Promise<void>;
  /** The record's holds are cleared: forgets the count, unless it moved on from `seen` (held again meanwhile). */
  clearHeld(tenantId: string, entity: EntityName, qadKey: string, seen: number): Promise<void>;
}

/** Matches by QAD key and by match token, as a listing of Pipedrive records yields them. */
export interface ListingMatches {
  byKey: Map<string, number[]>;
  byToken: Map<string, NameCandidate[]>;
}

/** What a listing knows of one QAD record: the records carrying its key, and the candidates per token. */
export interface ListingLookup {
  byKey: number[];
  byToken: Map<string, NameCandidate[]>;
}

/** One record's question to the listing: its QAD key and its match tokens. */
export interface ListingQuery {
  qadKey: string;
  tokens: readonly string[];
}

/** A poll's end state: the watermark it reached and when it ran. */
export type FinishedPoll = PollState & { watermark: string; lastPolledAt: string };

/**
 * A first sync's single listing of Pipedrive, held as matches by QAD key and by match token
 * (a normalised name, an email within an organization: whatever the entity matches on).
 */
export interface ListingIndex {
  meta(tenantId: string, entity: EntityName): Promise<{ listedAt: string; records: number } | undefined>;
  save(tenantId: string, entity: EntityName, listing: ListingMatches, listedAt: string): Promise<void>;
  lookup(tenantId: string, entity: EntityName, qadKey: string, tokens: readonly string[]): Promise<ListingLookup>;
  /** `lookup` for several records at once (a writer batch's), in as few requests as the store allows; by QAD key. */
  lookupMany(tenantId: string, entity: EntityName, queries: readonly ListingQuery[]): Promise<Map<string, ListingLookup>>;
  /**
   * Forgets one record (an erasure request): its QAD key's entry and every candidate that is it (by key value
   * or by its Pipedrive ids). Answers how many entries went.
   */
  erase(tenantId: string, entity: EntityName, qadKey: string, pipedriveIds: readonly number[]): Promise<number>;
}

export interface PollState {
  watermark?: string;
  lastPolledAt?: string;
  /** When the last full read (no changed-since filter) finished: the daily reconciliation. */
  fullReadAt?: string;
}

/** Watermarks and leases per tenant and scope (an entity's poll, or a one-off like creating a field). */
export interface PollStateStore {
  get(tenantId: string, scope: string): Promise<PollState>;
  /** One holder at a time, even when a schedule fires while the last run is still going. */
  acquire(tenantId: string, scope: string, owner: string, leaseMs: number, nowMs: number): Promise<boolean>;
  /** Advances the watermark and releases the lease. */
  finish(tenantId: string, scope: string, owner: string, state: FinishedPoll): Promise<void>;
  release(tenantId: string, scope: string, owner: string): Promise<void>;
}

export type AuditAction =
  | 'created'
  | 'updated'
  | 'unchanged'
  | 'deferred'
  | 'failed'
  | 'rejected'
  | 'conflict'
  | 'skipped'
  | 'polled'
  | 'field-created'
  | 'drift'
  | 'drift-cleared'
  | 'written-back'
  | 'noted'
  | 'erased';

export interface AuditEntry {
  tenantId: string;
  entity: EntityName;
  key: string;
  action: AuditAction;
  reason?: string;
  pipedriveId?: number;
  attempt?: number;
  messageId?: string;
  /** The content hash of the record as it was handled: enough to tell two versions apart, nothing of its content. */
  contentHash?: string;
  /** The names of the fields written (or, for a bad row, the fields it had): never their values. */
  fields?: string[];
  /** Flat facts an operator needs that are not record content (a drifted field's name, how many records wait). */
  detail?: AuditDetail;
  error?: string;
}

/**
 * What an audit entry may carry beyond its key and outcome. Never a record or any of its values: the audit
 * outlives the records (90 days) and must not become a second copy of people's e-mails and phone numbers.
 */
export type AuditDetail = Record<string, string | number | boolean>;

/** An entry with the time it was decided (ISO), for entries written later than they were decided. */
export type TimedAuditEntry = AuditEntry & { at: string };

export interface AuditLog {
  record(entry: AuditEntry): Promise<void>;
  /** Entries decided earlier, each at its own time, in as few requests as the store allows (a writer's batch at its end). */
  recordAll(entries: readonly TimedAuditEntry[]): Promise<void>;
  history(tenantId: string, entity: EntityName, key: string): Promise<TimedAuditEntry[]>;
  /** A tenant's entries in [from, to), oldest first (ISO times). */
  byTenant(tenantId: string, from: string, to: string): Promise<TimedAuditEntry[]>;
  /**
   * Deletes a record's history (an erasure request), all but the entries of earlier erasures, which hold no
   * data and show that it was done; answers how many entries went.
   */
  erase(tenantId: string, entity: EntityName, key: string): Promise<number>;
}

/** The message a poller enqueues for a writer (its versions: shared/flows/record-message.ts). */
export interface RecordMessage {
  v: 2;
  tenantId: string;
  entity: EntityName;
  key: string;
  hash: string;
  record: unknown;
  pollId: string;
  /** When it was first queued (ISO); absent on messages a release before 0.2.0 queued. */
  queuedAt?: string;
  /**
   * Sent because someone changed Pipedrive under it (its record deleted or merged there, an operator's replay or
   * settled choice): matched against Pipedrive's changes read after its batch began, not a read up to a minute old.
   */
  rematch?: true;
}

export interface RecordQueue {
  /** Sends every message or throws: the caller advances its watermark only after this resolves. */
  sendAll(messages: readonly RecordMessage[]): Promise<void>;
}

/** A dead-letter queue as an erasure sees it. */
export interface DeadLetters {
  /** Deletes the dead letters whose body `match` picks, leaves the others as they were; answers how many went. */
  erase(match: (body: string) => boolean): Promise<number>;
  /** Every dead letter, left where it was: its body, and the writer's reason and cause (none when SQS moved it). */
  read(): Promise<DeadLetter[]>;
}

export interface DeadLetter {
  body: string;
  reason?: string;
  cause?: string;
}

/** What a message sent again carries: its failed attempts at the outside system, and how often it waited for another record. */
export interface RetryCounts {
  failedAttempts: number;
  dependencyWaits: number;
}

export interface MessageControl {
  /** How long until this receive of the message becomes visible again. */
  setVisibility(receiptHandle: string, seconds: number): Promise<void>;
  /**
   * Sends the body again as a new message, delivered after `delaySeconds` (SQS allows at most 900), carrying how
   * many real attempts at the outside system have failed so far. A wait sent this way spends no receive count.
   */
  requeue(body: string, delaySeconds: number, counts: RetryCounts): Promise<void>;
  /** Moves a message to the dead-letter queue at once, with why (a permanent error, or its retry budget spent). */
  deadLetter(body: string, reason: string, cause: DeadLetterCause): Promise<void>;
}

/** Time as the flows see it: injected, so tests wait out leases and backoffs without waiting. */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

/** Counts and logs what the flows decide; Powertools in Lambda, a recorder in tests. */
export interface Telemetry {
  /** One record's outcome (created, updated, unchanged, deferred, failed ...). */
  recordOutcome(tenantId: string, entity: EntityName, outcome: string): void;
  /** A record moved to a dead-letter queue at once (a permanent error). */
  deadLettered(tenantId: string, entity: EntityName): void;
  /** A tenant waits for a person to re-authorise Pipedrive: counted on park and on every skipped poll. */
  tenantParked(tenantId: string): void;
  /** A mapped Pipedrive field drifted and the entity's writes are held. */
  fieldDrift(tenantId: string, fieldEntity: string): void;
  /** A tenant's poll failed and caught it (the function itself succeeds): the alarm's only signal. */
  pollFailed(tenantId: string, entity: EntityName): void;
  /** A tenant's Pipedrive daily token budget is spent and its gate closed. */
  budgetGateClosed(tenantId: string): void;
  /** A won deal could not become a QAD order (a person must act on its reason). */
  dealRejected(tenantId: string): void;
  /** The webhook endpoint's answer; a 401 is counted without the (caller-chosen) tenant, and alarmed on a burst. */
  webhookAnswered(status: number, tenantId?: string): void;
  info(message: string, attributes?: Record<string, unknown>): void;
  warn(message: string, attributes?: Record<string, unknown>): void;
}

/** Each tenant's clients of QAD and Pipedrive, built once per container with its decrypted secrets. */
export interface TenantClients {
  qad(tenant: StoredTenant): Promise<QadClient>;
  pipedrive(tenant: StoredTenant): Promise<PipedriveClient>;
}

/** A tenant's Pipedrive OAuth tokens as ciphertext, versioned so that writes can be conditional. */
export interface StoredOAuthTokens {
  version: number;
  ciphertext: string;
  /** While one writer refreshes (ms epoch): the others wait for the next version instead of refreshing too. */
  refreshingUntil?: number;
}

export interface OAuthTokenStore {
  get(tenantId: string): Promise<StoredOAuthTokens | undefined>;
  /** Conditional write: the refresh lease on `version`, unless that version is gone or another holder's lease still runs. */
  beginRefresh(tenantId: string, version: number, owner: string, leaseMs: number, nowMs: number): Promise<boolean>;
  /** Conditional write: stores version + 1 only while `expectedVersion` is the stored one (undefined: none yet); ends the lease. */
  save(tenantId: string, expectedVersion: number | undefined, ciphertext: string): Promise<boolean>;
}

/**
 * A tenant-wide wait after a Pipedrive 429 of the burst window, shared by every container: Pipedrive counts
 * the company's calls, not one container's, so after a 429 none of them calls before the reset it named.
 */
export interface BurstPauses {
  /** Until when (epoch ms) the tenant's Pipedrive calls wait; 0 when nothing was recorded. */
  until(tenantId: string): Promise<number>;
  /** Records a wait until `untilMs`; a later one already recorded stays. */
  pause(tenantId: string, untilMs: number): Promise<void>;
}

/** Why a tenant's Pipedrive work waits: a person must re-authorise, or the daily token budget is spent until a reset. */
export type TenantHold = { kind: 'parked'; reason: string; since: string } | { kind: 'budget'; untilMs: number; reason: string };

/** A Pipedrive record a person chooses between (an ambiguous match, a possible duplicate): its id and name, for a link. */
export interface HoldCandidate {
  id: number;
  name: string;
}

/** What a hold for a person says beside its cause: why in words, and the Pipedrive records it is about. */
export interface HoldDetail {
  reason: string;
  candidates?: HoldCandidate[];
}

/**
 * A message kept in DynamoDB instead of on its queue. `messageId` is the hold's id: the message's own for a
 * hold of the tenant or a field (many messages, released by their cause), or `recordHoldId(...)` for a record
 * held for a person (one per record and cause, whatever message brought it).
 */
export interface HeldMessage extends Partial<HoldDetail> {
  messageId: string;
  body: string;
  cause: string;
}

/** The hold id of a record held for a person under `cause`: one per record and cause. */
export const recordHoldId = (entity: EntityName, key: string, cause: string): string => `${recordHoldPrefix(entity, key)}${cause}`;
/** What every hold id of one record held for a person starts with (the key encoded: it may contain '#'). */
export const recordHoldPrefix = (entity: EntityName, key: string): string => `r#${entity}#${encodeURIComponent(key)}#`;

export interface TenantHolds {
  /** The hold in force now, if any (parked wins over a budget gate). */
  current(tenantId: string, nowMs: number): Promise<TenantHold | undefined>;
  /** Answers true when the tenant was not parked before (so the caller audits and alarms once). */
  park(tenantId: string, reason: string, at: string): Promise<boolean>;
  unpark(tenantId: string): Promise<void>;
  closeBudgetGate(tenantId: string, untilMs: number, reason: string): Promise<void>;
  /**
   * Keeps a message body until release instead of on the queue, under the hold id `messageId` (see HeldMessage);
   * the same id again overwrites. `cause` says what it waits for ('parked', 'drift:<entity>', 'ambiguous:<entity>'
   * ...). Answers true when nothing was held under that id before (so the caller audits a problem once).
   */
  hold(tenantId: string, messageId: string, body: string, cause?: string, detail?: HoldDetail): Promise<boolean>;
  /** The holds of one record held for a person (hold ids starting with recordHoldPrefix), whatever their cause. */
  heldRecord(tenantId: string, entity: EntityName, key: string): Promise<HeldMessage[]>;
  /** Held messages, all of them or only those held for one cause. */
  held(tenantId: string, cause?: string): Promise<HeldMessage[]>;
  release(tenantId: string, messageId: string): Promise<void>;
}
