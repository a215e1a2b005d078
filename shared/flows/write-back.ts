import type { StoredTenant } from '../config/tenant.ts';
import type { Customer } from '../domain/customer.ts';
import type { QadClient } from '../ports/qad.ts';
import type { AuditLog } from '../ports/index.ts';

export interface WriteBackDeps {
  audit: AuditLog;
  qad(tenant: StoredTenant): Promise<QadClient>;
}

/**
 * Keys both ways for customers (tenant config `mapping.fields.writeBack`, off by default): the
 * Pipedrive organization id goes into a QAD customer field once the organization is created or
 * matched. Idempotent: a customer whose field already holds the id costs no QAD call. The PUT
 * changes the customer's mod date, and the next poll finds its content hash unchanged (the user
 * field is not part of it), so it does not travel back to Pipedrive.
 */
export async function writeBackOrganizationId(
  deps: WriteBackDeps,
  tenant: StoredTenant,
  customer: Customer,
  pipedriveId: number,
  context: { attempt: number; messageId: string },
): Promise<void> {
  const writeBack = tenant.config.mapping.fields.writeBack;
  if (!writeBack.enabled) return;
  const value = String(pipedriveId);
  const current = customer.userFields?.[writeBack.customerField]?.trim();
  if (current === value) return;
  if (current) {
    // Someone linked the customer to another organization (deleted, or another customer's): theirs to settle.
    await deps.audit.record({
      tenantId: tenant.config.tenantId,
      entity: 'organization',
      key: customer.code,
      action: 'skipped',
      pipedriveId,
      attempt: context.attempt,
      messageId: context.messageId,
      reason:
        `QAD customer ${customer.code} field ${writeBack.customerField} holds ${current}, not overwritten with organization ` +
        `${value}: that id is gone from Pipedrive or another customer's; a person corrects the field`,
    });
    return;
  }
  const qad = await deps.qad(tenant);
  await qad.updateCustomer(writeBack.path, customer.code, { [writeBack.customerField]: value });
  await deps.audit.record({
    tenantId: tenant.config.tenantId,
    entity: 'organization',
    key: customer.code,
    action: 'written-back',
    pipedriveId,
    attempt: context.attempt,
    messageId: context.messageId,
    reason: `Pipedrive organization id ${value} written to QAD customer ${customer.code} ` + `field ${writeBack.customerField}`,
  });
}
