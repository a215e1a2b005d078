/** The contact store of one tenant and its browse (`urn:browse:mfg:customer-contacts`). */
import type { BrowseDefinition } from './browse.ts';
import { QAD_CONTACT_COLUMNS, type QadContactRow } from './types.ts';

export const CONTACT_BROWSE_ID = 'urn:browse:mfg:customer-contacts';

export type ContactPatch = Partial<QadContactRow> & { 'ct_mstr.ct_id': string };

function byId(a: QadContactRow, b: QadContactRow): number {
  const x = a['ct_mstr.ct_id'];
  const y = b['ct_mstr.ct_id'];
  return x < y ? -1 : x > y ? 1 : 0;
}

export class ContactStore {
  private readonly byId = new Map<string, QadContactRow>();

  constructor(
    private readonly today: () => string,
    initial: readonly QadContactRow[] = [],
  ) {
    for (const row of initial) {
      const id = row['ct_mstr.ct_id'];
      if (this.byId.has(id)) throw new Error(`QAD sim: duplicate contact id ${id}`);
      this.byId.set(id, { ...row });
    }
  }

  upsert(patch: ContactPatch): void {
    const id = patch['ct_mstr.ct_id'];
    const base = this.byId.get(id) ?? ContactStore.blank(id);
    this.byId.set(id, { ...base, ...patch, 'ct_mstr.ct_mod_date': this.today() });
  }

  remove(id: string): boolean {
    return this.byId.delete(id);
  }

  list(): QadContactRow[] {
    return [...this.byId.values()].map((r) => ({ ...r })).sort(byId);
  }

  browse(): BrowseDefinition {
    return {
      id: CONTACT_BROWSE_ID,
      columns: QAD_CONTACT_COLUMNS,
      keyField: 'ct_mstr.ct_id',
      rows: () => [...this.byId.values()].map((r): Record<string, unknown> => ({ ...r })),
    };
  }

  private static blank(id: string): QadContactRow {
    return {
      'ct_mstr.ct_id': id,
      'ct_mstr.ct_cust': '',
      'ct_mstr.ct_name': '',
      'ct_mstr.ct_email': '',
      'ct_mstr.ct_phone': '',
      'ct_mstr.ct_title': '',
      'ct_mstr.ct_primary': false,
      'ct_mstr.ct_active': true,
      'ct_mstr.ct_mod_date': '',
    };
  }
}
