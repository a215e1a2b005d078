/** QAD as the flows see it; the HTTP client in shared/clients/qad-client.ts implements it. */

export interface BrowseFilter {
  field: string;
  op: 'eq' | 'cn' | 'sw' | 'ew' | 'gt' | 'ge' | 'lt' | 'le';
  value: string;
}

export interface BrowsePage {
  rows: unknown[];
  hasMore: boolean;
}

export interface QadClient {
  browse(opts: { path: string; browseId: string; page: number; pageSize: number; filters: BrowseFilter[] }): Promise<BrowsePage>;
  /** Creates a sales order (header and lines in one business document); answers its number. */
  createSalesOrder(path: string, order: unknown): Promise<{ orderNumber: string }>;
  /**
   * The order headers QAD answers for a customer PO, as it sends them: QAD has no idempotency key, so the
   * caller decides which, if any, is ours (shared/domain/sales-order.ts `orderOfOurs`).
   */
  findSalesOrders(path: string, po: string): Promise<unknown[]>;
  /** Updates fields of one customer through its business document (`PUT`, `{code}` in the path). */
  updateCustomer(pathTemplate: string, code: string, fields: Record<string, string>): Promise<void>;
  /** The instance's own Swagger: which entity paths and methods it serves. */
  swaggerPaths(swaggerPath: string): Promise<Record<string, string[]>>;
}
