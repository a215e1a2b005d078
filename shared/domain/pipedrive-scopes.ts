/**
 * The Pipedrive OAuth scopes the connector's app needs, by what it does, after the `security` of each
 * operation in Pipedrive's OpenAPI spec (test/sim/pipedrive-scopes.test.ts holds the two together). The
 * default grant (base, deals:full, contacts:full, products:full) cannot create organization, person or
 * deal fields, which the connector does for its key fields and mapped fields.
 */
export const SCOPE_NEEDS: ReadonlyArray<{ need: string; anyOf: readonly string[] }> = [
  { need: 'organizations and persons (read, search, create, update)', anyOf: ['contacts:full'] },
  { need: 'products (read, search, create, update)', anyOf: ['products:full'] },
  { need: 'won deals and their lines, the order and its status written back, notes on rejected deals', anyOf: ['deals:full'] },
  { need: 'organization and person fields (the key fields, mapped fields)', anyOf: ['contact-fields:full', 'admin'] },
  { need: 'deal fields (the order number field)', anyOf: ['deal-fields:full', 'admin'] },
  { need: 'product fields (mapped fields)', anyOf: ['products:full', 'product-fields:full'] },
];

/** The scopes to give the app in Pipedrive's Developer Hub: base and the first choice of each need. */
export const APP_SCOPES: readonly string[] = ['base', ...new Set(SCOPE_NEEDS.map((n) => n.anyOf[0]!))];

/** The needs a grant does not cover, each with the scopes that would ("contact-fields:full or admin"). */
export function missingScopes(granted: readonly string[]): string[] {
  return SCOPE_NEEDS.filter((n) => !n.anyOf.some((s) => granted.includes(s))).map((n) => `${n.need}: ${n.anyOf.join(' or ')}`);
}

/** Pipedrive's `scope` answer (comma- or space-separated) as a list. */
export const parseScopes = (scope: string): string[] => scope.split(/[\s,]+/u).filter((s) => s.length > 0);
