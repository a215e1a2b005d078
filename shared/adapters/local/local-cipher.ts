import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { canonicalJson } from '../../domain/content-hash.ts';
import type { Cipher } from '../../ports/index.ts';

/**
 * The local run's stand-in for KMS: AES-256-GCM with the encryption context as additional
 * authenticated data, so a ciphertext decrypts only under the context it was made with, as in KMS.
 * The key lives in memory for one run and is never written anywhere.
 */
export class LocalCipher implements Cipher {
  constructor(private readonly key: Buffer = randomBytes(32)) {
    if (key.length !== 32) throw new Error('LocalCipher needs a 32-byte key');
  }

  async encrypt(plaintext: string, context: { tenantId: string; system: string }): Promise<string> {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(canonicalJson(context)));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64');
  }

  async decrypt(ciphertext: string, context: { tenantId: string; system: string }): Promise<string> {
    const raw = Buffer.from(ciphertext, 'base64');
    try {
      if (raw.length < 28) throw new Error('too short');
      const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12), { authTagLength: 16 });
      decipher.setAAD(Buffer.from(canonicalJson(context)));
      decipher.setAuthTag(raw.subarray(12, 28));
      return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
    } catch {
      throw new Error(`cannot decrypt the ${context.system} secret of tenant ${context.tenantId}: wrong key or encryption context`);
    }
  }
}
