import { DomainError } from '../../src/domain/shared/errors';
import { validate, z } from '../../src/domain/shared/validate';

/**
 * Domain input validation: bad input is BAD_USER_INPUT naming the field (docs/graphql-api.md "Auth flow":
 * "Anything else is `BAD_USER_INPUT` naming the field"; REST answers 400 naming it too).
 */

const refusal = (f: () => unknown) => {
  try {
    return { accepted: f() };
  } catch (err) {
    return err instanceof DomainError ? { code: err.code, message: err.message, field: err.field } : `not a DomainError: ${String(err)}`;
  }
};

describe('validate', () => {
  const input = z.object({
    title: z.string().min(1, 'must not be empty'),
    settings: z.object({ maxMembers: z.number().int('must be a whole number') }).optional(),
  });

  test('valid input comes back parsed', () => {
    expect(validate(z.string().trim(), '  hi  ')).toBe('hi');
    expect(validate(input, { title: 'x', settings: { maxMembers: 5 } })).toEqual({ title: 'x', settings: { maxMembers: 5 } });
  });

  test('the first bad field is named, in the message and as the field', () => {
    expect(refusal(() => validate(input, { title: '' }))).toEqual({ code: 'BAD_USER_INPUT', message: 'title: must not be empty', field: 'title' });
  });

  test('a nested field is named by its path', () => {
    expect(refusal(() => validate(input, { title: 'x', settings: { maxMembers: 1.5 } }))).toEqual({
      code: 'BAD_USER_INPUT',
      message: 'settings.maxMembers: must be a whole number',
      field: 'settings.maxMembers',
    });
  });

  test('a one-field schema is named by the field given', () => {
    expect(refusal(() => validate(z.string().max(3, 'too long'), 'abcd', 'username'))).toEqual({
      code: 'BAD_USER_INPUT',
      message: 'username: too long',
      field: 'username',
    });
    expect(refusal(() => validate(z.object({ a: z.string() }), { a: 1 }, 'input'))).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.a' });
  });

  test('no field and no path: the message alone, no field', () => {
    expect(refusal(() => validate(z.string().max(3, 'too long'), 'abcd'))).toEqual({ code: 'BAD_USER_INPUT', message: 'too long', field: undefined });
    expect(refusal(() => validate(z.string().max(3, 'too long'), 'abcd', ''))).toEqual({ code: 'BAD_USER_INPUT', message: 'too long', field: undefined });
    // An empty field name names nothing: the path alone.
    expect(refusal(() => validate(z.object({ a: z.string() }), { a: 1 }, ''))).toMatchObject({ code: 'BAD_USER_INPUT', field: 'a' });
  });
});
