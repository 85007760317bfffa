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
