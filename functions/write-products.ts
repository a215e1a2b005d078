import { writerHandler } from '../shared/runtime/handlers.ts';

/** Consumes the products queue: items and their prices into Pipedrive. */
export const handler = writerHandler('products');
