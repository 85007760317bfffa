import { z } from 'zod';
import { badInput } from './errors';

/**
 * Validates domain input with a zod schema; `field` names the input when the schema is for one
 * field (its issues have no path of their own).
 * @throws DomainError BAD_USER_INPUT naming the first bad field.
 */
export function validate<S extends z.ZodType>(schema: S, input: unknown, field?: string): z.output<S> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const path = [field, ...issue.path.map(String)].filter((p) => p !== undefined && p !== '').join('.') || undefined;
  throw badInput(path ? `${path}: ${issue.message}` : issue.message, path);
}

export { z };
