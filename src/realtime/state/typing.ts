import { randomUUID } from 'node:crypto';
import type Redis from 'ioredis';
import type { EventPublisher } from '../../domain/shared/events';

/** How long a typing indicator lasts without a refresh, in ms (issue 3: 5 s). */
export const TYPING_TTL_MS = 5000;

/** A refresh of a typing indicator is published at most this often, in ms (issue 6: once a second). */
export const TYPING_REFRESH_MS = 1000;

/** How long the shared typing state outlives an instance's own expiry timer, in ms. */
const TYPING_STATE_GRACE_MS = 2000;

/**
 * Typing state shared by every instance (Redis), so that a user whose requests land on different
 * instances gets one indicator: refreshes throttled together, expiry by whoever saw the last
 * refresh, and an explicit stop honoured wherever it lands. Every method resolves (a store that
 * cannot answer behaves as if this instance were alone).
 */
export interface TypingStore {
  /**
   * Records a refresh stamped `stamp` (kept a little longer than `ttlMs`); true when it may be
   * published now (none within {@link TYPING_REFRESH_MS} on any instance since the last stop),
   * null when the store cannot answer (the instance then decides alone).
   */
  refresh(key: string, stamp: string, ttlMs: number): Promise<boolean | null>;
  /** On expiry: true (and forgets it) when `stamp` is still the newest refresh of `key`; false after a newer refresh or an explicit stop. */
  expire(key: string, stamp: string): Promise<boolean>;
  /** Explicit stop: true when `key` was typing on any instance (and forgets it). */
  stop(key: string): Promise<boolean>;
}

/** Atomically: record the refresh, then take the once-a-second publish slot (KEYS: state, gate; ARGV: stamp, ttl, refresh). */
const REFRESH = `
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if redis.call('SET', KEYS[2], '1', 'PX', ARGV[3], 'NX') then return 1 end
return 0`;
/** Forget the state when it still carries this stamp (KEYS: state, gate; ARGV: stamp). */
const EXPIRE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1], KEYS[2]) return 1 end
return 0`;

/** A {@link TypingStore} on Redis: `<prefix>:typing:<conversation>:<user>` holds the newest refresh's stamp. */
export function redisTypingStore(redis: Redis, prefix: string): TypingStore {
  redis.defineCommand('typingRefresh', { numberOfKeys: 2, lua: REFRESH });
  redis.defineCommand('typingExpire', { numberOfKeys: 2, lua: EXPIRE });
  const r = redis as unknown as {
    typingRefresh(k: string, g: string, stamp: string, ttl: number, refresh: number): Promise<number>;
    typingExpire(k: string, g: string, stamp: string): Promise<number>;
  };
  const keys = (key: string) => [`${prefix}:typing:${key}`, `${prefix}:typing-gate:${key}`] as const;
  return {
    async refresh(key, stamp, ttlMs) {
      const [k, g] = keys(key);
      // The shared state outlives the local expiry timer by a grace period, so a timer that fires
      // a little late still finds its own stamp; a missing key means an explicit stop.
      return r.typingRefresh(k, g, stamp, ttlMs + TYPING_STATE_GRACE_MS, TYPING_REFRESH_MS).then(
        (n) => Number(n) === 1,
        () => null,
      );
    },
    async expire(key, stamp) {
      const [k, g] = keys(key);
      return r.typingExpire(k, g, stamp).then(
        (n) => Number(n) === 1,
        () => true,
      );
    },
    async stop(key) {
      return redis.del(...keys(key)).then(
        (n) => n > 0,
        () => true,
      );
    },
  };
}

/**
 * Typing indicators that expire: `start` publishes isTyping=true (a refresh at most once per
 * {@link TYPING_REFRESH_MS}) and, unless refreshed within `ttlMs`, isTyping=false by itself;
 * `stop` publishes isTyping=false at once (only when the user was typing). Nothing goes to the
 * database; with a {@link TypingStore} (Redis) the state is shared by every instance.
 */
export class TypingTracker {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly published = new Map<string, number>();
  /** Per key: the stamp of this instance's newest refresh. */
  private readonly stamps = new Map<string, string>();

  constructor(
    private readonly events: EventPublisher,
    private readonly ttlMs = TYPING_TTL_MS,
    private readonly store?: TypingStore,
  ) {}

  /** The user types in the conversation (again): publish, and (re)arm the expiry. */
  start(conversationId: number, userId: number): void {
    const key = `${conversationId}:${userId}`;
    const stamp = randomUUID();
    clearTimeout(this.timers.get(key));
    const timer = setTimeout(() => {
      void this.expire(conversationId, userId, stamp);
    }, this.ttlMs);
    timer.unref();
    this.timers.set(key, timer);
    this.stamps.set(key, stamp);
    const publish = () => this.events.publish({ type: 'typing', conversationId, userId, isTyping: true });
    const now = Date.now();
    const throttled = now - (this.published.get(key) ?? 0) < TYPING_REFRESH_MS;
    if (!throttled) this.published.set(key, now);
    if (!this.store) {
      if (!throttled) publish();
      return;
    }
    // The shared state learns of every refresh, and its gate decides: a stop on another instance
    // opens it again at once (this instance's own throttle would hold a new start back for up to
    // a second). Only without an answer from the store does the local throttle decide.
    void this.store.refresh(key, stamp, this.ttlMs).then((ok) => {
      if ((ok ?? !throttled) && this.stamps.get(key) === stamp) publish();
    });
  }

  /** The user stopped typing (or sent their message). Publishes only when they were typing (on any instance, with a store). */
  stop(conversationId: number, userId: number): void {
    const key = `${conversationId}:${userId}`;
    const hadTimer = this.forget(key);
    const publish = () => this.events.publish({ type: 'typing', conversationId, userId, isTyping: false });
    if (!this.store) {
      if (hadTimer) publish();
      return;
    }
    void this.store.stop(key).then((was) => {
      if (was) publish();
    });
  }

  /** Cancels every pending expiry (shutdown). */
  close(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.published.clear();
    this.stamps.clear();
  }

  /** This instance's expiry: without a newer refresh anywhere, the indicator ends. */
  private async expire(conversationId: number, userId: number, stamp: string): Promise<void> {
    const key = `${conversationId}:${userId}`;
    if (this.stamps.get(key) !== stamp) return;
    this.forget(key);
    if (this.store && !(await this.store.expire(key, stamp))) return;
    this.events.publish({ type: 'typing', conversationId, userId, isTyping: false });
  }

  private forget(key: string): boolean {
    const timer = this.timers.get(key);
    clearTimeout(timer);
    this.timers.delete(key);
    this.published.delete(key);
    this.stamps.delete(key);
    return timer !== undefined;
  }
}
