import { Duration, RemovalPolicy, aws_iam as iam, aws_lambda as lambda, aws_lambda_nodejs as nodejs, aws_logs as logs } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { LAMBDA_BUNDLING } from '../bundling.ts';

export interface ConnectorFunctionProps {
  /** Absolute path of the handler file (exports `handler`). */
  readonly entry: string;
  /** Repository root: holds package-lock.json and tsconfig.json. */
  readonly projectRoot: string;
  readonly description: string;
  readonly timeout: Duration;
  readonly memorySize: number;
  readonly environment: Readonly<Record<string, string>>;
  readonly logRetention: logs.RetentionDays;
  /** Lambda's own retries of asynchronous invocations (0 to 2). Default: Lambda's default (2). */
  readonly retryAttempts?: number;
  /** Map stack traces in the minified bundle back to the TypeScript sources (context `sourceMaps`). */
  readonly sourceMaps?: boolean;
}

/**
 * Powertools settings shared by every function. The service name is the `service` dimension Powertools
 * Metrics adds to every EMF metric; the namespace is where the dashboard looks for them.
 */
export const POWERTOOLS_ENV = {
  POWERTOOLS_SERVICE_NAME: 'qad-pipedrive-connector',
  POWERTOOLS_METRICS_NAMESPACE: 'QadPipedriveConnector',
  LOG_LEVEL: 'INFO',
} as const;

/**
 * A Node.js Lambda function paired with its own log group and its own role.
 *
 * - Bundled by esbuild as ESM (`index.mjs`) with the settings in infra/bundling.ts, which the benchmark
 *   (`npm run bench`) builds with too: the sources are ESM (`"type": "module"`, `import.meta`, top-level
 *   await allowed), minified and tree-shaken; nothing is external (the reasons are there).
 * - The role is written by hand (no AWSLambdaBasicExecutionRole): it may write to this function's log group
 *   only; callers add the data grants.
 */
export class ConnectorFunction extends Construct {
  readonly fn: nodejs.NodejsFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: ConnectorFunctionProps) {
    super(scope, id);

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of ${id}`,
    });
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'WriteOwnLogs',
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        // The log group's Arn attribute already ends in ":*" (all streams of this one group).
        resources: [this.logGroup.logGroupArn],
      }),
    );

    this.fn = new nodejs.NodejsFunction(this, 'Function', {
      entry: props.entry,
      handler: 'handler',
      projectRoot: props.projectRoot,
      depsLockFilePath: `${props.projectRoot}/package-lock.json`,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      description: props.description,
      timeout: props.timeout,
      memorySize: props.memorySize,
      role: this.role,
      ...(props.retryAttempts === undefined ? {} : { retryAttempts: props.retryAttempts }),
      logGroup: this.logGroup,
      environment: {
        ...POWERTOOLS_ENV,
        ...(props.sourceMaps && { NODE_OPTIONS: LAMBDA_BUNDLING.sourceMapsNodeOptions }),
        ...props.environment,
      },
      bundling: {
        format: nodejs.OutputFormat.ESM,
        target: LAMBDA_BUNDLING.target,
        minify: LAMBDA_BUNDLING.minify,
        sourceMap: LAMBDA_BUNDLING.sourceMap,
        sourcesContent: LAMBDA_BUNDLING.sourcesContent,
        mainFields: [...LAMBDA_BUNDLING.mainFields],
        banner: LAMBDA_BUNDLING.banner,
        bundleAwsSDK: true,
        externalModules: [...LAMBDA_BUNDLING.externalModules],
        // esbuild runs in the project root, which the aliases are relative to.
        esbuildArgs: { '--alias': Object.entries(LAMBDA_BUNDLING.alias).map(([from, to]) => `${from}=${to}`) },
        tsconfig: `${props.projectRoot}/tsconfig.json`,
      },
    });
  }
}
