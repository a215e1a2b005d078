import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { SqsDeadLetters } from '../../shared/adapters/aws/sqs-queue.ts';
import type { StoredTenant } from '../../shared/config/tenant.ts';
import { entityRegistry, type EntityRegistry } from '../../shared/flows/registry.ts';
import { eraseRecord } from '../../shared/operations/erase.ts';
import { activityByHour, attentionFor, dailyBudget } from '../../shared/operations/overview.ts';
import { replay } from '../../shared/operations/replay.ts';
import { settleChoice } from '../../shared/operations/settle.ts';
import { queueStatus, redrive, tenantStatus } from '../../shared/operations/status.ts';
import { requireTenant } from '../../shared/operations/tenants.ts';
import type { Dependencies } from '../../shared/runtime/dependencies.ts';
import { barChart, html, page, type Safe } from './html.ts';

/**
 * The operator console: a web page on 127.0.0.1 only, behind a random token that is the first segment of every
 * path (a request without it answers 404). It shows what `connector status` and `audit` show and runs what
 * replay, redrive, erase and settling a hold do, through the same operations; every action asks for a
 * confirmation, and a POST must come from the console's own page (Origin) and carry the token.
 */
export interface ConsoleServer {
  url: string;
  close(): Promise<void>;
}

const HOUR = 3_600_000;

export async function startConsole(
  d: Dependencies,
  options: { port?: number; registry?: EntityRegistry; now?: () => number } = {},
): Promise<ConsoleServer> {
  const registry = options.registry ?? entityRegistry;
  const now = options.now ?? Date.now;
  const token = randomBytes(24).toString('base64url');
  let origin = '';
  const app = new Console(d, registry, now, token);
  const server = createServer((req, res) => {
    app.handle(req, res, origin).catch((error: unknown) => send(res, 500, page('Error', html`<p class="bad">${message(error)}</p>`)));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', resolve);
  });
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `${origin}/${token}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

const message = (error: unknown) =>
  error instanceof z.ZodError ? error.issues.map((i) => i.message).join('; ') : (error as Error).message;

function send(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'x-frame-options': 'DENY',
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'",
  });
  res.end(body);
}

const actionParams = {
  replay: z.object({ tenant: z.string().min(1), entity: z.string().min(1), key: z.string().min(1) }),
  'replay-window': z.object({
    tenant: z.string().min(1),
    from: z.iso.datetime({ offset: true, message: 'from must be an ISO time such as 2026-01-31T00:00:00Z' }),
    to: z.iso.datetime({ offset: true, message: 'to must be an ISO time such as 2026-01-31T00:00:00Z' }),
    outcome: z.enum(['failed', 'rejected', 'deferred', 'conflict']),
  }),
  redrive: z.object({ queue: z.string().min(1) }),
  settle: z.object({ tenant: z.string().min(1), entity: z.string().min(1), key: z.string().min(1), pipedriveId: z.coerce.number().int() }),
  erase: z.object({ tenant: z.string().min(1), entity: z.string().min(1), key: z.string().min(1) }),
} as const;
type ActionName = keyof typeof actionParams;
const isAction = (name: string): name is ActionName => name in actionParams;

class Console {
  constructor(
    private readonly d: Dependencies,
    private readonly registry: EntityRegistry,
    private readonly now: () => number,
    private readonly token: string,
  ) {}

  async handle(req: IncomingMessage, res: ServerResponse, origin: string): Promise<void> {
    const url = new URL(req.url ?? '/', origin);
    const [first = '', ...path] = url.pathname.split('/').slice(1).map(decodeURIComponent);
    // Another Host is a page that resolved its own name to 127.0.0.1 (DNS rebinding): not ours to answer.
    if (!this.tokenMatches(first) || req.headers.host !== origin.slice('http://'.length)) return send(res, 404, 'not found');
    const [route = '', ...args] = path;
    if (req.method === 'POST') {
      if (!sameOrigin(req, origin))
        return send(res, 403, page('Refused', html`<p class="bad">A POST must come from this console's page.</p>`));
      if (route !== 'do' || !isAction(args[0] ?? '')) return send(res, 404, 'not found');
      return send(res, 200, await this.run(args[0] as ActionName, new URLSearchParams(await body(req))));
    }
    if (req.method !== 'GET') return send(res, 405, 'method not allowed');
    if (route === '') return send(res, 200, await this.home());
    if (route === 'tenant' && args[0]) return send(res, 200, await this.tenantPage(args[0]));
    if (route === 'record' && args.length === 3) return send(res, 200, await this.recordPage(args[0]!, args[1]!, args[2]!));
    if (route === 'confirm' && isAction(args[0] ?? '')) return send(res, 200, this.confirm(args[0] as ActionName, url.searchParams));
    return send(res, 404, 'not found');
  }

  private tokenMatches(candidate: string): boolean {
    const a = Buffer.from(candidate);
    const b = Buffer.from(this.token);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  /** A link inside the console: the token first, each segment encoded. */
  private link(...segments: string[]): string {
    return `/${this.token}/${segments.map(encodeURIComponent).join('/')}`;
  }

  private confirmLink(action: ActionName, params: Record<string, string | number>): string {
    const query = new URLSearchParams(Object.entries(params).map(([k, v]): [string, string] => [k, String(v)]));
    return `${this.link('confirm', action)}?${query}`;
  }

  private pipedriveLink(tenant: StoredTenant, entity: string, id: number | undefined): Safe {
    if (id === undefined) return html``;
    const flow = this.registry.flows.find((f) => f.entity === entity);
    if (!flow) return html`${id}`;
    // A record's page in Pipedrive's web app: the company's origin, the singular kind, the id.
    const href = `${new URL(tenant.config.pipedrive.apiBaseUrl).origin}/${flow.fieldEntity}/${id}`;
    return html`<a href="${href}" rel="noreferrer" target="_blank">${flow.fieldEntity} ${id}</a>`;
  }

  private async home(): Promise<string> {
    const queues = await queueStatus(this.d.sqs, this.d.queueUrls);
    const tenants = await tenantStatus(this.d, this.now(), this.registry);
    const rows = tenants.map(
      (t) =>
        html`<tr>
          <td><a href="${this.link('tenant', t.tenantId)}">${t.tenantId}</a></td>
          <td>${t.enabled ? 'enabled' : 'DISABLED'}</td>
          <td class="${t.hold ? 'bad' : 'ok'}">${t.hold ?? 'open'}</td>
          <td>${t.held.length}</td>
          <td>${t.recentFailures.length}</td>
        </tr>`,
    );
    return page(
      'Tenants',
      html`<h1>Connector console</h1>
        ${queueTable(queues)}
        <h2>Tenants</h2>
        <table>
          ${headRow('tenant', 'state', 'gate', 'held', 'failures (last day)')} ${rows}
        </table>`,
    );
  }

  private async tenantPage(tenantId: string): Promise<string> {
    const tenant = await requireTenant(this.d.tenants, tenantId);
    const now = this.now();
    const status = (await tenantStatus(this.d, now, this.registry)).find((t) => t.tenantId === tenantId)!;
    const recent = await this.d.audit.byTenant(tenantId, new Date(now - 7 * 24 * HOUR).toISOString(), new Date(now + 1).toISOString());
    const attention = await attentionFor(
      { ...this.d, deadLettersOf: (queue) => new SqsDeadLetters(this.d.sqs, this.d.queueUrls[queue]!.dlq) },
      tenant,
      status,
      recent,
      this.registry,
    );
    const activity = activityByHour(recent, now - 24 * HOUR, now);
    const budget = await dailyBudget(this.d.clients, tenant).catch((error: unknown) => message(error));
    const label = (entity: string) => this.registry.flows.find((f) => f.entity === entity)?.label ?? entity;
    const recordLink = (entity: string, key: string) =>
      html`<a href="${this.link('record', tenantId, entity, key)}">${label(entity)} ${key}</a>`;
    const choices = attention.choices.map(
      (c) =>
        html`<tr>
          <td>${recordLink(c.entity, c.key)}</td>
          <td>${c.reason}</td>
          <td>
            ${c.candidates.map(
              ({ id, name }) =>
                html`<div>
                  ${this.pipedriveLink(tenant, c.entity, id)} "${name}"
                  <a
                    class="choose"
                    href="${this.confirmLink('settle', { tenant: tenantId, entity: c.entity, key: c.key, pipedriveId: id })}"
                    >this one is ${label(c.entity)} ${c.key}</a
                  >
                </div>`,
            )}
          </td>
        </tr>`,
    );
    const deadLetters = attention.deadLetters.map(
      (g) =>
        html`<tr>
          <td>${g.queue}</td>
          <td>${g.cause}</td>
          <td>${g.reason}</td>
          <td>${g.records.map((r) => html`<div>${recordLink(r.entity, r.key)}</div>`)}</td>
          <td><a href="${this.confirmLink('redrive', { queue: g.queue })}">redrive ${g.queue}</a></td>
        </tr>`,
    );
    const deals = this.registry.flows.find((f) => f.definition === undefined)?.entity ?? 'salesOrder';
    return page(
      `Tenant ${tenantId}`,
      html`<p><a href="${this.link()}">all tenants</a></p>
        <h1>Tenant ${tenantId}</h1>
        <section>
          <h2>Health</h2>
          <p>
            ${status.enabled ? 'enabled' : 'DISABLED'}; gate: <span class="${status.hold ? 'bad' : 'ok'}">${status.hold ?? 'open'}</span>;
            daily Pipedrive token budget:
            ${typeof budget === 'string' ? `unavailable (${budget})` : budget ? `${budget.used} of ${budget.limit} used` : 'not reported'}
          </p>
          <table>
            ${headRow('sync', 'last poll', 'watermark')}
            ${status.polls.map(
              (p) =>
                html`<tr>
                  <td>${label(p.scope)}</td>
                  <td>${p.lastPolledAt ?? 'never'}</td>
                  <td>${p.watermark ?? ''}</td>
                </tr>`,
            )}
          </table>
          ${queueTable(await queueStatus(this.d.sqs, this.d.queueUrls))}
          ${barChart(
            'records written, last 24 hours',
            activity.map((a) => ({ x: a.hour, y: a.written })),
            '#2a6',
          )}
          ${barChart(
            'Pipedrive tokens spent on writes, last 24 hours',
            activity.map((a) => ({ x: a.hour, y: a.tokens })),
            '#36c',
          )}
        </section>
        <section id="attention">
          <h2>Needs attention</h2>
          <h3>Which Pipedrive record is it? (${attention.choices.length})</h3>
          <table id="choices">
            ${headRow('record', 'why it is held', 'candidates')} ${choices}
          </table>
          <h3>Held (${attention.held.length})</h3>
          <table id="held">
            ${headRow('record', 'waits for')}
            ${attention.held.map(
              (h) =>
                html`<tr>
                  <td>${recordLink(h.entity, h.key)}</td>
                  <td>${h.cause}</td>
                </tr>`,
            )}
          </table>
          <h3>Rejected won deals (${attention.rejectedDeals.length})</h3>
          <table id="rejected">
            ${headRow('deal', 'when', 'why', '')}
            ${attention.rejectedDeals.map(
              (r) =>
                html`<tr>
                  <td>
                    ${this.pipedriveLink(tenant, deals, Number(r.deal))} ·
                    <a href="${this.link('record', tenantId, deals, r.deal)}">history</a>
                  </td>
                  <td>${r.at}</td>
                  <td>${r.reason}</td>
                  <td><a href="${this.confirmLink('replay', { tenant: tenantId, entity: deals, key: r.deal })}">replay</a></td>
                </tr>`,
            )}
          </table>
          <h3>Dead letters by cause (${attention.deadLetters.reduce((n, g) => n + g.records.length, 0)})</h3>
          <table id="dead-letters">
            ${headRow('queue', 'cause', 'reason', 'records', '')} ${deadLetters}
          </table>
        </section>
        <section>
          <h2>Actions</h2>
          ${this.actionForm('replay', 'Replay a record', tenantId, this.keyFields())}
          ${this.actionForm(
            'replay-window',
            'Replay a window',
            tenantId,
            html`from <input name="from" placeholder="2026-01-31T00:00:00Z" required /> to <input name="to" required />
              <select name="outcome">
                <option>failed</option>
                <option>rejected</option>
                <option>deferred</option>
                <option>conflict</option>
              </select>`,
          )}
          ${this.actionForm('erase', "Erase a record's personal data", tenantId, this.keyFields())}
        </section>`,
    );
  }

  /** Which record: its entity and its QAD key. */
  private keyFields(): Safe {
    const options = this.registry.flows.map((f) => html`<option value="${f.entity}">${f.label}</option>`);
    return html`<select name="entity">
        ${options}
      </select>
      key <input name="key" required />`;
  }

  /** A form that leads to the confirmation page (a GET: nothing happens before the confirmation's POST). */
  private actionForm(action: ActionName, title: string, tenantId: string, fields: Safe): Safe {
    return html`<form method="get" action="${this.link('confirm', action)}">
      <strong>${title}</strong> <input type="hidden" name="tenant" value="${tenantId}" /> ${fields} <button>Continue</button>
    </form>`;
  }

  private async recordPage(tenantId: string, entity: string, key: string): Promise<string> {
    const tenant = await requireTenant(this.d.tenants, tenantId);
    const flow = this.registry.byEntity(entity);
    const history = await this.d.audit.history(tenantId, flow.entity, key);
    const rows = history.map(
      (e) =>
        html`<tr>
          <td>${e.at}</td>
          <td>${e.action}</td>
          <td>${this.pipedriveLink(tenant, flow.entity, e.pipedriveId)}</td>
          <td>${e.attempt}</td>
          <td>${e.error ?? e.reason ?? ''}</td>
        </tr>`,
    );
    const mapped = (await this.d.keyMap.getMany(tenantId, flow.entity, [key])).get(key);
    return page(
      `${flow.label} ${key}`,
      html`<p><a href="${this.link('tenant', tenantId)}">tenant ${tenantId}</a></p>
        <h1>${flow.label} ${key}</h1>
        <p>
          QAD: ${flow.label} <strong>${key}</strong>${mapped?.ref ? html`, QAD order ${mapped.ref}` : ''}; Pipedrive:
          ${mapped?.pipedriveId !== undefined ? this.pipedriveLink(tenant, flow.entity, mapped.pipedriveId) : 'not linked'}
        </p>
        <p>
          <a href="${this.confirmLink('replay', { tenant: tenantId, entity: flow.entity, key })}">replay</a> ·
          <a href="${this.confirmLink('erase', { tenant: tenantId, entity: flow.entity, key })}">erase personal data</a>
        </p>
        <table id="history">
          ${headRow('at', 'outcome', 'Pipedrive', 'attempt', 'reason')} ${rows}
        </table>`,
    );
  }

  /** What the action will do, in words, and a POST form carrying its parameters. */
  private confirm(action: ActionName, query: URLSearchParams): string {
    const parsed = actionParams[action].safeParse(Object.fromEntries(query));
    if (!parsed.success) return page('Cannot do that', html`<p class="bad">${message(parsed.error)}</p>`);
    const p: Record<string, string | number> = parsed.data;
    const what: Record<ActionName, string> = {
      replay: `Replay ${p.entity} ${p.key} of tenant ${p.tenant}: re-read it from its source and send it through the writer again.`,
      'replay-window': `Replay every record of tenant ${p.tenant} whose latest outcome between ${p.from} and ${p.to} is ${p.outcome}.`,
      redrive: `Move every message of the ${p.queue} dead-letter queue back to its work queue.`,
      settle:
        `${p.entity} ${p.key} of tenant ${p.tenant} is Pipedrive record ${p.pipedriveId}: write our QAD key into it, ` +
        'then replay the record so the writer updates it and the hold clears.',
      erase: `Erase the personal data of ${p.entity} ${p.key} of tenant ${p.tenant}: its audit history, held messages and dead letters.`,
    };
    const hidden = Object.entries(p).map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}" />`);
    return page(
      'Confirm',
      html`<h1>Confirm</h1>
        <p id="what">${what[action]}</p>
        <form method="post" action="${this.link('do', action)}">${hidden} <button id="confirm">Confirm</button></form>
        <p><a href="${p.tenant ? this.link('tenant', String(p.tenant)) : this.link()}">Cancel</a></p>`,
    );
  }

  private async run(action: ActionName, form: URLSearchParams): Promise<string> {
    const parsed = actionParams[action].safeParse(Object.fromEntries(form));
    if (!parsed.success) return page('Cannot do that', html`<p class="bad">${message(parsed.error)}</p>`);
    const p: Record<string, string | number> = parsed.data;
    const back = p.tenant ? this.link('tenant', String(p.tenant)) : this.link();
    let done: string;
    try {
      done = await this.carryOut(action, p);
    } catch (error) {
      return page(
        'Failed',
        html`<p class="bad" id="outcome">${message(error)}</p>
          <p><a href="${back}">back</a></p>`,
      );
    }
    return page(
      'Done',
      html`<p id="outcome">${done}</p>
        <p><a id="back" href="${back}">back</a></p>`,
    );
  }

  private async carryOut(action: ActionName, p: Record<string, string | number>): Promise<string> {
    const d = this.d;
    if (action === 'redrive') {
      const urls = d.queueUrls[String(p.queue)];
      if (!urls) throw new Error(`no work queue "${p.queue}"`);
      const depth = (await queueStatus(d.sqs, { [String(p.queue)]: urls }))[0]?.deadLetters ?? 0;
      if (depth === 0) return `The ${p.queue} dead-letter queue is empty: nothing to move.`;
      await redrive(d.sqs, urls);
      return `Moving ${depth} messages of the ${p.queue} dead-letter queue back to its queue.`;
    }
    const tenant = await requireTenant(d.tenants, String(p.tenant));
    const entity = this.registry.byEntity(String(p.entity ?? 'organization')).entity;
    if (action === 'settle') {
      const s = await settleChoice(d, tenant, { entity, key: String(p.key), pipedriveId: Number(p.pipedriveId) }, this.registry);
      return `Our key is on Pipedrive record ${s.pipedriveId}; ${s.key} replayed: the hold clears once the writer has written it.`;
    }
    if (action === 'erase') {
      const deadLettersOf = (queue: string) => new SqsDeadLetters(d.sqs, d.queueUrls[queue]!.dlq);
      const e = await eraseRecord({ ...d, deadLettersOf }, tenant, entity, String(p.key), this.registry);
      return `Erased: ${Object.entries(e.removed)
        .map(([where, n]) => `${n} ${where}`)
        .join(', ')}.`;
    }
    const selection =
      action === 'replay'
        ? { entity, key: String(p.key) }
        : { from: String(p.from), to: String(p.to), action: z.enum(['failed', 'rejected', 'deferred', 'conflict']).parse(p.outcome) };
    const results = await replay(d, tenant, selection, this.registry);
    if (results.length === 0) return 'Nothing to replay.';
    return `Replayed: ${results.map((r) => `${r.entity} ${r.key} ${r.outcome}`).join('; ')}.`;
  }
}

/** A table's header row. */
const headRow = (...names: string[]): Safe =>
  html`<tr>
    ${names.map((name) => html`<th>${name}</th>`)}
  </tr>`;

function queueTable(queues: Awaited<ReturnType<typeof queueStatus>>): Safe {
  return html`<table id="queues">
    ${headRow('queue', 'backlog', 'in flight', 'dead letters')}
    ${queues.map(
      (q) =>
        html`<tr>
          <td>${q.queue}</td>
          <td>${q.visible}</td>
          <td>${q.inFlight}</td>
          <td>${q.deadLetters}</td>
        </tr>`,
    )}
  </table>`;
}

/** A POST from this console's page: the browser names the origin (Origin, or Sec-Fetch-Site for one that does not). */
function sameOrigin(req: IncomingMessage, origin: string): boolean {
  const from = req.headers.origin;
  if (from !== undefined) return from === origin;
  return req.headers['sec-fetch-site'] === 'same-origin';
}

async function body(req: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of req) {
    text += String(chunk);
    if (text.length > 64_000) throw new Error('request body too large');
  }
  return text;
}
