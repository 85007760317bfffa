/**
 * Issue 31, reactions and their live side, through the real server (GraphQL over HTTP) and real
 * graphql-ws clients: idempotent add/remove per (message, user, emoji), the emoji rule, the
 * limits (REACTIONS_MAX_EMOJI_PER_MESSAGE, REACTIONS_MAX_PER_USER_PER_MESSAGE), refusals
 * (deleted message, archived conversation, muted, banned, strangers, blocks), the summaries and
 * reactors pages, `messageUpdated` (once per change, per-viewer fields per viewer, edits and
 * deletions too), catch-up with messagesSince, coalesced notifications, and concurrency (200
 * users at once; add/remove racing). Runs on PGlite, and on PostgreSQL with DATABASE_URL.
 */
import { User } from '../../src/domain/user/user.entity';
import { codeOf, gql, gqlOk, registerUser, trackRealtime, type TestUser } from '../support/client';
import { startTestServer, type TestServer } from '../support/test-server';
import { bigGroup } from './security/big-group';

jest.setTimeout(180_000);

let server: TestServer;
const rt = trackRealtime(
  () => server.wsUrl,
  () => server,
);

beforeAll(async () => {
  server = await startTestServer({
    REACTIONS_MAX_EMOJI_PER_MESSAGE: '6',
    REACTIONS_MAX_PER_USER_PER_MESSAGE: '4',
    RATE_MESSAGES_PER_SEC: '10000',
    RATE_MESSAGES_BURST: '10000',
  });
});
afterAll(async () => {
  await server?.close();
});

const ADD = 'mutation($m: ID!, $e: String!) { addReaction(messageId: $m, emoji: $e) { id reactions { emoji count reactedByViewer latestUsers { id } } } }';
const REMOVE = 'mutation($m: ID!, $e: String!) { removeReaction(messageId: $m, emoji: $e) { id reactions { emoji count reactedByViewer } } }';
const SEND = 'mutation($c: ID!, $t: String!) { sendMessage(input: { conversationId: $c, content: $t }) { id seq } }';
const MESSAGE = 'query($id: ID!) { message(id: $id) { id reactions { emoji count reactedByViewer latestUsers { id } } } }';

/** A GROUP of `owner` with `members`. */
async function group(owner: TestUser, members: TestUser[]): Promise<string> {
  const { createGroup } = await gqlOk(
    server.url,
    'mutation($m: [ID!]!) { createGroup(input: { name: "g", memberIds: $m }) { id } }',
    { m: members.map((m) => m.id) },
    owner.token,
  );
  return createGroup.id;
}

async function send(user: TestUser, conversationId: string, text = 'hello'): Promise<string> {
  return (await gqlOk(server.url, SEND, { c: conversationId, t: text }, user.token)).sendMessage.id;
}

/** The conversation's change counter (conversations.change_seq). */
async function changeSeqOf(conversationId: string): Promise<number> {
  const [row] = await server.orm.em
    .fork()
    .execute<{ change_seq: number }[]>('select "change_seq" from "conversations" where "id" = ?', [Number(conversationId)]);
  return Number(row.change_seq);
}

async function reactionsOf(messageId: string, user: TestUser) {
  return (await gqlOk(server.url, MESSAGE, { id: messageId }, user.token)).message.reactions;
}

describe('adding and removing', () => {
  let alice: TestUser;
  let bob: TestUser;
  let carol: TestUser;
  let conv: string;
  beforeAll(async () => {
    [alice, bob, carol] = await Promise.all([registerUser(server.url, 'rxA'), registerUser(server.url, 'rxB'), registerUser(server.url, 'rxC')]);
    conv = await group(alice, [bob, carol]);
  });

  test('a second add changes nothing, bumps no counter; remove is idempotent too', async () => {
    const msg = await send(alice, conv);
    const first = (await gqlOk(server.url, ADD, { m: msg, e: '👍' }, bob.token)).addReaction;
    expect(first.reactions).toEqual([{ emoji: '👍', count: 1, reactedByViewer: true, latestUsers: [{ id: bob.id }] }]);
    const seq = await changeSeqOf(conv);
    const again = (await gqlOk(server.url, ADD, { m: msg, e: '👍' }, bob.token)).addReaction;
    expect(again.reactions).toEqual(first.reactions);
    expect(await changeSeqOf(conv)).toBe(seq);

    const removed = (await gqlOk(server.url, REMOVE, { m: msg, e: '👍' }, bob.token)).removeReaction;
    expect(removed.reactions).toEqual([]);
    const afterRemove = await changeSeqOf(conv);
    expect(afterRemove).toBe(seq + 1);
    expect((await gqlOk(server.url, REMOVE, { m: msg, e: '👍' }, bob.token)).removeReaction.reactions).toEqual([]);
    expect(await changeSeqOf(conv)).toBe(afterRemove);
  });

  test.each([['👍'], ['👍🏽'], ['👨‍👩‍👧‍👦'], ['🏳️‍🌈'], ['🇫🇷'], ['1️⃣'], ['❤️'], ['🫠']])('%s is one emoji', async (emoji) => {
    const msg = await send(alice, conv);
    const r = (await gqlOk(server.url, ADD, { m: msg, e: emoji }, bob.token)).addReaction;
    expect(r.reactions.map((x: { emoji: string }) => x.emoji)).toEqual([emoji]);
  });

  test('an emoji without its VS16 ("❤") is the same reaction as the emoji form ("❤️")', async () => {
    const msg = await send(alice, conv);
    await gqlOk(server.url, ADD, { m: msg, e: '❤' }, bob.token);
    const r = (await gqlOk(server.url, ADD, { m: msg, e: '❤️' }, carol.token)).addReaction;
    expect(r.reactions).toEqual([{ emoji: '❤️', count: 2, reactedByViewer: true, latestUsers: [{ id: carol.id }, { id: bob.id }] }]);
  });

  test.each([
    ['empty', ''],
    ['a space', ' '],
    ['a letter', 'a'],
    ['a word', 'ok'],
    ['two emoji', '👍👍'],
    ['an emoji and a letter', '👍a'],
    ['a digit', '1'],
    ['#', '#'],
    ['40 emoji', '👍'.repeat(40)],
    ['5000 letters', 'x'.repeat(5000)],
    ['a lone ZWJ', '\u200d'],
    ['half a flag', '🇫'],
  ])('%s is BAD_USER_INPUT and writes nothing', async (_what, emoji) => {
    const msg = await send(alice, conv);
    const seq = await changeSeqOf(conv);
    const r = await gql(server.url, ADD, { m: msg, e: emoji }, bob.token);
    expect(codeOf(r)).toBe('BAD_USER_INPUT');
    expect(r.errors![0].extensions!.field).toBe('emoji');
    expect(await changeSeqOf(conv)).toBe(seq);
    expect(await reactionsOf(msg, bob)).toEqual([]);
  });

  test('limits: distinct emoji per message and reactions per user per message', async () => {
    const msg = await send(alice, conv);
    for (const e of ['😀', '😃', '😄', '😁']) await gqlOk(server.url, ADD, { m: msg, e }, bob.token);
    const fifth = await gql(server.url, ADD, { m: msg, e: '😆' }, bob.token);
    expect(codeOf(fifth)).toBe('BAD_USER_INPUT');
    expect(fifth.errors![0].message).toMatch(/REACTIONS_MAX_PER_USER_PER_MESSAGE/);
    // Others may add up to 6 different emoji in all; a seventh is refused, one already there is not.
    await gqlOk(server.url, ADD, { m: msg, e: '😆' }, carol.token);
    await gqlOk(server.url, ADD, { m: msg, e: '😅' }, carol.token);
    const seventh = await gql(server.url, ADD, { m: msg, e: '🤣' }, carol.token);
    expect(codeOf(seventh)).toBe('BAD_USER_INPUT');
    expect(seventh.errors![0].message).toMatch(/REACTIONS_MAX_EMOJI_PER_MESSAGE/);
    await gqlOk(server.url, ADD, { m: msg, e: '😀' }, carol.token);
    const summary = await reactionsOf(msg, alice);
    expect(summary).toHaveLength(6);
    expect(summary[0]).toEqual({ emoji: '😀', count: 2, reactedByViewer: false, latestUsers: [{ id: carol.id }, { id: bob.id }] });
  });

  test('a deleted message and an archived conversation refuse reactions with a clear error', async () => {
    const msg = await send(alice, conv);
    await gqlOk(server.url, ADD, { m: msg, e: '👍' }, bob.token);
    await gqlOk(server.url, 'mutation($id: ID!) { deleteMessage(id: $id) { id } }', { id: msg }, alice.token);
    const onDeleted = await gql(server.url, ADD, { m: msg, e: '🎉' }, bob.token);
    expect(codeOf(onDeleted)).toBe('BAD_USER_INPUT');
    expect(onDeleted.errors![0].message).toMatch(/deleted message/);
    expect(codeOf(await gql(server.url, REMOVE, { m: msg, e: '👍' }, bob.token))).toBe('BAD_USER_INPUT');
    expect(await reactionsOf(msg, bob)).toEqual([]);

    const other = await group(alice, [bob]);
    const kept = await send(alice, other);
    await gqlOk(server.url, ADD, { m: kept, e: '👍' }, bob.token);
    await gqlOk(server.url, 'mutation($id: ID!) { archiveConversation(id: $id, archived: true) { id } }', { id: other }, alice.token);
    const archived = await gql(server.url, ADD, { m: kept, e: '🎉' }, bob.token);
    expect(codeOf(archived)).toBe('FORBIDDEN');
    expect(archived.errors![0].message).toMatch(/archived/i);
    expect(codeOf(await gql(server.url, REMOVE, { m: kept, e: '👍' }, bob.token))).toBe('FORBIDDEN');
  });

  test('access: strangers and banned members see nothing (NOT_FOUND); muted members cannot add but can take theirs back', async () => {
    const [dave, erin] = await Promise.all([registerUser(server.url, 'rxD'), registerUser(server.url, 'rxE')]);
    const room = (await gqlOk(server.url, 'mutation { createRoom(input: { name: "rx", visibility: PUBLIC }) { id } }', {}, alice.token)).createRoom.id;
    for (const u of [bob, dave]) await gqlOk(server.url, 'mutation($id: ID!) { joinRoom(id: $id) { id } }', { id: room }, u.token);
    const msg = await send(alice, room);
    expect(codeOf(await gql(server.url, ADD, { m: msg, e: '👍' }, erin.token))).toBe('NOT_FOUND');
    expect(codeOf(await gql(server.url, ADD, { m: '999999999', e: '👍' }, bob.token))).toBe('NOT_FOUND');

    await gqlOk(server.url, ADD, { m: msg, e: '👍' }, bob.token);
    await gqlOk(
      server.url,
      'mutation($c: ID!, $u: ID!) { muteMember(conversationId: $c, userId: $u, muted: true) { id } }',
      { c: room, u: bob.id },
      alice.token,
    );
    const muted = await gql(server.url, ADD, { m: msg, e: '🎉' }, bob.token);
    expect(codeOf(muted)).toBe('FORBIDDEN');
    expect(muted.errors![0].message).toMatch(/muted/);
    expect((await gqlOk(server.url, REMOVE, { m: msg, e: '👍' }, bob.token)).removeReaction.reactions).toEqual([]);

    await gqlOk(
      server.url,
      'mutation($c: ID!, $u: ID!) { banMember(conversationId: $c, userId: $u, banned: true) { id } }',
      { c: room, u: dave.id },
      alice.token,
    );
    expect(codeOf(await gql(server.url, ADD, { m: msg, e: '👍' }, dave.token))).toBe('NOT_FOUND');
  });

  test('blocks: none in a DIRECT chat with a block; in a group a reaction is allowed and notifies nobody across the block', async () => {
    const [dan, eve] = await Promise.all([registerUser(server.url, 'rxF'), registerUser(server.url, 'rxG')]);
    const direct = (await gqlOk(server.url, 'mutation($u: ID) { openDirectChat(userId: $u) { id } }', { u: eve.id }, dan.token)).openDirectChat.id;
    const msg = await send(dan, direct);
    const g = await group(dan, [eve]);
    const inGroup = await send(dan, g);
    await gqlOk(server.url, 'mutation($u: ID!) { blockUser(userId: $u) { id } }', { u: eve.id }, dan.token);
    expect(codeOf(await gql(server.url, ADD, { m: msg, e: '👍' }, eve.token))).toBe('FORBIDDEN');
    await gqlOk(server.url, ADD, { m: inGroup, e: '👍' }, eve.token);
    const { notifications } = await gqlOk(server.url, '{ notifications(first: 10) { edges { node { message { id } } } } }', {}, dan.token);
    expect(notifications.edges.filter((e: { node: { message: { id: string } | null } }) => e.node.message?.id === inGroup)).toEqual([]);
  });
});

describe('summaries and reactors', () => {
  test('most used first, reactedByViewer, at most 3 latestUsers newest first; reactors in pages', async () => {
    const owner = await registerUser(server.url, 'rxS');
    const users = await Promise.all(Array.from({ length: 5 }, () => registerUser(server.url, 'rxSu')));
    const conv = await group(owner, users);
    const msg = await send(owner, conv);
    await gqlOk(server.url, ADD, { m: msg, e: '🎉' }, users[0].token);
    for (const u of users) await gqlOk(server.url, ADD, { m: msg, e: '👍' }, u.token);
    await gqlOk(server.url, ADD, { m: msg, e: '😂' }, users[1].token);
    await gqlOk(server.url, ADD, { m: msg, e: '😂' }, users[2].token);
    const summary = await reactionsOf(msg, users[1]);
    expect(summary).toEqual([
      { emoji: '👍', count: 5, reactedByViewer: true, latestUsers: [users[4], users[3], users[2]].map((u) => ({ id: u.id })) },
      { emoji: '😂', count: 2, reactedByViewer: true, latestUsers: [{ id: users[2].id }, { id: users[1].id }] },
      { emoji: '🎉', count: 1, reactedByViewer: false, latestUsers: [{ id: users[0].id }] },
    ]);

    const PAGE =
      'query($id: ID!, $e: String!, $n: Int, $a: String) { message(id: $id) { reactors(emoji: $e, first: $n, after: $a) { totalCount pageInfo { hasNextPage endCursor } edges { node { emoji user { id } createdAt } } } } }';
    const seen: string[] = [];
    let after: string | null = null;
    for (let i = 0; i < 3; i++) {
      const page: any = (await gqlOk(server.url, PAGE, { id: msg, e: '👍', n: 2, a: after }, owner.token)).message.reactors;
      expect(page.totalCount).toBe(5);
      seen.push(...page.edges.map((e: any) => e.node.user.id));
      after = page.pageInfo.endCursor;
      expect(page.pageInfo.hasNextPage).toBe(i < 2);
    }
    expect(seen).toEqual(users.map((u) => u.id));
    expect(codeOf(await gql(server.url, PAGE, { id: msg, e: '👍', n: 2, a: 'garbage' }, owner.token))).toBe('BAD_USER_INPUT');
    expect(codeOf(await gql(server.url, PAGE, { id: msg, e: 'nope', n: 2 }, owner.token))).toBe('BAD_USER_INPUT');
    expect(codeOf(await gql(server.url, PAGE, { id: msg, e: '👍', n: 101 }, owner.token))).toBe('BAD_USER_INPUT');
  });
});

describe('live and after reconnect', () => {
  const UPDATED = 'subscription($c: ID) { messageUpdated(conversationId: $c) { id content deletedAt reactions { emoji count } } }';
  const UPDATED_MINE = 'subscription($c: ID) { messageUpdated(conversationId: $c) { id reactions { emoji count reactedByViewer } } }';

  test('messageUpdated: once per change, shared execution without per-viewer fields, reactedByViewer per viewer; edits and deletions too', async () => {
    const [alice, bob, carol] = await Promise.all([registerUser(server.url, 'rlA'), registerUser(server.url, 'rlB'), registerUser(server.url, 'rlC')]);
    const conv = await group(alice, [bob, carol]);
    const msg = await send(alice, conv);
    const shared = [alice, bob, carol].map((u) => rt.sub(rt.client(u), UPDATED, { c: conv }));
    const every = rt.sub(rt.client(carol), UPDATED, {});
    const mine = [alice, bob].map((u) => rt.sub(rt.client(u), UPDATED_MINE, { c: conv }));
    const edited = rt.sub(rt.client(bob), 'subscription($c: ID) { messageEdited(conversationId: $c) { id content } }', { c: conv });
    await Promise.all([...shared, every, ...mine, edited].map((s) => s.ready()));

    const executions = server.realtime.hub.executions;
    await gqlOk(server.url, ADD, { m: msg, e: '👍' }, bob.token);
    const expected = { messageUpdated: { id: msg, content: 'hello', deletedAt: null, reactions: [{ emoji: '👍', count: 1 }] } };
    for (const s of [...shared, every]) expect(await s.next()).toEqual(expected);
    expect(await mine[0].next()).toEqual({ messageUpdated: { id: msg, reactions: [{ emoji: '👍', count: 1, reactedByViewer: false }] } });
    expect(await mine[1].next()).toEqual({ messageUpdated: { id: msg, reactions: [{ emoji: '👍', count: 1, reactedByViewer: true }] } });
    // One shared execution (conversation bound), one for "every conversation" (other variables), one per viewer of the per-viewer operation.
    expect(server.realtime.hub.executions - executions).toBe(4);

    // A second add publishes nothing: the next event anyone gets is the edit.
    await gqlOk(server.url, ADD, { m: msg, e: '👍' }, bob.token);
    await gqlOk(server.url, 'mutation($id: ID!) { editMessage(id: $id, content: "edited") { id } }', { id: msg }, alice.token);
    const afterEdit = await shared[1].until((e) => e.messageUpdated.content === 'edited');
    expect(afterEdit).toHaveLength(1);
    expect(await edited.next()).toEqual({ messageEdited: { id: msg, content: 'edited' } });
    await gqlOk(server.url, 'mutation($id: ID!) { deleteMessage(id: $id) { id } }', { id: msg }, alice.token);
    const afterDelete = await shared[1].until((e) => e.messageUpdated.deletedAt != null);
    expect(afterDelete).toEqual([{ messageUpdated: { id: msg, content: '', deletedAt: expect.any(String), reactions: [] } }]);
  });

  test('messagesSince returns a message whose reactions changed while the client was away', async () => {
    const [alice, bob] = await Promise.all([registerUser(server.url, 'rsA'), registerUser(server.url, 'rsB')]);
    const conv = await group(alice, [bob]);
    const old = await send(alice, conv, 'old');
    const seen = (await gqlOk(server.url, SEND, { c: conv, t: 'newest seen' }, alice.token)).sendMessage.seq;
    const SINCE = 'query($c: ID!, $s: Int!) { messagesSince(conversationId: $c, afterSeq: $s) { id reactions { emoji count } } }';
    expect((await gqlOk(server.url, SINCE, { c: conv, s: seen }, bob.token)).messagesSince).toEqual([]);
    await gqlOk(server.url, ADD, { m: old, e: '🔥' }, alice.token);
    expect((await gqlOk(server.url, SINCE, { c: conv, s: seen }, bob.token)).messagesSince).toEqual([{ id: old, reactions: [{ emoji: '🔥', count: 1 }] }]);
    await gqlOk(server.url, REMOVE, { m: old, e: '🔥' }, alice.token);
    expect((await gqlOk(server.url, SINCE, { c: conv, s: seen }, bob.token)).messagesSince).toEqual([{ id: old, reactions: [] }]);
  });

  test('notifications: one unread per message whoever reacts, never for one’s own reaction, none while watching live', async () => {
    const [alice, bob, carol] = await Promise.all([registerUser(server.url, 'rnA'), registerUser(server.url, 'rnB'), registerUser(server.url, 'rnC')]);
    const conv = await group(alice, [bob, carol]);
    const msg = await send(alice, conv, 'notice me');
    const LIST = '{ notifications(first: 20) { unreadCount edges { node { id kind title body message { id } } } } }';
    const reactionNotices = async () =>
      (await gqlOk(server.url, LIST, {}, alice.token)).notifications.edges.map((e: any) => e.node).filter((n: any) => n.message?.id === msg);

    await gqlOk(server.url, ADD, { m: msg, e: '👍' }, alice.token);
    expect(await reactionNotices()).toEqual([]);
    await gqlOk(server.url, ADD, { m: msg, e: '👍' }, bob.token);
    await gqlOk(server.url, ADD, { m: msg, e: '🎉' }, carol.token);
    const one = await reactionNotices();
    expect(one).toEqual([{ id: expect.any(String), kind: 'MESSAGE', title: expect.stringContaining('reacted 🎉'), body: 'notice me', message: { id: msg } }]);

    // Read: the next reaction makes a new one.
    await gqlOk(server.url, 'mutation($id: ID!) { markNotificationRead(id: $id) { id } }', { id: one[0].id }, alice.token);
    await gqlOk(server.url, ADD, { m: msg, e: '😂' }, bob.token);
    expect(await reactionNotices()).toHaveLength(2);

    // Watching the conversation live: no notification.
    const other = await send(alice, conv, 'watched');
    const watch = rt.sub(rt.client(alice), 'subscription($c: ID) { messageAdded(conversationId: $c) { id } }', { c: conv });
    await watch.ready();
    await gqlOk(server.url, ADD, { m: other, e: '👍' }, bob.token);
    const all = (await gqlOk(server.url, LIST, {}, alice.token)).notifications.edges.map((e: any) => e.node);
    expect(all.filter((n: any) => n.message?.id === other)).toEqual([]);
  });
});

describe('concurrency', () => {
  test('200 different users reacting with the same emoji at once leave exactly 200', async () => {
    const owner = await registerUser(server.url, 'rcO');
    const conv = await bigGroup(server, owner, 200, 'rc');
    const msg = await send(owner, conv);
    const em = server.orm.em.fork();
    const members = await em.execute<{ user_id: number }[]>('select "user_id" from "memberships" where "conversation_id" = ? and "user_id" <> ?', [
      Number(conv),
      Number(owner.id),
    ]);
    expect(members).toHaveLength(200);
    const tokens: string[] = [];
    for (const m of members) tokens.push((await server.services.auth.startSession(em, await em.findOneOrFail(User, { id: m.user_id }))).accessToken);
    const seq = await changeSeqOf(conv);
    const results = await Promise.all(tokens.map((t) => gql(server.url, ADD, { m: msg, e: '👍' }, t)));
    expect(results.filter((r) => r.errors)).toEqual([]);
    expect((await reactionsOf(msg, owner))[0]).toMatchObject({ emoji: '👍', count: 200 });
    expect(await changeSeqOf(conv)).toBe(seq + 200);
    // Half of them again, at once, with removals of the other half: idempotent adds, 100 left.
    const again = await Promise.all(tokens.map((t, i) => gql(server.url, i % 2 ? REMOVE : ADD, { m: msg, e: '👍' }, t)));
    expect(again.filter((r) => r.errors)).toEqual([]);
    expect((await reactionsOf(msg, owner))[0]).toMatchObject({ count: 100 });
    expect(await changeSeqOf(conv)).toBe(seq + 300);
  });

  test('add and remove racing in loops never leave a count below zero nor a duplicate', async () => {
    const [alice, bob, carol] = await Promise.all([registerUser(server.url, 'rrA'), registerUser(server.url, 'rrB'), registerUser(server.url, 'rrC')]);
    const conv = await group(alice, [bob, carol]);
    const msg = await send(alice, conv);
    await Promise.all(
      [bob, carol].flatMap((u) =>
        Array.from({ length: 15 }, (_, i) =>
          gqlOk(server.url, i % 2 ? REMOVE : ADD, { m: msg, e: '👍' }, u.token).then(() => gqlOk(server.url, REMOVE, { m: msg, e: '👍' }, u.token)),
        ),
      ),
    );
    expect(await reactionsOf(msg, alice)).toEqual([]);
    await Promise.all([bob, carol].flatMap((u) => Array.from({ length: 10 }, () => gqlOk(server.url, ADD, { m: msg, e: '👍' }, u.token))));
    expect(await reactionsOf(msg, alice)).toMatchObject([{ emoji: '👍', count: 2, reactedByViewer: false }]);
    const [row] = await server.orm.em
      .fork()
      .execute<{ n: number }[]>('select count(*)::int as n from "message_reactions" where "message_id" = ?', [Number(msg)]);
    expect(Number(row.n)).toBe(2);
  });
});
