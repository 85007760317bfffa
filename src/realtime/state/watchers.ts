import { randomUUID } from 'node:crypto';
import type Redis from 'ioredis';
import type { Logger } from 'pino';

import type { WatcherRegistry } from '../../domain/shared/live-state';

export type { WatcherRegistry };

/** The live subscriptions of this instance, in memory. */
export class ConversationWatchers implements WatcherRegistry {
  /** userId -> (conversationId, or 0 for "all my conversations") -> open subscriptions. */
  protected readonly byUser = new Map<number, Map<number, number>>();

  watch(userId: number, conversationId: number | null): () => void {
    const key = conversationId ?? 0;
    let perUser = this.byUser.get(userId);
    if (!perUser) this.byUser.set(userId, (perUser = new Map()));
    const n = (perUser.get(key) ?? 0) + 1;
    perUser.set(key, n);
    if (n === 1) this.started(userId, key);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const m = this.byUser.get(userId);
      if (!m) return;
      const left = (m.get(key) ?? 1) - 1;
      if (left > 0) {
        m.set(key, left);
        return;
      }
      m.delete(key);
      if (m.size === 0) this.byUser.delete(userId);
      this.ended(userId, key);
    };
  }

  /** True when `userId` has a live subscription covering `conversationId` on this instance. */
  isWatching(userId: number, conversationId: number): boolean {
    const m = this.byUser.get(userId);
    return Boolean(m && (m.has(conversationId) || m.has(0)));
  }

  async watchersOf(conversationId: number, candidates: readonly number[]): Promise<number[]> {
    return this.localWatchersOf(conversationId, candidates);
  }

  async close(): Promise<void> {
    this.byUser.clear();
  }

  /** Those of `candidates` watching `conversationId` live on this instance. */
  protected localWatchersOf(conversationId: number, candidates: readonly number[]): number[] {
    return candidates.filter((userId) => this.isWatching(userId, conversationId));
  }

  /** A (user, key) went from 0 to 1 subscription on this instance. */
  protected started(_userId: number, _key: number): void {}
  /** A (user, key) went from 1 to 0 subscriptions on this instance. */
  protected ended(_userId: number, _key: number): void {}
}

/** Users renewed per Redis pipeline in a heartbeat (then the event loop gets a turn). */
const HEARTBEAT_SLICE = 200;

/**
 * Watchers shared by every instance through Redis: per user a sorted set
 * `<prefix>:watch:<userId>` of `<conversationId or 0>|<instance>` entries scored by expiry,
 * renewed by this instance's heartbeat every `ttlMs / 4` and living `ttlMs / 2` past it, so a
 * crashed instance's entries lapse by themselves (PRESENCE_TTL_MS). Asking who watches a
 * conversation costs one pipelined lookup per candidate member. Redis unreachable: only this
 * instance's watchers count (some users may get a MESSAGE notification they did not need).
 */
export class RedisConversationWatchers extends ConversationWatchers {
  private readonly instanceId = randomUUID();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly redis: Redis,
    private readonly logger: Logger,
    private readonly ttlMs = 30000,
    private readonly prefix = 'chat',
  ) {
    super();
    this.timer = setInterval(
      () => {
        void this.heartbeat();
      },
      Math.max(50, Math.floor(ttlMs / 4)),
    );
    this.timer.unref();
  }

  private keyOf(userId: number): string {
    return `${this.prefix}:watch:${userId}`;
  }

  private get lifetime(): number {
    return Math.floor(this.ttlMs / 2);
  }

  protected override started(userId: number, key: number): void {
    this.redis
      .multi()
      .zadd(this.keyOf(userId), Date.now() + this.lifetime, `${key}|${this.instanceId}`)
      .pexpire(this.keyOf(userId), this.ttlMs)
      .exec()
      .catch((err: Error) => this.logger.debug({ err: err.message }, 'watch not shared: Redis unavailable'));
  }

  protected override ended(userId: number, key: number): void {
    this.redis
      .zrem(this.keyOf(userId), `${key}|${this.instanceId}`)
      .catch((err: Error) => this.logger.debug({ err: err.message }, 'watch not cleared: Redis unavailable'));
  }

  override async watchersOf(conversationId: number, candidates: readonly number[]): Promise<number[]> {
    const users = candidates.filter((u) => !this.isWatching(u, conversationId));
    const local = candidates.length === users.length ? [] : candidates.filter((u) => this.isWatching(u, conversationId));
    if (!users.length) return local;
    try {
      const now = Date.now();
      const batch = this.redis.pipeline();
      for (const u of users) batch.zrangebyscore(this.keyOf(u), now, '+inf');
      const results = (await batch.exec()) ?? [];
      const remote = users.filter((_, i) => {
        const entries = (results[i]?.[1] as string[] | undefined) ?? [];
        return entries.some((e) => {
          const k = Number(e.split('|')[0]);
          return k === 0 || k === conversationId;
        });
      });
      return [...local, ...remote];
    } catch (err) {
      this.logger.debug({ err: (err as Error).message }, 'watchers of other instances unknown: Redis unavailable');
      return local;
    }
  }

  override async close(): Promise<void> {
    clearInterval(this.timer);
    const entries = [...this.byUser].flatMap(([userId, m]) => [...m.keys()].map((key) => [userId, key] as const));
    await super.close();
    if (!entries.length) return;
    const batch = this.redis.multi();
    for (const [userId, key] of entries) batch.zrem(this.keyOf(userId), `${key}|${this.instanceId}`);
    await batch.exec().catch(() => undefined);
  }

  /** Renews this instance's entries and drops the expired ones of its users. */
  private async heartbeat(): Promise<void> {
    if (!this.byUser.size) return;
    const now = Date.now();
    const users = [...this.byUser];
    // In slices, yielding between them: one pipeline for thousands of users held the event loop
    // long enough to show in live delivery's p99.
    for (let i = 0; i < users.length; i += HEARTBEAT_SLICE) {
      const batch = this.redis.pipeline();
      for (const [userId, m] of users.slice(i, i + HEARTBEAT_SLICE)) {
        const k = this.keyOf(userId);
        for (const key of m.keys()) batch.zadd(k, now + this.lifetime, `${key}|${this.instanceId}`);
        batch.zremrangebyscore(k, '-inf', now).pexpire(k, this.ttlMs);
      }
      await batch.exec().catch((err: Error) => this.logger.debug({ err: err.message }, 'watch heartbeat skipped'));
      await new Promise((r) => setImmediate(r));
    }
  }
}
