import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { COMMANDS } from '../../scripts/cli/run.ts';
import { findCommand, formatTable, parseDuration, parseTime, tokenize, UsageError, validate } from '../../scripts/cli/spec.ts';
import { entityRegistry } from '../../shared/flows/registry.ts';

const NOW = Date.parse('2026-11-30T12:00:00.000Z');

describe('CLI times and durations', () => {
  test('relative times count back from now; ISO dates and times are taken with their offset', () => {
    assert.equal(parseTime('45m', NOW), '2026-11-30T11:15:00.000Z');
    assert.equal(parseTime('36h', NOW), '2026-11-29T00:00:00.000Z');
    assert.equal(parseTime('10d', NOW), '2026-11-20T12:00:00.000Z');
    assert.equal(parseTime('now', NOW), '2026-11-30T12:00:00.000Z');
    assert.equal(parseTime('2026-10-01', NOW), '2026-10-01T00:00:00.000Z');
    assert.equal(parseTime('2026-10-01T06:30+02:00', NOW), '2026-10-01T04:30:00.000Z');
    assert.equal(parseTime('2026-10-01T06:30:15.5Z', NOW), '2026-10-01T06:30:15.500Z');
  });

  test('words, bare numbers, impossible dates and other units are not times', () => {
    for (const text of [
      'yesterday',
      'last week',
      '12',
      '2026-02-30',
      '2026-04-31T10:00Z',
      '2026-13-01',
      '24 h',
      '3w',
      '-1d',
      '',
      'Mon, 30 Nov 2026',
    ])
      assert.equal(parseTime(text, NOW), undefined, text);
  });

  test('durations in seconds, minutes and hours', () => {
    assert.deepEqual(['15s', '2m', '3h'].map(parseDuration), [15, 120, 10_800]);
    for (const text of ['15', '2d', 'soon', '1.5m', 'm']) assert.equal(parseDuration(text), undefined, text);
  });
});

describe('CLI tables', () => {
  const long = `the order desk must add item SERVICE-9 to domain 20EU before this deal can become an order ${'x'.repeat(80)}`;

  test('the last column is printed whole, however long', () => {
    const lines = formatTable([{ key: 'D-1', reason: long }], undefined, 100);
    assert.equal(lines.length, 3);
    assert.ok(lines[2]!.endsWith(long));
  });

  test('a long value before the last column turns the table into blocks, every value whole', () => {
    const lines = formatTable(
      [
        { reason: long, key: 'D-1' },
        { reason: 'short', key: 'D-2' },
      ],
      undefined,
      100,
    );
    assert.deepEqual(lines, [`reason  ${long}`, 'key     D-1', '', 'reason  short', 'key     D-2']);
  });

  test('named columns in their order; a missing value prints empty; a line break in a value does not break the row', () => {
    const lines = formatTable([{ b: 'two\nlines', a: 1 }, { a: 2 }], ['a', 'b']);
    assert.deepEqual(lines, ['a  b', '-  -', '1  two lines', '2']);
    assert.deepEqual(formatTable([]), ['(none)']);
  });
});

describe('CLI command lines', () => {
  const parse = (argv: string[]) => {
    const { positionals, given } = tokenize(argv, {
      entity: { type: 'string', help: '' },
      'dry-run': { type: 'boolean', help: '' },
      queue: { type: 'string', help: '' },
      json: { type: 'boolean', help: '' },
    });
    const command = findCommand(COMMANDS, positionals);
    assert.ok(command, argv.join(' '));
    return validate(command, positionals, given, entityRegistry, NOW);
  };
  const refuses = (argv: string[], option: string | undefined, message: RegExp) =>
    assert.throws(
      () => parse(argv),
      (e: unknown) => e instanceof UsageError && e.option === option && message.test(e.message),
    );

  test('two-word commands are found before one-word ones; arguments and options come back validated', () => {
    assert.equal(findCommand(COMMANDS, ['tenant', 'show', 'x'])?.name, 'tenant show');
    assert.deepEqual(parse(['sync', 'globex', '--entity', 'items', '--dry-run']), {
      args: ['globex'],
      options: { entity: 'items', 'dry-run': true },
    });
  });

  test('an option of another command is refused by this one, naming what it takes', () => {
    refuses(['status', '--queue', 'records'], '--queue', /unknown option --queue; "status" takes .*--since/u);
    refuses(['redrive', '--entity', 'items'], '--entity', /"redrive" takes .*--queue/u);
  });

  test('an option that takes a value does not swallow the next option', () => {
    refuses(['sync', 'globex', '--entity', '--json'], '--entity', /--entity needs a value: one of customers, contacts, items/u);
  });
});
