import type { StoredTenant, TenantConfig } from '../config/tenant.ts';
import {
  DEFAULT_FIELD_MAPPING,
  fieldMappingSchema,
  QAD_SOURCES,
  type FieldMappingEntry,
  type FieldMappingInput,
  type MappedEntity,
} from '../config/field-mapping.ts';
import { parseFieldList, type FieldDefinition, type SourceValue } from '../domain/custom-fields.ts';
import type { TenantClients } from '../ports/index.ts';
import type { PipedriveFieldEntity } from '../ports/pipedrive.ts';
import { entityRegistry, type EntityRegistry } from '../flows/registry.ts';

/** How many distinct sample values are shown per QAD column or value. */
const SAMPLES = 3;

export interface DiscoveredEntity {
  /** The QAD side's label (customer, contact, item, deal) and the Pipedrive field entity it maps to. */
  label: string;
  fieldEntity: PipedriveFieldEntity;
  /** Each value the mapping can carry, with QAD samples beside the Pipedrive field the starter mapping names. */
  values: Array<{ qad: string; samples: string[]; pipedrive?: string; type?: string; note: string }>;
  /** The QAD browse's columns as the instance answers them (none for won deals, which come from Pipedrive). */
  browse?: { rows: number; columns: Array<{ column: string; samples: string[] }> };
  pipedrive: Array<{ name: string; type: string; options: string[]; custom: boolean; code: string }>;
}

export interface Discovery {
  entities: DiscoveredEntity[];
  /** A starter `mapping.fields` for the tenant config: every value with a field of its name, plus the defaults. */
  mapping: FieldMappingInput;
}

/** `creditTerms` -> `Credit terms`: how a person would name the field. */
const spoken = (source: string) => {
  const words = source.replace(/([a-z])([A-Z0-9])/gu, '$1 $2').toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
};

function sampleText(value: unknown): string | undefined {
  if (value === null || value === undefined || value === '') return undefined;
  if (Array.isArray(value)) return value.join(', ');
  if (typeof value === 'object') {
    const money = value as { amount?: unknown; currency?: unknown };
    return money.amount !== undefined ? `${String(money.amount)} ${String(money.currency)}` : JSON.stringify(value);
  }
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** The first few distinct, non-empty values. */
function samplesOf(values: readonly unknown[]): string[] {
  return [...new Set(values.flatMap((v) => sampleText(v) ?? []))].slice(0, SAMPLES);
}

/** The starter entry of one QAD value: a custom field of its (default or spoken) name, else the default entry. */
function starterEntry(entity: MappedEntity, qad: string, fields: readonly FieldDefinition[]): FieldMappingEntry | undefined {
  const fallback = (DEFAULT_FIELD_MAPPING[entity] as readonly FieldMappingEntry[]).find((d) => d.qad === qad);
  const names = [fallback?.pipedrive, spoken(qad)].flatMap((n) => (n ? [n.toLowerCase()] : []));
  const field = fields.find((f) => f.is_custom_field && names.includes(f.field_name.toLowerCase()));
  return field ? ({ qad, pipedrive: field.field_name } as FieldMappingEntry) : fallback;
}

/**
 * Both systems' fields side by side, so a mapping does not start from documentation: per entity, one page of its
 * QAD browse (columns with sample values, and the values the mapping can carry as the connector parses them) and
 * the Pipedrive fields (name, type, options), and a starter `mapping.fields` that the schema accepts. Reads only.
 */
export async function discover(
  clients: TenantClients,
  tenant: StoredTenant,
  registry: EntityRegistry = entityRegistry,
  onStep: (step: string) => void = () => undefined,
): Promise<Discovery> {
  const qad = await clients.qad(tenant);
  const pipedrive = await clients.pipedrive(tenant);
  const entities: DiscoveredEntity[] = [];
  const mapping: Record<string, FieldMappingEntry[]> = {};
  // One section per Pipedrive field entity: a second flow on the same entity (won deals' order status) adds no fields.
  const flows = registry.flows.filter((f, i, all) => all.findIndex((g) => g.fieldEntity === f.fieldEntity) === i);
  for (const flow of flows) {
    const fieldEntity = flow.fieldEntity;
    const sources: readonly string[] = fieldEntity in QAD_SOURCES ? QAD_SOURCES[fieldEntity as MappedEntity] : [];
    onStep(`reading Pipedrive's ${fieldEntity} fields`);
    const fields = parseFieldList(await pipedrive.listFields(fieldEntity));
    const starter = sources.flatMap((q) => starterEntry(fieldEntity as MappedEntity, q, fields) ?? []);
    if (sources.length) mapping[fieldEntity] = starter;

    let browse: DiscoveredEntity['browse'];
    const valueSamples = new Map<string, SourceValue[]>();
    const definition = flow.definition;
    if (definition) {
      onStep(`reading one page of QAD's ${flow.label} browse`);
      const rows: Array<Record<string, unknown>> = [];
      for await (const page of definition.readChanged(qad, tenant.config, undefined)) {
        rows.push(...page.filter((r): r is Record<string, unknown> => typeof r === 'object' && r !== null));
        break;
      }
      const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
      browse = { rows: rows.length, columns: columns.map((column) => ({ column, samples: samplesOf(rows.map((r) => r[column])) })) };
      // Every mappable value, as the writer would read it: a mapping of each value to a field of its own name.
      const all = sources.map((q) => ({ qad: q, pipedrive: q }));
      const config = {
        ...tenant.config,
        mapping: { ...tenant.config.mapping, fields: { ...tenant.config.mapping.fields, [fieldEntity]: all } },
      };
      for (const row of rows) {
        const parsed = definition.parse(row);
        if (!parsed.ok) continue;
        for (const v of definition.mappedValues(parsed.record, config as TenantConfig))
          valueSamples.set(v.name, [...(valueSamples.get(v.name) ?? []), v.value]);
      }
    }
    const values = sources.map((q) => {
      const entry = starter.find((e) => e.qad === q);
      const field = entry && fields.find((f) => f.field_name === entry.pipedrive);
      const note = field ? 'exists in Pipedrive' : entry?.create ? `created as ${entry.create.type} on first use` : 'not mapped';
      return {
        qad: q,
        samples: samplesOf(valueSamples.get(q) ?? []),
        ...(entry && { pipedrive: entry.pipedrive }),
        ...((field?.field_type ?? entry?.create?.type) && { type: field?.field_type ?? entry?.create?.type }),
        note,
      };
    });
    entities.push({
      label: flow.label,
      fieldEntity,
      values,
      ...(browse && { browse }),
      pipedrive: fields.map((f) => ({
        name: f.field_name,
        type: f.field_type,
        options: (f.options ?? []).map((o) => o.label),
        custom: f.is_custom_field === true,
        code: f.field_code,
      })),
    });
  }
  // The starter is only offered if the tenant config would take it.
  fieldMappingSchema.parse(mapping);
  return { entities, mapping: mapping as FieldMappingInput };
}
