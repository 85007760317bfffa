import { GraphQLError } from 'graphql';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { RateLimitedError } from '../domain/shared/rate-limit';

/** Config.graphql's per-user limits (GRAPHQL_USER_*). */
export interface RequestBudgetLimits {
  /** Queries and mutations one user may have running at once on this instance. */
  maxInFlight: number;
  /** Query cost (security/query-cost.ts) one user may start per second on this instance. */
  costPerSec: number;
  /** Cost from which an operation counts toward `maxInFlight` (cheaper ones only spend the cost per second). Default 0: every operation counts. */
  heavyCost?: number;
}

/** `reason` of an operation refused by the per-user budget (code RATE_LIMITED). */
export const USER_BUDGET_REASON = 'USER_BUDGET_EXCEEDED';

/**
 * One user's share of this instance (issue 27): at most `maxInFlight` queries and mutations running
 * at once, and at most `costPerSec` of query cost started per second (rate-limiter-flexible, in
 * memory: the event loop it protects is this instance's own, so Redis would only add a round trip
 * to every request). An operation is charged its cost when it starts: 32 heavy requests sent at
 * once by one account mostly get RATE_LIMITED with `retryAfter`, and other users' requests and
 * /healthz keep their turn. The per-second budget is never below `maxCost` (one document at the
 * limit always fits an idle budget).
 */
export class RequestBudget {
  private readonly running = new Map<number, number>();
  private readonly costs: RateLimiterMemory;
  /** Operations refused since start (metrics, tests). */
  refused = 0;

  constructor(
    private readonly limits: RequestBudgetLimits,
    maxCost: number,
  ) {
    this.costs = new RateLimiterMemory({ points: Math.max(limits.costPerSec, maxCost), duration: 1, keyPrefix: 'graphql-cost' });
  }

  /**
   * Admits one operation of `userId` costing `cost` ({@link enter}, then {@link charge}); call the
   * returned function once it has finished (idempotent).
   * @throws RateLimitedError when the user already runs `maxInFlight` operations or has spent the second's budget.
   */
  async admit(userId: number, cost: number): Promise<() => void> {
    const release = this.isHeavy(cost) ? this.enter(userId) : () => undefined;
    try {
      await this.charge(userId, cost);
    } catch (err) {
      release();
      throw err;
    }
    return release;
  }

  /**
   * Counts one more operation running for `userId`, as early as it is known whose it is (over HTTP:
   * once the token is read, before the document is even parsed, which on a busy instance is where
   * the time goes); call the returned function when it has finished (idempotent).
   * @throws RateLimitedError when the user already runs `maxInFlight` operations.
   */
  enter(userId: number): () => void {
    const running = this.running.get(userId) ?? 0;
    if (running >= this.limits.maxInFlight) {
      this.refused++;
      throw new RateLimitedError(`Too many requests at once for this user (at most ${this.limits.maxInFlight}); wait for one to finish`, 1);
    }
    this.running.set(userId, running + 1);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const n = (this.running.get(userId) ?? 1) - 1;
      if (n > 0) this.running.set(userId, n);
      else this.running.delete(userId);
    };
    return release;
  }

  /** Whether an operation of this cost counts toward `maxInFlight` (at least `heavyCost`). */
  isHeavy(cost: number): boolean {
    return cost >= (this.limits.heavyCost ?? 0);
  }

  /** Spends `cost` of the user's budget for this second. @throws RateLimitedError past it (nothing spent then). */
  async charge(userId: number, cost: number): Promise<void> {
    if (cost <= 0) return;
    try {
      await this.costs.consume(String(userId), Math.ceil(cost));
    } catch (err) {
      if (!(err instanceof RateLimiterRes)) throw err;
      await this.costs.reward(String(userId), Math.ceil(cost));
      this.refused++;
      throw new RateLimitedError('Too much query cost for this user in the last second; slow down', Math.max(1, Math.ceil(err.msBeforeNext / 1000)));
    }
  }
}

/** A refusal by the budget as a request-level GraphQL error (RATE_LIMITED, `retryAfter` in seconds; over HTTP a 429 with Retry-After). */
export function budgetRefusal(err: RateLimitedError, overHttp: boolean): GraphQLError {
  return new GraphQLError(err.message, {
    extensions: {
      code: 'RATE_LIMITED',
      reason: USER_BUDGET_REASON,
      retryAfter: err.retryAfterSec,
      ...(overHttp ? { http: { status: 429, headers: new Map([['retry-after', String(err.retryAfterSec)]]) } } : {}),
    },
  });
}
