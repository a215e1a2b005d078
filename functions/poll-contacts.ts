import { pollHandler } from '../shared/runtime/handlers.ts';

/** EventBridge Scheduler invokes this with {"entity":"contacts"}. */
export const handler = pollHandler('contacts');
