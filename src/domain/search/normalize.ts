/**
 * Search text normalisation (issue 33): the one place where text becomes what search matches, for
 * the stored document of a message and for a query alike.
 *
 * Per code point, the folded form: NFKC (full-width and compatibility forms), lower case, Latin,
 * Greek, Cyrillic and Vietnamese diacritics removed (`được` → `duoc`, `đ` → `d`), Arabic harakat
 * and tatweel removed, Arabic yeh/alef maksura → Persian yeh (ی) and Arabic kaf → keheh (ک),
 * Arabic-Indic and Persian digits → ASCII, and zero-width characters (ZWNJ, ZWJ, ZWSP, soft
 * hyphen, BOM) removed so that `کتاب‌ها` and `کتابها` are one word. The exact form keeps the
 * diacritics (it ranks exact matches first). Words are runs of letters and digits; runs of
 * Chinese, Japanese and Korean characters become every single character and every overlapping
 * bigram (`上海东` → 上 海 东 上海 海东), so one or two characters match inside a run.
 */

/** Combining marks removed by folding: Latin/Greek/Cyrillic diacritics (Vietnamese tones included) and Arabic harakat. Not kana voicing marks (U+3099, U+309A). */
// eslint-disable-next-line no-misleading-character-class -- ranges of combining marks, each removed on its own
const FOLDED_MARKS = /[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed]/g;
/** Removed from both forms: zero-width characters, soft hyphen, BOM, Arabic tatweel. */
const INVISIBLE = /[\u200b-\u200d\u2060\ufeff\u00ad\u0640]/g;
/** Letters that are one letter for search (both forms). */
const SAME_LETTER: Record<string, string> = {
  '\u064a': '\u06cc', // Arabic yeh → Persian yeh
  '\u0649': '\u06cc', // alef maksura → Persian yeh
  '\u0643': '\u06a9', // Arabic kaf → keheh
  ς: 'σ',
};
/** Letters without a decomposition that folding still reduces (the folded form only). */
const FOLDED_LETTER: Record<string, string> = { đ: 'd', ð: 'd', ł: 'l', ø: 'o', ß: 'ss', æ: 'ae', œ: 'oe', þ: 'th', ı: 'i', ħ: 'h' };
const WORD_CHAR = /[\p{L}\p{N}]/u;
const CJK_CHAR = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\u30fc\u3005\u3006]/u;
/** The longest word (UTF-16 units) indexed; longer ones are left out of the document. */
export const MAX_WORD_LENGTH = 100;

const cache = new Map<string, [string, string]>();

/** The [folded, exact] forms of one code point (see the module comment). */
export function formsOf(cp: string): [string, string] {
  const hit = cache.get(cp);
  if (hit) return hit;
  let exact = cp.normalize('NFKC').toLowerCase().replace(INVISIBLE, '');
  exact = [...exact]
    .map(
      (ch) =>
        SAME_LETTER[ch] ??
        (ch >= '\u0660' && ch <= '\u0669' ? String(ch.charCodeAt(0) - 0x660) : ch >= '\u06f0' && ch <= '\u06f9' ? String(ch.charCodeAt(0) - 0x6f0) : ch),
    )
    .join('');
  const folded = [...exact.normalize('NFD').replace(FOLDED_MARKS, '')]
    .map((ch) => FOLDED_LETTER[ch] ?? ch)
    .join('')
    .normalize('NFC');
  const forms: [string, string] = [folded, exact];
  if (cache.size < 100_000) cache.set(cp, forms);
  return forms;
}

/** One character of a CJK run: its folded form and where it is in the original text (UTF-16 offsets). */
export interface CjkChar {
  folded: string;
  start: number;
  end: number;
}

/** A word (letters and digits) or a CJK run, with its offsets [start, end) in the original text. */
export interface TextToken {
  kind: 'word' | 'cjk';
  folded: string;
  /** Lower case with diacritics kept (NFC); equal to `folded` for CJK runs. */
  exact: string;
  start: number;
  end: number;
  /** For CJK runs: the characters. */
  chars: CjkChar[];
}

/** Splits `text` into words and CJK runs (see the module comment). */
export function tokenize(text: string): TextToken[] {
  const out: TextToken[] = [];
  let cur: TextToken | null = null;
  let offset = 0;
  for (const cp of text) {
    const start = offset;
    offset += cp.length;
    const [folded, exact] = formsOf(cp);
    if (!folded) {
      // A combining mark or an invisible character: part of the word it is in.
      if (cur) {
        cur.exact += exact;
        cur.end = offset;
        if (cur.kind === 'cjk' && cur.chars.length) cur.chars[cur.chars.length - 1].end = offset;
      }
      continue;
    }
    const first = [...folded][0];
    if (!WORD_CHAR.test(first)) {
      cur = null;
      continue;
    }
    const kind = CJK_CHAR.test(first) ? 'cjk' : 'word';
    if (!cur || cur.kind !== kind) {
      cur = { kind, folded: '', exact: '', start, end: offset, chars: [] };
      out.push(cur);
    }
    cur.folded += folded;
    cur.exact += exact;
    cur.end = offset;
    if (kind === 'cjk') cur.chars.push({ folded, start, end: offset });
  }
  for (const t of out) t.exact = t.kind === 'cjk' ? t.folded : t.exact.normalize('NFC');
  return out;
}

/** A lexeme at a position of the search document. */
export interface Lexeme {
  lexeme: string;
  position: number;
}

/**
 * The lexemes of tokens from position `from` (1-based): a word gives its folded form, and its
 * exact form too when that differs (same position); a CJK run gives every character (position of
 * the character) and every bigram (position of its first character). Returns the next position.
 */
export function lexemesOf(tokens: TextToken[], from = 1, out: Lexeme[] = []): number {
  let p = from;
  for (const t of tokens) {
    if (t.kind === 'word') {
      if (t.folded.length <= MAX_WORD_LENGTH) {
        out.push({ lexeme: t.folded, position: p });
        if (t.exact !== t.folded) out.push({ lexeme: t.exact, position: p });
      }
      p += 1;
    } else {
      const cs = t.chars.map((c) => c.folded);
      cs.forEach((c, i) => {
        out.push({ lexeme: c, position: p + i });
        if (i + 1 < cs.length) out.push({ lexeme: c + cs[i + 1], position: p + i });
      });
      p += cs.length;
    }
  }
  return p;
}

/** Quotes a lexeme for the tsvector and tsquery input syntax. */
export function quoteLexeme(lexeme: string): string {
  return `'${lexeme.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

/** The lexeme of messages with a link (`has:link`); a word never contains ':'. */
export const HAS_LINK = 'has:link';
const LINK = /\bhttps?:\/\/\S|\bwww\.\S/i;
/** PostgreSQL keeps at most this many positions per lexeme. */
const MAX_POSITIONS = 255;

/**
 * The search document of a message's content, as PostgreSQL tsvector input (`'lexeme':1,4 ...`),
 * stored beside the message in its own transaction (PostgresSearchIndex). Pure.
 */
export function searchDocument(content: string): string {
  const lexemes: Lexeme[] = [];
  lexemesOf(tokenize(content), 1, lexemes);
  const positions = new Map<string, number[]>();
  for (const { lexeme, position } of lexemes) {
    const list = positions.get(lexeme) ?? [];
    if (list.length < MAX_POSITIONS && list[list.length - 1] !== position) list.push(Math.min(position, 16383));
    positions.set(lexeme, list);
  }
  const parts = [...positions].map(([lexeme, ps]) => `${quoteLexeme(lexeme)}:${ps.join(',')}`);
  if (LINK.test(content)) parts.push(quoteLexeme(HAS_LINK));
  return parts.join(' ');
}
