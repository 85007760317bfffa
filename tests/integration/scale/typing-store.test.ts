/**
 * Typing indicators shared by two instances through a real Redis (src/realtime/state/typing.ts): two
 * TypingTrackers on one key prefix stand for two instances whose requests interleave. Each
 * publishes to its own recorder (the bus is not the subject here). Skipped without REDIS_URL.
 */
import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import type { DomainEvent, EventPublisher } from '../../../src/domain/shared/events';
import { redisTypingStore, TypingTracker } from '../../../src/realtime/state/typing';

const url = process.env.REDIS_URL;

/** Records what an instance published, and lets a test wait for the n-th event. */
class Recorder implements EventPublisher {
  readonly events: DomainEvent[] = [];
  private waiters: (() => void)[] = [];
  publish(event: DomainEvent): void {
    this.events.push(event);
    for (const w of this.waiters.splice(0)) w();
  }
  /** Resolves once `n` events were published; the deadline only bounds a failure. */
  async count(n: number, deadlineMs = 5000): Promise<void> {
    const until = Date.now() + deadlineMs;
    while (this.events.length < n) {
      const left = until - Date.now();
      if (left <= 0) throw new Error(`expected ${n} events, got ${JSON.stringify(this.events)}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, left).unref();
      });
    }
  }
  typing(): boolean[] {
    return this.events.map((e) => (e as { isTyping: boolean }).isTyping);
  }
}

(url ? describe : describe.skip)('typing across two instances (Redis)', () => {
  let redisA: Redis;
  let redisB: Redis;
  beforeAll(() => {
    redisA = new Redis(url!);
    redisB = new Redis(url!);
  });
  afterAll(async () => {
    await redisA.quit();
    await redisB.quit();
  });

  function instances() {
    const prefix = `test-typing-${randomUUID()}`;
    const a = new Recorder();
    const b = new Recorder();
    const storeA = redisTypingStore(redisA, prefix);
    const storeB = redisTypingStore(redisB, prefix);
    return { a, b, onA: new TypingTracker(a, 60_000, storeA), onB: new TypingTracker(b, 60_000, storeB) };
  }

  test('a start right after a stop on the other instance is published at once', async () => {
    const { a, b, onA, onB } = instances();
    onA.start(1, 7);
    await a.count(1);
    onB.stop(1, 7);
    await b.count(1);
    // Within the same second: A's own throttle must not hold the new start back (the stop ended the indicator).
    onA.start(1, 7);
    await a.count(2);
    expect(a.typing()).toEqual([true, true]);
    expect(b.typing()).toEqual([false]);
    onA.close();
    onB.close();
  });
});
