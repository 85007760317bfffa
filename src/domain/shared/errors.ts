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
  constructor(readonly code: ErrorCode, message: string, readonly field?: string) {
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

/** Parses a public id ("12" or 12) into a positive integer. @throws BAD_USER_INPUT naming `field`. */
export function parseId(value: string | number | null | undefined, field: string): number {
  const n = typeof value === 'number' ? value : /^\d{1,15}$/.test(String(value ?? '').trim()) ? Number(String(value).trim()) : NaN;
  if (!Number.isSafeInteger(n) || n <= 0 || n > 2147483647) throw badInput(`${field} is not a valid id`, field);
  return n;
}
