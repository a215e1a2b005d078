import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { LocalCipher } from '../../shared/adapters/local/local-cipher.ts';
import { entityRegistry, type EntityRegistry } from '../../shared/flows/registry.ts';
import { queueEnvName } from '../../shared/config/environment.ts';
import { CONNECTOR_VERSION } from '../../shared/config/version.ts';
import { pascal, STACK_NAME, stackNameFor } from '../../infra/names.ts';
import { runConsole } from './console.ts';
import { describeWebhook } from './webhook.ts';
import { installWebhook, removeWebhook } from '../../shared/operations/webhook.ts';
import { checkTenant, type CheckRow } from '../../shared/operations/check.ts';
import { errorMessage } from '../../shared/domain/errors.ts';
import { replay } from '../../shared/operations/replay.ts';
import { discover } from '../../shared/operations/discover.ts';
import { eraseRecord } from '../../shared/operations/erase.ts';
import { SqsDeadLetters, SqsMessageControl } from '../../shared/adapters/aws/sqs-queue.ts';
import { queueStatus, redrive, tenantStatus } from '../../shared/operations/status.ts';
import { budgetPlanLine, syncEntity, type PlanRow } from '../../shared/operations/sync.ts';
import { authorizeTenant } from '../../shared/operations/authorize.ts';
import { addTenant, describeTenant, requireTenant, setTenantEnabled } from '../../shared/operations/tenants.ts';
import type { AuditAction, EntityName } from '../../shared/ports/index.ts';
import type { StoredTenant } from '../../shared/config/tenant.ts';
import { buildDependencies, useLocalCipher, type Dependencies } from '../../shared/runtime/dependencies.ts';
import {
  commandHelp,
  findCommand,
  formatTable,
  GLOBAL_OPTIONS,
  overallHelp,
  tokenize,
  UsageError,
  validate,
  type CommandSpec,
  type OptionSpec,
  type Parsed,
} from './spec.ts';

export interface Io {
  out(line: string): void;
  err(line: string): void;
  readFile(path: string): string;
}

/**
 * The stack in a file written by `cdk deploy --outputs-file`: one stack per stage, so `--stage` picks it
 * and a file with one connector stack needs no choice.
 */
function stackOutputs(file: unknown, stage?: string): { stack: string; outputs: Record<string, string> } {
  const stacks = z.record(z.string(), z.record(z.string(), z.string())).parse(file);
  const ours = Object.keys(stacks).filter((name) => name === STACK_NAME || name.startsWith(`${STACK_NAME}-`));
  const stack = stage !== undefined ? stackNameFor(stage) : ours.length === 1 ? ours[0] : undefined;
  if (stack === undefined)
    throw new UsageError(
      ours.length === 0
        ? 'the outputs file holds no connector stack'
        : `the outputs file holds ${ours.join(', ')}; choose one with --stage`,
    );
  const outputs = stacks[stack];
  if (!outputs) throw new UsageError(`the outputs file holds no stack ${stack} (it holds ${Object.keys(stacks).join(', ') || 'none'})`);
  return { stack, outputs };
}

/** The stack outputs written by `cdk deploy --outputs-file` -> the environment the functions run with. */
export function environmentFromOutputs(file: unknown, registry: EntityRegistry = entityRegistry, stage?: string): Record<string, string> {
  const { outputs } = stackOutputs(file, stage);
  const get = (name: string) => {
    const value = outputs[name];
    if (!value) throw new UsageError(`the outputs file lacks ${name}; redeploy with "npx cdk deploy --outputs-file FILE"`);
    return value;
  };
  const tables = {
    CONNECTIONS_TABLE: get('ConnectionsTableName'),
    SYNC_STATE_TABLE: get('SyncStateTableName'),
    AUDIT_TABLE: get('AuditTableName'),
  };
  const queues = registry.queues.flatMap(({ name }) => [
    [`${queueEnvName(name)}_QUEUE_URL`, get(`${pascal(name)}QueueUrl`)],
    [`${queueEnvName(name)}_DLQ_URL`, get(`${pascal(name)}DlqUrl`)],
  ]);
  return {
    ...tables,
    ...Object.fromEntries(queues),
    KMS_KEY_ID: get('CredentialsKeyArn'),
    CREDENTIALS_CIPHER: 'kms',
    // Only a stack deployed with -c webhooks=true has it.
    ...(outputs.WebhookUrlPrefix && { WEBHOOK_URL_PREFIX: outputs.WebhookUrlPrefix }),
  };
}

export interface VersionReport {
  version: string;
  /** Which stack the other commands would reach, and the release it was deployed at (an output since 0.2.0). */
  stack:
    | { kind: 'deployed'; name: string; region?: string; version?: string; outputsFile: string }
    | { kind: 'local'; connectionFile: string }
    | { kind: 'none' };
}

/** `connector --version`: this release and the stack the options point at; reads files only, calls nothing. */
export function versionReport(options: { outputs?: string; local?: string; stage?: string }, io: Io): VersionReport {
  const version = CONNECTOR_VERSION;
  if (options.outputs) {
    const { stack, outputs } = stackOutputs(readJson(io, options.outputs, '--outputs'), options.stage);
    // arn:aws:kms:<region>:<account>:key/<id>
    const region = outputs.CredentialsKeyArn?.split(':')[3];
    const deployed = outputs.ConnectorVersion;
    const where = { ...(region && { region }), ...(deployed && { version: deployed }) };
    return { version, stack: { kind: 'deployed', name: stack, ...where, outputsFile: options.outputs } };
  }
  if (options.local) return { version, stack: { kind: 'local', connectionFile: options.local } };
  return { version, stack: { kind: 'none' } };
}

function versionLines({ version, stack }: VersionReport): string[] {
  if (stack.kind === 'none') return [`connector ${version}`, 'stack: none (name one with --outputs FILE or --local FILE)'];
  if (stack.kind === 'local') return [`connector ${version}`, `stack: the local run of npm start (${stack.connectionFile})`];
  const region = stack.region ? ` in ${stack.region}` : '';
  const lines = [
    `connector ${version}`,
    `stack: ${stack.name}${region}, deployed at ${stack.version ?? 'a release before 0.2.0'} (${stack.outputsFile})`,
  ];
  if (stack.version !== version)
    lines.push(`note: this CLI and the stack are at different releases; see docs/upgrading.md before writing with it`);
  return lines;
}

/** The local run's connection file: where its stand-ins listen, and the key of its local cipher. */
const localFileSchema = z.object({ env: z.record(z.string(), z.string()), cipherKey: z.string().min(1) });

/** What every command's handler works with. */
interface Ctx {
  io: Io;
  registry: EntityRegistry;
  json: boolean;
  now: number;
  /** The stack's dependencies, built on first use (only commands that reach the stack ask). */
  deps(): Dependencies;
  /** A stored tenant, or a failure naming the tenants there are. */
  tenant(id: string): Promise<StoredTenant>;
  /** The result: JSON with --json, else what `human` prints. */
  print(data: unknown, human: () => void): void;
  table(rows: ReadonlyArray<object>, columns?: readonly string[]): void;
  /** What a long command is doing, on stderr: stdout stays the result alone (pure JSON with --json). */
  progress(line: string): void;
}

const polls = (r: EntityRegistry) => r.flows.filter((f) => f.definition).map((f) => f.poll);
const entityNames = (r: EntityRegistry) => r.flows.map((f) => f.entity);
const queueNames = (r: EntityRegistry) => r.queues.map((q) => q.name);
const OUTCOMES: readonly AuditAction[] = ['failed', 'rejected', 'deferred', 'conflict'];
const tenantArg = { name: 'tenant' } as const;
const recordArgs = [tenantArg, { name: 'entity', choices: entityNames }, { name: 'key' }] as const;
const string = (value: string | boolean | undefined): string | undefined => (typeof value === 'string' ? value : undefined);

/** Every command, in help order. Adding a command is adding an entry here. */
export const COMMANDS: ReadonlyArray<CommandSpec<Ctx>> = [
  {
    name: 'tenant add',
    args: [],
    summary: 'add or replace a tenant once its QAD Swagger lists every configured path (secrets encrypted, never echoed)',
    options: {
      config: { type: 'string', value: 'FILE', help: 'the tenant config (JSON)', required: true },
      secrets: { type: 'string', value: 'FILE', help: 'its secrets (JSON); read from stdin if not given' },
      'no-verify': { type: 'boolean', help: 'store it without reading the QAD Swagger (an instance not reachable yet)' },
    },
    stack: true,
    async run(c, { options }) {
      const config = readJson(c.io, string(options.config)!, '--config');
      const secrets = readJson(c.io, string(options.secrets) ?? '/dev/stdin', '--secrets');
      const stored = await addTenant(c.deps(), config, secrets, { verify: options['no-verify'] !== true });
      const id = stored.config.tenantId;
      c.print(describeTenant(stored), () =>
        c.io.out(`tenant ${id} stored; its QAD and Pipedrive secrets are encrypted. Next: connector check ${id}`),
      );
      return 0;
    },
  },
  {
    name: 'tenant list',
    args: [],
    summary: 'every tenant, enabled or not, with its QAD and Pipedrive URLs',
    options: {},
    stack: true,
    async run(c) {
      const all = await c.deps().tenants.list();
      const rows = all.map((t) => ({
        tenant: t.config.tenantId,
        enabled: t.config.enabled,
        qad: t.config.qad.baseUrl,
        pipedrive: t.config.pipedrive.apiBaseUrl,
      }));
      c.print(all.map(describeTenant), () => c.table(rows));
      return 0;
    },
  },
  {
    name: 'tenant show',
    args: [tenantArg],
    summary: "one tenant's config (secrets shown as [encrypted])",
    options: {},
    stack: true,
    async run(c, { args }) {
      c.io.out(JSON.stringify(describeTenant(await c.tenant(args[0]!)), null, 2));
      return 0;
    },
  },
  ...(['disable', 'enable'] as const).map((sub): CommandSpec<Ctx> => ({
    name: `tenant ${sub}`,
    args: [tenantArg],
    summary:
      sub === 'disable'
        ? 'stop its polls and writes at once (writers hold its messages); its state is kept'
        : 'resume it: its held messages go back on their queues',
    options: {},
    stack: true,
    async run(c, { args }) {
      const { released, ...t } = await setTenantEnabled(c.deps(), args[0]!, sub === 'enable');
      const back = sub === 'enable' ? `; ${released} held messages back on their queues` : '; writers hold its messages';
      c.print(describeTenant(t), () => c.io.out(`tenant ${t.config.tenantId} ${sub}d; its state is kept${back}`));
      return 0;
    },
  })),
  {
    name: 'check',
    args: [tenantArg],
    summary: 'QAD login, every entity path against the Swagger, the Pipedrive token and fields; exit 1 if any FAIL',
    options: {},
    stack: true,
    async run(c, { args }) {
      const d = c.deps();
      const tenant = await c.tenant(args[0]!);
      const rows = await checkTenant(d.clients, tenant, c.registry, d.audit, (step) => c.progress(`checking ${step}…`));
      const result = (r: CheckRow) => (r.skipped ? 'skipped' : r.ok ? 'pass' : 'FAIL');
      c.print(rows, () => c.table(rows.map((r) => ({ check: r.check, result: result(r), detail: r.detail }))));
      return rows.every((r) => r.ok) ? 0 : 1;
    },
  },
  {
    name: 'authorize',
    args: [tenantArg],
    summary: "Pipedrive OAuth: exchange a person's authorisation code for tokens (stored encrypted); unpark the tenant",
    options: {
      code: { type: 'string', value: 'CODE', help: 'the authorisation code Pipedrive sent to the callback', required: true },
      'redirect-uri': { type: 'string', value: 'URL', help: 'the callback URL registered with the app', required: true },
    },
    stack: true,
    async run(c, { args, options }) {
      const result = await authorizeTenant(c.deps(), args[0]!, {
        code: string(options.code)!,
        redirectUri: string(options['redirect-uri'])!,
      });
      c.print(result, () =>
        c.io.out(
          `tenant ${args[0]} authorised for Pipedrive at ${result.apiDomain}; tokens stored encrypted; ` +
            `${result.released} held records back on their queues`,
        ),
      );
      return 0;
    },
  },
  {
    name: 'sync',
    args: [tenantArg],
    summary: 'one poll-and-write cycle of one entity, written in this process as the writers would; --dry-run plans only',
    details:
      "Each record ends written, held, queued for the stack's writers (a retry or a wait due after --wait), or failed (handed\n" +
      'to its writer, which dead-letters it); the watermark moves only then. Exit 1 if any record failed.',
    options: {
      entity: { type: 'string', help: 'the poll to run', choices: polls, required: true },
      'dry-run': { type: 'boolean', help: 'print what would be created, updated or skipped, with field changes; write nothing' },
      wait: {
        type: 'string',
        value: 'DURATION',
        duration: true,
        help: 'retries due within this (default 60s) are made here; later ones go on the work queue for the writers',
      },
    },
    stack: true,
    run: runSync,
  },
  {
    name: 'discover',
    args: [tenantArg],
    summary: "both systems' fields side by side, QAD's with sample values, and a starter mapping.fields for the tenant config",
    details: 'Reads one page of each QAD browse and the Pipedrive field lists; writes nothing.',
    options: {},
    stack: true,
    run: runDiscover,
  },
  {
    name: 'audit',
    args: recordArgs,
    summary: "a record's history, newest first, with each outcome's full reason",
    options: {},
    stack: true,
    async run(c, { args }) {
      const history = await c.deps().audit.history(args[0]!, args[1] as EntityName, args[2]!);
      c.print(history, () => c.table(history, ['at', 'action', 'pipedriveId', 'attempt', 'reason', 'error']));
      return 0;
    },
  },
  {
    name: 'replay',
    args: [tenantArg, { ...recordArgs[1], optional: true }, { ...recordArgs[2], optional: true }],
    summary: 'send records through the normal queue again, re-read from their source: one by key, or every outcome in a window',
    details: 'Either <entity> <key>, or --from (and --to, default now) with --outcome.',
    options: {
      from: { type: 'string', value: 'TIME', time: true, help: 'start of the window: ISO, or a time ago (30m, 24h, 7d)' },
      to: { type: 'string', value: 'TIME', time: true, help: 'end of the window (default: now)' },
      outcome: { type: 'string', help: 'the latest outcome of the records to replay', choices: () => OUTCOMES },
    },
    stack: true,
    run: runReplay,
  },
  {
    name: 'erase',
    args: recordArgs,
    summary: "erase a record's personal data: its audit history, held messages, listing entries and dead letters",
    options: {},
    stack: true,
    async run(c, { args }) {
      const d = c.deps();
      const tenant = await c.tenant(args[0]!);
      const deadLettersOf = (queue: string) => new SqsDeadLetters(d.sqs, d.queueUrls[queue]!.dlq);
      const erased = await eraseRecord({ ...d, deadLettersOf }, tenant, args[1] as EntityName, args[2]!, c.registry);
      c.print(erased, () => c.table(Object.entries(erased.removed).map(([where, removed]) => ({ where, removed }))));
      return 0;
    },
  },
  {
    name: 'redrive',
    args: [],
    summary: "move a DLQ's messages back to its work queue (every DLQ that holds any, unless --queue names one)",
    options: { queue: { type: 'string', help: 'the work queue whose DLQ to move', choices: queueNames } },
    stack: true,
    async run(c, { options }) {
      const d = c.deps();
      const names = string(options.queue) ? [string(options.queue)!] : queueNames(c.registry);
      const moves: Array<{ queue: string } & Awaited<ReturnType<typeof redrive>>> = [];
      for (const queue of names) moves.push({ queue, ...(await redrive(d.sqs, d.queueUrls[queue]!)) });
      c.print(moves, () => {
        for (const m of moves)
          c.io.out(
            m.taskHandle === undefined
              ? `the ${m.queue} DLQ is empty: nothing to move`
              : `moving ${m.deadLetters} messages of the ${m.queue} DLQ back to its queue; follow it with "connector status"`,
          );
      });
      return 0;
    },
  },
  {
    name: 'status',
    args: [],
    summary: 'queue and DLQ depths; per tenant its watermarks, held records and recent failures with their full reasons',
    options: { since: { type: 'string', value: 'TIME', time: true, help: 'failures since (default 24h): ISO, or a time ago (30m, 7d)' } },
    stack: true,
    run: runStatus,
  },
  {
    name: 'webhook install',
    args: [tenantArg],
    summary: "create the tenant's Pipedrive webhook, so won deals reach QAD at once (a stack deployed with -c webhooks=true)",
    details: "The URL prefix is the stack's output WebhookUrlPrefix, read from --outputs unless --url-prefix gives it.",
    options: { 'url-prefix': { type: 'string', value: 'URL', help: "the stack's WebhookUrlPrefix output (default: from --outputs)" } },
    stack: true,
    async run(c, { args, options }) {
      const prefix = string(options['url-prefix']) ?? process.env.WEBHOOK_URL_PREFIX;
      if (!prefix)
        throw new UsageError(
          'no webhook URL: deploy with -c webhooks=true and pass --outputs FILE, or give --url-prefix URL',
          '--url-prefix',
        );
      const report = await installWebhook(c.deps(), (await c.tenant(args[0]!)).config.tenantId, prefix);
      c.print(report, () => c.io.out(describeWebhook(report)));
      return 0;
    },
  },
  {
    name: 'webhook remove',
    args: [tenantArg],
    summary: "delete the tenant's webhook in Pipedrive and forget its credentials; won deals wait for the deal poll again",
    options: {},
    stack: true,
    async run(c, { args }) {
      const report = await removeWebhook(c.deps(), (await c.tenant(args[0]!)).config.tenantId);
      c.print(report, () => c.io.out(describeWebhook(report)));
      return 0;
    },
  },
  {
    name: 'console',
    args: [],
    summary: 'the operator console in a browser, on 127.0.0.1 behind a token in its URL, until Ctrl-C',
    options: { port: { type: 'string', value: 'N', help: 'the port to listen on (default: any free port)' } },
    stack: true,
    run: (c, { options }) => runConsole(c.deps(), string(options.port), c.io, c.registry),
  },
];

async function runSync(c: Ctx, { args, options }: Parsed): Promise<number> {
  const poll = string(options.entity)!;
  const d = c.deps();
  const tenant = await c.tenant(args[0]!);
  const dryRun = options['dry-run'] === true;
  const flow = c.registry.byPoll(poll)!;
  const urls = d.queueUrls[flow.queue]!;
  c.progress(`reading ${poll} of ${tenant.config.tenantId} from QAD…`);
  const { rows, unchanged } = await syncEntity(d, tenant, flow.definition!, {
    dryRun,
    workQueue: new SqsMessageControl(d.sqs, urls.queue, urls.dlq),
    waitSeconds: Number(string(options.wait) ?? 60),
    onStep: (step) => c.progress(`  ${step}…`),
    onProgress: (done, total) => (done % 50 === 0 || done === total ? c.progress(`  ${done}/${total} written`) : undefined),
  });
  const count = (a: PlanRow['action']) => rows.filter((r) => r.action === a).length;
  // A dry run also says what the writes would cost of the tenant's share of its daily budget, and when they would end.
  const budget = dryRun ? await budgetPlanLine(d.clients, tenant, count('create') + count('update'), c.now) : undefined;
  c.print({ rows, unchanged }, () => {
    const changes = (r: PlanRow) => r.changes.map((ch) => `${ch.field}: ${JSON.stringify(ch.from)} -> ${JSON.stringify(ch.to)}`);
    c.table(
      rows.map((r) => ({ ...r, changes: changes(r).join('; ') })),
      dryRun ? ['key', 'action', 'pipedriveId', 'reason', 'changes'] : ['key', 'action', 'pipedriveId', 'reason'],
    );
    const skipped = `skip ${count('skip') + unchanged} (${unchanged} unchanged since the last write)`;
    c.io.out(
      dryRun
        ? `would create ${count('create')}, update ${count('update')}, ${skipped}, wait ${count('wait')}, reject ${count('reject')} ` +
            '(dry run: nothing was written)'
        : `create ${count('create')}, update ${count('update')}, ${skipped}, held ${count('held')}, ` +
            `queued for the ${flow.queue} writers ${count('queued')}, failed ${count('failed')}`,
    );
    if (budget) c.io.out(budget);
  });
  const dead = count('failed');
  if (dead === 0) return 0;
  if (!c.json) c.io.err(`connector sync: ${dead} records failed for good (their writer dead-letters them): see "connector audit"`);
  return 1;
}

async function runDiscover(c: Ctx, { args }: Parsed): Promise<number> {
  const d = c.deps();
  const tenant = await c.tenant(args[0]!);
  const found = await discover(d.clients, tenant, c.registry, (step) => c.progress(`${step}…`));
  c.print(found, () => {
    for (const e of found.entities) {
      c.io.out(`\n${e.label} (QAD) -> ${e.fieldEntity} (Pipedrive): the values a mapping can carry`);
      c.table(
        e.values.map((v) => ({
          qad: v.qad,
          samples: v.samples.join(', '),
          pipedrive: v.pipedrive ?? '',
          type: v.type ?? '',
          note: v.note,
        })),
      );
      if (e.browse) {
        c.io.out(`QAD ${e.label} browse, ${e.browse.rows} rows read:`);
        c.table(e.browse.columns.map((col) => ({ column: col.column, samples: col.samples.join(', ') })));
      }
      c.io.out(`Pipedrive ${e.fieldEntity} fields:`);
      c.table(e.pipedrive.map((f) => ({ name: f.name, type: f.type, custom: f.custom, code: f.code, options: f.options.join(', ') })));
    }
    c.io.out('\nstarter mapping.fields (the tenant config\'s "mapping": {"fields": ...}; see docs/field-mapping.md):');
    c.io.out(JSON.stringify(found.mapping, null, 2));
  });
  return 0;
}

async function runReplay(c: Ctx, { args, options }: Parsed): Promise<number> {
  const [tenantId, entity, key] = args;
  const from = string(options.from);
  const outcome = string(options.outcome);
  let selection: Parameters<typeof replay>[2];
  if (entity !== undefined) {
    if (key === undefined) throw new UsageError(`missing <key> after ${entity}; usage: connector replay <tenant> <entity> <key>`, '<key>');
    selection = { entity: entity as EntityName, key };
  } else {
    const usage = 'replay <tenant> <entity> <key>, or replay <tenant> --from TIME [--to TIME] --outcome';
    if (!from) throw new UsageError(`missing --from TIME (or <entity> <key>); usage: ${usage}`, '--from');
    if (!outcome) throw new UsageError(`missing --outcome: one of ${OUTCOMES.join(', ')}`, '--outcome', OUTCOMES);
    const to = string(options.to) ?? new Date(c.now).toISOString();
    if (to <= from) throw new UsageError(`--to (${to}) must be after --from (${from})`, '--to');
    selection = { from, to, action: outcome as AuditAction };
  }
  const d = c.deps();
  const results = await replay(d, await c.tenant(tenantId!), selection, c.registry);
  c.print(results, () => c.table(results.map((r) => ({ entity: r.entity, key: r.key, outcome: r.outcome, content: r.content ?? '' }))));
  return 0;
}

async function runStatus(c: Ctx, { options }: Parsed): Promise<number> {
  const d = c.deps();
  const since = string(options.since) ?? new Date(c.now - 86_400_000).toISOString();
  const queues = await queueStatus(d.sqs, d.queueUrls);
  const tenants = await tenantStatus(d, c.now, c.registry, since);
  c.print({ queues, tenants }, () => {
    c.table(queues.map((q) => ({ queue: q.queue, waiting: q.visible, inFlight: q.inFlight, deadLetters: q.deadLetters })));
    for (const t of tenants) {
      c.io.out(`\ntenant ${t.tenantId} (${t.enabled ? 'enabled' : 'DISABLED'})${t.hold ? `: ${t.hold}` : ''}`);
      c.table(t.polls.map((p) => ({ sync: p.scope, watermark: p.watermark ?? '(never)', lastPoll: p.lastPolledAt ?? '' })));
      if (t.held.length)
        c.table(
          t.held.map(({ candidates, ...h }) => ({
            entity: h.entity,
            key: h.key,
            cause: h.cause,
            candidates: candidates?.map((x) => `${x.id} ${x.name}`).join('; ') ?? '',
            reason: h.reason,
          })),
        );
      if (t.recentFailures.length) {
        c.io.out(`failures since ${since}:`);
        c.table(t.recentFailures);
      }
      if (t.deletedAfterOrder.length) {
        c.io.out('won deals deleted in Pipedrive after their QAD order (the orders stand):');
        c.table(t.deletedAfterOrder);
      }
    }
  });
  return 0;
}

/** A JSON file named on the command line; a file that is missing, empty or not JSON is a usage error naming its option. */
function readJson(io: Io, path: string, option: string): unknown {
  let text: string;
  try {
    text = io.readFile(path);
  } catch (error) {
    throw new UsageError(`${option} ${path}: cannot read it (${errorMessage(error)})`, option, undefined, { cause: error });
  }
  if (text.trim() === '') throw new UsageError(`${option} ${path}: the file is empty`, option);
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new UsageError(`${option} ${path}: not JSON (${errorMessage(error)})`, option, undefined, { cause: error });
  }
}

/** Points this process at the stack the options name: a deployed one (--outputs), the local run (--local), or the environment. */
function connect(io: Io, options: Parsed['options'], registry: EntityRegistry): void {
  const outputs = string(options.outputs);
  const local = string(options.local);
  if (outputs) Object.assign(process.env, environmentFromOutputs(readJson(io, outputs, '--outputs'), registry, string(options.stage)));
  else if (local) {
    const file = localFileSchema.safeParse(readJson(io, local, '--local'));
    if (!file.success)
      throw new UsageError(
        `--local ${local}: not the local run's connection file (${oneLine(file.error)}); "npm start -- --serve" writes it`,
        '--local',
      );
    Object.assign(process.env, file.data.env);
    useLocalCipher(new LocalCipher(Buffer.from(file.data.cipherKey, 'base64')));
  } else if (!process.env.CONNECTIONS_TABLE)
    throw new UsageError(
      'which stack? name it with --outputs FILE (written by "npx cdk deploy --outputs-file FILE") or --local FILE (the local run)',
      '--outputs',
    );
}

/** Runs one CLI command; answers the exit code. Errors say what to do next in one line, never print a secret. */
export async function runCli(argv: string[], io: Io, deps?: Dependencies, registry: EntityRegistry = entityRegistry): Promise<number> {
  const everyOption = Object.assign({}, GLOBAL_OPTIONS, ...COMMANDS.map((c) => c.options)) as Record<string, OptionSpec>;
  const { positionals, given } = tokenize(argv, everyOption);
  const has = (name: string) => given.some((g) => g.name === name);
  const json = has('json');
  const asked = positionals[0] === 'help' ? positionals.slice(1) : positionals;
  const command = findCommand(COMMANDS, asked);
  const label = command?.name ?? (has('version') ? '--version' : (positionals[0] ?? 'connector'));
  try {
    if (positionals[0] === 'help' || has('help')) return help(io, asked, command, registry);
    if (has('version')) return printVersion(io, given, json);
    if (!command) {
      if (positionals.length === 0) throw new UsageError('no command given; "connector --help" lists them', undefined, topLevel());
      throw new UsageError(`unknown command "${asked.join(' ')}"; commands: ${topLevel().join(', ')}`, undefined, topLevel());
    }
    const now = Date.now();
    const parsed = validate(command, positionals, given, registry, now);
    let built = deps;
    if (command.stack && !deps) connect(io, parsed.options, registry);
    const ctx: Ctx = {
      io,
      registry,
      json,
      now,
      deps: () => (built ??= buildDependencies(undefined, registry)),
      tenant: (id) => requireTenant(ctx.deps().tenants, id),
      print: (data, human) => (json ? io.out(JSON.stringify(data, null, 2)) : human()),
      table: (rows, columns) => formatTable(rows, columns).forEach((l) => io.out(l)),
      progress: (line) => io.err(line),
    };
    return await command.run(ctx, parsed);
  } catch (error) {
    return failed(label, error, io, json, has('debug'));
  }
}

/** The first word of every command: what "unknown command" offers. */
const topLevel = () => [...new Set(COMMANDS.map((c) => c.name.split(' ')[0]!)), 'help'];

function help(io: Io, asked: readonly string[], command: CommandSpec<Ctx> | undefined, registry: EntityRegistry): number {
  if (command) io.out(commandHelp(command, registry));
  else {
    const group = COMMANDS.filter((c) => c.name.split(' ')[0] === asked[0]);
    if (asked.length > 0 && group.length === 0)
      throw new UsageError(`no command "${asked.join(' ')}"; commands: ${topLevel().join(', ')}`, undefined, topLevel());
    io.out(group.length > 0 ? group.map((c) => commandHelp(c, registry)).join('\n\n') : overallHelp(COMMANDS, registry));
  }
  return 0;
}

function printVersion(io: Io, given: ReadonlyArray<{ name: string; value?: string }>, json: boolean): number {
  const value = (name: string) => given.find((g) => g.name === name)?.value;
  const report = versionReport({ outputs: value('outputs'), local: value('local'), stage: value('stage') }, io);
  if (json) io.out(JSON.stringify(report, null, 2));
  else for (const line of versionLines(report)) io.out(line);
  return 0;
}

/** A zod error in one line: each issue with where it is. */
function oneLine(error: z.ZodError): string {
  return error.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ');
}

/**
 * Says why a command failed, in one line (a stack trace only with --debug); answers its exit code: 2 when the
 * command line was wrong, 1 when the work failed. With --json the error is {"error": {...}} on stdout, where a
 * script reads the result.
 */
function failed(command: string, error: unknown, io: Io, json: boolean, debug: boolean): number {
  const usage = error instanceof UsageError;
  const message = error instanceof z.ZodError ? oneLine(error) : errorMessage(error).replace(/\s*\n\s*/gu, ' ');
  if (json) {
    const extra = usage ? { ...(error.option && { option: error.option }), ...(error.allowed && { allowed: error.allowed }) } : {};
    io.out(JSON.stringify({ error: { command, kind: usage ? 'usage' : 'failure', message, ...extra } }));
  } else io.err(`connector${command === 'connector' ? '' : ` ${command}`}: ${message}`);
  if (debug && error instanceof Error && error.stack) io.err(error.stack);
  return usage ? 2 : 1;
}

export const processIo: Io = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  readFile: (path) => readFileSync(path, 'utf8'),
};
