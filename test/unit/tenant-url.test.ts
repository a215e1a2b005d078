import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { tenantUrlProblem } from '../../shared/config/tenant-url.ts';

const INTERNAL = 'must not point at a private, loopback or link-local address';

describe('tenantUrlProblem: accepted', () => {
  for (const url of [
    'https://acme.qad.example.com/clouderp',
    'https://api.pipedrive.com',
    'https://acme.example.com:8443/qad/',
    'https://8.8.8.8/api',
    'https://[2001:4860:4860::8888]/api',
    'https://172.15.255.255',
    'https://172.32.0.1',
    'https://192.169.0.1',
    'https://100.63.255.255',
    'https://100.128.0.1',
    'https://169.253.1.1',
    'https://11.0.0.1',
  ]) {
    test(`${url} is fine`, () => {
      assert.equal(tenantUrlProblem(url, false), undefined);
    });
  }
});

describe('tenantUrlProblem: scheme', () => {
  test('http to a public host is rejected, allowed or not', () => {
    assert.equal(tenantUrlProblem('http://acme.example.com', false), 'must use https');
    assert.equal(tenantUrlProblem('http://acme.example.com', true), 'must use https');
  });

  test('other schemes are rejected', () => {
    assert.equal(tenantUrlProblem('ftp://acme.example.com', false), 'must use https');
    assert.equal(tenantUrlProblem('file:///etc/passwd', false), 'must use https');
  });

  test('http to loopback only when allowed', () => {
    for (const url of ['http://localhost:3000', 'http://127.0.0.1:4010/qad', 'http://[::1]:8080']) {
      assert.equal(tenantUrlProblem(url, true), undefined, url);
      assert.notEqual(tenantUrlProblem(url, false), undefined, url);
    }
    assert.equal(tenantUrlProblem('http://localhost:3000', false), 'must use https');
  });

  test('loopback allowed does not open private ranges over http', () => {
    assert.notEqual(tenantUrlProblem('http://10.0.0.1', true), undefined);
    assert.notEqual(tenantUrlProblem('http://192.168.1.1', true), undefined);
  });

  test('loopback allowed still needs http or https', () => {
    assert.equal(tenantUrlProblem('ftp://localhost/x', true), 'must use http or https');
  });
});

describe('tenantUrlProblem: user info, query, fragment', () => {
  test('user info is rejected', () => {
    assert.equal(tenantUrlProblem('https://user:pass@acme.example.com', false), 'must not contain user info');
    assert.equal(tenantUrlProblem('https://user@acme.example.com', false), 'must not contain user info');
  });

  test('a query is rejected', () => {
    assert.equal(tenantUrlProblem('https://acme.example.com/api?x=1', false), 'must not contain a query or fragment');
  });

  test('an empty query or fragment is rejected too (it would end up inside every path)', () => {
    for (const url of [
      'https://acme.example.com/?',
      'https://acme.example.com/#',
      'https://acme.example.com/api?#',
      'https://acme.example.com?',
    ])
      assert.equal(tenantUrlProblem(url, false), 'must not contain a query or fragment', url);
  });

  test('a fragment is rejected', () => {
    assert.equal(tenantUrlProblem('https://acme.example.com/api#top', false), 'must not contain a query or fragment');
  });
});

describe('tenantUrlProblem: internal addresses', () => {
  for (const url of [
    'https://10.0.0.1',
    'https://10.255.255.255',
    'https://172.16.0.1',
    'https://172.31.255.255',
    'https://192.168.0.1',
    'https://192.168.255.254',
    'https://127.0.0.1',
    'https://127.255.0.9',
    'https://169.254.169.254/latest/meta-data',
    'https://100.64.0.1',
    'https://100.127.255.255',
    'https://0.0.0.0',
    'https://[::1]',
    'https://[fe80::1]',
    'https://[FE80::abcd]',
    'https://[fd00::]',
    'https://[fd12:3456::1]',
    'https://[fc00::1]',
    'https://[::ffff:10.0.0.1]',
    'https://[::ffff:127.0.0.1]',
    'https://[::ffff:169.254.169.254]',
    'https://[::]',
    // Alternative spellings the URL parser turns into internal addresses.
    'https://127.1',
    'https://0x7f000001',
    'https://2130706433',
    'https://0',
    // IPv6 forms that embed an IPv4 loopback or private address.
    'https://[::127.0.0.1]',
    'https://[64:ff9b::127.0.0.1]',
    'https://[64:ff9b::a00:1]',
    'https://[2002:7f00:1::1]',
    'https://[2001::1]',
    // Special-purpose IPv4: benchmarking, IETF protocol assignments, documentation, multicast, reserved, broadcast.
    'https://198.18.0.1',
    'https://198.19.255.254',
    'https://192.0.0.8',
    'https://192.0.2.10',
    'https://203.0.113.7',
    'https://224.0.0.1',
    'https://239.255.255.250',
    'https://240.0.0.1',
    'https://255.255.255.255',
    // IPv6 site-local (deprecated), link-local beyond fe80:, multicast, documentation.
    'https://[fec0::1]',
    'https://[feff::1]',
    'https://[fe90::1]',
    'https://[febf:ffff::1]',
    'https://[ff02::1]',
    'https://[2001:db8::1]',
  ]) {
    test(`${url} is rejected`, () => {
      assert.equal(tenantUrlProblem(url, false), INTERNAL);
    });
  }

  test('private ranges stay rejected when loopback http is allowed', () => {
    assert.equal(tenantUrlProblem('https://10.0.0.1', true), INTERNAL);
    assert.equal(tenantUrlProblem('https://[fd00::1]', true), INTERNAL);
    assert.equal(tenantUrlProblem('https://169.254.169.254', true), INTERNAL);
  });
});

describe('tenantUrlProblem: localhost', () => {
  test('localhost is rejected unless allowed', () => {
    assert.equal(tenantUrlProblem('https://localhost', false), INTERNAL);
    assert.equal(tenantUrlProblem('https://LOCALHOST:8443', false), INTERNAL);
    assert.equal(tenantUrlProblem('https://localhost', true), undefined);
  });

  test('localhost with a trailing dot (the same host) is rejected unless allowed', () => {
    assert.notEqual(tenantUrlProblem('https://localhost./api', false), undefined);
  });
});

describe('tenantUrlProblem: not a URL', () => {
  for (const raw of ['', 'acme.example.com', 'https://', '://x', 'not a url', '/relative/path']) {
    test(`${JSON.stringify(raw)} is not a URL`, () => {
      assert.equal(tenantUrlProblem(raw, false), 'is not a URL');
    });
  }
});
