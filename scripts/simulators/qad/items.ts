/** Items (`pt_mstr`, `urn:browse:mfg:items`) and price lists (`pi_mstr`, `urn:browse:mfg:price-lists`) of one tenant. */
import type { BrowseDefinition } from './browse.ts';
import { QAD_ITEM_COLUMNS, QAD_PRICE_COLUMNS, type QadItemRow, type QadPriceRow } from './types.ts';

export const ITEM_BROWSE_ID = 'urn:browse:mfg:items';
export const PRICE_LIST_BROWSE_ID = 'urn:browse:mfg:price-lists';

export type ItemPatch = Partial<QadItemRow> & { 'pt_mstr.pt_part': string };

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function priceKey(list: string, part: string, currency: string): string {
  return JSON.stringify([list, part, currency]);
}

function comparePrices(a: QadPriceRow, b: QadPriceRow): number {
  return (
    cmp(a['pi_mstr.pi_list'], b['pi_mstr.pi_list']) ||
    cmp(a['pi_mstr.pi_part_code'], b['pi_mstr.pi_part_code']) ||
    cmp(a['pi_mstr.pi_curr'], b['pi_mstr.pi_curr'])
  );
}

export class ItemStore {
  private readonly byPart = new Map<string, QadItemRow>();

  constructor(
    private readonly today: () => string,
    initial: readonly QadItemRow[] = [],
  ) {
    for (const row of initial) {
      const part = row['pt_mstr.pt_part'];
      if (this.byPart.has(part)) throw new Error(`QAD sim: duplicate item ${part}`);
      this.byPart.set(part, { ...row });
    }
  }

  get(part: string): QadItemRow | undefined {
    const row = this.byPart.get(part);
    return row === undefined ? undefined : { ...row };
  }

  upsert(patch: ItemPatch): void {
    const part = patch['pt_mstr.pt_part'];
    const base = this.byPart.get(part) ?? ItemStore.blank(part);
    this.byPart.set(part, { ...base, ...patch, 'pt_mstr.pt_mod_date': this.today() });
  }

  list(): QadItemRow[] {
    return [...this.byPart.values()].map((r) => ({ ...r })).sort((a, b) => cmp(a['pt_mstr.pt_part'], b['pt_mstr.pt_part']));
  }

  browse(): BrowseDefinition {
    return {
      id: ITEM_BROWSE_ID,
      columns: QAD_ITEM_COLUMNS,
      keyField: 'pt_mstr.pt_part',
      rows: () => [...this.byPart.values()].map((r): Record<string, unknown> => ({ ...r })),
    };
  }

  private static blank(part: string): QadItemRow {
    return {
      'pt_mstr.pt_part': part,
      'pt_mstr.pt_desc1': '',
      'pt_mstr.pt_desc2': '',
      'pt_mstr.pt_um': 'EA',
      'pt_mstr.pt_prod_line': '',
      'pt_mstr.pt_status': 'ACTIVE',
      'pt_mstr.pt_price': 0,
      'pt_mstr.pt_mod_date': '',
    };
  }
}

export class PriceStore {
  private readonly byKey = new Map<string, QadPriceRow>();

  constructor(
    private readonly today: () => string,
    initial: readonly QadPriceRow[] = [],
  ) {
    for (const row of initial) {
      const key = priceKey(row['pi_mstr.pi_list'], row['pi_mstr.pi_part_code'], row['pi_mstr.pi_curr']);
      if (this.byKey.has(key)) throw new Error(`QAD sim: duplicate price ${key}`);
      this.byKey.set(key, { ...row });
    }
  }

  /** New rows and changed prices get today's mod date; setting the same price again changes nothing. */
  set(list: string, part: string, currency: string, price: number): void {
    if (!Number.isFinite(price) || price < 0) throw new Error(`QAD sim: invalid price ${price}`);
    const key = priceKey(list, part, currency);
    const current = this.byKey.get(key);
    if (current !== undefined && current['pi_mstr.pi_list_price'] === price) return;
    this.byKey.set(key, {
      'pi_mstr.pi_list': list,
      'pi_mstr.pi_part_code': part,
      'pi_mstr.pi_curr': currency,
      'pi_mstr.pi_list_price': price,
      'pi_mstr.pi_mod_date': this.today(),
    });
  }

  list(): QadPriceRow[] {
    return [...this.byKey.values()].map((r) => ({ ...r })).sort(comparePrices);
  }

  browse(): BrowseDefinition {
    // The browse sorts stably by pi_list; rows come pre-sorted by (list, part, currency), so pages are stable.
    return {
      id: PRICE_LIST_BROWSE_ID,
      columns: QAD_PRICE_COLUMNS,
      keyField: 'pi_mstr.pi_list',
      rows: () => this.list().map((r): Record<string, unknown> => ({ ...r })),
    };
  }
}
