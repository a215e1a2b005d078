import { pollHandler } from '../shared/runtime/handlers.ts';

/** Every poll function of the stack; POLL_NAME, set per function, names the registered flow it polls. */
export const handler = pollHandler(process.env.POLL_NAME ?? '');
