import { customerSchema, parseCustomerRow, type Customer } from '../../domain/customer.ts';
import { mapCustomerToOrganization, organizationContentHash } from '../../domain/organization.ts';
import { customerValue, hashWithMappedValues, namedValues } from '../../domain/mapped-values.ts';
import { writeBackOrganizationId } from '../write-back.ts';
import { browsePages, changedSinceFilter, nameEvidence, nameTokens, searchByName, type SyncEntity } from './entity.ts';

/** QAD customers -> Pipedrive organizations, matched on the QAD code field, then the normalised name. */
export const organizations: SyncEntity<Customer, Record<string, never>> = {
  entity: 'organization',
  poll: 'customers',
  queue: 'records',
  label: 'customer',
  collection: 'organizations',
  fieldEntity: 'organization',
  source: 'qad',
  schedule: 'rate(5 minutes)',
  tenantSchedule: 'rate(15 minutes)',
  recordSchema: customerSchema,
  readChanged: (qad, config, since) => browsePages(qad, config.qad.customers, changedSinceFilter(config.qad.customers.modDateField, since)),
  parse: parseCustomerRow,
  key: (c) => c.code,
  hash: (c, config) => hashWithMappedValues(organizationContentHash(c), organizations.mappedValues(c, config)),
  mappedValues: (c, config) => namedValues(c, config.mapping.fields.organization, customerValue),
  keyFieldName: (config) => config.mapping.organization.keyFieldName,
  context: async () => ({}),
  payload: (c, keyField) => ({ ...mapCustomerToOrganization(c, keyField!) }),
  afterWrite: (deps, tenant, c, pipedriveId, delivery) => writeBackOrganizationId(deps, tenant, c, pipedriveId, delivery),
  recordedId(c, config) {
    const { writeBack } = config.mapping.fields;
    const value = writeBack.enabled ? c.userFields?.[writeBack.customerField]?.trim() : undefined;
    return value && /^[1-9]\d{0,15}$/u.test(value) ? Number(value) : undefined;
  },
  keyValueOf: (remote, keyField) => stringValue(keyField ? remote.custom_fields[keyField] : undefined),
  listingTokens: (remote) => Object.values(nameTokens('', remote.name)),
  evidence: (c) => nameEvidence('', c.name),
  async search(pipedrive, c) {
    const byKey = (await pipedrive.search('organizations', { term: c.code, fields: 'custom_fields' }))
      .filter((h) => h.customFieldValues.includes(c.code))
      .map((h) => h.id);
    if (byKey.length > 0) return { byKey, evidence: [] };
    return { byKey, evidence: await searchByName(pipedrive, 'organizations', c.name) };
  },
};

export function stringValue(value: unknown): string | null {
  if (typeof value === 'number') return String(value);
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : null;
}
