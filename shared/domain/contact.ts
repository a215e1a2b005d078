import * as z from 'zod';
import { contentHash } from './content-hash.ts';
import { formatIssues, rowKey, textProblems, type ParsedRow } from './customer.ts';
import { cleanText } from './text.ts';

/** A QAD customer contact, keyed by its stable contact id. */
export interface Contact {
  id: string;
  customerCode: string;
  name: string;
  email: string;
  phone: string;
  title: string;
  primary: boolean;
  active: boolean;
  modDate: string;
}

export const contactSchema: z.ZodType<Contact> = z.object({
  id: z.string(),
  customerCode: z.string(),
  name: z.string(),
  email: z.string(),
  phone: z.string(),
  title: z.string(),
  primary: z.boolean(),
  active: z.boolean(),
  modDate: z.string(),
});

/** Which contacts become persons (tenant config). */
export type ContactRule = 'active-with-email-or-phone' | 'active' | 'all';

const text = z
  .union([z.string(), z.null()])
  .optional()
  .transform((v) => cleanText(v ?? ''));
const flag = z.union([z.boolean(), z.enum(['yes', 'no', 'true', 'false']).transform((v) => v === 'yes' || v === 'true')]);

const contactRowSchema = z.object({
  'ct_mstr.ct_id': z.string().transform(cleanText).pipe(z.string().min(1, 'is required')),
  'ct_mstr.ct_cust': z.string().transform(cleanText).pipe(z.string().min(1, 'is required')),
  'ct_mstr.ct_name': z.string().transform(cleanText).pipe(z.string().min(1, 'is required')),
  'ct_mstr.ct_email': text,
  'ct_mstr.ct_phone': text,
  'ct_mstr.ct_title': text,
  'ct_mstr.ct_primary': flag.optional().transform((v) => v ?? false),
  'ct_mstr.ct_active': flag.optional().transform((v) => v ?? true),
  'ct_mstr.ct_mod_date': z.string().regex(/^\d{4}-\d{2}-\d{2}$/u, 'must be a date YYYY-MM-DD'),
});

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/u;

export function parseContactRow(row: unknown): ParsedRow<Contact> {
  const key = rowKey(row, 'ct_mstr.ct_id');
  const parsed = contactRowSchema.safeParse(row);
  if (!parsed.success) return { ok: false, key, reason: `invalid QAD contact row: ${formatIssues(parsed.error)}` };
  const r = parsed.data;
  const contact: Contact = {
    id: r['ct_mstr.ct_id'],
    customerCode: r['ct_mstr.ct_cust'],
    name: r['ct_mstr.ct_name'],
    email: r['ct_mstr.ct_email'].toLowerCase(),
    phone: r['ct_mstr.ct_phone'],
    title: r['ct_mstr.ct_title'],
    primary: r['ct_mstr.ct_primary'],
    active: r['ct_mstr.ct_active'],
    modDate: r['ct_mstr.ct_mod_date'],
  };
  const problems = textProblems({
    'ct_mstr.ct_id': contact.id,
    'ct_mstr.ct_cust': contact.customerCode,
    'ct_mstr.ct_name': contact.name,
    'ct_mstr.ct_email': contact.email,
    'ct_mstr.ct_phone': contact.phone,
    'ct_mstr.ct_title': contact.title,
  });
  if (contact.email && !EMAIL.test(contact.email)) problems.push('ct_mstr.ct_email is not an email address');
  if (problems.length > 0) return { ok: false, key, reason: `invalid QAD contact row: ${problems.join('; ')}` };
  return { ok: true, record: contact };
}

/** Why a contact does not become a person under the tenant's rule, or undefined when it does. */
export function contactExclusion(contact: Contact, rule: ContactRule): string | undefined {
  if (rule === 'all') return undefined;
  if (!contact.active) return 'contact is inactive in QAD';
  if (rule === 'active-with-email-or-phone' && !contact.email && !contact.phone) return 'contact has neither an email nor a phone';
  return undefined;
}

export interface PersonPayload {
  name: string;
  org_id: number;
  emails?: Array<{ value: string; primary: boolean; label: string }>;
  phones?: Array<{ value: string; primary: boolean; label: string }>;
  job_title?: string;
  custom_fields: Record<string, string>;
}

/** A person always belongs to its customer's organization: there is no payload without `orgId`. */
export function mapContactToPerson(contact: Contact, keyFieldCode: string, orgId: number): PersonPayload {
  return {
    name: contact.name,
    org_id: orgId,
    ...(contact.email && { emails: [{ value: contact.email, primary: true, label: 'work' }] }),
    ...(contact.phone && { phones: [{ value: contact.phone, primary: true, label: 'work' }] }),
    ...(contact.title && { job_title: contact.title }),
    custom_fields: { [keyFieldCode]: contact.id },
  };
}

/** The person's content, with the customer code standing in for the organization id it resolves to. */
export function personContentHash(contact: Contact): string {
  return contentHash({ ...mapContactToPerson(contact, 'qad_contact_id', 0), customer: contact.customerCode });
}
