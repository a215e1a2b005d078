import * as z from 'zod';
import type { FieldMappingEntry } from '../config/field-mapping.ts';
import type { StoredTenant } from '../config/tenant.ts';
import { contentHash } from '../domain/content-hash.ts';
import type { NamedValue } from '../domain/custom-fields.ts';
import { withMappedFields } from '../domain/custom-fields.ts';
import { goneOrderState, orderStatusValue, ordersFromRows, statusText, type OrderState, type StatusCodes } from '../domain/deal-outcome.ts';
import { PipedriveNotFoundError } from '../domain/errors.ts';
import { fieldNames } from '../domain/redact.ts';
import { legacyCustomerPo, poPrefixOf } from '../domain/sales-order.ts';
import { hashWithMappedValues } from '../domain/mapped-values.ts';
import type { KeyMapEntry, RecordMessage } from '../ports/index.ts';
import type { PipedriveClient } from '../ports/pipedrive.ts';
import type { QadClient } from '../ports/qad.ts';
import { withClaim, recordOf, type DeliveryInfo } from './claim.ts';
import { browsePages } from './entities/entity.ts';
import { fieldGate, releaseDriftHeld, type FlowFields } from './field-gate.ts';
import { resolveMappedFields } from './field-resolver.ts';
import { runTenantPoll, type PollDeps } from './poll.ts';
import { newRecordMessage } from './record-message.ts';
import type { EntityFlow, RereadDeps } from './registry.ts';
import type { WriterDeps } from './write-record.ts';

/**
 * The order's life on the deal: a poll reads the connector's QAD orders (status, confirmed ship date, shipped
 * quantities, invoice) and sends the ones whose mapped deal fields would change; a writer puts them on the deal.
 * Keyed by deal id in the key map (entity `orderStatus`), with the content hash of the values last written, so
 * an unchanged order costs no Pipedrive call.
 */

const ENTITY = 'orderStatus';
/** The deal fields this flow writes: `mapping.fields.orderStatus`, on Pipedrive's deal fields. */
const FIELDS: FlowFields = { entity: ENTITY, fieldEntity: 'deal', mappedFields: 'orderStatus' };

export interface OrderStatusPollSummary {
  tenantId: string;
  entity: typeof ENTITY;
  outcome: 'polled' | 'not-due' | 'busy' | 'failed' | 'tenant-on-hold';
  /** Orders the connector made (from the key map) that are followed. */
  orders: number;
  read: number;
  enqueued: number;
  unchanged: number;
  /** Orders no longer in QAD (deleted there): their deals say so. */
  gone: number;
  /** Rows of the browse that do not parse (audited once each). */
  rejected: number;
  held?: number;
  released?: number;
  error?: string;
}

/** What a status message carries: the deal, and what QAD says of its order. */
const orderStateSchema = z.object({
  orderNumber: z.string().min(1),
  gone: z.boolean(),
  statusCode: z.string(),
  confirmedShipDate: z.string().nullable(),
  ordered: z.number(),
  shipped: z.number(),
  invoiceNumber: z.string(),
  invoicePosted: z.boolean(),
});
const statusRecordSchema = z.object({ dealId: z.number().int(), order: orderStateSchema });
type StatusRecord = z.infer<typeof statusRecordSchema>;

const codesOf = (tenant: StoredTenant): StatusCodes => ({
  cancelled: tenant.config.qad.orderStatus.cancelledStatuses,
  onHold: tenant.config.qad.orderStatus.onHoldStatuses,
});

const entriesOf = (tenant: StoredTenant): Array<FieldMappingEntry<'orderStatus'>> => tenant.config.mapping.fields.orderStatus;

/** The mapped deal values of an order's state, by Pipedrive field name. */
function valuesOf(tenant: StoredTenant, order: OrderState, entries = entriesOf(tenant)): NamedValue[] {
  const codes = codesOf(tenant);
  return entries.map((e) => ({ name: e.pipedrive, value: orderStatusValue(order, e.qad, codes), ...(e.labels && { labels: e.labels }) }));
}

/** What decides "unchanged": the order number and the values the deal would show. */
export function orderStatusHash(tenant: StoredTenant, order: OrderState): string {
  return hashWithMappedValues(contentHash({ order: order.orderNumber }), valuesOf(tenant, order));
}

/**
 * The deal's custom fields for these values of the order's life (all mapped ones, or only the status), typed
 * per field and created if never seen; undefined when nothing is mapped. A drifted field throws FieldDriftError.
 */
export async function orderLifeFields(
  deps: WriterDeps,
  tenant: StoredTenant,
  pipedrive: PipedriveClient,
  values: { order: OrderState } | { status: string },
): Promise<Record<string, unknown> | undefined> {
  const entries = 'order' in values ? entriesOf(tenant) : entriesOf(tenant).filter((e) => e.qad === 'status');
  if (entries.length === 0) return undefined;
  const named = 'order' in values ? valuesOf(tenant, values.order, entries) : [{ name: entries[0]!.pipedrive, value: values.status }];
  const { fields } = await resolveMappedFields(deps, tenant.config.tenantId, pipedrive, 'deal', entries, named);
  return withMappedFields<{ custom_fields?: Record<string, unknown> }>({}, fields).custom_fields;
}

/**
 * A new order's state is known to its writer: it records the hash of what it wrote on the deal, so the poll's
 * first look at an order nobody touched costs nothing. A status writer holding the deal's claim wins.
 */
export async function recordNewOrderStatus(deps: WriterDeps, tenant: StoredTenant, dealId: number, order: OrderState): Promise<void> {
  const { tenantId } = tenant.config;
  const key = String(dealId);
  const owner = `order-writer-${dealId}-${deps.clock.now()}`;
  const claim = await deps.keyMap.claim(tenantId, ENTITY, key, owner, deps.claimLeaseMs, deps.clock.now());
  if (claim.held) return;
  await deps.keyMap.complete(tenantId, ENTITY, key, owner, {
    pipedriveId: dealId,
    contentHash: orderStatusHash(tenant, order),
    ref: order.orderNumber,
  });
}

/**
 * For every enabled tenant that is due:
 * 1. the orders the connector made (the key map's ordered deals);
 * 2. read them from QAD's order-line browse (the tenant's customer PO prefix), page by page;
 * 3. an order missing there is looked up by its customer PO before it is called deleted;
 * 4. enqueue the orders whose deal values would change (content hash per order); unchanged ones cost nothing;
 * 5. a drifted deal field holds them all (nothing enqueued).
 */
export async function pollOrderStatusTenant(deps: PollDeps, tenant: StoredTenant, force: boolean): Promise<OrderStatusPollSummary> {
  const { tenantId } = tenant.config;
  const summary: OrderStatusPollSummary = {
    tenantId,
    entity: ENTITY,
    outcome: 'polled',
    orders: 0,
    read: 0,
    enqueued: 0,
    unchanged: 0,
    gone: 0,
    rejected: 0,
  };
  return runTenantPoll(deps, tenant, orderStatus, force, summary, async ({ pollId, now, finish, holdBack }) => {
    if (entriesOf(tenant).length === 0) {
      await finish(new Date(now).toISOString(), 'no deal fields mapped for the order status (mapping.fields.orderStatus): nothing read');
      return summary;
    }
    summary.released = await releaseDriftHeld(deps, tenant, FIELDS);
    const ordered = (await deps.keyMap.listMapped(tenantId, 'salesOrder')).filter((e) => e.ref !== undefined && !e.goneAt);
    summary.orders = ordered.length;
    const qad = await deps.clients.qad(tenant);
    const states = await readOrders(deps, tenant, qad, summary);
    const known = await deps.keyMap.getMany(
      tenantId,
      ENTITY,
      ordered.map((e) => e.qadKey),
    );
    const messages: RecordMessage[] = [];
    for (const entry of ordered) {
      const order = states.get(entry.ref!) ?? (await goneFromQad(tenant, qad, entry));
      if (!order) continue;
      if (order.gone) summary.gone++;
      const hash = orderStatusHash(tenant, order);
      if (known.get(entry.qadKey)?.contentHash === hash) {
        summary.unchanged++;
        continue;
      }
      const record: StatusRecord = { dealId: Number(entry.qadKey), order };
      messages.push(newRecordMessage({ tenantId, entity: ENTITY, key: entry.qadKey, hash, record, pollId }, now));
    }
    const gate = fieldGate(deps, tenant, FIELDS, now);
    if (await gate.holds(messages.length)) {
      summary.held = gate.held;
      await gate.report();
      await holdBack(`read ${summary.orders} orders; ${gate.held} status changes held back by a deal field drift (not enqueued)`);
      return summary;
    }
    await deps.queueFor(ENTITY).sendAll(messages);
    summary.enqueued = messages.length;
    await finish(
      new Date(now).toISOString(),
      `read ${summary.read} order lines of ${summary.orders} orders the connector made; enqueued ${summary.enqueued} status changes, ` +
        `unchanged ${summary.unchanged}, deleted in QAD ${summary.gone}, unreadable rows ${summary.rejected}`,
    );
    return summary;
  });
}

/** The orders of the tenant's customer PO prefix, by number; rows that do not parse are audited once each. */
async function readOrders(deps: PollDeps, tenant: StoredTenant, qad: QadClient, summary: OrderStatusPollSummary) {
  const { tenantId } = tenant.config;
  const rows = await orderRows(tenant, qad);
  summary.read = rows.length;
  const { orders, bad } = ordersFromRows(rows);
  summary.rejected = bad.length;
  const seen = await deps.keyMap.getMany(
    tenantId,
    ENTITY,
    bad.map((b) => `_row:${b.key}`),
  );
  for (const b of bad) {
    const hash = contentHash(b);
    if (seen.get(`_row:${b.key}`)?.rejectedHash === hash) continue;
    await deps.audit.record({
      tenantId,
      entity: ENTITY,
      key: b.key,
      action: 'failed',
      reason: `QAD order row not readable (${b.reason}); the order's status is not written until it is`,
      fields: fieldNames(rows.find((r) => (r as Record<string, unknown>)['so_mstr.so_nbr'] === b.key) ?? {}),
    });
    await deps.keyMap.markRejected(tenantId, ENTITY, `_row:${b.key}`, hash);
  }
  return orders;
}

/** Every row of the order-line browse for the tenant's customer PO prefix (its orders, not another tenant's). */
async function orderRows(tenant: StoredTenant, qad: QadClient): Promise<unknown[]> {
  const { tenantId, qad: config } = tenant.config;
  const prefix = poPrefixOf(tenantId, config.salesOrders.poPrefix);
  const rows: unknown[] = [];
  const filters = [{ field: 'so_mstr.so_po', op: 'sw' as const, value: prefix }];
  for await (const page of browsePages(qad, { ...config.orderStatus, keyField: null }, filters)) rows.push(...page);
  return rows;
}

/**
 * An order the browse did not return: deleted in QAD if its customer PO (the tenant's, or the older tenant-less
 * one) finds it no more; one that is still there under the older PO is not followed (undefined).
 */
async function goneFromQad(tenant: StoredTenant, qad: QadClient, entry: KeyMapEntry): Promise<OrderState | undefined> {
  const { salesOrders } = tenant.config.qad;
  const dealId = Number(entry.qadKey);
  for (const po of [`${poPrefixOf(tenant.config.tenantId, salesOrders.poPrefix)}${dealId}`, legacyCustomerPo(dealId)]) {
    const found = await qad.findSalesOrders(salesOrders.path, po);
    if (found.some((o) => (o as Record<string, unknown> | null)?.['so_nbr'] === entry.ref)) return undefined;
  }
  return goneOrderState(entry.ref!);
}

/**
 * One status change onto its deal: unchanged since the last write costs nothing; the mapped deal fields are
 * resolved by name (created if never seen, held on drift) and written in one PATCH. A deal deleted in Pipedrive
 * is audited and recorded, not retried.
 */
export async function writeOrderStatus(deps: WriterDeps, tenant: StoredTenant, message: RecordMessage, delivery: DeliveryInfo) {
  const { tenantId } = tenant.config;
  const { dealId, order } = recordOf(statusRecordSchema, message, 'order status', (r) => String(r.dealId));
  const key = String(dealId);
  return withClaim(deps, { tenantId, entity: ENTITY, key, what: `deal ${key}'s order status` }, delivery, async ({ entry, owner }) => {
    const audit = (action: 'updated' | 'unchanged' | 'skipped', reason: string, fields?: string[]) =>
      deps.audit.record({
        tenantId,
        entity: ENTITY,
        key,
        action,
        pipedriveId: dealId,
        reason,
        attempt: delivery.attempt,
        messageId: delivery.messageId,
        contentHash: message.hash,
        ...(fields && { fields }),
      });
    const done = () =>
      deps.keyMap.complete(tenantId, ENTITY, key, owner, { pipedriveId: dealId, contentHash: message.hash, ref: order.orderNumber });
    if (entry?.contentHash === message.hash) {
      await audit('unchanged', `order ${order.orderNumber}: the deal already shows this`);
      await deps.keyMap.release(tenantId, ENTITY, key, owner);
      return { action: 'unchanged', pipedriveId: dealId, ref: order.orderNumber };
    }
    const pipedrive = await deps.clients.pipedrive(tenant);
    const customFields = (await orderLifeFields(deps, tenant, pipedrive, { order })) ?? {};
    try {
      await pipedrive.update('deals', dealId, { custom_fields: customFields });
    } catch (error) {
      if (!(error instanceof PipedriveNotFoundError)) throw error;
      await audit('skipped', `order ${order.orderNumber}: deal ${dealId} is gone from Pipedrive; its status is not written`);
      await done();
      return { action: 'skipped', pipedriveId: dealId, ref: order.orderNumber };
    }
    const status = statusText(order, codesOf(tenant));
    await audit(
      'updated',
      `order ${order.orderNumber} on the deal: ${status}`,
      entriesOf(tenant).map((e) => e.pipedrive),
    );
    await done();
    return { action: 'updated', pipedriveId: dealId, ref: order.orderNumber };
  });
}

/** The orders' life back on their deals: a registry flow of its own (its schedule, poll function, grants, alarms). */
export const orderStatus: EntityFlow = {
  entity: ENTITY,
  poll: 'order-status',
  // Deal field updates are Pipedrive writes: the records writer's queue.
  queue: 'records',
  label: 'order status',
  collection: 'deals',
  fieldEntity: 'deal',
  mappedFields: 'orderStatus',
  source: 'qad',
  schedule: 'rate(15 minutes)',
  tenantSchedule: 'rate(1 hour)',
  keyFieldName: () => undefined,
  pollTenant: pollOrderStatusTenant,
  write: writeOrderStatus,
  async reread(deps: RereadDeps, tenant, keys) {
    const wanted = new Set(keys);
    const ordered = (await deps.keyMap.listMapped(tenant.config.tenantId, 'salesOrder')).filter(
      (e) => e.ref !== undefined && wanted.has(e.qadKey),
    );
    const { orders } = ordersFromRows(await orderRows(tenant, await deps.clients.qad(tenant)));
    const out = new Map<string, { record: unknown; hash: string }>();
    for (const e of ordered) {
      const order = orders.get(e.ref!);
      if (order) out.set(e.qadKey, { record: { dealId: Number(e.qadKey), order }, hash: orderStatusHash(tenant, order) });
    }
    return out;
  },
};
