import { parseArgs } from 'node:util';
import type { EntityRegistry } from '../../shared/flows/registry.ts';

/**
 * The CLI's grammar, help and output conventions, in one place: every command is one entry of a table
 * (scripts/cli/run.ts) naming its arguments and options; parsing, validation and help are generated from it.
 * node:util parseArgs does the tokenising (built in, no dependency); the checks it cannot make (which options a
 * command takes, allowed values from the registry, times) are made here, before anything is called.
 */

/** A command line that cannot run: exit 2, one line naming the option (and its allowed values). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  constructor(
    message: string,
    readonly option?: string,
    readonly allowed?: readonly string[],
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export interface OptionSpec {
  type: 'string' | 'boolean';
  /** The value's placeholder in help (FILE, TIME, ...). */
  value?: string;
  help: string;
  /** The values it takes, e.g. the registry's poll names. */
  choices?: (registry: EntityRegistry) => readonly string[];
  /** A time: ISO (2026-11-30, 2026-11-30T08:00:00Z) or relative to now (30m, 24h, 7d); answered as ISO. */
  time?: true;
  /** A duration (30s, 5m, 1h); answered in seconds. */
  duration?: true;
  /** The command cannot run without it. */
  required?: true;
  short?: string;
}

export interface ArgSpec {
  name: string;
  optional?: true;
  choices?: (registry: EntityRegistry) => readonly string[];
}

/** What a command's handler receives, validated. */
export interface Parsed {
  args: Array<string | undefined>;
  options: Record<string, string | boolean | undefined>;
}

export interface CommandSpec<Ctx> {
  /** One or two words: "status", "tenant add". */
  name: string;
  args: readonly ArgSpec[];
  summary: string;
  /** More lines for `help <command>`. */
  details?: string;
  options: Record<string, OptionSpec>;
  /** It reads or writes the stack, so it needs --outputs or --local. */
  stack: boolean;
  run(ctx: Ctx, parsed: Parsed): Promise<number>;
}

export const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  json: { type: 'boolean', help: 'machine-readable output; errors too, as {"error": {...}} on stdout' },
  outputs: { type: 'string', value: 'FILE', help: 'a deployed stack: the file "npx cdk deploy --outputs-file FILE" wrote' },
  stage: { type: 'string', value: 'NAME', help: 'with --outputs: the stage deployed with -c stage=NAME, if the file holds several' },
  local: { type: 'string', value: 'FILE', help: 'the local run: the connection file "npm start -- --serve" writes' },
  debug: { type: 'boolean', help: 'print the stack trace of a failure' },
  help: { type: 'boolean', short: 'h', help: 'this help, or a command\'s ("connector help <command>" too)' },
  version: { type: 'boolean', help: 'this release, and the stack it talks to (with --outputs or --local)' },
};

const UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const TIME_FORMS = 'an ISO date or time (2026-11-30, 2026-11-30T08:00:00Z) or a time ago (30m, 24h, 7d)';

/** A time on the command line -> ISO; undefined if it is neither ISO nor a relative form. */
export function parseTime(text: string, nowMs: number): string | undefined {
  const relative = /^(\d+)([mhd])$/u.exec(text);
  if (relative) return new Date(nowMs - Number(relative[1]) * UNITS[relative[2]!]!).toISOString();
  if (text === 'now') return new Date(nowMs).toISOString();
  // Date.parse accepts much that is not ISO ("yesterday" is not, "1" is): only ISO shapes are taken.
  if (!/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/u.test(text)) return undefined;
  // Date.parse rolls 2026-02-30 over to March: the day must exist in its month.
  const [y, m, d] = text.slice(0, 10).split('-').map(Number) as [number, number, number];
  if (new Date(Date.UTC(y, m - 1, d)).getUTCDate() !== d) return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

/** A duration on the command line (90s, 5m, 1h) -> seconds; undefined if it is not one. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d+)([smh])$/u.exec(text);
  return match ? (Number(match[1]) * UNITS[match[2]!]!) / 1000 : undefined;
}

/** Finds the command the positionals name: the longest table entry they start with. */
export function findCommand<C extends { name: string }>(commands: readonly C[], positionals: readonly string[]): C | undefined {
  const two = positionals.slice(0, 2).join(' ');
  return commands.find((c) => c.name === two) ?? commands.find((c) => c.name === positionals[0]);
}

/** The raw tokens of a command line: positionals, and each option as written. */
export function tokenize(argv: string[], specs: Record<string, OptionSpec>) {
  const options = Object.fromEntries(
    Object.entries(specs).map(([name, s]) => [name, { type: s.type, ...(s.short && { short: s.short }) }] as const),
  );
  const { tokens } = parseArgs({ args: argv, options, strict: false, allowPositionals: true, tokens: true });
  const positionals: string[] = [];
  const given: Array<{ name: string; raw: string; value?: string }> = [];
  for (const t of tokens) {
    if (t.kind === 'positional') positionals.push(t.value);
    else if (t.kind === 'option') given.push({ name: t.name, raw: t.rawName, ...(t.value !== undefined && { value: t.value }) });
  }
  return { positionals, given };
}

const flag = (name: string) => `--${name}`;

/** Checks a command line against its command's entry; answers the validated arguments and options. */
export function validate<Ctx>(
  command: CommandSpec<Ctx>,
  positionals: readonly string[],
  given: ReadonlyArray<{ name: string; raw: string; value?: string }>,
  registry: EntityRegistry,
  nowMs: number,
): Parsed {
  const specs = { ...GLOBAL_OPTIONS, ...command.options };
  const takes = Object.keys(specs).map(flag);
  const options: Parsed['options'] = {};
  for (const { name, raw, value } of given) {
    const spec = specs[name];
    if (!spec) throw new UsageError(`unknown option ${raw}; "${command.name}" takes ${takes.join(', ')}`, raw, takes);
    const allowed = spec.choices?.(registry);
    if (spec.type === 'boolean') {
      if (value !== undefined) throw new UsageError(`${flag(name)} takes no value`, flag(name));
      options[name] = true;
      continue;
    }
    if (value === undefined || value.startsWith('--')) {
      const what = allowed ? `one of ${allowed.join(', ')}` : spec.time ? TIME_FORMS : (spec.value ?? 'a value');
      throw new UsageError(`${flag(name)} needs a value: ${what}`, flag(name), allowed);
    }
    options[name] = optionValue(name, spec, value, allowed, nowMs);
  }
  for (const [name, spec] of Object.entries(command.options)) {
    const allowed = spec.choices?.(registry);
    const what = allowed ? `: one of ${allowed.join(', ')}` : spec.value ? ` ${spec.value}` : '';
    if (spec.required && options[name] === undefined) throw new UsageError(`missing ${flag(name)}${what}`, flag(name), allowed);
  }
  const words = command.name.split(' ').length;
  const rest = positionals.slice(words);
  if (rest.length > command.args.length)
    throw new UsageError(`unexpected argument "${rest[command.args.length]}"; usage: connector ${synopsis(command, registry)}`);
  const args = command.args.map((arg, i) => {
    const value = rest[i];
    if (value === undefined) {
      if (arg.optional) return undefined;
      throw new UsageError(`missing <${arg.name}>; usage: connector ${synopsis(command, registry)}`, `<${arg.name}>`);
    }
    const allowed = arg.choices?.(registry);
    if (allowed && !allowed.includes(value))
      throw new UsageError(`<${arg.name}> must be one of ${allowed.join(', ')} (got "${value}")`, `<${arg.name}>`, allowed);
    return value;
  });
  return { args, options };
}

function optionValue(name: string, spec: OptionSpec, value: string, allowed: readonly string[] | undefined, nowMs: number): string {
  if (allowed && !allowed.includes(value))
    throw new UsageError(`${flag(name)} must be one of ${allowed.join(', ')} (got "${value}")`, flag(name), allowed);
  if (spec.time) {
    const iso = parseTime(value, nowMs);
    if (iso === undefined) throw new UsageError(`${flag(name)} "${value}" is not a time: use ${TIME_FORMS}`, flag(name));
    return iso;
  }
  if (spec.duration) {
    const seconds = parseDuration(value);
    if (seconds === undefined) throw new UsageError(`${flag(name)} "${value}" is not a duration: use 90s, 5m or 1h`, flag(name));
    return String(seconds);
  }
  return value;
}

function optionUsage(name: string, spec: OptionSpec, registry: EntityRegistry): string {
  if (spec.type === 'boolean') return flag(name);
  const allowed = spec.choices?.(registry);
  return `${flag(name)} ${allowed ? allowed.join('|') : (spec.value ?? 'VALUE')}`;
}

/** `tenant add --config FILE [--secrets FILE] ...`: the command's one-line usage. */
export function synopsis<Ctx>(command: CommandSpec<Ctx>, registry: EntityRegistry): string {
  const args = command.args.map((a) => {
    const text = a.choices ? a.choices(registry).join('|') : `<${a.name}>`;
    return a.optional ? `[${text}]` : text;
  });
  const options = Object.entries(command.options).map(([name, spec]) =>
    spec.required ? optionUsage(name, spec, registry) : `[${optionUsage(name, spec, registry)}]`,
  );
  return [command.name, ...args, ...options].join(' ');
}

function optionLines(options: Record<string, OptionSpec>, registry: EntityRegistry): string[] {
  const rows = Object.entries(options).map(([name, spec]) => [
    `${spec.short ? `-${spec.short}, ` : ''}${optionUsage(name, spec, registry)}`,
    spec.help,
  ]);
  const width = Math.max(...rows.map(([u]) => u!.length));
  return rows.map(([u, h]) => `  ${u!.padEnd(width)}  ${h}`);
}

/** `connector --help`: every command with its synopsis and summary, then the options every command takes. */
export function overallHelp<Ctx>(commands: ReadonlyArray<CommandSpec<Ctx>>, registry: EntityRegistry): string {
  const lines = ['connector <command> [options]', ''];
  for (const c of commands) lines.push(`  ${synopsis(c, registry)}`, `      ${c.summary}`);
  lines.push(
    '',
    'Options of every command:',
    ...optionLines(GLOBAL_OPTIONS, registry),
    '',
    'connector help <command>: one command in full.',
  );
  return lines.join('\n');
}

/** `connector help <command>`: its usage, what it does, and its options. */
export function commandHelp<Ctx>(command: CommandSpec<Ctx>, registry: EntityRegistry): string {
  const lines = [`connector ${synopsis(command, registry)}`, '', command.summary];
  if (command.details) lines.push(command.details);
  if (Object.keys(command.options).length) lines.push('', 'Options:', ...optionLines(command.options, registry));
  lines.push('', 'Options of every command:', ...optionLines(GLOBAL_OPTIONS, registry));
  if (command.stack) lines.push('', 'It reaches the stack: name it with --outputs FILE (deployed) or --local FILE (the local run).');
  return lines.join('\n');
}

/** A terminal's width, or this when output is not a terminal. */
const DEFAULT_WIDTH = 140;

/**
 * Rows as a table when every column but the last fits the width (the last, a reason or a diff, is printed whole
 * however long); otherwise each row as a block of "column  value" lines. No value is ever cut. Missing values print
 * empty.
 */
export function formatTable(rows: ReadonlyArray<object>, named?: readonly string[], width = DEFAULT_WIDTH): string[] {
  if (rows.length === 0) return ['(none)'];
  const columns = named ?? [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const cell = (r: object, c: string): string => {
    const v = (r as Record<string, unknown>)[c];
    return (typeof v === 'string' ? v : (JSON.stringify(v) ?? '')).replace(/\s*\n\s*/gu, ' ');
  };
  const cells = rows.map((r) => columns.map((c) => cell(r, c)));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]!.length)));
  const leading = widths.slice(0, -1).reduce((sum, w) => sum + w + 2, 0);
  if (leading <= width) {
    const line = (values: readonly string[]) =>
      values
        .map((v, i) => v.padEnd(widths[i]!))
        .join('  ')
        .trimEnd();
    const rule = widths.map((w, i) => '-'.repeat(i === widths.length - 1 ? columns[i]!.length : w));
    return [line(columns), line(rule), ...cells.map(line)];
  }
  const label = Math.max(...columns.map((c) => c.length));
  return cells.flatMap((row, i) => [...(i > 0 ? [''] : []), ...columns.map((c, j) => `${c.padEnd(label)}  ${row[j]}`.trimEnd())]);
}
