/**
 * The generic browse engine behind `GET {base}/api/qracore/browses`: filter parsing and matching,
 * sorting by the browse's key field, and paging. A browse is registered per tenant as a
 * BrowseDefinition, so other entities (contacts, items, price lists...) only add a definition.
 */
import { validationError } from './http.ts';

export interface BrowseDefinition {
  /** e.g. 'urn:browse:mfg:customers' */
  id: string;
  /** Fields that may be filtered on. */
  columns: readonly string[];
  /** Rows are sorted ascending by this field (string compare). */
  keyField: string;
  /** Current rows, including any raw (arbitrary-shape) rows. */
  rows(): ReadonlyArray<Record<string, unknown>>;
}

export const FILTER_OPS = ['eq', 'cn', 'sw', 'ew', 'gt', 'ge', 'lt', 'le', 'rg'] as const;
export type FilterOp = (typeof FILTER_OPS)[number];

export interface BrowseFilter {
  field: string;
  op: FilterOp;
  value: string;
}

export interface BrowsePage {
  data: Array<Record<string, unknown>>;
  auxillaryData: { HasMoreParams: boolean };
}

function isOp(s: string): s is FilterOp {
  return (FILTER_OPS as readonly string[]).includes(s);
}

/** Parses `<table.field>,<op>,<value>,literal`; the value may itself contain commas. */
export function parseFilter(raw: string, columns: readonly string[]): BrowseFilter {
  const bad = (message: string, code: string): never => {
    throw validationError([{ fieldName: 'filter', message, fieldValue: raw, code }]);
  };
  const first = raw.indexOf(',');
  const second = first < 0 ? -1 : raw.indexOf(',', first + 1);
  const last = raw.lastIndexOf(',');
  if (first < 0 || second < 0 || last <= second) {
    return bad('Filter must be <field>,<op>,<value>,literal', 'INVALID_FILTER');
  }
  const field = raw.slice(0, first);
  const op = raw.slice(first + 1, second);
  const value = raw.slice(second + 1, last);
  const kind = raw.slice(last + 1);
  if (kind !== 'literal') return bad(`Unsupported filter value type: ${kind}`, 'INVALID_FILTER_TYPE');
  if (!columns.includes(field)) return bad(`Unknown field: ${field}`, 'INVALID_FILTER_FIELD');
  if (!isOp(op)) return bad(`Unknown operator: ${op}`, 'INVALID_FILTER_OPERATOR');
  if (op === 'rg' && value.split('|').length !== 2) return bad('Range value must be <from>|<to>', 'INVALID_FILTER_RANGE');
  return { field, op, value };
}

/** A field's value as a comparable string, or undefined when the row lacks it (or it is not scalar). */
function scalar(row: Record<string, unknown>, field: string): string | undefined {
  const v = row[field];
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

/** Rows lacking the field pass every filter on it (raw rows served regardless). */
export function matches(row: Record<string, unknown>, f: BrowseFilter): boolean {
  const v = scalar(row, f.field);
  if (v === undefined) return true;
  switch (f.op) {
    case 'eq':
      return v === f.value;
    case 'cn':
      return v.includes(f.value);
    case 'sw':
      return v.startsWith(f.value);
    case 'ew':
      return v.endsWith(f.value);
    case 'gt':
      return v > f.value;
    case 'ge':
      return v >= f.value;
    case 'lt':
      return v < f.value;
    case 'le':
      return v <= f.value;
    case 'rg': {
      const [from = '', to = ''] = f.value.split('|');
      return v >= from && v <= to;
    }
  }
}

/** Sorted by key ascending; rows without a scalar key go last in their original order. */
export function sortRows(rows: ReadonlyArray<Record<string, unknown>>, keyField: string): Array<Record<string, unknown>> {
  const keyed: Array<{ key: string; row: Record<string, unknown> }> = [];
  const unkeyed: Array<Record<string, unknown>> = [];
  for (const row of rows) {
    const key = scalar(row, keyField);
    if (key === undefined) unkeyed.push(row);
    else keyed.push({ key, row });
  }
  keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)); // stable
  return [...keyed.map((k) => k.row), ...unkeyed];
}

export interface BrowseQuery {
  page: number;
  pageSize: number;
  filters: BrowseFilter[];
}

export const DEFAULT_PAGE_SIZE = 100;

/** Validates page / pageSize / filter query parameters (400 in the submitResult shape). */
export function parseBrowseQuery(query: URLSearchParams, def: BrowseDefinition, maxPageSize: number): BrowseQuery {
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const raw = query.get(name);
    if (raw === null) return fallback;
    const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw validationError([
        {
          fieldName: name,
          message: `${name} must be an integer between ${min} and ${max}`,
          fieldValue: raw,
          code: name === 'pageSize' ? 'INVALID_PAGE_SIZE' : 'INVALID_PAGE',
        },
      ]);
    }
    return n;
  };
  const page = int('page', 1, 1, Number.MAX_SAFE_INTEGER);
  const pageSize = int('pageSize', Math.min(DEFAULT_PAGE_SIZE, maxPageSize), 1, maxPageSize);
  const filters = query.getAll('filter').map((f) => parseFilter(f, def.columns));
  return { page, pageSize, filters };
}

export function runBrowse(def: BrowseDefinition, q: BrowseQuery): BrowsePage {
  const selected = sortRows(def.rows(), def.keyField).filter((row) => q.filters.every((f) => matches(row, f)));
  const start = (q.page - 1) * q.pageSize;
  const data = selected.slice(start, start + q.pageSize).map((row) => structuredClone(row));
  return { data, auxillaryData: { HasMoreParams: start + q.pageSize < selected.length } };
}
