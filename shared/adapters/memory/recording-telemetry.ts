import type { Telemetry } from '../../ports/index.ts';

/** What the flows reported, in order: for tests that assert on counts without reading EMF logs. */
export interface RecordedTelemetry extends Telemetry {
  readonly events: Array<{ kind: string; tenantId?: string; entity?: string; detail?: string }>;
  count(kind: string, detail?: string): number;
}

export function recordingTelemetry(): RecordedTelemetry {
  const events: RecordedTelemetry['events'] = [];
  return {
    events,
    recordOutcome: (tenantId, entity, outcome) => void events.push({ kind: 'outcome', tenantId, entity, detail: outcome }),
    deadLettered: (tenantId, entity) => void events.push({ kind: 'dead-lettered', tenantId, entity }),
    tenantParked: (tenantId) => void events.push({ kind: 'tenant-parked', tenantId }),
    fieldDrift: (tenantId, entity) => void events.push({ kind: 'field-drift', tenantId, entity }),
    pollFailed: (tenantId, entity) => void events.push({ kind: 'poll-failed', tenantId, entity }),
    budgetGateClosed: (tenantId) => void events.push({ kind: 'budget-gate-closed', tenantId }),
    dealRejected: (tenantId) => void events.push({ kind: 'deal-rejected', tenantId }),
    webhookAnswered: (status, tenantId) => void events.push({ kind: 'webhook', detail: String(status), ...(tenantId && { tenantId }) }),
    info: (message) => void events.push({ kind: 'info', detail: message }),
    warn: (message) => void events.push({ kind: 'warn', detail: message }),
    count: (kind, detail) => events.filter((e) => e.kind === kind && (detail === undefined || e.detail === detail)).length,
  };
}
