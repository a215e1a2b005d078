import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { redact } from '../../shared/domain/redact.ts';

describe('redact', () => {
  test('secret-named keys are masked', () => {
    const out = redact({ password: 'p1', apiToken: 't1', api_key: 'k1', Authorization: 'Bearer abc', clientSecret: 's1', user: 'bob' });
    assert.deepEqual(out, {
      password: '[redacted]',
      apiToken: '[redacted]',
      api_key: '[redacted]',
      Authorization: '[redacted]',
      clientSecret: '[redacted]',
      user: 'bob',
    });
  });

  test('other spellings are masked too', () => {
    const out = redact({
      'api-key': 'a',
      apikey: 'b',
      APIKEY: 'c',
      qadPassword: 'd',
      pipedriveApiToken: 'e',
      'x-api-token': 'f',
      credentials: 'g',
      passwd: 'h',
    });
    for (const v of Object.values(out as Record<string, unknown>)) assert.equal(v, '[redacted]');
  });

  test('secret-named keys are masked at any depth, inside arrays too', () => {
    const input = {
      request: {
        headers: { Authorization: 'Bearer abc', accept: 'application/json' },
        body: { auth: { password: 'hunter2', username: 'u' } },
      },
      tenants: [
        { id: 't1', secrets: { apiToken: 'tok' } },
        { id: 't2', clientSecret: 'cs' },
      ],
    };
    const out = redact(input);
    assert.deepEqual(out, {
      request: {
        headers: { Authorization: '[redacted]', accept: 'application/json' },
        body: { auth: { password: '[redacted]', username: 'u' } },
      },
      tenants: [
        { id: 't1', secrets: '[redacted]' },
        { id: 't2', clientSecret: '[redacted]' },
      ],
    });
    const json = JSON.stringify(out);
    for (const secret of ['Bearer abc', 'hunter2', 'tok', '"cs"']) assert.equal(json.includes(secret), false, secret);
  });

  test('a secret-named key is masked whatever its value type', () => {
    assert.deepEqual(redact({ token: { nested: 'x' }, password: 12345, api_key: ['a', 'b'] }), {
      token: '[redacted]',
      password: '[redacted]',
      api_key: '[redacted]',
    });
  });

  test('non-secret keys and values are kept as they are', () => {
    const input = { name: 'Acme', count: 3, ok: true, none: null, list: [1, 'two', { three: 3 }] };
    assert.deepEqual(redact(input), input);
  });

  test('the input is not modified', () => {
    const input = { password: 'p', nested: { apiToken: 't' } };
    redact(input);
    assert.deepEqual(input, { password: 'p', nested: { apiToken: 't' } });
  });

  test('long strings are cut, with their length', () => {
    const long = 'a'.repeat(5000);
    const out = redact({ body: long }) as { body: string };
    assert.ok(out.body.length < 1100, `cut to about 1 KB, got ${out.body.length}`);
    assert.ok(out.body.startsWith('a'.repeat(1024)));
    assert.match(out.body, /\[5000 chars\]$/u);
  });

  test('a string at the limit is not cut', () => {
    const s = 'b'.repeat(1024);
    assert.equal(redact(s), s);
  });

  test('long strings inside arrays are cut as well', () => {
    const out = redact(['short', 'c'.repeat(2000)]) as string[];
    assert.equal(out[0], 'short');
    assert.match(out[1] ?? '', /\[2000 chars\]$/u);
  });

  test('arrays are bounded', () => {
    const out = redact(Array.from({ length: 500 }, (_, i) => i)) as number[];
    assert.ok(Array.isArray(out));
    assert.ok(out.length <= 50);
    assert.deepEqual(out.slice(0, 3), [0, 1, 2]);
  });

  test('deep nesting is bounded', () => {
    let deep: unknown = 'leaf';
    for (let i = 0; i < 20; i++) deep = { child: deep };
    const json = JSON.stringify(redact(deep));
    assert.ok(json.includes('[nested too deep]'));
    assert.equal(json.includes('leaf'), false);
  });

  test('primitives pass through', () => {
    assert.equal(redact(42), 42);
    assert.equal(redact(null), null);
    assert.equal(redact(undefined), undefined);
    assert.equal(redact('x'), 'x');
  });
});
