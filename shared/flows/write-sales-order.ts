import * as z from 'zod';
import type { StoredTenant } from '../config/tenant.ts';
import { FieldDriftError, PermanentError } from '../domain/errors.ts';
import {
  ADVICE,
  adviceForQadErrors,
  adviceHash,
  conflictNote,
  newOrderState,
  noteSays,
  pendingNote,
  pendingNoteMark,
  qadSubmitErrorSchema,
  rejectedStatus,
  rejectionNote,
} from '../domain/deal-outcome.ts';
import { orderLifeFields, recordNewOrderStatus } from './order-status.ts';
import {
  legacyCustomerPo,
  mapDealToOrder,
  orderOfOurs,
  poPrefixOf,
  wonDealSchema,
  type OrderDefaults,
  type WonDeal,
} from '../domain/sales-order.ts';
import type { PipedriveClient } from '../ports/pipedrive.ts';
import type { QadClient } from '../ports/qad.ts';
import type { RecordMessage } from '../ports/index.ts';
import { organizations } from './entities/organizations.ts';
import { products } from './entities/products.ts';
import { resolveKeyField } from './key-fields.ts';
import { readDealFields } from './field-resolver.ts';
import { dealEntries } from './field-gate.ts';
import { waitForUnknownOutcome, type WriterDeps } from './write-record.ts';
import { recordOf, withClaim, type DeliveryInfo } from './claim.ts';
import { REREAD_HASH, rereadWonDeals } from './won-deal-reads.ts';

export type OrderOutcome = {
  action: 'created' | 'unchanged' | 'rejected' | 'conflict' | 'skipped';
  pipedriveId: number;
  ref?: string;
  reason?: string;
};

const ENTITY = 'salesOrder';

/**
 * A won deal becomes exactly one QAD sales order:
 * 1. claim the deal in DynamoDB (a concurrent delivery waits);
 * 2. already ordered: unchanged -> done; changed lines or value -> a conflict for a person, never applied;
 * 3. map: sold-to from the organization's QAD customer, lines from the products' QAD items,
 *    currency, won date, tenant defaults; a deal that cannot map is rejected with its reason
 *    (audited, not retried in a loop; the deal poll looks at it again later) and the deal says why
 *    in a note, once per distinct reason, and in its status field;
 * 4. look the order up by customer PO (the tenant's deal reference, then the older tenant-less one) before
 *    creating, so a retry after a crash adopts the order it made instead of making a second; only an order
 *    with exactly that PO and sold-to is adopted, and an answer that cannot be read stops the deal (never a create);
 * 5. write the order number (and "Ordered <number>" in the status field) back to the deal, then record it and
 *    release the claim.
 */
export async function writeSalesOrder(
  deps: WriterDeps,
  tenant: StoredTenant,
  message: RecordMessage,
  delivery: DeliveryInfo,
): Promise<OrderOutcome> {
  if (message.hash === REREAD_HASH) return writeRereadDeal(deps, tenant, message, delivery);
  const { tenantId } = tenant.config;
  const deal = recordOf(wonDealSchema, message, 'won deal', (d) => String(d.id));
  const key = String(deal.id);
  return withClaim(deps, { tenantId, entity: ENTITY, key, what: `deal ${key}` }, delivery, async ({ entry, owner }) => {
    const audit = (action: OrderOutcome['action'], reason: string, ref?: string) =>
      deps.audit.record({
        tenantId,
        entity: ENTITY,
        key,
        action,
        pipedriveId: deal.id,
        reason: ref ? `${reason} (QAD order ${ref})` : reason,
        attempt: delivery.attempt,
        messageId: delivery.messageId,
        contentHash: message.hash,
      });

    if (entry?.ref) {
      if (entry.contentHash === message.hash) {
        await audit('unchanged', 'already ordered; nothing changed', entry.ref);
        await deps.keyMap.release(tenantId, ENTITY, key, owner);
        return { action: 'unchanged', pipedriveId: deal.id, ref: entry.ref };
      }
      // Never silently applied, never a second order: a person settles it in QAD.
      const reason =
        `the deal's value, currency, organization or lines changed after QAD order ${entry.ref} was created; ` +
        'not applied, settle it by hand';
      await noteOnce(ADVICE.changedAfterOrder(entry.ref), conflictNote(ADVICE.changedAfterOrder(entry.ref)));
      await audit('conflict', reason, entry.ref);
      await deps.keyMap.markRejected(tenantId, ENTITY, key, message.hash, new Date(deps.clock.now()).toISOString());
      await deps.keyMap.release(tenantId, ENTITY, key, owner);
      return { action: 'conflict', pipedriveId: deal.id, ref: entry.ref, reason };
    }

    // Rejected for this very content a moment ago (another delivery of the message): the recheck, not
    // every duplicate, looks at it again. Not while a create is pending: an attempt since may have made the order.
    const recheckMs = tenant.config.mapping.deal.recheckRejectedAfterMinutes * 60_000;
    const rejectedRecently =
      entry?.rejectedHash === message.hash && entry.rejectedAt && deps.clock.now() - Date.parse(entry.rejectedAt) < recheckMs;
    if (rejectedRecently && !entry.pendingCreateAt) {
      await audit(
        'unchanged',
        `already rejected at ${entry.rejectedAt} for the same content; ` +
          `it is looked at again after ${tenant.config.mapping.deal.recheckRejectedAfterMinutes} minutes`,
      );
      await deps.keyMap.release(tenantId, ENTITY, key, owner);
      return { action: 'unchanged', pipedriveId: deal.id };
    }

    const pipedrive = await deps.clients.pipedrive(tenant);
    const qad = await deps.clients.qad(tenant);
    const { salesOrders } = tenant.config.qad;
    const defaults: OrderDefaults = {
      site: salesOrders.site,
      noLines: salesOrders.noLines === 'reject' ? { kind: 'reject' } : { kind: 'item', part: salesOrders.noLines.item },
    };
    // Deal fields by name (requested ship date, customer PO text, site), typed back; a drifted field holds the deal.
    const fields = await readDealFields(deps, tenantId, pipedrive, dealEntries(tenant), deal.customFields);
    const mapping = mapDealToOrder(deal, {
      customerCode: await customerOf(deps, tenant, pipedrive, deal),
      poPrefix: poPrefixOf(tenantId, salesOrders.poPrefix),
      partOf: await partsOf(deps, tenantId, pipedrive, deal),
      defaults,
      fields,
    });
    if (!mapping.ok) return await reject(mapping.reason, mapping.advice);

    const po = mapping.order.so_po;
    let orderNumber = await orderMadeFor(qad, salesOrders.path, deal.id, mapping.order);
    const adopted = orderNumber !== undefined;
    if (!orderNumber && entry?.pendingCreateAt) await waitForUnknownOutcome(deps, entry.pendingCreateAt, `deal ${key}`);
    if (!orderNumber) {
      await deps.keyMap.markPendingCreate(tenantId, ENTITY, key, owner, new Date(deps.clock.now()).toISOString());
      try {
        orderNumber = (await qad.createSalesOrder(salesOrders.path, mapping.order)).orderNumber;
      } catch (error) {
        // QAD's own validation (a currency not allowed for the customer, an unknown item): nothing was created.
        if (error instanceof PermanentError) {
          await deps.keyMap.clearPendingCreate(tenantId, ENTITY, key, owner);
          const qadErrors = z.array(qadSubmitErrorSchema).safeParse(error.details?.['qadErrors']).data ?? [];
          return await reject(error.message, adviceForQadErrors(qadErrors, error.message));
        }
        throw error;
      }
    }

    const orderField = await resolveKeyField(deps, tenantId, pipedrive, 'deal', tenant.config.mapping.deal.orderFieldName);
    // The order's life starts on the deal in the same PATCH ("Ordered <number>"); a drifted status field never holds an order.
    const life = await lenient(() => orderLifeFields(deps, tenant, pipedrive, { order: newOrderState(orderNumber) }));
    await pipedrive.update('deals', deal.id, { custom_fields: { [orderField!]: orderNumber, ...life } });
    await audit(
      'created',
      adopted
        ? `found the order already made for customer PO ${po} and adopted it`
        : `created for ${mapping.value.toFixed(2)} ${deal.currency}, ${mapping.order.lines.length} lines; ` +
            'order number written back to the deal',
      orderNumber,
    );
    await deps.keyMap.complete(tenantId, ENTITY, key, owner, { pipedriveId: deal.id, contentHash: message.hash, ref: orderNumber });
    if (life) await recordNewOrderStatus(deps, tenant, deal.id, newOrderState(orderNumber));
    return { action: 'created', pipedriveId: deal.id, ref: orderNumber };

    /**
     * Audited with its reason, told on the deal, kept out of the retry loop; the deal poll rechecks it later. One
     * problem, one entry: a recheck that finds the same content rejected for the same reason adds no entry and no
     * alarm count (and the note is left once per distinct reason).
     */
    async function reject(reason: string, advice: string): Promise<OrderOutcome> {
      const recheck = tenant.config.mapping.deal.recheckRejectedAfterMinutes;
      // From the key map, read before this rejection is noted: the writer appends to the audit, never reads it.
      const before = (await deps.keyMap.getMany(tenantId, ENTITY, [key])).get(key);
      const sameAgain = before?.rejectedHash === message.hash && (before.noted ?? []).includes(adviceHash(advice));
      await noteOnce(advice, rejectionNote(advice, recheck), rejectedStatus(advice), before?.noted ?? []);
      if (!sameAgain) {
        await audit('rejected', reason);
        deps.telemetry.dealRejected(tenantId);
      }
      await deps.keyMap.markRejected(tenantId, ENTITY, key, message.hash, new Date(deps.clock.now()).toISOString());
      await deps.keyMap.release(tenantId, ENTITY, key, owner);
      return { action: 'rejected', pipedriveId: deal.id, reason };
    }

    /**
     * The salesperson sees why on the deal: a note, and the status field if one is mapped, once per distinct reason
     * (retries, duplicate deliveries and rechecks of the same reason add nothing). A deal gone from Pipedrive takes no
     * note (audited); a failure that may pass (429, 5xx) is raised, so the message comes back and notes then.
     */
    async function noteOnce(advice: string, content: string, status?: string, known?: readonly string[]): Promise<void> {
      const hash = adviceHash(advice);
      // What was noted before: as the caller read it already, else one read of the key map.
      const noted = known ?? (await deps.keyMap.getMany(tenantId, ENTITY, [key])).get(key)?.noted ?? [];
      if (noted.includes(hash)) return;
      // A note sent before whose answer was lost (POST has no idempotency key) is looked for, never sent twice; but not
      // before a lease has passed since it was sent, as a POST answered by a timeout may still be carried out late.
      const pending = pendingNote(noted, hash);
      if (pending?.since !== undefined) await waitForUnknownOutcome(deps, pending.since, `the note on deal ${key}`);
      const pipedrive = await deps.clients.pipedrive(tenant);
      try {
        const life = status === undefined ? undefined : await lenient(() => orderLifeFields(deps, tenant, pipedrive, { status }));
        if (life) await pipedrive.update('deals', deal.id, { custom_fields: life });
        const sentBefore = pending !== undefined && (await pipedrive.dealNotes(deal.id)).some((n) => noteSays(n.content, advice));
        if (!sentBefore) {
          // Only while this delivery holds the claim: one that outlived its lease and lost the deal to another sends nothing.
          const mark = pendingNoteMark(hash, new Date(deps.clock.now()).toISOString());
          await deps.keyMap.markNoted(tenantId, ENTITY, key, mark, owner);
          // Sent in the lease's first half or not at all (nothing sent): the lease a retry waits out covers the call.
          await pipedrive.addNote({ dealId: deal.id, content }, { sendWithinMs: deps.claimLeaseMs / 2 });
        }
      } catch (error) {
        if (!(error instanceof PermanentError)) throw error;
        await deps.audit.record({
          tenantId,
          entity: ENTITY,
          key,
          action: 'failed',
          pipedriveId: deal.id,
          reason: `no note left on the deal: ${error.message}`,
        });
        return;
      }
      await deps.keyMap.markNoted(tenantId, ENTITY, key, hash);
      await deps.audit.record({
        tenantId,
        entity: ENTITY,
        key,
        action: 'noted',
        pipedriveId: deal.id,
        reason: `note left on the deal for the salesperson: ${advice}`,
        attempt: delivery.attempt,
        messageId: delivery.messageId,
      });
    }
  });
}

/**
 * A message naming a deal only (a webhook's): an ordered deal is done without a call (the poll reconciles any
 * later change); otherwise the deal and its lines are read from Pipedrive and written as the poll's message
 * would be. A deal no longer won is skipped, audited.
 */
async function writeRereadDeal(deps: WriterDeps, tenant: StoredTenant, message: RecordMessage, delivery: DeliveryInfo) {
  const { tenantId } = tenant.config;
  const dealId = recordOf(dealRefSchema, message, 'deal reference', (d) => String(d.id)).id;
  const audit = (action: OrderOutcome['action'], reason: string) =>
    deps.audit.record({
      tenantId,
      entity: ENTITY,
      key: message.key,
      action,
      pipedriveId: dealId,
      reason,
      attempt: delivery.attempt,
      messageId: delivery.messageId,
    });
  const entry = (await deps.keyMap.getMany(tenantId, ENTITY, [message.key])).get(message.key);
  if (entry?.ref) {
    await audit('unchanged', `already ordered (QAD order ${entry.ref}); the webhook's delivery changes nothing`);
    return { action: 'unchanged', pipedriveId: dealId, ref: entry.ref } satisfies OrderOutcome;
  }
  const fresh = (await rereadWonDeals(deps, tenant, [message.key])).get(message.key);
  if (!fresh) {
    await audit('skipped', `deal ${dealId} is not won in Pipedrive (any more): nothing to order`);
    return { action: 'skipped', pipedriveId: dealId } satisfies OrderOutcome;
  }
  return writeSalesOrder(deps, tenant, { ...message, record: fresh.record, hash: fresh.hash }, delivery);
}

const dealRefSchema = z.object({ id: z.number().int().positive() });

/** The order's life fields, or undefined when a mapped status field drifted (audited by the resolver): never holds an order. */
async function lenient<T>(resolve: () => Promise<T>): Promise<T | undefined> {
  try {
    return await resolve();
  } catch (error) {
    if (error instanceof FieldDriftError) return undefined;
    throw error;
  }
}

/**
 * The order already made for this deal, if any: under the tenant's customer PO, else under the tenant-less
 * one older versions wrote (same sold-to only). An answer that cannot be read is a PermanentError: the
 * order may exist, so the deal waits for a person (dead-lettered), never a second order.
 */
async function orderMadeFor(qad: QadClient, path: string, dealId: number, order: { so_po: string; so_cust: string }) {
  for (const po of [order.so_po, legacyCustomerPo(dealId)]) {
    const found = orderOfOurs(await qad.findSalesOrders(path, po), { po, customer: order.so_cust });
    if (found.kind === 'unreadable') throw new PermanentError(`QAD's sales order lookup cannot be trusted: ${found.reason}; not created`);
    if (found.kind === 'ours') return found.orderNumber;
  }
  return undefined;
}

/** The QAD customer behind the deal's organization: the key map, else the organization's QAD code field. */
async function customerOf(deps: WriterDeps, tenant: StoredTenant, pipedrive: PipedriveClient, deal: WonDeal): Promise<string | undefined> {
  if (deal.orgId === null) return undefined;
  const owner = (await deps.keyMap.ownersOf(tenant.config.tenantId, 'organization', [deal.orgId])).get(deal.orgId);
  if (owner) return owner;
  const keyField = await resolveKeyField(
    deps,
    tenant.config.tenantId,
    pipedrive,
    'organization',
    organizations.keyFieldName(tenant.config),
  );
  return organizations.keyValueOf(await pipedrive.get('organizations', deal.orgId), keyField) ?? undefined;
}

/** QAD items for the deal's products: the key map, else the products' codes, read in one call. */
async function partsOf(deps: WriterDeps, tenantId: string, pipedrive: PipedriveClient, deal: WonDeal): Promise<Map<number, string>> {
  const ids = [...new Set(deal.lines.map((l) => l.product_id))];
  const parts = new Map(await deps.keyMap.ownersOf(tenantId, 'product', ids));
  const missing = ids.filter((id) => !parts.has(id));
  for (let i = 0; i < missing.length; i += 100) {
    const page = await pipedrive.list('products', { ids: missing.slice(i, i + 100) });
    for (const remote of page.items) {
      const code = products.keyValueOf(remote, undefined);
      if (code) parts.set(remote.id, code);
    }
  }
  return parts;
}
