import { pollHandler } from '../shared/runtime/handlers.ts';

/** EventBridge Scheduler invokes this with {"entity":"customers"}. */
export const handler = pollHandler('customers');
