import 'reflect-metadata';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DefaultLogger, MikroORM, type LogContext, type Options } from '@mikro-orm/core';
import { Migrator } from '@mikro-orm/migrations';
import { PostgreSqlDriver } from '@mikro-orm/postgresql';
import { PGlite } from '@electric-sql/pglite';
import { PGliteDriver } from 'mikro-orm-pglite';
import lockfile from 'proper-lockfile';
import { migrationsList } from '../../migrations';
import { entities } from './entities';
import { singleStatementSafe } from './pglite-statements';
import { pgliteTemplate, type PgliteTemplate } from './pglite-template';

/** The ORM type used everywhere: both drivers speak PostgreSQL. */
export type Orm = MikroORM<PostgreSqlDriver>;

export interface DatabaseOptions {
  /** postgres://...; undefined selects PGlite. */
  databaseUrl?: string;
  /** PostgreSQL pool size (default 20). */
  poolMax?: number;
  /** PGlite files go to `<dataDir>/pglite`; ":memory:" keeps them in memory. */
  dataDir: string;
  /** MikroORM log namespaces to emit (e.g. ["query"]); none by default. */
  debug?: boolean | ('query' | 'query-params' | 'schema' | 'discovery' | 'info')[];
  /** Where MikroORM's log lines go (default: dropped). */
  logger?: (message: string) => void;
  /** Hears every SQL statement with its logger context (`em.fork({ loggerContext })`), with or without `debug`. */
  onQuery?: (context: LogContext) => void;
  /** Told the names of the migrations applied at open (none: nothing called). */
  onMigrated?: (names: string[]) => void;
  /** A new PGlite database starts from the build's migrated template when it matches (default true; see pglite-template.ts). */
  template?: boolean;
}

/** MikroORM's logger, which also hands every query's context to `onQuery`. */
function queryLogger(onQuery: (context: LogContext) => void) {
  return class extends DefaultLogger {
    override logQuery(context: { query: string } & LogContext): void {
      onQuery(context);
      super.logQuery(context);
    }
  };
}

/** The MikroORM options for PostgreSQL or, with `pglite`, for that embedded instance. */
export function ormOptions(db: DatabaseOptions, pglite?: PGlite): Options {
  const common: Options = {
    entities,
    discovery: { disableDynamicFileAccess: true },
    extensions: [Migrator],
    migrations: {
      migrationsList,
      tableName: 'mikro_orm_migrations',
      path: 'migrations',
      pathTs: 'migrations',
      transactional: true,
      allOrNothing: true,
      snapshot: false,
      emit: 'ts',
    },
    forceUtcTimezone: true,
    allowGlobalContext: false,
    debug: db.debug ?? false,
    logger: db.logger ?? (() => undefined),
    ...(db.onQuery ? { loggerFactory: (options: ConstructorParameters<typeof DefaultLogger>[0]) => new (queryLogger(db.onQuery!))(options) } : {}),
    colors: false,
    ensureDatabase: false,
  };
  if (db.databaseUrl || !pglite) {
    // Fail fast while PostgreSQL is away (issue 6): a connect attempt gives up after 3 s and a
    // request waits at most 5 s for a pooled connection, instead of knex's 60 s.
    return {
      ...common,
      driver: PostgreSqlDriver,
      clientUrl: db.databaseUrl,
      pool: { min: 0, max: db.poolMax ?? 20 },
      driverOptions: { acquireConnectionTimeout: 5000, connection: { connectionTimeoutMillis: 3000 } },
    };
  }
  return {
    ...common,
    driver: PGliteDriver,
    dbName: 'postgres',
    // Borrowed instance: we close it ourselves after the ORM (closeDatabase), so its files are flushed.
    driverOptions: { connection: { pglite: () => singleStatementSafe(pglite) } },
  } as Options;
}

/** What closeDatabase must release besides the ORM: the PGlite instance and its directory lock. */
const embedded = new WeakMap<Orm, { pglite: PGlite; unlock?: () => Promise<void> }>();

/**
 * Opens the database and, unless `migrate` is false, runs pending migrations. PGlite (no
 * `databaseUrl`) lives in `<dataDir>/pglite`, locked against a second process; close it with
 * {@link closeDatabase}.
 * @throws when the database cannot be reached, DATA_DIR is in use by another process, or a migration fails.
 */
export async function openDatabase(db: DatabaseOptions, migrate = true): Promise<Orm> {
  let pglite: PGlite | undefined;
  let unlock: (() => Promise<void>) | undefined;
  let template: PgliteTemplate | null = null;
  const names = migrationsList.map((m) => m.name);
  if (!db.databaseUrl) {
    if (db.dataDir === ':memory:') {
      template = migrate && db.template !== false ? pgliteTemplate(names) : null;
      pglite = template ? new PGlite({ loadDataDir: template.tarball }) : new PGlite();
    } else {
      const dir = join(db.dataDir, 'pglite');
      mkdirSync(dir, { recursive: true });
      try {
        unlock = await lockfile.lock(dir, { stale: 15000, update: 5000, lockfilePath: join(db.dataDir, 'pglite.lock') });
      } catch {
        throw new Error(`DATA_DIR ${db.dataDir} is in use by another process (the embedded database allows one); stop it or use another DATA_DIR`);
      }
      // A new data directory (no PG_VERSION yet) starts from the template.
      template = migrate && db.template !== false && !existsSync(join(dir, 'PG_VERSION')) ? pgliteTemplate(names) : null;
      pglite = template ? new PGlite(dir, { loadDataDir: template.tarball }) : new PGlite(dir);
    }
  }
  try {
    const orm = (await MikroORM.init(ormOptions(db, pglite))) as unknown as Orm;
    if (pglite) embedded.set(orm, { pglite, unlock });
    if (migrate) {
      const applied = (await orm.getMigrator().up()).map((m) => m.name);
      // A database made from the template has its migrations too (applied at build time).
      const all = [...(template?.migrations ?? []), ...applied];
      if (all.length) db.onMigrated?.(all);
    }
    return orm;
  } catch (err) {
    await pglite?.close().catch(() => undefined);
    await unlock?.().catch(() => undefined);
    throw err;
  }
}

/** Closes the ORM, then the embedded PGlite (flushing its files) and its directory lock. */
export async function closeDatabase(orm: Orm): Promise<void> {
  await orm.close(true);
  const e = embedded.get(orm);
  if (!e) return;
  embedded.delete(orm);
  await e.pglite.close();
  await e.unlock?.();
}

/**
 * A new in-memory PGlite database with every migration applied, dumped as an uncompressed
 * tarball of its data directory (the build's template: scripts/build-pglite-template.js).
 */
export async function migratedPgliteTarball(): Promise<{ tarball: Blob; migrations: string[] }> {
  const orm = await openDatabase({ dataDir: ':memory:', template: false });
  try {
    const tarball = await embedded.get(orm)!.pglite.dumpDataDir('none');
    return { tarball, migrations: migrationsList.map((m) => m.name) };
  } finally {
    await closeDatabase(orm);
  }
}
