import * as z from 'zod';

/**
 * Pipedrive field definitions and values, resolved by name. Pure: no I/O. Given a company's field
 * definitions (v2 *Fields: field_code, field_name, field_type, options) and the values the tenant's
 * mapping produces by field *name*, this builds the v2 body parts typed per field type, or says
 * exactly which field drifted. And the reverse, for deals: typed values read from `custom_fields`.
 */

/** One field definition as the v2 *Fields endpoints return it (the parts we use). */
export const fieldDefinitionSchema = z.looseObject({
  field_code: z.string().min(1),
  field_name: z.string(),
  field_type: z.string(),
  is_custom_field: z.boolean().optional(),
  options: z
    .array(z.looseObject({ id: z.union([z.number().int(), z.string().regex(/^\d+$/u).transform(Number)]), label: z.string() }))
    .nullish()
    .transform((o) => o ?? []),
});
export type FieldDefinition = z.infer<typeof fieldDefinitionSchema>;

/** The definitions of a field list as Pipedrive answers it; one it cannot read is left out. */
export function parseFieldList(raw: readonly unknown[]): FieldDefinition[] {
  return raw.flatMap((f) => {
    const parsed = fieldDefinitionSchema.safeParse(f);
    return parsed.success ? [parsed.data] : [];
  });
}

/** A QAD value before it meets a field type. `null` / '' clear the field. */
export type SourceValue = string | number | boolean | null | readonly string[] | { amount: number; currency: string };

/** One mapped value: the Pipedrive field's name and the value from QAD. */
export interface NamedValue {
  name: string;
  value: SourceValue;
  /** QAD value -> option label, for enum and set fields. */
  labels?: Record<string, string> | undefined;
}

export type FieldProblemKind = 'field-missing' | 'field-ambiguous' | 'option-missing' | 'type-mismatch' | 'unsupported-type';

export interface FieldProblem {
  field: string;
  kind: FieldProblemKind;
  message: string;
}

export type TypedValue = string | number | number[] | { value: number; currency: string } | null;

export interface ResolvedFields {
  /** custom_fields: { "<40-char hash>": typed value } */
  custom: Record<string, TypedValue>;
  /** Standard fields mapped by name (e.g. "Job title" -> job_title), top level in the body. */
  standard: Record<string, TypedValue>;
  /** name -> field_code, for reports and audits. */
  codes: Record<string, string>;
}

export type Resolution = { ok: true; fields: ResolvedFields } | { ok: false; problems: FieldProblem[] };

/** Standard fields a mapping may write: plain text ones (others carry ids, arrays or structures the connector owns). */
const WRITABLE_STANDARD_TYPES = new Set(['varchar', 'text', 'varchar_auto']);
const TEXT_TYPES = new Set(['varchar', 'varchar_auto', 'text', 'phone']);
const MAX_VARCHAR = 255;
const DATE = /^\d{4}-\d{2}-\d{2}$/u;

/**
 * The field a name refers to: exactly one field with that name (custom fields first: a company may
 * have a custom "Currency" beside nothing standard of that name). Two custom fields with one name
 * cannot be told apart: that is a problem for a person, never a guess.
 */
export function findField(defs: readonly FieldDefinition[], name: string): { field: FieldDefinition } | { problem: FieldProblem } {
  const named = defs.filter((d) => d.field_name === name);
  const custom = named.filter((d) => d.is_custom_field !== false);
  const candidates = custom.length > 0 ? custom : named;
  if (candidates.length === 0) {
    const folded = defs.find((d) => d.field_name.trim().toLowerCase() === name.trim().toLowerCase());
    return {
      problem: {
        field: name,
        kind: 'field-missing',
        message: `no field named "${name}"${folded ? ` (there is "${folded.field_name}": names must match exactly)` : ''}`,
      },
    };
  }
  if (candidates.length > 1)
    return {
      problem: {
        field: name,
        kind: 'field-ambiguous',
        message: `${candidates.length} fields are named "${name}" (${candidates.map((c) => c.field_code).join(', ')}); rename one`,
      },
    };
  return { field: candidates[0]! };
}

function asText(value: Exclude<SourceValue, null>): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (Array.isArray(value)) return value.join(', ');
  const money = value as { amount: number; currency: string };
  return `${money.amount} ${money.currency}`;
}

function isEmpty(value: SourceValue): boolean {
  return value === null || (typeof value === 'string' && value.trim() === '') || (Array.isArray(value) && value.length === 0);
}

/** One value typed for one field, or why it cannot be. */
export function typeValue(
  field: FieldDefinition,
  value: SourceValue,
  labels: Record<string, string> = {},
): { ok: true; value: TypedValue } | { ok: false; problem: FieldProblem } {
  const name = field.field_name;
  const fail = (kind: FieldProblemKind, message: string) => ({ ok: false as const, problem: { field: name, kind, message } });
  if (isEmpty(value)) return { ok: true, value: null };
  const v = value as Exclude<SourceValue, null>;
  const optionId = (raw: string): number | undefined => {
    const label = labels[raw] ?? raw;
    return (
      field.options.find((o) => o.label === label)?.id ??
      field.options.find((o) => o.label.trim().toLowerCase() === label.trim().toLowerCase())?.id
    );
  };
  switch (field.field_type) {
    case 'varchar':
    case 'varchar_auto':
    case 'phone':
    case 'text': {
      const text = asText(v);
      if (field.field_type !== 'text' && text.length > MAX_VARCHAR)
        return fail('type-mismatch', `"${name}" holds at most ${MAX_VARCHAR} characters; the value has ${text.length}`);
      return { ok: true, value: text };
    }
    case 'double': {
      const n =
        typeof v === 'number'
          ? v
          : typeof v === 'string' && /^-?\d+(\.\d+)?$/u.test(v.trim())
            ? Number(v)
            : typeof v === 'object' && !Array.isArray(v)
              ? (v as { amount: number }).amount
              : Number.NaN;
      return Number.isFinite(n)
        ? { ok: true, value: n }
        : fail('type-mismatch', `"${name}" is a number field; ${JSON.stringify(v)} is not a number`);
    }
    case 'monetary': {
      if (typeof v === 'object' && !Array.isArray(v)) {
        const money = v as { amount: number; currency: string };
        if (Number.isFinite(money.amount) && /^[A-Z]{3}$/u.test(money.currency))
          return { ok: true, value: { value: money.amount, currency: money.currency } };
      }
      return fail('type-mismatch', `"${name}" is a monetary field; it needs an amount with a currency, not ${JSON.stringify(v)}`);
    }
    case 'date': {
      const text = typeof v === 'string' ? v.trim().slice(0, 10) : '';
      const valid = DATE.test(text) && new Date(`${text}T00:00:00Z`).toISOString().startsWith(text);
      return valid
        ? { ok: true, value: text }
        : fail('type-mismatch', `"${name}" is a date field; ${JSON.stringify(v)} is not a date YYYY-MM-DD`);
    }
    case 'enum': {
      if (Array.isArray(v)) return fail('type-mismatch', `"${name}" is a single-option field; it cannot hold ${v.length} values`);
      const raw = asText(v);
      const id = optionId(raw);
      return id === undefined ? fail('option-missing', `"${name}" has no option "${labels[raw] ?? raw}"`) : { ok: true, value: id };
    }
    case 'set': {
      const raws = Array.isArray(v)
        ? [...(v as readonly string[])]
        : asText(v)
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean);
      const ids: number[] = [];
      for (const raw of raws) {
        const id = optionId(raw);
        if (id === undefined) return fail('option-missing', `"${name}" has no option "${labels[raw] ?? raw}"`);
        if (!ids.includes(id)) ids.push(id);
      }
      return { ok: true, value: ids.length > 0 ? ids : null };
    }
    default:
      return fail('unsupported-type', `"${name}" is a ${field.field_type} field, which the connector does not map`);
  }
}

/**
 * Values by field name -> v2 body parts by field code. Every problem is reported (a drifted field
 * is never left out quietly): any problem means no body at all.
 */
export function resolveFields(defs: readonly FieldDefinition[], values: readonly NamedValue[]): Resolution {
  const problems: FieldProblem[] = [];
  const fields: ResolvedFields = { custom: {}, standard: {}, codes: {} };
  for (const { name, value, labels } of values) {
    const found = findField(defs, name);
    if ('problem' in found) {
      problems.push(found.problem);
      continue;
    }
    const { field } = found;
    const custom = field.is_custom_field !== false;
    if (!custom && !WRITABLE_STANDARD_TYPES.has(field.field_type)) {
      problems.push({
        field: name,
        kind: 'unsupported-type',
        message: `"${name}" is a standard ${field.field_type} field the connector keeps itself; map a custom field instead`,
      });
      continue;
    }
    const typed = typeValue(field, value, labels);
    if (!typed.ok) {
      problems.push(typed.problem);
      continue;
    }
    (custom ? fields.custom : fields.standard)[field.field_code] = typed.value;
    fields.codes[name] = field.field_code;
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, fields };
}

/** Only the fields' existence and kind (no values): what a poll checks before it enqueues. */
export function checkFieldsExist(defs: readonly FieldDefinition[], names: readonly string[]): FieldProblem[] {
  return names.flatMap((name) => {
    const found = findField(defs, name);
    if ('problem' in found) return [found.problem];
    if (found.field.is_custom_field === false && !WRITABLE_STANDARD_TYPES.has(found.field.field_type))
      return [
        {
          field: name,
          kind: 'unsupported-type' as const,
          message: `"${name}" is a standard ${found.field.field_type} field the connector keeps itself`,
        },
      ];
    if (
      found.field.is_custom_field !== false &&
      !TEXT_TYPES.has(found.field.field_type) &&
      !['double', 'monetary', 'date', 'enum', 'set'].includes(found.field.field_type)
    ) {
      return [
        {
          field: name,
          kind: 'unsupported-type' as const,
          message: `"${name}" is a ${found.field.field_type} field, which the connector does not map`,
        },
      ];
    }
    return [];
  });
}

/** Adds resolved fields to an entity's body: custom values beside the key field, standard ones at the top. */
export function withMappedFields<P extends { custom_fields?: Record<string, unknown> }>(payload: P, fields: ResolvedFields): P {
  if (Object.keys(fields.custom).length === 0 && Object.keys(fields.standard).length === 0) return payload;
  return { ...payload, ...fields.standard, custom_fields: { ...fields.custom, ...payload.custom_fields } };
}

/**
 * The reverse: a deal's typed custom field value read back as text for QAD (a date as YYYY-MM-DD,
 * an option id as its label, a set as its labels, money as its amount). An option id the field no
 * longer has is drift, like a missing field.
 */
export function readFieldValue(
  field: FieldDefinition,
  raw: unknown,
): { ok: true; value: string | undefined } | { ok: false; problem: FieldProblem } {
  const name = field.field_name;
  const fail = (kind: FieldProblemKind, message: string) => ({ ok: false as const, problem: { field: name, kind, message } });
  if (raw === null || raw === undefined || raw === '') return { ok: true, value: undefined };
  const label = (id: unknown) => field.options.find((o) => o.id === Number(id))?.label;
  switch (field.field_type) {
    case 'varchar':
    case 'varchar_auto':
    case 'text':
    case 'phone':
      return typeof raw === 'string'
        ? { ok: true, value: raw.trim() || undefined }
        : fail('type-mismatch', `"${name}" holds ${JSON.stringify(raw)}, not text`);
    case 'double':
      return typeof raw === 'number'
        ? { ok: true, value: String(raw) }
        : fail('type-mismatch', `"${name}" holds ${JSON.stringify(raw)}, not a number`);
    case 'monetary': {
      const money = z.looseObject({ value: z.number() }).safeParse(raw);
      return money.success
        ? { ok: true, value: String(money.data.value) }
        : fail('type-mismatch', `"${name}" holds ${JSON.stringify(raw)}, not an amount`);
    }
    case 'date':
      return typeof raw === 'string' && DATE.test(raw.slice(0, 10))
        ? { ok: true, value: raw.slice(0, 10) }
        : fail('type-mismatch', `"${name}" holds ${JSON.stringify(raw)}, not a date`);
    case 'enum': {
      const l = label(raw);
      return l === undefined
        ? fail('option-missing', `"${name}" holds option ${JSON.stringify(raw)}, which the field no longer has`)
        : { ok: true, value: l };
    }
    case 'set': {
      const ids = Array.isArray(raw) ? raw : String(raw).split(',');
      const labels = ids.map(label);
      const gone = ids.filter((_, i) => labels[i] === undefined);
      return gone.length > 0
        ? fail('option-missing', `"${name}" holds option ${gone.join(', ')}, which the field no longer has`)
        : { ok: true, value: labels.join(', ') };
    }
    default:
      return fail('unsupported-type', `"${name}" is a ${field.field_type} field, which the connector does not read`);
  }
}

/** Deal custom fields -> the values QAD receives, by the mapping's target; or the drift. */
export function readMappedValues<T extends string>(
  defs: readonly FieldDefinition[],
  customFields: Record<string, unknown>,
  entries: ReadonlyArray<{ qad: T; pipedrive: string }>,
): { ok: true; values: Partial<Record<T, string>>; codes: Record<string, string> } | { ok: false; problems: FieldProblem[] } {
  const problems: FieldProblem[] = [];
  const values: Partial<Record<T, string>> = {};
  const codes: Record<string, string> = {};
  for (const e of entries) {
    const found = findField(defs, e.pipedrive);
    if ('problem' in found) {
      problems.push(found.problem);
      continue;
    }
    codes[e.pipedrive] = found.field.field_code;
    const read = readFieldValue(found.field, found.field.is_custom_field === false ? undefined : customFields[found.field.field_code]);
    if (!read.ok) problems.push(read.problem);
    else if (read.value !== undefined) values[e.qad] = read.value;
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, values, codes };
}

/** One line naming every problem, for audits and errors. */
export function describeProblems(entity: string, problems: readonly FieldProblem[]): string {
  return (
    `${entity} field mapping drifted: ${problems.map((p) => `${p.message} [${p.kind}]`).join('; ')}; ` +
    `fix the field in Pipedrive or the tenant's mapping (mapping.fields.${entity})`
  );
}
