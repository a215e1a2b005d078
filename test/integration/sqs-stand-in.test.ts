import './quiet-env.ts';
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ChangeMessageVisibilityCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { startLocalAws, type LocalAws } from '../../scripts/local/aws-stand-ins.ts';
import { SqsMessageControl } from '../../shared/adapters/aws/sqs-queue.ts';

let aws: LocalAws;
before(async () => {
  aws = await startLocalAws({ prefix: 'limits' });
});
after(() => aws.close());

async function receiveOne(): Promise<string> {
  await aws.sqs.send(new SendMessageCommand({ QueueUrl: aws.queueUrl, MessageBody: '{}' }));
  const res = await aws.sqs.send(new ReceiveMessageCommand({ QueueUrl: aws.queueUrl, MaxNumberOfMessages: 1 }));
  const handle = res.Messages?.[0]?.ReceiptHandle;
  assert.ok(handle);
  return handle;
}

const change = (ReceiptHandle: string, VisibilityTimeout: number) =>
  aws.sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: aws.queueUrl, ReceiptHandle, VisibilityTimeout }));

test('like AWS, the SQS stand-in refuses a visibility past 12 hours from the receipt, and does not clamp it', async () => {
  const handle = await receiveOne();
  await new Promise((r) => setTimeout(r, 1_100));
  await assert.rejects(change(handle, 43_200), /Total VisibilityTimeout for the message is beyond the limit \[43200 seconds\]/u);
  // The adapter asks for what the policy decided; the longest it may ask past a second after the receipt is refused too.
  await assert.rejects(new SqsMessageControl(aws.sqs, aws.queueUrl, aws.dlqUrl).setVisibility(handle, 43_200), /beyond the limit/u);
  await change(handle, 43_000);
  await change(handle, 0);
});
