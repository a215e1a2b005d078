/** Text rules shared by every mapping: what counts as the same name, and what a field may hold. */

// C0/C1 control characters (Unicode category Cc: U+0000-U+001F, U+007F-U+009F) other than tab, LF and CR.
const CONTROL_CHARS = /(?![\t\n\r])\p{Cc}/u;

/** How people's hand-typed names compare: Unicode NFC, case-folded, runs of white space collapsed, trimmed. */
export function normaliseName(name: string): string {
  return name.normalize('NFC').toLocaleLowerCase('en').replace(/\s+/gu, ' ').trim();
}

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
