/** Error responses in Pipedrive's v2 shapes, thrown by handlers and rendered by the server. */

export class SimHttpError extends Error {
  readonly status: number;
  readonly body: Record<string, unknown>;
  constructor(status: number, body: Record<string, unknown>) {
    super(typeof body['error'] === 'string' ? body['error'] : `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

/** 400 `{"success":false,"error":"Validation failed: ...","code":"ERR_SCHEMA_VALIDATION_FAILED"}` */
export function validationError(what: string): SimHttpError {
  return new SimHttpError(400, { success: false, error: `Validation failed: ${what}`, code: 'ERR_SCHEMA_VALIDATION_FAILED' });
}

/** 404 for an unknown record id (shape: v2 error fields plus the spec's `error_info`). */
export function notFound(label: string): SimHttpError {
  return new SimHttpError(404, {
    success: false,
    error: `${label} not found`,
    code: 'ERR_NOT_FOUND',
    error_info: 'Object was not found.',
    data: null,
    additional_data: null,
  });
}

/** 410 for a record merged into another (the reference's "merged-away record answers 410"). */
export function gone(label: string): SimHttpError {
  return new SimHttpError(410, { success: false, error: `${label} was merged into another and is gone`, code: 'ERR_GONE', data: null });
}

export const UNAUTHORIZED_BODY = { success: false, error: 'unauthorized access', errorCode: 401 } as const;
export const OVER_LIMIT_BODY = { success: false, error: 'Request over limit', errorCode: 429 } as const;

/** RFC 3339 without milliseconds, as Pipedrive prints times: 2025-01-01T10:20:00Z */
export function rfc3339(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** Parses an RFC 3339 timestamp to ms, or throws a validation error naming `param`. */
export function parseRfc3339(value: string, param: string): number {
  const ms = RFC3339.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms)) throw validationError(`${param} must be an RFC 3339 date-time, e.g. 2025-01-01T10:20:00Z`);
  return ms;
}

/** base64url-encoded JSON, as Pipedrive's opaque cursors look. */
export function encodeCursor(value: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw validationError('cursor is invalid');
}
