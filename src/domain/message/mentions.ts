/** A mention: "@" + a username (3..32 of letters, digits, ".", "_", "-"; the register rule), not inside a word or an e-mail address. */
const MENTION = /(?<![\w.@-])@([A-Za-z0-9_.-]{3,32})/g;

/**
 * The lower-cased usernames named with `@username` in `text` (seed 003 mentions), unique, in order
 * of first appearance. A trailing "." or "-" (end of a sentence) is not part of the name.
 */
export function mentionedNames(text: string): string[] {
  if (!text.includes('@')) return [];
  const seen = new Set<string>();
  for (const m of text.matchAll(MENTION)) {
    const name = m[1].replace(/[.-]+$/, '').toLowerCase();
    if (name.length >= 3) seen.add(name);
  }
  return [...seen];
}
