import { countStatements } from '../../src/db/pglite-statements';

/** The statement counter that keeps one-statement SQL with a ";" in a literal off PGlite's exec. */
describe('countStatements', () => {
  test.each([
    ['select 1', 1],
    ['select 1;', 1],
    ['select 1; select 2', 2],
    ["insert into t (a) values ('a;b') returning id", 1],
    ["insert into t (a) values ('it''s; drop table users; --')", 1],
    ["select E'a\\'; b'", 1],
    ['select "we;ird" from t', 1],
    ['select $$a;b$$; select $x$ ; $x$', 2],
    ['select 1 -- a; comment\n', 1],
    ['select /* a; /* nested; */ b; */ 1', 1],
    ['create table a (x int); create table b (y int);', 2],
    [' ; ; ', 0],
  ])('%j has %d statement(s)', (sql, expected) => {
    expect(countStatements(sql)).toBe(expected);
  });

  test('unterminated text is not one statement', () => {
    expect(countStatements("select 'a; b")).toBe(Infinity);
    expect(countStatements('select $$ a; b')).toBe(Infinity);
  });
});
