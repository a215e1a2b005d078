/** Small HTTP helpers and QAD error shapes shared by the simulator's routes. */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';

export interface RouteResult {
  status: number;
  body?: unknown; // serialised as JSON unless a string
  headers?: Record<string, string>;
}

/** Thrown by handlers to answer with a given status and body. */
export class SimHttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {
    super(`HTTP ${status}`);
  }
}

export interface ValidationErrorItem {
  fieldName: string;
  message: string;
  fieldValue: string;
  code: string;
}

/** QAD's generic error body: `{"errors":[{"severity":1,"code":"403","message":"..."}]}`. */
export function qadErrorBody(status: number, message: string): { errors: Array<{ severity: number; code: string; message: string }> } {
  return { errors: [{ severity: 1, code: String(status), message }] };
}

export function qadError(status: number, message: string, headers: Record<string, string> = {}): SimHttpError {
  return new SimHttpError(status, qadErrorBody(status, message), headers);
}

/** QAD's validation error: `{"submitResult":{"success":false,"errors":[...]}}`. */
export function validationError(errors: ValidationErrorItem[], status = 400): SimHttpError {
  return new SimHttpError(status, { submitResult: { success: false, errors } });
}

export function oauthError(status: number, error: string, description: string): SimHttpError {
  return new SimHttpError(status, { error, error_description: description });
}

export function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

export function send(res: ServerResponse, result: RouteResult): void {
  if (res.headersSent || res.destroyed) return;
  const headers: Record<string, string> = { ...(result.headers ?? {}) };
  let payload = '';
  if (typeof result.body === 'string') {
    payload = result.body;
  } else if (result.body !== undefined) {
    payload = JSON.stringify(result.body);
  }
  const hasType = Object.keys(headers).some((k) => k.toLowerCase() === 'content-type');
  if (!hasType && payload !== '') {
    headers['content-type'] = looksLikeJson(payload) ? 'application/json; charset=utf-8' : 'text/plain; charset=utf-8';
  }
  headers['content-length'] = String(Buffer.byteLength(payload));
  res.writeHead(result.status, headers);
  res.end(payload);
}

function looksLikeJson(s: string): boolean {
  try {
    JSON.parse(s);
    return true;
  } catch {
    return false;
  }
}

const MAX_BODY_BYTES = 1024 * 1024;

export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(qadError(413, 'Request body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * Matches a path against a route template whose `{name}` segments match one non-empty segment;
 * returns the decoded parameters, or undefined. A template without `{` matches only itself.
 */
export function matchPath(template: string, path: string): Record<string, string> | undefined {
  if (!template.includes('{')) return template === path ? {} : undefined;
  const t = template.split('/');
  const p = path.split('/');
  if (t.length !== p.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < t.length; i++) {
    const seg = t[i] ?? '';
    const actual = p[i] ?? '';
    const m = /^\{(\w+)\}$/.exec(seg);
    if (m?.[1] !== undefined) {
      if (actual === '') return undefined;
      try {
        params[m[1]] = decodeURIComponent(actual);
      } catch {
        return undefined;
      }
    } else if (seg !== actual) {
      return undefined;
    }
  }
  return params;
}

/** Parses a JSON request body that must be an object (400 in the submitResult shape otherwise). */
export function parseJsonObject(body: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw validationError([
      { fieldName: 'body', message: 'Request body is not valid JSON', fieldValue: body.slice(0, 100), code: 'INVALID_JSON' },
    ]);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw validationError([
      { fieldName: 'body', message: 'Request body must be a JSON object', fieldValue: body.slice(0, 100), code: 'INVALID_JSON' },
    ]);
  }
  return parsed as Record<string, unknown>;
}
