import type { FieldMappingEntry, QadSource } from '../config/field-mapping.ts';
import type { Contact } from './contact.ts';
import { contentHash } from './content-hash.ts';
import type { Customer } from './customer.ts';
import type { NamedValue, SourceValue } from './custom-fields.ts';
import type { Item } from './item.ts';

/**
 * The QAD side of the field mapping: which value of a parsed QAD record each mapped field gets.
 * Pure. The values are named by the Pipedrive field's *name*, never its code, so that a hash built
 * from them changes when QAD's value changes and not when Pipedrive's field code does.
 */

export function customerValue(c: Customer, source: QadSource<'organization'>): SourceValue {
  switch (source) {
    case 'creditTerms':
      return c.creditTerms;
    case 'currency':
      return c.currency;
    case 'region':
      return c.region ?? '';
    case 'site':
      return c.site;
    case 'creditLimit':
      return c.creditLimit === null ? null : c.currency ? { amount: c.creditLimit, currency: c.currency } : c.creditLimit;
    case 'phone':
      return c.phone;
    case 'email':
      return c.email;
  }
}

export function contactValue(c: Contact, source: QadSource<'person'>): SourceValue {
  switch (source) {
    case 'title':
      return c.title;
    case 'email':
      return c.email;
    case 'phone':
      return c.phone;
    case 'primary':
      return c.primary ? 'yes' : 'no';
    case 'customerCode':
      return c.customerCode;
  }
}

export function itemValue(i: Item, source: QadSource<'product'>): SourceValue {
  switch (source) {
    case 'productLine':
      return i.productLine;
    case 'status':
      return i.status;
    case 'description2':
      return i.description2;
    case 'unit':
      return i.unit;
  }
}

export function namedValues<R, S extends string>(
  record: R,
  entries: ReadonlyArray<FieldMappingEntry & { qad: S }>,
  valueOf: (record: R, source: S) => SourceValue,
): NamedValue[] {
  return entries.map((e) => ({ name: e.pipedrive, value: valueOf(record, e.qad), ...(e.labels && { labels: e.labels }) }));
}

/**
 * The entity's content hash with its mapped values folded in: a changed credit term is a change to
 * write. Without mapped fields the hash is the entity's own, so a tenant without a mapping sees no
 * rewrite.
 */
export function hashWithMappedValues(baseHash: string, values: readonly NamedValue[]): string {
  if (values.length === 0) return baseHash;
  const mapped = values
    .map((v) => [v.name, v.labels && typeof v.value === 'string' ? (v.labels[v.value] ?? v.value) : v.value])
    .sort(([a], [b]) => String(a).localeCompare(String(b)));
  return contentHash({ base: baseHash, mapped });
}
