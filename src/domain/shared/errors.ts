/**
 * Error codes of the public contract (api-contract.graphql header). Every error a client
 * sees carries one of them; GraphQL puts it in `extensions.code`, REST maps it to a status.
 */
export type ErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'BAD_USER_INPUT'
  | 'CONFLICT'
  | 'RATE_LIMITED'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'INTERNAL_SERVER_ERROR';

/** A rule of the domain said no. `field` names the input field at fault, when there is one. */
export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

/** Not there, or not the caller's to see (no existence leak). */
export const notFound = (what: string) => new DomainError('NOT_FOUND', `${what} not found`);
/** The caller may see the object but not do this to it. */
export const forbidden = (message: string) => new DomainError('FORBIDDEN', message);
/** The input breaks a rule; `field` names the culprit. */
export const badInput = (message: string, field?: string) => new DomainError('BAD_USER_INPUT', message, field);
export const conflict = (message: string) => new DomainError('CONFLICT', message);
export const unauthenticated = (message = 'Authentication required') => new DomainError('UNAUTHENTICATED', message);

/** True for PostgreSQL's unique_violation (SQLSTATE 23505), as raised by MikroORM or the driver. */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; name?: string } | undefined;
  return e?.name === 'UniqueConstraintViolationException' || e?.code === '23505';
}

/** PostgreSQL's deadlock_detected (40P01), as the driver or MikroORM reports it. */
export function isDeadlock(err: unknown): boolean {
  const e = err as { code?: string; name?: string; cause?: { code?: string } } | null;
  return e?.code === '40P01' || e?.cause?.code === '40P01' || e?.name === 'DeadlockException';
}

/**
 * Runs `run` (one whole transaction) again, at most `attempts` times in all, when PostgreSQL chose
 * it as a deadlock's victim (its work was rolled back, so running it again is safe);
 * `onRetry(attempt)` is told before each new attempt. Other errors, and the last deadlock, are thrown.
 */
export async function retryOnDeadlock<T>(run: () => Promise<T>, attempts = 3, onRetry?: (attempt: number) => void): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (err) {
      if (attempt >= attempts || !isDeadlock(err)) throw err;
      onRetry?.(attempt);
    }
  }
}

/** Parses a public id ("12" or 12) into a positive integer. @throws BAD_USER_INPUT naming `field`. */
export function parseId(value: string | number | null | undefined, field: string): number {
  const n = typeof value === 'number' ? value : /^\d{1,15}$/.test(String(value ?? '').trim()) ? Number(String(value).trim()) : NaN;
  if (!Number.isSafeInteger(n) || n <= 0 || n > 2147483647) throw badInput(`${field} is not a valid id`, field);
  return n;
}

/** The message every transport gives while the database cannot be reached. */
export const DATABASE_UNAVAILABLE_MESSAGE = 'Database unavailable; try again shortly';

/** SQLSTATE classes and codes that mean "the database is not there right now" (PostgreSQL appendix A). */
const UNAVAILABLE_SQLSTATE = /^(08|57P0[1-3]|53300)/;
const UNAVAILABLE_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
const UNAVAILABLE_TEXT =
  /Connection terminated|Connection ended unexpectedly|Timeout acquiring a connection|connect ECONNREFUSED|Client has encountered a connection error|terminating connection/i;

/**
 * True when `err` (from MikroORM, knex or node-postgres, possibly wrapped in `cause`) says the
 * database could not be reached or dropped the connection, rather than refusing the statement:
 * connection refused/reset, pool acquire timeout, SQLSTATE class 08, admin shutdown (57P01..03),
 * too many connections (53300). Transports answer these as "unavailable, retry" (GraphQL
 * INTERNAL_SERVER_ERROR with reason DATABASE_UNAVAILABLE; REST 503) instead of a bare 500.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  for (
    let e = err as { code?: unknown; errno?: unknown; name?: unknown; message?: unknown; cause?: unknown } | undefined, depth = 0;
    e && depth < 5;
    e = e.cause as typeof e, depth++
  ) {
    if (e.name === 'ConnectionException' || e.name === 'KnexTimeoutError') return true;
    if (typeof e.code === 'string' && (UNAVAILABLE_ERRNO.has(e.code) || UNAVAILABLE_SQLSTATE.test(e.code))) return true;
    if (typeof e.message === 'string' && UNAVAILABLE_TEXT.test(e.message)) return true;
  }
  return false;
}
