import { Duration, aws_sqs as sqs } from 'aws-cdk-lib';
import { Construct } from 'constructs';

export interface WorkQueueProps {
  /** Physical name stem; the queues are `<stem>` and `<stem>-dlq`. */
  readonly queueName: string;
  /** The consuming function's timeout; the visibility timeout is this times `visibilityFactor`, plus the batching window. */
  readonly consumerTimeout: Duration;
  readonly visibilityFactor: number;
  /** The event source's batching window: a message received at its start waits that long before the invocation. */
  readonly batchingWindow?: Duration;
  /** Receives before a message is moved to the DLQ. */
  readonly maxReceiveCount: number;
}

/**
 * A standard work queue and its dead-letter queue.
 *
 * SSE uses SQS-managed keys (SSE-SQS): the queues carry record data, not credentials, and a customer-managed
 * key here would make CDK's send/consume grants add unconditioned kms:Decrypt/GenerateDataKey on that key.
 * Both queues deny non-TLS access (enforceSSL).
 */
export class WorkQueue extends Construct {
  static readonly RETENTION = Duration.days(4);
  static readonly DLQ_RETENTION = Duration.days(14);

  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: WorkQueueProps) {
    super(scope, id);

    this.deadLetterQueue = new sqs.Queue(this, 'Dlq', {
      queueName: `${props.queueName}-dlq`,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // Longer than the source's retention, so a message keeps its age budget for inspection and redrive.
      retentionPeriod: WorkQueue.DLQ_RETENTION,
    });

    this.queue = new sqs.Queue(this, 'Queue', {
      queueName: props.queueName,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: WorkQueue.RETENTION,
      visibilityTimeout: Duration.seconds(
        props.consumerTimeout.toSeconds() * props.visibilityFactor + (props.batchingWindow?.toSeconds() ?? 0),
      ),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: props.maxReceiveCount },
    });
  }
}
