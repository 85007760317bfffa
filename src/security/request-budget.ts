import type { RequestHandler } from 'express';
import { GraphQLError } from 'graphql';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { RateLimitedError } from '../domain/shared/rate-limit';
import { bearer } from './bearer';

/** Config.graphql's per-user limits (GRAPHQL_USER_*). */
export interface RequestBudgetLimits {
  /** Queries and mutations one user may have running at once on this instance. */
  maxInFlight: number;
  /** Query cost (security/query-cost.ts) one user may start per second on this instance. */
  costPerSec: number;
  /** Cost from which an operation counts toward `maxInFlight` (cheaper ones only spend the cost per second). Default 0: every operation counts. */
  heavyCost?: number;
  /** Of those `maxInFlight`, how many run at once; the others wait their turn in order (default: all run). */
  concurrency?: number;
}

/** `reason` of an operation refused by the per-user budget (code RATE_LIMITED). */
export const USER_BUDGET_REASON = 'USER_BUDGET_EXCEEDED';

/**
 * Refusals within one second from which a user counts as flooding: a client that resends at once
 * instead of waiting `retryAfter`. An honest client sending a burst at once (32 heavy queries: 24
 * refused) stays below it, then waits.
 */
export const FLOOD_REFUSALS_PER_SEC = 50;

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
  /** Per user: heavy operations admitted (running or waiting) and the turns of those waiting, in order. */
  private readonly users = new Map<number, { admitted: number; running: number; waiting: (() => void)[] }>();
  private readonly costs: RateLimiterMemory;
  /** Per user refused lately: the start (ms) of the current one-second window, its refusals, and until when (ms) the user counts as flooding. */
  private readonly refusals = new Map<number, { since: number; count: number; floodUntil: number }>();
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
   * @throws RateLimitedError when the user already has `maxInFlight` heavy operations or has spent the second's budget.
   */
  async admit(userId: number, cost: number): Promise<() => void> {
    let release: () => void = () => undefined;
    if (this.isHeavy(cost)) release = await this.enter(userId);
    try {
      await this.charge(userId, cost);
    } catch (err) {
      release();
      throw err;
    }
    return release;
  }

  /**
   * Counts one more heavy operation of `userId` and resolves when it may run: at most `concurrency`
   * run at once, the others (up to `maxInFlight` in all) wait their turn in order, so one account's
   * heavy queries take at most that many turns of the event loop at a time and a burst of a few is
   * served, not refused. Call the returned function when the operation has finished (idempotent;
   * it lets the next one run).
   * @throws RateLimitedError (at once, nothing counted) when the user already has `maxInFlight`.
   */
  async enter(userId: number): Promise<() => void> {
    let u = this.users.get(userId);
    if (!u) this.users.set(userId, (u = { admitted: 0, running: 0, waiting: [] }));
    if (u.admitted >= this.limits.maxInFlight) {
      this.noteRefusal(userId);
      throw new RateLimitedError(`Too many requests at once for this user (at most ${this.limits.maxInFlight}); wait for one to finish`, 1);
    }
    const state = u;
    state.admitted++;
    if (state.running < (this.limits.concurrency ?? this.limits.maxInFlight)) state.running++;
    else await new Promise<void>((resolve) => state.waiting.push(resolve));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      state.admitted--;
      // The place passes to the next in line (which counts as running from now on).
      const next = state.waiting.shift();
      if (next) next();
      else state.running--;
      if (state.admitted === 0 && this.users.get(userId) === state) this.users.delete(userId);
    };
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
      this.noteRefusal(userId);
      throw new RateLimitedError('Too much query cost for this user in the last second; slow down', Math.max(1, Math.ceil(err.msBeforeNext / 1000)));
    }
  }

  /**
   * Whether `userId` is flooding: refused at least {@link FLOOD_REFUSALS_PER_SEC} times within a
   * second, less than a second ago. Such a user's requests are refused at the door (see
   * {@link floodGate}), before their body is read or parsed, and those refusals count too: a client
   * that keeps resending stays refused cheaply, one that waits its `retryAfter` (1 s) is served.
   */
  flooding(userId: number, now = Date.now()): boolean {
    const r = this.refusals.get(userId);
    if (!r) return false;
    if (now < r.floodUntil) return true;
    if (now - r.since >= 1000) this.refusals.delete(userId);
    return false;
  }

  /** Counts one refusal of `userId` (in one-second windows; the 50th of a window marks the user flooding for the next second). */
  noteRefusal(userId: number, now = Date.now()): void {
    this.refused++;
    let r = this.refusals.get(userId);
    if (!r) {
      if (this.refusals.size >= 10_000) for (const [id, old] of this.refusals) if (now >= old.floodUntil && now - old.since >= 1000) this.refusals.delete(id);
      this.refusals.set(userId, (r = { since: now, count: 0, floodUntil: 0 }));
    }
    if (now - r.since >= 1000) {
      r.since = now;
      r.count = 0;
    }
    if (++r.count >= FLOOD_REFUSALS_PER_SEC) r.floodUntil = now + 1000;
  }
}

/** Refusals of one flooding user held back at once (see {@link floodGate}); past them, answered at once. */
export const FLOOD_HELD_PER_USER = 64;

/**
 * Express middleware for the GraphQL endpoint (issue 27 section 1): refuses a flooding user's
 * request ({@link RequestBudget.flooding}) with 429 RATE_LIMITED, `retryAfter` 1 and Retry-After,
 * right after the bearer token is verified (a cached verification, no database) and before the
 * body is read or parsed, and answers it only after that second (a tarpit, up to
 * {@link FLOOD_HELD_PER_USER} held per user): a client resending as soon as it is answered then
 * sends as many requests a second as it keeps open, instead of thousands that each cost the event
 * loop a parse, a validation and a costing, and other users' requests keep their turn.
 * Requests without a valid token go on (Apollo answers them as before).
 */
export function floodGate(budget: RequestBudget, userIdOf: (token: string) => Promise<number>, holdMs = 1000): RequestHandler {
  const held = new Map<number, number>();
  return (req, res, next) => {
    const token = bearer(req.headers.authorization);
    if (!token) return next();
    userIdOf(token).then(
      (userId) => {
        if (!budget.flooding(userId)) return next();
        budget.noteRefusal(userId);
        const refuse = () => {
          if (res.writableEnded || res.destroyed) return;
          res.setHeader('retry-after', '1');
          res.status(429).json({
            errors: [
              {
                message: 'Too many requests refused for this user in the last second; wait retryAfter seconds before sending again',
                extensions: { code: 'RATE_LIMITED', reason: USER_BUDGET_REASON, retryAfter: 1 },
              },
            ],
          });
        };
        const holding = held.get(userId) ?? 0;
        if (holding >= FLOOD_HELD_PER_USER || holdMs <= 0) return refuse();
        held.set(userId, holding + 1);
        setTimeout(() => {
          const n = (held.get(userId) ?? 1) - 1;
          if (n > 0) held.set(userId, n);
          else held.delete(userId);
          refuse();
        }, holdMs).unref();
      },
      () => next(),
    );
  };
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
