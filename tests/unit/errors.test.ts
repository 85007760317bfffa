import {
  DATABASE_UNAVAILABLE_MESSAGE,
  DomainError,
  badInput,
  conflict,
  forbidden,
  isDatabaseUnavailable,
  isUniqueViolation,
  notFound,
  parseId,
  unauthenticated,
} from '../../src/domain/shared/errors';

/**
 * The domain's errors (src/domain/shared/errors.ts): the contract's codes (docs/graphql-api.md "Errors carry
 * `extensions.code`: UNAUTHENTICATED, FORBIDDEN, NOT_FOUND, BAD_USER_INPUT, CONFLICT"), public
 * ids, and the database errors that mean "unavailable, retry" (docs/operations.md "Running several
 * instances": PostgreSQL down answers DATABASE_UNAVAILABLE, REST 503).
 */

/** What a thrown DomainError carries, or 'no error'. */
const thrown = (f: () => unknown) => {
  try {
    return { returned: f() };
  } catch (err) {
    if (!(err instanceof DomainError)) throw err;
    return { code: err.code, message: err.message, field: err.field };
  }
};

describe('DomainError helpers carry the contract codes', () => {
  test.each([
    ['notFound', notFound('conversation'), 'NOT_FOUND', 'conversation not found', undefined],
    ['forbidden', forbidden('you are muted'), 'FORBIDDEN', 'you are muted', undefined],
    ['badInput', badInput('content must not be empty', 'content'), 'BAD_USER_INPUT', 'content must not be empty', 'content'],
    ['conflict', conflict('the room is full'), 'CONFLICT', 'the room is full', undefined],
    ['unauthenticated', unauthenticated(), 'UNAUTHENTICATED', 'Authentication required', undefined],
    ['unauthenticated (own message)', unauthenticated('token expired'), 'UNAUTHENTICATED', 'token expired', undefined],
  ])('%s', (_name, err, code, message, field) => {
    expect(err).toBeInstanceOf(DomainError);
    expect(err).toBeInstanceOf(Error);
    expect({ name: err.name, code: err.code, message: err.message, field: err.field }).toEqual({ name: 'DomainError', code, message, field });
  });
});

describe('parseId: a public id is a positive integer (an int4 id column)', () => {
  test.each([
    ['12', 12],
    [12, 12],
    [' 7 ', 7],
    ['1', 1],
    ['2147483647', 2147483647],
    [2147483647, 2147483647],
    ['007', 7],
  ])('%j is %d', (value, expected) => {
    expect(parseId(value, 'conversationId')).toBe(expected);
  });

  test.each([
    ['0'],
    [0],
    ['-1'],
    [-1],
    ['2147483648'],
    [2147483648],
    ['1.5'],
    [1.5],
    ['12abc'],
    ['abc12'],
    ['1e3'],
    ['0x10'],
    [''],
    ['  '],
    [null],
    [undefined],
    [NaN],
    [Infinity],
    ['9'.repeat(16)],
    [Number.MAX_SAFE_INTEGER + 2],
  ])('%j is BAD_USER_INPUT naming the field', (value) => {
    expect(thrown(() => parseId(value as string | number | null | undefined, 'conversationId'))).toEqual({
      code: 'BAD_USER_INPUT',
      message: 'conversationId is not a valid id',
      field: 'conversationId',
    });
  });
});

describe('isUniqueViolation: PostgreSQL unique_violation (SQLSTATE 23505), from MikroORM or the driver', () => {
  test.each([
    ["MikroORM's exception", Object.assign(new Error('duplicate'), { name: 'UniqueConstraintViolationException' }), true],
    ["the driver's error", Object.assign(new Error('duplicate key value'), { code: '23505' }), true],
    ['another SQLSTATE (foreign key)', Object.assign(new Error('fk'), { code: '23503' }), false],
    ['another exception', Object.assign(new Error('x'), { name: 'ForeignKeyConstraintViolationException' }), false],
    ['a plain error', new Error('duplicate'), false],
    ['nothing', undefined, false],
  ])('%s', (_what, err, expected) => {
    expect(isUniqueViolation(err)).toBe(expected);
  });
});

describe('isDatabaseUnavailable: "could not reach the database", not "refused the statement"', () => {
  const withCode = (code: string) => Object.assign(new Error('db error'), { code });
  test.each([
    // PostgreSQL appendix A: class 08 (connection exception), 57P01..03 (admin/crash shutdown, cannot connect now), 53300 (too many connections).
    ['08000'],
    ['08001'],
    ['08003'],
    ['08006'],
    ['57P01'],
    ['57P02'],
    ['57P03'],
    ['53300'],
    // Node's socket errors.
    ['ECONNREFUSED'],
    ['ECONNRESET'],
    ['ETIMEDOUT'],
    ['EPIPE'],
    ['EHOSTUNREACH'],
    ['ENETUNREACH'],
    ['ENOTFOUND'],
    ['EAI_AGAIN'],
  ])('code %s: unavailable', (code) => {
    expect(isDatabaseUnavailable(withCode(code))).toBe(true);
  });

  test.each([
    ['23505 (unique violation)'],
    ['42703 (undefined column)'],
    ['57P04 (database dropped: not a retry)'],
    ['57014 (query canceled)'],
    ['53200 (out of memory)'],
    ['X08000 (class 08 only at the start)'],
    ['EACCES'],
  ])('code %s: a refusal, not unavailable', (label) => {
    expect(isDatabaseUnavailable(withCode(label.split(' ')[0]))).toBe(false);
  });

  test.each([
    ["MikroORM's ConnectionException", Object.assign(new Error('x'), { name: 'ConnectionException' })],
    ["knex's pool timeout", Object.assign(new Error('x'), { name: 'KnexTimeoutError' })],
    ['node-postgres: Connection terminated unexpectedly', new Error('Connection terminated unexpectedly')],
    ['node-postgres: Connection ended unexpectedly', new Error('Connection ended unexpectedly')],
    ['pool: Timeout acquiring a connection', new Error('Timeout acquiring a connection. The pool is probably full.')],
    ['connect ECONNREFUSED in the text', new Error('connect ECONNREFUSED 127.0.0.1:5432')],
    ['Client has encountered a connection error', new Error('Client has encountered a connection error and is not queryable')],
    ['terminating connection (any letter case)', new Error('FATAL: TERMINATING CONNECTION due to administrator command')],
  ])('%s: unavailable', (_what, err) => {
    expect(isDatabaseUnavailable(err)).toBe(true);
  });

  test('found through up to 5 wrapped causes, not further', () => {
    const wrap = (inner: unknown, times: number) => {
      let e = inner;
      for (let i = 0; i < times; i++) e = Object.assign(new Error('wrapper'), { cause: e });
      return e;
    };
    expect(isDatabaseUnavailable(wrap(withCode('ECONNRESET'), 4))).toBe(true); // the 5th error of the chain
    expect(isDatabaseUnavailable(wrap(withCode('ECONNRESET'), 5))).toBe(false); // the 6th
  });

  test('statement errors, other errors and non-errors are not', () => {
    expect(isDatabaseUnavailable(new Error('column "x" does not exist'))).toBe(false);
    expect(isDatabaseUnavailable(Object.assign(new Error('x'), { code: 8 }))).toBe(false); // a number, not a SQLSTATE
    expect(isDatabaseUnavailable(undefined)).toBe(false);
    expect(isDatabaseUnavailable(null)).toBe(false);
    expect(isDatabaseUnavailable('ECONNREFUSED')).toBe(false);
  });

  test('the message every transport gives meanwhile says to retry', () => {
    expect(DATABASE_UNAVAILABLE_MESSAGE).toBe('Database unavailable; try again shortly');
  });
});
