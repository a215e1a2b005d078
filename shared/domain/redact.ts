/** Field names whose values are secrets wherever they appear. */
const SECRET_NAME = /pass(word)?|secret|token|authorization|api[-_]?key|credential/iu;
const MAX_STRING = 1024;

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
