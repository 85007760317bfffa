import { z } from 'zod';
import { badInput } from './errors';

/**
 * Validates domain input with a zod schema.
 * @throws DomainError BAD_USER_INPUT naming the first bad field.
 */
export function validate<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const field = issue.path.join('.') || undefined;
  throw badInput(field ? `${field}: ${issue.message}` : issue.message, field);
}

export { z };
