import type { NameCandidate } from './upsert-decision.ts';

/** A listed candidate that is the record being erased: by its QAD key, or by one of its Pipedrive ids. */
export const isErased = (c: NameCandidate, qadKey: string, pipedriveIds: readonly number[]): boolean =>
  c.keyValue === qadKey || pipedriveIds.includes(c.id);
