import { randomUUID } from 'node:crypto';
import { createRedisEventTarget } from '@graphql-yoga/redis-event-target';
import Redis from 'ioredis';
import type { Logger } from 'pino';
import type { DomainEvent } from '../../domain/shared/events';
import { InMemoryEventBus } from './event-bus';

/** What travels on the Redis channel: the event and the instance that committed it. */
interface Envelope {
  /** Origin instance id. */
  o: string;
  /** The domain event. */
  e: DomainEvent;
}

/**
 * The event bus shared by several instances through Redis pub/sub
 * (@graphql-yoga/redis-event-target over ioredis). The instance that committed a write hands
 * its event to its own subscribers at once and publishes it once on Redis; every other instance
 * receives it from Redis and hands it to its subscribers. An instance skips what it published
 * itself and never republishes what it received, so nobody gets an event twice.
 *
 * Redis down: `publish` still delivers on this instance, and the Redis publish fails fast (no
 * offline queue) and is logged; the write has already committed (PostgreSQL is the source of
 * truth) and clients on other instances catch up with `messagesSince`. The subscriber connection
 * reconnects and resubscribes by itself when Redis returns (ioredis `autoResubscribe`).
 */
export class RedisEventBus extends InMemoryEventBus {
  /** This instance's id on the channel (random per start). */
  readonly instanceId = randomUUID();
  private readonly publisher: Redis;
  private readonly subscriber: Redis;
  private readonly target: ReturnType<typeof createRedisEventTarget>;
  private closed = false;
  /** The Redis channel every domain event travels on: `<prefix>:events`. */
  private readonly channel: string;

  constructor(
    redisUrl: string,
    private readonly logger: Logger,
    prefix = 'chat',
  ) {
    super();
    this.channel = `${prefix}:events`;
    const options = { maxRetriesPerRequest: 1, enableOfflineQueue: false, retryStrategy: (n: number) => Math.min(n * 200, 2000) };
    // Auto-pipelining: the events of one send (message, read receipt, a notification per member) leave in one write.
    this.publisher = new Redis(redisUrl, { ...options, enableAutoPipelining: true, connectionName: 'chat-events-pub' });
    this.subscriber = new Redis(redisUrl, { ...options, enableOfflineQueue: true, maxRetriesPerRequest: null, connectionName: 'chat-events-sub' });
    for (const [name, client] of [
      ['publisher', this.publisher],
      ['subscriber', this.subscriber],
    ] as const) {
      client.on('error', (err) => {
        if (!this.closed) this.logger.warn({ err: err.message }, `redis ${name} error`);
      });
    }
    // The target only needs `publish`; ours never throws (a failed publish is logged, not fatal).
    const publishClient = {
      publish: (channel: string, message: string) =>
        this.publisher.publish(channel, message).catch((err: Error) => {
          if (!this.closed) this.logger.warn({ err: err.message }, 'event not published to other instances: Redis unavailable');
          return 0;
        }),
    } as unknown as Redis;
    this.target = createRedisEventTarget({ publishClient, subscribeClient: this.subscriber });
    // After an outage, the subscriber reconnects and resubscribes by itself (autoResubscribe);
    // what other instances published meanwhile is lost, so listeners re-check their state.
    let everReady = false;
    let downSince: number | null = null;
    this.subscriber.on('close', () => {
      if (everReady && downSince === null) downSince = Date.now();
    });
    this.subscriber.on('ready', () => {
      if (!everReady) {
        everReady = true;
        return;
      }
      if (downSince === null || this.closed) return;
      const since = downSince;
      downSince = null;
      this.logger.info({ downMs: Date.now() - since }, 'Redis is back: re-checking live state');
      for (const h of [...this.resyncHandlers]) {
        try {
          h(since);
        } catch (err) {
          this.logger.error({ err }, 'resync handler failed');
        }
      }
    });
    this.target.addEventListener(this.channel, (e) => {
      const envelope = (e as CustomEvent<Envelope | null>).detail;
      if (envelope?.e && envelope.o !== this.instanceId) this.dispatch(envelope.e);
    });
  }

  /** Delivers on this instance now, and to every other instance through Redis. */
  override publish(event: DomainEvent): void {
    this.dispatch(event);
    if (!this.closed) this.target.dispatchEvent(new CustomEvent(this.channel, { detail: { o: this.instanceId, e: event } satisfies Envelope }));
  }

  /** Resolves once both connections are up and the channel is subscribed (or rejects after `timeoutMs`). */
  async ready(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(this.publisher.status === 'ready' && this.subscriber.status === 'ready')) {
      if (Date.now() > deadline) throw new Error('Redis is not reachable');
      await new Promise((r) => setTimeout(r, 20));
    }
    // Idempotent: resolves once Redis has confirmed the subscription.
    await this.subscriber.subscribe(this.channel);
  }

  override healthy(): boolean {
    return this.publisher.status === 'ready' && this.subscriber.status === 'ready';
  }

  override async close(): Promise<void> {
    this.closed = true;
    await super.close();
    this.publisher.disconnect();
    this.subscriber.disconnect();
  }
}
