/**
 * The embedded database's template (src/db/pglite-template.ts, made by `npm run build`): a
 * database made from it has exactly the schema that running every migration gives, a template
 * that does not match the migrations is not used, and a new data directory on disk starts from
 * it and then keeps its data across a restart.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closeDatabase, openDatabase, type Orm } from '../../src/db/orm';
import { pgliteTemplate } from '../../src/db/pglite-template';
import { migrationsList } from '../../migrations';

const names = migrationsList.map((m) => m.name);

/** Tables, columns, indexes, constraints and applied migrations: what the migrations make. */
async function schemaOf(orm: Orm) {
  const em = orm.em.fork();
  return {
    columns: await em.execute(
      `select table_name, column_name, data_type, is_nullable, column_default from information_schema.columns where table_schema = 'public' order by 1, 2`,
    ),
    indexes: await em.execute(`select indexname, indexdef from pg_indexes where schemaname = 'public' order by 1`),
    constraints: await em.execute(`select conname, pg_get_constraintdef(oid) as def from pg_constraint where connamespace = 'public'::regnamespace order by 1`),
    migrations: (await em.execute<{ name: string }[]>(`select name from mikro_orm_migrations order by id`)).map((r) => r.name),
  };
}

test('the build made a template for these migrations', () => {
  const t = pgliteTemplate(names);
  expect(t).not.toBeNull();
  expect(t!.migrations).toEqual(names);
});

test('a database from the template has the schema of one migrated from scratch', async () => {
  const logged: string[][] = [];
  const fromTemplate = await openDatabase({ dataDir: ':memory:', onMigrated: (n) => logged.push(n) });
  const fromScratch = await openDatabase({ dataDir: ':memory:', template: false });
  try {
    const a = await schemaOf(fromTemplate);
    const b = await schemaOf(fromScratch);
    expect(a.migrations).toEqual(names);
    expect(a.columns.length).toBeGreaterThan(50);
    expect(a).toEqual(b);
    expect(logged).toEqual([names]);
  } finally {
    await closeDatabase(fromTemplate);
    await closeDatabase(fromScratch);
  }
});

test('a template is used only for the migrations it was made with', () => {
  expect(pgliteTemplate([...names, 'Migration29991231000000_later'])?.migrations).toEqual(names);
  expect(pgliteTemplate(['Migration20000101000000_other', ...names.slice(1)])).toBeNull();
  expect(pgliteTemplate(names.slice(0, -1))).toBeNull();
});

test('a new data directory starts from the template and keeps its data across a restart', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'chat-template-'));
  try {
    const first = await openDatabase({ dataDir: dir });
    await first.em
      .fork()
      .execute(`insert into users (username, username_key, password_hash, created_at, updated_at) values ('kept', 'kept', 'x', now(), now())`);
    await closeDatabase(first);
    const logged: string[][] = [];
    const again = await openDatabase({ dataDir: dir, onMigrated: (n) => logged.push(n) });
    try {
      expect((await again.em.fork().execute<{ username: string }[]>(`select username from users`)).map((r) => r.username)).toEqual(['kept']);
      // Nothing to apply on a restart (and the template is not loaded over existing data).
      expect(logged).toEqual([]);
    } finally {
      await closeDatabase(again);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
