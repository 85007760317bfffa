import { z } from '../shared/validate';

/**
 * What `register` accepts as a username: 3..32 ASCII letters, digits, ".", "_" and "-", starting
 * with a letter or digit and ending with a letter, digit or "_" (so `@name.` at the end of a
 * sentence still mentions `name`, and no name is "." or ".." in a REST path). No spaces, no
 * Unicode (no look-alike names), nothing HTML would read as markup.
 */
export const USERNAME_PATTERN = /^[A-Za-z0-9](?:[A-Za-z0-9_.-]{1,30}[A-Za-z0-9_])$/;

/** The register rule for `username` (surrounding spaces are trimmed first, as before). */
export const usernameSchema = z
  .string()
  .trim()
  .min(3)
  .max(32)
  .regex(/^[A-Za-z0-9_.-]+$/, 'may contain only letters, digits, ".", "_" and "-"')
  .regex(USERNAME_PATTERN, 'must start with a letter or digit and end with a letter, digit or "_"');

/** Every username ever stored matches this (the register charset has not changed; the column holds 64). */
const STORED_USERNAME = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * The lookup key (`User.usernameKey`) for a username typed by a client, or null when no account
 * can have that name (wrong charset, too long, control characters): callers answer "not found"
 * without asking the database, which could not store a NUL anyway.
 */
export function usernameLookupKey(raw: unknown): string | null {
  const key = String(raw ?? '')
    .trim()
    .toLowerCase();
  return STORED_USERNAME.test(key) ? key : null;
}
