import './quiet-env.ts';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DecryptCommand, EncryptCommand, KMSClient } from '@aws-sdk/client-kms';
import { DynamoDBClient, PutItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { SendMessageBatchCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { startLocalAws, type LocalAws } from '../../scripts/local/aws-stand-ins.ts';
import { dynamoCalls, sqsCalls, startAwsFront, type AwsFront } from '../../scripts/local/iam/aws-front.ts';
import { LocalIam } from '../../scripts/local/iam/identities.ts';
import { readPolicy } from '../../scripts/local/iam/policy.ts';
import { startLocalKms, type LocalKms } from '../../scripts/local/kms-stand-in.ts';

const ACCOUNT = '210987654321';
const REGION = 'us-east-1';
const context = { tenantId: 'globex', system: 'erp' };

/** Whatever the SDK raised, by the name AWS's error carries. */
async function errorName(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    return error instanceof Error ? error.name : String(error);
  }
  return 'no error';
}

describe('the local AWS stand-ins behind the local IAM, called through the real SDK', () => {
  let aws: LocalAws;
  let kms: LocalKms;
  let dynamoFront: AwsFront;
  let sqsFront: AwsFront;
  const iam = new LocalIam(ACCOUNT);
  const keyPolicy = readPolicy(
    {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' }],
    },
    'key policy',
  );
  const client = <T>(make: new (config: object) => T, endpoint: string, accessKeyId: string): T =>
    new make({ endpoint, region: REGION, credentials: { accessKeyId, secretAccessKey: 'unused' } });

  before(async () => {
    aws = await startLocalAws({ prefix: 'iamtest' });
    kms = await startLocalKms({ iam, region: REGION, keyPolicy: () => keyPolicy });
    const table = (t: string) => `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${t}`;
    dynamoFront = await startAwsFront({ target: aws.env.AWS_ENDPOINT_URL_DYNAMODB, iam, calls: (op, b) => dynamoCalls(op, b, table) });
    sqsFront = await startAwsFront({
      target: aws.env.AWS_ENDPOINT_URL_SQS,
      iam,
      calls: (op, b) => sqsCalls(op, b, (q) => `arn:aws:sqs:${REGION}:${ACCOUNT}:${q}`),
    });
    const statements = readPolicy(
      {
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Action: 'kms:Encrypt', Resource: kms.keyArn },
          {
            Effect: 'Allow',
            Action: 'kms:Decrypt',
            Resource: kms.keyArn,
            Condition: { StringEquals: { 'kms:EncryptionContext:system': 'erp' } },
          },
          { Effect: 'Allow', Action: 'dynamodb:PutItem', Resource: table(aws.env.AUDIT_TABLE) },
          { Effect: 'Allow', Action: 'sqs:SendMessage', Resource: `arn:aws:sqs:${REGION}:${ACCOUNT}:iamtest-products` },
        ],
      },
      'role',
    );
    iam.register('AKIAWRITER', {
      name: 'Writer',
      principal: `arn:aws:sts::${ACCOUNT}:assumed-role/WriterRole/Writer`,
      statements,
      counted: true,
    });
  });
  after(async () => {
    await Promise.all([kms.close(), dynamoFront.close(), sqsFront.close()]);
    await aws.close();
  });

  test('KMS: a ciphertext opens only under its own encryption context, and only for a role allowed that context', async () => {
    const writer = client(KMSClient, kms.url, 'AKIAWRITER');
    const sealed = await writer.send(
      new EncryptCommand({ KeyId: kms.keyArn, Plaintext: Buffer.from('s3cret-pw'), EncryptionContext: context }),
    );
    const blob = sealed.CiphertextBlob!;
    assert.equal(Buffer.from(blob).includes(Buffer.from('s3cret-pw')), false);
    const opened = await writer.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: context }));
    assert.equal(Buffer.from(opened.Plaintext!).toString(), 's3cret-pw');
    assert.equal(
      await errorName(writer.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: { ...context, tenantId: 'initech' } }))),
      'InvalidCiphertextException',
    );
    // Another system: the role's condition refuses it before anything is opened.
    const other = await writer.send(
      new EncryptCommand({ KeyId: kms.keyArn, Plaintext: Buffer.from('x'), EncryptionContext: { ...context, system: 'crm' } }),
    );
    assert.equal(
      await errorName(
        writer.send(new DecryptCommand({ CiphertextBlob: other.CiphertextBlob!, EncryptionContext: { ...context, system: 'crm' } })),
      ),
      'AccessDeniedException',
    );
    assert.equal(
      await errorName(writer.send(new EncryptCommand({ KeyId: 'alias/other', Plaintext: Buffer.from('x') }))),
      'NotFoundException',
    );
    assert.equal(
      await errorName(
        client(KMSClient, kms.url, 'AKIASTRANGER').send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: context })),
      ),
      'AccessDeniedException',
      'an access key nobody registered is refused',
    );
  });

  test('DynamoDB and SQS: the gate forwards what the role allows and answers AccessDeniedException for the rest', async () => {
    const dynamo = client(DynamoDBClient, dynamoFront.url, 'AKIAWRITER');
    const audit = aws.env.AUDIT_TABLE;
    const item = { pk: { S: 'T#globex' }, sk: { S: '2026-01-01' }, tenantId: { S: 'globex' }, at: { S: '2026-01-01' } };
    const put = new PutItemCommand({ TableName: audit, Item: item });
    assert.equal(await errorName(dynamo.send(put)), 'no error');
    assert.equal(
      await errorName(dynamo.send(new PutItemCommand({ TableName: aws.env.SYNC_STATE_TABLE, Item: item }))),
      'AccessDeniedException',
    );
    assert.equal(
      await errorName(dynamo.send(new QueryCommand({ TableName: audit, IndexName: 'byTenantTime', KeyConditionExpression: 'x = :x' }))),
      'AccessDeniedException',
      'a query on an index needs a grant on table/T/index/I',
    );

    const sqs = client(SQSClient, sqsFront.url, 'AKIAWRITER');
    const url = (name: string) => aws.queue(name).url.replace(aws.env.AWS_ENDPOINT_URL_SQS, sqsFront.url);
    assert.equal(await errorName(sqs.send(new SendMessageCommand({ QueueUrl: url('products'), MessageBody: '{}' }))), 'no error');
    assert.equal(
      await errorName(sqs.send(new SendMessageBatchCommand({ QueueUrl: url('records'), Entries: [{ Id: '1', MessageBody: '{}' }] }))),
      // SQS answers in its query-compatible form (x-amzn-query-error: AccessDenied;Sender), which the SDK names so.
      'AccessDenied',
      'a batch send is sqs:SendMessage on the queue it names',
    );

    const report = iam.stats().byFunction.Writer!;
    assert.ok(report.deniedCalls.includes(`dynamodb:PutItem on arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${aws.env.SYNC_STATE_TABLE}`));
    assert.ok(report.deniedCalls.includes(`sqs:SendMessage on arn:aws:sqs:${REGION}:${ACCOUNT}:iamtest-records`));
  });
});
