import { KMSClient } from '@aws-sdk/client-kms';
import { KmsCipher } from '../../../shared/adapters/aws/kms-cipher.ts';
import type { LocalAws } from '../aws-stand-ins.ts';
import { dynamoCalls, sqsCalls, startAwsFront } from '../iam/aws-front.ts';
import { LocalIam } from '../iam/identities.ts';
import type { Statement } from '../iam/policy.ts';
import { startLocalKms } from '../kms-stand-in.ts';
import { FunctionContainer } from './containers.ts';
import { readArtifactStack, type ArtifactFunction } from './template.ts';
import { WEBHOOK_RECEIVER } from '../../../infra/topology.ts';

export const LOCAL_ACCOUNT = '000000000000';

/** A function of the stack and its containers, one per concurrent invocation slot. */
export interface DeployedFunction {
  fn: ArtifactFunction;
  /**
   * The container that serves concurrent slot `slot` (0 for a scheduled poll), made on the slot's first use: Lambda runs
   * each concurrent invocation in an instance of its own, with its own module state, clients and caches.
   */
  container(slot: number): FunctionContainer;
  /** How many containers it has so far. */
  containers(): number;
}

export interface ArtifactRuntime {
  iam: LocalIam;
  /** The operator's cipher (tenant registration): KMS through the stand-in, as `connector tenant add` uses it. */
  cipher: KmsCipher;
  /** What the operator CLI needs on top of the stand-ins' environment to use the local KMS. */
  operatorEnv: Record<string, string>;
  functions: DeployedFunction[];
  /** The function whose environment names this poll (POLL_NAME) or work queue (WORK_QUEUE). */
  pollFunction(poll: string): DeployedFunction;
  writerFunction(queue: string): DeployedFunction;
  /** The webhook endpoint's function, in a stack synthesized with `-c webhooks=true`. */
  webhookFunction(): DeployedFunction | undefined;
  close(): Promise<void>;
}

/**
 * The deployed functions on this machine: each Lambda of the synthesized stack in its own container
 * (its bundle, the template's environment, timeout and memory), signing its AWS calls with an access key
 * of its own, which the IAM gates in front of DynamoDB and SQS and the KMS stand-in map back to the
 * function's role policies from the template. `overrides` are the local run's additions to every
 * function's environment (log level, the fast clock); endpoints and credentials are set here.
 */
export async function startArtifactRuntime(options: {
  cdkOut: string;
  stackName: string;
  aws: LocalAws;
  overrides: Record<string, string>;
  /** Changes the template's policies before they are enforced (the tests remove a grant this way). */
  editStatements?: (fn: ArtifactFunction) => Statement[];
}): Promise<ArtifactRuntime> {
  const { aws } = options;
  const region = aws.env.AWS_REGION;
  const iam = new LocalIam(LOCAL_ACCOUNT);
  // The operator (setup, reports, the CLI) may do anything in the account, as an administrator would.
  iam.register(aws.env.AWS_ACCESS_KEY_ID, {
    name: 'operator',
    principal: `arn:aws:iam::${LOCAL_ACCOUNT}:user/operator`,
    statements: [{ Effect: 'Allow', Action: '*', Resource: '*' }],
    counted: false,
  });
  let keyPolicy: readonly Statement[] = [];
  const kms = await startLocalKms({ iam, region, keyPolicy: () => keyPolicy });
  const dynamo = await startAwsFront({
    target: aws.env.AWS_ENDPOINT_URL_DYNAMODB,
    iam,
    calls: (op, body) => dynamoCalls(op, body, (table) => `arn:aws:dynamodb:${region}:${LOCAL_ACCOUNT}:table/${table}`),
  });
  const sqs = await startAwsFront({
    target: aws.env.AWS_ENDPOINT_URL_SQS,
    iam,
    calls: (op, body) => sqsCalls(op, body, (queue) => `arn:aws:sqs:${region}:${LOCAL_ACCOUNT}:${queue}`),
  });
  // Queue URLs name their host and the SDK sends there, so the functions get URLs on the gate.
  const throughGate = (url: string) => url.replace(aws.env.AWS_ENDPOINT_URL_SQS, sqs.url);
  const values = Object.fromEntries(
    Object.entries({ ...aws.env, KMS_KEY_ID: kms.keyArn }).map(([k, v]) => [
      k,
      k.endsWith('_URL') && !k.startsWith('AWS_') ? throughGate(v) : v,
    ]),
  );
  const stack = readArtifactStack(options.cdkOut, options.stackName, { region, account: LOCAL_ACCOUNT, values });
  keyPolicy = stack.keyPolicy;

  const started: FunctionContainer[] = [];
  const functions = stack.functions.map((fn): DeployedFunction => {
    const accessKeyId = `LOCAL${fn.logicalId.toUpperCase()}`;
    iam.register(accessKeyId, {
      name: fn.name,
      principal: fn.principal,
      statements: options.editStatements?.(fn) ?? fn.statements,
      counted: true,
    });
    const env = {
      ...fn.environment,
      ...options.overrides,
      AWS_REGION: region,
      AWS_ACCESS_KEY_ID: accessKeyId,
      AWS_SECRET_ACCESS_KEY: 'local',
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.url,
      AWS_ENDPOINT_URL_SQS: sqs.url,
      AWS_ENDPOINT_URL_KMS: kms.url,
      AWS_LAMBDA_FUNCTION_NAME: fn.name,
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memoryMb),
    };
    const slots = new Map<number, FunctionContainer>();
    return {
      fn,
      container(slot) {
        let container = slots.get(slot);
        if (!container) {
          slots.set(slot, (container = new FunctionContainer(fn, env)));
          started.push(container);
        }
        return container;
      },
      containers: () => slots.size,
    };
  });
  const byEnv = (variable: string, value: string) => {
    const found = functions.find((f) => f.fn.environment[variable] === value);
    if (!found) throw new Error(`no function of ${options.stackName} has ${variable}=${value}`);
    return found;
  };
  const operatorKms = new KMSClient({
    endpoint: kms.url,
    region,
    credentials: { accessKeyId: aws.env.AWS_ACCESS_KEY_ID, secretAccessKey: 'local' },
  });
  return {
    iam,
    cipher: new KmsCipher(operatorKms, kms.keyArn),
    operatorEnv: { CREDENTIALS_CIPHER: 'kms', KMS_KEY_ID: kms.keyArn, AWS_ENDPOINT_URL_KMS: kms.url },
    functions,
    pollFunction: (poll) => byEnv('POLL_NAME', poll),
    writerFunction: (queue) => byEnv('WORK_QUEUE', queue),
    webhookFunction: () => functions.find((f) => f.fn.logicalId.startsWith(WEBHOOK_RECEIVER.id)),
    async close() {
      await Promise.all(started.map((c) => c.close()));
      operatorKms.destroy();
      await Promise.all([kms.close(), dynamo.close(), sqs.close()]);
    },
  };
}
