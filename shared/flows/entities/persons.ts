import * as z from 'zod';
import {
  contactExclusion,
  contactSchema,
  mapContactToPerson,
  parseContactRow,
  personContentHash,
  type Contact,
} from '../../domain/contact.ts';
import { contactValue, hashWithMappedValues, namedValues } from '../../domain/mapped-values.ts';
import type { RemoteRecord } from '../../ports/pipedrive.ts';
import { WaitForDependency } from '../../domain/errors.ts';
import { browsePages, changedSinceFilter, nameEvidence, nameTokens, searchByName, type SyncEntity } from './entity.ts';
import { stringValue } from './organizations.ts';

const personFields = z.looseObject({
  org_id: z.union([z.number(), z.looseObject({ value: z.number() }).transform((o) => o.value)]).nullish(),
  emails: z.array(z.looseObject({ value: z.string() })).nullish(),
});

const emailToken = (orgId: number, email: string) => `org:${orgId}|email:${email.toLowerCase()}`;
const WITHIN = ' within the organization';

function remotePerson(remote: RemoteRecord): { orgId: number | null; emails: string[] } {
  const parsed = personFields.safeParse(remote);
  if (!parsed.success) return { orgId: null, emails: [] };
  return { orgId: parsed.data.org_id ?? null, emails: (parsed.data.emails ?? []).map((e) => e.value.toLowerCase()) };
}

/**
 * QAD contacts -> Pipedrive persons, always inside their customer's organization. Matched on the
 * QAD contact id field, then the email within the organization, then the exact name within it.
 */
export const persons: SyncEntity<Contact, { orgId: number }> = {
  entity: 'person',
  poll: 'contacts',
  queue: 'records',
  label: 'contact',
  collection: 'persons',
  fieldEntity: 'person',
  source: 'qad',
  schedule: 'rate(5 minutes)',
  tenantSchedule: 'rate(15 minutes)',
  recordSchema: contactSchema,
  readChanged: (qad, config, since) => browsePages(qad, config.qad.contacts, changedSinceFilter(config.qad.contacts.modDateField, since)),
  parse: parseContactRow,
  exclusion: (c, config) => contactExclusion(c, config.mapping.person.include),
  key: (c) => c.id,
  hash: (c, config) => hashWithMappedValues(personContentHash(c), persons.mappedValues(c, config)),
  mappedValues: (c, config) => namedValues(c, config.mapping.fields.person, contactValue),
  keyFieldName: (config) => config.mapping.person.keyFieldName,
  dependency: { entity: 'organization', key: (c) => c.customerCode },
  async context(c, lookup) {
    // Never a person without its organization: wait until the customer's sync has mapped it.
    const orgId = await lookup.pipedriveId('organization', c.customerCode);
    if (orgId === undefined)
      throw new WaitForDependency(`organization for customer ${c.customerCode} is not in Pipedrive yet; contact ${c.id} waits for it`, 60);
    return { orgId };
  },
  payload: (c, keyField, ctx) => ({ ...mapContactToPerson(c, keyField!, ctx.orgId) }),
  keyValueOf: (remote, keyField) => stringValue(keyField ? remote.custom_fields[keyField] : undefined),
  listingTokens(remote) {
    const { orgId, emails } = remotePerson(remote);
    if (orgId === null) return [];
    return [...emails.map((e) => emailToken(orgId, e)), ...Object.values(nameTokens(`org:${orgId}|`, remote.name))];
  },
  evidence: (c, ctx) => [
    ...(c.email ? [{ via: 'email within the organization', tokens: [emailToken(ctx.orgId, c.email)] }] : []),
    ...nameEvidence(`org:${ctx.orgId}|`, c.name, WITHIN),
  ],
  async search(pipedrive, c, ctx) {
    const byKey = (await pipedrive.search('persons', { term: c.id, fields: 'custom_fields' }))
      .filter((h) => h.customFieldValues.includes(c.id))
      .map((h) => h.id);
    if (byKey.length > 0) return { byKey, evidence: [] };
    const evidence = [];
    if (c.email) {
      const hits = await pipedrive.search('persons', { term: c.email, fields: 'email', organizationId: ctx.orgId });
      const emails = (h: { item: Record<string, unknown> }) =>
        Array.isArray(h.item.emails) ? h.item.emails.filter((e): e is string => typeof e === 'string').map((e) => e.toLowerCase()) : [];
      evidence.push({
        via: 'email within the organization',
        candidates: hits.filter((h) => emails(h).includes(c.email)).map((h) => ({ id: h.id, keyValue: null })),
      });
      if (evidence[0]!.candidates.length > 0) return { byKey, evidence };
    }
    evidence.push(...(await searchByName(pipedrive, 'persons', c.name, WITHIN, ctx.orgId)));
    return { byKey, evidence };
  },
};
