import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createHttpClient, type Lookup } from '../../shared/clients/http.ts';
import { PermanentError } from '../../shared/domain/errors.ts';

let server: Server;
let port = 0;
const hits: string[] = [];
before(async () => {
  server = createServer((req, res) => {
    hits.push(`${req.headers.host} ${req.headers.authorization ?? ''}`);
    res.end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** A resolver under the test's control: every name resolves to `address` (the lookup a connection really makes). */
const resolvesTo =
  (address: string, family: 4 | 6 = 4): Lookup =>
  (_hostname, options, callback) =>
    options.all ? callback(null, [{ address, family }]) : callback(null, address, family);

const refused = (pattern: RegExp) => (e: unknown) => e instanceof PermanentError && pattern.test(e.message);

describe('http client: the address is checked where the connection is made', () => {
  test('a public-looking name that resolves to loopback is refused before anything is sent, credentials included', async () => {
    hits.length = 0;
    const http = createHttpClient({ allowLoopback: false, lookup: resolvesTo('127.0.0.1') });
    await assert.rejects(
      http.send({ method: 'GET', url: `http://qad.acme-corp.example:${port}/x`, headers: { authorization: 'Bearer secret' } }),
      refused(/refused/u),
    );
    await assert.rejects(
      http.send({ method: 'GET', url: `https://qad.acme-corp.example:${port}/x`, headers: { authorization: 'Bearer secret' } }),
      refused(/qad\.acme-corp\.example resolves to 127\.0\.0\.1 is loopback/u),
    );
    assert.deepEqual(hits, []);
  });

  for (const [address, family] of [
    ['10.1.2.3', 4],
    ['172.20.0.5', 4],
    ['192.168.7.7', 4],
    ['169.254.169.254', 4],
    ['100.100.0.1', 4],
    ['198.18.4.4', 4],
    ['192.0.0.170', 4],
    ['233.1.1.1', 4],
    ['0.0.0.0', 4],
    ['fd12::7', 6],
    ['fe80::9', 6],
    ['fec1::1', 6],
    ['::ffff:192.168.0.1', 6],
    ['64:ff9b::c0a8:1', 6],
  ] as const) {
    test(`a name resolving to ${address} is refused on every request`, async () => {
      const http = createHttpClient({ allowLoopback: true, lookup: resolvesTo(address, family) });
      for (let i = 0; i < 2; i++)
        await assert.rejects(http.send({ method: 'GET', url: `https://erp.tenant-${i}.example/api` }), refused(/resolves to/u));
    });
  }

  test('a literal internal address is refused without a lookup, whatever the URL was registered as', async () => {
    const http = createHttpClient({ allowLoopback: false });
    for (const host of ['127.0.0.1', '[::1]', '[::127.0.0.1]', '[64:ff9b::127.0.0.1]', '10.0.0.1', '[fe90::1]'])
      await assert.rejects(http.send({ method: 'GET', url: `https://${host}:${port}/x` }), refused(/refused to connect/u), host);
  });

  test('the lookup hook is the one the connection uses: loopback, when the local run allows it, is reached through it', async () => {
    hits.length = 0;
    const http = createHttpClient({ allowLoopback: true, lookup: resolvesTo('127.0.0.1') });
    const res = await http.send({ method: 'GET', url: `http://localhost:${port}/x` });
    assert.equal(res.status, 200);
    assert.equal(hits.length, 1);
  });

  test('plain http is refused except to loopback in the local run', async () => {
    const http = createHttpClient({ allowLoopback: true, lookup: resolvesTo('8.8.8.8') });
    await assert.rejects(http.send({ method: 'GET', url: 'http://erp.example/x' }), refused(/plain http/u));
  });
});
