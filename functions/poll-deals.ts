import { pollHandler } from '../shared/runtime/handlers.ts';

/** EventBridge Scheduler invokes this with {"entity":"deals"}: won deals in Pipedrive become QAD orders. */
export const handler = pollHandler('deals');
