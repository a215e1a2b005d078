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

/** The v1 operations the simulator serves, by "METHOD /path" relative to /api/v1. */
export const V1_OPERATIONS: readonly ExtractOperation[] = [ADD_NOTE];

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
