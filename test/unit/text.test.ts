import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cleanText, foldName, nameSearchTerm, normaliseName, textProblem } from '../../shared/domain/text.ts';

describe('normaliseName', () => {
  test('case-insensitive', () => {
    assert.equal(normaliseName('ACME Industries'), normaliseName('acme industries'));
    assert.equal(normaliseName('ÉCOLE'), normaliseName('école'));
  });

  test('white space runs collapse and ends are trimmed', () => {
    assert.equal(normaliseName('  Acme \t  Industries\n'), 'acme industries');
    assert.equal(normaliseName('Acme\u00a0Industries'), 'acme industries');
  });

  test('composed and decomposed forms compare equal (NFC)', () => {
    const composed = 'Caf\u00e9 M\u00fcller';
    const decomposed = 'Cafe\u0301 Mu\u0308ller';
    assert.notEqual(composed, decomposed);
    assert.equal(normaliseName(composed), normaliseName(decomposed));
    assert.equal(normaliseName(decomposed), 'caf\u00e9 m\u00fcller');
  });

  test('different names stay different', () => {
    assert.notEqual(normaliseName('Acme Industries'), normaliseName('Acme Industry'));
    assert.notEqual(normaliseName('AcmeIndustries'), normaliseName('Acme Industries'));
  });
});

describe('cleanText', () => {
  test('trims, collapses inner white space and keeps case', () => {
    assert.equal(cleanText('  Acme   Industries\t\nLtd  '), 'Acme Industries Ltd');
  });

  test('composes to NFC', () => {
    const out = cleanText('Cafe\u0301');
    assert.equal(out, 'Caf\u00e9');
    assert.equal(out.length, 4);
  });

  test('empty and blank become empty', () => {
    assert.equal(cleanText(''), '');
    assert.equal(cleanText(' \t\r\n '), '');
  });

  test('emoji and right-to-left text pass through', () => {
    assert.equal(cleanText('شركة 🚀 Acme'), 'شركة 🚀 Acme');
  });
});

describe('textProblem', () => {
  test('ordinary text within the limit: no problem', () => {
    assert.equal(textProblem('Acme Industries', 255), undefined);
    assert.equal(textProblem('', 255), undefined);
    assert.equal(textProblem('x'.repeat(255), 255), undefined);
  });

  test('tab, LF and CR are allowed', () => {
    assert.equal(textProblem('a\tb\nc\rd', 255), undefined);
  });

  for (const ch of ['\u0000', '\u0001', '\u0008', '\u000B', '\u000C', '\u000E', '\u001F', '\u007F', '\u0080', '\u009F']) {
    test(`control character U+${ch.codePointAt(0)!.toString(16).padStart(4, '0').toUpperCase()} is a problem`, () => {
      assert.equal(textProblem(`a${ch}b`, 255), 'contains control characters');
    });
  }

  test('just over the limit names the limit and the length', () => {
    assert.equal(textProblem('x'.repeat(256), 255), 'is longer than 255 characters (256)');
  });

  test('length counts code points, not UTF-16 units', () => {
    assert.equal(textProblem('😀'.repeat(10), 10), undefined);
    assert.equal(textProblem('😀'.repeat(11), 10), 'is longer than 10 characters (11)');
  });

  test('non-control Unicode (RTL marks, emoji, accented letters) is accepted', () => {
    assert.equal(textProblem('\u200fשלום\u200e é 👍', 255), undefined);
  });
});

describe('foldName: near-identical names a person must judge', () => {
  test('compatibility forms and ß fold to the same name; normaliseName keeps them apart', () => {
    for (const [a, b] of [
      ['Gro\u00dfmann', 'GROSSMANN'],
      ['\uff21\uff23\uff2d\uff25 Tools', 'acme tools'],
      ['\ufb01ne Arts', 'Fine  Arts'],
      ['Stra\u1e9ee', 'strasse'],
    ]) {
      assert.equal(foldName(a!), foldName(b!), `${a} ~ ${b}`);
      assert.notEqual(normaliseName(a!), normaliseName(b!));
    }
    assert.notEqual(foldName('Grossmann'), foldName('Grosman'));
  });
});

describe('nameSearchTerm: a term every variant of a name contains', () => {
  const variants = (name: string) => [
    name,
    name.toUpperCase(),
    name.normalize('NFD'),
    name.replace(/ /gu, '\u00a0'),
    `  ${name.replace(/ /gu, '   ')} `,
  ];
  for (const name of [
    'Nordwind Logistik GmbH',
    'Caf\u00e9 M\u00fcller',
    '\u0160imek s.r.o.',
    'Gro\u00dfmann KG',
    'ACME Tools',
    'Ross & Co',
  ]) {
    test(name, () => {
      const term = nameSearchTerm(name);
      assert.ok(term && term.length >= 2);
      for (const v of [...variants(name), ...variants(foldName(name))]) assert.ok(v.toLowerCase().includes(term), `${v} contains ${term}`);
    });
  }
  test('a name without two ASCII letters in a row has no term (searched exactly instead)', () => {
    assert.equal(nameSearchTerm('\u5927\u962a\u5546\u4e8b'), undefined);
  });
});
