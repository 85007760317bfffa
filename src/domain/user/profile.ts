import { cleanText } from '../shared/text';
import { z } from '../shared/validate';

/** Longest first or last name, in characters (the column's length; seeds 001 and 003 profile names). */
export const MAX_NAME_LENGTH = 150;

/**
 * The rule for a person's names, at registration and in `updateProfile` (issue 18): control
 * characters removed, tabs and newlines made spaces, trimmed, at most {@link MAX_NAME_LENGTH}
 * characters; null or absent allowed.
 */
export const profileNamesSchema = z.object({
  firstName: cleanText({ max: MAX_NAME_LENGTH }).nullish(),
  lastName: cleanText({ max: MAX_NAME_LENGTH }).nullish(),
});

/** Longest `role` and `rank` (the columns' length), and the limits of `inGameIds`, in characters and items. */
export const MAX_ATTRIBUTE_LENGTH = 64;
export const MAX_IN_GAME_IDS = 20;
export const MAX_IN_GAME_ID_LENGTH = 100;

/**
 * The application attributes staff set (issue 28 item 9; seed 004's User model: `role`, `score`,
 * `rank`, `in_game_ids`; seed 001's `role`): each optional (absent: unchanged). `role` and `rank`:
 * free text cleaned like names, at most {@link MAX_ATTRIBUTE_LENGTH} characters, null or "" clears;
 * `score`: an integer of the column's range (32-bit), null is 0; `inGameIds`: at most
 * {@link MAX_IN_GAME_IDS} non-empty strings of at most {@link MAX_IN_GAME_ID_LENGTH} characters
 * each, duplicates dropped, null clears.
 */
export const userAttributesSchema = z.object({
  role: cleanText({ max: MAX_ATTRIBUTE_LENGTH }).nullish(),
  score: z.number().int().min(-2147483648).max(2147483647).nullish(),
  rank: cleanText({ max: MAX_ATTRIBUTE_LENGTH }).nullish(),
  inGameIds: z
    .array(cleanText({ min: 1, max: MAX_IN_GAME_ID_LENGTH }))
    .max(MAX_IN_GAME_IDS)
    .nullish(),
});
export type UserAttributesInput = z.input<typeof userAttributesSchema>;

/** Writes validated attributes onto a user row (absent fields unchanged; see {@link userAttributesSchema}). */
export function applyUserAttributes(
  u: { role?: string | null; score: number; rank?: string | null; inGameIds: unknown[] },
  data: z.output<typeof userAttributesSchema>,
): void {
  if (data.role !== undefined) u.role = data.role || null;
  if (data.score !== undefined) u.score = data.score ?? 0;
  if (data.rank !== undefined) u.rank = data.rank || null;
  if (data.inGameIds !== undefined) u.inGameIds = [...new Set(data.inGameIds ?? [])];
}
