import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  evaluate,
  evaluateWithKeyPolicy,
  PolicyNotUnderstood,
  readPolicy,
  wildcardMatch,
  type IamRequest,
} from '../../scripts/local/iam/policy.ts';

const KEY = 'arn:aws:kms:eu-west-3:111122223333:key/7d1c0e4a';
const TABLE = 'arn:aws:dynamodb:eu-west-3:111122223333:table/ledger';
const ROLE = 'arn:aws:iam::111122223333:role/Writer';

const policy = (...Statement: unknown[]) => readPolicy({ Version: '2012-10-17', Statement }, 'test');
const decrypt = (context: Record<string, string>): IamRequest => ({ action: 'kms:Decrypt', resource: KEY, context });

describe('local IAM: actions and resources', () => {
  const statements = policy(
    { Effect: 'Allow', Action: ['dynamodb:GetItem', 'dynamodb:Query'], Resource: TABLE },
    { Effect: 'Allow', Action: 'sqs:*', Resource: 'arn:aws:sqs:eu-west-3:111122223333:ledger-*' },
  );

  it('allows a listed action on its resource, case-insensitively for the action', () => {
    assert.equal(evaluate(statements, { action: 'DynamoDB:getitem', resource: TABLE, context: {} }).allowed, true);
  });

  it('denies implicitly an action that no statement lists, or another resource', () => {
    assert.deepEqual(evaluate(statements, { action: 'dynamodb:PutItem', resource: TABLE, context: {} }), {
      allowed: false,
      explicit: false,
    });
    assert.equal(evaluate(statements, { action: 'dynamodb:GetItem', resource: `${TABLE}/index/byTime`, context: {} }).allowed, false);
  });

  it('reads * and ? in actions and resources, resources case-sensitively', () => {
    const queue = 'arn:aws:sqs:eu-west-3:111122223333:ledger-dlq';
    assert.equal(evaluate(statements, { action: 'sqs:SendMessage', resource: queue, context: {} }).allowed, true);
    assert.equal(evaluate(statements, { action: 'sqs:SendMessage', resource: queue.toUpperCase(), context: {} }).allowed, false);
    assert.equal(wildcardMatch('table/a?c', 'table/abc'), true);
    assert.equal(wildcardMatch('table/a?c', 'table/abbc'), false);
    assert.equal(wildcardMatch('table/a.c', 'table/abc'), false, 'a dot is a dot, not a regex');
  });

  it('lets an explicit Deny win over any Allow', () => {
    const withDeny = [...statements, ...policy({ Sid: 'NoReads', Effect: 'Deny', Action: 'dynamodb:*', Resource: '*' })];
    assert.deepEqual(evaluate(withDeny, { action: 'dynamodb:GetItem', resource: TABLE, context: {} }), {
      allowed: false,
      explicit: true,
      statement: 'NoReads',
    });
  });
});

describe('local IAM: conditions', () => {
  const onlyOneSystem = policy({
    Sid: 'DecryptOnlyLedger',
    Effect: 'Allow',
    Action: 'kms:Decrypt',
    Resource: KEY,
    Condition: { StringEquals: { 'kms:EncryptionContext:system': ['ledger', 'billing'] } },
  });

  it('StringEquals on the encryption context: a listed value passes, another or a missing key is denied', () => {
    assert.equal(evaluate(onlyOneSystem, decrypt({ 'kms:EncryptionContext:system': 'billing' })).allowed, true);
    assert.equal(evaluate(onlyOneSystem, decrypt({ 'kms:EncryptionContext:system': 'crm' })).allowed, false);
    assert.equal(evaluate(onlyOneSystem, decrypt({})).allowed, false);
  });

  it('ANDs keys and operators, and reads StringLike, Bool and a negated operator on an absent key', () => {
    const statements = policy({
      Effect: 'Allow',
      Action: 'kms:Decrypt',
      Resource: '*',
      Condition: {
        StringLike: { 'kms:EncryptionContext:tenantId': 'acme-*' },
        Bool: { 'aws:SecureTransport': 'true' },
        StringNotEquals: { 'kms:ViaService': 'sqs.eu-west-3.amazonaws.com' },
      },
    });
    const tls = { 'aws:SecureTransport': 'true' };
    assert.equal(evaluate(statements, decrypt({ ...tls, 'kms:EncryptionContext:tenantId': 'acme-eu' })).allowed, true);
    assert.equal(evaluate(statements, decrypt({ ...tls, 'kms:EncryptionContext:tenantId': 'globex' })).allowed, false);
    assert.equal(
      evaluate(statements, decrypt({ 'aws:SecureTransport': 'false', 'kms:EncryptionContext:tenantId': 'acme-eu' })).allowed,
      false,
    );
    assert.equal(
      evaluate(
        statements,
        decrypt({ ...tls, 'kms:EncryptionContext:tenantId': 'acme-eu', 'kms:ViaService': 'sqs.eu-west-3.amazonaws.com' }),
      ).allowed,
      false,
    );
  });

  it('a Deny on plain HTTP refuses the call however much is allowed', () => {
    const statements = policy(
      { Effect: 'Allow', Action: '*', Resource: '*' },
      { Sid: 'TlsOnly', Effect: 'Deny', Action: '*', Resource: '*', Condition: { Bool: { 'aws:SecureTransport': false } } },
    );
    assert.equal(evaluate(statements, decrypt({ 'aws:SecureTransport': 'true' })).allowed, true);
    assert.deepEqual(evaluate(statements, decrypt({ 'aws:SecureTransport': 'false' })), {
      allowed: false,
      explicit: true,
      statement: 'TlsOnly',
    });
  });

  it('IfExists passes on an absent key; Null tests presence', () => {
    const statements = policy({
      Effect: 'Allow',
      Action: 'kms:Decrypt',
      Resource: '*',
      Condition: {
        StringEqualsIfExists: { 'kms:ViaService': 'lambda.eu-west-3.amazonaws.com' },
        Null: { 'kms:EncryptionContext:system': 'false' },
      },
    });
    assert.equal(evaluate(statements, decrypt({ 'kms:EncryptionContext:system': 'x' })).allowed, true);
    assert.equal(evaluate(statements, decrypt({})).allowed, false);
    assert.equal(evaluate(statements, decrypt({ 'kms:EncryptionContext:system': 'x', 'kms:ViaService': 'sqs' })).allowed, false);
  });
});

describe('local IAM: what it does not understand fails loudly', () => {
  it('refuses NotAction, NotResource and a missing Resource when the policy is read', () => {
    assert.throws(() => policy({ Effect: 'Allow', NotAction: 'iam:*', Resource: '*' }), PolicyNotUnderstood);
    assert.throws(() => policy({ Effect: 'Allow', Action: '*', NotResource: TABLE }), PolicyNotUnderstood);
    assert.throws(() => policy({ Effect: 'Allow', Action: '*' }), PolicyNotUnderstood);
  });

  it('refuses an unknown operator, a set operator and an unmodelled condition key when evaluated', () => {
    const withCondition = (Condition: unknown) => policy({ Effect: 'Allow', Action: '*', Resource: '*', Condition });
    const request = decrypt({ 'kms:EncryptionContext:system': 'ledger' });
    assert.throws(() => evaluate(withCondition({ NumericLessThan: { 'kms:ViaService': '3' } }), request), /NumericLessThan/u);
    assert.throws(
      () => evaluate(withCondition({ 'ForAnyValue:StringEquals': { 'kms:EncryptionContext:system': 'ledger' } }), request),
      PolicyNotUnderstood,
    );
    assert.throws(() => evaluate(withCondition({ StringEquals: { 'aws:SourceIp': '10.0.0.1' } }), request), /aws:SourceIp/u);
  });
});

describe('local IAM: KMS key policy with the role policy', () => {
  const account = '111122223333';
  const rootKeyPolicy = policy({ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${account}:root` }, Action: 'kms:*', Resource: '*' });
  const roleAllows = policy({ Effect: 'Allow', Action: 'kms:Decrypt', Resource: KEY });
  const request = { ...decrypt({}), principal: ROLE, account };

  it('a key policy naming the account root hands the decision to the role policy', () => {
    assert.equal(evaluateWithKeyPolicy(rootKeyPolicy, roleAllows, request).allowed, true);
    assert.equal(evaluateWithKeyPolicy(rootKeyPolicy, [], request).allowed, false);
  });

  it('a key policy that names neither the account nor the role denies whatever the role allows', () => {
    const serviceOnly = policy({ Effect: 'Allow', Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: 'kms:*', Resource: '*' });
    assert.equal(evaluateWithKeyPolicy(serviceOnly, roleAllows, request).allowed, false);
  });

  it('a key policy naming the role is enough, and its Deny wins over the role', () => {
    const namesRole = policy({ Effect: 'Allow', Principal: { AWS: ROLE }, Action: 'kms:Decrypt', Resource: '*' });
    assert.equal(evaluateWithKeyPolicy(namesRole, [], request).allowed, true);
    const denies = [...rootKeyPolicy, ...policy({ Effect: 'Deny', Principal: '*', Action: 'kms:Decrypt', Resource: '*' })];
    assert.equal(evaluateWithKeyPolicy(denies, roleAllows, request).allowed, false);
  });
});
