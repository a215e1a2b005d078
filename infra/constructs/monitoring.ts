import {
  Duration,
  Stack,
  aws_cloudwatch as cloudwatch,
  aws_cloudwatch_actions as cwActions,
  aws_dynamodb as dynamodb,
  aws_iam as iam,
  aws_kms as kms,
  aws_lambda as lambda,
  aws_sns as sns,
  aws_sns_subscriptions as subscriptions,
  aws_sqs as sqs,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import type { WorkQueue } from './work-queue.ts';
import { pascal } from '../names.ts';

export interface MonitoredQueue {
  readonly name: string;
  readonly workQueue: WorkQueue;
}

export interface MonitoredFunction {
  readonly name: string;
  readonly fn: lambda.IFunction;
}

export interface MonitoringProps {
  readonly queues: readonly MonitoredQueue[];
  readonly functions: readonly MonitoredFunction[];
  /** Alarm when a work queue's oldest message is older than this. */
  readonly maxMessageAgeSeconds: number;
  readonly alarmEmail: string | undefined;
  /** Namespace of the functions' EMF metrics (Powertools Metrics). */
  readonly metricsNamespace: string;
  /** Powertools' `service` dimension, the one every EMF metric carries. */
  readonly serviceName: string;
  /** The tables whose throttles and system errors are alarmed. */
  readonly tables: ReadonlyArray<{ readonly name: string; readonly table: dynamodb.ITable }>;
  /** Where EventBridge Scheduler puts an invocation of a poll it could not deliver. */
  readonly scheduleDeadLetters: sqs.IQueue;
  /** The stack has the webhook endpoint: alarm on a burst of refused credentials. */
  readonly webhooks?: boolean;
}

const PERIOD = Duration.minutes(5);

/** The DynamoDB operations the functions use (an alarm's math expression may hold at most 10 metrics). */
const TABLE_OPERATIONS = [
  dynamodb.Operation.GET_ITEM,
  dynamodb.Operation.PUT_ITEM,
  dynamodb.Operation.UPDATE_ITEM,
  dynamodb.Operation.DELETE_ITEM,
  dynamodb.Operation.QUERY,
  dynamodb.Operation.BATCH_GET_ITEM,
  dynamodb.Operation.BATCH_WRITE_ITEM,
];

/**
 * Alarms (to an encrypted SNS topic) and an operations dashboard.
 *
 * The topic has its own customer-managed key: CloudWatch cannot publish to a topic encrypted with the
 * AWS-managed aws/sns key, and the credentials key must not be opened to another service principal.
 */
/** Refused webhook credentials in one period that make a burst (a stray retry of an old webhook is not one). */
export const WEBHOOK_UNAUTHORIZED_BURST = 20;

export class Monitoring extends Construct {
  readonly topic: sns.Topic;
  readonly topicKey: kms.Key;
  readonly alarms: cloudwatch.Alarm[] = [];
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const stack = Stack.of(this);

    this.topicKey = new kms.Key(this, 'TopicKey', {
      description: 'Encrypts the connector alarm topic',
      enableKeyRotation: true,
    });
    this.topicKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowCloudWatchAlarmsToPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
      }),
    );

    this.topic = new sns.Topic(this, 'AlarmTopic', {
      displayName: 'QAD-Pipedrive connector alarms',
      masterKey: this.topicKey,
      enforceSSL: true,
    });
    if (props.alarmEmail) this.topic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));

    const notify = new cwActions.SnsAction(this.topic);
    /** An alarm to the topic: one period over the threshold breaches it, a period without data does not. */
    const alarm = (
      alarmId: string,
      alarmProps: Pick<cloudwatch.AlarmProps, 'alarmDescription' | 'metric' | 'comparisonOperator' | 'threshold'>,
    ): cloudwatch.Alarm => {
      const a = new cloudwatch.Alarm(this, alarmId, {
        ...alarmProps,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      a.addAlarmAction(notify);
      a.addOkAction(notify);
      this.alarms.push(a);
      return a;
    };
    /** An alarm on one of the connector's own EMF counts (by the service dimension): any count in a period. */
    const countAlarm = (metricName: string, alarmDescription: string): cloudwatch.Alarm =>
      alarm(metricName, {
        alarmDescription,
        metric: new cloudwatch.Metric({
          namespace: props.metricsNamespace,
          metricName,
          dimensionsMap: { service: props.serviceName },
          statistic: 'Sum',
          period: PERIOD,
        }),
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        threshold: 1,
      });

    for (const { name, workQueue } of props.queues) {
      alarm(`${pascal(name)}DlqNotEmpty`, {
        alarmDescription:
          `Messages on the ${name} DLQ: records that failed permanently or ran out of receives. ` +
          `Inspect, fix, then redrive (StartMessageMoveTask).`,
        metric: workQueue.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: Duration.minutes(1) }),
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        threshold: 0,
      });
      alarm(`${pascal(name)}OldestMessageAge`, {
        alarmDescription:
          `The oldest message on the ${name} queue is older than ${props.maxMessageAgeSeconds} s: ` +
          `the writer is stuck, throttled or failing.`,
        metric: workQueue.queue.metricApproximateAgeOfOldestMessage({ statistic: 'Maximum', period: PERIOD }),
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        threshold: props.maxMessageAgeSeconds,
      });
    }

    countAlarm(
      'QadLoginFailures',
      'QAD refused a tenant login: its password, user or client id is wrong or expired. ' +
        '"connector check <tenant>" names the tenant; store new secrets with "connector tenant add".',
    );

    countAlarm(
      'TenantParked',
      "A tenant's Pipedrive authorisation was refused (invalid_grant): its records are held, not retried. " +
        `The metric's tenant dimension and "connector audit <tenant> organization _pipedrive-access" say which and why; ` +
        're-authorise with "connector authorize <tenant> --code ... --redirect-uri ...".',
    );

    countAlarm(
      'FieldDrift',
      "A mapped Pipedrive field was renamed or deleted, or lost an option: that tenant's writes for the entity are held " +
        "(never written without the value). The metric's tenant and entity dimensions and the audit entries with action " +
        '"drift" say which field; fix the field in Pipedrive or mapping.fields and the next poll releases the held records.',
    );

    countAlarm(
      'PollFailures',
      "A tenant's poll failed (QAD or Pipedrive unreachable, refused, or malformed answers); its watermark stayed, so the " +
        'next schedule retries. The poll catches the error, so the function itself does not fail: this metric is how it shows. ' +
        'The tenant and entity dimensions and "connector audit <tenant> <entity> _poll" say which and why.',
    );

    countAlarm(
      'BudgetGateClosed',
      "A tenant's Pipedrive daily token budget is spent: its writes wait (no calls, not dead-lettered) until Pipedrive's reset. " +
        'The tenant dimension says which; "connector status" shows until when. Persistent: raise the plan or seats, or poll less often.',
    );

    if (props.webhooks)
      alarm('WebhookUnauthorized', {
        alarmDescription:
          `${WEBHOOK_UNAUTHORIZED_BURST} or more webhook deliveries with wrong or missing credentials in five minutes: someone is ` +
          'guessing, or a tenant\'s webhook in Pipedrive holds old credentials ("connector check" says which; ' +
          '"connector webhook install <tenant>" renews them). Nothing was queued for them.',
        metric: new cloudwatch.Metric({
          namespace: props.metricsNamespace,
          metricName: 'WebhookUnauthorized',
          dimensionsMap: { service: props.serviceName },
          statistic: 'Sum',
          period: PERIOD,
        }),
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        threshold: WEBHOOK_UNAUTHORIZED_BURST,
      });

    alarm('ScheduleDeadLettersNotEmpty', {
      alarmDescription:
        'EventBridge Scheduler could not invoke a poll function (throttled, missing permission or deleted) and gave up: ' +
        'that poll did not run. The next schedule runs it again; inspect the messages on the schedule dead-letter queue for the cause.',
      metric: props.scheduleDeadLetters.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: Duration.minutes(1) }),
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      threshold: 0,
    });

    for (const { name, table } of props.tables) {
      alarm(`${pascal(name)}TableThrottles`, {
        alarmDescription:
          `DynamoDB throttled requests on the ${name} table: writes and reads are being retried; ` + 'if it persists, look at hot keys.',
        metric: table.metricThrottledRequestsForOperations({ operations: TABLE_OPERATIONS, period: PERIOD }),
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        threshold: 1,
      });
      alarm(`${pascal(name)}TableSystemErrors`, {
        alarmDescription: `DynamoDB answered the ${name} table's requests with system errors (HTTP 500): AWS-side; the writers retry.`,
        metric: table.metricSystemErrorsForOperations({ operations: TABLE_OPERATIONS, period: PERIOD }),
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        threshold: 1,
      });
    }

    for (const { name, fn } of props.functions) {
      alarm(`${pascal(name)}Throttles`, {
        alarmDescription: `${name} invocations were throttled by Lambda: the account's concurrency is exhausted or reserved elsewhere.`,
        metric: fn.metricThrottles({ statistic: 'Sum', period: PERIOD }),
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        threshold: 1,
      });
      alarm(`${pascal(name)}Errors`, {
        alarmDescription: `${name} invocations failed (unhandled errors, timeouts or whole-batch failures).`,
        metric: fn.metricErrors({ statistic: 'Sum', period: PERIOD }),
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        threshold: 1,
      });
    }

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      defaultInterval: Duration.hours(6),
    });
    this.dashboard.addWidgets(
      new cloudwatch.TextWidget({
        markdown: "# QAD ⇄ Pipedrive connector\nWork queues, dead-letter queues, functions and the connector's own EMF metrics.",
        width: 24,
        height: 2,
      }),
    );

    for (const { name, workQueue } of props.queues) {
      this.dashboard.addWidgets(
        new cloudwatch.GraphWidget({
          title: `${name} queue depth`,
          width: 8,
          left: [
            workQueue.queue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: PERIOD, label: 'visible' }),
            workQueue.queue.metricApproximateNumberOfMessagesNotVisible({ statistic: 'Maximum', period: PERIOD, label: 'in flight' }),
          ],
        }),
        new cloudwatch.GraphWidget({
          title: `${name} oldest message age (s)`,
          width: 8,
          left: [workQueue.queue.metricApproximateAgeOfOldestMessage({ statistic: 'Maximum', period: PERIOD, label: 'age' })],
          leftAnnotations: [{ value: props.maxMessageAgeSeconds, label: 'alarm', color: cloudwatch.Color.RED }],
        }),
        new cloudwatch.GraphWidget({
          title: `${name} DLQ depth`,
          width: 8,
          left: [
            workQueue.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
              statistic: 'Maximum',
              period: PERIOD,
              label: 'dead-lettered',
            }),
          ],
        }),
      );
    }

    for (const { name, fn } of props.functions) {
      this.dashboard.addWidgets(
        new cloudwatch.GraphWidget({
          title: `${name}: invocations, errors, throttles`,
          width: 12,
          left: [
            fn.metricInvocations({ statistic: 'Sum', period: PERIOD, label: 'invocations' }),
            fn.metricErrors({ statistic: 'Sum', period: PERIOD, label: 'errors', color: cloudwatch.Color.RED }),
            fn.metricThrottles({ statistic: 'Sum', period: PERIOD, label: 'throttles', color: cloudwatch.Color.ORANGE }),
          ],
        }),
        new cloudwatch.GraphWidget({
          title: `${name}: duration (ms)`,
          width: 12,
          left: [
            fn.metricDuration({ statistic: 'p50', period: PERIOD, label: 'p50' }),
            fn.metricDuration({ statistic: 'p99', period: PERIOD, label: 'p99' }),
            fn.metricDuration({ statistic: 'Maximum', period: PERIOD, label: 'max' }),
          ],
        }),
      );
    }

    // The functions' EMF metrics carry Powertools' `service` dimension plus their own (e.g. `outcome`);
    // SEARCH finds every dimension combination without the dashboard having to know them in advance.
    // No static label: CloudWatch then names each series after its dimensions (e.g. outcome=created).
    const search = (metricName: string): cloudwatch.SearchExpression =>
      new cloudwatch.SearchExpression({
        expression: `SEARCH('Namespace="${props.metricsNamespace}" MetricName="${metricName}"', 'Sum', ${PERIOD.toSeconds()})`,
        period: PERIOD,
      });
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Records processed by outcome',
        width: 8,
        left: [search('RecordsProcessed')],
      }),
      new cloudwatch.GraphWidget({
        title: 'Pipedrive calls and 429s',
        width: 8,
        left: [search('PipedriveCalls'), search('Pipedrive429')],
      }),
      new cloudwatch.GraphWidget({
        title: 'Pipedrive API tokens spent (daily budget: 30,000 x plan multiplier x seats)',
        width: 8,
        left: [search('PipedriveTokens')],
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: 'Dead-lettered at once (permanent errors)', width: 8, left: [search('DeadLettered')] }),
      new cloudwatch.GraphWidget({ title: 'QAD logins refused', width: 8, left: [search('QadLoginFailures')] }),
      new cloudwatch.GraphWidget({
        title: 'Latency of Pipedrive and QAD (ms)',
        width: 8,
        left: [search('PipedriveLatency'), search('QadLatency')],
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: 'Tenants parked (Pipedrive must be re-authorised)', width: 8, left: [search('TenantParked')] }),
      new cloudwatch.GraphWidget({ title: 'Mapped field drift (entity writes held)', width: 8, left: [search('FieldDrift')] }),
    );
  }
}
