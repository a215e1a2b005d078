import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';
import type { HttpClient, HttpRequest, HttpResponse } from '../../shared/clients/http.ts';
import { clearQadSessions, createQadClient } from '../../shared/clients/qad-client.ts';
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

beforeEach(() => clearQadSessions());

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
