import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { delayRequests, drawLatency, LATENCY_PRESETS } from '../../scripts/simulators/latency.ts';

describe('latency model', () => {
  test('a request reaches the server handler only after the way there', async () => {
    const handled: string[] = [];
    const server = createServer((req) => handled.push(String(req.url)));
    delayRequests(server, { meanMs: 4, jitterMs: 0 });
    const answered = new Promise<void>((resolve) => {
      const fakeResponse = { end: () => resolve() };
      server.emit('request', { url: '/x' }, fakeResponse);
      assert.deepEqual(handled, []);
      setTimeout(() => (fakeResponse as { end: () => void }).end(), 20);
    });
    await answered;
    assert.deepEqual(handled, ['/x']);
  });

  test('a draw stays within mean ± jitter and never goes below zero', () => {
    const latency = { meanMs: 250, jitterMs: 100 };
    assert.equal(
      drawLatency(latency, () => 0),
      150,
    );
    assert.equal(
      drawLatency(latency, () => 0.5),
      250,
    );
    assert.equal(
      drawLatency(latency, () => 1),
      350,
    );
    assert.equal(
      drawLatency({ meanMs: 5, jitterMs: 20 }, () => 0),
      0,
    );
  });

  test('the realistic preset is the issue-19 figures; off is none', () => {
    assert.deepEqual(LATENCY_PRESETS.realistic.pipedrive, { meanMs: 250, jitterMs: 100 });
    assert.deepEqual(LATENCY_PRESETS.realistic.qad, { meanMs: 150, jitterMs: 50 });
    assert.deepEqual(LATENCY_PRESETS.realistic.dynamo, { meanMs: 8, jitterMs: 2 });
    assert.equal(LATENCY_PRESETS.off, undefined);
  });

  test('a delayed server is handled late, yet sees the whole request and answers it whole', async () => {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        res.setHeader('content-type', 'text/plain');
        res.end(`echo ${Buffer.concat(chunks).toString('utf8')}`);
      });
    });
    delayRequests(server, { meanMs: 20, jitterMs: 5 });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
      const answers = await Promise.all([1, 2, 3].map((i) => fetch(url, { method: 'POST', body: `body ${i}` }).then((r) => r.text())));
      assert.deepEqual(answers, ['echo body 1', 'echo body 2', 'echo body 3']);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
