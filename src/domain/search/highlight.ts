import { tokenize } from './normalize';
import type { ParsedQuery } from './query';

/** Longest excerpt, in UTF-16 units of the original content (ellipses aside). */
export const EXCERPT_LENGTH = 300;
/** Context kept before the first match when the content is longer than an excerpt. */
const LEAD = 80;

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ESCAPES[c]);

/**
 * SearchHit.highlight: an excerpt of `content` with every match of the query's included terms in
 * `<mark></mark>` and everything else HTML-escaped. Matches are found with the same
 * normalisation as the index (normalize.ts): whole words (folded), and CJK terms inside runs.
 * The excerpt is the whole content up to EXCERPT_LENGTH, else a window from a little before the
 * first match, with "…" where it was cut. Pure.
 */
export function highlight(content: string, q: Pick<ParsedQuery, 'include'>): string {
  const words = new Set(q.include.flatMap((t) => t.words));
  const cjk = [...new Set(q.include.flatMap((t) => t.cjk))];
  const ranges: [number, number][] = [];
  for (const token of tokenize(content)) {
    if (token.kind === 'word') {
      if (words.has(token.folded)) ranges.push([token.start, token.end]);
      continue;
    }
    const chars = token.chars.map((c) => c.folded);
    for (const needle of cjk) {
      const n = [...needle];
      for (let i = 0; i + n.length <= chars.length; i++) {
        if (n.every((ch, k) => chars[i + k] === ch)) ranges.push([token.chars[i].start, token.chars[i + n.length - 1].end]);
      }
    }
  }
  ranges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const merged: [number, number][] = [];
  for (const r of ranges) {
    const last = merged[merged.length - 1];
    if (last && r[0] <= last[1]) last[1] = Math.max(last[1], r[1]);
    else merged.push([...r]);
  }
  let from = 0;
  let to = content.length;
  if (content.length > EXCERPT_LENGTH) {
    from = Math.max(0, Math.min((merged[0]?.[0] ?? 0) - LEAD, content.length - EXCERPT_LENGTH));
    to = from + EXCERPT_LENGTH;
    // Never cut a surrogate pair in two.
    if (from > 0 && /[\udc00-\udfff]/.test(content[from])) from -= 1;
    if (to < content.length && /[\udc00-\udfff]/.test(content[to])) to += 1;
  }
  let out = from > 0 ? '…' : '';
  let at = from;
  for (const [s, e] of merged) {
    if (e <= from || s >= to) continue;
    const start = Math.max(s, from);
    const end = Math.min(e, to);
    out += escapeHtml(content.slice(at, start)) + '<mark>' + escapeHtml(content.slice(start, end)) + '</mark>';
    at = end;
  }
  out += escapeHtml(content.slice(at, to));
  return to < content.length ? `${out}…` : out;
}
