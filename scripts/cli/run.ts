import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { LocalCipher } from '../../shared/adapters/local/local-cipher.ts';
import { entityRegistry, type EntityRegistry } from '../../shared/flows/registry.ts';
import { queueEnvName } from '../../shared/config/environment.ts';
import { CONNECTOR_VERSION } from '../../shared/config/version.ts';
import { pascal, STACK_NAME, stackNameFor } from '../../infra/names.ts';
import { checkTenant } from '../../shared/operations/check.ts';
import { replay } from '../../shared/operations/replay.ts';
import { eraseRecord } from '../../shared/operations/erase.ts';
import { SqsDeadLetters } from '../../shared/adapters/aws/sqs-queue.ts';
import { queueStatus, redrive, tenantStatus } from '../../shared/operations/status.ts';
import { syncEntity, type PlanRow } from '../../shared/operations/sync.ts';
import { authorizeTenant } from '../../shared/operations/authorize.ts';
import { addTenant, describeTenant, requireTenant, setTenantEnabled } from '../../shared/operations/tenants.ts';
import type { AuditAction } from '../../shared/ports/index.ts';
import { buildDependencies, useLocalCipher, type Dependencies } from '../../shared/runtime/dependencies.ts';

export interface Io {
  out(line: string): void;
  err(line: string): void;
  readFile(path: string): string;
}

/** The help text; entity, poll and queue names come from the registry. */
export function usage(registry: EntityRegistry = entityRegistry): string {
  // The flows `connector sync` can run in-process: the QAD-to-Pipedrive syncs.
  const polls = registry.flows
    .filter((f) => f.definition)
    .map((f) => f.poll)
    .join('|');
  const entities = registry.flows.map((f) => f.entity).join('|');
  const queues = registry.queues.map((q) => q.name).join('|');
  return `connector <command> [options]

  tenant add --config FILE [--secrets FILE] [--no-verify]
                                             add or replace a tenant (secrets from FILE or stdin, encrypted, never echoed)
                                             once the QAD Swagger lists every configured path and method
  tenant list | show <id> | disable <id> | enable <id>
  check <id>                                  QAD login, entity paths against the Swagger, Pipedrive token and fields
  authorize <id> --code CODE --redirect-uri URL
                                              Pipedrive OAuth: exchange a person's authorisation code for the first
                                              tokens (stored encrypted), unpark the tenant, release its held records
  sync <id> --entity ${polls} [--dry-run]
                                              one poll-and-write cycle in this process; --dry-run writes nothing
  audit <id> <entity> <key>                   a record's history, newest first (entity: ${entities})
  replay <id> <entity> <key>                  replay one record, re-read from its source by key
  replay <id> --from ISO --to ISO --outcome failed|rejected|deferred
  erase <id> <entity> <key>                   erase a record's personal data (e.g. person P-17): its audit history,
                                              held messages, first-sync listing entries and dead letters
  redrive [--queue ${queues}]   move the DLQ's messages back to their queue
  status                                      watermarks, queue and DLQ depths, the last day's failures
  --version                                   this release, and the stack it talks to (with --outputs or --local)

Options: --json (machine-readable output)
         --outputs FILE  a deployed stack: the file written by "npx cdk deploy --outputs-file FILE" (AWS credentials
                         come from the usual chain: AWS_PROFILE, environment, SSO, instance role)
         --stage NAME    with --outputs: the stage deployed with -c stage=NAME, when the file holds more than one stack
         --local FILE    the local run's connection file, written by "npm start -- --serve"`;
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
    const { stack, outputs } = stackOutputs(JSON.parse(io.readFile(options.outputs)), options.stage);
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

/** Prints rows as a table: the named columns, else every key any row has; a missing value prints empty. */
function table(io: Io, rows: ReadonlyArray<object>, named?: readonly string[]): void {
  if (rows.length === 0) {
    io.out('(none)');
    return;
  }
  const columns = named ?? [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const at = (r: object, c: string): unknown => (r as Record<string, unknown>)[c];
  const cell = (v: unknown) => (typeof v === 'string' ? v : (JSON.stringify(v) ?? ''));
  // Every column but the last is cut to 60 characters; the last (a reason, a diff) is printed whole.
  const last = columns.length - 1;
  const widths = columns.map((c, i) => (i === last ? 0 : Math.min(60, Math.max(c.length, ...rows.map((r) => cell(at(r, c)).length)))));
  const line = (values: string[]) =>
    values
      .map((v, i) => (i === last ? v : v.slice(0, 60).padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  io.out(line([...columns]));
  io.out(line(columns.map((c, i) => '-'.repeat(i === last ? c.length : widths[i]!))));
  for (const r of rows) io.out(line(columns.map((c) => cell(at(r, c)))));
}

/** Runs one CLI command; answers the exit code. Errors say what to do next, never print a secret. */
export async function runCli(argv: string[], io: Io, deps?: Dependencies, registry: EntityRegistry = entityRegistry): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      json: { type: 'boolean', default: false },
      local: { type: 'string' },
      outputs: { type: 'string' },
      stage: { type: 'string' },
      config: { type: 'string' },
      secrets: { type: 'string' },
      entity: { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
      'no-verify': { type: 'boolean', default: false },
      code: { type: 'string' },
      'redirect-uri': { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      outcome: { type: 'string' },
      queue: { type: 'string' },
      help: { type: 'boolean', default: false },
      version: { type: 'boolean', default: false },
    },
  });
  const [command, ...rest] = positionals;
  if (values.version) {
    try {
      const report = versionReport(values, io);
      if (values.json) io.out(JSON.stringify(report, null, 2));
      else for (const line of versionLines(report)) io.out(line);
      return 0;
    } catch (error) {
      return failed('--version', error, io);
    }
  }
  if (!command || values.help) {
    io.out(usage(registry));
    // Asking for help is a success; no command at all is a usage error.
    return values.help ? 0 : 2;
  }
  const print = (data: unknown, human: () => void) => (values.json ? io.out(JSON.stringify(data, null, 2)) : human());

  if (values.outputs) Object.assign(process.env, environmentFromOutputs(JSON.parse(io.readFile(values.outputs)), registry, values.stage));
  if (values.local) {
    const file = localFileSchema.parse(JSON.parse(io.readFile(values.local)));
    Object.assign(process.env, file.env);
    useLocalCipher(new LocalCipher(Buffer.from(file.cipherKey, 'base64')));
  }
  const d = deps ?? buildDependencies(undefined, registry);
  const oneOf = (what: string, value: string | undefined, allowed: readonly string[]): string => {
    if (value === undefined || !allowed.includes(value)) throw new UsageError(`${what} must be one of ${allowed.join(', ')}`);
    return value;
  };
  const entities = registry.flows.map((f) => f.entity);
  const need = (value: string | undefined, what: string): string => {
    if (!value) throw new UsageError(`missing ${what}; see "connector --help"`);
    return value;
  };

  try {
    switch (command) {
      case 'tenant': {
        const [sub, id] = rest;
        if (sub === 'add') {
          const config = JSON.parse(io.readFile(need(values.config, '--config FILE'))) as unknown;
          const secrets = JSON.parse(io.readFile(values.secrets ?? '/dev/stdin')) as unknown;
          const stored = await addTenant(d, config, secrets, { verify: !values['no-verify'] });
          print(describeTenant(stored), () =>
            io.out(
              `tenant ${stored.config.tenantId} stored; its QAD and Pipedrive secrets are encrypted. ` +
                `Next: connector check ${stored.config.tenantId}`,
            ),
          );
          return 0;
        }
        if (sub === 'list') {
          const all = await d.tenants.list();
          print(all.map(describeTenant), () =>
            table(
              io,
              all.map((t) => ({
                tenant: t.config.tenantId,
                enabled: t.config.enabled,
                qad: t.config.qad.baseUrl,
                pipedrive: t.config.pipedrive.apiBaseUrl,
              })),
            ),
          );
          return 0;
        }
        if (sub === 'show') {
          const t = await requireTenant(d.tenants, need(id, 'tenant id'));
          io.out(JSON.stringify(describeTenant(t), null, 2));
          return 0;
        }
        if (sub === 'disable' || sub === 'enable') {
          const { released, ...t } = await setTenantEnabled(d, need(id, 'tenant id'), sub === 'enable');
          const back = sub === 'enable' ? `; ${released} held messages back on their queues` : '; writers hold its messages';
          print(describeTenant(t), () => io.out(`tenant ${t.config.tenantId} ${sub}d; its state is kept${back}`));
          return 0;
        }
        throw new UsageError(`unknown "tenant ${sub ?? ''}"; use add, list, show, disable or enable`);
      }
      case 'check': {
        const tenant = await requireTenant(d.tenants, need(rest[0], 'tenant id'));
        const rows = await checkTenant(d.clients, tenant, registry, d.audit);
        print(rows, () =>
          table(
            io,
            rows.map((r) => ({ check: r.check, result: r.ok ? 'pass' : 'FAIL', detail: r.detail })),
          ),
        );
        return rows.every((r) => r.ok) ? 0 : 1;
      }
      case 'authorize': {
        const tenantId = need(rest[0], 'tenant id');
        const result = await authorizeTenant(d, tenantId, {
          code: need(values.code, '--code CODE'),
          redirectUri: need(values['redirect-uri'], '--redirect-uri URL'),
        });
        print(result, () =>
          io.out(
            `tenant ${tenantId} authorised for Pipedrive at ${result.apiDomain}; tokens stored encrypted; ` +
              `${result.released} held records back on their queues`,
          ),
        );
        return 0;
      }
      case 'sync': {
        const tenant = await requireTenant(d.tenants, need(rest[0], 'tenant id'));
        const syncable = registry.flows.filter((f) => f.definition);
        const poll = oneOf(
          '--entity',
          need(values.entity, '--entity'),
          syncable.map((f) => f.poll),
        );
        const { rows, unchanged } = await syncEntity(d, tenant, syncable.find((f) => f.poll === poll)!.definition!, {
          dryRun: values['dry-run'],
          onProgress: (done, total) => (done % 50 === 0 || done === total ? io.err(`  ${done}/${total} written`) : undefined),
        });
        print({ rows, unchanged }, () => {
          const changes = (r: PlanRow) => r.changes.map((c) => `${c.field}: ${JSON.stringify(c.from)} -> ${JSON.stringify(c.to)}`);
          const plan = rows.map((r) => ({ ...r, changes: changes(r).join('; ') }));
          table(io, plan, ['key', 'action', 'pipedriveId', 'reason', 'changes']);
          const count = (a: string) => rows.filter((r) => r.action === a).length;
          io.out(
            `${values['dry-run'] ? 'would ' : ''}create ${count('create')}, update ${count('update')}, ` +
              `skip ${count('skip') + unchanged} (${unchanged} unchanged since the last write), ` +
              `wait ${count('wait')}, reject ${count('reject')}${values['dry-run'] ? ' (dry run: nothing was written)' : ''}`,
          );
        });
        return 0;
      }
      case 'audit': {
        const [id, entity, key] = rest;
        const e = oneOf('entity', need(entity, 'entity'), entities);
        const history = await d.audit.history(need(id, 'tenant id'), e, need(key, 'key'));
        print(history, () => table(io, history, ['at', 'action', 'pipedriveId', 'attempt', 'reason', 'error']));
        return 0;
      }
      case 'erase': {
        const tenant = await requireTenant(d.tenants, need(rest[0], 'tenant id'));
        const entity = oneOf('entity', rest[1], entities);
        const deadLettersOf = (queue: string) => new SqsDeadLetters(d.sqs, d.queueUrls[queue]!.dlq);
        const erased = await eraseRecord({ ...d, deadLettersOf }, tenant, entity, need(rest[2], 'key'), registry);
        print(erased, () =>
          table(
            io,
            Object.entries(erased.removed).map(([where, removed]) => ({ where, removed })),
          ),
        );
        return 0;
      }
      case 'replay': {
        const tenant = await requireTenant(d.tenants, need(rest[0], 'tenant id'));
        const selection = rest[1]
          ? { entity: oneOf('entity', rest[1], entities), key: need(rest[2], 'key') }
          : {
              from: need(values.from, '--from ISO time'),
              to: need(values.to, '--to ISO time'),
              action: z.enum(['failed', 'rejected', 'deferred', 'conflict']).parse(need(values.outcome, '--outcome')) as AuditAction,
            };
        const results = await replay(d, tenant, selection, registry);
        print(results, () =>
          table(
            io,
            results.map((r) => ({ entity: r.entity, key: r.key, outcome: r.outcome, content: r.content ?? '' })),
          ),
        );
        return 0;
      }
      case 'redrive': {
        const names = registry.queues.map((q) => q.name);
        const queue = oneOf('--queue', values.queue ?? names[0], names);
        const task = await redrive(d.sqs, d.queueUrls[queue]!);
        print(task, () =>
          io.out(`moving the ${queue} DLQ back to its queue (task ${task.taskHandle.slice(0, 16)}…); follow it with "connector status"`),
        );
        return 0;
      }
      case 'status': {
        const queues = await queueStatus(d.sqs, d.queueUrls);
        const tenants = await tenantStatus(d, Date.now(), registry);
        print({ queues, tenants }, () => {
          table(
            io,
            queues.map((q) => ({ queue: q.queue, waiting: q.visible, inFlight: q.inFlight, deadLetters: q.deadLetters })),
          );
          for (const t of tenants) {
            io.out(`\ntenant ${t.tenantId} (${t.enabled ? 'enabled' : 'DISABLED'})${t.hold ? `: ${t.hold}` : ''}`);
            table(
              io,
              t.polls.map((p) => ({ sync: p.scope, watermark: p.watermark ?? '(never)', lastPoll: p.lastPolledAt ?? '' })),
            );
            if (t.held.length) table(io, t.held);
            if (t.recentFailures.length) table(io, t.recentFailures);
            if (t.deletedAfterOrder.length) {
              io.out('won deals deleted in Pipedrive after their QAD order (the orders stand):');
              table(io, t.deletedAfterOrder);
            }
          }
        });
        return 0;
      }
      default:
        throw new UsageError(`unknown command "${command}"; see "connector --help"`);
    }
  } catch (error) {
    return failed(command, error, io);
  }
}

class UsageError extends Error {}

/** Says why a command failed; answers its exit code (2: the command line was wrong). */
function failed(command: string, error: unknown, io: Io): number {
  io.err(`connector ${command}: ${error instanceof z.ZodError ? error.issues.map((i) => i.message).join('; ') : (error as Error).message}`);
  return error instanceof UsageError ? 2 : 1;
}

export const processIo: Io = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  readFile: (path) => readFileSync(path, 'utf8'),
};
