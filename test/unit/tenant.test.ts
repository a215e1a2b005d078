import { entityRegistry } from '../../shared/flows/registry.ts';
import { scheduleOf } from '../../shared/flows/poll.ts';
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { allowLoopbackHttp, parseTenantConfig } from '../../shared/config/tenant.ts';
import { DEFAULT_FIELD_MAPPING } from '../../shared/config/field-mapping.ts';

const ENV = 'CONNECTOR_ALLOW_LOOPBACK_HTTP';

function minimal(): Record<string, unknown> {
  return {
    tenantId: 'acme',
    qad: { baseUrl: 'https://acme.qad.example.com/clouderp', clientId: 'acme-client', username: 'api.acme', workspaceId: '10USA_10USACO' },
    pipedrive: { apiBaseUrl: 'https://acme.pipedrive.com' },
  };
}

function withQad(extra: Record<string, unknown>): Record<string, unknown> {
  const m = minimal();
  return { ...m, qad: { ...(m.qad as Record<string, unknown>), ...extra } };
}

function parseError(input: unknown): string {
  try {
    parseTenantConfig(input);
  } catch (error) {
    assert.ok(error instanceof Error);
    assert.match(error.message, /^invalid tenant config: /u);
    return error.message;
  }
  assert.fail('expected parseTenantConfig to throw');
}

let savedEnv: string | undefined;
beforeEach(() => {
  savedEnv = process.env[ENV];
  delete process.env[ENV];
});
afterEach(() => {
  if (savedEnv === undefined) delete process.env[ENV];
  else process.env[ENV] = savedEnv;
});

describe('parseTenantConfig: defaults', () => {
  test('a minimal config gets every default filled in', () => {
    const c = parseTenantConfig(minimal());
    assert.equal(c.tenantId, 'acme');
    assert.equal(c.enabled, true);
    assert.equal(c.qad.swaggerPath, '/api/swagger.json');
    assert.deepEqual(c.qad.customers, {
      browsePath: '/api/qracore/browses',
      browseId: 'urn:browse:mfg:customers',
      modDateField: 'cm_mstr.cm_mod_date',
      pageSize: 500,
      keyField: 'cm_mstr.cm_addr',
    });
    assert.equal(c.qad.overlapDays, 1);
    assert.deepEqual(c.qad.contacts, {
      browsePath: '/api/qracore/browses',
      browseId: 'urn:browse:mfg:customer-contacts',
      modDateField: 'ct_mstr.ct_mod_date',
      pageSize: 500,
      keyField: 'ct_mstr.ct_id',
    });
    assert.deepEqual(c.qad.items, {
      browsePath: '/api/qracore/browses',
      browseId: 'urn:browse:mfg:items',
      modDateField: 'pt_mstr.pt_mod_date',
      pageSize: 500,
      keyField: 'pt_mstr.pt_part',
    });
    assert.deepEqual(c.qad.prices, {
      browsePath: '/api/qracore/browses',
      browseId: 'urn:browse:mfg:price-lists',
      modDateField: 'pi_mstr.pi_mod_date',
      pageSize: 500,
      list: 'STD',
      listField: 'pi_mstr.pi_list',
    });
    // No cadence stored: each poll runs at its registry default until the tenant sets one.
    assert.deepEqual(c.schedules, {});
    const tenant = { config: c, encryptedSecrets: { qad: '', pipedrive: '' }, updatedAt: '' };
    assert.deepEqual(Object.fromEntries(entityRegistry.flows.map((f) => [f.poll, scheduleOf(tenant, f)])), {
      customers: 'rate(15 minutes)',
      contacts: 'rate(15 minutes)',
      items: 'rate(1 hour)',
      deals: 'rate(15 minutes)',
      'order-status': 'rate(1 hour)',
    });
    assert.deepEqual(c.qad.orderStatus, {
      browsePath: '/api/qracore/browses',
      browseId: 'urn:browse:mfg:sales-order-lines',
      pageSize: 500,
      cancelledStatuses: ['X', 'CN'],
      onHoldStatuses: ['HD'],
    });
    assert.deepEqual(c.qad.salesOrders, { path: '/api/erp/salesOrderHeaders', site: '10-100', noLines: 'reject' });
    assert.deepEqual(c.mapping, {
      fields: { ...DEFAULT_FIELD_MAPPING, writeBack: { enabled: false, customerField: 'cm_user1', path: '/api/erp/customerV2s/{code}' } },
      organization: { keyFieldName: 'QAD Customer Code' },
      deletedInPipedrive: 'recreate',
      person: { keyFieldName: 'QAD Contact ID', include: 'active-with-email-or-phone' },
      deal: { orderFieldName: 'QAD Sales Order', recheckRejectedAfterMinutes: 60 },
      product: { activeStatuses: ['ACTIVE'] },
    });
    assert.equal(c.pipedrive.auth, 'token');
  });

  test('a partly given customers block keeps its values and fills the rest', () => {
    const c = parseTenantConfig(withQad({ customers: { pageSize: 100 }, overlapDays: 3 }));
    assert.equal(c.qad.customers.pageSize, 100);
    assert.equal(c.qad.customers.browseId, 'urn:browse:mfg:customers');
    assert.equal(c.qad.customers.modDateField, 'cm_mstr.cm_mod_date');
    assert.equal(c.qad.overlapDays, 3);
  });

  test('given values override defaults', () => {
    const c = parseTenantConfig({
      ...minimal(),
      schedules: { customers: 'rate(1 hour)' },
      mapping: { organization: { keyFieldName: 'ERP Code' } },
      enabled: false,
    });
    assert.equal(c.schedules.customers, 'rate(1 hour)');
    assert.equal(c.mapping.organization.keyFieldName, 'ERP Code');
    assert.equal(c.enabled, false);
  });

  test('trailing slashes are dropped from base URLs', () => {
    const c = parseTenantConfig({
      ...withQad({ baseUrl: 'https://acme.qad.example.com/clouderp//' }),
      pipedrive: { apiBaseUrl: 'https://acme.pipedrive.com/' },
    });
    assert.equal(c.qad.baseUrl, 'https://acme.qad.example.com/clouderp');
    assert.equal(c.pipedrive.apiBaseUrl, 'https://acme.pipedrive.com');
  });

  test('the input object is not modified', () => {
    const input = minimal();
    const before = JSON.stringify(input);
    parseTenantConfig(input);
    assert.equal(JSON.stringify(input), before);
  });
});

describe('parseTenantConfig: errors name the field', () => {
  for (const bad of ['A', 'Acme', 'acme_co', '-acme', 'a', 'x'.repeat(41), 'acme corp', '']) {
    test(`tenantId ${JSON.stringify(bad)} is rejected`, () => {
      const message = parseError({ ...minimal(), tenantId: bad });
      assert.match(message, /tenantId: must be 2-40 lowercase letters, digits or dashes/u);
    });
  }

  test('tenantId of 2 and of 40 characters is fine', () => {
    assert.equal(parseTenantConfig({ ...minimal(), tenantId: 'ab' }).tenantId, 'ab');
    assert.equal(parseTenantConfig({ ...minimal(), tenantId: `a${'b'.repeat(39)}` }).tenantId.length, 40);
  });

  test('a missing tenantId names the field', () => {
    const input = minimal();
    delete input.tenantId;
    assert.match(parseError(input), /tenantId: /u);
  });

  // A tenant's cadence is a rate (the poller compares it with the last poll); EventBridge's own rules apply.
  const badCadences = [
    'cron(0/15 * * * ? *)',
    'rate(15 seconds)',
    'every 15 minutes',
    'rate(15minutes)',
    'rate(0 minutes)',
    'rate(1 minutes)',
  ];
  for (const bad of [...badCadences, 'rate(5 minute)']) {
    test(`schedule ${JSON.stringify(bad)} is rejected, naming schedules.customers`, () => {
      assert.match(parseError({ ...minimal(), schedules: { customers: bad } }), /schedules\.customers: (must be rate|a rate|write rate)/u);
    });
  }

  test('a nested missing field gives its full path', () => {
    const m = minimal();
    const qad = { ...(m.qad as Record<string, unknown>) };
    delete qad.workspaceId;
    assert.match(parseError({ ...m, qad }), /qad\.workspaceId: /u);
  });

  test('pageSize out of range names qad.customers.pageSize', () => {
    assert.match(parseError(withQad({ customers: { pageSize: 0 } })), /qad\.customers\.pageSize: /u);
    assert.match(parseError(withQad({ customers: { pageSize: 5000 } })), /qad\.customers\.pageSize: /u);
    assert.match(parseError(withQad({ customers: { pageSize: 1.5 } })), /qad\.customers\.pageSize: /u);
  });

  test('overlapDays out of range names qad.overlapDays', () => {
    assert.match(parseError(withQad({ overlapDays: 0 })), /qad\.overlapDays: /u);
    assert.match(parseError(withQad({ overlapDays: 31 })), /qad\.overlapDays: /u);
  });

  test('a bad QAD base URL names qad.baseUrl and says why', () => {
    assert.match(parseError(withQad({ baseUrl: 'http://acme.qad.example.com' })), /qad\.baseUrl: URL must use https/u);
    assert.match(parseError(withQad({ baseUrl: 'https://10.1.2.3/qad' })), /qad\.baseUrl: URL must not point at a private/u);
  });

  test('a bad Pipedrive URL names pipedrive.apiBaseUrl', () => {
    assert.match(
      parseError({ ...minimal(), pipedrive: { apiBaseUrl: 'https://u:p@acme.pipedrive.com' } }),
      /pipedrive\.apiBaseUrl: URL must not contain user info/u,
    );
  });

  test('several problems are all reported', () => {
    const message = parseError({ ...withQad({ clientId: '' }), tenantId: 'BAD', schedules: { customers: 'soon' } });
    assert.match(message, /tenantId: /u);
    assert.match(message, /qad\.clientId: /u);
    assert.match(message, /schedules\.customers: /u);
  });

  test('a non-object input throws a config error, not a TypeError', () => {
    for (const input of [null, undefined, 'acme', 42, []]) parseError(input);
  });
});

describe('parseTenantConfig: loopback http is read from the environment at parse time', () => {
  const local = (): Record<string, unknown> => ({
    ...withQad({ baseUrl: 'http://localhost:4010/qad' }),
    pipedrive: { apiBaseUrl: 'http://127.0.0.1:4020' },
  });

  test('without the variable, http to loopback is rejected', () => {
    assert.equal(allowLoopbackHttp(), false);
    const message = parseError(local());
    assert.match(message, /qad\.baseUrl: URL must use https/u);
    assert.match(message, /pipedrive\.apiBaseUrl: URL must use https/u);
  });

  test('with the variable set to "true", http to loopback is accepted', () => {
    process.env[ENV] = 'true';
    assert.equal(allowLoopbackHttp(), true);
    const c = parseTenantConfig(local());
    assert.equal(c.qad.baseUrl, 'http://localhost:4010/qad');
    assert.equal(c.pipedrive.apiBaseUrl, 'http://127.0.0.1:4020');
  });

  test('any other value does not allow it', () => {
    for (const v of ['1', 'TRUE', 'yes', '']) {
      process.env[ENV] = v;
      assert.equal(allowLoopbackHttp(), false, v);
      parseError(local());
    }
  });

  test('the variable is read on each parse, not once at import', () => {
    process.env[ENV] = 'true';
    parseTenantConfig(local());
    delete process.env[ENV];
    parseError(local());
  });

  test('with the variable set, private addresses are still rejected', () => {
    process.env[ENV] = 'true';
    assert.match(parseError(withQad({ baseUrl: 'http://192.168.1.10' })), /qad\.baseUrl: /u);
  });
});
