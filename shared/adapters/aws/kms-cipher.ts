import { DecryptCommand, EncryptCommand, type KMSClient } from '@aws-sdk/client-kms';
import type { Cipher } from '../../ports/index.ts';

/** KMS Encrypt/Decrypt with the encryption context {tenantId, system}; IAM can then limit each function to one system. */
export class KmsCipher implements Cipher {
  constructor(
    private readonly client: KMSClient,
    private readonly keyId: string,
  ) {}

  async encrypt(plaintext: string, context: { tenantId: string; system: string }): Promise<string> {
    const res = await this.client.send(
      new EncryptCommand({ KeyId: this.keyId, Plaintext: Buffer.from(plaintext, 'utf8'), EncryptionContext: { ...context } }),
    );
    if (!res.CiphertextBlob) throw new Error('KMS returned no ciphertext');
    return Buffer.from(res.CiphertextBlob).toString('base64');
  }

  async decrypt(ciphertext: string, context: { tenantId: string; system: string }): Promise<string> {
    const res = await this.client.send(
      new DecryptCommand({ KeyId: this.keyId, CiphertextBlob: Buffer.from(ciphertext, 'base64'), EncryptionContext: { ...context } }),
    );
    if (!res.Plaintext) throw new Error('KMS returned no plaintext');
    return Buffer.from(res.Plaintext).toString('utf8');
  }
}
