/**
 * Notes: Pipedrive has them in API v1 only (`POST /api/v1/notes`, 10 tokens, scope deals:full or contacts:full;
 * reference/pipedrive.md and its v1 spec). The v2 extract does not hold them, so the operation is written out here
 * from the v1 spec's `addNote`: a body with `content` (HTML) and the record it is attached to.
 */
import type { EntityRuntime, Envelope, HandlerContext } from './handlers.ts';
import { rfc3339, validationError } from './http.ts';
import type { ExtractOperation } from './spec.ts';

export const ADD_NOTE: ExtractOperation = {
  method: 'POST',
  path: '/notes',
  operationId: 'addNote',
  tokenCost: 10,
  scopes: ['deals:full', 'contacts:full'],
  requestBody: {
    required: true,
    schema: {
      type: 'object',
      required: ['content'],
      additionalProperties: true,
      properties: {
        content: { type: 'string' },
        lead_id: { type: 'string' },
        deal_id: { type: 'integer' },
        person_id: { type: 'integer' },
        org_id: { type: 'integer' },
        project_id: { type: 'integer' },
        task_id: { type: 'integer' },
        user_id: { type: 'integer' },
      },
    },
  },
  responses: {
    '200': {
      type: 'object',
      properties: {
        success: { type: 'boolean' },
        data: { type: 'object', properties: { id: { type: 'integer' }, deal_id: { type: 'integer' }, content: { type: 'string' } } },
      },
    },
  },
};

const int = (name: string) => ({ name, in: 'query', required: false, commaSeparated: false, schema: { type: 'integer' } });

export const GET_NOTES: ExtractOperation = {
  method: 'GET',
  path: '/notes',
  operationId: 'getNotes',
  tokenCost: 20,
  scopes: ['deals:read', 'deals:full', 'contacts:read', 'contacts:full'],
  parameters: [int('deal_id'), int('org_id'), int('person_id'), int('start'), int('limit')],
  responses: { '200': { type: 'object', properties: { success: { type: 'boolean' }, data: { type: ['array', 'null'] } } } },
};

/** The v1 operations the simulator serves, by "METHOD /path" relative to /api/v1. */
export const V1_OPERATIONS: readonly ExtractOperation[] = [ADD_NOTE, GET_NOTES];

export interface SimNote {
  id: number;
  content: string;
  deal_id: number | null;
  org_id: number | null;
  person_id: number | null;
  add_time: string;
}

const TARGETS = ['deal_id', 'lead_id', 'person_id', 'org_id', 'project_id', 'task_id'] as const;

export class NoteStore {
  private readonly notes: SimNote[] = [];

  all(): SimNote[] {
    return this.notes.map((n) => ({ ...n }));
  }

  /** `GET /v1/notes`: filtered by deal, organization or person; `data` is null when there are none, as v1 answers. */
  list(params: Record<string, unknown>): Envelope {
    const matching = this.notes.filter((n) =>
      (['deal_id', 'org_id', 'person_id'] as const).every((f) => params[f] === undefined || n[f] === params[f]),
    );
    const start = typeof params['start'] === 'number' ? params['start'] : 0;
    const limit = typeof params['limit'] === 'number' ? params['limit'] : 100;
    if (limit < 1 || limit > 500) throw validationError('limit must be between 1 and 500');
    const page = matching.slice(start, start + limit).map((n) => ({ ...n }));
    const more = start + limit < matching.length;
    return {
      success: true,
      data: page.length > 0 ? page : null,
      additional_data: { pagination: { start, limit, more_items_in_collection: more, ...(more && { next_start: start + limit }) } },
    };
  }

  /** `POST /v1/notes`: content and one record to attach it to, which must exist. */
  add(body: Record<string, unknown>, deals: EntityRuntime<object>, ctx: HandlerContext): Envelope {
    const content = body['content'];
    if (typeof content !== 'string' || content.trim() === '') throw validationError('content must be a non-empty string');
    if (!TARGETS.some((t) => body[t] !== undefined && body[t] !== null)) throw validationError(`one of ${TARGETS.join(', ')} is required`);
    const dealId = typeof body['deal_id'] === 'number' ? body['deal_id'] : null;
    if (dealId !== null && deals.store.get(dealId) === undefined) throw validationError(`deal ${dealId} does not exist`);
    const note: SimNote = {
      id: this.notes.length + 1,
      content,
      deal_id: dealId,
      org_id: typeof body['org_id'] === 'number' ? body['org_id'] : null,
      person_id: typeof body['person_id'] === 'number' ? body['person_id'] : null,
      add_time: rfc3339(ctx.nowMs),
    };
    this.notes.push(note);
    return { success: true, data: { ...note } };
  }
}
