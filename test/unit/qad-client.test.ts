import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { HttpClient, HttpRequest, HttpResponse } from '../../shared/clients/http.ts';
import { createQadClient } from '../../shared/clients/qad-client.ts';
import { PermanentError, RetryLaterError } from '../../shared/domain/errors.ts';

/** QAD answering the login with a token and every other call with `answer`. */
function qadAnswering(answer: (req: HttpRequest) => HttpResponse) {
  const http: HttpClient = {
    async send(req) {
      if (req.url.endsWith('/oauth/token'))
        return { status: 200, headers: {}, body: JSON.stringify({ access_token: 't', expires_in: 3600 }) };
      return answer(req);
    },
  };
  return createQadClient({
    tenantId: 'acme',
    baseUrl: 'https://acme.qad.example/clouderp',
    clientId: 'c',
    username: 'u',
    password: 'p',
    workspaceId: 'W',
    http,
  });
}
const answer = (status: number, body: unknown = undefined): HttpResponse => ({
  status,
  headers: {},
  body: body === undefined ? '' : JSON.stringify(body),
});

describe('QAD client: the 2xx answers each call documents', () => {
  for (const status of [200, 201]) {
    test(`a create answered ${status} with the order is created`, async () => {
      const qad = qadAnswering(() => answer(status, { so_nbr: 'S0000042' }));
      assert.deepEqual(await qad.createSalesOrder('/api/erp/salesOrderHeaders', {}), { orderNumber: 'S0000042' });
    });
  }

  for (const status of [202, 204]) {
    test(`a create answered ${status} is neither done nor refused: the order is looked up by its PO next time`, async () => {
      const qad = qadAnswering(() => answer(status));
      await assert.rejects(
        qad.createSalesOrder('/api/erp/salesOrderHeaders', {}),
        (e: unknown) => e instanceof RetryLaterError && !(e instanceof PermanentError),
      );
    });
  }

  for (const [status, body] of [
    [200, { cm_addr: 'C1' }],
    [204, undefined],
  ] as const) {
    test(`an update answered ${status} is done`, async () => {
      const qad = qadAnswering(() => answer(status, body));
      await qad.updateCustomer('/api/erp/customerV2s/{code}', 'C1', { x: 'y' });
    });
  }

  test('a read answered with another 2xx is not taken as an answer', async () => {
    const qad = qadAnswering(() => answer(203, { data: [] }));
    await assert.rejects(qad.findSalesOrders('/api/erp/salesOrderHeaders', 'PD-acme-1'), RetryLaterError);
  });

  test('the order lookup hands back the rows as QAD sent them, for the flow to judge', async () => {
    const rows = [{ so_nbr: 'S1', so_po: 'PD-1', so_cust: 'C9' }, { other: 'shape' }];
    const qad = qadAnswering(() => answer(200, { data: rows }));
    assert.deepEqual(await qad.findSalesOrders('/api/erp/salesOrderHeaders', 'PD-acme-1'), rows);
  });
});

describe("QAD client: the instance's Swagger, as the tenant config writes paths", () => {
  const doc = (extra: Record<string, unknown>, paths: Record<string, Record<string, unknown>>) => answer(200, { paths, ...extra });
  const browses = { get: { parameters: [{ name: 'browseId', in: 'query', schema: { type: 'string', enum: ['urn:b:1', 'urn:b:2'] } }] } };

  test('servers[0].url (absolute or relative) and Swagger 2 basePath are honoured; paths outside the base URL are dropped', async () => {
    for (const [extra, paths] of [
      [{ servers: [{ url: 'https://acme.qad.example/clouderp' }] }, { '/api/erp/salesOrderHeaders': { get: {}, post: {} } }],
      [{ servers: [{ url: '/clouderp/' }] }, { '/api/erp/salesOrderHeaders': { get: {}, post: {} } }],
      [{ servers: [{ url: 'https://acme.qad.example' }] }, { '/clouderp/api/erp/salesOrderHeaders': { get: {}, post: {} } }],
      [{ basePath: '/clouderp/api' }, { '/erp/salesOrderHeaders': { get: {}, post: {} } }],
      [{}, { '/api/erp/salesOrderHeaders': { get: {}, post: {} } }],
    ] as const) {
      const qad = qadAnswering(() => doc(extra, paths));
      assert.deepEqual(
        (await qad.swagger('/api/swagger.json')).paths,
        { '/api/erp/salesOrderHeaders': ['GET', 'POST'] },
        JSON.stringify(extra),
      );
    }
    const elsewhere = qadAnswering(() => doc({ servers: [{ url: 'https://acme.qad.example/other' }] }, { '/api/erp/x': { get: {} } }));
    assert.deepEqual((await elsewhere.swagger('/api/swagger.json')).paths, {});
  });

  test('path parameters are unnamed, non-methods ignored, and browse ids read from the browseId enum', async () => {
    const qad = qadAnswering(() => doc({}, { '/api/erp/customerV2s/{id}': { put: {}, parameters: [] }, '/api/qracore/browses': browses }));
    assert.deepEqual(await qad.swagger('/api/swagger.json'), {
      paths: { '/api/erp/customerV2s/{}': ['PUT'], '/api/qracore/browses': ['GET'] },
      browseIds: { '/api/qracore/browses': ['urn:b:1', 'urn:b:2'] },
    });
  });
});
