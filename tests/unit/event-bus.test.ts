import { InMemoryEventBus, eventStream } from '../../src/realtime/event-bus';
import { filterStream } from '../../src/realtime/streams';
import type { DomainEvent } from '../../src/domain/shared/events';

const typing = (conversationId: number, userId = 1): DomainEvent => ({ type: 'typing', conversationId, userId, isTyping: true });

describe('InMemoryEventBus', () => {
  test('delivers to listeners of the type and of the event conversation only', () => {
    const bus = new InMemoryEventBus();
    const all: DomainEvent[] = [];
    const seven: DomainEvent[] = [];
    bus.on('typing', (e) => all.push(e));
    bus.on('typing', (e) => seven.push(e), 7);
    bus.publish(typing(7));
    bus.publish(typing(8));
    bus.publish({ type: 'presence', userId: 1, status: 'ONLINE', lastSeenAt: null });
    expect(all.map((e) => (e as { conversationId: number }).conversationId)).toEqual([7, 8]);
    expect(seven).toHaveLength(1);
  });

  test('a throwing listener does not stop the others', () => {
    const bus = new InMemoryEventBus();
    const got: DomainEvent[] = [];
    bus.on('typing', () => { throw new Error('boom'); });
    bus.on('typing', (e) => got.push(e));
    bus.publish(typing(1));
    expect(got).toHaveLength(1);
  });
});

describe('event streams', () => {
  test('queue events in order and unsubscribe on return(), even with a next() pending', async () => {
    const bus = new InMemoryEventBus();
    const stream = filterStream(
      eventStream<DomainEvent>((push) => bus.on('typing', push)),
      (e) => (e as { conversationId: number }).conversationId !== 2,
    );
    bus.publish(typing(1));
    bus.publish(typing(2));
    bus.publish(typing(3));
    expect(((await stream.next()).value as { conversationId: number }).conversationId).toBe(1);
    expect(((await stream.next()).value as { conversationId: number }).conversationId).toBe(3);
    const pending = stream.next();
    expect(bus.listenerCount()).toBe(1);
    await stream.return!();
    expect(await pending).toEqual({ value: undefined, done: true });
    expect(bus.listenerCount()).toBe(0);
  });

  test('drop the oldest events past the queue bound', async () => {
    const bus = new InMemoryEventBus();
    const stream = eventStream<DomainEvent>((push) => bus.on('typing', push), 2);
    for (let i = 1; i <= 4; i++) bus.publish(typing(i));
    const first = (await stream.next()).value as { conversationId: number };
    expect(first.conversationId).toBe(3);
    await stream.return!();
  });
});
