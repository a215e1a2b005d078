import assert from 'node:assert/strict';
import { request } from 'node:http';
import { describe, test } from 'node:test';
import { createMemoryAdapters } from '../../shared/adapters/memory/index.ts';
import { parseTenantConfig, type StoredTenant } from '../../shared/config/tenant.ts';
import { activityByHour, attentionFor } from '../../shared/operations/overview.ts';
import type { TenantStatus } from '../../shared/operations/status.ts';
import type { AuditEntry } from '../../shared/ports/index.ts';
import type { Dependencies } from '../../shared/runtime/dependencies.ts';
import { barChart, html, page } from '../../scripts/console/html.ts';
import { startConsole } from '../../scripts/console/server.ts';

describe('console pages escape what comes from outside', () => {
  test('every interpolated value is escaped; only markup made by html goes in whole', () => {
    const name = `<img src=x onerror="alert(1)"> & 'Müller'`;
    const out = html`<td title="${name}">${name}${html`<b>${name}</b>`}</td>`.text;
    assert.doesNotMatch(out, /<img/u);
    assert.equal(out.match(/&lt;img src=x onerror=&quot;alert\(1\)&quot;&gt; &amp; &#39;Müller&#39;/gu)?.length, 3);
    assert.match(out, /<b>&lt;img/u);
    assert.doesNotMatch(page('<script>', html``), /<title><script>/u);
    assert.doesNotMatch(page('x', html``), /<script/u, 'the page carries no script');
  });

  test('a chart draws one bar per hour, the largest full height, each titled with its value', () => {
    const svg = barChart(
      'written <x>',
      [
        { x: 'h1', y: 0 },
        { x: 'h2', y: 4 },
        { x: 'h3', y: 2 },
      ],
      '#000',
    ).text;
    const heights = [...svg.matchAll(/height="(\d+)"\s/gu)].map((m) => Number(m[1]));
    assert.deepEqual(heights.slice(1), [0, 66, 33]);
    assert.match(svg, /<title>h2: 4<\/title>/u);
    assert.match(svg, /written &lt;x&gt;/u);
  });
});

const at = (iso: string, action: AuditEntry['action'], key = 'C1', entity = 'organization') =>
  ({ tenantId: 't1', entity, key, action, at: iso }) as AuditEntry & { at: string };

describe('a tenant at a glance, from the audit', () => {
  test('records written and their write tokens per hour; other outcomes and entries outside the window do not count', () => {
    const from = Date.parse('2026-03-01T10:00:00Z');
    const buckets = activityByHour(
      [
        at('2026-03-01T09:59:59Z', 'created'),
        at('2026-03-01T10:05:00Z', 'created'),
        at('2026-03-01T10:55:00Z', 'updated', 'P1', 'person'),
        at('2026-03-01T10:56:00Z', 'unchanged'),
        at('2026-03-01T11:30:00Z', 'rejected', '17', 'salesOrder'),
        at('2026-03-01T12:10:00Z', 'created', '18', 'salesOrder'),
      ],
      from,
      from + 3 * 3_600_000,
    );
    assert.deepEqual(
      buckets.map((b) => [b.hour.slice(11, 13), b.written, b.tokens]),
      [
        ['10', 2, 10],
        ['11', 0, 0],
        ['12', 1, 5],
      ],
    );
  });

  test('needs attention: choices apart from other holds, won deals last rejected, dead letters by cause', async () => {
    const ports = createMemoryAdapters({ now: () => Date.parse('2026-03-01T12:00:00Z') });
    const tenant: StoredTenant = {
      config: parseTenantConfig({
        tenantId: 't1',
        qad: { baseUrl: 'https://qad.example.com/t1/clouderp', clientId: 'c', username: 'u', workspaceId: 'w' },
        pipedrive: { apiBaseUrl: 'https://acme.pipedrive.com' },
      }),
      encryptedSecrets: { qad: 'x', pipedrive: 'x' },
      updatedAt: '2026-03-01T00:00:00Z',
    };
    const message = (tenantId: string, entity: string, key: string) =>
      JSON.stringify({ v: 1, tenantId, entity, key, pollId: 'p', hash: 'h', record: {}, enqueuedAt: '2026-03-01T00:00:00Z' });
    await ports.holds.hold('t1', 'm1', message('t1', 'organization', 'C1'), 'possible-duplicate:organization', {
      reason: 'possible duplicate',
      candidates: [
        { id: 4, name: 'ACME' },
        { id: 9, name: 'Acme <b>' },
      ],
    });
    const records = ports.queue('records');
    await records.deadLetter(message('t1', 'person', 'P1'), 'Pipedrive refused: bad email', 'permanent');
    await records.deadLetter(message('t1', 'person', 'P2'), 'Pipedrive refused: bad email', 'permanent');
    await records.deadLetter(message('t2', 'person', 'P3'), 'Pipedrive refused: bad email', 'permanent');
    await ports.queue('orders').deadLetter(message('t1', 'salesOrder', '7'), 'QAD did not answer', 'retryBudget');
    const status = {
      held: [
        { entity: 'organization', key: 'C1', cause: 'possible-duplicate:organization' },
        { entity: 'person', key: 'P5', cause: 'waits for another record' },
      ],
    } as TenantStatus;
    const recent = [
      at('2026-03-01T09:00:00Z', 'rejected', '17', 'salesOrder'),
      at('2026-03-01T10:00:00Z', 'created', '17', 'salesOrder'),
      { ...at('2026-03-01T11:00:00Z', 'rejected', '18', 'salesOrder'), reason: 'QAD rejected it', error: 'item SERVICE-1 does not exist' },
    ];
    const attention = await attentionFor({ ...ports, deadLettersOf: (q) => ports.queue(q).deadLetterStore }, tenant, status, recent);
    assert.deepEqual(
      attention.choices.map((c) => [c.entity, c.key, c.reason, c.candidates.map((x) => x.id)]),
      [['organization', 'C1', 'possible duplicate', [4, 9]]],
    );
    assert.deepEqual(attention.held, [{ entity: 'person', key: 'P5', cause: 'waits for another record' }]);
    assert.deepEqual(attention.rejectedDeals, [{ deal: '18', at: '2026-03-01T11:00:00Z', reason: 'item SERVICE-1 does not exist' }]);
    assert.deepEqual(
      attention.deadLetters.map((g) => [g.queue, g.cause, g.reason, g.records.map((r) => r.key)]),
      [
        ['records', 'permanent', 'Pipedrive refused: bad email', ['P1', 'P2']],
        ['orders', 'retryBudget', 'QAD did not answer', ['7']],
      ],
    );
  });
});

/** A raw request, so that the Host and Origin headers are what the test says. */
function call(url: string, options: { method?: string; host?: string; headers?: Record<string, string> } = {}): Promise<number> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname,
        method: options.method ?? 'GET',
        headers: { host: options.host ?? u.host, ...options.headers },
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', reject);
    req.end(options.method === 'POST' ? 'queue=records' : undefined);
  });
}

describe('the console server answers only its own page', () => {
  test('on 127.0.0.1, a token in the path, the same Host; a POST only from its own origin', async () => {
    // No request here reaches the data: each is refused before it.
    const server = await startConsole({} as Dependencies);
    try {
      const url = new URL(server.url);
      assert.equal(url.hostname, '127.0.0.1');
      const token = url.pathname.split('/')[1] ?? '';
      assert.ok(token.length >= 32, 'a long random token');
      assert.notEqual(
        (await startConsole({} as Dependencies).then(async (other) => (await other.close(), other.url))).split('/')[3],
        token,
      );
      assert.equal(await call(url.origin), 404);
      assert.equal(await call(`${url.origin}/${token.slice(1)}/`), 404);
      assert.equal(await call(`${url.origin}/${token}x/`), 404);
      assert.equal(await call(server.url, { host: `localhost:${url.port}` }), 404, 'another Host (DNS rebinding) is refused');
      assert.equal(await call(`${server.url}do/redrive`, { method: 'POST' }), 403, 'a POST that names no origin');
      assert.equal(await call(`${server.url}do/redrive`, { method: 'POST', headers: { origin: 'http://attacker.example' } }), 403);
      assert.equal(await call(`${server.url}do/redrive`, { method: 'POST', headers: { 'sec-fetch-site': 'cross-site' } }), 403);
      assert.equal(await call(`${server.url}do/nothing`, { method: 'POST', headers: { origin: url.origin } }), 404);
      assert.equal(await call(server.url, { method: 'PUT' }), 405);
    } finally {
      await server.close();
    }
  });
});
