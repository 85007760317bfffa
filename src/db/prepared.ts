import { createHash } from 'node:crypto';
import type { LogContext } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Knex } from '@mikro-orm/knex';

/**
 * What {@link executePrepared} uses of MikroORM's SQL connection that its typings keep protected
 * (the same calls `AbstractSqlConnection.execute` makes; MikroORM 6.6).
 */
interface ConnectionInternals {
  ensureConnection(): Promise<void>;
  getKnex(): Knex;
  executeQuery<T>(query: string, cb: () => Promise<T>, context?: LogContext): Promise<T>;
  transformRawResult<T>(res: unknown, method: 'all' | 'get' | 'run'): T;
}

/** Statement names by SQL text (a few dozen texts in practice; cleared if a caller ever made many). */
const names = new Map<string, string>();
const NAMES_MAX = 1000;
/** Bumped when PostgreSQL refuses a cached statement (a migration changed its result's columns): every name is new then. */
let generation = 0;

/** The prepared statement's name for `sql`: a hash of its text (PostgreSQL allows 63 bytes). */
function statementName(sql: string): string {
  let name = names.get(sql);
  if (name === undefined) {
    if (names.size >= NAMES_MAX) names.clear();
    name = `q${generation}_${createHash('sha1').update(sql).digest('base64url').slice(0, 24)}`;
    names.set(sql, name);
  }
  return name;
}

/** PostgreSQL's refusal of a cached plan whose result columns changed under it (DDL since it was prepared). */
function isStalePlan(err: unknown): boolean {
  const e = err as { code?: string; message?: string } | undefined;
  return e?.code === '0A000' && /cached plan must not change result type/.test(e.message ?? '');
}

/**
 * Runs `sql` like `em.execute(sql, params, method, loggerContext)` (inside the em's transaction
 * when it has one; results as MikroORM maps them; driver errors converted by MikroORM, e.g.
 * UniqueConstraintViolationException; logged and seen by `onQuery` as one statement) but with its
 * parameters bound instead of inlined into the text, as a named prepared statement on the `pg`
 * driver: PostgreSQL parses the text once per connection and may reuse a generic plan. On PGlite
 * the parameters are bound too (its driver ignores the name).
 *
 * `sql` uses MikroORM's placeholders: `?` for a value, `\?` for a literal question mark (jsonb's
 * `?` operators); `??` (identifiers) is not supported. Values go to PostgreSQL as parameters: an
 * array is one PostgreSQL array (write `= any(?)`, not `in (?)`, which em.execute expands), a
 * Date is sent as its ISO text, undefined as null, a plain object as JSON. A parameter's type is
 * PostgreSQL's inference from its context: cast where it has none (`?::int`, `?::timestamptz`).
 * Use it for statements with few distinct texts (each text is one prepared statement per
 * connection, kept until the connection closes): never with values spliced into the text.
 * @throws MikroORM's DriverException subclasses, as em.execute.
 */
export async function executePrepared<T = Record<string, unknown>[]>(
  em: EntityManager,
  sql: string,
  params: readonly unknown[] = [],
  method: 'all' | 'get' | 'run' = 'all',
  loggerContext?: LogContext,
): Promise<T> {
  const driver = em.getDriver();
  const connection = driver.getConnection() as unknown as ConnectionInternals;
  await connection.ensureConnection();
  const values = params.map((v) => (v === undefined ? null : v instanceof Date ? v.toISOString() : v));
  const query = em.config.get('onQuery')(sql, values);
  const logger = em.config.getLogger();
  const knex = connection.getKnex();
  // What MikroORM logs for em.execute (AbstractSqlConnection.getSql): the text, with its values when asked for.
  const logged = !logger.isEnabled('query', loggerContext)
    ? query
    : logger.isEnabled('query-params', loggerContext)
      ? driver.getPlatform().formatQuery(query, values)
      : knex.client.positionBindings(query);
  const ctx = em.getTransactionContext<Knex.Transaction>();
  const run = () =>
    connection.executeQuery(
      logged,
      async () => {
        const raw = knex.raw(query, values as Knex.RawBinding[]).options({ name: statementName(query) });
        if (ctx) raw.transacting(ctx);
        return connection.transformRawResult<T>(await raw, method);
      },
      { query, params: values, ...loggerContext },
    );
  try {
    return await run();
  } catch (err) {
    if (!isStalePlan(err)) throw driver.convertException(err as Error);
    // A migration changed the columns the statement returns: new names from now on, and outside a
    // transaction (still usable) this call runs again under its new name.
    generation++;
    names.clear();
    if (ctx) throw driver.convertException(err as Error);
    return run().catch((e: Error) => {
      throw driver.convertException(e);
    });
  }
}
