import './quiet-env.ts';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, test } from 'node:test';
import { createHttpClient } from '../../shared/clients/http.ts';
import { createQadClient } from '../../shared/clients/qad-client.ts';
import { PermanentError } from '../../shared/domain/errors.ts';
import { checkTenant } from '../../shared/operations/check.ts';
import { startHarness, type Harness } from './harness.ts';

let h: Harness | undefined;
const servers: Server[] = [];
afterEach(async () => {
  await h?.close();
  h = undefined;
  for (const s of servers.splice(0)) await new Promise<void>((resolve) => s.close(() => resolve()));
});

async function listen(handler: Parameters<typeof createServer>[1]): Promise<{ url: string; hits: string[] }> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    handler!(req, res);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits };
}

describe('tenant URL safety', () => {
  const noRedirects =
    'a redirect to another host is never followed: the QAD login fails, naming the tenant, and the other host sees nothing';
  test(noRedirects, async () => {
    const elsewhere = await listen((_req, res) => res.end('{"access_token":"stolen"}'));
    const tenant = await listen((_req, res) => {
      res.writeHead(302, { location: `${elsewhere.url}/oauth/token` });
      res.end();
    });
    const qad = createQadClient({
      tenantId: 'acme',
      baseUrl: tenant.url,
      clientId: 'c',
      username: 'u',
      password: 'secret-password',
      workspaceId: 'W',
      http: createHttpClient(),
    });
    await assert.rejects(
      qad.browse({ path: '/api/qracore/browses', browseId: 'b', page: 1, pageSize: 10, filters: [] }),
      (e: unknown) => e instanceof PermanentError && /tenant acme: HTTP 302/u.test(e.message) && !e.message.includes('secret-password'),
    );
    assert.deepEqual(tenant.hits, ['POST /oauth/token']);
    assert.deepEqual(elsewhere.hits, []);
  });

  test('a missing entity path in the Swagger fails the check, naming each path and method', async () => {
    h = await startHarness();
    h.qadTenant.setSwaggerPaths({ '/api/qracore/browses': ['get'] });
    const rows = await checkTenant(h.deps.clients, h.tenant);
    const failed = rows.filter((r) => !r.ok).map((r) => `${r.check}: ${r.detail}`);
    assert.deepEqual(failed, [
      "QAD sales orders (lookup): GET /api/erp/salesOrderHeaders is not in the instance's Swagger",
      "QAD sales orders (create): POST /api/erp/salesOrderHeaders is not in the instance's Swagger",
    ]);
  });

  test('every path, method and browse id the connector can call is checked: the write-back PUT when on, each browse id', async () => {
    h = await startHarness();
    const { config } = h.tenant;
    const tenant = {
      ...h.tenant,
      config: {
        ...config,
        qad: { ...config.qad, items: { ...config.qad.items, browseId: 'urn:browse:acme:items-v2' } },
        mapping: {
          ...config.mapping,
          fields: { ...config.mapping.fields, writeBack: { ...config.mapping.fields.writeBack, enabled: true } },
        },
      },
    };
    const failed = async () => (await checkTenant(h!.deps.clients, tenant)).filter((r) => !r.ok).map((r) => `${r.check}: ${r.detail}`);
    assert.deepEqual(await failed(), [
      'QAD items browse: GET /api/qracore/browses: browse urn:browse:acme:items-v2 is not one the Swagger names',
    ]);
    h.qadTenant.setSwaggerPaths({ '/api/qracore/browses': ['get'], '/api/erp/salesOrderHeaders': ['get', 'post'] });
    assert.deepEqual(await failed(), [
      'QAD items browse: GET /api/qracore/browses: browse urn:browse:acme:items-v2 is not one the Swagger names',
      "QAD customer write-back: PUT /api/erp/customerV2s/{code} is not in the instance's Swagger",
    ]);
    const passed = (await checkTenant(h.deps.clients, h.tenant)).filter((r) => r.check.startsWith('QAD ')).map((r) => r.check);
    assert.ok(!passed.includes('QAD customer write-back'), 'not checked while the write-back is off');
  });
});
