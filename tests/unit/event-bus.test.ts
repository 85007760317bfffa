import { GraphQLInt, GraphQLObjectType, GraphQLSchema, parse } from 'graphql';
import { InMemoryEventBus } from '../../src/realtime/state/event-bus';
import { DeliveryHub } from '../../src/realtime/delivery/hub';
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
    bus.on('typing', () => {
      throw new Error('boom');
    });
    bus.on('typing', (e) => got.push(e));
    bus.publish(typing(1));
    expect(got).toHaveLength(1);
  });
});

describe('DeliveryHub', () => {
  // A real (tiny) schema: the hub executes it once per event per group of equal operations.
  const Query = new GraphQLObjectType({ name: 'Query', fields: { ok: { type: GraphQLInt } } });
  const Subscription = new GraphQLObjectType({
    name: 'Subscription',
    fields: { typing: { type: GraphQLInt, resolve: (e: { conversationId: number }) => e.conversationId } },
  });
  const schema = new GraphQLSchema({ query: Query, subscription: Subscription });
  const document = parse('subscription { typing }');
  const operation = { document, key: 'typing', perViewer: false };
  const actor = { id: 1, username: 'a', isStaff: false };
  // Each subscriber's audience here is its own access check (the server's is audiences.ts mayReceive).
  type Accept = (e: DomainEvent) => boolean | Promise<boolean>;
  const hubOn = (bus: InMemoryEventBus, maxQueue = 1000) =>
    new DeliveryHub<Accept>(bus, { schema, mayReceive: (accept, e) => accept(e), newScope: () => ({}), contextFor: () => ({}), maxQueue });
  const tick = () => new Promise((r) => setTimeout(r, 30));

  test('one execution and one payload per event for every subscriber of an operation, in bus order even when an access check waits', async () => {
    const bus = new InMemoryEventBus();
    const hub = hubOn(bus);
    const slow: string[] = [];
    const plain: string[] = [];
    const a = hub.subscribe({
      topic: 'typing:*',
      actor,
      operation,
      write: (p) => slow.push(p),
      audience: (e) => ((e as { conversationId: number }).conversationId === 1 ? new Promise((r) => setTimeout(() => r(true), 20)) : true),
    });
    const b = hub.subscribe({
      topic: 'typing:*',
      actor,
      operation,
      write: (p) => plain.push(p),
      audience: (e) => (e as { conversationId: number }).conversationId !== 2,
    });
    for (const c of [1, 2, 3]) bus.publish(typing(c));
    await tick();
    expect(slow).toEqual(['{"data":{"typing":1}}', '{"data":{"typing":2}}', '{"data":{"typing":3}}']);
    expect(plain).toEqual(['{"data":{"typing":1}}', '{"data":{"typing":3}}']);
    expect(hub.executions).toBe(3);
    // The lifecycle stream ends when the subscription does, also with a next() pending.
    const pending = a.next();
    await a.return!();
    expect(await pending).toEqual({ value: undefined, done: true });
    await b.return!();
    expect(hub.subscriberCount()).toBe(0);
    bus.publish(typing(4));
    await tick();
    expect(plain).toHaveLength(2);
  });

  test('a subscriber with too many results waiting is ended and told (onOverflow), never silently trimmed', async () => {
    const bus = new InMemoryEventBus();
    const hub = hubOn(bus, 2);
    let overflowed = 0;
    const got: string[] = [];
    const s = hub.subscribe({
      topic: 'typing:*',
      actor,
      operation,
      write: (p) => got.push(p),
      audience: () => new Promise((r) => setTimeout(() => r(true), 50)),
      onOverflow: () => {
        overflowed++;
      },
    });
    for (let i = 1; i <= 4; i++) bus.publish(typing(i));
    expect(overflowed).toBe(1);
    expect(await s.next()).toEqual({ value: undefined, done: true });
    expect(hub.subscriberCount()).toBe(0);
    await tick();
    await tick();
    expect(got).toEqual([]);
  });
});
