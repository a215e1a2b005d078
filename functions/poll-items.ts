import { pollHandler } from '../shared/runtime/handlers.ts';

/** EventBridge Scheduler invokes this with {"entity":"items"}. */
export const handler = pollHandler('items');
