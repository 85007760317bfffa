import type Redis from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../../config/config';
import type { EventPublisher } from '../../domain/shared/events';
import type { LiveState } from '../../domain/shared/live-state';
import { InMemoryPresence, RedisPresence, type PresenceTracker } from './presence';
import { FlexibleRateLimiter } from './rate-limits';
import { redisTypingStore, TYPING_TTL_MS, TypingTracker } from './typing';
import { ConversationWatchers, RedisConversationWatchers, type WatcherRegistry } from './watchers';

/**
 * Builds the shared live state the domain services are given (domain/shared/live-state.ts): rate
 * limits, watchers, typing and presence, over Redis when `redis` (and a logger) is given, else in
 * this process's memory. `touchLastSeen` records a user's lastSeenAt when their last socket closes
 * (UserService.touchLastSeen).
 */
export function createLiveState(
  config: Config,
  events: EventPublisher,
  infra: { redis?: Redis; logger?: Logger },
  touchLastSeen: (userId: number, at: Date) => Promise<void>,
): LiveState {
  const limits = new FlexibleRateLimiter(
    {
      // Sustained RATE_MESSAGES_PER_SEC, plus RATE_MESSAGES_BURST more at once (an offline outbox, a paste), refilled every 10 s.
      message: {
        points: config.rateLimits.messagesPerSec,
        durationSec: 1,
        ...(config.rateLimits.messagesBurst > 0 ? { burst: { points: config.rateLimits.messagesBurst, durationSec: 10 } } : {}),
      },
      login: { points: config.rateLimits.loginFailures, durationSec: 15 * 60 },
      register: { points: config.rateLimits.registrationsPerHourIp, durationSec: 3600 },
      wsConnectIp: { points: config.rateLimits.wsPerMinIp, durationSec: 60 },
      wsConnectUser: { points: config.rateLimits.wsPerMinUser, durationSec: 60 },
      memberAdd: { points: config.rateLimits.memberAddsPerHour, durationSec: 3600 },
      search: { points: config.rateLimits.searchesPerMin, durationSec: 60 },
    },
    infra.redis,
    config.redisPrefix,
    infra.logger,
  );
  const watchers: WatcherRegistry =
    infra.redis && infra.logger
      ? new RedisConversationWatchers(infra.redis, infra.logger, config.presenceTtlMs, config.redisPrefix)
      : new ConversationWatchers();
  const typing = new TypingTracker(events, TYPING_TTL_MS, infra.redis ? redisTypingStore(infra.redis, config.redisPrefix) : undefined);
  const presence: PresenceTracker =
    infra.redis && infra.logger
      ? new RedisPresence(infra.redis, events, touchLastSeen, infra.logger, config.presenceTtlMs, config.redisPrefix)
      : new InMemoryPresence(events, touchLastSeen);
  return { limits, watchers, typing, presence };
}
