import { installWebhook, removeWebhook, type WebhookOpsDeps, type WebhookReport } from '../../shared/operations/webhook.ts';
import type { Io } from './run.ts';

/** The help lines of `connector webhook`. */
export const WEBHOOK_USAGE = `  webhook install <id> [--url-prefix URL]    create the tenant's Pipedrive webhook, so won deals reach QAD at
                                              once (stack deployed with -c webhooks=true); the URL prefix is the
                                              stack's output WebhookUrlPrefix, read from --outputs if not given
  webhook remove <id>                         delete the tenant's webhook in Pipedrive and forget its credentials`;

/**
 * `connector webhook install|remove <tenant>`: answers the exit code (2: the command line was wrong). The URL
 * prefix comes from --url-prefix, else from the deployed stack's outputs (WEBHOOK_URL_PREFIX, set from --outputs).
 */
export async function webhookCommand(
  args: readonly string[],
  options: { urlPrefix: string | undefined; json: boolean },
  deps: WebhookOpsDeps,
  io: Io,
): Promise<number> {
  const [sub, tenantId] = args;
  if ((sub !== 'install' && sub !== 'remove') || !tenantId) {
    io.err('connector webhook: use "webhook install <id> [--url-prefix URL]" or "webhook remove <id>"');
    return 2;
  }
  let report: WebhookReport;
  if (sub === 'install') {
    const prefix = options.urlPrefix ?? process.env.WEBHOOK_URL_PREFIX;
    if (!prefix) {
      io.err('connector webhook install: no URL; deploy with -c webhooks=true and pass --outputs FILE, or give --url-prefix URL');
      return 2;
    }
    report = await installWebhook(deps, tenantId, prefix);
  } else report = await removeWebhook(deps, tenantId);
  if (options.json) io.out(JSON.stringify(report, null, 2));
  else io.out(describe(report));
  return 0;
}

function describe(r: WebhookReport): string {
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
