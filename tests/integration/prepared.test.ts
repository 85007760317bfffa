/**
 * executePrepared (src/db/prepared.ts): the statements of a send with their parameters bound, as
 * named prepared statements on PostgreSQL. It must answer exactly what em.execute answers (same
 * rows, same value types), run in the em's transaction, convert driver errors as MikroORM does,
 * and be heard by `onQuery` once per statement. On PostgreSQL (DATABASE_URL) a statement is
 * prepared once per connection and then only executed.
 */
import { Client } from 'pg';
import { UniqueConstraintViolationException, type LogContext } from '@mikro-orm/core';
import { closeDatabase, openDatabase, type Orm } from '../../src/db/orm';
import { executePrepared } from '../../src/db/prepared';
import { gqlOk, registerUser } from '../support/client';
import { createTestDatabase, startTestServer, type TestDatabase } from '../support/test-server';

let db: TestDatabase | undefined;
let orm: Orm;
const heard: LogContext[] = [];

beforeAll(async () => {
  db = process.env.DATABASE_URL ? await createTestDatabase() : undefined;
  // One pooled connection: pg_prepared_statements shows the session's own statements.
  orm = await openDatabase({ databaseUrl: db?.url, dataDir: ':memory:', poolMax: 1, onQuery: (c) => heard.push(c) });
  await orm.em
    .fork()
    .execute(
      `create table "prepared_probe" ("id" int primary key, "at" timestamptz, "doc" jsonb, "flag" boolean, "big" bigint, "amount" numeric, "name" text)`,
    );
});
afterAll(async () => {
  await closeDatabase(orm);
  await db?.drop();
});

const SELECT = `select "id", "at", "doc", "flag", "big", "amount", "name", "doc" \\? 'k' as "has_k" from "prepared_probe" where "id" = any(?::int[]) order by "id"`;

test('the rows and their value types are those of em.execute', async () => {
  const em = orm.em.fork();
  const at = new Date('2026-12-08T01:02:03.456Z');
  const insert = `insert into "prepared_probe" ("id", "at", "doc", "flag", "big", "amount", "name") values (?, ?::timestamptz, ?::jsonb, ?, ?, ?, ?) returning *`;
  const odd = "it's; a ? and a \\? and $1 -- not a comment";
  const inserted = await executePrepared(em, insert, [1, at, JSON.stringify({ k: [1, 2], s: 'x' }), true, '9007199254740993', '12.50', odd]);
  await em.execute(insert, [2, at.toISOString(), JSON.stringify({ k: [1, 2], s: 'x' }), true, '9007199254740993', '12.50', odd]);
  await executePrepared(em, insert, [3, null, null, false, null, undefined, null]);
  await em.execute(insert, [4, null, null, false, null, null, null]);
  expect(inserted).toHaveLength(1);

  const bound = await executePrepared<Record<string, unknown>[]>(em, SELECT, [[1, 2, 3, 4]]);
  const inlined = await em.execute<Record<string, unknown>[]>(SELECT.replace('any(?::int[])', 'any(array[?]::int[])'), [[1, 2, 3, 4]]);
  const strip = (rows: Record<string, unknown>[]) => rows.map(({ id: _id, ...rest }) => rest);
  expect(bound.map((r) => r.id)).toEqual([1, 2, 3, 4]);
  expect(strip(bound)).toEqual(strip(inlined));
  // Rows 1 and 2 were written one way each: the same values read back.
  expect(strip(bound.slice(0, 1))).toEqual(strip(bound.slice(1, 2)));
  expect(strip(bound.slice(2, 3))).toEqual(strip(bound.slice(3, 4)));
  // PostgreSQL's driver answers timestamps as text (MikroORM's type parsers), PGlite as Dates: either way the instant.
  expect(new Date(bound[0].at as string | Date)).toEqual(at);
  expect(bound[0]).toMatchObject({ doc: { k: [1, 2], s: 'x' }, flag: true, name: odd, has_k: true });
  expect(bound[2]).toMatchObject({ at: null, doc: null, flag: false, amount: null, has_k: null });

  // 'get' and 'run' as em.execute's.
  expect(await executePrepared(em, SELECT, [[2]], 'get')).toEqual(await em.execute(SELECT.replace('any(?::int[])', 'any(array[?]::int[])'), [[2]], 'get'));
  const update = `update "prepared_probe" set "flag" = not "flag" where "id" = any(?::int[]) returning "id"`;
  const ran = await executePrepared<{ affectedRows: number; rows: unknown[] }>(em, update, [[3, 4]], 'run');
  expect(ran).toMatchObject({ affectedRows: 2, rows: [{ id: 3 }, { id: 4 }] });
});

test('driver errors are converted as em.execute converts them', async () => {
  const em = orm.em.fork();
  await executePrepared(em, `insert into "prepared_probe" ("id") values (?)`, [10]);
  const dup = executePrepared(em, `insert into "prepared_probe" ("id") values (?)`, [10]);
  await expect(dup).rejects.toBeInstanceOf(UniqueConstraintViolationException);
  await expect(dup).rejects.toMatchObject({ code: '23505' });
});

test('it runs in the em’s transaction', async () => {
  const outside = orm.em.fork();
  await expect(
    orm.em.fork().transactional(async (tx) => {
      await executePrepared(tx, `insert into "prepared_probe" ("id", "name") values (?, ?)`, [20, 'uncommitted']);
      expect(await executePrepared(tx, SELECT, [[20]])).toHaveLength(1);
      if (!process.env.DATABASE_URL) return Promise.reject(new Error('rolled back')); // PGlite: one connection, no second session to look from
      // Another session does not see it before the commit.
      const other = new Client({ connectionString: db!.url });
      await other.connect();
      try {
        expect((await other.query('select 1 from "prepared_probe" where "id" = 20')).rows).toHaveLength(0);
      } finally {
        await other.end();
      }
      throw new Error('rolled back');
    }),
  ).rejects.toThrow('rolled back');
  expect(await executePrepared(outside, SELECT, [[20]])).toHaveLength(0);
});

test('every statement is heard by onQuery, with its text and values', async () => {
  heard.length = 0;
  const em = orm.em.fork({ loggerContext: { label: 'probe' } });
  await executePrepared(em, SELECT, [[1]], 'all', { label: 'probe' });
  await executePrepared(em, SELECT, [[2]]);
  expect(heard.map((c) => c.query)).toEqual([SELECT, SELECT]);
  expect(heard[0]).toMatchObject({ label: 'probe', params: [[1]] });
});

(process.env.DATABASE_URL ? test : test.skip)('PostgreSQL prepares a statement once per connection and then only executes it', async () => {
  const em = orm.em.fork();
  const probe = `select "id" from "prepared_probe" where "id" = ? /* once */`;
  for (let i = 0; i < 8; i++) await executePrepared(em, probe, [i]);
  const rows = await em.execute<{ statement: string; runs: number }[]>(
    `select "statement", ("generic_plans" + "custom_plans")::int as "runs" from pg_prepared_statements where "statement" like '%/* once */%' and "statement" not like '%pg_prepared_statements%'`,
  );
  expect(rows).toEqual([{ statement: probe.replace('?', '$1'), runs: 8 }]);
});

test('a statement whose result columns a migration changed runs again under a new name', async () => {
  const em = orm.em.fork();
  const star = `select * from "prepared_probe" where "id" = ?`;
  await em.execute(`insert into "prepared_probe" ("id") values (30)`);
  expect(await executePrepared(em, star, [30])).toHaveLength(1);
  await em.execute(`alter table "prepared_probe" add column "later" int`);
  heard.length = 0;
  const [row] = await executePrepared<Record<string, unknown>[]>(em, star, [30]);
  expect(row).toHaveProperty('later', null);
  // PostgreSQL refused the cached statement once (logged as an error) and ran it again.
  expect(heard.map((c) => c.level ?? 'info')).toEqual(process.env.DATABASE_URL ? ['error', 'info'] : ['info']);
  expect(await executePrepared(em, star, [30])).toHaveLength(1);
});

(process.env.DATABASE_URL ? test : test.skip)('a send’s statements are prepared once per connection (issue 35)', async () => {
  // One pooled connection: every statement the server runs is on the session asked below.
  const server = await startTestServer({ DB_POOL_MAX: '1' });
  try {
    const [a, b, c] = [await registerUser(server.url, 'psA'), await registerUser(server.url, 'psB'), await registerUser(server.url, 'psC')];
    const direct = (await gqlOk(server.url, 'mutation($u: ID) { openDirectChat(userId: $u) { id } }', { u: b.id }, a.token)).openDirectChat.id;
    const group = (await gqlOk(server.url, 'mutation($u: [ID!]!) { createGroup(input: { name: "G", memberIds: $u }) { id } }', { u: [b.id, c.id] }, a.token))
      .createGroup.id;
    const n = 12;
    for (let i = 0; i < n; i++) {
      for (const conversation of [direct, group]) {
        const send = 'mutation($c: ID, $t: String!) { sendMessage(input: { conversationId: $c, content: $t }) { id } }';
        await gqlOk(server.url, send, { c: conversation, t: `m ${i}` }, i % 2 ? b.token : a.token);
      }
    }
    const statements = await server.orm.em
      .fork()
      .execute<{ statement: string; runs: number }[]>(`select "statement", ("generic_plans" + "custom_plans")::int as "runs" from pg_prepared_statements`);
    const runs = (test: (sql: string) => boolean) => statements.filter((s) => test(s.statement)).map((s) => s.runs);
    // The checks (sendTarget): one statement for every send; the DIRECT chat's lock and append, the GROUP's append: one each.
    expect(runs((s) => s.startsWith('select row_to_json(c) as c, row_to_json(m) as m,') && s.includes('as recipients'))).toEqual([2 * n]);
    expect(runs((s) => s.startsWith('with a as') && s.includes('for no key update') && !s.includes('insert into "messages"'))).toEqual([n]);
    expect(runs((s) => s.includes('insert into "messages"') && s.includes('l as (') && s.includes('"contacts" k'))).toEqual([n]);
    expect(runs((s) => s.includes('insert into "messages"') && s.includes('l as (') && !s.includes('"contacts" k'))).toEqual([n]);
  } finally {
    await server.close();
  }
});
