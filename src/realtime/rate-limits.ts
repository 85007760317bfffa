import type Redis from 'ioredis';
import type { Logger } from 'pino';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { RateLimitedError, type LimitName, type RateLimiter } from '../domain/shared/rate-limit';

/** One limit: `points` per `durationSec`. */
export interface LimitRule { points: number; durationSec: number }

/** The configured limits (config RATE_*). */
export type LimitRules = Record<LimitName, LimitRule>;

const MESSAGES: Record<LimitName, string> = {
  message: 'Too many messages; slow down',
  login: 'Too many failed logins for this username from this address; try again later',
  register: 'Too many new accounts from this address; try again later',
  wsConnectIp: 'Too many WebSocket connections from this address',
  wsConnectUser: 'Too many WebSocket connections for this user',
};

/**
 * Limits with rate-limiter-flexible: counted in Redis when REDIS_URL is set (shared by every
 * instance; an in-memory limiter stands in while Redis is down), in memory otherwise.
 */
export class FlexibleRateLimiter implements RateLimiter {
  private readonly limiters = new Map<LimitName, RateLimiterAbstract>();

  constructor(rules: LimitRules, redis?: Redis, prefix = 'chat', private readonly logger?: Logger) {
    for (const [name, rule] of Object.entries(rules) as [LimitName, LimitRule][]) {
      const opts = { points: rule.points, duration: rule.durationSec, keyPrefix: `${prefix}:rl:${name}` };
      this.limiters.set(name, redis
        ? new RateLimiterRedis({ ...opts, storeClient: redis, insuranceLimiter: new RateLimiterMemory(opts) })
        : new RateLimiterMemory(opts));
    }
  }

  async consume(name: LimitName, key: string): Promise<void> {
    try {
      await this.limiter(name).consume(key);
    } catch (err) {
      if (err instanceof RateLimiterRes) throw this.refusal(name, err);
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
    await this.limiter(name).delete(key).catch(() => undefined);
  }

  private limiter(name: LimitName): RateLimiterAbstract {
    return this.limiters.get(name)!;
  }

  private refusal(name: LimitName, res: RateLimiterRes): RateLimitedError {
    return new RateLimitedError(MESSAGES[name], Math.max(1, Math.ceil(res.msBeforeNext / 1000)));
  }
}
