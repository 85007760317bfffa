import { DomainError } from '../../src/domain/shared/errors';
import { connectionFrom, decodeCursor, encodeCursor, pageSize } from '../../src/domain/shared/pagination';

/**
 * Cursor pagination (schema/schema.graphql's Relay `*Connection` and `PageInfo`): opaque cursors,
 * page sizes ("`first`, `last` and `limit` may be at most 100 ... Past a limit the operation is
 * refused with `BAD_USER_INPUT`", docs/graphql-api.md "Connecting"), and a page built from one row of look-ahead.
 */

const refusal = (f: () => unknown) => {
  try {
    f();
    return 'accepted';
  } catch (err) {
    return err instanceof DomainError ? { code: err.code, message: err.message, field: err.field } : `not a DomainError: ${String(err)}`;
  }
};

describe('cursors', () => {
  test('a cursor is opaque (base64url) and gives back its parts, for its own kind', () => {
    const cursor = encodeCursor('msg', 42, '2026-12-03T06:00:00.000Z');
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(cursor).not.toContain('msg');
    expect(decodeCursor(cursor, 'msg', 'after', 2)).toEqual(['42', '2026-12-03T06:00:00.000Z']);
    expect(decodeCursor(encodeCursor('user', 'alice'), 'user', 'after', 1)).toEqual(['alice']);
  });

  test.each([
    ['a cursor of another kind', encodeCursor('user', 'alice'), 'msg', 1],
    ['a kind that only starts the same', encodeCursor('msgx', 1), 'msg', 1],
    ['a kind at the end, not the start', Buffer.from('1|msg:').toString('base64url'), 'msg', 1],
    ['too few parts', encodeCursor('msg', 1), 'msg', 2],
    ['too many parts', encodeCursor('msg', 1, 2, 3), 'msg', 2],
    ['an empty part', encodeCursor('msg', '', 5), 'msg', 2],
    ['an empty last part', encodeCursor('msg', 5, ''), 'msg', 2],
    ['no parts at all', encodeCursor('msg'), 'msg', 1],
    ['not base64 of anything', '!!!', 'msg', 1],
    ['empty', '', 'msg', 1],
  ])('%s: BAD_USER_INPUT naming the argument', (_what, cursor, kind, arity) => {
    expect(refusal(() => decodeCursor(cursor, kind, 'before', arity))).toEqual({
      code: 'BAD_USER_INPUT',
      message: 'before is not a valid cursor',
      field: 'before',
    });
  });
});

describe('pageSize', () => {
  test('absent: the default; 0 to max: as asked', () => {
    expect(pageSize(undefined, 20, 100, 'first')).toBe(20);
    expect(pageSize(null, 50, 100, 'first')).toBe(50);
    expect(pageSize(0, 20, 100, 'first')).toBe(0);
    expect(pageSize(1, 20, 100, 'first')).toBe(1);
    expect(pageSize(100, 20, 100, 'first')).toBe(100);
  });

  test.each([[101], [-1], [1.5], [NaN], [Infinity]])('%d: BAD_USER_INPUT naming the argument and the bound', (value) => {
    expect(refusal(() => pageSize(value, 20, 100, 'last'))).toEqual({ code: 'BAD_USER_INPUT', message: 'last must be between 0 and 100', field: 'last' });
  });
});

describe('connectionFrom: rows fetched with one row of look-ahead', () => {
  const cursorOf = (n: number) => `c${n}`;

  test('one row past the page size: a next page, and that row is not shown', () => {
    const page = connectionFrom([1, 2, 3, 4], 3, cursorOf, 10, false);
    expect(page.edges).toEqual([
      { cursor: 'c1', node: 1 },
      { cursor: 'c2', node: 2 },
      { cursor: 'c3', node: 3 },
    ]);
    expect(page.pageInfo).toEqual({ hasNextPage: true, hasPreviousPage: false, startCursor: 'c1', endCursor: 'c3' });
    expect(page.totalCount).toBe(10);
  });

  test('exactly the page size: the last page', () => {
    const page = connectionFrom([1, 2, 3], 3, cursorOf, 3, true);
    expect(page.edges.map((e) => e.node)).toEqual([1, 2, 3]);
    expect(page.pageInfo).toEqual({ hasNextPage: false, hasPreviousPage: true, startCursor: 'c1', endCursor: 'c3' });
  });

  test('fewer rows: the last page, every row shown', () => {
    const page = connectionFrom([7], 3, cursorOf, 1, false);
    expect(page.pageInfo).toEqual({ hasNextPage: false, hasPreviousPage: false, startCursor: 'c7', endCursor: 'c7' });
  });

  test('no rows: null cursors', () => {
    const page = connectionFrom<number>([], 3, cursorOf, 0, false);
    expect(page).toEqual({ edges: [], totalCount: 0, pageInfo: { hasNextPage: false, hasPreviousPage: false, startCursor: null, endCursor: null } });
  });
});
