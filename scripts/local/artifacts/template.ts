import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as z from 'zod';
import { PolicyNotUnderstood, readPolicy, type Statement } from '../iam/policy.ts';

/** The local resources the template's references resolve to. */
export interface LocalWorld {
  region: string;
  account: string;
  /**
   * Local values of the functions' environment variables that name resources (`CONNECTIONS_TABLE`,
   * `RECORDS_QUEUE_URL`, `KMS_KEY_ID` ...): a `Ref`/`Fn::GetAtt` the template puts in such a variable
   * resolves, everywhere in the template, to the local resource behind it.
   */
  values: Readonly<Record<string, string>>;
}

export interface ArtifactFunction {
  logicalId: string;
  /** As the stack calls it: `WritePipedrive`, `PollCustomers`. */
  name: string;
  /** The bundle `cdk synth` wrote (`asset.<hash>/index.mjs`) and the export the handler names. */
  entry: string;
  exportName: string;
  environment: Record<string, string>;
  timeoutSeconds: number;
  memoryMb: number;
  /** The principal IAM sees when the function calls (its role's session). */
  principal: string;
  /** Every statement of every policy attached to the function's role. */
  statements: Statement[];
  eventSource?: {
    queueArn: string;
    queueUrl: string;
    batchSize: number;
    batchingWindowSeconds: number;
    maximumConcurrency?: number;
    reportBatchItemFailures: boolean;
  };
}

export interface ArtifactStack {
  functions: ArtifactFunction[];
  /** The key policy of the KMS key the functions' KMS_KEY_ID names. */
  keyPolicy: Statement[];
}

const resourceSchema = z.object({
  Type: z.string(),
  Properties: z.record(z.string(), z.unknown()).optional(),
  Metadata: z.record(z.string(), z.unknown()).optional(),
});
const templateSchema = z.object({ Resources: z.record(z.string(), resourceSchema) });
type Resource = z.infer<typeof resourceSchema>;

const functionSchema = z.object({
  Handler: z.string().regex(/^[\w-]+\.\w+$/u),
  Environment: z.object({ Variables: z.record(z.string(), z.unknown()) }).optional(),
  Timeout: z.number().int().default(3),
  MemorySize: z.number().int().default(128),
  Role: z.unknown(),
});
const mappingSchema = z.object({
  EventSourceArn: z.unknown(),
  FunctionName: z.object({ Ref: z.string() }),
  BatchSize: z.number().int().default(10),
  MaximumBatchingWindowInSeconds: z.number().int().min(0).max(300).default(0),
  FunctionResponseTypes: z.array(z.string()).default([]),
  ScalingConfig: z.object({ MaximumConcurrency: z.number().int() }).optional(),
  Enabled: z.boolean().default(true),
});

/**
 * Reads a synthesized stack as the local run needs it: each Lambda function's bundle, environment,
 * timeout, memory, role policies and SQS event source, with every `Ref`, `Fn::GetAtt`, `Fn::Join` and
 * `Fn::Sub` resolved to the local resources. An intrinsic or policy element it does not know fails here.
 */
export function readArtifactStack(cdkOut: string, stackName: string, world: LocalWorld): ArtifactStack {
  const template = templateSchema.parse(JSON.parse(readFileSync(join(cdkOut, `${stackName}.template.json`), 'utf8')));
  const resources = template.Resources;
  const refs = new Map<string, string>();
  const arns = new Map<string, string>();
  // Learn which template resource each local value stands for, from the functions' environment.
  for (const r of Object.values(resources)) {
    if (r.Type !== 'AWS::Lambda::Function') continue;
    for (const [name, value] of Object.entries(functionSchema.parse(r.Properties).Environment?.Variables ?? {})) {
      const local = world.values[name];
      if (local === undefined || typeof value !== 'object' || value === null) continue;
      if ('Ref' in value) refs.set(String(value.Ref), local);
      const att = (value as { 'Fn::GetAtt'?: [string, string] })['Fn::GetAtt'];
      if (att?.[1] === 'Arn') arns.set(att[0], local);
    }
  }
  const { region, account } = world;
  const nameOf = (id: string, r: Resource) => String(r.Metadata?.['aws:cdk:path'] ?? id).split('/')[1] ?? id;
  const refOf = (id: string): string => {
    const known = refs.get(id);
    if (known !== undefined) return known;
    const r = resources[id];
    if (!r) throw new PolicyNotUnderstood(`the template references ${id}, which it does not define`);
    // Resources the local run does not stand up (log groups, alarm topics) get names that match nothing local.
    return r.Type === 'AWS::Lambda::Function' ? nameOf(id, r) : `${id}-not-local`;
  };
  const arnOf = (id: string): string => {
    const known = arns.get(id);
    if (known !== undefined) return known;
    const r = resources[id];
    const ref = refOf(id);
    switch (r?.Type) {
      case 'AWS::DynamoDB::Table':
        return `arn:aws:dynamodb:${region}:${account}:table/${ref}`;
      case 'AWS::SQS::Queue':
        return `arn:aws:sqs:${region}:${account}:${ref.split('/').pop()}`;
      case 'AWS::IAM::Role':
        return `arn:aws:iam::${account}:role/${id}`;
      case 'AWS::Lambda::Function':
        return `arn:aws:lambda:${region}:${account}:function:${ref}`;
      case 'AWS::Logs::LogGroup':
        return `arn:aws:logs:${region}:${account}:log-group:/aws/lambda/${id}:*`;
      default:
        return `arn:aws:${(r?.Type ?? 'unknown').split('::')[1]?.toLowerCase()}:${region}:${account}:${id}-not-local`;
    }
  };
  const pseudo: Record<string, string> = {
    'AWS::Partition': 'aws',
    'AWS::Region': region,
    'AWS::AccountId': account,
    'AWS::URLSuffix': 'amazonaws.com',
    'AWS::StackName': stackName,
  };
  const resolve = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(resolve);
    if (typeof value !== 'object' || value === null) return value;
    const entries = Object.entries(value);
    const [key, arg] = entries[0] ?? [];
    if (entries.length === 1 && key?.startsWith('Fn::')) {
      if (key === 'Fn::GetAtt' && Array.isArray(arg) && arg[1] === 'Arn') return arnOf(String(arg[0]));
      if (key === 'Fn::Join' && Array.isArray(arg)) return (resolve(arg[1]) as unknown[]).join(String(arg[0]));
      if (key === 'Fn::Sub' && typeof arg === 'string')
        return arg.replace(/\$\{([^}]+)\}/gu, (_, name: string) => pseudo[name] ?? refOf(name));
      throw new PolicyNotUnderstood(`the local run does not resolve ${key} ${JSON.stringify(arg)}`);
    }
    if (entries.length === 1 && key === 'Ref') return pseudo[String(arg)] ?? refOf(String(arg));
    return Object.fromEntries(entries.map(([k, v]) => [k, resolve(v)]));
  };
  const asString = (value: unknown, where: string): string => {
    const resolved = resolve(value);
    if (typeof resolved !== 'string') throw new PolicyNotUnderstood(`${where} does not resolve to a string`);
    return resolved;
  };

  const policiesOfRole = (roleId: string): Statement[] => {
    const role = resources[roleId];
    if (role?.Type !== 'AWS::IAM::Role') throw new PolicyNotUnderstood(`${roleId} is not a role of this template`);
    const props = z
      .object({
        Policies: z.array(z.object({ PolicyDocument: z.unknown() })).default([]),
        ManagedPolicyArns: z.array(z.unknown()).default([]),
      })
      .parse(role.Properties ?? {});
    if (props.ManagedPolicyArns.length > 0)
      throw new PolicyNotUnderstood(`${roleId} has managed policies, which the local IAM cannot read`);
    const attached = Object.entries(resources).filter(
      ([, r]) =>
        r.Type === 'AWS::IAM::Policy' &&
        z
          .array(z.unknown())
          .parse(r.Properties?.Roles ?? [])
          .some((x) => JSON.stringify(x) === JSON.stringify({ Ref: roleId })),
    );
    return [
      ...props.Policies.map((p, i) => readPolicy(resolve(p.PolicyDocument), `${roleId} inline policy ${i}`)),
      ...attached.map(([id, r]) => readPolicy(resolve(r.Properties?.PolicyDocument), id)),
    ].flat();
  };

  const mappings = Object.values(resources)
    .filter((r) => r.Type === 'AWS::Lambda::EventSourceMapping')
    .map((r) => mappingSchema.parse(r.Properties))
    .map((m) => {
      // Lambda refuses a standard queue's batch over 10 without a batching window of at least a second.
      if (m.BatchSize > 10 && m.MaximumBatchingWindowInSeconds < 1)
        throw new Error(`event source of ${m.FunctionName.Ref}: BatchSize ${m.BatchSize} needs MaximumBatchingWindowInSeconds >= 1`);
      return m;
    });
  const functions = Object.entries(resources)
    .filter(([, r]) => r.Type === 'AWS::Lambda::Function')
    .map(([id, r]): ArtifactFunction => {
      const props = functionSchema.parse(r.Properties);
      const asset = String(r.Metadata?.['aws:asset:path'] ?? '');
      const [file, exportName] = props.Handler.split('.') as [string, string];
      const entry = ['mjs', 'js', 'cjs'].map((ext) => join(cdkOut, asset, `${file}.${ext}`)).find((p) => existsSync(p));
      if (!asset || !entry) throw new Error(`no bundle for ${id} in ${cdkOut} (asset "${asset}", handler ${props.Handler})`);
      const roleAtt = (props.Role as { 'Fn::GetAtt'?: [string, string] })['Fn::GetAtt'];
      if (!roleAtt) throw new PolicyNotUnderstood(`${id}: its role is not a role of this template`);
      const mapping = mappings.find((m) => m.FunctionName.Ref === id && m.Enabled);
      const name = nameOf(id, r);
      const queueArn = mapping && asString(mapping.EventSourceArn, `${id} event source`);
      const queueId = mapping && (mapping.EventSourceArn as { 'Fn::GetAtt'?: [string] })['Fn::GetAtt']?.[0];
      return {
        logicalId: id,
        name,
        entry,
        exportName,
        environment: Object.fromEntries(
          Object.entries(props.Environment?.Variables ?? {}).map(([k, v]) => [k, asString(v, `${id} environment ${k}`)]),
        ),
        timeoutSeconds: props.Timeout,
        memoryMb: props.MemorySize,
        principal: `arn:aws:sts::${account}:assumed-role/${roleAtt[0]}/${name}`,
        statements: policiesOfRole(roleAtt[0]),
        ...(mapping &&
          queueArn &&
          queueId && {
            eventSource: {
              queueArn,
              queueUrl: refOf(queueId),
              batchSize: mapping.BatchSize,
              batchingWindowSeconds: mapping.MaximumBatchingWindowInSeconds,
              ...(mapping.ScalingConfig && { maximumConcurrency: mapping.ScalingConfig.MaximumConcurrency }),
              reportBatchItemFailures: mapping.FunctionResponseTypes.includes('ReportBatchItemFailures'),
            },
          }),
      };
    });

  const keyId = Object.entries(resources).find(([id, r]) => r.Type === 'AWS::KMS::Key' && arns.has(id))?.[0];
  const keyPolicy = keyId ? readPolicy(resolve(resources[keyId]?.Properties?.KeyPolicy), `${keyId} key policy`) : [];
  return { functions, keyPolicy };
}
