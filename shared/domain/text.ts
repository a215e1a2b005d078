/** Text rules shared by every mapping: what counts as the same name, and what a field may hold. */

// C0/C1 control characters (Unicode category Cc: U+0000-U+001F, U+007F-U+009F) other than tab, LF and CR.
const CONTROL_CHARS = /(?![\t\n\r])\p{Cc}/u;

/** How people's hand-typed names compare: Unicode NFC, case-folded, runs of white space collapsed, trimmed. */
export function normaliseName(name: string): string {
  return name.normalize('NFC').toLocaleLowerCase('en').replace(/\s+/gu, ' ').trim();
}

/**
 * Names a person would take for the same one but `normaliseName` keeps apart: compatibility forms
 * (NFKC: full-width letters, ligatures) and ß written as ss. Equal folds without equal names are
 * for a person to judge, never a match.
 */
export function foldName(name: string): string {
  return normaliseName(name.normalize('NFKC')).replace(/ß/gu, 'ss');
}

/**
 * A term for Pipedrive's (non-exact) search that every variant of `name` contains whatever its case,
 * spacing or composition (or ß/ss, unless the name is too short for that): its longest ASCII word,
 * else its longest ASCII run, long enough to be selective.
 * The hits are then compared by `normaliseName` and `foldName`. Undefined when no such term exists.
 */
export function nameSearchTerm(name: string): string | undefined {
  const folded = foldName(name);
  const longest = (parts: string[]) =>
    parts
      .filter((p) => p.length >= 2)
      .reduce<string | undefined>((best, p) => (best === undefined || p.length > best.length ? p : best), undefined);
  const words = folded.split(' ').filter((word) => /^[a-z0-9]+$/u.test(word));
  const choices = [
    longest(words.filter((word) => !word.includes('ss'))),
    longest(folded.split(/[^a-z0-9]+|ss/u)),
    // Only when nothing else is selective: a word with "ss" misses its "ß" spelling.
    longest(words),
  ].filter((term) => term !== undefined);
  return choices.find((term) => term.length >= MIN_SELECTIVE_TERM) ?? longest(choices);
}

/** Search terms shorter than this match too many records to be worth 20 tokens a page. */
const MIN_SELECTIVE_TERM = 4;

/** A QAD text value as we send it: NFC, trimmed, inner white space collapsed. */
export function cleanText(value: string): string {
  return value.normalize('NFC').replace(/\s+/gu, ' ').trim();
}

/** The reason a text value cannot be sent, or undefined when it can. */
export function textProblem(value: string, maxLength: number): string | undefined {
  if (CONTROL_CHARS.test(value)) return 'contains control characters';
  if ([...value].length > maxLength) return `is longer than ${maxLength} characters (${[...value].length})`;
  return undefined;
}
