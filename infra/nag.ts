import { Stack, Validations, aws_lambda as lambda } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * Every cdk-nag (AwsSolutions) finding this app accepts, each with its reason, in one place.
 * cdk-nag 3.x reads acknowledgements recorded with `Validations.of(scope).acknowledge(...)` on the resource
 * or any ancestor; granular findings (IAM5) are acknowledged by their exact finding id only, so a new
 * wildcard elsewhere still fails the synth.
 */

/** AwsSolutions-L1 on a function whose runtime is pinned on purpose. */
export function acknowledgePinnedRuntime(fn: lambda.Function): void {
  Validations.of(fn).acknowledge({
    id: 'AwsSolutions-L1',
    reason:
      'Runtime pinned to nodejs22.x: the handlers are bundled for and tested against Node 22 (esbuild target node22, ' +
      'Powertools 2.35). Moving to a newer runtime is a deliberate, tested change, not something a synth should pick.',
  });
}

/**
 * AwsSolutions-IAM5 on the EventBridge Scheduler role: `LambdaInvoke` grants lambda:InvokeFunction on the
 * function and `<function ARN>:*`, i.e. its own versions and aliases. The wildcard cannot reach any other
 * function.
 */
export function acknowledgeSchedulerInvoke(scope: IConstruct, fn: lambda.Function): void {
  const stack = Stack.of(fn);
  const logicalId = stack.getLogicalId(fn.node.defaultChild as lambda.CfnFunction);
  Validations.of(scope).acknowledge({
    id: `AwsSolutions-IAM5[Resource::<${logicalId}.Arn>:*]`,
    reason:
      'EventBridge Scheduler target role (LambdaInvoke) may invoke this one function and its own versions/aliases ' +
      '(<function ARN>:*); the wildcard covers qualifiers of this function only.',
  });
}

/** AwsSolutions-SQS3 on a queue that is itself a dead-letter queue, of a producer cdk-nag cannot see as one. */
export function acknowledgeDeadLetterQueue(queue: IConstruct, of: string): void {
  Validations.of(queue).acknowledge({
    id: 'AwsSolutions-SQS3',
    reason: `This queue is the dead-letter queue of ${of} (configured on the producer, which cdk-nag does not trace); a DLQ has no DLQ.`,
  });
}

/** AwsSolutions-APIG4 on the webhook route: Pipedrive can only send a fixed HTTP Basic pair, checked by the function. */
export function acknowledgeBasicAuthInFunction(route: IConstruct): void {
  Validations.of(route).acknowledge({
    id: 'AwsSolutions-APIG4',
    reason:
      'Pipedrive webhooks authenticate with an HTTP Basic pair only (no IAM, JWT or signature): the function compares it ' +
      "in constant time with the tenant's pair, stored KMS-encrypted; the stage throttles callers before any code runs.",
  });
}
