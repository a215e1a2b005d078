import { writerHandler } from '../shared/runtime/handlers.ts';

/** Consumes the records queue: organizations and persons into Pipedrive. */
export const handler = writerHandler('records');
