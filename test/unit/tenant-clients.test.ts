import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { HttpClient } from '../../shared/clients/http.ts';
import { parseTenantConfig, type StoredTenant } from '../../shared/config/tenant.ts';
import type { Cipher } from '../../shared/ports/index.ts';
import { CLIENT_MAX_AGE_MS, createTenantClients } from '../../shared/runtime/tenant-clients.ts';

const config = (tenantId: string) =>
  parseTenantConfig({
    tenantId,
    qad: { baseUrl: `https://${tenantId}.qad.example/clouderp`, clientId: 'c', username: 'u', workspaceId: 'W' },
    pipedrive: { apiBaseUrl: `https://${tenantId}.pipedrive.com` },
  });
const stored = (tenantId: string, generation: number): StoredTenant => ({
  config: config(tenantId),
  encryptedSecrets: { qad: `qad-cipher-${generation}`, pipedrive: `pd-cipher-${generation}` },
  updatedAt: `2026-11-0${generation}T00:00:00.000Z`,
});

/** A cipher that counts what it decrypts: each decrypt is a client built from plaintext. */
function countingCipher() {
  const decrypted: string[] = [];
  const cipher: Cipher = {
    encrypt: async () => 'x',
    decrypt: async (ciphertext) => {
      decrypted.push(ciphertext);
      return `plain-${ciphertext}`;
    },
  };
  return { cipher, decrypted };
}
const http: HttpClient = { send: async () => ({ status: 500, headers: {}, body: '' }) };

describe('tenant clients: decrypted secrets do not outlive a rotation or a bounded time', () => {
  test('a warm container reuses the clients it built', async () => {
    const { cipher, decrypted } = countingCipher();
    const clients = createTenantClients({ cipher, http, now: () => 0 });
    const a = await clients.qad(stored('acme', 1));
    assert.equal(await clients.qad(stored('acme', 1)), a);
    assert.deepEqual(decrypted, ['qad-cipher-1']);
  });

  test("a rotation replaces the tenant's clients: the old ones (and their plaintext) are dropped, not kept beside", async () => {
    const { cipher, decrypted } = countingCipher();
    const clients = createTenantClients({ cipher, http, now: () => 0 });
    await clients.pipedrive(stored('acme', 1));
    await clients.pipedrive(stored('acme', 2));
    // Were the first still cached, asking for it again would cost no decrypt.
    await clients.pipedrive(stored('acme', 1));
    assert.deepEqual(decrypted, ['pd-cipher-1', 'pd-cipher-2', 'pd-cipher-1']);
  });

  test('after the maximum age the secrets are decrypted again', async () => {
    const { cipher, decrypted } = countingCipher();
    let ms = 1_000_000;
    const clients = createTenantClients({ cipher, http, now: () => ms });
    await clients.qad(stored('acme', 1));
    ms += CLIENT_MAX_AGE_MS - 1;
    await clients.qad(stored('acme', 1));
    assert.equal(decrypted.length, 1);
    ms += 1;
    await clients.qad(stored('acme', 1));
    assert.equal(decrypted.length, 2);
  });

  test("tenants and systems are cached apart: one tenant's rotation keeps the other's clients", async () => {
    const { cipher, decrypted } = countingCipher();
    const clients = createTenantClients({ cipher, http, now: () => 0 });
    await clients.qad(stored('acme', 1));
    await clients.qad(stored('globex', 1));
    await clients.pipedrive(stored('acme', 1));
    await clients.qad(stored('acme', 2));
    await clients.qad(stored('globex', 1));
    await clients.pipedrive(stored('acme', 1));
    assert.deepEqual(decrypted, ['qad-cipher-1', 'qad-cipher-1', 'pd-cipher-1', 'qad-cipher-2']);
  });
});
