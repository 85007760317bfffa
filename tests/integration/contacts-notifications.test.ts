/**
 * Contacts and blocking (seed 000), notifications and mentions (seed 003), typing expiry and the
 * presence audience, through the real server: HTTP for queries and mutations, graphql-ws for
 * subscriptions, with the allowed and the refused caller for each rule.
 */
import { codeOf, gql, gqlOk, registerUser, subscribe, trackRealtime, wsClient, type TestUser } from '../support/client';
import { gqlAs } from '../support/graphql';
import { startTestServer, type TestServer } from '../support/test-server';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.close();
});

const { client, sub } = trackRealtime(
  () => server.wsUrl,
  () => server,
);

const { q, raw } = gqlAs(() => server.url);
const users = (n: number, prefix: string) => Promise.all(Array.from({ length: n }, (_, i) => registerUser(server.url, `${prefix}${i}`)));

const CONTACT = `id status requester { id } addressee { id }`;
const NOTIFICATION = `id kind title body isRead conversation { id } message { id content }`;
const contactOp = (op: string, arg: 'userId' | 'id') => `mutation($x: ID!) { ${op}(${arg}: $x) { ${CONTACT} } }`;

const request = (me: TestUser, other: TestUser) => q(me, contactOp('requestContact', 'userId'), { x: other.id }).then((d) => d.requestContact);
const block = (me: TestUser, other: TestUser) => q(me, contactOp('blockUser', 'userId'), { x: other.id }).then((d) => d.blockUser);
const unblock = (me: TestUser, other: TestUser) => q(me, `mutation($x: ID!) { unblockUser(userId: $x) }`, { x: other.id }).then((d) => d.unblockUser);
const contacts = (me: TestUser, status?: string) =>
  q(me, `query($s: ContactStatus) { contacts(status: $s) { ${CONTACT} } }`, { s: status ?? null }).then((d) => d.contacts);
const openDirect = (me: TestUser, other: TestUser) => raw(me, `mutation($u: ID) { openDirectChat(userId: $u) { id } }`, { u: other.id });
const send = (me: TestUser, conversationId: string, content: string) =>
  raw(me, `mutation($i: SendMessageInput!) { sendMessage(input: $i) { id seq content mentions { id username } } }`, { i: { conversationId, content } });
const sendOk = async (me: TestUser, conversationId: string, content: string) => {
  const r = await send(me, conversationId, content);
  if (r.errors) throw new Error(JSON.stringify(r.errors));
  return r.data.sendMessage;
};
const createGroup = (owner: TestUser, members: TestUser[], name: string) =>
  q(owner, `mutation($i: CreateGroupInput!) { createGroup(input: $i) { id } }`, { i: { name, memberIds: members.map((m) => m.id) } }).then(
    (d) => d.createGroup.id as string,
  );
const notifications = (me: TestUser, unreadOnly = false, first = 20, after?: string) =>
  q(
    me,
    `query($u: Boolean, $f: Int, $a: String) { notifications(unreadOnly: $u, first: $f, after: $a) {
    totalCount unreadCount pageInfo { hasNextPage endCursor } edges { cursor node { ${NOTIFICATION} } } } }`,
    { u: unreadOnly, f: first, a: after ?? null },
  ).then((d) => d.notifications);

describe('contacts', () => {
  test('request, accept by the addressee only, listing by status', async () => {
    const [a, b, c] = await users(3, 'ct');
    const req = await request(a, b);
    expect(req).toMatchObject({ status: 'PENDING', requester: { id: a.id }, addressee: { id: b.id } });
    // asking again returns the same request
    expect((await request(a, b)).id).toBe(req.id);
    // the requester cannot accept their own request; a stranger does not see it
    expect(codeOf(await raw(a, contactOp('acceptContact', 'id'), { x: req.id }))).toBe('FORBIDDEN');
    expect(codeOf(await raw(c, contactOp('acceptContact', 'id'), { x: req.id }))).toBe('NOT_FOUND');
    expect(codeOf(await raw(c, contactOp('declineContact', 'id'), { x: req.id }))).toBe('NOT_FOUND');
    expect((await contacts(b, 'PENDING')).map((x: any) => x.id)).toEqual([req.id]);
    expect(await contacts(c)).toEqual([]);

    const accepted = (await q(b, contactOp('acceptContact', 'id'), { x: req.id })).acceptContact;
    expect(accepted).toMatchObject({ id: req.id, status: 'ACCEPTED' });
    expect((await contacts(a, 'ACCEPTED')).map((x: any) => x.id)).toEqual([req.id]);
    expect(await contacts(a, 'PENDING')).toEqual([]);
  });

  test('decline, renewed request, and a crossed request accepts', async () => {
    const [a, b] = await users(2, 'cd');
    const req = await request(a, b);
    expect((await q(b, contactOp('declineContact', 'id'), { x: req.id })).declineContact.status).toBe('DECLINED');
    expect((await contacts(a, 'DECLINED')).length).toBe(1);
    // asking again after a decline renews the request
    expect(await request(a, b)).toMatchObject({ id: req.id, status: 'PENDING' });
    // the addressee asking back accepts the pending request
    expect(await request(b, a)).toMatchObject({ id: req.id, status: 'ACCEPTED', requester: { id: a.id } });
  });

  test('bad input: oneself, unknown user, malformed id', async () => {
    const [a] = await users(1, 'cb');
    expect(codeOf(await raw(a, contactOp('requestContact', 'userId'), { x: a.id }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await raw(a, contactOp('requestContact', 'userId'), { x: '99999999' }))).toBe('NOT_FOUND');
    expect(codeOf(await raw(a, contactOp('blockUser', 'userId'), { x: 'abc' }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await gql(server.url, `{ contacts { id } }`))).toBe('UNAUTHENTICATED');
  });

  test('opening a direct chat connects the two (seed 000 automatic connection)', async () => {
    const [a, b, c] = await users(3, 'ca');
    expect((await openDirect(a, b)).errors).toBeUndefined();
    expect(await contacts(b, 'ACCEPTED')).toEqual([expect.objectContaining({ status: 'ACCEPTED', requester: { id: a.id }, addressee: { id: b.id } })]);
    // a pending request to the opener is accepted by opening
    const req = await request(c, a);
    expect((await openDirect(a, c)).errors).toBeUndefined();
    expect((await contacts(c)).find((x: any) => x.id === req.id).status).toBe('ACCEPTED');
  });
});

describe('blocking', () => {
  test('stops openDirectChat and sendMessage in the DIRECT both ways; invisible to the blocked user', async () => {
    const [a, b] = await users(2, 'bl');
    const direct = (await openDirect(a, b)).data.openDirectChat.id;
    await sendOk(b, direct, 'hello before the block');

    const blocked = await block(a, b);
    expect(blocked).toMatchObject({ status: 'BLOCKED', requester: { id: a.id }, addressee: { id: b.id } });
    expect((await block(a, b)).id).toBe(blocked.id); // idempotent

    for (const [me, other] of [
      [b, a],
      [a, b],
    ] as const) {
      expect(codeOf(await openDirect(me, other))).toBe('FORBIDDEN');
      expect(codeOf(await send(me, direct, 'anyone there?'))).toBe('FORBIDDEN');
      expect(codeOf(await raw(me, `mutation($u: ID!) { sendMessage(input: { recipientId: $u, content: "hi" }) { id } }`, { u: other.id }))).toBe('FORBIDDEN');
    }
    expect(codeOf(await raw(b, contactOp('requestContact', 'userId'), { x: a.id }))).toBe('FORBIDDEN');
    // the history stays readable; nothing was added
    const page = (await q(b, `query($c: ID!) { messages(conversationId: $c) { totalCount } }`, { c: direct })).messages;
    expect(page.totalCount).toBe(1);
    // the blocker sees the block; the blocked user does not, and the accepted connection is gone
    expect((await contacts(a)).map((x: any) => x.status)).toEqual(['BLOCKED']);
    expect(await contacts(b)).toEqual([]);
    expect(await contacts(b, 'BLOCKED')).toEqual([]);

    // a block by the other side too stays after the first is lifted
    await block(b, a);
    expect(await unblock(a, b)).toBe(true);
    expect(await unblock(a, b)).toBe(false);
    expect(codeOf(await send(a, direct, 'still blocked by b'))).toBe('FORBIDDEN');
    expect(await unblock(b, a)).toBe(true);
    expect((await send(a, direct, 'talking again')).errors).toBeUndefined();
    expect((await openDirect(b, a)).data.openDirectChat.id).toBe(direct);
  });

  test('a contact accepted while presence and userUpdated subscriptions run joins both audiences, without resubscribing', async () => {
    const [a, b] = await users(2, 'cl');
    const bWs = client(b);
    const bPresence = sub(bWs, `subscription { presence { user { id } status } }`);
    const bUpdated = sub(bWs, `subscription { userUpdated { id firstName } }`);
    await Promise.all([bPresence.ready(), bUpdated.ready()]);
    const req = await request(a, b);
    await q(b, contactOp('acceptContact', 'id'), { x: req.id });
    // a (not a co-member of b anywhere) comes online, then renames herself: b sees both.
    await sub(client(a), `subscription { notificationAdded { id } }`).ready();
    const seen = await bPresence.until((e: any) => e.presence.user.id === a.id);
    expect(seen[seen.length - 1]).toEqual({ presence: { user: { id: a.id }, status: 'ONLINE' } });
    await q(a, `mutation { updateProfile(input: { firstName: "Ada" }) { id } }`);
    const updates = await bUpdated.until((e: any) => e.userUpdated.id === a.id);
    expect(updates[updates.length - 1]).toEqual({ userUpdated: { id: a.id, firstName: 'Ada' } });
  });

  // Both directions: the blocker does not see the blocked user, and the blocked user does not see
  // the blocker. c, a co-member of both, sees everyone and provides the control events.
  test.each([
    ['the blocked user does not see the blocker', 'blocked'],
    ['the blocker does not see the blocked user', 'blocker'],
  ] as const)('hides presence and typing: %s', async (_what, watching) => {
    const [blocker, blocked, c] = await users(3, 'bp');
    const group = await createGroup(blocker, [blocked, c], 'typing group');
    await block(blocker, blocked);
    const [watcher, actor] = watching === 'blocked' ? [blocked, blocker] : [blocker, blocked];
    const PRESENCE = `query($id: ID) { user(id: $id) { presence lastSeenAt } }`;
    const TYPING = `subscription($c: ID!) { typing(conversationId: $c) { user { id } isTyping } }`;
    const SET_TYPING = `mutation($c: ID!, $t: Boolean!) { setTyping(conversationId: $c, isTyping: $t) }`;

    const watcherWs = client(watcher);
    const wTyping = sub(watcherWs, TYPING, { c: group });
    const wPresence = sub(watcherWs, `subscription { presence { user { id } status } }`);
    await Promise.all([wTyping.ready(), wPresence.ready()]);

    // the actor comes online (published before its subscription registers): c sees it through
    // User.presence, the watcher does not
    await sub(client(actor), `subscription { notificationAdded { id } }`).ready();
    expect((await q(c, PRESENCE, { id: actor.id })).user.presence).toBe('ONLINE');
    expect((await q(watcher, PRESENCE, { id: actor.id })).user).toEqual({ presence: 'OFFLINE', lastSeenAt: null });
    // c comes online after it: c's ONLINE is the first presence event the watcher gets
    const cTyping = sub(client(c), TYPING, { c: group });
    await cTyping.ready();
    expect(await wPresence.until(() => true)).toEqual([{ presence: { user: { id: c.id }, status: 'ONLINE' } }]);

    // the actor types: c sees it; then c types: c's is the first typing event the watcher gets
    await q(actor, SET_TYPING, { c: group, t: true });
    expect((await cTyping.next()).typing).toEqual({ user: { id: actor.id }, isTyping: true });
    await q(c, SET_TYPING, { c: group, t: true });
    expect(await wTyping.until(() => true)).toEqual([{ typing: { user: { id: c.id }, isTyping: true } }]);

    // after the unblock the watcher sees the actor again
    await unblock(blocker, blocked);
    expect((await q(watcher, PRESENCE, { id: actor.id })).user.presence).toBe('ONLINE');
    await q(actor, SET_TYPING, { c: group, t: false });
    expect((await wTyping.next()).typing).toEqual({ user: { id: actor.id }, isTyping: false });
    expect(wPresence.events.filter((e: any) => e.presence.user.id === actor.id)).toEqual([]);
  });
});

describe('typing', () => {
  test('an indicator that is not refreshed expires by itself after 5 s; sending stops it', async () => {
    const [a, b] = await users(2, 'ty');
    const direct = (await openDirect(a, b)).data.openDirectChat.id;
    const bTyping = sub(client(b), `subscription($c: ID!) { typing(conversationId: $c) { user { id } isTyping } }`, { c: direct });
    await bTyping.ready();
    await q(a, `mutation($c: ID!) { setTyping(conversationId: $c, isTyping: true) }`, { c: direct });
    expect((await bTyping.next()).typing.isTyping).toBe(true);
    const started = Date.now();
    expect((await bTyping.next(8000)).typing).toEqual({ user: { id: a.id }, isTyping: false });
    expect(Date.now() - started).toBeGreaterThanOrEqual(4500);

    await q(a, `mutation($c: ID!) { setTyping(conversationId: $c, isTyping: true) }`, { c: direct });
    expect((await bTyping.next()).typing.isTyping).toBe(true);
    await sendOk(a, direct, 'done typing');
    expect((await bTyping.next()).typing).toEqual({ user: { id: a.id }, isTyping: false });
  }, 20000);

  test('without Redis (the in-process path): a burst of setTyping yields at most one refresh per second', async () => {
    // A server of its own without Redis, whatever the suite runs with: the in-process throttle.
    const alone = await startTestServer({ REDIS_URL: '' });
    try {
      expect(alone.services.presence.constructor.name).toBe('InMemoryPresence'); // no Redis anywhere
      const [a, b] = await Promise.all([registerUser(alone.url, 'tt'), registerUser(alone.url, 'tt')]);
      const direct = (await gqlOk(alone.url, `mutation($u: ID) { openDirectChat(userId: $u) { id } }`, { u: b.id }, a.token)).openDirectChat.id;
      const bWs = wsClient(alone.wsUrl, b.token);
      const bTyping = subscribe(bWs, `subscription($c: ID!) { typing(conversationId: $c) { user { id } isTyping } }`, { c: direct }, { server: alone });
      try {
        await bTyping.ready();
        const TYPE = `mutation($c: ID!, $t: Boolean!) { setTyping(conversationId: $c, isTyping: $t) }`;
        const started = Date.now();
        await Promise.all(Array.from({ length: 20 }, () => gqlOk(alone.url, TYPE, { c: direct, t: true }, a.token)));
        const elapsed = Date.now() - started;
        // The stop is the control: every refresh the burst published arrives before it.
        await gqlOk(alone.url, TYPE, { c: direct, t: false }, a.token);
        const got = await bTyping.until((e) => !e.typing.isTyping);
        const refreshes = got.filter((e) => e.typing.isTyping);
        expect(got[got.length - 1]).toEqual({ typing: { user: { id: a.id }, isTyping: false } });
        expect(refreshes.length).toBeGreaterThanOrEqual(1);
        // One at once, then at most one more per full second the burst took (20 without the throttle).
        expect(refreshes.length).toBeLessThanOrEqual(1 + Math.floor(elapsed / 1000));
      } finally {
        bTyping.stop();
        await bWs.dispose();
      }
    } finally {
      await alone.close();
    }
  });
});

describe('presence audience', () => {
  test('without userIds: contacts and co-members, not strangers', async () => {
    const [watcher, contact, coMember, stranger, late] = await users(5, 'pa');
    const req = await request(contact, watcher);
    await q(watcher, contactOp('acceptContact', 'id'), { x: req.id });
    const group = await createGroup(coMember, [watcher], 'presence group');
    const watch = sub(client(watcher), `subscription { presence { user { id } status } }`);
    await watch.ready();
    // One after another (each socket's ONLINE is published before its subscription registers).
    for (const u of [stranger, contact, coMember]) await sub(client(u), `subscription { notificationAdded { id } }`).ready();
    // The stranger came online first: had it been delivered, it would come first.
    const first = (await watch.next()).presence;
    const second = (await watch.next()).presence;
    expect([first, second]).toEqual([
      { user: { id: contact.id }, status: 'ONLINE' },
      { user: { id: coMember.id }, status: 'ONLINE' },
    ]);
    // Nothing else came in between: a later co-member's ONLINE is the next event.
    await q(coMember, `mutation($c: ID!, $u: ID!) { addMember(conversationId: $c, userId: $u) { id } }`, { c: group, u: late.id });
    await sub(client(late), `subscription { notificationAdded { id } }`).ready();
    expect(await watch.until(() => true)).toEqual([{ presence: { user: { id: late.id }, status: 'ONLINE' } }]);
  });
});

describe('notifications', () => {
  test('MESSAGE for members not watching live, MENTION for @username, never the sender; read marks', async () => {
    const [owner, live, away, mentioned, outsider] = await users(5, 'nt');
    const group = await createGroup(owner, [live, away, mentioned], 'Notify me');
    // ROOM_INVITE for the added members, not the creator
    for (const u of [live, away, mentioned]) {
      const n = await notifications(u);
      expect(n.edges.map((e: any) => [e.node.kind, e.node.conversation?.id])).toEqual([['ROOM_INVITE', group]]);
    }
    expect((await notifications(owner)).totalCount).toBe(0);

    const liveSub = sub(client(live), `subscription($c: ID) { messageAdded(conversationId: $c) { id } }`, { c: group });
    const awayFeed = sub(client(away), `subscription { notificationAdded { ${NOTIFICATION} } }`);
    await Promise.all([liveSub.ready(), awayFeed.ready()]);

    const msg = await sendOk(owner, group, `Dinner at 8, @${mentioned.username} and @${outsider.username}? @nobody_here`);
    // only members are mentions
    expect(msg.mentions).toEqual([{ id: mentioned.id, username: mentioned.username }]);
    const pushed = (await awayFeed.next()).notificationAdded;
    expect(pushed).toMatchObject({ kind: 'MESSAGE', isRead: false, conversation: { id: group }, message: { id: msg.id } });
    expect(pushed.body).toContain('Dinner at 8');
    expect(pushed.title).toContain('Notify me');

    const kinds = async (u: TestUser) => (await notifications(u)).edges.map((e: any) => e.node.kind);
    expect(await kinds(away)).toEqual(['MESSAGE', 'ROOM_INVITE']);
    expect(await kinds(mentioned)).toEqual(['MENTION', 'ROOM_INVITE']);
    expect(await kinds(live)).toEqual(['ROOM_INVITE']); // watching live: no MESSAGE
    expect(await kinds(owner)).toEqual([]); // never the sender
    expect(await kinds(outsider)).toEqual([]);
    // the message carries its mentions in history too
    const page = (await q(away, `query($c: ID!) { messages(conversationId: $c, last: 1) { edges { node { mentions { id } } } } }`, { c: group })).messages;
    expect(page.edges[0].node.mentions).toEqual([{ id: mentioned.id }]);

    // read marks: one, then all; someone else's is NOT_FOUND
    const mine = await notifications(away);
    expect(mine.unreadCount).toBe(2);
    const first = mine.edges[0].node.id;
    expect(codeOf(await raw(owner, `mutation($id: ID!) { markNotificationRead(id: $id) { id } }`, { id: first }))).toBe('NOT_FOUND');
    expect((await q(away, `mutation($id: ID!) { markNotificationRead(id: $id) { id isRead } }`, { id: first })).markNotificationRead).toEqual({
      id: first,
      isRead: true,
    });
    expect((await notifications(away, true)).edges.map((e: any) => e.node.kind)).toEqual(['ROOM_INVITE']);
    expect((await q(away, `mutation { markAllNotificationsRead }`)).markAllNotificationsRead).toBe(1);
    expect((await q(away, `mutation { markAllNotificationsRead }`)).markAllNotificationsRead).toBe(0);
    expect(await notifications(away, true)).toMatchObject({ totalCount: 0, unreadCount: 0, edges: [] });
  });

  test('ROOM_INVITE when addMember adds you to a room, delivered live; none for joining by oneself', async () => {
    const [owner, invited, joiner] = await users(3, 'ni');
    const room = (await q(owner, `mutation { createRoom(input: { name: "Invites" }) { id } }`)).createRoom.id;
    const feed = sub(client(invited), `subscription { notificationAdded { kind title conversation { id } } }`);
    await feed.ready();
    await q(owner, `mutation($c: ID!, $u: ID!) { addMember(conversationId: $c, userId: $u) { id } }`, { c: room, u: invited.id });
    const pushed = (await feed.next()).notificationAdded;
    expect(pushed).toMatchObject({ kind: 'ROOM_INVITE', conversation: { id: room } });
    expect(pushed.title).toContain(owner.username);
    expect(pushed.title).toContain('Invites');
    expect((await notifications(invited)).edges.map((e: any) => [e.node.kind, e.node.conversation?.id])).toEqual([['ROOM_INVITE', room]]);
    await q(joiner, `mutation($id: ID!) { joinRoom(id: $id) { id } }`, { id: room });
    expect((await notifications(joiner)).totalCount).toBe(0);
    expect((await notifications(owner)).totalCount).toBe(0);
  });

  test('muted members get no MESSAGE notification; a member removed later no longer sees the conversation through it', async () => {
    const [owner, muted, removed] = await users(3, 'nm');
    const group = await createGroup(owner, [muted, removed], 'Muting');
    await q(owner, `mutation($c: ID!, $u: ID!) { muteMember(conversationId: $c, userId: $u, muted: true) { isMuted } }`, { c: group, u: muted.id });
    await sendOk(owner, group, 'announcement');
    expect((await notifications(muted)).edges.map((e: any) => e.node.kind)).toEqual(['ROOM_INVITE']);
    expect((await notifications(removed)).edges[0].node).toMatchObject({ kind: 'MESSAGE', conversation: { id: group } });
    await q(owner, `mutation($c: ID!, $u: ID!) { removeMember(conversationId: $c, userId: $u) }`, { c: group, u: removed.id });
    expect((await notifications(removed)).edges[0].node).toMatchObject({ kind: 'MESSAGE', conversation: null, message: null });
  });

  test('cursor pagination, newest first; bad cursor and page size are BAD_USER_INPUT', async () => {
    const [a, b] = await users(2, 'np');
    const direct = (await openDirect(a, b)).data.openDirectChat.id;
    for (let i = 1; i <= 5; i++) await sendOk(a, direct, `message ${i}`);
    const p1 = await notifications(b, false, 2);
    expect(p1.edges.map((e: any) => e.node.body)).toEqual(['message 5', 'message 4']);
    expect(p1).toMatchObject({ totalCount: 5, unreadCount: 5, pageInfo: { hasNextPage: true } });
    const p2 = await notifications(b, false, 10, p1.pageInfo.endCursor);
    expect(p2.edges.map((e: any) => e.node.body)).toEqual(['message 3', 'message 2', 'message 1']);
    expect(p2.pageInfo.hasNextPage).toBe(false);
    expect(codeOf(await raw(b, `{ notifications(after: "nope") { totalCount } }`))).toBe('BAD_USER_INPUT');
    expect(codeOf(await raw(b, `{ notifications(first: 1000) { totalCount } }`))).toBe('BAD_USER_INPUT');
  });

  test('staff notices (SYSTEM): staff only, delivered live', async () => {
    const [staff, user] = await users(2, 'ns');
    await server.orm.em.fork().execute('update "users" set "is_staff" = true where "id" = ?', [Number(staff.id)]);
    const feed = sub(client(user), `subscription { notificationAdded { kind title body } }`);
    await feed.ready();
    const NOTICE = `mutation($u: ID!) { sendNotice(userId: $u, title: "Maintenance", body: "Back at 10") { kind } }`;
    expect(codeOf(await raw(user, NOTICE, { u: staff.id }))).toBe('FORBIDDEN');
    expect((await q(staff, NOTICE, { u: user.id })).sendNotice.kind).toBe('SYSTEM');
    expect((await feed.next()).notificationAdded).toEqual({ kind: 'SYSTEM', title: 'Maintenance', body: 'Back at 10' });
  });

  test('a message in a large room is written with a bounded number of statements', async () => {
    const members = await users(40, 'big');
    const owner = members[0];
    const room = (await q(owner, `mutation { createRoom(input: { name: "Big room", maxMembers: 100 }) { id } }`)).createRoom.id;
    for (const m of members.slice(1)) await q(m, `mutation($id: ID!) { joinRoom(id: $id) { id } }`, { id: room });
    const statements: string[] = [];
    // Every statement passes the connection's executeQuery: em.execute's and the prepared ones (src/db/prepared.ts).
    const connection = server.orm.em.getConnection() as unknown as { executeQuery: (...args: any[]) => Promise<unknown> };
    const original = connection.executeQuery.bind(connection);
    const spy = jest.spyOn(connection, 'executeQuery').mockImplementation((...args: any[]) => {
      statements.push(String(args[0]));
      return original(...args);
    });
    try {
      await sendOk(owner, room, `hello @${members[1].username}`);
    } finally {
      spy.mockRestore();
    }
    const inserts = statements.filter((s) => /insert into "notifications"/.test(s));
    expect(inserts).toHaveLength(1);
    expect((await notifications(members[1])).edges[0].node.kind).toBe('MENTION');
    expect((await notifications(members[39])).edges[0].node.kind).toBe('MESSAGE');
  }, 60000);
});
