import { z } from 'zod';

/**
 * What no stored text keeps: C0 controls other than tab and newline (NUL among them, which
 * PostgreSQL cannot store), DEL, the C1 controls U+0080..U+009F, lone UTF-16 surrogates (not
 * Unicode; they would be stored as U+FFFD) and the 66 noncharacters (U+FDD0..U+FDEF, U+FFFE,
 * U+FFFF and the last two code points of every plane).
 */
const UNWANTED = /(?![\t\n])\p{Cc}|\p{Noncharacter_Code_Point}|\p{Cs}/gu;

/**
 * Removes what {@link UNWANTED} lists after turning CRLF and lone CR into LF. Everything else is
 * kept as given: no HTML escaping (clients escape when they render), no Unicode normalization;
 * zero-width joiners, bidi marks and emoji are text.
 */
export function stripControlChars(s: string): string {
  return s.replace(/\r\n?/g, '\n').replace(UNWANTED, '');
}

/** Length in characters as people count them (Unicode code points; an emoji is 1, not 2). */
export const charLength = (s: string) => [...s].length;

/** Options of {@link cleanText}. */
export interface TextRule {
  /** At least this many characters after cleaning (1 refuses empty text; default 0). */
  min?: number;
  /** At most this many characters after cleaning. */
  max: number;
  /** Multi-line text (messages, descriptions) keeps "\n" and "\t"; single-line text (names, titles) turns them into spaces. */
  multiline?: boolean;
}

/**
 * A zod string rule for free text: {@link stripControlChars} (single-line: newlines and tabs
 * become spaces), trim, then the length limits on what is left, counted in code points. So a
 * text of nothing but control characters is empty, and the limit applies to what is stored.
 */
export function cleanText(rule: TextRule) {
  const min = rule.min ?? 0;
  return z
    .string()
    .transform((s) => {
      const cleaned = stripControlChars(s);
      return (rule.multiline ? cleaned : cleaned.replace(/[\t\n]/g, ' ')).trim();
    })
    .refine((s) => min === 0 || s.length > 0, 'must not be empty')
    .refine((s) => s.length === 0 || charLength(s) >= min, `must be at least ${min} characters`)
    .refine((s) => charLength(s) <= rule.max, `must be at most ${rule.max} characters`);
}

const ANY_CONTROL = /\p{Cc}|\p{Noncharacter_Code_Point}|\p{Cs}/u;

/**
 * True when `s` holds any control character (tab, newline and CR included), noncharacter or
 * lone surrogate: for identifiers (idempotency keys, file names), which are refused rather than
 * cleaned, since cleaning could make two different keys one.
 */
export function hasControlChars(s: string): boolean {
  return ANY_CONTROL.test(s);
}
