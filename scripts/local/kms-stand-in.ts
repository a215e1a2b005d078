import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as z from 'zod';
import { canonicalJson } from '../../shared/domain/content-hash.ts';
import { AccessDenied, accessKeyOf, type LocalIam } from './iam/identities.ts';
import type { Statement } from './iam/policy.ts';

const MAGIC = Buffer.from('LKMS1');
const encryptSchema = z.object({
  KeyId: z.string(),
  Plaintext: z.string(),
  EncryptionContext: z.record(z.string(), z.string()).optional(),
});
const decryptSchema = z.object({
  CiphertextBlob: z.string(),
  KeyId: z.string().optional(),
  EncryptionContext: z.record(z.string(), z.string()).optional(),
});

class KmsError extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

export interface LocalKms {
  url: string;
  keyArn: string;
  close(): Promise<void>;
}

/**
 * KMS on loopback, speaking its JSON protocol (`X-Amz-Target: TrentService.Encrypt|Decrypt`) to the real SDK:
 * one symmetric key, AES-256-GCM with the encryption context as authenticated data (a ciphertext opens
 * only under the context it was made with, else InvalidCiphertextException, as in KMS), and every call
 * checked by the local IAM against the caller's role policy and the key policy from the template
 * (kms:EncryptionContext:*, kms:CallerAccount, aws:SecureTransport; no kms:ViaService, as for a direct call).
 */
export async function startLocalKms(options: {
  iam: LocalIam;
  region: string;
  /** Read on each call: the key policy is resolved from the template once the key's ARN is known. */
  keyPolicy: () => readonly Statement[];
}): Promise<LocalKms> {
  const material = randomBytes(32);
  const keyId = randomUUID();
  const keyArn = `arn:aws:kms:${options.region}:${options.iam.account}:key/${keyId}`;
  const aad = (context: Record<string, string> | undefined) => Buffer.from(canonicalJson(context ?? {}));
  const checkKey = (given: string | undefined) => {
    if (given !== undefined && given !== keyArn && given !== keyId)
      throw new KmsError('NotFoundException', `Key '${given}' does not exist`);
  };
  const authorize = (req: IncomingMessage, action: string, context: Record<string, string> | undefined) =>
    options.iam.authorize(
      accessKeyOf(req.headers.authorization),
      {
        action,
        resource: keyArn,
        context: {
          ...Object.fromEntries(Object.entries(context ?? {}).map(([k, v]) => [`kms:EncryptionContext:${k}`, v])),
          'kms:CallerAccount': options.iam.account,
          // In Lambda the SDK reaches KMS over HTTPS; loopback stands in for that TLS connection.
          'aws:SecureTransport': 'true',
        },
      },
      options.keyPolicy(),
    );

  const handle = (req: IncomingMessage, body: string): Record<string, unknown> => {
    const operation = String(req.headers['x-amz-target'] ?? '').split('.')[1];
    if (operation === 'Encrypt') {
      const input = encryptSchema.parse(JSON.parse(body));
      checkKey(input.KeyId);
      authorize(req, 'kms:Encrypt', input.EncryptionContext);
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', material, iv);
      cipher.setAAD(aad(input.EncryptionContext));
      const sealed = Buffer.concat([cipher.update(Buffer.from(input.Plaintext, 'base64')), cipher.final()]);
      const blob = Buffer.concat([MAGIC, Buffer.from(keyId), iv, cipher.getAuthTag(), sealed]);
      return { CiphertextBlob: blob.toString('base64'), KeyId: keyArn, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
    }
    if (operation === 'Decrypt') {
      const input = decryptSchema.parse(JSON.parse(body));
      checkKey(input.KeyId);
      const blob = Buffer.from(input.CiphertextBlob, 'base64');
      const header = MAGIC.length + keyId.length;
      if (
        blob.length < header + 28 ||
        !blob.subarray(0, MAGIC.length).equals(MAGIC) ||
        blob.toString('utf8', MAGIC.length, header) !== keyId
      )
        throw new KmsError('InvalidCiphertextException', 'The ciphertext is not one of this key');
      // KMS authorizes before it opens anything: a denied caller learns nothing about the ciphertext.
      authorize(req, 'kms:Decrypt', input.EncryptionContext);
      try {
        const decipher = createDecipheriv('aes-256-gcm', material, blob.subarray(header, header + 12), { authTagLength: 16 });
        decipher.setAAD(aad(input.EncryptionContext));
        decipher.setAuthTag(blob.subarray(header + 12, header + 28));
        const plain = Buffer.concat([decipher.update(blob.subarray(header + 28)), decipher.final()]);
        return { Plaintext: plain.toString('base64'), KeyId: keyArn, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
      } catch {
        throw new KmsError('InvalidCiphertextException', 'The ciphertext or its encryption context is not valid');
      }
    }
    throw new KmsError('UnsupportedOperationException', `the local KMS does not implement ${operation ?? 'this operation'}`);
  };

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.setHeader('content-type', 'application/x-amz-json-1.1');
      try {
        res.end(JSON.stringify(handle(req, Buffer.concat(chunks).toString('utf8'))));
      } catch (error) {
        const type =
          error instanceof AccessDenied ? 'AccessDeniedException' : error instanceof KmsError ? error.type : 'ValidationException';
        res.statusCode = 400;
        res.end(JSON.stringify({ __type: type, message: error instanceof Error ? error.message : String(error) }));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    keyArn,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
