import type { WebhookReport } from '../../shared/operations/webhook.ts';

/** What `connector webhook install|remove` did, in one line. */
export function describeWebhook(r: WebhookReport): string {
  const deleted = r.deleted.length > 0 ? `; deleted old webhook(s) ${r.deleted.join(', ')}` : '';
  switch (r.action) {
    case 'installed':
      return `tenant ${r.tenantId}: webhook ${r.webhookId} posts won deals to ${r.url}; new credentials stored encrypted${deleted}`;
    case 'unchanged':
      return `tenant ${r.tenantId}: webhook ${r.webhookId} already posts to ${r.url}; nothing changed`;
    case 'removed':
      return `tenant ${r.tenantId}: webhook removed${deleted}; won deals wait for the deal poll again`;
    case 'absent':
      return `tenant ${r.tenantId}: no webhook to remove`;
  }
}
