import { writerHandler } from '../shared/runtime/handlers.ts';

/** Every writer function of the stack; WORK_QUEUE, set per function, names the queue it consumes. */
export const handler = writerHandler(process.env.WORK_QUEUE ?? '');
