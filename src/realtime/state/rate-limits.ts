import type Redis from 'ioredis';
import type { Logger } from 'pino';
import { BurstyRateLimiter, RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { RateLimitedError, type LimitName, type RateLimiter } from '../../domain/shared/rate-limit';

/**
 * One limit: `points` per `durationSec`, plus optionally a burst: `burst.points` more that may be
 * spent at once, refilled every `burst.durationSec` (rate-limiter-flexible's BurstyRateLimiter:
 * the sustained limiter first, the burst one when it refuses).
 */
export interface LimitRule {
  points: number;
  durationSec: number;
  burst?: { points: number; durationSec: number };
}

/** The configured limits (config RATE_*). */
export type LimitRules = Record<LimitName, LimitRule>;

const MESSAGES: Record<LimitName, string> = {
  message: 'Too many messages; slow down',
  login: 'Too many failed logins for this username from this address; try again later',
  register: 'Too many new accounts from this address; try again later',
  wsConnectIp: 'Too many WebSocket connections from this address',
  wsConnectUser: 'Too many WebSocket connections for this user',
  memberAdd: 'Too many people added to conversations in the last hour; try again later',
  search: 'Too many searches; try again in a moment',
};

/**
 * Limits with rate-limiter-flexible: counted in Redis when REDIS_URL is set (shared by every
 * instance; an in-memory limiter stands in while Redis is down), in memory otherwise.
 */
export class FlexibleRateLimiter implements RateLimiter {
  private readonly limiters = new Map<LimitName, RateLimiterAbstract>();
  private readonly bursts = new Map<LimitName, { burst: RateLimiterAbstract; bursty: BurstyRateLimiter }>();

  constructor(
    rules: LimitRules,
    redis?: Redis,
    prefix = 'chat',
    private readonly logger?: Logger,
  ) {
    const make = (points: number, durationSec: number, keyPrefix: string) => {
      const opts = { points, duration: durationSec, keyPrefix };
      return redis ? new RateLimiterRedis({ ...opts, storeClient: redis, insuranceLimiter: new RateLimiterMemory(opts) }) : new RateLimiterMemory(opts);
    };
    for (const [name, rule] of Object.entries(rules) as [LimitName, LimitRule][]) {
      const main = make(rule.points, rule.durationSec, `${prefix}:rl:${name}`);
      this.limiters.set(name, main);
      if (rule.burst) {
        const burst = make(rule.burst.points, rule.burst.durationSec, `${prefix}:rl:${name}:burst`);
        this.bursts.set(name, { burst, bursty: new BurstyRateLimiter(main, burst) });
      }
    }
  }

  async consume(name: LimitName, key: string, points = 1): Promise<void> {
    try {
      const b = this.bursts.get(name);
      if (b) await b.bursty.consume(key, points);
      else await this.limiter(name).consume(key, points);
    } catch (err) {
      if (err instanceof RateLimiterRes) {
        // A refused batch (createGroup's members) is given back: refusing it added nothing.
        if (points > 1 && !this.bursts.has(name))
          await this.limiter(name)
            .reward(key, points)
            .catch(() => undefined);
        throw this.refusal(name, err);
      }
      // The limiter itself failed (its store is down and so is the stand-in): let the work through.
      this.logger?.warn({ err }, 'rate limiter failed');
    }
  }

  async check(name: LimitName, key: string): Promise<void> {
    const limiter = this.limiter(name);
    const res = await limiter.get(key).catch(() => null);
    if (res && res.consumedPoints >= limiter.points) throw this.refusal(name, res);
  }

  async reset(name: LimitName, key: string): Promise<void> {
    await this.limiter(name)
      .delete(key)
      .catch(() => undefined);
    await this.bursts
      .get(name)
      ?.burst.delete(key)
      .catch(() => undefined);
  }

  private limiter(name: LimitName): RateLimiterAbstract {
    return this.limiters.get(name)!;
  }

  /** Refusals per limit since start (metrics). */
  readonly refusals = new Map<LimitName, number>();

  private refusal(name: LimitName, res: RateLimiterRes): RateLimitedError {
    this.refusals.set(name, (this.refusals.get(name) ?? 0) + 1);
    return new RateLimitedError(MESSAGES[name], Math.max(1, Math.ceil(res.msBeforeNext / 1000)));
  }
}
