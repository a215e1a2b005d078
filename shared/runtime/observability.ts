import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Telemetry } from '../ports/index.ts';

/**
 * One place configures logging and metrics for every function. Logs are structured JSON; the
 * flows pass ids and reasons, never credentials. Metrics are EMF with tenant and entity dimensions.
 */
export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'qad-pipedrive-connector' });

export const metrics = new Metrics({
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'QadPipedriveConnector',
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'qad-pipedrive-connector',
  logger,
});

/** Flushes what the invocation stored; most metrics here are single metrics that flush themselves. */
export function publishMetrics(): void {
  if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
}

export function countRecord(tenantId: string, entity: string, outcome: string): void {
  const m = metrics.singleMetric();
  m.addDimensions({ tenant: tenantId, entity, outcome });
  m.addMetric('RecordsProcessed', MetricUnit.Count, 1);
}

/**
 * Pipedrive's token cost of a v2 call (its published x-token-cost): a search 20, a list page or a
 * fields list 10, a write 5, a single GET 1. Refused calls (401, 429) cost nothing.
 */
export function pipedriveTokenCost(endpoint: string, status: number): number {
  if (status === 0 || status === 401 || status === 429) return 0;
  const [method = '', path = ''] = endpoint.split(' ');
  if (path.endsWith('/search')) return 20;
  if (method === 'POST' || method === 'PATCH') return 5;
  if (method === 'DELETE') return 3;
  return path.endsWith('{id}') ? 1 : 10;
}

export function countPipedriveCall(tenantId: string, endpoint: string, status: number, ms: number): void {
  const m = metrics.singleMetric();
  m.addDimensions({ tenant: tenantId });
  m.addMetric('PipedriveCalls', MetricUnit.Count, 1);
  m.addMetric('PipedriveTokens', MetricUnit.Count, pipedriveTokenCost(endpoint, status));
  m.addMetric('PipedriveLatency', MetricUnit.Milliseconds, ms);
  if (status === 429) m.addMetric('Pipedrive429', MetricUnit.Count, 1);
  logger.debug('pipedrive call', { tenantId, endpoint, status, ms });
}

/** A mapped Pipedrive field renamed, deleted or missing an option: the tenant's writes for that entity are held. */
export function countFieldDrift(tenantId: string, entity: string): void {
  countAlarmed('FieldDrift', { tenant: tenantId, entity });
}

/** Counted per tenant (who), and once more without those dimensions: the stack's alarm watches the total, whoever the tenant. */
function countAlarmed(name: string, dimensions: Record<string, string>): void {
  const m = metrics.singleMetric();
  m.addDimensions(dimensions);
  m.addMetric(name, MetricUnit.Count, 1);
  metrics.singleMetric().addMetric(name, MetricUnit.Count, 1);
}

/** A count by tenant, for the dashboard (no alarm watches it). */
function countPerTenant(name: string, tenantId: string): void {
  const m = metrics.singleMetric();
  m.addDimensions({ tenant: tenantId });
  m.addMetric(name, MetricUnit.Count, 1);
}

/** A record sent to a dead-letter queue at once (a permanent error). */
export function countDeadLetter(tenantId: string, entity: string): void {
  const m = metrics.singleMetric();
  m.addDimensions({ tenant: tenantId, entity });
  m.addMetric('DeadLettered', MetricUnit.Count, 1);
}

export function countQadCall(tenantId: string, endpoint: string, status: number, ms: number): void {
  const m = metrics.singleMetric();
  m.addDimensions({ tenant: tenantId });
  m.addMetric('QadCalls', MetricUnit.Count, 1);
  m.addMetric('QadLatency', MetricUnit.Milliseconds, ms);
  if (endpoint === 'POST /oauth/token' && status !== 200) countAlarmed('QadLoginFailures', { tenant: tenantId });
  logger.debug('qad call', { tenantId, endpoint, status, ms });
}

/**
 * A tenant whose Pipedrive authorisation must be renewed by a person: emitted when it is parked and by
 * every poll that skips it, so the alarm stays raised until `connector authorize` unparks it.
 */
export function countTenantParked(tenantId: string): void {
  countAlarmed('TenantParked', { tenant: tenantId });
  logger.warn('tenant parked: Pipedrive must be re-authorised', { tenantId });
}

/**
 * The webhook endpoint's answers by status; only an authenticated delivery is counted per tenant, since the path of a
 * refused one is the caller's choice. `WebhookUnauthorized` (a total) is what the burst alarm watches.
 */
export function countWebhookAnswer(status: number, tenantId?: string): void {
  const m = metrics.singleMetric();
  m.addDimensions({ status: String(status), ...(tenantId && { tenant: tenantId }) });
  m.addMetric('WebhookDeliveries', MetricUnit.Count, 1);
  if (status === 401) metrics.singleMetric().addMetric('WebhookUnauthorized', MetricUnit.Count, 1);
}

/** The flows' Telemetry port, on Powertools: EMF metrics and structured logs. */
export const powertoolsTelemetry: Telemetry = {
  recordOutcome: countRecord,
  deadLettered: countDeadLetter,
  tenantParked: countTenantParked,
  fieldDrift: countFieldDrift,
  pollFailed: (tenantId, entity) => countAlarmed('PollFailures', { tenant: tenantId, entity }),
  budgetGateClosed: (tenantId) => countAlarmed('BudgetGateClosed', { tenant: tenantId }),
  dealRejected: (tenantId) => countPerTenant('DealsRejected', tenantId),
  webhookAnswered: countWebhookAnswer,
  info: (message, attributes) => logger.info(message, { ...attributes }),
  warn: (message, attributes) => logger.warn(message, { ...attributes }),
};
