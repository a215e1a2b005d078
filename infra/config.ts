import { aws_logs as logs } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { DEFAULT_SCHEDULES } from './topology.ts';
import { scheduleExpressionProblem } from '../shared/domain/schedule-expression.ts';

/**
 * Deploy-time settings, read from CDK context (cdk.json `context`, or `-c key=value` on the CLI).
 * Every key has a default here, so a bare `new App()` (tests) behaves like the checked-in cdk.json.
 */
export interface ConnectorConfig {
  /** Receives of one message before SQS moves it to the DLQ. Every receive counts, 429 deferrals included. */
  readonly maxReceiveCount: number;
  /** Upper bound on concurrent writer invocations (SqsEventSource maxConcurrency, 2..1000). */
  readonly writerMaxConcurrency: number;
  /** Days an audit entry lives before DynamoDB TTL removes it (written by the functions as `expiresAt`). */
  readonly auditRetentionDays: number;
  /** Alarm when the oldest message on a work queue is older than this. */
  readonly maxMessageAgeSeconds: number;
  /** One EventBridge Scheduler expression per poll entity, e.g. `{ "customers": "rate(5 minutes)" }`. */
  readonly schedules: Readonly<Record<string, string>>;
  /** Retention of each function's log group, in days (one of CloudWatch Logs' allowed values). */
  readonly logRetentionDays: logs.RetentionDays;
  /** Optional e-mail address subscribed to the alarm topic. */
  readonly alarmEmail: string | undefined;
  /** A second (third ...) stack in the same account and region, e.g. `staging`: it names the stack and its resources. */
  readonly stage: string | undefined;
  /**
   * Context `webhooks=true`: an HTTPS endpoint for Pipedrive's won-deal webhooks, throttled at `webhookRateLimit`
   * requests per second (burst `webhookBurstLimit`). Off: the stack accepts no inbound connection at all.
   */
  readonly webhooks: { readonly rateLimit: number; readonly burstLimit: number } | undefined;
  /** Context `sourceMaps=true`: the functions map stack traces to the TypeScript sources (a slower cold start). */
  readonly sourceMaps: boolean;
}

export const CONTEXT_DEFAULTS = {
  maxReceiveCount: 8,
  writerMaxConcurrency: 5,
  auditRetentionDays: 90,
  maxMessageAgeSeconds: 900,
  // One per registered flow, from the entity registry; context `schedules` overrides any of them.
  schedules: DEFAULT_SCHEDULES,
  logRetentionDays: 30,
  webhookRateLimit: 20,
  webhookBurstLimit: 40,
} as const;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Reads and validates the connector's context keys. Throws ConfigError naming the key on bad input. */
export function readConfig(scope: Construct): ConnectorConfig {
  const get = (key: string): unknown => scope.node.tryGetContext(key);
  return {
    maxReceiveCount: integer('maxReceiveCount', get('maxReceiveCount'), CONTEXT_DEFAULTS.maxReceiveCount, 1, 1000),
    writerMaxConcurrency: integer('writerMaxConcurrency', get('writerMaxConcurrency'), CONTEXT_DEFAULTS.writerMaxConcurrency, 2, 1000),
    auditRetentionDays: integer('auditRetentionDays', get('auditRetentionDays'), CONTEXT_DEFAULTS.auditRetentionDays, 1, 3650),
    maxMessageAgeSeconds: integer(
      'maxMessageAgeSeconds',
      get('maxMessageAgeSeconds'),
      CONTEXT_DEFAULTS.maxMessageAgeSeconds,
      60,
      1_209_600,
    ),
    schedules: schedules(get('schedules')),
    logRetentionDays: retention(get('logRetentionDays')),
    alarmEmail: email(get('alarmEmail')),
    stage: readStage(scope),
    webhooks: flag('webhooks', get('webhooks'))
      ? {
          rateLimit: integer('webhookRateLimit', get('webhookRateLimit'), CONTEXT_DEFAULTS.webhookRateLimit, 1, 10_000),
          burstLimit: integer('webhookBurstLimit', get('webhookBurstLimit'), CONTEXT_DEFAULTS.webhookBurstLimit, 1, 5_000),
        }
      : undefined,
    sourceMaps: flag('sourceMaps', get('sourceMaps')),
  };
}

/** A yes/no context key: `-c key=true` arrives as a string, cdk.json may hold a boolean; absent is false. */
function flag(key: string, raw: unknown): boolean {
  if (raw === undefined || raw === null || raw === '' || raw === false || raw === 'false') return false;
  if (raw === true || raw === 'true') return true;
  throw new ConfigError(`context ${key} must be true or false, got ${JSON.stringify(raw)}`);
}

/** Context `stage`: lowercase letters, digits and dashes, short enough for every resource name it prefixes. */
export function readStage(scope: Construct): string | undefined {
  const raw: unknown = scope.node.tryGetContext('stage');
  if (raw === undefined || raw === null || raw === '') return undefined;
  if (typeof raw !== 'string' || !/^[a-z][a-z0-9-]{0,19}$/u.test(raw))
    throw new ConfigError(
      `context stage must be 1-20 lowercase letters, digits or dashes starting with a letter, got ${JSON.stringify(raw)}`,
    );
  return raw;
}

/** Context from the CLI arrives as strings; from cdk.json as JSON values. Accept both. */
function integer(key: string, raw: unknown, fallback: number, min: number, max: number): number {
  if (raw === undefined || raw === null || raw === '') return fallback;
  const value = typeof raw === 'string' ? Number(raw.trim()) : raw;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`context ${key} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

function schedules(raw: unknown): Readonly<Record<string, string>> {
  if (raw === undefined || raw === null || raw === '') return { ...CONTEXT_DEFAULTS.schedules };
  // An override names only the polls it changes; the others keep their defaults.
  let value: unknown = raw;
  if (typeof raw === 'string') {
    try {
      value = JSON.parse(raw);
    } catch {
      throw new ConfigError(`context schedules must be a JSON object like {"customers":"rate(5 minutes)"}, got ${raw}`);
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigError('context schedules must be an object mapping entity to a schedule expression');
  }
  const out: Record<string, string> = { ...CONTEXT_DEFAULTS.schedules };
  for (const [entity, expression] of Object.entries(value)) {
    // A one-time at() schedule would poll once and never again: only recurring kinds are a poll's cadence.
    const problem = typeof expression === 'string' ? scheduleExpressionProblem(expression, ['rate', 'cron']) : 'must be a string';
    if (problem) throw new ConfigError(`context schedules.${entity}: ${problem}, got ${JSON.stringify(expression)}`);
    out[entity] = expression;
  }
  return out;
}

function retention(raw: unknown): logs.RetentionDays {
  const days = integer('logRetentionDays', raw, CONTEXT_DEFAULTS.logRetentionDays, 1, 3653);
  const allowed = Object.values(logs.RetentionDays).filter((v): v is logs.RetentionDays => typeof v === 'number');
  const match = allowed.find((v) => v === days);
  if (match === undefined) {
    throw new ConfigError(`context logRetentionDays must be one of ${allowed.join(', ')}, got ${days}`);
  }
  return match;
}

function email(raw: unknown): string | undefined {
  if (raw === undefined || raw === null || raw === '') return undefined;
  if (typeof raw !== 'string' || !/^[^@\s]+@[^@\s]+\.[^@\s]+$/u.test(raw)) {
    throw new ConfigError(`context alarmEmail must be an e-mail address, got ${JSON.stringify(raw)}`);
  }
  return raw;
}
