import * as z from 'zod';

/**
 * A small IAM policy evaluator for the local run: enough of AWS's evaluation logic to check each call a
 * function makes against its role's policies (and a KMS call against the key policy too), and no more.
 *
 * - Statements: Effect, Action, Resource, Condition, Sid, Principal (key policies). Anything else (NotAction,
 *   NotResource, NotPrincipal ...) is refused when the policy is read: an element the evaluator does not
 *   understand must never turn into an allow.
 * - Actions match case-insensitively, resources case-sensitively; both take `*` and `?` wildcards.
 * - An explicit Deny wins; otherwise some Allow must match; otherwise the call is implicitly denied.
 * - Conditions: StringEquals, StringNotEquals, StringEqualsIgnoreCase, StringLike, StringNotLike, Bool, Null,
 *   each optionally `...IfExists`. Keys in one operator are ANDed, values of one key ORed; a negated operator
 *   matches when the key is absent, as in AWS. Only the keys in CONDITION_KEYS are modelled; a policy that
 *   conditions on another key fails loudly when evaluated.
 */

const stringOrList = z.union([z.string(), z.array(z.string()).min(1)]);
const conditionValue = z.union([z.string(), z.boolean(), z.array(z.union([z.string(), z.boolean()])).min(1)]);
const principal = z.union([z.literal('*'), z.strictObject({ AWS: stringOrList.optional(), Service: stringOrList.optional() })]);

export const statementSchema = z.strictObject({
  Sid: z.string().optional(),
  Effect: z.enum(['Allow', 'Deny']),
  Action: stringOrList,
  Resource: stringOrList,
  Principal: principal.optional(),
  Condition: z.record(z.string(), z.record(z.string(), conditionValue)).optional(),
});
export type Statement = z.infer<typeof statementSchema>;

export const policyDocumentSchema = z.strictObject({
  Version: z.literal('2012-10-17'),
  Id: z.string().optional(),
  // One statement or a list; as a list, an unknown element is reported by name and position.
  Statement: z.preprocess((s) => (Array.isArray(s) ? s : [s]), z.array(statementSchema)),
});
export type PolicyDocument = z.infer<typeof policyDocumentSchema>;

/** A policy construct the evaluator does not model: the run stops rather than guess. */
export class PolicyNotUnderstood extends Error {
  override readonly name = 'PolicyNotUnderstood';
}

/** Reads a policy document; unknown elements fail here, naming the element. */
export function readPolicy(document: unknown, where: string): Statement[] {
  const parsed = policyDocumentSchema.safeParse(document);
  if (!parsed.success)
    throw new PolicyNotUnderstood(
      `${where}: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'policy'}: ${i.message}`).join('; ')}`,
    );
  return parsed.data.Statement;
}

/** The condition keys a request can carry here; `kms:EncryptionContext:<key>` stands for every context key. */
export const CONDITION_KEYS = ['kms:EncryptionContext:', 'kms:ViaService', 'kms:CallerAccount', 'aws:SecureTransport'] as const;

export interface IamRequest {
  /** `service:Operation`, e.g. `kms:Decrypt`. */
  action: string;
  /** The resource ARN the call acts on. */
  resource: string;
  /** Condition keys and their values; an absent key is absent from the request. */
  context: Readonly<Record<string, string>>;
  /** The calling principal (a role ARN); needed only for key policies. */
  principal?: string;
}

export type Decision = { allowed: true; statement: string } | { allowed: false; explicit: boolean; statement?: string };

/** `*` and `?` wildcards, as IAM reads them in actions, resources and StringLike values. */
export function wildcardMatch(pattern: string, value: string, ignoreCase = false): boolean {
  const source = pattern
    .replace(/[.+^${}()|[\]\\]/gu, '\\$&')
    .replace(/\*/gu, '.*')
    .replace(/\?/gu, '.');
  return new RegExp(`^${source}$`, ignoreCase ? 'iu' : 'u').test(value);
}

const list = (v: string | string[]): string[] => (Array.isArray(v) ? v : [v]);

function conditionKeyKnown(key: string): boolean {
  return CONDITION_KEYS.some((k) => (k.endsWith(':') ? key.startsWith(k) && key.length > k.length : key === k));
}

type Compare = (expected: string, actual: string) => boolean;
const OPERATORS: Record<string, { compare: Compare; negated: boolean }> = {
  StringEquals: { compare: (e, a) => e === a, negated: false },
  StringNotEquals: { compare: (e, a) => e === a, negated: true },
  StringEqualsIgnoreCase: { compare: (e, a) => e.toLowerCase() === a.toLowerCase(), negated: false },
  StringLike: { compare: (e, a) => wildcardMatch(e, a), negated: false },
  StringNotLike: { compare: (e, a) => wildcardMatch(e, a), negated: true },
  Bool: { compare: (e, a) => e.toLowerCase() === a.toLowerCase(), negated: false },
};

function conditionHolds(operator: string, key: string, values: string[], context: IamRequest['context'], where: string): boolean {
  if (!conditionKeyKnown(key)) throw new PolicyNotUnderstood(`${where}: condition key ${key} is not modelled by the local IAM`);
  const actual = context[key];
  if (operator === 'Null') return values.some((v) => (v.toLowerCase() === 'true') === (actual === undefined));
  const ifExists = operator.endsWith('IfExists');
  const op = OPERATORS[ifExists ? operator.slice(0, -'IfExists'.length) : operator];
  if (!op) throw new PolicyNotUnderstood(`${where}: condition operator ${operator} is not modelled by the local IAM`);
  if (actual === undefined) return ifExists || op.negated;
  const matched = values.some((v) => op.compare(v, actual));
  return op.negated ? !matched : matched;
}

function statementApplies(s: Statement, request: IamRequest, where: string): boolean {
  if (!list(s.Action).some((a) => wildcardMatch(a, request.action, true))) return false;
  if (!list(s.Resource).some((r) => wildcardMatch(r, request.resource))) return false;
  return Object.entries(s.Condition ?? {}).every(([operator, keys]) =>
    Object.entries(keys).every(([key, value]) =>
      conditionHolds(operator, key, (Array.isArray(value) ? value : [value]).map(String), request.context, where),
    ),
  );
}

/** Identity-based evaluation: explicit Deny, else any Allow, else implicit deny. */
export function evaluate(statements: readonly Statement[], request: IamRequest, where = 'policy'): Decision {
  const applying = statements.filter((s) => statementApplies(s, request, where));
  const deny = applying.find((s) => s.Effect === 'Deny');
  if (deny) return { allowed: false, explicit: true, statement: deny.Sid ?? 'Deny' };
  const allow = applying.find((s) => s.Effect === 'Allow');
  return allow ? { allowed: true, statement: allow.Sid ?? 'Allow' } : { allowed: false, explicit: false };
}

/**
 * How KMS combines its key policy with the caller's IAM policies: the key policy must allow the call,
 * either naming the principal (enough on its own) or naming the account root (which hands the decision
 * to the account's IAM policies, so those must allow it too). An explicit Deny in either wins.
 */
export function evaluateWithKeyPolicy(
  keyPolicy: readonly Statement[],
  identity: readonly Statement[],
  request: IamRequest & { principal: string; account: string },
): Decision {
  const root = `arn:aws:iam::${request.account}:root`;
  const names = (s: Statement, who: string) =>
    s.Principal === '*' ||
    (s.Principal !== undefined && list(s.Principal.AWS ?? []).some((p) => p === '*' || p === who || p === request.account));
  const forCaller = keyPolicy.filter((s) => names(s, request.principal));
  const forAccount = keyPolicy.filter((s) => names(s, root) && !forCaller.includes(s));
  const direct = evaluate(forCaller, request, 'key policy');
  const viaAccount = evaluate(forAccount, request, 'key policy');
  const iam = evaluate(identity, request, 'role policy');
  for (const d of [direct, viaAccount, iam]) if (!d.allowed && d.explicit) return d;
  if (direct.allowed) return direct;
  if (viaAccount.allowed && iam.allowed) return iam;
  return { allowed: false, explicit: false };
}
