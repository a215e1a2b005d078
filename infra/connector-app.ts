import { App, Validations, type AppProps } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ConnectorStack, type ConnectorStackProps } from './connector-stack.ts';
import { readStage } from './config.ts';
import { stackNameFor } from './names.ts';

export { STACK_NAME } from './names.ts';

/**
 * The CDK app: the connector stack (environment-agnostic) checked by the cdk-nag AwsSolutions pack, run by
 * CDK's validation framework at synth time (cdk-nag 3.x; accepted findings are acknowledged in nag.ts).
 */
export function buildConnectorApp(appProps: AppProps = {}, stackProps: ConnectorStackProps = {}): { app: App; stack: ConnectorStack } {
  const app = new App(appProps);
  // `-c stage=staging` makes a second stack beside the first: its own name, resource names and metrics.
  const stack = new ConnectorStack(app, stackNameFor(readStage(app)), stackProps);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  return { app, stack };
}
