import 'reflect-metadata';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { MikroORM, type Options } from '@mikro-orm/core';
import { Migrator } from '@mikro-orm/migrations';
import { PostgreSqlDriver } from '@mikro-orm/postgresql';
import { PGlite } from '@electric-sql/pglite';
import { PGliteDriver } from 'mikro-orm-pglite';
import { migrationsList } from '../../migrations';
import { entities } from './entities';

/** The ORM type used everywhere: both drivers speak PostgreSQL. */
export type Orm = MikroORM<PostgreSqlDriver>;

export interface DatabaseOptions {
  /** postgres://...; undefined selects PGlite. */
  databaseUrl?: string;
  /** PGlite files go to `<dataDir>/pglite`; ":memory:" keeps them in memory. */
  dataDir: string;
  /** MikroORM log namespaces to emit (e.g. ["query"]); none by default. */
  debug?: boolean | ('query' | 'query-params' | 'schema' | 'discovery' | 'info')[];
  /** Where MikroORM's log lines go (default: dropped). */
  logger?: (message: string) => void;
}

/** The MikroORM options for PostgreSQL or, without a URL, for PGlite under `dataDir`. */
export function ormOptions(db: DatabaseOptions): Options {
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
    colors: false,
    ensureDatabase: false,
  };
  if (db.databaseUrl) {
    return { ...common, driver: PostgreSqlDriver, clientUrl: db.databaseUrl, pool: { min: 0, max: 10 } };
  }
  const pglite = () => {
    if (db.dataDir === ':memory:') return new PGlite();
    const dir = join(db.dataDir, 'pglite');
    mkdirSync(dir, { recursive: true });
    return new PGlite(dir);
  };
  return {
    ...common,
    driver: PGliteDriver,
    dbName: 'postgres',
    driverOptions: { connection: { pglite } },
  } as Options;
}

/**
 * Opens the database and, unless `migrate` is false, runs pending migrations.
 * @throws when the database cannot be reached or a migration fails.
 */
export async function openDatabase(db: DatabaseOptions, migrate = true): Promise<Orm> {
  const orm = (await MikroORM.init(ormOptions(db))) as unknown as Orm;
  if (migrate) await orm.getMigrator().up();
  return orm;
}
