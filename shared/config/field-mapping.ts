import * as z from 'zod';

/**
 * Which QAD values travel to which Pipedrive fields, by the field's *name* (Pipedrive's keys are
 * 40-character hashes that differ per company; people think in names). Resolved at run time through
 * organizationFields / personFields / productFields / dealFields.
 */

/** The QAD values each entity can map, as the connector parses them (shared/domain). */
export const QAD_SOURCES = {
  organization: ['creditTerms', 'currency', 'region', 'site', 'creditLimit', 'phone', 'email'],
  person: ['title', 'email', 'phone', 'primary', 'customerCode'],
  product: ['productLine', 'status', 'description2', 'unit'],
  /** The other direction: deal field -> sales order field. */
  deal: ['dueDate', 'remarks', 'site'],
  /**
   * The order's life, back on its deal (deal fields): what became of the won deal in words (rejected, ordered,
   * shipped, invoiced, cancelled), the confirmed ship date, shipped quantities, the invoice number and status.
   */
  orderStatus: ['status', 'shipDate', 'shipped', 'invoice'],
} as const;

export type MappedEntity = keyof typeof QAD_SOURCES;
export type QadSource<E extends MappedEntity> = (typeof QAD_SOURCES)[E][number];

/** Field types the connector can create a missing field with (the mapped value decides the rest). */
export const CREATABLE_TYPES = ['varchar', 'text', 'double', 'monetary', 'date', 'enum', 'set'] as const;

const fieldName = z.string().trim().min(1).max(255);

const entry = <E extends MappedEntity>(entity: E) =>
  z
    .object({
      /** The QAD value (see QAD_SOURCES); for deals the sales order field it fills. */
      qad: z.enum(QAD_SOURCES[entity] as unknown as [QadSource<E>, ...Array<QadSource<E>>]),
      /** The Pipedrive field's name as people see it: a custom field, or a standard one such as "Job title". */
      pipedrive: fieldName,
      /** QAD value -> Pipedrive option label, for enum and set fields whose labels differ from QAD's codes. */
      labels: z.record(z.string(), z.string().min(1)).optional(),
      /**
       * A field that has never existed in this company may be created once by the connector, with this type
       * (and `options` for enum and set). A field that existed and is gone or renamed is drift, never re-created.
       */
      create: z.object({ type: z.enum(CREATABLE_TYPES), options: z.array(z.string().min(1)).min(1).optional() }).optional(),
    })
    .refine((e) => !e.create || !['enum', 'set'].includes(e.create.type) || e.create.options !== undefined, {
      message: 'create.options is required for enum and set fields',
      path: ['create', 'options'],
    });

export type FieldMappingEntry<E extends MappedEntity = MappedEntity> = {
  qad: QadSource<E>;
  pipedrive: string;
  labels?: Record<string, string> | undefined;
  create?: { type: (typeof CREATABLE_TYPES)[number]; options?: string[] | undefined } | undefined;
};

/**
 * The defaults: values every QAD instance has, in fields a Pipedrive company may not have yet; the
 * connector creates those as text (or a date) the first time. A company that made them as
 * dropdowns keeps its dropdowns: the connector then sends option ids by label.
 */
export const DEFAULT_FIELD_MAPPING: { [E in MappedEntity]: Array<FieldMappingEntry<E>> } = {
  organization: [
    { qad: 'creditTerms', pipedrive: 'Credit terms', create: { type: 'varchar' } },
    { qad: 'currency', pipedrive: 'Currency', create: { type: 'varchar' } },
    { qad: 'region', pipedrive: 'Sales region', create: { type: 'varchar' } },
  ],
  person: [{ qad: 'title', pipedrive: 'Job function', create: { type: 'varchar' } }],
  product: [
    { qad: 'productLine', pipedrive: 'Product line', create: { type: 'varchar' } },
    { qad: 'status', pipedrive: 'Item status', create: { type: 'varchar' } },
  ],
  deal: [
    { qad: 'dueDate', pipedrive: 'Requested ship date', create: { type: 'date' } },
    { qad: 'remarks', pipedrive: 'Customer PO', create: { type: 'varchar' } },
    { qad: 'site', pipedrive: 'Site', create: { type: 'varchar' } },
  ],
  orderStatus: [
    { qad: 'status', pipedrive: 'QAD order status', create: { type: 'varchar' } },
    { qad: 'shipDate', pipedrive: 'Ship date', create: { type: 'date' } },
    { qad: 'invoice', pipedrive: 'Invoice', create: { type: 'varchar' } },
  ],
};

const noDuplicates = (entries: Array<{ pipedrive: string; qad: string }>, ctx: z.RefinementCtx) => {
  const seen = new Set<string>();
  for (const [i, e] of entries.entries()) {
    if (seen.has(e.pipedrive)) ctx.addIssue({ code: 'custom', path: [i, 'pipedrive'], message: `"${e.pipedrive}" is mapped twice` });
    seen.add(e.pipedrive);
  }
};

const entityList = <E extends MappedEntity>(entity: E) =>
  z
    .array(entry(entity))
    .max(30)
    .superRefine(noDuplicates)
    .default(DEFAULT_FIELD_MAPPING[entity] as never);

export const fieldMappingSchema = z.object({
  organization: entityList('organization'),
  person: entityList('person'),
  product: entityList('product'),
  deal: entityList('deal'),
  orderStatus: entityList('orderStatus'),
  /** Keys both ways: the Pipedrive organization id written into a QAD customer field (off by default). */
  writeBack: z
    .object({
      enabled: z.boolean().default(false),
      /** The QAD customer field that receives the organization id. */
      customerField: z.enum(['cm_user1', 'cm_user2']).default('cm_user1'),
      /** The customer business document, `{code}` standing for the customer code. */
      path: z.string().startsWith('/').includes('{code}').default('/api/erp/customerV2s/{code}'),
    })
    .prefault({}),
});

export type FieldMapping = z.infer<typeof fieldMappingSchema>;
export type FieldMappingInput = z.input<typeof fieldMappingSchema>;

/** A mapping file (npm start --mapping, or an operator's), with errors that name the entry. */
export function parseFieldMapping(input: unknown): FieldMapping {
  const parsed = fieldMappingSchema.safeParse(input);
  if (!parsed.success)
    throw new Error(`invalid field mapping: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

/** An empty mapping: only the connector's own key fields. */
export const NO_MAPPED_FIELDS: FieldMappingInput = { organization: [], person: [], product: [], deal: [], orderStatus: [] };

/**
 * The deal entries in force: `mapping.deal.requestedShipDateFieldName` (the older setting) names the
 * due-date field when it is set.
 */
export function dealFieldEntries(fields: FieldMapping, requestedShipDateFieldName: string | undefined): Array<FieldMappingEntry<'deal'>> {
  if (!requestedShipDateFieldName) return fields.deal;
  return [...fields.deal.filter((e) => e.qad !== 'dueDate'), { qad: 'dueDate', pipedrive: requestedShipDateFieldName }];
}
