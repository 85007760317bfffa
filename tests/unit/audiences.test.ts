import type { EntityManager } from '@mikro-orm/postgresql';
import { ConversationKind } from '../../src/domain/conversation/conversation.entity';
import type { Actor } from '../../src/domain/shared/actor';
import type { DomainEvent } from '../../src/domain/shared/events';
import { AudienceRegistry, type Viewer } from '../../src/realtime/state/live-registry';
import { mayReceive, WatchedUsers, type AudienceSpec, type Narrowing } from '../../src/realtime/delivery/audiences';
import { InMemoryEventBus } from '../../src/realtime/state/event-bus';

/**
 * The audience rules of live events (issue 29, src/realtime/delivery/audiences.ts), as a table of
 * subscriber x event x expected, the way policy.test.ts pins the request rules. Every transport
 * (graphql-ws, the legacy dialects, Socket.IO) declares its subscriptions as data and the hub asks
 * these rules; the realtime integration tests exercise them end to end. Here every fact (memberships,
 * staff, blocks, kinds) is already in the live registry, so each answer must be a boolean at once:
 * the registry's database is one that fails any statement (0 SQL per event in the steady state).
 */

const noSql = {
  fork: () => ({
    execute: () => {
      throw new Error('the audience rules ran SQL in the steady state');
    },
  }),
} as unknown as EntityManager;

const ALICE = 1;
const BOB = 2;
const CAROL = 3; // blocked by alice
const DAVE = 4; // a stranger
const STAFF = 9;
const GROUP = 10; // alice and bob
const OTHER = 20; // bob only
const SUPPORT = 30; // alice's support thread

const typing = (userId: number, conversationId = GROUP): DomainEvent => ({ type: 'typing', conversationId, userId, isTyping: true });
const message = (conversationId: number): DomainEvent => ({
  type: 'message.added',
  conversationId,
  message: { id: 1, conversationId, seq: 1, changeSeq: 1, senderId: BOB, content: 'hi', kind: 'TEXT', createdAt: '2026-01-01T00:00:00.000Z' } as never,
});
/** Issue 31: any later change of a message (reactions, edits, deletion). */
const updated = (conversationId: number): DomainEvent => ({
  ...(message(conversationId) as Extract<DomainEvent, { type: 'message.added' }>),
  type: 'message.updated',
});
const receipt = (userId: number, conversationId = GROUP): DomainEvent => ({
  type: 'read.receipt',
  conversationId,
  userId,
  lastReadSeq: 1,
  readAt: '2026-01-01T00:00:00.000Z',
});
const presence = (userId: number): DomainEvent => ({ type: 'presence', userId, status: 'ONLINE', lastSeenAt: null });
const profile = (userId: number): DomainEvent => ({ type: 'user.changed', userId, isStaff: false, profile: true, user: { id: userId } as never });
const notification = (recipientId: number): DomainEvent => ({ type: 'notification.added', recipientId, notification: { id: 1 } as never });

describe('audience rules of live events', () => {
  const bus = new InMemoryEventBus();
  const blocks = new Map<number, Set<number>>([
    [ALICE, new Set([CAROL])],
    [STAFF, new Set()],
  ]);
  // Privacy settings (issue 27 §5) as the user cache holds them.
  const records = new Map<number, Record<string, unknown>>([
    [BOB, { id: BOB, presenceVisibility: 'CONTACTS', sendReadReceipts: true }],
    [CAROL, { id: CAROL }],
    [DAVE, { id: DAVE, presenceVisibility: 'EVERYONE', sendReadReceipts: false }],
    [ALICE, { id: ALICE, sendReadReceipts: false }],
    [STAFF, { id: STAFF, presenceVisibility: 'NOBODY' }],
  ]);
  const registry = new AudienceRegistry(
    bus,
    noSql,
    async (_em, id) => blocks.get(id) ?? new Set(),
    undefined,
    async (_em, id) => (records.get(id) ?? null) as never,
  );
  const viewers = new Map<number, Viewer>();
  const watched = new Map<string, WatchedUsers>();

  beforeAll(async () => {
    for (const actor of [
      { id: ALICE, username: 'alice', isStaff: false },
      { id: STAFF, username: 'staff', isStaff: true },
    ] as Actor[]) {
      const v = registry.attach(actor);
      v.complete = true;
      viewers.set(actor.id, v);
      await registry.blockedIds(v);
    }
    bus.publish({ type: 'membership.changed', conversationId: GROUP, userId: ALICE, active: true });
    bus.publish({ type: 'membership.changed', conversationId: SUPPORT, userId: ALICE, active: true });
    registry.noteKind(GROUP, ConversationKind.GROUP);
    registry.noteKind(OTHER, ConversationKind.GROUP);
    registry.noteKind(SUPPORT, ConversationKind.SUPPORT);
    const alice = viewers.get(ALICE)!;
    // Alice's presence audience: her contacts and co-members (carol among them, but blocked).
    const audienceOfAlice = async () => new Set([BOB, CAROL]);
    const scope = { actor: alice.actor, em: noSql };
    watched.set('presence audience', await WatchedUsers.start(registry, bus, alice, {}, audienceOfAlice, scope, () => scope));
    watched.set(
      'asked ids',
      await WatchedUsers.start(registry, bus, alice, { wanted: new Set([BOB, CAROL, DAVE, STAFF]), related: true }, audienceOfAlice, scope, () => scope),
    );
    watched.set('own profile too', await WatchedUsers.start(registry, bus, alice, { self: true }, audienceOfAlice, scope, () => scope));
  });
  afterAll(() => {
    for (const w of watched.values()) w.stop();
    registry.close();
  });

  type Sub = { who: number; conversationId?: number | null; narrowing?: Narrowing; peerId?: number; users?: string };
  const spec = (s: Sub): AudienceSpec => ({
    viewer: viewers.get(s.who)!,
    conversationId: s.conversationId ?? null,
    narrowing: s.narrowing,
    peerId: s.peerId ?? null,
    users: s.users ? watched.get(s.users) : undefined,
  });

  it.each<[string, Sub, DomainEvent, boolean]>([
    // Messages: readers of the conversation.
    ['a member bound to the conversation gets its messages', { who: ALICE, conversationId: GROUP }, message(GROUP), true],
    ['a non-member bound to a conversation gets nothing', { who: ALICE, conversationId: OTHER }, message(OTHER), false],
    ['staff bound to any conversation read it', { who: STAFF, conversationId: OTHER }, message(OTHER), true],
    ['"every conversation": a member follows it', { who: ALICE }, message(GROUP), true],
    ['"every conversation": not a member, not followed', { who: ALICE }, message(OTHER), false],
    ['"every conversation": staff follow every SUPPORT thread', { who: STAFF }, message(SUPPORT), true],
    ['"every conversation": staff do not follow a GROUP they are not in', { who: STAFF }, message(GROUP), false],
    ["supportOnly (seed 002): the customer's own thread", { who: ALICE, narrowing: 'supportOnly' }, message(SUPPORT), true],
    ['supportOnly (seed 002): never a GROUP', { who: ALICE, narrowing: 'supportOnly' }, message(GROUP), false],
    ['supportOnly (seed 002): staff, every SUPPORT thread', { who: STAFF, narrowing: 'supportOnly' }, message(SUPPORT), true],
    // messageUpdated (issue 31): the same readers as the message.
    ['an update of a message: a member bound to the conversation', { who: ALICE, conversationId: GROUP }, updated(GROUP), true],
    ['an update: "every conversation", a member follows it', { who: ALICE }, updated(GROUP), true],
    ['an update: not a reader', { who: ALICE, conversationId: OTHER }, updated(OTHER), false],
    // Typing: readers, never one's own, never across a block.
    ['typing of another member', { who: ALICE, conversationId: GROUP }, typing(BOB), true],
    ["typing: never one's own", { who: ALICE, conversationId: GROUP }, typing(ALICE), false],
    ['typing: never across a block', { who: ALICE, conversationId: GROUP }, typing(CAROL), false],
    ['typing: not a reader', { who: ALICE, conversationId: OTHER }, typing(BOB, OTHER), false],
    ['typing, supportOnly: another user in the thread', { who: ALICE, narrowing: 'supportOnly' }, typing(STAFF, SUPPORT), true],
    ["typing, supportOnly: one's own", { who: STAFF, narrowing: 'supportOnly' }, typing(STAFF, SUPPORT), false],
    // Read receipts: readers; seed 000 asks for others only.
    ['read receipt of another member', { who: ALICE, conversationId: GROUP }, receipt(BOB), true],
    ['read receipt of a member who sends none (privacy)', { who: ALICE, conversationId: GROUP }, receipt(DAVE), false],
    ["read receipt: one's own (GraphQL)", { who: ALICE, conversationId: GROUP }, receipt(ALICE), true],
    ["read receipt, othersOnly (seed 000): not one's own", { who: ALICE, conversationId: GROUP, narrowing: 'othersOnly' }, receipt(ALICE), false],
    ['read receipt, othersOnly: another member', { who: ALICE, conversationId: GROUP, narrowing: 'othersOnly' }, receipt(BOB), true],
    ['read receipt: never across a block (issue 32)', { who: ALICE, conversationId: GROUP }, receipt(CAROL), false],
    // Typing and read receipts of "every conversation" (no conversationId, issue 32: one subscription for every badge).
    ['"every conversation": typing in a conversation of the viewer', { who: ALICE }, typing(BOB), true],
    ['"every conversation": typing in a conversation not the viewer\'s', { who: ALICE }, typing(BOB, OTHER), false],
    ['"every conversation": typing never across a block', { who: ALICE }, typing(CAROL), false],
    ['"every conversation": typing never one\'s own', { who: ALICE }, typing(ALICE), false],
    ['"every conversation": staff hear typing in every SUPPORT thread', { who: STAFF }, typing(ALICE, SUPPORT), true],
    ['"every conversation": staff, not a GROUP they are not in', { who: STAFF }, typing(BOB), false],
    ['"every conversation": a receipt in a conversation of the viewer', { who: ALICE }, receipt(BOB), true],
    ['"every conversation": a receipt in a conversation not the viewer\'s', { who: ALICE }, receipt(BOB, OTHER), false],
    ['"every conversation": never a receipt of a member who sends none', { who: ALICE }, receipt(DAVE), false],
    ['"every conversation": never a receipt across a block', { who: ALICE }, receipt(CAROL), false],
    ['"every conversation": one\'s own receipt (one\'s other sessions)', { who: ALICE }, receipt(ALICE), true],
    ['"every conversation", othersOnly: not one\'s own', { who: ALICE, narrowing: 'othersOnly' }, receipt(ALICE), false],
    // Presence: the watched users (never across a block), or seed 000's peer.
    ['presence of the presence audience', { who: ALICE, users: 'presence audience' }, presence(BOB), true],
    ['presence: never across a block', { who: ALICE, users: 'presence audience' }, presence(CAROL), false],
    ['presence: not in the presence audience', { who: ALICE, users: 'presence audience' }, presence(DAVE), false],
    ['presence of an asked id (EVERYONE)', { who: ALICE, users: 'asked ids' }, presence(DAVE), true],
    ['presence of a user who shows it to NOBODY', { who: ALICE, users: 'asked ids' }, presence(STAFF), false],
    ['presence of an asked id: never across a block', { who: ALICE, users: 'asked ids' }, presence(CAROL), false],
    ['presence, peerOnly (seed 000): the peer', { who: ALICE, conversationId: GROUP, narrowing: 'peerOnly', peerId: BOB }, presence(BOB), true],
    ['presence, peerOnly: a peer who shows it to NOBODY', { who: ALICE, conversationId: GROUP, narrowing: 'peerOnly', peerId: STAFF }, presence(STAFF), false],
    ['presence, peerOnly: anyone else', { who: ALICE, conversationId: GROUP, narrowing: 'peerOnly', peerId: BOB }, presence(DAVE), false],
    ['presence, peerOnly: a blocked peer', { who: ALICE, conversationId: GROUP, narrowing: 'peerOnly', peerId: CAROL }, presence(CAROL), false],
    ['presence without watched users or a peer', { who: ALICE, conversationId: GROUP }, presence(BOB), false],
    // Profiles: the watched users, oneself with `self`.
    ['profile of the presence audience', { who: ALICE, users: 'presence audience' }, profile(BOB), true],
    ["profile: one's own without self", { who: ALICE, users: 'presence audience' }, profile(ALICE), false],
    ["profile: one's own with self", { who: ALICE, users: 'own profile too' }, profile(ALICE), true],
    ['profile: never across a block', { who: ALICE, users: 'own profile too' }, profile(CAROL), false],
    // Notifications: their recipient.
    ["a notification of one's own", { who: ALICE }, notification(ALICE), true],
    ["someone else's notification", { who: ALICE }, notification(BOB), false],
  ])('%s', async (_what, sub, event, expected) => {
    const answer = mayReceive(registry, spec(sub), event);
    // Messages, typing and notifications answer at once from memory (no promise, no SQL); read
    // receipts and presence ask the user cache (memory, no SQL here) for privacy settings.
    if (event.type === 'message.added' || event.type === 'message.updated' || event.type === 'typing' || event.type === 'notification.added')
      expect(typeof answer).toBe('boolean');
    expect(await answer).toBe(expected);
  });

  it('a block made later applies at the next event (the registry reloads it once)', async () => {
    const alice = viewers.get(ALICE)!;
    blocks.set(ALICE, new Set([CAROL, BOB]));
    bus.publish({ type: 'contact.changed', userIds: [ALICE, BOB] });
    const answer = mayReceive(registry, spec({ who: ALICE, conversationId: GROUP }), typing(BOB));
    expect(answer).toBeInstanceOf(Promise);
    expect(await answer).toBe(false);
    expect(mayReceive(registry, spec({ who: ALICE, conversationId: GROUP }), typing(BOB))).toBe(false);
    expect(await mayReceive(registry, spec({ who: ALICE, users: 'presence audience' }), presence(BOB))).toBe(false);
    blocks.set(ALICE, new Set([CAROL]));
    bus.publish({ type: 'contact.changed', userIds: [ALICE, BOB] });
    expect(await mayReceive(registry, spec({ who: ALICE, conversationId: GROUP }), typing(BOB))).toBe(true);
    expect(registry.blockedNow(alice)).toEqual(new Set([CAROL]));
  });

  it('a member removed stops receiving at once', () => {
    bus.publish({ type: 'membership.changed', conversationId: GROUP, userId: ALICE, active: false });
    expect(mayReceive(registry, spec({ who: ALICE, conversationId: GROUP }), message(GROUP))).toBe(false);
    expect(mayReceive(registry, spec({ who: ALICE }), message(GROUP))).toBe(false);
  });
});
