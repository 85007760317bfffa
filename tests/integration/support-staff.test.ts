/**
 * Support desk (seed 002) and staff access (seed 004), through the real server over HTTP and
 * graphql-ws: one SUPPORT thread per customer (supportConversation, sendMessage toSupport),
 * customers locked out of each other's threads, staff reading/answering without membership and
 * then getting their own read position, the staff inbox (conversations(kind: SUPPORT)) with
 * per-staff unread counts, messageAdded delivery to staff and customers, staff reading any
 * conversation and editing/deleting any message, setUserStaff, register never granting staff,
 * and regular users seeing no conversation they are not in (PUBLIC rooms only via publicRooms).
 */
import { User } from '../../src/domain/user/user.entity';
import { gql, gqlOk, registerUser, trackRealtime, type LiveSubscription, type TestUser } from '../support/client';
import { expectDenied, gqlAs } from '../support/graphql';
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
const SEND = `mutation($i: SendMessageInput!) { sendMessage(input: $i) { id conversationId seq content sender { id } } }`;
const CONV = `query($c: ID!) { conversation(id: $c) { id kind customer { id } viewerMembership { user { id } } unreadCount } }`;

async function staffUser(prefix = 'staff'): Promise<TestUser> {
  const u = await registerUser(server.url, prefix);
  await server.orm.em.fork().nativeUpdate(User, { id: Number(u.id) }, { isStaff: true });
  return u;
}
async function supportThread(customer: TestUser): Promise<string> {
  return (await q(customer, `{ supportConversation { id } }`)).supportConversation.id;
}
async function send(me: TestUser, conversationId: string, content: string): Promise<any> {
  return (await q(me, SEND, { i: { conversationId, content } })).sendMessage;
}
async function sendSupport(me: TestUser, content: string): Promise<any> {
  return (await q(me, SEND, { i: { toSupport: true, content } })).sendMessage;
}
async function openDirect(me: TestUser, other: TestUser): Promise<string> {
  return (await q(me, `mutation($u: ID) { openDirectChat(userId: $u) { id } }`, { u: other.id })).openDirectChat.id;
}
async function createGroup(owner: TestUser, members: TestUser[]): Promise<string> {
  return (await q(owner, `mutation($i: CreateGroupInput!) { createGroup(input: $i) { id } }`, { i: { name: 'g', memberIds: members.map((m) => m.id) } }))
    .createGroup.id;
}
async function createRoom(owner: TestUser, name: string, visibility: 'PUBLIC' | 'PRIVATE'): Promise<string> {
  return (await q(owner, `mutation($i: CreateRoomInput!) { createRoom(input: $i) { id } }`, { i: { name, visibility } })).createRoom.id;
}
async function conv(me: TestUser, c: string): Promise<any> {
  return (await q(me, CONV, { c })).conversation;
}
async function history(me: TestUser, c: string): Promise<string[]> {
  const page = (await q(me, `query($c: ID!) { messages(conversationId: $c, first: 100) { edges { node { content } } } }`, { c })).messages;
  return page.edges.map((e: any) => e.node.content);
}
const markRead = (me: TestUser, c: string) => q(me, `mutation($c: ID!) { markRead(conversationId: $c) { lastReadSeq unreadCount } }`, { c });

/** The extensions.code a subscription ended with (it must end with an error, without events). */
async function subscriptionError(s: LiveSubscription): Promise<string | undefined> {
  const ended = await Promise.race([s.done.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 3000))]);
  expect(ended).toBe(true);
  expect(s.events).toEqual([]);
  const flat = s.errors.flatMap((e) => (Array.isArray(e) ? e : [e])) as { extensions?: { code?: string } }[];
  return flat[0]?.extensions?.code;
}

describe('support desk (seed 002)', () => {
  test("supportConversation creates the customer's own thread once; staff get null", async () => {
    const customer = await registerUser(server.url, 'cust');
    const first = (await q(customer, `{ supportConversation { id kind customer { id } } }`)).supportConversation;
    expect(first).toMatchObject({ kind: 'SUPPORT', customer: { id: customer.id } });
    const second = (await q(customer, `{ supportConversation { id } }`)).supportConversation;
    expect(second.id).toBe(first.id);
    const staff = await staffUser();
    const r = await raw(staff, `{ supportConversation { id } }`);
    expect(r.errors).toBeUndefined();
    expect(r.data.supportConversation).toBeNull();
  });

  test("sendMessage toSupport goes to the caller's own thread, creating it; staff get BAD_USER_INPUT", async () => {
    const customer = await registerUser(server.url, 'cust');
    const m1 = await sendSupport(customer, 'help, please');
    expect(m1).toMatchObject({ seq: 1, sender: { id: customer.id } });
    const thread = await supportThread(customer);
    expect(m1.conversationId).toBe(thread);
    const m2 = await sendSupport(customer, 'still there?');
    expect(m2).toMatchObject({ conversationId: thread, seq: 2 });
    expect(await history(customer, thread)).toEqual(['help, please', 'still there?']);

    const staff = await staffUser();
    expectDenied(await raw(staff, SEND, { i: { toSupport: true, content: 'staff asking' } }), 'sendMessage', 'BAD_USER_INPUT');
    expect(await history(customer, thread)).toEqual(['help, please', 'still there?']);
  });

  test('another customer gets NOT_FOUND on the thread, over HTTP and graphql-ws', async () => {
    const owner = await registerUser(server.url, 'cust');
    const other = await registerUser(server.url, 'cust');
    const m = await sendSupport(owner, 'my private question');
    const thread = m.conversationId;
    expectDenied(await raw(other, `query($c: ID!) { conversation(id: $c) { id } }`, { c: thread }), 'conversation', 'NOT_FOUND');
    expectDenied(await raw(other, `query($c: ID!) { messages(conversationId: $c) { totalCount } }`, { c: thread }), 'messages', 'NOT_FOUND');
    expectDenied(await raw(other, `query($m: ID!) { message(id: $m) { content } }`, { m: m.id }), 'message', 'NOT_FOUND');
    expectDenied(await raw(other, SEND, { i: { conversationId: thread, content: 'butting in' } }), 'sendMessage', 'NOT_FOUND');
    const s = sub(client(other), `subscription($c: ID) { messageAdded(conversationId: $c) { id } }`, { c: thread });
    expect(await subscriptionError(s)).toBe('NOT_FOUND');
    // the other customer's own thread is a different one; the owner's is untouched
    expect(await supportThread(other)).not.toBe(thread);
    expect(await history(owner, thread)).toEqual(['my private question']);
    const own = await q(other, `query { conversations(kind: SUPPORT) { totalCount edges { node { id } } } }`);
    expect(own.conversations.edges.map((e: any) => e.node.id)).not.toContain(thread);
  });

  test('staff read and answer without being members, then have their own membership and unread count', async () => {
    const customer = await registerUser(server.url, 'cust');
    const staffA = await staffUser();
    const staffB = await staffUser();
    await sendSupport(customer, 'q1');
    const thread = (await sendSupport(customer, 'q2')).conversationId;

    for (const staff of [staffA, staffB]) {
      expect(await conv(staff, thread)).toEqual({ id: thread, kind: 'SUPPORT', customer: { id: customer.id }, viewerMembership: null, unreadCount: 2 });
      expect(await history(staff, thread)).toEqual(['q1', 'q2']);
    }
    // reading alone does not make a membership
    expect((await conv(staffA, thread)).viewerMembership).toBeNull();

    // staff A answers (subscribed to the thread as a non-member first)
    const live = sub(client(customer), `subscription($c: ID) { messageAdded(conversationId: $c) { content sender { id } } }`, { c: thread });
    const staffLive = sub(client(staffB), `subscription($c: ID) { messageAdded(conversationId: $c) { content } }`, { c: thread });
    await Promise.all([live.ready(), staffLive.ready()]);
    const answer = await send(staffA, thread, 'how can I help?');
    expect(answer).toMatchObject({ conversationId: thread, seq: 3, sender: { id: staffA.id } });
    expect((await live.next()).messageAdded).toEqual({ content: 'how can I help?', sender: { id: staffA.id } });
    expect((await staffLive.next()).messageAdded.content).toBe('how can I help?');

    const a = await conv(staffA, thread);
    expect(a.viewerMembership).toEqual({ user: { id: staffA.id } });
    expect(a.unreadCount).toBe(0);
    const b = await conv(staffB, thread);
    // B never opened it: every message but their own is unread, staff A's answer included
    // (the same count a membership read from seq 0 gives)
    expect(b).toMatchObject({ viewerMembership: null, unreadCount: 3 });

    // staff B marks read: a membership of their own, read up to the end
    expect(await markRead(staffB, thread)).toEqual({ markRead: { lastReadSeq: 3, unreadCount: 0 } });
    expect(await conv(staffB, thread)).toMatchObject({ viewerMembership: { user: { id: staffB.id } }, unreadCount: 0 });

    await sendSupport(customer, 'q3');
    expect((await conv(staffA, thread)).unreadCount).toBe(1);
    expect((await conv(staffB, thread)).unreadCount).toBe(1);
    await markRead(staffA, thread);
    expect((await conv(staffA, thread)).unreadCount).toBe(0);
    expect((await conv(staffB, thread)).unreadCount).toBe(1);
    expect(await history(customer, thread)).toEqual(['q1', 'q2', 'how can I help?', 'q3']);
  });

  test('conversations(kind: SUPPORT) is the staff inbox: every thread, newest activity first, unread per staff user', async () => {
    const [c1, c2, c3] = await Promise.all([1, 2, 3].map(() => registerUser(server.url, 'inbox')));
    const t1 = (await sendSupport(c1, 'c1 first')).conversationId;
    const t2 = (await sendSupport(c2, 'c2 first')).conversationId;
    await sendSupport(c2, 'c2 second');
    const t3 = (await sendSupport(c3, 'c3 first')).conversationId;
    await sendSupport(c1, 'c1 again'); // t1 is now the newest
    const staffA = await staffUser();
    const staffB = await staffUser();

    const inbox = async (staff: TestUser) => {
      const page = (await q(staff, `{ conversations(kind: SUPPORT, first: 100) { totalCount edges { node { id kind unreadCount customer { id } } } } }`))
        .conversations;
      expect(page.edges.every((e: any) => e.node.kind === 'SUPPORT')).toBe(true);
      expect(page.totalCount).toBe(page.edges.length);
      return page.edges.map((e: any) => e.node).filter((n: any) => [t1, t2, t3].includes(n.id));
    };
    expect(await inbox(staffA)).toEqual([
      { id: t1, kind: 'SUPPORT', unreadCount: 2, customer: { id: c1.id } },
      { id: t3, kind: 'SUPPORT', unreadCount: 1, customer: { id: c3.id } },
      { id: t2, kind: 'SUPPORT', unreadCount: 2, customer: { id: c2.id } },
    ]);

    await markRead(staffA, t2);
    const a = await inbox(staffA);
    const b = await inbox(staffB);
    expect(a.find((n: any) => n.id === t2).unreadCount).toBe(0);
    expect(b.find((n: any) => n.id === t2).unreadCount).toBe(2);
    expect(b.map((n: any) => n.unreadCount)).toEqual([2, 1, 2]);

    // a customer's SUPPORT list holds their own thread only
    const mine = (await q(c2, `{ conversations(kind: SUPPORT) { totalCount edges { node { id } } } }`)).conversations;
    expect(mine).toEqual({ totalCount: 1, edges: [{ node: { id: t2 } }] });
  });

  test("messageAdded without conversationId: staff get every SUPPORT thread but not others' DIRECT or GROUP; customers their own", async () => {
    const [alice, bob, carol] = await Promise.all([1, 2, 3].map(() => registerUser(server.url, 'peer')));
    const [cust1, cust2] = await Promise.all([1, 2].map(() => registerUser(server.url, 'live')));
    const direct = await openDirect(alice, bob);
    const group = await createGroup(alice, [bob, carol]);
    const t1 = await supportThread(cust1);
    const t2 = await supportThread(cust2);
    const staff = await staffUser();

    const QUERY = `subscription { messageAdded { conversationId content } }`;
    const staffAll = sub(client(staff), QUERY);
    const cust1All = sub(client(cust1), QUERY);
    await Promise.all([staffAll.ready(), cust1All.ready()]);

    await send(alice, direct, 'private between alice and bob');
    await send(bob, group, 'group chatter');
    await sendSupport(cust2, 'cust2 needs help');
    await sendSupport(cust1, 'cust1 needs help');
    await send(staff, t1, 'staff answers cust1');

    expect((await staffAll.next()).messageAdded).toEqual({ conversationId: t2, content: 'cust2 needs help' });
    expect((await staffAll.next()).messageAdded).toEqual({ conversationId: t1, content: 'cust1 needs help' });
    expect((await staffAll.next()).messageAdded).toEqual({ conversationId: t1, content: 'staff answers cust1' });
    expect((await cust1All.next()).messageAdded).toEqual({ conversationId: t1, content: 'cust1 needs help' });
    expect((await cust1All.next()).messageAdded).toEqual({ conversationId: t1, content: 'staff answers cust1' });
    // Nothing else came in between: a control message in cust1's thread is the next event for both.
    await sendSupport(cust1, 'control');
    expect(await staffAll.until(() => true)).toEqual([{ messageAdded: { conversationId: t1, content: 'control' } }]);
    expect(await cust1All.until(() => true)).toEqual([{ messageAdded: { conversationId: t1, content: 'control' } }]);
    expect(staffAll.events.map((e: any) => e.messageAdded.conversationId)).not.toContain(direct);
    expect(staffAll.events.map((e: any) => e.messageAdded.conversationId)).not.toContain(group);
    expect([staffAll.events.length, cust1All.events.length]).toEqual([4, 3]);

    // staff can still read those by id
    expect(await history(staff, direct)).toEqual(['private between alice and bob']);
    expect(await history(staff, group)).toContain('group chatter');
  });
});

describe('staff access (seed 004)', () => {
  test('staff read any conversation as a non-member; regular non-members get NOT_FOUND', async () => {
    const [alice, bob, outsider] = await Promise.all([1, 2, 3].map(() => registerUser(server.url, 'rd')));
    const staff = await staffUser();
    const direct = await openDirect(alice, bob);
    await send(alice, direct, 'direct secret');
    const group = await createGroup(alice, [bob]);
    await send(bob, group, 'group secret');
    const privateRoom = await createRoom(alice, `private-${alice.id}`, 'PRIVATE');
    await send(alice, privateRoom, 'room secret');

    for (const [kind, c, text] of [
      ['DIRECT', direct, 'direct secret'],
      ['GROUP', group, 'group secret'],
      ['ROOM', privateRoom, 'room secret'],
    ]) {
      const seen = (await q(staff, `query($c: ID!) { conversation(id: $c) { id kind viewerMembership { id } } }`, { c })).conversation;
      expect(seen).toEqual({ id: c, kind, viewerMembership: null });
      expect(await history(staff, c)).toContain(text);
      expect((await q(staff, `query($c: ID!) { conversation(id: $c) { viewerMembership { id } } }`, { c })).conversation.viewerMembership).toBeNull();

      expectDenied(await raw(outsider, `query($c: ID!) { conversation(id: $c) { id } }`, { c }), 'conversation', 'NOT_FOUND');
      expectDenied(await raw(outsider, `query($c: ID!) { messages(conversationId: $c) { totalCount } }`, { c }), 'messages', 'NOT_FOUND');
    }
  });

  test("a PUBLIC room's metadata is visible to a non-member through publicRooms, its messages are not", async () => {
    const owner = await registerUser(server.url, 'pub');
    const stranger = await registerUser(server.url, 'pub');
    const name = `public-${owner.id}`;
    const room = await createRoom(owner, name, 'PUBLIC');
    await send(owner, room, 'members only talk');
    const found = (
      await q(stranger, `query($s: String) { publicRooms(search: $s) { edges { node { id name kind visibility memberCount viewerMembership { id } } } } }`, {
        s: name,
      })
    ).publicRooms;
    expect(found.edges.map((e: any) => e.node)).toEqual([{ id: room, name, kind: 'ROOM', visibility: 'PUBLIC', memberCount: 1, viewerMembership: null }]);
    // metadata only: no message content, no member list, no unread count
    const content = (
      await q(stranger, `query($s: String) { publicRooms(search: $s) { edges { node { lastMessage { content } members { user { id } } unreadCount } } } }`, {
        s: name,
      })
    ).publicRooms;
    expect(content.edges.map((e: any) => e.node)).toEqual([{ lastMessage: null, members: [], unreadCount: 0 }]);
    const asMember = (
      await q(owner, `query($s: String) { publicRooms(search: $s) { edges { node { lastMessage { content } members { user { id } } } } } }`, { s: name })
    ).publicRooms;
    expect(asMember.edges[0].node).toEqual({ lastMessage: { content: 'members only talk' }, members: [{ user: { id: owner.id } }] });
    expectDenied(await raw(stranger, `query($c: ID!) { messages(conversationId: $c) { totalCount } }`, { c: room }), 'messages', 'NOT_FOUND');
    expectDenied(await raw(stranger, SEND, { i: { conversationId: room, content: 'not joined' } }), 'sendMessage', 'NOT_FOUND');
    // conversation(id) of a PUBLIC room for a non-member: the server treats it as any conversation they are not in
    expectDenied(await raw(stranger, `query($c: ID!) { conversation(id: $c) { id } }`, { c: room }), 'conversation', 'NOT_FOUND');
  });

  test("staff edit and delete anyone's message; a member who is not the sender gets FORBIDDEN", async () => {
    const [alice, bob] = await Promise.all([1, 2].map(() => registerUser(server.url, 'mod')));
    const staff = await staffUser();
    const direct = await openDirect(alice, bob);
    const m = await send(alice, direct, 'original');
    const EDIT = `mutation($id: ID!, $t: String!) { editMessage(id: $id, content: $t) { id content isEdited } }`;
    const DELETE = `mutation($id: ID!) { deleteMessage(id: $id) { id isDeleted content } }`;

    expectDenied(await raw(bob, EDIT, { id: m.id, t: 'bob was here' }), 'editMessage', 'FORBIDDEN');
    expect((await q(staff, EDIT, { id: m.id, t: 'moderated' })).editMessage).toEqual({ id: m.id, content: 'moderated', isEdited: true });
    expect(await history(alice, direct)).toEqual(['moderated']);
    expect((await q(staff, DELETE, { id: m.id })).deleteMessage).toEqual({ id: m.id, isDeleted: true, content: '' });
    const seen = (await q(bob, `query($id: ID!) { message(id: $id) { isDeleted } }`, { id: m.id })).message;
    expect(seen).toEqual({ isDeleted: true });

    // in a support thread too
    const customer = await registerUser(server.url, 'mod');
    const asked = await sendSupport(customer, 'rude words');
    expect((await q(staff, EDIT, { id: asked.id, t: '[removed]' })).editMessage.content).toBe('[removed]');
  });

  test('setUserStaff: refused to regular users, staff grant and revoke, and the grant takes effect', async () => {
    const [alice, bob, regular, grantee] = await Promise.all([1, 2, 3, 4].map(() => registerUser(server.url, 'grant')));
    const staff = await staffUser();
    const direct = await openDirect(alice, bob);
    await send(alice, direct, 'between us');
    const SET = `mutation($u: ID!, $s: Boolean!) { setUserStaff(userId: $u, isStaff: $s) { id isStaff } }`;
    const CAN_READ = `query($c: ID!) { conversation(id: $c) { id viewerMembership { id } } }`;
    const isStaff = async (u: TestUser) => (await q(u, `{ me { isStaff } }`)).me.isStaff;

    expectDenied(await raw(regular, SET, { u: regular.id, s: true }), 'setUserStaff', 'FORBIDDEN');
    expectDenied(await raw(regular, SET, { u: grantee.id, s: true }), 'setUserStaff', 'FORBIDDEN');
    expect(await isStaff(regular)).toBe(false);
    expect(await isStaff(grantee)).toBe(false);
    expectDenied(await raw(grantee, CAN_READ, { c: direct }), 'conversation', 'NOT_FOUND');

    expect((await q(staff, SET, { u: grantee.id, s: true })).setUserStaff).toEqual({ id: grantee.id, isStaff: true });
    expect(await isStaff(grantee)).toBe(true);
    expect((await q(grantee, CAN_READ, { c: direct })).conversation).toEqual({ id: direct, viewerMembership: null });
    expect(await history(grantee, direct)).toEqual(['between us']);

    expect((await q(staff, SET, { u: grantee.id, s: false })).setUserStaff).toEqual({ id: grantee.id, isStaff: false });
    expectDenied(await raw(grantee, CAN_READ, { c: direct }), 'conversation', 'NOT_FOUND');
  });

  test('register never makes staff, not even with an isStaff field', async () => {
    const REGISTER = `mutation($input: RegisterInput!) { register(input: $input) { user { id isStaff } } }`;
    const name = `nostaff_${process.pid}`;
    const sneaky = await gql(server.url, REGISTER, { input: { username: name, password: 'correct-horse-battery', isStaff: true } });
    expectDenied(sneaky, 'register', 'BAD_USER_INPUT');
    const login = await gql(server.url, `mutation($u: String!) { login(username: $u, password: "correct-horse-battery") { user { id } } }`, { u: name });
    expect(login.data?.login ?? null).toBeNull(); // nothing was created

    const plain = (await gqlOk(server.url, REGISTER, { input: { username: `${name}_ok`, password: 'correct-horse-battery' } })).register;
    expect(plain.user.isStaff).toBe(false);
    const user = await registerUser(server.url, 'plain');
    expect((await q(user, `{ me { isStaff } }`)).me.isStaff).toBe(false);
    expect((await q(user, `{ supportConversation { kind } }`)).supportConversation).toEqual({ kind: 'SUPPORT' });
  });
});
