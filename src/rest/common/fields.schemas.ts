import { z } from 'zod';
import { RestUpload } from './multipart.parser';

/**
 * Field schemas shared by the dialects. Bodies arrive as JSON, urlencoded or multipart (where
 * every value is a string), so ids, numbers and booleans accept their string forms too; anything
 * else is a 400 naming the field (rest-compat.md "Common").
 */

/** A path id: a positive integer. */
export const pathId = z
  .string()
  .regex(/^\d{1,10}$/, 'must be a positive integer id')
  .describe('integer id');

/** A body id: 12 or "12". */
export const idField = z
  .union([
    z.number().int().positive().max(2147483647),
    z
      .string()
      .trim()
      .regex(/^\d{1,10}$/, 'must be a positive integer id'),
  ])
  .transform(Number);

/** A body integer: 12 or "12". */
export const intField = z
  .union([
    z.number().int(),
    z
      .string()
      .trim()
      .regex(/^-?\d{1,10}$/, 'must be an integer'),
  ])
  .transform(Number);

const TRUE = ['true', 'True', 'TRUE', '1', 'on', 'yes'];
const FALSE = ['false', 'False', 'FALSE', '0', 'off', 'no', ''];
/** A body boolean: true, "true", "1", "on" (HTML forms) ... */
export const boolField = z
  .union([z.boolean(), z.enum([...TRUE, ...FALSE] as [string, ...string[]])])
  .transform((v) => (typeof v === 'boolean' ? v : TRUE.includes(v)));

/** A list that multipart may send as one value or repeated keys (`members: 1`, `members: 2`). */
export function listOf<T extends z.ZodType>(item: T) {
  return z.preprocess((v) => (v === undefined || Array.isArray(v) ? v : [v]), z.array(item));
}

/** A query integer within [min, max]. */
export function intQuery(min: number, max: number) {
  return z.coerce.number().int().min(min).max(max);
}

/**
 * A file part of a multipart body (a {@link RestUpload}); anything else (a JSON string, a text
 * field) is a 400 naming the field. OpenAPI: a binary string.
 */
export const uploadField = z
  .custom<RestUpload>((v) => v instanceof RestUpload, { message: 'must be a file (multipart/form-data)' })
  .meta({ type: 'string', contentMediaType: 'application/octet-stream' } as Record<string, unknown>);
