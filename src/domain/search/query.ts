import { badInput } from '../shared/errors';
import { stripControlChars } from '../shared/text';
import { HAS_LINK, quoteLexeme, tokenize, type TextToken } from './normalize';

/** Longest query, in characters (code points). */
export const MAX_QUERY_LENGTH = 256;
/** Most terms (words, phrases, excluded ones) in a query. */
export const MAX_TERMS = 16;
/** Most operators (from:, in:, before:, after:, has:, is:) in a query. */
export const MAX_OPERATORS = 8;
/** Most lexemes one term may ask for (a long CJK run is one bigram per character). */
export const MAX_TERM_LEXEMES = 32;

/** A word, a CJK run or a "phrase": its lexemes in order with their relative positions. */
export interface QueryTerm {
  /** tsquery text over the folded lexemes (words with or without diacritics match). */
  folded: string;
  /** tsquery text over the exact lexemes, when the term has diacritics (ranks exact matches first); else null. */
  exact: string | null;
  /** For highlights: folded words, and folded CJK runs (matched inside runs). */
  words: string[];
  cjk: string[];
}

/** A query taken apart (issue 33 syntax; see docs/search.md). */
export interface ParsedQuery {
  include: QueryTerm[];
  exclude: QueryTerm[];
  /** from:<username>, lower-cased usernames (any of them). */
  from: string[];
  /** in:<conversation id> (every one must hold: the same conversation). */
  in: string[];
  /** before: (exclusive, midnight UTC of that day) and after: (from midnight UTC of the next day). */
  before: Date | null;
  after: Date | null;
  has: Set<'file' | 'image' | 'link'>;
  /** is:pinned: only messages pinned now (issue 31's pins). */
  pinned: boolean;
  /** is:thread: only messages of threads, roots and replies (issue 32). */
  thread: boolean;
}

const OPERATOR = /^(-?)(from|in|before|after|has|is):(.*)$/is;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** The tsquery of tokens in order, each lexeme `<d>` after the previous (d its distance); `pick` gives a word's lexeme. */
function phraseOf(tokens: TextToken[], pick: (t: TextToken) => string): { text: string; count: number } {
  const lexemes: { lexeme: string; position: number }[] = [];
  let p = 0;
  for (const t of tokens) {
    if (t.kind === 'word') lexemes.push({ lexeme: pick(t), position: p++ });
    else {
      const cs = t.chars.map((c) => c.folded);
      if (cs.length === 1) lexemes.push({ lexeme: cs[0], position: p });
      for (let i = 0; i + 1 < cs.length; i++) lexemes.push({ lexeme: cs[i] + cs[i + 1], position: p + i });
      p += cs.length;
    }
  }
  let text = '';
  lexemes.forEach((l, i) => {
    text += i === 0 ? quoteLexeme(l.lexeme) : ` <${l.position - lexemes[i - 1].position}> ${quoteLexeme(l.lexeme)}`;
  });
  return { text: lexemes.length > 1 ? `(${text})` : text, count: lexemes.length };
}

/** A term from the text of a word or a phrase; null when nothing in it is searchable (punctuation only). */
function termOf(text: string): QueryTerm | null {
  const tokens = tokenize(text);
  if (!tokens.length) return null;
  const folded = phraseOf(tokens, (t) => t.folded);
  if (folded.count > MAX_TERM_LEXEMES) throw badInput(`A search term may have at most ${MAX_TERM_LEXEMES} words or characters`, 'query');
  const exact = tokens.some((t) => t.exact !== t.folded) ? phraseOf(tokens, (t) => t.exact).text : null;
  return {
    folded: folded.text,
    exact,
    words: tokens.filter((t) => t.kind === 'word').map((t) => t.folded),
    cjk: tokens.filter((t) => t.kind === 'cjk').map((t) => t.folded),
  };
}

/** Midnight UTC of a YYYY-MM-DD date. @throws BAD_USER_INPUT naming the operator. */
function dateOf(value: string, op: string): Date {
  const m = DATE.exec(value);
  const d = m ? new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))) : null;
  if (!m || !d || d.getUTCFullYear() !== Number(m[1]) || d.getUTCMonth() !== Number(m[2]) - 1 || d.getUTCDate() !== Number(m[3])) {
    throw badInput(`${op}: takes a date as YYYY-MM-DD (UTC), e.g. ${op}:2026-01-31`, 'query');
  }
  return d;
}

/**
 * Parses a search query: words, "exact phrase", -excluded (a word or a phrase), from:<username>,
 * in:<conversation id>, before:/after:YYYY-MM-DD (UTC), has:file|image|link, is:pinned, is:thread
 * (a thread's root or replies, issue 32). Pure.
 * @throws BAD_USER_INPUT (field `query`): too long, too many terms or operators, a malformed or
 *   unknown operator value (the message names the operator), nothing to search for.
 */
export function parseSearchQuery(raw: string): ParsedQuery {
  const text = stripControlChars(String(raw ?? '')).trim();
  if ([...text].length > MAX_QUERY_LENGTH) throw badInput(`A search query may have at most ${MAX_QUERY_LENGTH} characters`, 'query');
  const q: ParsedQuery = { include: [], exclude: [], from: [], in: [], before: null, after: null, has: new Set(), pinned: false, thread: false };
  let operators = 0;
  let terms = 0;
  // A token: an optionally negated "quoted phrase" (an unterminated one runs to the end), or a run without spaces.
  for (const match of text.matchAll(/(-?)"([^"]*)"?|(\S+)/g)) {
    const [, neg, phrase, bare] = match;
    if (phrase !== undefined) {
      const term = termOf(phrase);
      if (term) (neg ? q.exclude : q.include).push(term);
      if (term && ++terms > MAX_TERMS) throw badInput(`A search query may have at most ${MAX_TERMS} terms`, 'query');
      continue;
    }
    const op = OPERATOR.exec(bare);
    if (op) {
      const [, negated, nameRaw, value] = op;
      const name = nameRaw.toLowerCase();
      if (++operators > MAX_OPERATORS) throw badInput(`A search query may have at most ${MAX_OPERATORS} operators`, 'query');
      if (negated) throw badInput(`${name}: cannot be negated`, 'query');
      if (!value) throw badInput(`${name}: needs a value, e.g. ${name}:${EXAMPLES[name]}`, 'query');
      switch (name) {
        case 'from':
          if (value.length > 150) throw badInput('from: takes a username', 'query');
          q.from.push(value.replace(/^@/, '').toLowerCase());
          break;
        case 'in':
          q.in.push(value);
          break;
        case 'before':
          q.before = dateOf(value, 'before');
          break;
        case 'after':
          q.after = new Date(dateOf(value, 'after').getTime() + 86_400_000);
          break;
        case 'has': {
          const v = value.toLowerCase();
          if (v !== 'file' && v !== 'image' && v !== 'link') throw badInput('has: takes file, image or link', 'query');
          q.has.add(v);
          break;
        }
        default: {
          const v = value.toLowerCase();
          if (v === 'pinned') {
            q.pinned = true;
            break;
          }
          if (v === 'thread') {
            q.thread = true;
            break;
          }
          throw badInput('is: takes pinned or thread', 'query');
        }
      }
      continue;
    }
    const negatedWord = bare.startsWith('-') && bare.length > 1;
    const term = termOf(negatedWord ? bare.slice(1) : bare);
    if (!term) continue;
    (negatedWord ? q.exclude : q.include).push(term);
    if (++terms > MAX_TERMS) throw badInput(`A search query may have at most ${MAX_TERMS} terms`, 'query');
  }
  const filtered = q.from.length || q.in.length || q.before || q.after || q.has.size || q.pinned || q.thread;
  if (!q.include.length && !filtered) {
    throw badInput(
      q.exclude.length ? 'A search query needs a word to find, not only words to exclude' : 'A search query needs a word, a phrase or an operator',
      'query',
    );
  }
  return q;
}

const EXAMPLES: Record<string, string> = { from: 'alice', in: '42', before: '2026-01-31', after: '2026-01-31', has: 'link', is: 'pinned' };

/**
 * The tsquery matching a parsed query's words (all included terms, none of the excluded ones,
 * and the has:link lexeme), or null when the query has only other filters.
 */
export function matchQuery(q: ParsedQuery): string | null {
  const parts = q.include.map((t) => t.folded);
  if (q.has.has('link')) parts.push(quoteLexeme(HAS_LINK));
  if (!parts.length && !q.exclude.length) return null;
  return [...parts, ...q.exclude.map((t) => `!${t.folded}`)].join(' & ');
}

/** The tsquery of the included terms' exact forms (diacritics kept), or null when none has diacritics. */
export function exactQuery(q: ParsedQuery): string | null {
  const parts = q.include.map((t) => t.exact).filter((e): e is string => e != null);
  return parts.length ? parts.join(' & ') : null;
}
