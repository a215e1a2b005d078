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
