import type { StoredTenant } from '../config/tenant.ts';
import { errorMessage } from '../domain/errors.ts';
import type { Connections } from '../flows/connections.ts';

export interface CheckRow {
  check: string;
  ok: boolean;
  detail: string;
}

/**
 * Checks a tenant the way an operator would before its first sync: QAD login, every configured
 * entity path and method against the instance's Swagger, Pipedrive reachable with the token, and
 * which of the connector's fields already exist (missing ones are created on first use).
 */
export async function checkTenant(connections: Connections, tenant: StoredTenant): Promise<CheckRow[]> {
  const rows: CheckRow[] = [];
  const { qad, mapping } = tenant.config;
  const step = async (check: string, run: () => Promise<string>) => {
    try {
      rows.push({ check, ok: true, detail: await run() });
    } catch (error) {
      rows.push({ check, ok: false, detail: errorMessage(error) });
    }
  };

  let paths: Record<string, string[]> | undefined;
  await step('QAD login and Swagger', async () => {
    paths = await (await connections.qad(tenant)).swaggerPaths(qad.swaggerPath);
    return `${qad.baseUrl}: ${Object.keys(paths).length} paths`;
  });
  const required: Array<[string, string, string]> = [
    ['customers browse', qad.customers.browsePath, 'GET'],
    ['contacts browse', qad.contacts.browsePath, 'GET'],
    ['items browse', qad.items.browsePath, 'GET'],
    ['price list browse', qad.prices.browsePath, 'GET'],
    ['sales orders (lookup)', qad.salesOrders.path, 'GET'],
    ['sales orders (create)', qad.salesOrders.path, 'POST'],
  ];
  for (const [label, path, method] of required) {
    const served = paths?.[path];
    rows.push({ check: `QAD ${label}`, ok: served?.includes(method) ?? false, detail: served ? `${method} ${path}${served.includes(method) ? '' : ` missing (Swagger lists ${served.join(', ')})`}` : `${method} ${path} is not in the instance's Swagger` });
  }

  await step('Pipedrive API token', async () => {
    const pipedrive = await connections.pipedrive(tenant);
    const fields: Array<['organization' | 'person' | 'deal', string]> = [['organization', mapping.organization.keyFieldName], ['person', mapping.person.keyFieldName], ['deal', mapping.deal.orderFieldName]];
    const missing: string[] = [];
    for (const [entity, name] of fields) if (!(await pipedrive.listFields(entity)).some((f) => f.field_name === name)) missing.push(`${entity} "${name}"`);
    rows.push({ check: 'Pipedrive connector fields', ok: true, detail: missing.length ? `missing, created on first use: ${missing.join(', ')}` : 'all present' });
    const limits = pipedrive.rateLimits();
    const budget = limits.dailyLimit !== undefined ? `; daily token budget ${limits.dailyRemaining ?? '?'} of ${limits.dailyLimit} left` : '; daily budget not reported';
    return `${tenant.config.pipedrive.apiBaseUrl}: burst limit ${limits.burstLimit ?? '?'} requests per 2 s${budget}`;
  });
  return rows;
}
