import assert from 'node:assert/strict';
import type { ParsedRow } from '../../shared/domain/customer.ts';

/** Assertions and row builders the QAD row parsers' tests share. */
export function expectOk<T>(result: ParsedRow<T>): T {
  if (!result.ok) assert.fail(`expected ok, got: ${result.reason}`);
  return result.record;
}

export function expectRejected<T>(result: ParsedRow<T>, reasonStart?: RegExp): { key: string | undefined; reason: string } {
  if (result.ok) assert.fail(`expected a rejection, got: ${JSON.stringify(result.record).slice(0, 200)}`);
  if (reasonStart) assert.match(result.reason, reasonStart);
  return { key: result.key, reason: result.reason };
}

export function rowWith(row: Record<string, unknown>, field: string, value: unknown): Record<string, unknown> {
  return { ...row, [field]: value };
}

export function rowWithout(row: Record<string, unknown>, field: string): Record<string, unknown> {
  const copy = { ...row };
  delete copy[field];
  return copy;
}
