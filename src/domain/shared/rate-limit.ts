import { DomainError } from './errors';

/** The limits the domain and the transports enforce (issue 6). */
export type LimitName = 'message' | 'login' | 'register' | 'wsConnectIp' | 'wsConnectUser' | 'memberAdd' | 'search';

/** RATE_LIMITED with the seconds to wait (GraphQL `extensions.retryAfter`, REST `Retry-After`). */
export class RateLimitedError extends DomainError {
  constructor(
    message: string,
    readonly retryAfterSec: number,
  ) {
    super('RATE_LIMITED', message);
    this.name = 'RateLimitedError';
  }
}

/** Counts work per key and refuses past a limit. Implementations: realtime/state/rate-limits.ts. */
export interface RateLimiter {
  /** Counts `points` units (default 1) of `name` for `key`. @throws RateLimitedError past the limit (nothing counted then). */
  consume(name: LimitName, key: string, points?: number): Promise<void>;
  /** @throws RateLimitedError when `key` is already past the limit (counts nothing). */
  check(name: LimitName, key: string): Promise<void>;
  /** Forgets `key` (a successful login clears its failures). */
  reset(name: LimitName, key: string): Promise<void>;
}
