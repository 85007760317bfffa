import type { PGlite } from '@electric-sql/pglite';

/**
 * How many SQL statements `sql` holds: `;` separates statements only outside string literals
 * ('...', E'...' with backslash escapes), quoted identifiers, dollar-quoted bodies and comments.
 * Returns Infinity for text it cannot read to the end (an unterminated literal), so callers
 * treat it as "not one statement".
 */
export function countStatements(sql: string): number {
  let count = 0;
  let pending = false;
  let i = 0;
  const n = sql.length;
  const isIdent = (c: string | undefined) => c !== undefined && /[A-Za-z0-9_$]/.test(c);
  while (i < n) {
    const c = sql[i];
    if (c === "'") {
      const escapes = (sql[i - 1] === 'E' || sql[i - 1] === 'e') && !isIdent(sql[i - 2]);
      i++;
      for (;;) {
        if (i >= n) return Infinity;
        if (escapes && sql[i] === '\\') {
          i += 2;
          continue;
        }
        if (sql[i] === "'") {
          if (sql[i + 1] === "'") {
            i += 2;
            continue;
          }
          i++;
          break;
        }
        i++;
      }
      pending = true;
    } else if (c === '"') {
      i++;
      for (;;) {
        if (i >= n) return Infinity;
        if (sql[i] === '"') {
          if (sql[i + 1] === '"') {
            i += 2;
            continue;
          }
          i++;
          break;
        }
        i++;
      }
      pending = true;
    } else if (c === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i);
      i = end < 0 ? n : end + 1;
    } else if (c === '/' && sql[i + 1] === '*') {
      let depth = 1;
      i += 2;
      while (depth > 0) {
        if (i >= n) return Infinity;
        if (sql[i] === '/' && sql[i + 1] === '*') {
          depth++;
          i += 2;
        } else if (sql[i] === '*' && sql[i + 1] === '/') {
          depth--;
          i += 2;
        } else i++;
      }
    } else if (c === '$' && !isIdent(sql[i - 1])) {
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i, i + 64));
      if (!tag) {
        i++;
        pending = true;
        continue;
      }
      const end = sql.indexOf(tag[0], i + tag[0].length);
      if (end < 0) return Infinity;
      i = end + tag[0].length;
      pending = true;
    } else if (c === ';') {
      if (pending) count++;
      pending = false;
      i++;
    } else {
      if (!/\s/.test(c)) pending = true;
      i++;
    }
  }
  return count + (pending ? 1 : 0);
}

/**
 * The PGlite instance as the MikroORM driver should see it. knex-pglite sends every raw SQL text
 * containing a `;` to `exec` (the multi-statement path, whose answer is a list of results), and
 * MikroORM inlines values into raw SQL: so an INSERT of a message or a group name with a `;` in
 * it was stored, but its answer misread (lost ids, INTERNAL_SERVER_ERROR). Here `exec` of one
 * statement runs as `query`, exactly as knex-pglite runs SQL without a `;`; real
 * multi-statement text (migrations) still goes to `exec`.
 */
export function singleStatementSafe(pglite: PGlite): PGlite {
  return new Proxy(pglite, {
    get(target, prop) {
      if (prop === 'exec') {
        return (sql: string, options?: Parameters<PGlite['exec']>[1]) =>
          countStatements(sql) === 1 ? target.query(sql, [], options) : target.exec(sql, options);
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
