/**
 * Entity definitions: what is specific to each Pipedrive entity (its paths, standard fields, defaults,
 * extra checks, API shape and search item). Everything else (store, routing, paging, validation,
 * search, field endpoints) is generic. To add persons, products or deals: add a definition here
 * and register it in ENTITY_DEFS.
 */
import { parseRfc3339, rfc3339, validationError } from './http.ts';
import type { ParsedParams } from './spec.ts';
import type { FieldDefinition, StoredRecord } from './store.ts';

/** Entities the simulator serves. */
export type EntityKind = 'organization' | 'person' | 'product' | 'deal';

/** The generic record endpoints an entity can serve (default: all). */
export type EntityOperation = 'list' | 'get' | 'create' | 'patch' | 'search';

export interface SearchView {
  attrs: Record<string, unknown>;
}

export interface EntityDef<TApi extends object> {
  kind: EntityKind;
  /** path segment of the entity, e.g. "organizations" */
  collection: string;
  /** path segment of its field definitions, e.g. "organizationFields" */
  fieldsCollection: string;
  /** for messages: "Organization not found" */
  label: string;
  standardFields: readonly FieldDefinition[];
  /** standard attributes of a new record that the create body did not set */
  defaults(): Record<string, unknown>;
  /** checks beyond the JSON schema; throws validationError */
  checkAttrs(attrs: Record<string, unknown>, isCreate: boolean): void;
  /** the record as the API returns it; `customCodes` lists every custom field code of the entity */
  toApi(record: StoredRecord, customCodes: readonly string[]): TApi;
  /** searchable standard text: search field name ("name", "address", ...) -> text(s) of the (indexed) attrs */
  searchText(attrs: Record<string, unknown>): Partial<Record<string, string | readonly string[]>>;
  /** the `item` of a search result */
  searchItem(record: StoredRecord, view: SearchView, matchedCustom: string[]): Record<string, unknown>;
  /** the search `fields` values Pipedrive accepts for this entity (the spec's enum) */
  searchFields: readonly string[];
  /** the generic record endpoints served (default: all) */
  operations?: readonly EntityOperation[];
  /**
   * turns checked attributes of a create/patch into the ones stored (normalised, derived), given the
   * current attributes (undefined on create); default: as they are
   */
  prepareAttrs?(attrs: Record<string, unknown>, current: Record<string, unknown> | undefined, nowMs: number): Record<string, unknown>;
  /** entity-specific list filters (e.g. org_id, status); true keeps the record */
  listFilter?(record: StoredRecord, params: ParsedParams): boolean;
  /** entity-specific search filters (e.g. organization_id), on the indexed attrs; true keeps the record */
  searchFilter?(attrs: Record<string, unknown>, params: ParsedParams): boolean;
}

function str(value: unknown): string {
  return typeof value === 'string' ? value : '';
}
function strOrNull(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}
function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
function numOr(value: unknown, fallback: number): number {
  return typeof value === 'number' ? value : fallback;
}
function numOrNull(value: unknown): number | null {
  return typeof value === 'number' ? value : null;
}
function intList(value: unknown): number[] {
  return Array.isArray(value) ? value.filter((x): x is number => typeof x === 'number') : [];
}
function customOf(record: StoredRecord, customCodes: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(customCodes.map((code) => [code, structuredClone(record.custom[code] ?? null)]));
}
/**
 * An entity's `toApi` from its standard attributes as the API returns them: the id first, then those, then
 * every custom field of the entity (null where the record has no value).
 */
function apiOf<S extends object>(standard: (attrs: Record<string, unknown>, record: StoredRecord) => S) {
  return (record: StoredRecord, customCodes: readonly string[]) => ({
    id: record.id,
    ...standard(record.attrs, record),
    custom_fields: customOf(record, customCodes),
  });
}
/** How toApi reads an attribute that is null until set: the value if it has the type, else null. */
type NullableReaders = Record<string, (value: unknown) => string | number | null>;
/** The attributes `readers` names, null each: their defaults on a new record. */
function nullsOf<R extends NullableReaders>(readers: R): Record<keyof R, null> {
  return Object.fromEntries(Object.keys(readers).map((key) => [key, null])) as Record<keyof R, null>;
}
/** The attributes `readers` names, each as its reader reads it: as toApi returns them. */
function readEach<R extends NullableReaders>(attrs: Record<string, unknown>, readers: R): { [K in keyof R]: ReturnType<R[K]> } {
  return Object.fromEntries(Object.entries(readers).map(([key, read]) => [key, read(attrs[key])])) as { [K in keyof R]: ReturnType<R[K]> };
}
/** add_time and update_time, as every entity returns them */
function timesOf(record: StoredRecord): { add_time: string; update_time: string } {
  return { add_time: rfc3339(record.addTimeMs), update_time: rfc3339(record.updatedMs) };
}
/** the param as a list (comma-separated params arrive as arrays) */
function paramList(params: ParsedParams, name: string): unknown[] | undefined {
  const value = params[name];
  if (value === undefined) return undefined;
  return Array.isArray(value) ? value : [value];
}

function standardField(field_code: string, field_name: string, field_type: string, extra: Partial<FieldDefinition> = {}): FieldDefinition {
  return {
    field_code,
    field_name,
    field_type,
    options: null,
    subfields: null,
    is_custom_field: false,
    is_optional_response_field: false,
    ...extra,
  };
}

const ADDRESS_SUBFIELDS = [
  ['value', 'Address value'],
  ['street_number', 'House number'],
  ['route', 'Street/road name'],
  ['subpremise', 'Apartment/suite'],
  ['sublocality', 'District/sublocality'],
  ['locality', 'City/town/village/locality'],
  ['admin_area_level_1', 'State/province'],
  ['admin_area_level_2', 'County'],
  ['country', 'Country'],
  ['postal_code', 'Postal code'],
  ['formatted_address', 'Formatted address'],
].map(([code, name]) => ({ field_code: code ?? '', field_name: `${name ?? ''} of Address`, field_type: 'varchar' }));

const NAME_FIELD = standardField('name', 'Name', 'varchar');
const OWNER_FIELD = standardField('owner_id', 'Owner', 'user');
const LABELS_FIELD = standardField('label_ids', 'Labels', 'set');
const VISIBLE_TO_FIELD = standardField('visible_to', 'Visible to', 'visible_to');
const ORGANIZATION_FIELD = standardField('org_id', 'Organization', 'org');

/**
 * What follows from an entity's kind, as Pipedrive names things: its paths and label ("person": /persons,
 * /personFields, "Person"), and its standard fields: the ID, the entity's own (in order), when it was
 * created and last updated, then the fields returned only on request.
 */
function entityBase(
  kind: EntityKind,
  ownFields: readonly FieldDefinition[],
  optionalFields: readonly FieldDefinition[] = [],
): Pick<EntityDef<object>, 'kind' | 'collection' | 'fieldsCollection' | 'label' | 'standardFields'> {
  const label = `${kind.charAt(0).toUpperCase()}${kind.slice(1)}`;
  return {
    kind,
    collection: `${kind}s`,
    fieldsCollection: `${kind}Fields`,
    label,
    standardFields: [
      standardField('id', 'ID', 'int'),
      ...ownFields,
      standardField('add_time', `${label} created`, 'date'),
      standardField('update_time', 'Update time', 'date'),
      ...optionalFields,
    ],
  };
}

/** Checks shared by entities that have a `name`. */
function checkName(attrs: Record<string, unknown>, isCreate: boolean): void {
  if (!('name' in attrs) && !isCreate) return;
  const name = attrs['name'];
  if (typeof name !== 'string') throw validationError('body.name must be string');
  if (name.trim().length === 0) throw validationError('body.name must not be empty');
  if (name.length > 255) throw validationError('body.name must NOT have more than 255 characters');
}

const VISIBLE_TO = new Set([1, 3, 5, 7]);

function checkVisibleTo(attrs: Record<string, unknown>): void {
  const visibleTo = attrs['visible_to'];
  if (visibleTo !== undefined && (typeof visibleTo !== 'number' || !VISIBLE_TO.has(visibleTo))) {
    throw validationError('body.visible_to must be one of 1, 3, 5, 7');
  }
}
function checkPositiveId(attrs: Record<string, unknown>, key: string): void {
  const value = attrs[key];
  if (value !== undefined && value !== null && (typeof value !== 'number' || !Number.isInteger(value) || value < 1)) {
    throw validationError(`body.${key} must be a positive integer`);
  }
}
function checkCurrency(value: unknown, where: string, currencies: readonly string[]): void {
  if (typeof value !== 'string' || !currencies.includes(value)) {
    throw validationError(`${where} must be one of the company's currencies (${currencies.join(', ')})`);
  }
}

// ---------------------------------------------------------------------------------------------
// Organizations

export interface OrganizationAddress {
  value?: string;
  country?: string;
  admin_area_level_1?: string;
  admin_area_level_2?: string;
  locality?: string;
  sublocality?: string;
  route?: string;
  street_number?: string;
  subpremise?: string;
  postal_code?: string;
}

export interface SimOrganization {
  id: number;
  name: string;
  owner_id: number;
  add_time: string;
  update_time: string;
  is_deleted: boolean;
  visible_to: number;
  address: OrganizationAddress | null;
  label_ids: number[];
  website: string | null;
  linkedin: string | null;
  industry: number | null;
  annual_revenue: number | null;
  employee_count: number | null;
  custom_fields: Record<string, unknown>;
}

function addressOf(value: unknown): OrganizationAddress | null {
  if (!isRecord(value)) return null;
  const out: OrganizationAddress = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v === 'string') (out as Record<string, string>)[k] = v;
  }
  return out;
}

/** Organization attributes that are null until set (in the order the API returns them). */
const ORGANIZATION_NULLABLE = {
  website: strOrNull,
  linkedin: strOrNull,
  industry: numOrNull,
  annual_revenue: numOrNull,
  employee_count: numOrNull,
} satisfies NullableReaders;

export const organizationDef: EntityDef<SimOrganization> = {
  ...entityBase(
    'organization',
    [
      NAME_FIELD,
      OWNER_FIELD,
      LABELS_FIELD,
      standardField('address', 'Address', 'address', { subfields: ADDRESS_SUBFIELDS }),
      VISIBLE_TO_FIELD,
      standardField('website', 'Website', 'varchar'),
      standardField('linkedin', 'LinkedIn profile', 'varchar'),
      standardField('industry', 'Industry', 'enum', { options: [] }),
      standardField('annual_revenue', 'Annual revenue', 'monetary'),
      standardField('employee_count', 'Number of employees', 'int'),
    ],
    [
      standardField('people_count', 'People', 'int', { is_optional_response_field: true }),
      standardField('open_deals_count', 'Open deals', 'int', { is_optional_response_field: true }),
    ],
  ),
  defaults: () => ({
    owner_id: 1,
    visible_to: 3,
    address: null,
    label_ids: [],
    ...nullsOf(ORGANIZATION_NULLABLE),
  }),
  checkAttrs(attrs, isCreate) {
    checkName(attrs, isCreate);
    checkVisibleTo(attrs);
    const address = attrs['address'];
    if (isRecord(address) && typeof address['value'] === 'string' && address['value'].length > 255) {
      throw validationError('body.address.value must NOT have more than 255 characters');
    }
  },
  toApi: apiOf((a, record) => ({
    name: str(a['name']),
    owner_id: numOr(a['owner_id'], 1),
    ...timesOf(record),
    is_deleted: false,
    visible_to: numOr(a['visible_to'], 3),
    address: addressOf(a['address']),
    label_ids: intList(a['label_ids']),
    ...readEach(a, ORGANIZATION_NULLABLE),
  })),
  searchFields: ['name', 'address', 'custom_fields', 'notes'],
  searchText(attrs) {
    const address = attrs['address'];
    return {
      name: str(attrs['name']),
      ...(isRecord(address) && typeof address['value'] === 'string' ? { address: address['value'] } : {}),
    };
  },
  searchItem(record, view, matchedCustom) {
    const a = view.attrs;
    const address = a['address'];
    return {
      id: record.id,
      type: 'organization',
      name: str(a['name']),
      address: isRecord(address) && typeof address['value'] === 'string' ? address['value'] : null,
      visible_to: numOr(a['visible_to'], 3),
      owner: { id: numOr(a['owner_id'], 1) },
      custom_fields: matchedCustom,
      notes: [],
    };
  },
};

// ---------------------------------------------------------------------------------------------
// Persons

export interface PersonContact {
  value: string;
  primary: boolean;
  label: string;
}

export interface SimPerson {
  id: number;
  name: string;
  first_name: string;
  last_name: string;
  owner_id: number;
  org_id: number | null;
  add_time: string;
  update_time: string;
  emails: PersonContact[];
  phones: PersonContact[];
  is_deleted: boolean;
  visible_to: number;
  label_ids: number[];
  picture_id: number | null;
  job_title: string | null;
  custom_fields: Record<string, unknown>;
}

/** Normalises emails/phones: label defaults to "work"; the first becomes primary when none is. */
function contactsOf(value: unknown, defaultLabel: string): PersonContact[] {
  if (!Array.isArray(value)) return [];
  const out = value.filter(isRecord).map((c) => ({
    value: str(c['value']),
    primary: c['primary'] === true,
    label: typeof c['label'] === 'string' ? c['label'] : defaultLabel,
  }));
  if (out.length > 0 && !out.some((c) => c.primary)) {
    const first = out[0];
    if (first) first.primary = true;
  }
  return out;
}

function checkContacts(attrs: Record<string, unknown>, key: 'emails' | 'phones'): void {
  const value = attrs[key];
  if (value === undefined) return;
  if (!Array.isArray(value)) throw validationError(`body.${key} must be array`);
  value.forEach((c, i) => {
    if (!isRecord(c) || typeof c['value'] !== 'string') throw validationError(`body.${key}.${i}.value must be string`);
  });
  if (value.filter((c) => isRecord(c) && c['primary'] === true).length > 1) {
    throw validationError(`body.${key}: only one item can be primary`);
  }
}

export const personDef: EntityDef<SimPerson> = {
  ...entityBase('person', [
    NAME_FIELD,
    standardField('first_name', 'First name', 'varchar'),
    standardField('last_name', 'Last name', 'varchar'),
    OWNER_FIELD,
    ORGANIZATION_FIELD,
    standardField('emails', 'Email', 'varchar'),
    standardField('phones', 'Phone', 'phone'),
    standardField('job_title', 'Job title', 'varchar'),
    LABELS_FIELD,
    VISIBLE_TO_FIELD,
  ]),
  defaults: () => ({ owner_id: 1, org_id: null, emails: [], phones: [], visible_to: 3, label_ids: [], job_title: null }),
  checkAttrs(attrs, isCreate) {
    checkName(attrs, isCreate);
    checkVisibleTo(attrs);
    checkPositiveId(attrs, 'org_id');
    checkContacts(attrs, 'emails');
    checkContacts(attrs, 'phones');
  },
  prepareAttrs(attrs) {
    const out = { ...attrs };
    if ('emails' in out) out['emails'] = contactsOf(out['emails'], 'work');
    if ('phones' in out) out['phones'] = contactsOf(out['phones'], 'work');
    return out;
  },
  toApi: apiOf((a, record) => {
    const name = str(a['name']);
    const space = name.indexOf(' ');
    return {
      name,
      first_name: space < 0 ? name : name.slice(0, space),
      last_name: space < 0 ? '' : name.slice(space + 1),
      owner_id: numOr(a['owner_id'], 1),
      org_id: numOrNull(a['org_id']),
      ...timesOf(record),
      emails: contactsOf(a['emails'], 'work'),
      phones: contactsOf(a['phones'], 'work'),
      is_deleted: false,
      visible_to: numOr(a['visible_to'], 3),
      label_ids: intList(a['label_ids']),
      picture_id: null,
      job_title: strOrNull(a['job_title']),
    };
  }),
  searchFields: ['custom_fields', 'email', 'notes', 'phone', 'name'],
  searchText(attrs) {
    return {
      name: str(attrs['name']),
      email: contactsOf(attrs['emails'], 'work').map((c) => c.value),
      phone: contactsOf(attrs['phones'], 'work').map((c) => c.value),
      ...(typeof attrs['notes'] === 'string' ? { notes: attrs['notes'] } : {}),
    };
  },
  searchItem(record, view, matchedCustom) {
    const a = view.attrs;
    const orgId = numOrNull(a['org_id']);
    return {
      id: record.id,
      type: 'person',
      name: str(a['name']),
      phones: contactsOf(a['phones'], 'work').map((c) => c.value),
      emails: contactsOf(a['emails'], 'work').map((c) => c.value),
      visible_to: numOr(a['visible_to'], 3),
      owner: { id: numOr(a['owner_id'], 1) },
      organization: orgId === null ? null : { id: orgId },
      custom_fields: matchedCustom,
      notes: typeof a['notes'] === 'string' ? [a['notes']] : [],
    };
  },
  listFilter(record, params) {
    const orgId = params['org_id'];
    return typeof orgId !== 'number' || record.attrs['org_id'] === orgId;
  },
  searchFilter(attrs, params) {
    const orgId = params['organization_id'];
    return typeof orgId !== 'number' || attrs['org_id'] === orgId;
  },
};

// ---------------------------------------------------------------------------------------------
// Products

export interface ProductPrice {
  product_id: number;
  currency: string;
  price: number;
  cost: number;
  direct_cost: number | null;
  notes: string | null;
}

export interface SimProduct {
  id: number;
  name: string;
  code: string | null;
  description: string | null;
  unit: string | null;
  tax: number;
  category: number | null;
  is_linkable: boolean;
  is_deleted: boolean;
  visible_to: number;
  owner_id: number;
  add_time: string;
  update_time: string;
  billing_frequency: string;
  billing_frequency_cycles: number | null;
  prices: ProductPrice[];
  custom_fields: Record<string, unknown>;
}

const PRICE_KEYS = new Set(['currency', 'price', 'cost', 'direct_cost', 'notes']);

function checkPrices(value: unknown, currencies: readonly string[]): void {
  if (value === undefined) return;
  if (!Array.isArray(value)) throw validationError('body.prices must be array');
  const seen = new Set<string>();
  value.forEach((p, i) => {
    const at = `body.prices.${i}`;
    if (!isRecord(p)) throw validationError(`${at} must be object`);
    for (const key of Object.keys(p)) if (!PRICE_KEYS.has(key)) throw validationError(`${at}: unknown property '${key}'`);
    checkCurrency(p['currency'], `${at}.currency`, currencies);
    const currency = str(p['currency']);
    if (seen.has(currency)) throw validationError(`${at}.currency: only one price per currency (${currency} repeats)`);
    seen.add(currency);
    for (const key of ['price', 'cost', 'direct_cost']) {
      const v = p[key];
      if (v === undefined || (key === 'direct_cost' && v === null)) {
        if (key === 'price') throw validationError(`${at}.price is required`);
        continue;
      }
      if (typeof v !== 'number' || !Number.isFinite(v)) throw validationError(`${at}.${key} must be number`);
    }
  });
}

function pricesOf(value: unknown, productId: number): ProductPrice[] {
  if (!Array.isArray(value)) return [];
  return value.filter(isRecord).map((p) => ({
    product_id: productId,
    currency: str(p['currency']),
    price: numOr(p['price'], 0),
    cost: numOr(p['cost'], 0),
    direct_cost: numOrNull(p['direct_cost']),
    notes: strOrNull(p['notes']),
  }));
}

/** The product definition for a company with these currencies (prices in others are a 400). */
export function productDefFor(currencies: readonly string[]): EntityDef<SimProduct> {
  return {
    ...entityBase('product', [
      NAME_FIELD,
      standardField('code', 'Product code', 'varchar'),
      standardField('description', 'Description', 'text'),
      standardField('unit', 'Unit', 'varchar'),
      standardField('tax', 'Tax', 'double'),
      standardField('category', 'Category', 'enum', { options: [] }),
      standardField('prices', 'Unit prices', 'price_list'),
      OWNER_FIELD,
      VISIBLE_TO_FIELD,
    ]),
    defaults: () => ({
      code: null,
      description: null,
      unit: null,
      tax: 0,
      category: null,
      is_linkable: true,
      is_deleted: false,
      visible_to: 3,
      owner_id: 1,
      billing_frequency: 'one-time',
      billing_frequency_cycles: null,
      prices: [],
    }),
    checkAttrs(attrs, isCreate) {
      checkName(attrs, isCreate);
      checkVisibleTo(attrs);
      checkPrices(attrs['prices'], currencies);
      const tax = attrs['tax'];
      if (tax !== undefined && (typeof tax !== 'number' || tax < 0 || tax > 100))
        throw validationError('body.tax must be a number from 0 to 100');
    },
    prepareAttrs(attrs) {
      // prices are stored as sent (normalised on output); a PATCH with prices replaces the whole array
      return 'prices' in attrs ? { ...attrs, prices: pricesOf(attrs['prices'], 0) } : { ...attrs };
    },
    toApi: apiOf((a, record) => ({
      name: str(a['name']),
      code: strOrNull(a['code']),
      description: strOrNull(a['description']),
      unit: strOrNull(a['unit']),
      tax: numOr(a['tax'], 0),
      category: numOrNull(a['category']),
      is_linkable: a['is_linkable'] !== false,
      is_deleted: a['is_deleted'] === true,
      visible_to: numOr(a['visible_to'], 3),
      owner_id: numOr(a['owner_id'], 1),
      ...timesOf(record),
      billing_frequency: typeof a['billing_frequency'] === 'string' ? a['billing_frequency'] : 'one-time',
      billing_frequency_cycles: numOrNull(a['billing_frequency_cycles']),
      prices: pricesOf(a['prices'], record.id),
    })),
    searchFields: ['code', 'custom_fields', 'name'],
    searchText(attrs) {
      return { name: str(attrs['name']), ...(typeof attrs['code'] === 'string' ? { code: attrs['code'] } : {}) };
    },
    searchItem(record, view, matchedCustom) {
      const a = view.attrs;
      return {
        id: record.id,
        type: 'product',
        name: str(a['name']),
        code: strOrNull(a['code']),
        visible_to: numOr(a['visible_to'], 3),
        owner: { id: numOr(a['owner_id'], 1) },
        custom_fields: matchedCustom,
      };
    },
    listFilter(record) {
      return record.attrs['is_deleted'] !== true;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Deals

export type DealStatus = 'open' | 'won' | 'lost' | 'deleted';
const DEAL_STATUSES: readonly string[] = ['open', 'won', 'lost', 'deleted'];

export interface SimDeal {
  id: number;
  title: string;
  owner_id: number;
  value: number;
  currency: string;
  person_id: number | null;
  org_id: number | null;
  pipeline_id: number;
  stage_id: number;
  status: DealStatus;
  add_time: string;
  update_time: string;
  won_time: string | null;
  lost_time: string | null;
  close_time: string | null;
  lost_reason: string | null;
  expected_close_date: string | null;
  probability: number | null;
  is_deleted: boolean;
  is_archived: boolean;
  visible_to: number;
  label_ids: number[];
  custom_fields: Record<string, unknown>;
}

function statusOf(value: unknown): DealStatus {
  return value === 'won' || value === 'lost' || value === 'deleted' ? value : 'open';
}

/** Deal attributes that are null until set (in the order the API returns them). */
const DEAL_NULLABLE = {
  won_time: strOrNull,
  lost_time: strOrNull,
  close_time: strOrNull,
  lost_reason: strOrNull,
  expected_close_date: strOrNull,
  probability: numOrNull,
} satisfies NullableReaders;

/** The deal definition for a company with these currencies. Deals are created by the admin API only. */
export function dealDefFor(currencies: readonly string[]): EntityDef<SimDeal> {
  const defaultCurrency = currencies[0] ?? 'EUR';
  return {
    ...entityBase('deal', [
      standardField('title', 'Title', 'varchar'),
      standardField('value', 'Value', 'monetary'),
      standardField('currency', 'Currency', 'varchar'),
      standardField('status', 'Status', 'status'),
      ORGANIZATION_FIELD,
      standardField('person_id', 'Contact person', 'people'),
      OWNER_FIELD,
      standardField('won_time', 'Won time', 'date'),
      standardField('lost_time', 'Lost time', 'date'),
      standardField('close_time', 'Deal closed on', 'date'),
    ]),
    operations: ['list', 'get', 'patch'],
    defaults: () => ({
      owner_id: 1,
      value: 0,
      currency: defaultCurrency,
      person_id: null,
      org_id: null,
      pipeline_id: 1,
      stage_id: 1,
      status: 'open',
      ...nullsOf(DEAL_NULLABLE),
      is_deleted: false,
      is_archived: false,
      visible_to: 3,
      label_ids: [],
    }),
    checkAttrs(attrs, isCreate) {
      if ('title' in attrs || isCreate) {
        const title = attrs['title'];
        if (typeof title !== 'string' || title.trim().length === 0) throw validationError('body.title must be a non-empty string');
      }
      checkVisibleTo(attrs);
      checkPositiveId(attrs, 'org_id');
      checkPositiveId(attrs, 'person_id');
      const status = attrs['status'];
      if (status !== undefined && (typeof status !== 'string' || !DEAL_STATUSES.includes(status))) {
        throw validationError(`body.status must be one of ${DEAL_STATUSES.join(', ')}`);
      }
      if (attrs['currency'] !== undefined) checkCurrency(attrs['currency'], 'body.currency', currencies);
      const value = attrs['value'];
      if (value !== undefined && (typeof value !== 'number' || !Number.isFinite(value))) throw validationError('body.value must be number');
      for (const key of ['won_time', 'lost_time', 'close_time']) {
        const t = attrs[key];
        if (t !== undefined && t !== null) {
          if (typeof t !== 'string') throw validationError(`body.${key} must be string`);
          parseRfc3339(t, `body.${key}`);
        }
      }
    },
    prepareAttrs(attrs, current, nowMs) {
      const out = { ...attrs };
      for (const key of ['won_time', 'lost_time', 'close_time']) {
        const t = out[key];
        if (typeof t === 'string') out[key] = rfc3339(parseRfc3339(t, key));
      }
      const before = current === undefined ? undefined : statusOf(current['status']);
      const after = out['status'] === undefined ? before : statusOf(out['status']);
      if (after === undefined || after === before) return out;
      const stamp = rfc3339(nowMs);
      // a status change stamps the times Pipedrive keeps (reopening clears them)
      if (after === 'won') {
        out['won_time'] ??= stamp;
        out['close_time'] ??= out['won_time'];
        out['lost_time'] = null;
      } else if (after === 'lost') {
        out['lost_time'] ??= stamp;
        out['close_time'] ??= out['lost_time'];
        out['won_time'] = null;
      } else if (after === 'open') {
        out['won_time'] = null;
        out['lost_time'] = null;
        out['close_time'] = null;
      }
      if (after === 'deleted') out['is_deleted'] = true;
      else if (before === 'deleted') out['is_deleted'] = false;
      return out;
    },
    toApi: apiOf((a, record) => ({
      title: str(a['title']),
      owner_id: numOr(a['owner_id'], 1),
      value: numOr(a['value'], 0),
      currency: typeof a['currency'] === 'string' ? a['currency'] : defaultCurrency,
      person_id: numOrNull(a['person_id']),
      org_id: numOrNull(a['org_id']),
      pipeline_id: numOr(a['pipeline_id'], 1),
      stage_id: numOr(a['stage_id'], 1),
      status: statusOf(a['status']),
      ...timesOf(record),
      ...readEach(a, DEAL_NULLABLE),
      is_deleted: a['is_deleted'] === true,
      is_archived: a['is_archived'] === true,
      visible_to: numOr(a['visible_to'], 3),
      label_ids: intList(a['label_ids']),
    })),
    searchFields: ['custom_fields', 'notes', 'title'],
    searchText(attrs) {
      return { title: str(attrs['title']) };
    },
    searchItem(record, view, matchedCustom) {
      return { id: record.id, type: 'deal', title: str(view.attrs['title']), custom_fields: matchedCustom };
    },
    listFilter(record, params) {
      const a = record.attrs;
      // archived deals are listed by /deals/archived only; without a status filter, deleted ones are left out
      if (a['is_archived'] === true) return false;
      const statuses = paramList(params, 'status');
      const status = statusOf(a['status']);
      if (statuses === undefined ? status === 'deleted' : !statuses.includes(status)) return false;
      for (const key of ['org_id', 'person_id', 'stage_id', 'pipeline_id']) {
        const wanted = params[key];
        if (typeof wanted === 'number' && a[key] !== wanted) return false;
      }
      return true;
    },
  };
}

/** The company's currencies when the sim options do not name them. */
export const DEFAULT_CURRENCIES: readonly string[] = ['EUR', 'USD', 'GBP'];

export const productDef: EntityDef<SimProduct> = productDefFor(DEFAULT_CURRENCIES);
export const dealDef: EntityDef<SimDeal> = dealDefFor(DEFAULT_CURRENCIES);

/** Definitions for a company with the default currencies (the sim builds its own from its options). */
export const ENTITY_DEFS = {
  organization: organizationDef,
  person: personDef,
  product: productDef,
  deal: dealDef,
} as const satisfies Record<EntityKind, EntityDef<object>>;

/** All definitions for a company with these currencies. */
export function entityDefsFor(currencies: readonly string[]) {
  return {
    organization: organizationDef,
    person: personDef,
    product: productDefFor(currencies),
    deal: dealDefFor(currencies),
  } as const satisfies Record<EntityKind, EntityDef<object>>;
}
