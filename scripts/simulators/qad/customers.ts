/** The customer store of one tenant and its browse (`urn:browse:mfg:customers`). */
import type { BrowseDefinition } from './browse.ts';
import { QAD_CUSTOMER_COLUMNS, type QadCustomerRow } from './types.ts';

export const CUSTOMER_BROWSE_ID = 'urn:browse:mfg:customers';

export type CustomerPatch = Partial<QadCustomerRow> & { 'cm_mstr.cm_addr': string };

export class CustomerStore {
  private readonly byCode = new Map<string, QadCustomerRow>();
  private readonly raw: Array<Record<string, unknown>> = [];

  constructor(
    private readonly defaultDomain: string,
    private readonly today: () => string,
    initial: readonly QadCustomerRow[] = [],
  ) {
    for (const row of initial) {
      const code = row['cm_mstr.cm_addr'];
      if (this.byCode.has(code)) throw new Error(`QAD sim: duplicate customer code ${code}`);
      this.byCode.set(code, { ...row });
    }
  }

  upsert(patch: CustomerPatch): void {
    const code = patch['cm_mstr.cm_addr'];
    const today = this.today();
    const base = this.byCode.get(code) ?? this.blank(code);
    this.byCode.set(code, { ...base, ...patch, 'cm_mstr.cm_mod_date': today, 'ad_mstr.ad_mod_date': today });
  }

  get(code: string): QadCustomerRow | undefined {
    const row = this.byCode.get(code);
    return row === undefined ? undefined : { ...row };
  }

  /**
   * Applies a business-document update to an existing customer. Only when a value really changes does the
   * matching table's mod date (cm_mstr for cm_ fields, ad_mstr for ad_ fields) become today.
   * Returns the stored row, or undefined when the customer does not exist.
   */
  update(code: string, patch: Partial<QadCustomerRow>): QadCustomerRow | undefined {
    const current = this.byCode.get(code);
    if (current === undefined) return undefined;
    const next: QadCustomerRow = { ...current, ...patch, 'cm_mstr.cm_addr': code };
    const changed = (Object.keys(patch) as Array<keyof QadCustomerRow>).filter((k) => current[k] !== next[k]);
    const today = this.today();
    if (changed.some((k) => k.startsWith('cm_mstr.'))) next['cm_mstr.cm_mod_date'] = today;
    if (changed.some((k) => k.startsWith('ad_mstr.'))) next['ad_mstr.ad_mod_date'] = today;
    this.byCode.set(code, next);
    return { ...next };
  }

  remove(code: string): boolean {
    return this.byCode.delete(code);
  }

  list(): QadCustomerRow[] {
    return [...this.byCode.values()]
      .map((r) => ({ ...r }))
      .sort((a, b) => (a['cm_mstr.cm_addr'] < b['cm_mstr.cm_addr'] ? -1 : a['cm_mstr.cm_addr'] > b['cm_mstr.cm_addr'] ? 1 : 0));
  }

  putRaw(row: Record<string, unknown>): void {
    this.raw.push(structuredClone(row));
  }

  browse(): BrowseDefinition {
    return {
      id: CUSTOMER_BROWSE_ID,
      columns: QAD_CUSTOMER_COLUMNS,
      keyField: 'cm_mstr.cm_addr',
      rows: () => [...[...this.byCode.values()].map((r): Record<string, unknown> => ({ ...r })), ...this.raw],
    };
  }

  private blank(code: string): QadCustomerRow {
    return {
      'cm_mstr.cm_addr': code,
      'cm_mstr.cm_curr': '',
      'cm_mstr.cm_cr_terms': '',
      'cm_mstr.cm_site': '',
      'cm_mstr.cm_cr_limit': 0,
      'cm_mstr.cm_domain': this.defaultDomain,
      'cm_mstr.cm_mod_date': '',
      'ad_mstr.ad_name': '',
      'ad_mstr.ad_line1': '',
      'ad_mstr.ad_line2': '',
      'ad_mstr.ad_line3': '',
      'ad_mstr.ad_city': '',
      'ad_mstr.ad_state': '',
      'ad_mstr.ad_zip': '',
      'ad_mstr.ad_country': '',
      'ad_mstr.ad_phone': '',
      'ad_mstr.ad_email': '',
      'ad_mstr.ad_mod_date': '',
    };
  }
}
