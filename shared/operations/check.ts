import { PIPEDRIVE_OAUTH_TOKEN_URL, type StoredTenant } from '../config/tenant.ts';
import { errorMessage } from '../domain/errors.ts';
import { missingScopes } from '../domain/pipedrive-scopes.ts';
import { checkFieldsExist, parseFieldList, findField } from '../domain/custom-fields.ts';
import type { PipedriveClient } from '../clients/pipedrive-client.ts';
import type { AuditLog, TenantClients } from '../ports/index.ts';
import type { QadSwagger } from '../ports/qad.ts';
import { templateOf } from '../clients/qad-client.ts';
import { LEFT_OUT_KEY } from '../flows/write-record.ts';
import { mappedEntries, type FlowFields } from '../flows/field-gate.ts';
import { entityRegistry, type EntityRegistry } from '../flows/registry.ts';
import { webhookCheckRow } from './webhook.ts';

/** The tenant's mapped fields of one entity, by name -> code; a missing one is created on first use only if its entry allows it. */
async function checkMapped(pipedrive: PipedriveClient, tenant: StoredTenant, flow: FlowFields): Promise<CheckRow> {
  const { fieldEntity } = flow;
  const entries = mappedEntries(tenant, flow);
  const check = `Pipedrive mapped ${flow.mappedFields ?? fieldEntity} fields`;
  if (entries.length === 0) return { check, ok: true, detail: 'none mapped' };
  const defs = parseFieldList(await pipedrive.listFields(fieldEntity));
  const problems = checkFieldsExist(
    defs,
    entries.map((e) => e.pipedrive),
  );
  const blocking = problems.filter((p) => !(p.kind === 'field-missing' && entries.find((e) => e.pipedrive === p.field)?.create));
  const detail = entries.map((e) => {
    const found = findField(defs, e.pipedrive);
    if ('field' in found) return `"${e.pipedrive}" -> ${found.field.field_code} (${found.field.field_type})`;
    const creatable = e.create && found.problem.kind === 'field-missing';
    return `"${e.pipedrive}" ${creatable ? `missing, created as ${e.create?.type} on first use` : `PROBLEM: ${found.problem.message}`}`;
  });
  return { check, ok: blocking.length === 0, detail: detail.join('; ') };
}

/**
 * Every QAD path and method the connector can call for this tenant, each as a check row against the Swagger:
 * the four browses (and their browse ids, where the Swagger enumerates them), the order lookup and create,
 * the customer write-back when it is on, and the order-status browse while its deal fields are mapped.
 */
function qadPathRows(config: StoredTenant['config'], swagger: QadSwagger): CheckRow[] {
  const { qad } = config;
  const writeBack = config.mapping.fields.writeBack;
  const required: Array<{ label: string; path: string; method: string; browseId?: string }> = [
    { label: 'customers browse', path: qad.customers.browsePath, method: 'GET', browseId: qad.customers.browseId },
    { label: 'contacts browse', path: qad.contacts.browsePath, method: 'GET', browseId: qad.contacts.browseId },
    { label: 'items browse', path: qad.items.browsePath, method: 'GET', browseId: qad.items.browseId },
    { label: 'price list browse', path: qad.prices.browsePath, method: 'GET', browseId: qad.prices.browseId },
    { label: 'sales orders (lookup)', path: qad.salesOrders.path, method: 'GET' },
    { label: 'sales orders (create)', path: qad.salesOrders.path, method: 'POST' },
    ...(writeBack.enabled ? [{ label: 'customer write-back', path: writeBack.path, method: 'PUT' }] : []),
    // Read only while deal fields are mapped for the order's life.
    ...(config.mapping.fields.orderStatus.length > 0
      ? [{ label: 'order status browse', path: qad.orderStatus.browsePath, method: 'GET', browseId: qad.orderStatus.browseId }]
      : []),
  ];
  return required.map(({ label, path, method, browseId }) => {
    const served = swagger.paths[templateOf(path)];
    const check = `QAD ${label}`;
    if (!served) return { check, ok: false, detail: `${method} ${path} is not in the instance's Swagger` };
    if (!served.includes(method)) return { check, ok: false, detail: `${method} ${path} missing (Swagger lists ${served.join(', ')})` };
    const ids = swagger.browseIds[templateOf(path)];
    if (browseId === undefined) return { check, ok: true, detail: `${method} ${path}` };
    if (ids === undefined) return { check, ok: true, detail: `${method} ${path}; browse ${browseId} (the Swagger names no browse ids)` };
    return ids.includes(browseId)
      ? { check, ok: true, detail: `${method} ${path} browse ${browseId}` }
      : { check, ok: false, detail: `${method} ${path}: browse ${browseId} is not one the Swagger names` };
  });
}

/** Throws naming each configured QAD path and method the instance's Swagger does not list (or why it could not be read). */
export async function verifyQadPaths(clients: TenantClients, tenant: StoredTenant): Promise<void> {
  const { qad, tenantId } = tenant.config;
  let swagger: QadSwagger;
  try {
    swagger = await (await clients.qad(tenant)).swagger(qad.swaggerPath);
  } catch (error) {
    throw new Error(
      `tenant ${tenantId}: could not read the QAD Swagger at ${qad.baseUrl}${qad.swaggerPath} (${errorMessage(error)}); ` +
        'fix the URL or credentials, or add with --no-verify',
      { cause: error },
    );
  }
  const missing = qadPathRows(tenant.config, swagger).filter((r) => !r.ok);
  if (missing.length > 0)
    throw new Error(
      `tenant ${tenantId}: the QAD instance at ${qad.baseUrl} does not serve: ` +
        `${missing.map((r) => `${r.check.replace(/^QAD /u, '')}: ${r.detail}`).join('; ')}; fix the paths in the tenant config`,
    );
}

/** The token URL receives the client secret: the check says whether it is Pipedrive's or one the operator allowed. */
function tokenUrlRow(url: string): CheckRow {
  const ours = url === PIPEDRIVE_OAUTH_TOKEN_URL;
  const detail = ours
    ? `${url} (Pipedrive's)`
    : `${url}: NOT Pipedrive's token endpoint, allowed by pipedrive.allowOtherOAuthTokenUrl; it receives the client secret`;
  return { check: 'Pipedrive OAuth token URL', ok: true, detail };
}

/** Whether the app's authorisation grants every scope the connector needs (a missing one fails its calls with 403). */
function scopesRow(granted: string[] | undefined): CheckRow {
  const check = 'Pipedrive OAuth scopes';
  if (granted === undefined) return { check, ok: true, detail: 'not known (authorised before scopes were kept); re-authorise to check' };
  const missing = missingScopes(granted);
  if (missing.length === 0) return { check, ok: true, detail: `granted ${granted.join(', ')}` };
  return {
    check,
    ok: false,
    detail: `missing, add to the app and re-authorise: ${missing.join('; ')} (granted ${granted.join(', ') || 'none'})`,
  };
}

/** What writers had to leave out because the Pipedrive company lacks it (a price-list currency), as they audited it. */
async function leftOutRow(audit: Pick<AuditLog, 'history'>, tenant: StoredTenant, registry: EntityRegistry): Promise<CheckRow> {
  const { tenantId } = tenant.config;
  const reports = (await Promise.all(registry.flows.map((f) => audit.history(tenantId, f.entity, LEFT_OUT_KEY)))).flat();
  return {
    check: 'Pipedrive has what QAD sends',
    ok: reports.length === 0,
    detail: reports.length === 0 ? 'nothing left out' : reports.map((r) => r.reason).join('; '),
  };
}

export interface CheckRow {
  check: string;
  ok: boolean;
  detail: string;
  /** Not checked: what it needs failed first (no Swagger to check paths against after a failed QAD login). */
  skipped?: true;
}

/**
 * Checks a tenant the way an operator would before its first sync: QAD login, every configured
 * entity path and method against the instance's Swagger, Pipedrive reachable with the token, and
 * which of the connector's fields already exist (missing ones are created on first use).
 */
export async function checkTenant(
  clients: TenantClients,
  tenant: StoredTenant,
  registry: EntityRegistry = entityRegistry,
  audit?: Pick<AuditLog, 'history'>,
  /** Told each step as it starts: a check of a slow instance shows what it waits for. */
  onStep: (check: string) => void = () => undefined,
): Promise<CheckRow[]> {
  const rows: CheckRow[] = [];
  const { qad } = tenant.config;
  const step = async (check: string, run: () => Promise<string>) => {
    onStep(check);
    try {
      rows.push({ check, ok: true, detail: await run() });
    } catch (error) {
      rows.push({ check, ok: false, detail: errorMessage(error) });
    }
  };

  let swagger: QadSwagger | undefined;
  await step('QAD login and Swagger', async () => {
    swagger = await (await clients.qad(tenant)).swagger(qad.swaggerPath);
    return `${qad.baseUrl}: ${Object.keys(swagger.paths).length} paths`;
  });
  const paths = qadPathRows(tenant.config, swagger ?? { paths: {}, browseIds: {} });
  // Without the Swagger there is nothing to check the paths against: one failure, not one per path.
  const unchecked = (r: CheckRow): CheckRow => ({ check: r.check, ok: false, skipped: true, detail: 'skipped: the QAD login failed' });
  rows.push(...(swagger ? paths : paths.map(unchecked)));

  if (tenant.config.pipedrive.auth === 'oauth') rows.push(tokenUrlRow(tenant.config.pipedrive.oauthTokenUrl));
  await step(tenant.config.pipedrive.auth === 'oauth' ? 'Pipedrive OAuth' : 'Pipedrive API token', async () => {
    const pipedrive = await clients.pipedrive(tenant);
    const missing: string[] = [];
    onStep('Pipedrive connector fields');
    for (const flow of registry.flows) {
      const name = flow.keyFieldName(tenant.config);
      if (name && !(await pipedrive.listFields(flow.fieldEntity)).some((f) => f.field_name === name))
        missing.push(`${flow.fieldEntity} "${name}"`);
    }
    rows.push({
      check: 'Pipedrive connector fields',
      ok: true,
      detail: missing.length ? `missing, created on first use: ${missing.join(', ')}` : 'all present',
    });
    if (tenant.config.pipedrive.auth === 'oauth') rows.push(scopesRow(await pipedrive.grantedScopes()));
    for (const flow of registry.flows) {
      onStep(`Pipedrive mapped ${flow.fieldEntity} fields`);
      rows.push(await checkMapped(pipedrive, tenant, flow));
    }
    const limits = pipedrive.rateLimits();
    const budget =
      limits.dailyLimit !== undefined
        ? `; daily token budget ${limits.dailyRemaining ?? '?'} of ${limits.dailyLimit} left, of which the connector may spend ` +
          `${Math.round(tenant.config.pipedrive.dailyBudgetShare * 100)}% a day (pipedrive.dailyBudgetShare)`
        : '; daily budget not reported';
    if (audit) rows.push(await leftOutRow(audit, tenant, registry));
    const webhook = await webhookCheckRow(pipedrive, tenant);
    if (webhook) rows.push(webhook);
    return `${tenant.config.pipedrive.apiBaseUrl}: burst limit ${limits.burstLimit ?? '?'} requests per 2 s${budget}`;
  });
  return rows;
}
