import { webhookHandler } from '../shared/runtime/handlers.ts';

/** The webhook endpoint's function (stack context `webhooks=true`): Pipedrive's won-deal deliveries, per tenant in the path. */
export const handler = webhookHandler();
