import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';

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

export function countPipedriveCall(tenantId: string, endpoint: string, status: number, ms: number): void {
  const m = metrics.singleMetric();
  m.addDimensions({ tenant: tenantId });
  m.addMetric('PipedriveCalls', MetricUnit.Count, 1);
  m.addMetric('PipedriveLatency', MetricUnit.Milliseconds, ms);
  if (status === 429) m.addMetric('Pipedrive429', MetricUnit.Count, 1);
  logger.debug('pipedrive call', { tenantId, endpoint, status, ms });
}

export function countQadCall(tenantId: string, endpoint: string, status: number, ms: number): void {
  const m = metrics.singleMetric();
  m.addDimensions({ tenant: tenantId });
  m.addMetric('QadCalls', MetricUnit.Count, 1);
  m.addMetric('QadLatency', MetricUnit.Milliseconds, ms);
  if (endpoint === 'POST /oauth/token' && status !== 200) m.addMetric('QadLoginFailures', MetricUnit.Count, 1);
  logger.debug('qad call', { tenantId, endpoint, status, ms });
}
