import * as z from 'zod';
import { cleanText, textProblem } from './text.ts';

/** A QAD customer as the rest of the connector sees it: parsed, cleaned, and keyed by its code. */
export interface Customer {
  code: string;
  name: string;
  currency: string;
  creditTerms: string;
  site: string;
  creditLimit: number | null;
  address: { line1: string; line2: string; line3: string; city: string; state: string; zip: string; country: string };
  phone: string;
  email: string;
  modDate: string;
  /** Sales region (`cm_region`), when the instance's browse has it. */
  region?: string;
  /** QAD user fields that may hold Pipedrive's organization id (keys both ways), when present. */
  userFields?: { cm_user1?: string; cm_user2?: string };
}

export const customerSchema: z.ZodType<Customer> = z.object({
  code: z.string(),
  name: z.string(),
  currency: z.string(),
  creditTerms: z.string(),
  site: z.string(),
  creditLimit: z.number().nullable(),
  address: z.object({
    line1: z.string(),
    line2: z.string(),
    line3: z.string(),
    city: z.string(),
    state: z.string(),
    zip: z.string(),
    country: z.string(),
  }),
  phone: z.string(),
  email: z.string(),
  modDate: z.string(),
  region: z.string().optional(),
  userFields: z.object({ cm_user1: z.string().optional(), cm_user2: z.string().optional() }).optional(),
});

const MAX_TEXT = 255;
const optionalText = z
  .union([z.string(), z.null()])
  .optional()
  .transform((v) => cleanText(v ?? ''));
const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/u, 'must be a date YYYY-MM-DD');

/** The customer browse row, keyed `table.field` as QAD returns it. Unknown columns are ignored. */
const customerRowSchema = z.object({
  'cm_mstr.cm_addr': z.string().transform(cleanText).pipe(z.string().min(1, 'is required')),
  'ad_mstr.ad_name': z.string().transform(cleanText).pipe(z.string().min(1, 'is required')),
  'cm_mstr.cm_curr': optionalText,
  'cm_mstr.cm_cr_terms': optionalText,
  'cm_mstr.cm_site': optionalText,
  'cm_mstr.cm_cr_limit': z
    .union([
      z.number(),
      z
        .string()
        .regex(/^-?\d+(\.\d+)?$/u)
        .transform(Number),
      z.null(),
    ])
    .optional(),
  'cm_mstr.cm_mod_date': isoDate,
  'ad_mstr.ad_line1': optionalText,
  'ad_mstr.ad_line2': optionalText,
  'ad_mstr.ad_line3': optionalText,
  'ad_mstr.ad_city': optionalText,
  'ad_mstr.ad_state': optionalText,
  'ad_mstr.ad_zip': optionalText,
  'ad_mstr.ad_country': optionalText,
  'ad_mstr.ad_phone': optionalText,
  'ad_mstr.ad_email': optionalText,
  'cm_mstr.cm_region': z
    .union([z.string(), z.null()])
    .optional()
    .transform((v) => (v === undefined || v === null ? undefined : cleanText(v))),
  'cm_mstr.cm_user1': z
    .union([z.string(), z.number(), z.null()])
    .optional()
    .transform((v) => (v === undefined || v === null ? undefined : cleanText(String(v)))),
  'cm_mstr.cm_user2': z
    .union([z.string(), z.number(), z.null()])
    .optional()
    .transform((v) => (v === undefined || v === null ? undefined : cleanText(String(v)))),
});

export type ParsedRow<T> = { ok: true; record: T } | { ok: false; key: string | undefined; reason: string };

/** The row's key if it has a usable one: lets a bad row still be audited under its key. */
export function rowKey(row: unknown, keyField: string): string | undefined {
  if (row === null || typeof row !== 'object') return undefined;
  const value = (row as Record<string, unknown>)[keyField];
  if (typeof value !== 'string') return undefined;
  // The same cleaning a valid row's code gets, so a bad row is audited under the key it would have had.
  const key = cleanText(value);
  return key !== '' && textProblem(key, MAX_TEXT) === undefined ? key : undefined;
}

/** "field is longer than 255 characters" for each text value that cannot be sent. */
export function textProblems(values: Record<string, string>, maxLength = MAX_TEXT): string[] {
  return Object.entries(values).flatMap(([field, value]) => {
    const problem = textProblem(value, maxLength);
    return problem ? [`${field} ${problem}`] : [];
  });
}

export function formatIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || 'row'} ${i.message}`).join('; ');
}

/** Parses one browse row; a row that cannot become a customer yields the reason, never an exception. */
export function parseCustomerRow(row: unknown): ParsedRow<Customer> {
  const key = rowKey(row, 'cm_mstr.cm_addr');
  const parsed = customerRowSchema.safeParse(row);
  if (!parsed.success) return { ok: false, key, reason: `invalid QAD customer row: ${formatIssues(parsed.error)}` };
  const r = parsed.data;
  const customer: Customer = {
    code: r['cm_mstr.cm_addr'],
    name: r['ad_mstr.ad_name'],
    currency: r['cm_mstr.cm_curr'],
    creditTerms: r['cm_mstr.cm_cr_terms'],
    site: r['cm_mstr.cm_site'],
    creditLimit: r['cm_mstr.cm_cr_limit'] ?? null,
    address: {
      line1: r['ad_mstr.ad_line1'],
      line2: r['ad_mstr.ad_line2'],
      line3: r['ad_mstr.ad_line3'],
      city: r['ad_mstr.ad_city'],
      state: r['ad_mstr.ad_state'],
      zip: r['ad_mstr.ad_zip'],
      country: r['ad_mstr.ad_country'],
    },
    phone: r['ad_mstr.ad_phone'],
    email: r['ad_mstr.ad_email'],
    modDate: r['cm_mstr.cm_mod_date'],
    ...(r['cm_mstr.cm_region'] !== undefined && { region: r['cm_mstr.cm_region'] }),
  };
  const userFields = {
    ...(r['cm_mstr.cm_user1'] && { cm_user1: r['cm_mstr.cm_user1'] }),
    ...(r['cm_mstr.cm_user2'] && { cm_user2: r['cm_mstr.cm_user2'] }),
  };
  if (Object.keys(userFields).length > 0) customer.userFields = userFields;
  // Every text column is checked: a single oversize value must not make the queued message too large.
  const problems = textProblems({
    'cm_mstr.cm_addr': customer.code,
    'ad_mstr.ad_name': customer.name,
    'cm_mstr.cm_curr': customer.currency,
    'cm_mstr.cm_cr_terms': customer.creditTerms,
    'cm_mstr.cm_site': customer.site,
    'ad_mstr.ad_line1': customer.address.line1,
    'ad_mstr.ad_line2': customer.address.line2,
    'ad_mstr.ad_line3': customer.address.line3,
    'ad_mstr.ad_city': customer.address.city,
    'ad_mstr.ad_state': customer.address.state,
    'ad_mstr.ad_zip': customer.address.zip,
    'ad_mstr.ad_country': customer.address.country,
    'ad_mstr.ad_phone': customer.phone,
    'ad_mstr.ad_email': customer.email,
    'cm_mstr.cm_region': customer.region ?? '',
  });
  if (problems.length > 0) return { ok: false, key, reason: `invalid QAD customer row: ${problems.join('; ')}` };
  return { ok: true, record: customer };
}
