/**
 * Pipedrive as the flows see it: the client interface and the shapes it answers with. The HTTP
 * client in shared/clients/pipedrive-client.ts implements it; tests may implement it in memory.
 */

/** Pipedrive's custom-field entities (its `…Fields` endpoints). */
export type PipedriveFieldEntity = 'organization' | 'person' | 'product' | 'deal';
/** Pipedrive's API collections the connector reads and writes. */
export type PipedriveCollection = 'organizations' | 'persons' | 'products' | 'deals';

/** A record as any list, get, create or update returns it; entities read their own extra fields. */
export interface RemoteRecord {
  id: number;
  name: string;
  update_time?: string | null | undefined;
  custom_fields: Record<string, unknown>;
  [field: string]: unknown;
}

export interface PipedriveField {
  field_code: string;
  field_name: string;
  field_type: string;
  is_custom_field?: boolean | undefined;
  [attribute: string]: unknown;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | undefined;
}

export interface SearchHit {
  id: number;
  name: string;
  customFieldValues: string[];
  /** The whole search item, for entity-specific fields (emails, organization, code). */
  item: Record<string, unknown>;
}

export interface SearchQuery {
  term: string;
  fields: string;
  organizationId?: number;
  /** false: every record containing the term, to be compared by the caller; default true (whole value, case-insensitive). */
  exactMatch?: boolean;
}

export interface PipedriveCallInfo {
  endpoint: string;
  status: number;
  ms: number;
}

/** What the last answer said of the company's limits (daily-budget headers are not documented; read if sent). */
export interface RateLimitInfo {
  burstLimit?: number;
  burstRemaining?: number;
  /** By fresh figures, this client's calls were nearly all the company's in the window, and many: the others are idle. */
  burstAlone?: boolean;
  dailyLimit?: number;
  dailyRemaining?: number;
}

/** A webhook as `GET /v1/webhooks` lists it (Pipedrive never returns the Basic password). */
export interface PipedriveWebhook {
  id: number;
  subscription_url: string;
  event_action: string;
  event_object: string;
  version?: string | null | undefined;
  http_auth_user?: string | null | undefined;
  [attribute: string]: unknown;
}

/** What `POST /v1/webhooks` takes to create a webhooks v2 subscription. */
export interface NewWebhook {
  subscription_url: string;
  event_action: string;
  event_object: string;
  version: '2.0';
  http_auth_user: string;
  http_auth_password: string;
}

/**
 * A POST the caller's claim covers: not sent (a ClaimHeldError, nothing created) when waiting for a burst slot took
 * longer than `sendWithinMs` from the call, since one sent once the claim may have lapsed could be carried out twice.
 */
export interface SendWithin {
  sendWithinMs?: number;
}

export interface PipedriveClient {
  list(
    collection: PipedriveCollection,
    opts?: { cursor?: string; updatedSince?: string; newestFirst?: boolean; status?: 'won'; ids?: readonly number[] },
  ): Promise<Page<RemoteRecord>>;
  get(collection: PipedriveCollection, id: number): Promise<RemoteRecord>;
  /** Lines of up to 100 deals in one call (10 tokens), following the cursor. */
  dealProducts(dealIds: readonly number[]): Promise<unknown[]>;
  /** `sendWithinMs`: see SendWithin. */
  create(collection: PipedriveCollection, body: unknown, options?: SendWithin): Promise<RemoteRecord>;
  update(collection: PipedriveCollection, id: number, body: unknown): Promise<RemoteRecord>;
  /** Search, every page of hits: exact (whole value, case-insensitive) unless `exactMatch` is false. */
  search(collection: PipedriveCollection, query: SearchQuery): Promise<SearchHit[]>;
  listFields(entity: PipedriveFieldEntity): Promise<PipedriveField[]>;
  createField(
    entity: PipedriveFieldEntity,
    def: { field_name: string; field_type: string; options?: Array<{ label: string }> },
  ): Promise<PipedriveField>;
  /** The Pipedrive company of the credentials' user (`GET /v1/users/me`). */
  companyId(): Promise<number>;
  /** The company's webhooks the user may see (`GET /v1/webhooks`; admin scope with OAuth). */
  listWebhooks(): Promise<PipedriveWebhook[]>;
  createWebhook(def: NewWebhook): Promise<PipedriveWebhook>;
  deleteWebhook(id: number): Promise<void>;
  /**
   * Adds a note (HTML) to a deal: v1 `POST /notes`, 10 tokens (Pipedrive has no v2 notes endpoint); answers its id.
   * `sendWithinMs`: see SendWithin.
   */
  addNote(note: { dealId: number; content: string }, options?: SendWithin): Promise<{ id: number }>;
  /** A deal's notes (v1 `GET /notes?deal_id=`, 20 tokens): only to settle a note whose answer was lost. */
  dealNotes(dealId: number): Promise<Array<{ id: number; content: string }>>;
  /** The company's limits as the last answer reported them. */
  rateLimits(): RateLimitInfo;
  /** The OAuth scopes the tenant's authorisation granted; undefined with an API token (a user's own rights). */
  grantedScopes(): Promise<string[] | undefined>;
}
