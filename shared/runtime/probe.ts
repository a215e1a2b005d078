import type { PipedriveCallInfo } from '../clients/pipedrive-client.ts';
import type { Cipher } from '../ports/index.ts';

/**
 * Optional observers of what the functions call, for the benchmark's counts (AWS requests, KMS calls,
 * Pipedrive calls with their times). Nothing is installed in Lambda, where CloudWatch counts these;
 * with no probe the dependencies are built exactly as without this file.
 */
export interface RuntimeProbe {
  /** One AWS SDK command about to be sent, e.g. ('dynamodb', 'UpdateItemCommand', input). */
  awsCall?(service: 'dynamodb' | 'sqs' | 'kms', command: string, input: object): void;
  /** The same command answered (or failed) after `ms`. */
  awsCallDone?(service: 'dynamodb' | 'sqs' | 'kms', command: string, ms: number): void;
  /** One answer (or failure) from Pipedrive. */
  pipedriveCall?(tenantId: string, info: PipedriveCallInfo): void;
}

let probe: RuntimeProbe = {};

/** Installed by the benchmark before the first invocation builds the dependencies. */
export function installRuntimeProbe(next: RuntimeProbe): void {
  probe = next;
}

export function runtimeProbe(): RuntimeProbe {
  return probe;
}

/** The subset of an AWS SDK v3 client the probe needs: its middleware stack. */
interface ProbedClient {
  middlewareStack: {
    add(
      middleware: (
        next: (args: { input: object }) => Promise<unknown>,
        context: { commandName?: string },
      ) => (args: { input: object }) => Promise<unknown>,
      options: { step: 'initialize'; name: string },
    ): void;
  };
}

/** Reports every command the client sends to the probe (only when one is installed). */
export function observeAwsClient(service: 'dynamodb' | 'sqs' | 'kms', client: ProbedClient): void {
  if (!probe.awsCall) return;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const command = context.commandName ?? 'unknown';
      probe.awsCall?.(service, command, args.input);
      const started = performance.now();
      try {
        return await next(args);
      } finally {
        probe.awsCallDone?.(service, command, performance.now() - started);
      }
    },
    { step: 'initialize', name: 'runtimeProbe' },
  );
}

/** Counts decrypts as KMS calls when the local cipher stands in for KMS. */
export function observeCipher(cipher: Cipher): Cipher {
  if (!probe.awsCall) return cipher;
  return {
    encrypt: (plaintext, context) => {
      probe.awsCall?.('kms', 'EncryptCommand', {});
      return cipher.encrypt(plaintext, context);
    },
    decrypt: (ciphertext, context) => {
      probe.awsCall?.('kms', 'DecryptCommand', {});
      return cipher.decrypt(ciphertext, context);
    },
  };
}
