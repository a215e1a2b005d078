/**
 * Extracts what the Pipedrive simulator needs from Pipedrive's published OpenAPI v2 file.
 *
 * The spec lives outside the repository (../shared/reference/pipedrive/pipedrive-v2.yaml) and is not
 * available at run time, so this script writes a small, deterministic, commit-ready JSON file:
 *   scripts/simulators/pipedrive/openapi-extract.json
 *
 * 1. read the YAML (directory overridable with PIPEDRIVE_SPEC_DIR)
 * 2. list every v2 operation: method, path, operationId, x-token-cost, the OAuth scopes its `security` accepts
 * 3. for the operations the connector uses, keep parameters and request body schema and every documented
 *    response status with its JSON schema, with $refs resolved and prose removed
 * 4. write pretty-printed JSON with sorted keys
 *
 * Run with `npm run extract-spec`.
 */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const HTTP_METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

/** Operations whose parameters and bodies the simulator validates: "METHOD path". */
const DETAILED_OPERATIONS: readonly string[] = [
  'GET /organizations',
  'GET /organizations/{id}',
  'POST /organizations',
  'PATCH /organizations/{id}',
  'GET /organizations/search',
  'GET /organizationFields',
  'POST /organizationFields',
  'GET /persons',
  'GET /persons/{id}',
  'POST /persons',
  'PATCH /persons/{id}',
  'GET /persons/search',
  'GET /personFields',
  'POST /personFields',
  'GET /products',
  'GET /products/{id}',
  'POST /products',
  'PATCH /products/{id}',
  'GET /products/search',
  'GET /productFields',
  'POST /productFields',
  'GET /deals',
  'GET /deals/{id}',
  'PATCH /deals/{id}',
  'GET /deals/products',
  'GET /deals/{id}/products',
  'GET /dealFields',
  'POST /dealFields',
];

/** Keywords that carry prose only. Removed wherever they appear as schema keywords (not as property names). */
const PROSE_KEYS = new Set(['description', 'summary', 'example', 'examples', 'title', 'externalDocs']);

/** Schema keywords whose value is a single sub-schema. */
const SUBSCHEMA_KEYS = new Set(['items', 'not', 'additionalProperties', 'additionalItems', 'contains', 'propertyNames']);
/** Schema keywords whose value is an array of sub-schemas. */
const SUBSCHEMA_ARRAY_KEYS = new Set(['allOf', 'anyOf', 'oneOf', 'prefixItems']);
/** Schema keywords whose value maps names to sub-schemas. */
const SUBSCHEMA_MAP_KEYS = new Set(['properties', 'patternProperties', 'definitions', '$defs']);

export interface ExtractedParameter {
  name: string;
  in: string;
  required: boolean;
  /** True when the spec documents the value as a comma-separated list (each item validated against `schema`). */
  commaSeparated: boolean;
  schema: Json;
}

export interface ExtractedOperation {
  method: string;
  path: string;
  operationId: string;
  tokenCost: number | null;
  /** The OAuth scopes of which any one lets a Bearer token call it (`security: - oauth2: [...]`); empty: none named. */
  scopes: string[];
  parameters?: ExtractedParameter[];
  requestBody?: { required: boolean; schema: Json } | null;
  /** Every documented status, with its application/json schema (null when it documents none). */
  responses?: Record<string, Json | null>;
}

export interface PipedriveExtract {
  source: { file: string; title: string; version: string; server: string };
  operations: ExtractedOperation[];
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function resolvePointer(root: Json, ref: string): Json {
  if (!ref.startsWith('#/')) throw new Error(`Only local $refs are supported, got ${ref}`);
  let node: Json = root;
  for (const raw of ref.slice(2).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (!isObject(node) || !(key in node)) throw new Error(`Unresolvable $ref ${ref}`);
    node = node[key] ?? null;
  }
  return node;
}

/** Resolves $refs (recursively, guarding against cycles) anywhere inside `node`. */
function deref(root: Json, node: Json, seen: readonly string[] = []): Json {
  if (Array.isArray(node)) return node.map((item) => deref(root, item, seen));
  if (!isObject(node)) return node;
  const ref = node['$ref'];
  if (typeof ref === 'string') {
    if (seen.includes(ref)) throw new Error(`Cyclic $ref ${ref}`);
    return deref(root, resolvePointer(root, ref), [...seen, ref]);
  }
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(node)) out[key] = deref(root, value, seen);
  return out;
}

/** Removes prose and vendor extensions from a (dereferenced) JSON schema, keeping property names intact. */
function cleanSchema(schema: Json): Json {
  if (Array.isArray(schema)) return schema.map(cleanSchema);
  if (!isObject(schema)) return schema;
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(schema)) {
    if (PROSE_KEYS.has(key) || key.startsWith('x-')) continue;
    if (SUBSCHEMA_KEYS.has(key)) out[key] = isObject(value) ? cleanSchema(value) : value;
    else if (SUBSCHEMA_ARRAY_KEYS.has(key) && Array.isArray(value)) out[key] = value.map(cleanSchema);
    else if (SUBSCHEMA_MAP_KEYS.has(key) && isObject(value)) {
      const map: JsonObject = {};
      for (const [name, sub] of Object.entries(value)) map[name] = cleanSchema(sub);
      out[key] = map;
    } else out[key] = value;
  }
  return out;
}

/** Deterministic output: object keys sorted (arrays keep their order, which is meaningful). */
function sortKeys(value: Json): Json {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (!isObject(value)) return value;
  const out: JsonObject = {};
  for (const key of Object.keys(value).sort()) out[key] = sortKeys(value[key] ?? null);
  return out;
}

function extractParameters(root: Json, pathItem: JsonObject, operation: JsonObject): ExtractedParameter[] {
  const raw = [
    ...(Array.isArray(pathItem['parameters']) ? pathItem['parameters'] : []),
    ...(Array.isArray(operation['parameters']) ? operation['parameters'] : []),
  ];
  const byKey = new Map<string, ExtractedParameter>();
  for (const entry of raw) {
    const param = deref(root, entry);
    if (!isObject(param)) continue;
    const name = param['name'];
    const location = param['in'];
    if (typeof name !== 'string' || typeof location !== 'string') continue;
    const description = typeof param['description'] === 'string' ? param['description'] : '';
    byKey.set(`${location}:${name}`, {
      name,
      in: location,
      required: param['required'] === true || location === 'path',
      commaSeparated: /comma[- ]separated/i.test(description),
      schema: cleanSchema(param['schema'] ?? {}),
    });
  }
  return [...byKey.values()];
}

function extractRequestBody(root: Json, operation: JsonObject): ExtractedOperation['requestBody'] {
  const body = deref(root, operation['requestBody'] ?? null);
  if (!isObject(body)) return null;
  const content = body['content'];
  if (!isObject(content)) return null;
  const json = content['application/json'];
  if (!isObject(json)) return null;
  return { required: body['required'] === true, schema: cleanSchema(json['schema'] ?? {}) };
}

function extractResponses(root: Json, operation: JsonObject): Record<string, Json | null> {
  const responses = operation['responses'];
  if (!isObject(responses)) return {};
  const out: Record<string, Json | null> = {};
  for (const [status, raw] of Object.entries(responses)) {
    const response = deref(root, raw);
    const content = isObject(response) ? response['content'] : undefined;
    const json = isObject(content) ? content['application/json'] : undefined;
    out[status] = isObject(json) ? cleanSchema(json['schema'] ?? null) : null;
  }
  return out;
}

function extractScopes(operation: JsonObject): string[] {
  const security = Array.isArray(operation['security']) ? operation['security'] : [];
  return security.flatMap((requirement) => {
    const oauth2 = isObject(requirement) ? requirement['oauth2'] : undefined;
    return Array.isArray(oauth2) ? oauth2.filter((s): s is string => typeof s === 'string') : [];
  });
}

export function extract(spec: Json, file: string): PipedriveExtract {
  if (!isObject(spec)) throw new Error('The spec is not a YAML mapping');
  const info = isObject(spec['info']) ? spec['info'] : {};
  const servers = Array.isArray(spec['servers']) ? spec['servers'] : [];
  const firstServer = servers[0];
  const paths = spec['paths'];
  if (!isObject(paths)) throw new Error('The spec has no paths');

  const operations: ExtractedOperation[] = [];
  const found = new Set<string>();
  for (const [path, pathItem] of Object.entries(paths)) {
    if (!isObject(pathItem)) continue;
    for (const method of HTTP_METHODS) {
      const operation = pathItem[method];
      if (!isObject(operation)) continue;
      const key = `${method.toUpperCase()} ${path}`;
      const cost = operation['x-token-cost'];
      const op: ExtractedOperation = {
        method: method.toUpperCase(),
        path,
        operationId: typeof operation['operationId'] === 'string' ? operation['operationId'] : '',
        tokenCost: typeof cost === 'number' ? cost : null,
        scopes: extractScopes(operation),
      };
      if (DETAILED_OPERATIONS.includes(key)) {
        found.add(key);
        op.parameters = extractParameters(spec, pathItem, operation);
        op.requestBody = extractRequestBody(spec, operation);
        op.responses = extractResponses(spec, operation);
      }
      operations.push(op);
    }
  }
  const missing = DETAILED_OPERATIONS.filter((key) => !found.has(key));
  if (missing.length > 0) throw new Error(`Operations not found in the spec: ${missing.join(', ')}`);

  operations.sort((a, b) => (a.path === b.path ? a.method.localeCompare(b.method) : a.path < b.path ? -1 : 1));
  return {
    source: {
      file,
      title: typeof info['title'] === 'string' ? info['title'] : '',
      version: typeof info['version'] === 'string' ? info['version'] : '',
      server: isObject(firstServer) && typeof firstServer['url'] === 'string' ? firstServer['url'] : '',
    },
    operations,
  };
}

function main(): void {
  const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const specDir = process.env['PIPEDRIVE_SPEC_DIR'] ?? resolve(repoRoot, '../shared/reference/pipedrive');
  const specFile = resolve(specDir, 'pipedrive-v2.yaml');
  const outFile = resolve(repoRoot, 'scripts/simulators/pipedrive/openapi-extract.json');

  const spec = parse(readFileSync(specFile, 'utf8'), { maxAliasCount: -1 }) as Json;
  const result = extract(spec, 'pipedrive-v2.yaml');
  const json = `${JSON.stringify(sortKeys(result as unknown as Json), null, 2)}\n`;
  mkdirSync(dirname(outFile), { recursive: true });
  writeFileSync(outFile, json);
  const detailed = result.operations.filter((op) => op.parameters !== undefined).length;
  console.log(`Wrote ${outFile}: ${result.operations.length} operations, ${detailed} with full detail.`);
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
