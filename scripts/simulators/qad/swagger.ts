/** The OpenAPI 3 document an instance serves at `GET {base}/api/swagger.json`. */
import type { HttpVerb, SwaggerPaths } from './types.ts';

interface Parameter {
  name: string;
  in: 'query' | 'header' | 'path';
  required: boolean;
  schema: { type: string; enum?: string[] };
  description?: string;
}

const WORKSPACE_HEADER: Parameter = {
  name: 'x-qad-workspace-id',
  in: 'header',
  required: true,
  schema: { type: 'string' },
  description: 'Domain and entity, <domain>_<entity>',
};

const BROWSE_PARAMS: Parameter[] = [
  { name: 'browseId', in: 'query', required: true, schema: { type: 'string' } },
  { name: 'page', in: 'query', required: false, schema: { type: 'integer' } },
  { name: 'pageSize', in: 'query', required: false, schema: { type: 'integer' } },
  { name: 'filter', in: 'query', required: false, schema: { type: 'string' }, description: '<table.field>,<op>,<value>,literal' },
];

const FILTER_PARAM: Parameter = {
  name: 'filter',
  in: 'query',
  required: false,
  schema: { type: 'string' },
  description: '<table.field>,<op>,<value>,literal',
};

function operationId(verb: HttpVerb, path: string): string {
  const segs = path.split('/').filter(Boolean);
  const last = segs[segs.length - 1] ?? 'root';
  const name = /^\{.*\}$/.test(last)
    ? `${segs[segs.length - 2] ?? 'root'}By${last.slice(1, -1).replace(/^./, (c) => c.toUpperCase())}`
    : last;
  return `${verb}${name.charAt(0).toUpperCase()}${name.slice(1)}`;
}

function pathParams(path: string): Parameter[] {
  return [...path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1] ?? '', in: 'path', required: true, schema: { type: 'string' } }));
}

/** `browseIds`, when given, become the enum of the browses' browseId parameter. */
export function swaggerDocument(baseUrl: string, paths: SwaggerPaths, browseIds?: readonly string[]): Record<string, unknown> {
  const outPaths: Record<string, Record<string, unknown>> = {};
  const browseParams = BROWSE_PARAMS.map((p) =>
    p.name === 'browseId' && browseIds !== undefined ? { ...p, schema: { ...p.schema, enum: [...browseIds].sort() } } : p,
  );
  for (const [path, verbs] of Object.entries(paths)) {
    const ops: Record<string, unknown> = {};
    for (const verb of verbs) {
      const params =
        path === '/api/qracore/browses'
          ? [WORKSPACE_HEADER, ...browseParams]
          : path === '/api/erp/salesOrderHeaders' && verb === 'get'
            ? [WORKSPACE_HEADER, FILTER_PARAM, ...BROWSE_PARAMS.filter((p) => p.name === 'page' || p.name === 'pageSize')]
            : [WORKSPACE_HEADER, ...pathParams(path)];
      ops[verb] = {
        operationId: operationId(verb, path),
        parameters: params,
        ...(verb === 'post' || verb === 'put' || verb === 'patch'
          ? { requestBody: { required: true, content: { 'application/json': { schema: { type: 'object' } } } } }
          : {}),
        responses: {
          '200': { description: 'OK', content: { 'application/json': { schema: { type: 'object' } } } },
          '400': { description: 'Validation error' },
          '401': { description: 'Unauthorized' },
          '403': { description: 'Access is denied' },
          ...(verb === 'post' || verb === 'put' ? { '422': { description: 'Business validation error (submitResult)' } } : {}),
        },
      };
    }
    outPaths[path] = ops;
  }
  return {
    openapi: '3.0.1',
    info: { title: 'QAD Adaptive ERP API (simulated)', version: '2024.1' },
    servers: [{ url: baseUrl }],
    security: [{ bearerAuth: [] }],
    components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
    paths: outPaths,
  };
}
