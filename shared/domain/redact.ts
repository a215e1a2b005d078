/** Field names whose values are secrets wherever they appear. */
const SECRET_NAME = /pass(word)?|secret|token|authorization|api[-_]?key|credential/iu;
const MAX_STRING = 1024;

/** An audit entry names at most this many fields (a bad row can have any number of columns). */
export const MAX_FIELDS = 200;

/**
 * The names of an object's fields, with its `custom_fields` spelled out (`custom_fields.<code>`): what an
 * audit entry may say about a record, never its values.
 */
export function fieldNames(value: unknown): string[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return [];
  return Object.entries(value as Record<string, unknown>)
    .flatMap(([name, v]) => (name === 'custom_fields' ? fieldNames(v).map((code) => `custom_fields.${code}`) : [name]))
    .slice(0, MAX_FIELDS);
}

/**
 * A copy that is safe to store in an audit entry: secret-named fields masked, long strings cut
 * (with their length), depth bounded. Audit entries must stay well under DynamoDB's 400 KB.
 */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 6) return '[nested too deep]';
  if (typeof value === 'string') return value.length > MAX_STRING ? `${value.slice(0, MAX_STRING)}… [${value.length} chars]` : value;
  if (Array.isArray(value)) return value.slice(0, 50).map((v) => redact(v, depth + 1));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .slice(0, 100)
        .map(([k, v]) => [k, SECRET_NAME.test(k) ? '[redacted]' : redact(v, depth + 1)]),
    );
  }
  return value;
}
