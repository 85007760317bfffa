/**
 * A mention: "@" + a run of username characters (letters, digits, ".", "_", "-") not inside a word
 * or an e-mail address, taken whole: a run longer than a username can be (the register rule:
 * 3..32) names nobody, rather than the user named by its first 32 characters.
 */
const MENTION = /(?<![\w.@-])@([A-Za-z0-9_.-]{3,64})(?![A-Za-z0-9_.-])/g;
/** Longest username (the register rule). */
const MAX_NAME = 32;

/**
 * The lower-cased usernames named with `@username` in `text` (seed 003 mentions), unique, in order
 * of first appearance. A trailing "." or "-" (end of a sentence) is not part of the name.
 */
export function mentionedNames(text: string): string[] {
  if (!text.includes('@')) return [];
  const seen = new Set<string>();
  for (const m of text.matchAll(MENTION)) {
    const name = m[1].replace(/[.-]+$/, '').toLowerCase();
    if (name.length >= 3 && name.length <= MAX_NAME) seen.add(name);
  }
  return [...seen];
}
