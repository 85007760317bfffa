import type Redis from 'ioredis';
import type { EventPublisher } from '../domain/shared/events';

/** How long a typing indicator lasts without a refresh, in ms (issue 3: 5 s). */
export const TYPING_TTL_MS = 5000;

/** A refresh of a typing indicator is published at most this often, in ms. */
export const TYPING_REFRESH_MS = 1000;

/**
 * Decides whether a typing refresh may go on the bus now; shared by every instance when Redis is
 * there ({@link redisTypingGate}). Resolves false when another instance published it within
 * {@link TYPING_REFRESH_MS}.
 */
export type TypingGate = (conversationId: number, userId: number) => Promise<boolean>;

/**
 * A {@link TypingGate} on Redis: `SET <prefix>:typing:<conversation>:<user> NX PX 1000`, so a
 * user's refreshes reach the bus at most once a second whichever instance their requests land
 * on. Redis unreachable: the refresh goes out (this instance's own throttle still applies).
 */
export function redisTypingGate(redis: Pick<Redis, 'set'>, prefix: string): TypingGate {
  return async (conversationId, userId) => {
    try {
      return (await redis.set(`${prefix}:typing:${conversationId}:${userId}`, '1', 'PX', TYPING_REFRESH_MS, 'NX')) === 'OK';
    } catch {
      return true;
    }
  };
}

/**
 * Typing indicators that expire: `start` publishes isTyping=true (a refresh at most once per
 * {@link TYPING_REFRESH_MS}) and, unless refreshed within `ttlMs`, isTyping=false by itself;
 * `stop` publishes isTyping=false at once (only when the user was typing). Nothing is stored.
 */
export class TypingTracker {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly published = new Map<string, number>();

  constructor(private readonly events: EventPublisher, private readonly ttlMs = TYPING_TTL_MS, private readonly gate?: TypingGate) {}

  /** The user types in the conversation (again): publish, and (re)arm the expiry. */
  start(conversationId: number, userId: number): void {
    const key = `${conversationId}:${userId}`;
    clearTimeout(this.timers.get(key));
    const timer = setTimeout(() => this.stop(conversationId, userId), this.ttlMs);
    timer.unref();
    this.timers.set(key, timer);
    const now = Date.now();
    if (now - (this.published.get(key) ?? 0) < TYPING_REFRESH_MS) return;
    this.published.set(key, now);
    const publish = () => this.events.publish({ type: 'typing', conversationId, userId, isTyping: true });
    if (!this.gate) { publish(); return; }
    void this.gate(conversationId, userId).then((ok) => { if (ok && this.timers.has(key)) publish(); });
  }

  /** The user stopped typing (or sent their message). Publishes only when they were typing. */
  stop(conversationId: number, userId: number): void {
    const key = `${conversationId}:${userId}`;
    const timer = this.timers.get(key);
    if (!timer) return;
    clearTimeout(timer);
    this.timers.delete(key);
    this.published.delete(key);
    this.events.publish({ type: 'typing', conversationId, userId, isTyping: false });
  }

  /** Cancels every pending expiry (shutdown). */
  close(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.published.clear();
  }
}
