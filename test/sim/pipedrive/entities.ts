/**
 * Entity definitions: what is specific to each Pipedrive entity (its paths, standard fields, defaults,
 * extra checks, API shape and search item). Everything else (store, routing, paging, validation,
 * search, field endpoints) is generic. To add persons, products or deals: add a definition here
 * and register it in ENTITY_DEFS.
 */
import { validationError, rfc3339 } from './http.ts';
import type { FieldDefinition, StoredRecord } from './store.ts';

/** Entities the simulator serves today. Extend with 'person' | 'product' | 'deal'. */
export type EntityKind = 'organization';

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
  /** searchable standard text: search field name ("name", "address", ...) -> text of the (indexed) attrs */
  searchText(attrs: Record<string, unknown>): Partial<Record<string, string>>;
  /** the `item` of a search result */
  searchItem(record: StoredRecord, view: SearchView, matchedCustom: string[]): Record<string, unknown>;
  /** the search `fields` values Pipedrive accepts for this entity (the spec's enum) */
  searchFields: readonly string[];
}

function str(value: unknown): string {
  return typeof value === 'string' ? value : '';
}
function strOrNull(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}
function intOrNull(value: unknown): number | null {
  return typeof value === 'number' ? value : null;
}
function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
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

/** Checks shared by entities that have a `name`. */
function checkName(attrs: Record<string, unknown>, isCreate: boolean): void {
  if (!('name' in attrs) && !isCreate) return;
  const name = attrs['name'];
  if (typeof name !== 'string') throw validationError('body.name must be string');
  if (name.trim().length === 0) throw validationError('body.name must not be empty');
  if (name.length > 255) throw validationError('body.name must NOT have more than 255 characters');
}

const VISIBLE_TO = new Set([1, 3, 5, 7]);

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

export const organizationDef: EntityDef<SimOrganization> = {
  kind: 'organization',
  collection: 'organizations',
  fieldsCollection: 'organizationFields',
  label: 'Organization',
  standardFields: [
    standardField('id', 'ID', 'int'),
    standardField('name', 'Name', 'varchar'),
    standardField('owner_id', 'Owner', 'user'),
    standardField('label_ids', 'Labels', 'set'),
    standardField('address', 'Address', 'address', { subfields: ADDRESS_SUBFIELDS }),
    standardField('visible_to', 'Visible to', 'visible_to'),
    standardField('website', 'Website', 'varchar'),
    standardField('linkedin', 'LinkedIn profile', 'varchar'),
    standardField('industry', 'Industry', 'enum', { options: [] }),
    standardField('annual_revenue', 'Annual revenue', 'monetary'),
    standardField('employee_count', 'Number of employees', 'int'),
    standardField('add_time', 'Organization created', 'date'),
    standardField('update_time', 'Update time', 'date'),
    standardField('people_count', 'People', 'int', { is_optional_response_field: true }),
    standardField('open_deals_count', 'Open deals', 'int', { is_optional_response_field: true }),
  ],
  defaults: () => ({
    owner_id: 1,
    visible_to: 3,
    address: null,
    label_ids: [],
    website: null,
    linkedin: null,
    industry: null,
    annual_revenue: null,
    employee_count: null,
  }),
  checkAttrs(attrs, isCreate) {
    checkName(attrs, isCreate);
    const visibleTo = attrs['visible_to'];
    if (visibleTo !== undefined && (typeof visibleTo !== 'number' || !VISIBLE_TO.has(visibleTo))) {
      throw validationError('body.visible_to must be one of 1, 3, 5, 7');
    }
    const address = attrs['address'];
    if (isRecord(address) && typeof address['value'] === 'string' && address['value'].length > 255) {
      throw validationError('body.address.value must NOT have more than 255 characters');
    }
  },
  toApi(record, customCodes) {
    const a = record.attrs;
    return {
      id: record.id,
      name: str(a['name']),
      owner_id: typeof a['owner_id'] === 'number' ? a['owner_id'] : 1,
      add_time: rfc3339(record.addTimeMs),
      update_time: rfc3339(record.updatedMs),
      is_deleted: false,
      visible_to: typeof a['visible_to'] === 'number' ? a['visible_to'] : 3,
      address: addressOf(a['address']),
      label_ids: Array.isArray(a['label_ids']) ? a['label_ids'].filter((x): x is number => typeof x === 'number') : [],
      website: strOrNull(a['website']),
      linkedin: strOrNull(a['linkedin']),
      industry: intOrNull(a['industry']),
      annual_revenue: intOrNull(a['annual_revenue']),
      employee_count: intOrNull(a['employee_count']),
      custom_fields: Object.fromEntries(customCodes.map((code) => [code, structuredClone(record.custom[code] ?? null)])),
    };
  },
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
      visible_to: typeof a['visible_to'] === 'number' ? a['visible_to'] : 3,
      owner: { id: typeof a['owner_id'] === 'number' ? a['owner_id'] : 1 },
      custom_fields: matchedCustom,
      notes: [],
    };
  },
};

export const ENTITY_DEFS = { organization: organizationDef } as const satisfies Record<EntityKind, EntityDef<object>>;
