import { writerHandler } from '../shared/runtime/handlers.ts';

/** Consumes the orders queue: won deals into QAD sales orders, exactly once. */
export const handler = writerHandler('orders');
