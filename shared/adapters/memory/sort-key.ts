/**
 * DynamoDB returns a query's items by sort key, comparing the UTF-8 bytes; JavaScript compares
 * UTF-16 code units, which differs past U+FFFF. The memory adapters list in DynamoDB's order.
 */
export function compareSortKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
