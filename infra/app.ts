// CDK entry point (cdk.json: "npx tsx infra/app.ts"). Context keys and defaults: infra/config.ts.
import { buildConnectorApp } from './connector-app.ts';

buildConnectorApp().app.synth();
