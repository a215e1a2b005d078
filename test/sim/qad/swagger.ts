/** The OpenAPI 3 document an instance serves at `GET {base}/api/swagger.json`. */
import type { HttpVerb, SwaggerPaths } from './types.ts';

export const DEFAULT_SWAGGER_PATHS: SwaggerPaths = {
  '/api/qracore/browses': ['get'],
  '/api/erp/customerV2s': ['get', 'put'],
  '/api/erp/salesOrderHeaders': ['get', 'post'],
  '/api/erp/items': ['get'],
};

interface Parameter {
  name: string;
  in: 'query' | 'header';
  required: boolean;
  schema: { type: string };
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

function operationId(verb: HttpVerb, path: string): string {
  const name = path.split('/').filter(Boolean).pop() ?? 'root';
  return `${verb}${name.charAt(0).toUpperCase()}${name.slice(1)}`;
}

export function swaggerDocument(baseUrl: string, paths: SwaggerPaths): Record<string, unknown> {
  const outPaths: Record<string, Record<string, unknown>> = {};
  for (const [path, verbs] of Object.entries(paths)) {
    const ops: Record<string, unknown> = {};
    for (const verb of verbs) {
      const params = path === '/api/qracore/browses' ? [WORKSPACE_HEADER, ...BROWSE_PARAMS] : [WORKSPACE_HEADER];
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
