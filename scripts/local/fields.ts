/**
 * The local run's field mapping: the mapping file (--mapping), the fields a demo company made by
 * hand, values on the seeded won deals, the mid-run rename (--drift), and the report's `fields`
 * section. The connector itself knows none of this: it resolves names at run time.
 */
import { readFileSync } from 'node:fs';
import { fieldMappingSchema, type FieldMapping, type FieldMappingInput, type MappedEntity } from '../../shared/config/field-mapping.ts';
import type { AuditEntry, EntityName } from '../../shared/ports/index.ts';
import { parseContactRow } from '../../shared/domain/contact.ts';
import { parseCustomerRow } from '../../shared/domain/customer.ts';
import {
  fieldDefinitionSchema,
  findField,
  readFieldValue,
  typeValue,
  type FieldDefinition,
  type SourceValue,
} from '../../shared/domain/custom-fields.ts';
import { parseItemRow } from '../../shared/domain/item.ts';
import { contactValue, customerValue, itemValue } from '../../shared/domain/mapped-values.ts';
import { ITEM_STATUS, PROD_LINES, SALES_REGIONS, SITES, TERMS } from '../simulators/dataset.ts';
import type { EntityKind, PipedriveSim } from '../simulators/pipedrive/index.ts';
import { DEFAULT_CURRENCIES, entityDefsFor } from '../simulators/pipedrive/entities.ts';
import type { QadSimTenant } from '../simulators/qad/index.ts';
import { entityRegistry } from '../../shared/flows/registry.ts';

/** Reads and validates a mapping file (the `mapping.fields` block of a tenant config); errors name the entry. */
export function loadMappingFile(path: string): FieldMappingInput {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new Error(`--mapping ${path}: not readable JSON (${error instanceof Error ? error.message : String(error)})`, { cause: error });
  }
  const parsed = fieldMappingSchema.safeParse(json);
  if (!parsed.success)
    throw new Error(`--mapping ${path}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  return json as FieldMappingInput;
}

/** The mapping in force, defaults filled in. */
export function effectiveMapping(input: FieldMappingInput | undefined): FieldMapping {
  return fieldMappingSchema.parse(input ?? {});
}

/**
 * What the demo company made by hand before the connector came: dropdowns for credit terms, sales
 * region, product line, item status and the order site, and the two other deal fields its sales
 * people fill in. Only fields the mapping names are made; the connector creates the rest.
 */
const HAND_MADE: Array<{ entity: EntityKind; name: string; type: string; options?: readonly string[] }> = [
  { entity: 'organization', name: 'Credit terms', type: 'enum', options: TERMS },
  { entity: 'organization', name: 'Sales region', type: 'enum', options: SALES_REGIONS },
  { entity: 'product', name: 'Product line', type: 'enum', options: PROD_LINES },
  { entity: 'product', name: 'Item status', type: 'enum', options: [...new Set(ITEM_STATUS)] },
  { entity: 'deal', name: 'Requested ship date', type: 'date' },
  { entity: 'deal', name: 'Customer PO', type: 'varchar' },
  { entity: 'deal', name: 'Site', type: 'enum', options: SITES },
];

export function seedCompanyFields(pipedrive: PipedriveSim, mapping: FieldMapping): void {
  for (const f of HAND_MADE) {
    if (!mapping[f.entity].some((e) => e.pipedrive === f.name)) continue;
    pipedrive.addCustomField(f.entity, { field_name: f.name, field_type: f.type, ...(f.options && { options: [...f.options] }) });
  }
}

/** Values a sales person typed on won deal number `i`, for the deal fields that exist (by name). */
export function demoDealFields(pipedrive: PipedriveSim, i: number, wonDate: string): Record<string, unknown> {
  const fields = pipedrive.customFields('deal');
  const out: Record<string, unknown> = {};
  for (const f of fields) {
    if (f.field_name === 'Requested ship date') {
      const d = new Date(`${wonDate}T00:00:00Z`);
      d.setUTCDate(d.getUTCDate() + 7 + (i % 21));
      out[f.field_code] = d.toISOString().slice(0, 10);
    } else if (f.field_name === 'Customer PO' && i % 3 !== 2) out[f.field_code] = `PO-${4500 + i}`;
    else if (f.field_name === 'Site' && f.options && i % 2 === 0) out[f.field_code] = f.options[(i / 2) % f.options.length]?.id;
  }
  return out;
}

/** The field --drift renames: the product line if it is mapped, else the first mapped product, organization or person field. */
export function driftTarget(mapping: FieldMapping): { entity: 'organization' | 'person' | 'product'; name: string } | undefined {
  const line = mapping.product.find((e) => e.pipedrive === 'Product line');
  if (line) return { entity: 'product', name: line.pipedrive };
  for (const entity of ['product', 'organization', 'person'] as const) {
    const first = mapping[entity][0];
    if (first) return { entity, name: first.pipedrive };
  }
  return undefined;
}

/**
 * --drift, between two rounds: a person renames the mapped field in Pipedrive, and people in QAD
 * change a tenth of the items (product line) and of the customers (credit terms), so that the
 * affected entity has records to hold and the others have records to carry on with.
 */
export function applyDrift(pipedrive: PipedriveSim, qad: QadSimTenant, mapping: FieldMapping): string {
  const target = driftTarget(mapping);
  if (!target) return 'no mapped field to rename (the mapping is empty)';
  const renamed = `${target.name} (renamed)`;
  pipedrive.renameField(target.entity, target.name, renamed);
  const items = qad.items();
  const changedItems = items.filter((_, i) => i % 10 === 0);
  for (const item of changedItems) {
    const next = PROD_LINES[(PROD_LINES.indexOf(item['pt_mstr.pt_prod_line'] as (typeof PROD_LINES)[number]) + 1) % PROD_LINES.length]!;
    qad.upsertItem({ 'pt_mstr.pt_part': item['pt_mstr.pt_part'], 'pt_mstr.pt_prod_line': next });
  }
  const customers = qad.customers();
  const changedCustomers = customers.filter((_, i) => i % 10 === 0);
  for (const c of changedCustomers) {
    const next = TERMS[(TERMS.indexOf(c['cm_mstr.cm_cr_terms'] as (typeof TERMS)[number]) + 1) % TERMS.length]!;
    qad.upsertCustomer({ 'cm_mstr.cm_addr': c['cm_mstr.cm_addr'], 'cm_mstr.cm_cr_terms': next });
  }
  return (
    `Drift: the ${target.entity} field "${target.name}" was renamed to "${renamed}" in Pipedrive; ` +
    `meanwhile ${changedItems.length} QAD items and ${changedCustomers.length} customers changed.`
  );
}

/** Names the --drift field back (before round 3): the held records go through on the next poll. */
export function fixDrift(pipedrive: PipedriveSim, mapping: FieldMapping): string {
  const target = driftTarget(mapping);
  if (!target) return '';
  pipedrive.renameField(target.entity, `${target.name} (renamed)`, target.name);
  return `Fixed: the ${target.entity} field is named "${target.name}" again.`;
}

/** The simulated company's field definitions, standard and custom, as its *Fields endpoints serve them. */
function definitionsOf(pipedrive: PipedriveSim, entity: EntityKind): FieldDefinition[] {
  const standard = entityDefsFor(DEFAULT_CURRENCIES)[entity].standardFields.map((f) => fieldDefinitionSchema.parse(f));
  return [...standard, ...pipedrive.customFields(entity).map((f) => fieldDefinitionSchema.parse({ ...f, is_custom_field: true }))];
}

/** Keys both ways: QAD customers whose write-back field holds their organization's id. */
export function writtenBackKeys(
  pipedrive: PipedriveSim,
  qad: QadSimTenant,
  mapping: FieldMapping,
  keyField: string,
): { enabled: boolean; customers: number; holdingTheirOrganizationId: number } {
  const code = pipedrive.customFields('organization').find((f) => f.field_name === keyField)?.field_code ?? '';
  const orgByCustomer = new Map(pipedrive.organizations().map((o) => [String(o.custom_fields[code] ?? ''), o.id]));
  const customers = qad.customers();
  const field = `cm_mstr.${mapping.writeBack.customerField}`;
  const holding = customers.filter((c) => {
    const row: Record<string, unknown> = { ...c };
    return row[field] !== undefined && row[field] === String(orgByCustomer.get(c['cm_mstr.cm_addr']));
  });
  return { enabled: mapping.writeBack.enabled, customers: customers.length, holdingTheirOrganizationId: holding.length };
}

/** The Pipedrive field entity an audit entry's entity maps its fields to. */
const fieldEntityOf = (entity: EntityName): MappedEntity => entityRegistry.byEntity(entity).fieldEntity;

export interface FieldsReport {
  mapped: Array<{ tenant: string; entity: MappedEntity; name: string; qad: string; code: string | null }>;
  /**
   * Each hold: when, why, how many changed records were kept back, and how many records of that entity
   * were written after it (0: none without the field).
   */
  drift: Array<{
    tenant: string;
    entity: MappedEntity;
    field: string;
    problem: string;
    at: string;
    recordsHeld: number | null;
    writtenSince: number;
  }>;
  created: Array<{ tenant: string; entity: MappedEntity; field: string; at: string }>;
}

/** Each mapped field with the code it resolves to now, each drift event, and the fields the connector created. */
export function fieldsReport(
  tenant: string,
  pipedrive: PipedriveSim,
  mapping: FieldMapping,
  audit: Array<AuditEntry & { at: string }>,
): FieldsReport {
  const mapped = entityRegistry.flows.flatMap(({ fieldEntity, mappedFields }) =>
    mapping[mappedFields ?? fieldEntity].map((e) => {
      const entity = mappedFields ?? fieldEntity;
      const found = findField(definitionsOf(pipedrive, fieldEntity), e.pipedrive);
      return { tenant, entity, name: e.pipedrive, qad: e.qad, code: 'field' in found ? found.field.field_code : null };
    }),
  );
  const heldOf = (snapshot: unknown): number | null => {
    const held = snapshot !== null && typeof snapshot === 'object' ? (snapshot as Record<string, unknown>)['recordsHeld'] : undefined;
    return typeof held === 'number' ? held : null;
  };
  const cleared = audit.filter((e) => e.action === 'drift-cleared');
  const writtenSince = (e: AuditEntry & { at: string }) => {
    const until = cleared.find((c) => c.entity === e.entity && c.at > e.at)?.at ?? '9999';
    return audit.filter((w) => w.entity === e.entity && (w.action === 'created' || w.action === 'updated') && w.at > e.at && w.at < until)
      .length;
  };
  const drift = audit
    .filter((e) => e.action === 'drift')
    .map((e) => ({
      tenant: e.tenantId,
      entity: fieldEntityOf(e.entity),
      field: e.key.replace(/^field:/u, ''),
      problem: e.error ?? '',
      at: e.at,
      recordsHeld: heldOf(e.detail),
      writtenSince: writtenSince(e),
    }));
  const created = audit
    .filter((e) => e.action === 'field-created')
    .map((e) => ({ tenant: e.tenantId, entity: fieldEntityOf(e.entity), field: e.key.replace(/^field:/u, ''), at: e.at }));
  return { mapped, drift, created };
}

export interface ValueCheck {
  entity: MappedEntity;
  name: string;
  code: string | null;
  /**
   * Records compared: Pipedrive's value under the code against QAD's value typed for the field (or, for
   * deals, the order against the deal).
   */
  checked: number;
  matching: number;
  differing: number;
}

/**
 * Did the mapped values arrive? For every mapped field: each synced organization, person and product
 * compared with its QAD record (typed as the connector types it), and each sales order compared with
 * its deal's fields. Uses the connector's own pure functions, so "matching" means "under the right
 * hash, with the right option id".
 */
export function checkMappedValues(
  pipedrive: PipedriveSim,
  qad: QadSimTenant,
  mapping: FieldMapping,
  keyFields: { organization: string; person: string },
  /** The customer PO the tenant's order for a deal carries. */
  orderPo: (dealId: number) => string,
): ValueCheck[] {
  const defsOf = (entity: EntityKind): FieldDefinition[] => definitionsOf(pipedrive, entity);
  const out: ValueCheck[] = [];
  /** Starts (and lists) the check of one mapped field: its definition, if found, and the tally of its records. */
  const checkOf = (entity: MappedEntity, defs: readonly FieldDefinition[], name: string) => {
    const found = findField(defs, name);
    const field = 'field' in found ? found.field : undefined;
    const check: ValueCheck = { entity, name, code: field?.field_code ?? null, checked: 0, matching: 0, differing: 0 };
    out.push(check);
    const tally = (same: boolean): void => {
      check.checked++;
      if (same) check.matching++;
      else check.differing++;
    };
    return { field, tally };
  };
  const compare = <R>(
    entity: 'organization' | 'person' | 'product',
    records: Array<{ custom_fields: Record<string, unknown>; attrs: Record<string, unknown>; qad: R | undefined }>,
    valueOf: (r: R, source: never) => SourceValue,
  ) => {
    const defs = defsOf(entity);
    for (const e of mapping[entity]) {
      const { field, tally } = checkOf(entity, defs, e.pipedrive);
      if (field === undefined) continue;
      for (const r of records) {
        if (r.qad === undefined) continue;
        const typed = typeValue(field, (valueOf as (r: R, source: string) => SourceValue)(r.qad, e.qad), e.labels);
        const held = field.is_custom_field === false ? r.attrs[field.field_code] : r.custom_fields[field.field_code];
        tally(typed.ok && JSON.stringify(typed.value ?? null) === JSON.stringify(held ?? null));
      }
    }
  };
  const parsed = <T>(rows: unknown[], parse: (row: unknown) => { ok: true; record: T } | { ok: false }) =>
    rows.flatMap((row) => {
      const p = parse(row);
      return p.ok ? [p.record] : [];
    });
  const customers = new Map(parsed(qad.customers(), parseCustomerRow).map((c) => [c.code, c]));
  const contacts = new Map(parsed(qad.contacts(), parseContactRow).map((c) => [c.id, c]));
  const items = new Map(parsed(qad.items(), (row) => parseItemRow(row, [])).map((i) => [i.part, i]));
  const orgKey = pipedrive.customFields('organization').find((f) => f.field_name === keyFields.organization)?.field_code ?? '';
  const personKey = pipedrive.customFields('person').find((f) => f.field_name === keyFields.person)?.field_code ?? '';
  const attrs = (r: object) => r as Record<string, unknown>;
  compare(
    'organization',
    pipedrive
      .organizations()
      .map((o) => ({ custom_fields: o.custom_fields, attrs: attrs(o), qad: customers.get(String(o.custom_fields[orgKey] ?? '')) })),
    customerValue,
  );
  compare(
    'person',
    pipedrive
      .persons()
      .map((p) => ({ custom_fields: p.custom_fields, attrs: attrs(p), qad: contacts.get(String(p.custom_fields[personKey] ?? '')) })),
    contactValue,
  );
  compare(
    'product',
    pipedrive.products().map((p) => ({ custom_fields: p.custom_fields, attrs: attrs(p), qad: items.get(p.code ?? '') })),
    itemValue,
  );

  const dealDefs = defsOf('deal');
  const orders = qad.salesOrders();
  const deals = new Map(pipedrive.deals().map((d) => [orderPo(d.id), d]));
  for (const e of mapping.deal) {
    const { field, tally } = checkOf('deal', dealDefs, e.pipedrive);
    if (field === undefined) continue;
    for (const order of orders) {
      const deal = deals.get(order.so_po);
      if (!deal) continue;
      const read = readFieldValue(field, deal.custom_fields[field.field_code]);
      const expected = read.ok ? read.value : undefined;
      const actual = e.qad === 'dueDate' ? order.so_due_date : e.qad === 'remarks' ? order.so_rmks : order.so_site;
      // Unset deal fields leave QAD's own value (the due date defaults to the order date, the site to the tenant's).
      if (expected === undefined) continue;
      tally(expected === actual);
    }
  }
  return out;
}
