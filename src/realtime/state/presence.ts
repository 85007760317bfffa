import type Redis from 'ioredis';
import type { Logger } from 'pino';
import type { EventPublisher } from '../../domain/shared/events';

import type { PresenceTracker } from '../../domain/shared/live-state';

export type { PresenceTracker };

type OnOffline = (userId: number, at: Date) => Promise<void>;

/** Presence of one instance, in memory. */
export class InMemoryPresence implements PresenceTracker {
  private readonly sockets = new Map<number, Set<string>>();

  constructor(
    private readonly events: EventPublisher,
    private readonly onOffline: OnOffline,
  ) {}

  async connected(userId: number, socketId: string): Promise<number> {
    let set = this.sockets.get(userId);
    if (!set) this.sockets.set(userId, (set = new Set()));
    set.add(socketId);
    if (set.size === 1) this.events.publish({ type: 'presence', userId, status: 'ONLINE', lastSeenAt: null });
    return set.size;
  }

  async disconnected(userId: number, socketId: string): Promise<void> {
    const set = this.sockets.get(userId);
    if (!set?.delete(socketId) || set.size > 0) return;
    this.sockets.delete(userId);
    const at = new Date();
    await this.onOffline(userId, at).catch(() => undefined);
    if (!this.sockets.has(userId)) this.events.publish({ type: 'presence', userId, status: 'OFFLINE', lastSeenAt: at.toISOString() });
  }

  async isOnline(userId: number): Promise<boolean> {
    return (this.sockets.get(userId)?.size ?? 0) > 0;
  }

  async close(): Promise<void> {
    this.sockets.clear();
  }
}

/** Sockets renewed per Redis pipeline in a heartbeat (then the event loop gets a turn). */
const HEARTBEAT_SLICE = 200;

/** Adds a socket (KEYS: sockets, users; ARGV: socket, expiresAt, now, userId, keyTtlMs). Returns live sockets before it. */
const CONNECT = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
local before = redis.call('ZCARD', KEYS[1])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('ZADD', KEYS[2], 'GT', ARGV[2], ARGV[4])
return before`;

/**
 * Removes a socket (ARGV[1], may be '') and the expired ones (KEYS: sockets, users; ARGV: socket,
 * now, userId). Returns 1 when the user has no live socket left and this call took them off
 * the online set (so exactly one caller announces OFFLINE).
 */
const DISCONNECT = `
if ARGV[1] ~= '' then redis.call('ZREM', KEYS[1], ARGV[1]) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
if redis.call('ZCARD', KEYS[1]) > 0 then return 0 end
redis.call('DEL', KEYS[1])
return redis.call('ZREM', KEYS[2], ARGV[3])`;

/**
 * Presence shared by every instance through Redis: each socket is an entry with an expiry in the
 * user's sorted set, renewed by its instance's heartbeat every `ttlMs / 4`; entries live
 * `ttlMs / 2` past the last heartbeat. Every instance sweeps for users whose entries all expired
 * (a crashed instance's users), so they go OFFLINE within `ttlMs` (default 30 s, PRESENCE_TTL_MS)
 * without anyone cleaning up by hand.
 */
export class RedisPresence implements PresenceTracker {
  private readonly local = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;
  private readonly users: string;

  constructor(
    private readonly redis: Redis,
    private readonly events: EventPublisher,
    private readonly onOffline: OnOffline,
    private readonly logger: Logger,
    private readonly ttlMs = 30000,
    private readonly prefix = 'chat',
  ) {
    this.users = `${prefix}:presence:users`;
    redis.defineCommand('presenceConnect', { numberOfKeys: 2, lua: CONNECT });
    redis.defineCommand('presenceDisconnect', { numberOfKeys: 2, lua: DISCONNECT });
    this.timer = setInterval(
      () => {
        void this.tick();
      },
      Math.max(50, Math.floor(ttlMs / 4)),
    );
    this.timer.unref();
  }

  private socketsKey(userId: number): string {
    return `${this.prefix}:presence:sockets:${userId}`;
  }

  private get lifetime(): number {
    return Math.floor(this.ttlMs / 2);
  }

  async connected(userId: number, socketId: string): Promise<number> {
    this.local.set(socketId, userId);
    const now = Date.now();
    try {
      const before = Number(
        await (this.redis as unknown as { presenceConnect(...a: unknown[]): Promise<number> }).presenceConnect(
          this.socketsKey(userId),
          this.users,
          socketId,
          now + this.lifetime,
          now,
          userId,
          this.ttlMs,
        ),
      );
      if (before === 0) this.events.publish({ type: 'presence', userId, status: 'ONLINE', lastSeenAt: null });
      return before + 1;
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'presence not recorded: Redis unavailable');
      let mine = 0;
      for (const u of this.local.values()) if (u === userId) mine++;
      return mine;
    }
  }

  async disconnected(userId: number, socketId: string): Promise<void> {
    this.local.delete(socketId);
    await this.leave(userId, socketId);
  }

  async isOnline(userId: number): Promise<boolean> {
    try {
      const score = await this.redis.zscore(this.users, String(userId));
      return score != null && Number(score) > Date.now();
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    const sockets = [...this.local];
    this.local.clear();
    await Promise.all(sockets.map(([socketId, userId]) => this.leave(userId, socketId)));
  }

  private async leave(userId: number, socketId: string): Promise<void> {
    try {
      const removed = await (this.redis as unknown as { presenceDisconnect(...a: unknown[]): Promise<number> }).presenceDisconnect(
        this.socketsKey(userId),
        this.users,
        socketId,
        Date.now(),
        userId,
      );
      if (Number(removed) === 1) await this.announceOffline(userId);
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'presence not updated: Redis unavailable');
    }
  }

  private async announceOffline(userId: number): Promise<void> {
    const at = new Date();
    await this.onOffline(userId, at).catch(() => undefined);
    this.events.publish({ type: 'presence', userId, status: 'OFFLINE', lastSeenAt: at.toISOString() });
  }

  /** Heartbeat for this instance's sockets, then the sweep for users whose sockets all expired. */
  private async tick(): Promise<void> {
    const now = Date.now();
    try {
      // In slices, yielding between them (one pipeline for thousands of sockets showed in live delivery's p99).
      const sockets = [...this.local];
      for (let i = 0; i < sockets.length; i += HEARTBEAT_SLICE) {
        const batch = this.redis.pipeline();
        for (const [socketId, userId] of sockets.slice(i, i + HEARTBEAT_SLICE)) {
          batch
            .zadd(this.socketsKey(userId), now + this.lifetime, socketId)
            .pexpire(this.socketsKey(userId), this.ttlMs)
            .zadd(this.users, 'GT', now + this.lifetime, String(userId));
        }
        await batch.exec();
        await new Promise((r) => setImmediate(r));
      }
      const stale = await this.redis.zrangebyscore(this.users, '-inf', now);
      for (const id of stale) {
        const removed = await (this.redis as unknown as { presenceDisconnect(...a: unknown[]): Promise<number> }).presenceDisconnect(
          this.socketsKey(Number(id)),
          this.users,
          '',
          now,
          id,
        );
        if (Number(removed) === 1) await this.announceOffline(Number(id));
      }
    } catch (err) {
      this.logger.debug({ err: (err as Error).message }, 'presence heartbeat skipped');
    }
  }
}
