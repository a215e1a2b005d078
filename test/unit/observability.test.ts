import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pipedriveTokenCost } from '../../shared/runtime/observability.ts';

test('token cost per call follows Pipedrive x-token-cost: search 20, list 10, write 5, get 1, refused 0', () => {
  assert.equal(pipedriveTokenCost('GET /api/v2/organizations/search', 200), 20);
  assert.equal(pipedriveTokenCost('GET /api/v2/organizations', 200), 10);
  assert.equal(pipedriveTokenCost('GET /api/v2/deals/products', 200), 10);
  assert.equal(pipedriveTokenCost('GET /api/v2/dealFields', 200), 10);
  assert.equal(pipedriveTokenCost('POST /api/v2/persons', 201), 5);
  assert.equal(pipedriveTokenCost('PATCH /api/v2/products/{id}', 400), 5);
  assert.equal(pipedriveTokenCost('GET /api/v2/organizations/{id}', 200), 1);
  assert.equal(pipedriveTokenCost('GET /api/v2/organizations', 429), 0);
  assert.equal(pipedriveTokenCost('POST /api/v2/organizations', 0), 0, 'a call that never got an answer');
});
