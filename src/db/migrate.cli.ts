import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfigOrExit } from '../config/config';
import { closeDatabase, openDatabase } from './orm';

/**
 * `npm run migrate`: runs pending migrations. `npm run migrate -- create [name]` writes a new
 * migration from the difference between the entities and the database into migrations/.
 */
async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const orm = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir }, false);
  try {
    const migrator = orm.getMigrator();
    if (process.argv[2] === 'create') {
      const pending = await migrator.getPendingMigrations();
      if (pending.length) await migrator.up();
      const diff = await orm.getSchemaGenerator().getUpdateSchemaMigrationSQL({ wrap: false });
      if (!diff.up.trim()) {
        console.log('No schema changes.');
        return;
      }
      const stamp = new Date().toISOString().replace(/\D/g, '').slice(0, 14);
      const name = `Migration${stamp}_${(process.argv[3] ?? 'change').replace(/\W/g, '_')}`;
      const q = (sql: string) =>
        sql
          .split(/;\n/)
          .map((s) => s.trim())
          .filter(Boolean)
          .map((s) => `    this.addSql(${JSON.stringify(s.replace(/;$/, ''))});`)
          .join('\n');
      const file = join(process.cwd(), 'migrations', `${name}.ts`);
      writeFileSync(
        file,
        `import { Migration } from '@mikro-orm/migrations';\n\nexport class ${name} extends Migration {\n  override async up(): Promise<void> {\n${q(diff.up)}\n  }\n\n  override async down(): Promise<void> {\n${q(diff.down)}\n  }\n}\n`,
      );
      console.log(`Wrote ${file}; add it to migrations/index.ts.`);
      return;
    }
    const done = await migrator.up();
    console.log(done.length ? `Applied ${done.map((m) => m.name).join(', ')}` : 'No pending migrations.');
  } finally {
    await closeDatabase(orm);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
