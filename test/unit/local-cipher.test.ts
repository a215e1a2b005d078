import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalCipher } from '../../shared/adapters/local/local-cipher.ts';

const PLAINTEXT = 'pd-token-5f3c9a1e7b2d4c6a8e0f';
const ACME_PD = { tenantId: 'acme', system: 'pipedrive' } as const;

async function rejectsWithoutLeaking(promise: Promise<string>, plaintext: string): Promise<Error> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof Error, 'decrypt must reject');
  assert.equal(caught.message.includes(plaintext), false, 'the message must not contain the plaintext');
  assert.equal(String(caught.stack).includes(plaintext), false, 'the stack must not contain the plaintext');
  return caught;
}

/** Flips one bit of the decoded ciphertext at `index` (negative counts from the end). */
function tamper(ciphertext: string, index: number): string {
  const raw = Buffer.from(ciphertext, 'base64');
  const i = index < 0 ? raw.length + index : index;
  raw[i] = (raw[i] ?? 0) ^ 0x01;
  return raw.toString('base64');
}

describe('LocalCipher', () => {
  test('round trip', async () => {
    const cipher = new LocalCipher();
    const ct = await cipher.encrypt(PLAINTEXT, ACME_PD);
    assert.equal(await cipher.decrypt(ct, ACME_PD), PLAINTEXT);
  });

  test('round trip of unicode and empty text', async () => {
    const cipher = new LocalCipher();
    for (const text of ['pässwörd 🔑 كلمة', '']) {
      assert.equal(await cipher.decrypt(await cipher.encrypt(text, ACME_PD), ACME_PD), text);
    }
  });

  test('the ciphertext does not contain the plaintext', async () => {
    const ct = await new LocalCipher().encrypt(PLAINTEXT, ACME_PD);
    assert.equal(ct.includes(PLAINTEXT), false);
    assert.equal(Buffer.from(ct, 'base64').toString('utf8').includes(PLAINTEXT), false);
  });

  test('the context object key order does not matter', async () => {
    const cipher = new LocalCipher();
    const ct = await cipher.encrypt(PLAINTEXT, { tenantId: 'acme', system: 'qad' });
    assert.equal(await cipher.decrypt(ct, { system: 'qad', tenantId: 'acme' }), PLAINTEXT);
  });

  test('decrypting under another tenantId fails without revealing the plaintext', async () => {
    const cipher = new LocalCipher();
    const ct = await cipher.encrypt(PLAINTEXT, ACME_PD);
    const error = await rejectsWithoutLeaking(cipher.decrypt(ct, { tenantId: 'globex', system: 'pipedrive' }), PLAINTEXT);
    assert.match(error.message, /cannot decrypt the pipedrive secret of tenant globex/u);
  });

  test('decrypting under another system fails without revealing the plaintext', async () => {
    const cipher = new LocalCipher();
    const ct = await cipher.encrypt(PLAINTEXT, ACME_PD);
    const error = await rejectsWithoutLeaking(cipher.decrypt(ct, { tenantId: 'acme', system: 'qad' }), PLAINTEXT);
    assert.match(error.message, /cannot decrypt the qad secret of tenant acme/u);
  });

  test('another key cannot decrypt', async () => {
    const ct = await new LocalCipher().encrypt(PLAINTEXT, ACME_PD);
    await rejectsWithoutLeaking(new LocalCipher().decrypt(ct, ACME_PD), PLAINTEXT);
  });

  test('a tampered body, tag or IV fails', async () => {
    const cipher = new LocalCipher();
    const ct = await cipher.encrypt(PLAINTEXT, ACME_PD);
    for (const index of [-1, 28, 12, 27, 0, 11]) {
      const error = await rejectsWithoutLeaking(cipher.decrypt(tamper(ct, index), ACME_PD), PLAINTEXT);
      assert.match(error.message, /cannot decrypt/u, `byte ${index}`);
    }
  });

  test('a truncated ciphertext fails', async () => {
    const cipher = new LocalCipher();
    const ct = await cipher.encrypt(PLAINTEXT, ACME_PD);
    const raw = Buffer.from(ct, 'base64');
    await rejectsWithoutLeaking(cipher.decrypt(raw.subarray(0, raw.length - 5).toString('base64'), ACME_PD), PLAINTEXT);
    await rejectsWithoutLeaking(cipher.decrypt(raw.subarray(0, 20).toString('base64'), ACME_PD), PLAINTEXT);
  });

  test('two encryptions of the same plaintext differ, and both decrypt', async () => {
    const cipher = new LocalCipher();
    const a = await cipher.encrypt(PLAINTEXT, ACME_PD);
    const b = await cipher.encrypt(PLAINTEXT, ACME_PD);
    assert.notEqual(a, b);
    assert.equal(await cipher.decrypt(a, ACME_PD), PLAINTEXT);
    assert.equal(await cipher.decrypt(b, ACME_PD), PLAINTEXT);
  });

  test('a given 32-byte key is used: the same key decrypts across instances', async () => {
    const key = Buffer.alloc(32, 7);
    const ct = await new LocalCipher(key).encrypt(PLAINTEXT, ACME_PD);
    assert.equal(await new LocalCipher(Buffer.alloc(32, 7)).decrypt(ct, ACME_PD), PLAINTEXT);
  });

  test('a key that is not 32 bytes is refused', () => {
    assert.throws(() => new LocalCipher(Buffer.alloc(16)), /32-byte key/u);
    assert.throws(() => new LocalCipher(Buffer.alloc(64)), /32-byte key/u);
  });
});
