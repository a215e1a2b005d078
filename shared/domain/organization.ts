import type { Customer } from './customer.ts';
import { contentHash } from './content-hash.ts';

/** The body we send to POST/PATCH /api/v2/organizations. */
export interface OrganizationPayload {
  name: string;
  address?: { value: string; locality?: string; postal_code?: string; country?: string; admin_area_level_1?: string };
  custom_fields: Record<string, string>;
}

/** One line address the way a person would write it: street lines, "zip city", state, country. */
function addressLine(a: Customer['address']): string {
  return [a.line1, a.line2, a.line3, [a.zip, a.city].filter(Boolean).join(' '), a.state, a.country].filter(Boolean).join(', ');
}

/**
 * Maps a QAD customer to the organization payload. `keyFieldCode` is the Pipedrive hash of the
 * field that holds the QAD customer code: the stable key that later matches never need search for.
 */
export function mapCustomerToOrganization(customer: Customer, keyFieldCode: string): OrganizationPayload {
  const value = addressLine(customer.address);
  const a = customer.address;
  const address = value
    ? {
        value,
        ...(a.city && { locality: a.city }),
        ...(a.zip && { postal_code: a.zip }),
        ...(a.country && { country: a.country }),
        ...(a.state && { admin_area_level_1: a.state }),
      }
    : undefined;
  return { name: customer.name, ...(address && { address }), custom_fields: { [keyFieldCode]: customer.code } };
}

/**
 * The hash of what we would write, independent of the tenant's field hash: a QAD change that
 * does not change the organization (say, credit terms) does not cost a Pipedrive call.
 */
export function organizationContentHash(customer: Customer): string {
  return contentHash(mapCustomerToOrganization(customer, 'qad_customer_code'));
}
