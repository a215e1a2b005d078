import { RemovalPolicy, aws_apigatewayv2 as apigw, aws_apigatewayv2_integrations as integrations, aws_logs as logs } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { acknowledgeBasicAuthInFunction } from '../nag.ts';

export interface WebhookEndpointProps {
  /** The function that authenticates, judges and queues each delivery. */
  readonly handler: IFunction;
  /** Steady requests per second the stage admits, across all tenants; more answer 429 (Pipedrive retries them). */
  readonly rateLimit: number;
  /** Requests admitted at once above the steady rate. */
  readonly burstLimit: number;
  readonly logRetention: logs.RetentionDays;
}

/** The path Pipedrive posts to: one per tenant, `POST /webhooks/<tenantId>`. */
export const WEBHOOK_ROUTE = '/webhooks/{tenantId}';

/**
 * The stack's one inbound endpoint, only with context `webhooks=true`: an HTTP API whose stage throttles every caller
 * before any code runs (a function URL has no throttle of its own), with access logs, routing one path to the
 * webhook function. Pipedrive can send only a fixed Basic pair, so the function checks it; no API Gateway
 * authorizer would add anything but a second function and its latency.
 */
export class WebhookEndpoint extends Construct {
  readonly api: apigw.HttpApi;
  readonly stage: apigw.HttpStage;
  /** `https://<api>.execute-api.<region>.amazonaws.com/webhooks/` + tenant id. */
  readonly urlPrefix: string;

  constructor(scope: Construct, id: string, props: WebhookEndpointProps) {
    super(scope, id);
    const accessLogs = new logs.LogGroup(this, 'AccessLogs', { retention: props.logRetention, removalPolicy: RemovalPolicy.RETAIN });
    this.api = new apigw.HttpApi(this, 'Api', {
      description: 'Pipedrive webhook deliveries (won deals) for the QAD-Pipedrive connector',
      createDefaultStage: false,
    });
    this.stage = new apigw.HttpStage(this, 'Stage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: props.rateLimit, burstLimit: props.burstLimit },
      accessLogSettings: { destination: new apigw.LogGroupLogDestination(accessLogs) },
    });
    const [route] = this.api.addRoutes({
      path: WEBHOOK_ROUTE,
      methods: [apigw.HttpMethod.POST],
      integration: new integrations.HttpLambdaIntegration('Deliveries', props.handler, {
        payloadFormatVersion: apigw.PayloadFormatVersion.VERSION_2_0,
      }),
    });
    if (route) acknowledgeBasicAuthInFunction(route);
    // The $default stage is served at the API's root.
    this.urlPrefix = `${this.api.apiEndpoint}/webhooks/`;
  }
}
