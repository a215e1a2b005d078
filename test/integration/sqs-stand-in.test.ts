import './quiet-env.ts';
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ChangeMessageVisibilityCommand, ReceiveMessageCommand, SendMessageBatchCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { startLocalAws, type LocalAws } from '../../scripts/local/aws-stand-ins.ts';
import { drainQueue } from '../../scripts/local/sqs-event-source.ts';
import { SqsDeadLetters, SqsMessageControl } from '../../shared/adapters/aws/sqs-queue.ts';

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

test('dead letters are read with their reason and cause and left where they were; one SQS moved has no cause', async () => {
  const control = new SqsMessageControl(aws.sqs, aws.queueUrl, aws.dlqUrl);
  await control.deadLetter('{"key":"A"}', 'Pipedrive refused: bad email', 'permanent');
  await control.deadLetter('{"key":"B"}', 'QAD did not answer', 'retryBudget');
  await aws.sqs.send(new SendMessageCommand({ QueueUrl: aws.dlqUrl, MessageBody: '{"key":"C"}' }));
  const letters = new SqsDeadLetters(aws.sqs, aws.dlqUrl);
  const byBody = async () => (await letters.read()).sort((a, b) => a.body.localeCompare(b.body));
  const expected = [
    { body: '{"key":"A"}', reason: 'Pipedrive refused: bad email', cause: 'permanent' },
    { body: '{"key":"B"}', reason: 'QAD did not answer', cause: 'retryBudget' },
    { body: '{"key":"C"}' },
  ];
  assert.deepEqual(await byBody(), expected);
  assert.deepEqual(await byBody(), expected, 'a read takes nothing away');
  assert.equal(await letters.erase(() => true), 3);
});

test('the local event source gathers a batch as Lambda does: without a window a short receive ends it, with one it waits', async () => {
  const { url, arn } = aws.queue('products');
  const send = (count: number, from: number) =>
    aws.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: url,
        Entries: Array.from({ length: count }, (_, i) => ({ Id: String(i), MessageBody: JSON.stringify({ n: from + i }) })),
      }),
    );
  /** 5 messages queued, 10 more 150 ms after the event source starts: the batch sizes its handler saw. */
  async function batchesWith(batchingWindowMs: number): Promise<number[]> {
    const sizes: number[] = [];
    await send(5, 0);
    const later = new Promise<void>((resolve) => setTimeout(() => void send(10, 5).then(() => resolve()), 150));
    await drainQueue({
      sqs: aws.sqs,
      queueUrl: url,
      queueArn: arn,
      handlerFor: () => async (event) => {
        sizes.push(event.Records.length);
        return { batchItemFailures: [] };
      },
      concurrency: 1,
      batchSize: 25,
      batchingWindowMs,
      deadlineMs: Date.now() + 20_000,
    });
    await later;
    return sizes;
  }
  assert.deepEqual(await batchesWith(0), [5, 10]);
  assert.deepEqual(await batchesWith(600), [15]);
});
