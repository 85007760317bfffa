/**
 * The whole chat story through the real server: HTTP for queries and mutations, graphql-ws for
 * subscriptions. Every test registers its own users, so tests share one server and database.
 */
import { codeOf, finishedCalls, gql, registerUser, trackRealtime, type TestUser } from '../support/client';
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

// ---- GraphQL helpers --------------------------------------------------------------------------

const MSG = `id conversationId seq clientMessageId kind content isEdited isDeleted createdAt editedAt deletedAt
  sender { id username } replyTo { id seq content }`;
const CONV = `id kind title name visibility maxMembers memberCount unreadCount lastActivityAt
  lastMessage { id seq content }
  viewerMembership { id role lastReadSeq unreadCount user { id } }
  members { id role lastReadSeq unreadCount user { id username } }`;

const { q, raw } = gqlAs(() => server.url);

async function openDirect(me: TestUser, other: TestUser): Promise<any> {
  return (await q(me, `mutation($u: ID) { openDirectChat(userId: $u) { ${CONV} } }`, { u: other.id })).openDirectChat;
}
async function send(me: TestUser, conversationId: string, content: string, extra: Record<string, unknown> = {}): Promise<any> {
  return (await q(me, `mutation($i: SendMessageInput!) { sendMessage(input: $i) { ${MSG} } }`, { i: { conversationId, content, ...extra } })).sendMessage;
}
async function history(me: TestUser, conversationId: string, args: { first?: number; after?: string; last?: number; before?: string } = {}): Promise<any> {
  return (
    await q(
      me,
      `query($c: ID!, $first: Int, $after: String, $last: Int, $before: String) {
    messages(conversationId: $c, first: $first, after: $after, last: $last, before: $before) {
      totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { cursor node { ${MSG} } }
    } }`,
      { c: conversationId, ...args },
    )
  ).messages;
}
async function conversation(me: TestUser, id: string): Promise<any> {
  return (await q(me, `query($id: ID!) { conversation(id: $id) { ${CONV} } }`, { id })).conversation;
}
async function unreadSummary(me: TestUser): Promise<any> {
  return (await q(me, `{ unreadSummary { total byConversation { conversation { id } count } bySender { sender { id } count } } }`)).unreadSummary;
}
async function markRead(me: TestUser, conversationId: string, upToSeq?: number): Promise<any> {
  return (
    await q(me, `mutation($c: ID!, $s: Int) { markRead(conversationId: $c, upToSeq: $s) { id lastReadSeq lastReadAt unreadCount user { id } } }`, {
      c: conversationId,
      s: upToSeq,
    })
  ).markRead;
}
const seqs = (page: any) => page.edges.map((e: any) => e.node.seq);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

// ---- the story ----------------------------------------------------------------------------------

describe('direct chat story', () => {
  test('open, live delivery, history, edit, delete, unread counts and read receipts', async () => {
    const alice = await registerUser(server.url, 'alice', { firstName: 'Alice', lastName: 'Liddell' });
    const bob = await registerUser(server.url, 'bob', { firstName: 'Bob', lastName: 'Builder' });

    // openDirectChat is get-or-create: twice from alice, once from bob, one conversation.
    const first = await openDirect(alice, bob);
    const again = await openDirect(alice, bob);
    const fromBob = await openDirect(bob, alice);
    expect(first.kind).toBe('DIRECT');
    expect(again.id).toBe(first.id);
    expect(fromBob.id).toBe(first.id);
    expect(first.title).toBe('Bob Builder');
    expect(fromBob.title).toBe('Alice Liddell');
    expect(first.memberCount).toBe(2);
    expect(first.members.map((m: any) => m.user.id).sort()).toEqual([alice.id, bob.id].sort());
    expect(first.lastMessage).toBeNull();
    const cid = first.id;

    const bobWs = client(bob);
    const added = sub(bobWs, `subscription($c: ID) { messageAdded(conversationId: $c) { ${MSG} } }`, { c: cid });
    const edited = sub(bobWs, `subscription($c: ID) { messageEdited(conversationId: $c) { ${MSG} } }`, { c: cid });
    const deleted = sub(bobWs, `subscription($c: ID) { messageDeleted(conversationId: $c) { conversationId messageId seq deletedAt } }`, { c: cid });
    const aliceWs = client(alice);
    const receipts = sub(aliceWs, `subscription($c: ID!) { readReceipt(conversationId: $c) { conversationId user { id } lastReadSeq readAt } }`, { c: cid });
    await Promise.all([added.ready(), edited.ready(), deleted.ready(), receipts.ready()]);

    // alice sends over HTTP, bob receives over WebSocket
    const m1 = await send(alice, cid, 'hello bob', { clientMessageId: 'story-1' });
    expect(m1).toMatchObject({
      seq: 1,
      content: 'hello bob',
      conversationId: cid,
      kind: 'TEXT',
      clientMessageId: 'story-1',
      isEdited: false,
      isDeleted: false,
    });
    const e1 = (await added.next()).messageAdded;
    expect(e1).toMatchObject({ id: m1.id, seq: 1, content: 'hello bob', conversationId: cid, sender: { id: alice.id, username: alice.username } });

    // bob replies, alice sends two more
    const m2 = await send(bob, cid, 'hi alice', { replyToId: m1.id });
    expect(m2.seq).toBe(2);
    expect(m2.replyTo).toEqual({ id: m1.id, seq: 1, content: 'hello bob' });
    const m3 = await send(alice, cid, 'oops, wrong chat');
    const m4 = await send(alice, cid, 'how are you?');
    expect([m3.seq, m4.seq]).toEqual([3, 4]);
    const live = [(await added.next()).messageAdded, (await added.next()).messageAdded, (await added.next()).messageAdded];
    expect(live.map((m) => [m.seq, m.content, m.sender.id])).toEqual([
      [2, 'hi alice', bob.id],
      [3, 'oops, wrong chat', alice.id],
      [4, 'how are you?', alice.id],
    ]);
    expect(live[0].replyTo).toEqual({ id: m1.id, seq: 1, content: 'hello bob' });

    // history
    let page = await history(bob, cid);
    expect(page.totalCount).toBe(4);
    expect(seqs(page)).toEqual([1, 2, 3, 4]);
    expect(page.edges.map((e: any) => e.node.sender.id)).toEqual([alice.id, bob.id, alice.id, alice.id]);
    expect(page.edges[1].node.replyTo).toEqual({ id: m1.id, seq: 1, content: 'hello bob' });
    expect(page.edges[0].node.replyTo).toBeNull();
    expect(page.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: false });
    expect(page.pageInfo.startCursor).toBe(page.edges[0].cursor);
    expect(page.pageInfo.endCursor).toBe(page.edges[3].cursor);

    // edit: bob's messageEdited subscription gets the new content
    const e = (await q(alice, `mutation($id: ID!) { editMessage(id: $id, content: "hello, bob!") { ${MSG} } }`, { id: m1.id })).editMessage;
    expect(e).toMatchObject({ id: m1.id, seq: 1, content: 'hello, bob!', isEdited: true, isDeleted: false });
    expect(e.editedAt).toMatch(ISO_MS);
    const editEvent = (await edited.next()).messageEdited;
    expect(editEvent).toMatchObject({
      id: m1.id,
      seq: 1,
      conversationId: cid,
      content: 'hello, bob!',
      isEdited: true,
      editedAt: e.editedAt,
      sender: { id: alice.id },
    });

    // delete: bob's messageDeleted subscription gets the tombstone event
    const d = (await q(alice, `mutation($id: ID!) { deleteMessage(id: $id) { ${MSG} } }`, { id: m3.id })).deleteMessage;
    expect(d).toMatchObject({ id: m3.id, seq: 3, content: '', isDeleted: true });
    expect(d.deletedAt).toMatch(ISO_MS);
    const delEvent = (await deleted.next()).messageDeleted;
    expect(delEvent).toEqual({ conversationId: cid, messageId: m3.id, seq: 3, deletedAt: d.deletedAt });
    page = await history(bob, cid);
    expect(page.totalCount).toBe(4);
    expect(seqs(page)).toEqual([1, 2, 3, 4]);
    expect(page.edges[2].node).toMatchObject({ id: m3.id, seq: 3, content: '', isDeleted: true, deletedAt: d.deletedAt, sender: { id: alice.id } });
    expect(page.edges[0].node).toMatchObject({ content: 'hello, bob!', isEdited: true });
    const single = (await q(bob, `query($id: ID!) { message(id: $id) { ${MSG} } }`, { id: m3.id })).message;
    expect(single).toMatchObject({ content: '', isDeleted: true });
    // a deleted message cannot be edited
    expect(codeOf(await raw(alice, `mutation($id: ID!) { editMessage(id: $id, content: "back") { id } }`, { id: m3.id }))).toBe('BAD_USER_INPUT');
    expect(edited.events).toHaveLength(1);

    // Writing reads: each sender's read position moved up to their own message, with a receipt.
    const sendReceipts = [
      (await receipts.next()).readReceipt,
      (await receipts.next()).readReceipt,
      (await receipts.next()).readReceipt,
      (await receipts.next()).readReceipt,
    ];
    expect(sendReceipts.map((r) => [r.user.id, r.lastReadSeq])).toEqual([
      [alice.id, 1],
      [bob.id, 2],
      [alice.id, 3],
      [alice.id, 4],
    ]);

    // unread: bob read up to m2 by replying, so only m4 (m3 is deleted); alice wrote last, so none
    let bc = await conversation(bob, cid);
    expect(bc.unreadCount).toBe(1);
    expect(bc.viewerMembership).toMatchObject({ user: { id: bob.id }, lastReadSeq: 2, unreadCount: 1 });
    expect(bc.lastMessage).toEqual({ id: m4.id, seq: 4, content: 'how are you?' });
    const ac = await conversation(alice, cid);
    expect(ac.unreadCount).toBe(0);
    const byUser = Object.fromEntries(ac.members.map((m: any) => [m.user.id, m.unreadCount]));
    expect(byUser).toEqual({ [alice.id]: 0, [bob.id]: 1 });
    let summary = await unreadSummary(bob);
    expect(summary).toEqual({ total: 1, byConversation: [{ conversation: { id: cid }, count: 1 }], bySender: [{ sender: { id: alice.id }, count: 1 }] });
    expect(await unreadSummary(alice)).toEqual({ total: 0, byConversation: [], bySender: [] });

    // markRead up to a seq: alice gets a read receipt (seq 3 is deleted, so m4 stays unread)
    let mr = await markRead(bob, cid, 3);
    expect(mr).toMatchObject({ lastReadSeq: 3, unreadCount: 1, user: { id: bob.id } });
    expect(mr.lastReadAt).toMatch(ISO_MS);
    const r1 = (await receipts.next()).readReceipt;
    expect(r1).toMatchObject({ conversationId: cid, user: { id: bob.id }, lastReadSeq: 3 });
    expect(r1.readAt).toMatch(ISO_MS);
    expect((await conversation(bob, cid)).unreadCount).toBe(1);
    expect((await unreadSummary(bob)).total).toBe(1);

    // never backward, and no receipt when nothing moved
    mr = await markRead(bob, cid, 0);
    expect(mr.lastReadSeq).toBe(3);
    expect((await conversation(bob, cid)).viewerMembership.lastReadSeq).toBe(3);

    // default: everything up to the newest; this receipt is the next one (none came for the no-op above)
    mr = await markRead(bob, cid);
    expect(mr).toMatchObject({ lastReadSeq: 4, unreadCount: 0 });
    expect((await receipts.until(() => true))[0].readReceipt).toMatchObject({ conversationId: cid, user: { id: bob.id }, lastReadSeq: 4 });
    bc = await conversation(bob, cid);
    expect(bc.unreadCount).toBe(0);
    expect(bc.viewerMembership).toMatchObject({ lastReadSeq: 4, unreadCount: 0 });
    summary = await unreadSummary(bob);
    expect(summary).toEqual({ total: 0, byConversation: [], bySender: [] });

    // alice has nothing to read: marking is a no-op without a receipt
    expect((await markRead(alice, cid)).lastReadSeq).toBe(4);
    expect((await unreadSummary(alice)).total).toBe(0);
    // and new messages count again
    const m5 = await send(alice, cid, 'still there?');
    expect((await conversation(bob, cid)).unreadCount).toBe(1);
    expect((await conversation(alice, cid)).unreadCount).toBe(0);
    // the next receipt is the one of alice's send (none came for her no-op mark)
    expect((await receipts.until(() => true)).map((r) => [r.readReceipt.user.id, r.readReceipt.lastReadSeq])).toEqual([[alice.id, m5.seq]]);
    // the only new message bob saw live since m4 is m5: the edit and the delete added none
    expect((await added.until(() => true)).map((m) => [m.messageAdded.id, m.messageAdded.seq])).toEqual([[m5.id, 5]]);
  });

  test("unreadSummary spans conversations and senders, counting only others' live messages", async () => {
    const me = await registerUser(server.url, 'sum');
    const x = await registerUser(server.url, 'sumx');
    const y = await registerUser(server.url, 'sumy');
    const dx = (await openDirect(x, me)).id;
    const dy = (await openDirect(y, me)).id;
    const g = (await q(x, `mutation($i: CreateGroupInput!) { createGroup(input: $i) { id } }`, { i: { name: 'sum group', memberIds: [me.id, y.id] } }))
      .createGroup.id;
    await send(me, g, 'mine');
    await send(me, dx, 'mine too');
    await send(x, dx, 'x1');
    await send(x, dx, 'x2');
    await send(x, dx, 'x3');
    await send(y, dy, 'y1');
    await send(x, g, 'gx');
    await send(y, g, 'gy');
    const gone = await send(y, g, 'gy deleted');
    await q(y, `mutation($id: ID!) { deleteMessage(id: $id) { id } }`, { id: gone.id });
    const s = await unreadSummary(me);
    expect(s.total).toBe(6);
    const byConv = Object.fromEntries(s.byConversation.map((r: any) => [r.conversation.id, r.count]));
    expect(byConv).toEqual({ [dx]: 3, [dy]: 1, [g]: 2 });
    const bySender = Object.fromEntries(s.bySender.map((r: any) => [r.sender.id, r.count]));
    expect(bySender).toEqual({ [x.id]: 4, [y.id]: 2 });
    expect((await conversation(me, g)).unreadCount).toBe(2);
    // replying reads what came before it
    await send(me, dx, 'reply to x');
    expect((await conversation(me, dx)).unreadCount).toBe(0);
    expect((await unreadSummary(me)).total).toBe(3);
  });
});

describe('user directory', () => {
  test('user by id or username (any letter case), null when unknown; exactly one of the two', async () => {
    const me = await registerUser(server.url, 'dirme');
    const other = await registerUser(server.url, 'DirOther', { firstName: 'Dora', lastName: 'Explorer' });
    const USER = `query($id: ID, $u: String) { user(id: $id, username: $u) { id username fullName } }`;
    const want = { id: other.id, username: other.username, fullName: 'Dora Explorer' };
    expect((await q(me, USER, { id: other.id })).user).toEqual(want);
    expect((await q(me, USER, { u: other.username.toLowerCase() })).user).toEqual(want);
    expect((await q(me, USER, { u: ` ${other.username.toUpperCase()} ` })).user).toEqual(want);
    expect((await q(me, USER, { u: 'nobody_by_that_name' })).user).toBeNull();
    expect((await q(me, USER, { id: '987654321' })).user).toBeNull();
    expect(codeOf(await raw(me, USER, {}))).toBe('BAD_USER_INPUT');
    expect(codeOf(await raw(me, USER, { id: other.id, u: other.username }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await gql(server.url, USER, { id: other.id }))).toBe('UNAUTHENTICATED');
  });

  test('users(search) matches username, first and last name, by username, with cursor pagination', async () => {
    const tag = `zq${process.pid}`;
    const me = await registerUser(server.url, 'dirsearch');
    const a = await registerUser(server.url, `${tag}a`);
    const b = await registerUser(server.url, 'plainb', { firstName: `Ann${tag}` });
    const c = await registerUser(server.url, 'plainc', { lastName: `${tag.toUpperCase()}son` });
    await registerUser(server.url, 'unrelated');
    const USERS = `query($s: String, $n: Int, $after: String) { users(search: $s, first: $n, after: $after) {
      totalCount pageInfo { hasNextPage endCursor } edges { node { id username } } } }`;
    const all = (await q(me, USERS, { s: tag, n: 10 })).users;
    const expected = [a, b, c].sort((x, y) => x.username.toLowerCase().localeCompare(y.username.toLowerCase())).map((u) => u.id);
    expect(all.totalCount).toBe(3);
    expect(all.edges.map((e: any) => e.node.id)).toEqual(expected);
    expect(all.pageInfo.hasNextPage).toBe(false);

    const p1 = (await q(me, USERS, { s: tag, n: 2 })).users;
    expect(p1.edges.map((e: any) => e.node.id)).toEqual(expected.slice(0, 2));
    expect(p1.pageInfo.hasNextPage).toBe(true);
    const p2 = (await q(me, USERS, { s: tag, n: 2, after: p1.pageInfo.endCursor })).users;
    expect(p2.edges.map((e: any) => e.node.id)).toEqual(expected.slice(2));
    expect(p2.pageInfo.hasNextPage).toBe(false);

    // LIKE wildcards are literal
    expect((await q(me, USERS, { s: '%', n: 10 })).users.totalCount).toBe(0);
    expect(codeOf(await raw(me, USERS, { s: tag, n: 101 }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await raw(me, USERS, { s: tag, after: 'not-a-cursor' }))).toBe('BAD_USER_INPUT');
  });
});

describe('sendMessage with recipientId', () => {
  test('creates the DIRECT on first use and reuses it afterwards', async () => {
    const carol = await registerUser(server.url, 'carol');
    const dave = await registerUser(server.url, 'dave');
    const m1 = (
      await q(carol, `mutation($i: SendMessageInput!) { sendMessage(input: $i) { ${MSG} } }`, { i: { recipientId: dave.id, content: 'first contact' } })
    ).sendMessage;
    expect(m1.seq).toBe(1);
    const c = await conversation(dave, m1.conversationId);
    expect(c.kind).toBe('DIRECT');
    expect(c.members.map((m: any) => m.user.id).sort()).toEqual([carol.id, dave.id].sort());
    expect((await openDirect(carol, dave)).id).toBe(m1.conversationId);
    expect((await openDirect(dave, carol)).id).toBe(m1.conversationId);

    // reused, from either side
    const m2 = (await q(carol, `mutation($i: SendMessageInput!) { sendMessage(input: $i) { ${MSG} } }`, { i: { recipientId: dave.id, content: 'again' } }))
      .sendMessage;
    const m3 = (await q(dave, `mutation($i: SendMessageInput!) { sendMessage(input: $i) { ${MSG} } }`, { i: { recipientId: carol.id, content: 'back' } }))
      .sendMessage;
    expect([m2.conversationId, m3.conversationId]).toEqual([m1.conversationId, m1.conversationId]);
    expect([m2.seq, m3.seq]).toEqual([2, 3]);
    const list = (await q(dave, `{ conversations(kind: DIRECT) { totalCount edges { node { id } } } }`)).conversations;
    expect(list.totalCount).toBe(1);
    expect(list.edges[0].node.id).toBe(m1.conversationId);

    // exactly one of conversationId and recipientId
    const both = await raw(carol, `mutation($i: SendMessageInput!) { sendMessage(input: $i) { id } }`, {
      i: { recipientId: dave.id, conversationId: m1.conversationId, content: 'x' },
    });
    expect(codeOf(both)).toBe('BAD_USER_INPUT');
    const neither = await raw(carol, `mutation($i: SendMessageInput!) { sendMessage(input: $i) { id } }`, { i: { content: 'x' } });
    expect(codeOf(neither)).toBe('BAD_USER_INPUT');
    expect((await history(carol, m1.conversationId)).totalCount).toBe(3);
  });
});

describe('get-or-create under concurrency', () => {
  test('openDirectChat from both sides at once gives one conversation', async () => {
    const a = await registerUser(server.url, 'racea');
    const b = await registerUser(server.url, 'raceb');
    const opened = await Promise.all([openDirect(a, b), openDirect(b, a), openDirect(a, b), openDirect(b, a), openDirect(a, b), openDirect(b, a)]);
    expect(new Set(opened.map((c) => c.id)).size).toBe(1);
    for (const u of [a, b]) {
      const list = (await q(u, `{ conversations { totalCount edges { node { id memberCount } } } }`)).conversations;
      expect(list.totalCount).toBe(1);
      expect(list.edges[0].node).toEqual({ id: opened[0].id, memberCount: 2 });
    }
  });

  test('concurrent first messages by recipientId share one DIRECT with gap-free seq', async () => {
    const a = await registerUser(server.url, 'rida');
    const b = await registerUser(server.url, 'ridb');
    const SEND = `mutation($i: SendMessageInput!) { sendMessage(input: $i) { conversationId seq } }`;
    const sent = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        i % 2 ? q(b, SEND, { i: { recipientId: a.id, content: `b${i}` } }) : q(a, SEND, { i: { recipientId: b.id, content: `a${i}` } }),
      ),
    );
    const ids = new Set(sent.map((r) => r.sendMessage.conversationId));
    expect(ids.size).toBe(1);
    expect(sent.map((r) => r.sendMessage.seq).sort((x, y) => x - y)).toEqual(range(1, 6));
    expect((await q(a, `{ conversations { totalCount } }`)).conversations.totalCount).toBe(1);
  });
});

describe('conversations list', () => {
  test('newest activity first, with lastMessage and cursor pagination', async () => {
    const me = await registerUser(server.url, 'lister');
    const a = await registerUser(server.url, 'lista');
    const b = await registerUser(server.url, 'listb');
    const c1 = (await openDirect(me, a)).id;
    await pause(5);
    const c2 = (await openDirect(b, me)).id;
    await pause(5);
    const c3 = (await q(a, `mutation($i: CreateGroupInput!) { createGroup(input: $i) { id } }`, { i: { name: 'trio', memberIds: [me.id, b.id] } })).createGroup
      .id;
    await pause(5);
    // with no messages: creation order, newest first
    let list = (await q(me, `{ conversations { totalCount edges { node { id lastMessage { id kind } } } } }`)).conversations;
    expect(list.edges.map((e: any) => e.node.id)).toEqual([c3, c2, c1]);
    // direct chats start empty; a group starts with its creation notice
    expect(list.edges.map((e: any) => e.node.lastMessage?.kind ?? null)).toEqual(['SYSTEM', null, null]);

    await send(a, c1, 'c1 first');
    await pause(5);
    await send(b, c2, 'c2 only');
    await pause(5);
    await send(me, c3, 'c3 only');
    await pause(5);
    await send(me, c1, 'c1 latest');

    const QUERY = `query($first: Int, $after: String) { conversations(first: $first, after: $after) {
      totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { cursor node { id lastActivityAt lastMessage { seq content } } } } }`;
    list = (await q(me, QUERY)).conversations;
    expect(list.totalCount).toBe(3);
    expect(list.edges.map((e: any) => [e.node.id, e.node.lastMessage.content, e.node.lastMessage.seq])).toEqual([
      [c1, 'c1 latest', 2],
      [c3, 'c3 only', 2],
      [c2, 'c2 only', 1],
    ]);
    const times = list.edges.map((e: any) => Date.parse(e.node.lastActivityAt));
    expect([...times].sort((x, y) => y - x)).toEqual(times);
    expect(list.pageInfo.hasNextPage).toBe(false);

    const p1 = (await q(me, QUERY, { first: 2 })).conversations;
    expect(p1.edges.map((e: any) => e.node.id)).toEqual([c1, c3]);
    expect(p1.totalCount).toBe(3);
    expect(p1.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false, endCursor: p1.edges[1].cursor });
    const p2 = (await q(me, QUERY, { first: 2, after: p1.pageInfo.endCursor })).conversations;
    expect(p2.edges.map((e: any) => e.node.id)).toEqual([c2]);
    expect(p2.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: true });
    const p3 = (await q(me, QUERY, { first: 2, after: p2.pageInfo.endCursor })).conversations;
    expect(p3.edges).toEqual([]);
    expect(p3.pageInfo.hasNextPage).toBe(false);

    // others only see their own conversations
    const forB = (await q(b, `{ conversations { totalCount edges { node { id } } } }`)).conversations;
    expect(forB.edges.map((e: any) => e.node.id)).toEqual([c3, c2]);
  });
});

describe('messages pagination', () => {
  let owner: TestUser;
  let other: TestUser;
  let cid: string;
  beforeAll(async () => {
    owner = await registerUser(server.url, 'pager');
    other = await registerUser(server.url, 'pagee');
    cid = (await openDirect(owner, other)).id;
    for (let i = 1; i <= 60; i++) await send(i % 3 === 0 ? other : owner, cid, `m${i}`);
  });

  test('no arguments: the newest 50 in ascending seq', async () => {
    const page = await history(other, cid);
    expect(page.totalCount).toBe(60);
    expect(seqs(page)).toEqual(range(11, 60));
    expect(page.edges.map((e: any) => e.node.content)).toEqual(range(11, 60).map((i) => `m${i}`));
    expect(page.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: true });
  });

  test('first/after pages forward', async () => {
    const p1 = await history(owner, cid, { first: 20 });
    expect(seqs(p1)).toEqual(range(1, 20));
    expect(p1.totalCount).toBe(60);
    expect(p1.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false, startCursor: p1.edges[0].cursor, endCursor: p1.edges[19].cursor });
    const p2 = await history(owner, cid, { first: 20, after: p1.pageInfo.endCursor });
    expect(seqs(p2)).toEqual(range(21, 40));
    expect(p2.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: true });
    const p3 = await history(owner, cid, { first: 20, after: p2.pageInfo.endCursor });
    expect(seqs(p3)).toEqual(range(41, 60));
    expect(p3.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: true });
    const p4 = await history(owner, cid, { first: 20, after: p3.pageInfo.endCursor });
    expect(p4.edges).toEqual([]);
    expect(p4.pageInfo.hasNextPage).toBe(false);
    const odd = await history(owner, cid, { first: 7, after: p3.edges[14].cursor });
    expect(seqs(odd)).toEqual(range(56, 60));
    expect(odd.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: true });
  });

  test('last/before pages backward', async () => {
    const p1 = await history(owner, cid, { last: 20 });
    expect(seqs(p1)).toEqual(range(41, 60));
    expect(p1.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: true, startCursor: p1.edges[0].cursor });
    const p2 = await history(owner, cid, { last: 20, before: p1.pageInfo.startCursor });
    expect(seqs(p2)).toEqual(range(21, 40));
    expect(p2.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: true });
    const p3 = await history(owner, cid, { last: 20, before: p2.pageInfo.startCursor });
    expect(seqs(p3)).toEqual(range(1, 20));
    expect(p3.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false });
    const p4 = await history(owner, cid, { last: 20, before: p3.pageInfo.startCursor });
    expect(p4.edges).toEqual([]);
    expect(p4.pageInfo.hasPreviousPage).toBe(false);
    const odd = await history(owner, cid, { last: 7, before: p3.edges[4].cursor });
    expect(seqs(odd)).toEqual(range(1, 4));
    expect(odd.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false });
  });

  test('cursors from one direction work in the other', async () => {
    const fwd = await history(owner, cid, { first: 10, after: (await history(owner, cid, { first: 30 })).pageInfo.endCursor });
    expect(seqs(fwd)).toEqual(range(31, 40));
    const back = await history(owner, cid, { last: 5, before: fwd.pageInfo.startCursor });
    expect(seqs(back)).toEqual(range(26, 30));
    expect(back.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: true });
    const defaultPage = await history(owner, cid);
    const older = await history(owner, cid, { last: 50, before: defaultPage.pageInfo.startCursor });
    expect(seqs(older)).toEqual(range(1, 10));
    expect(older.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false });
  });
});

describe('messagesSince', () => {
  test('newer messages plus later edits and deletes of older ones, in change order', async () => {
    const a = await registerUser(server.url, 'since');
    const b = await registerUser(server.url, 'sinceb');
    const cid = (await openDirect(a, b)).id;
    const edit = (u: TestUser, id: string, content: string) =>
      q(u, `mutation($id: ID!, $c: String!) { editMessage(id: $id, content: $c) { id } }`, { id, c: content });
    const del = (u: TestUser, id: string) => q(u, `mutation($id: ID!) { deleteMessage(id: $id) { id } }`, { id });
    const m1 = await send(a, cid, 'm1');
    const m2 = await send(b, cid, 'm2');
    await edit(a, m1.id, 'm1 edited before m3'); // happened before m3: not part of "since 3"
    const m3 = await send(a, cid, 'm3');
    // the client has seen up to seq 3 from here on
    const m4 = await send(b, cid, 'm4');
    await edit(b, m2.id, 'm2 edited');
    const m5 = await send(a, cid, 'm5');
    await del(b, m4.id);
    await edit(a, m3.id, 'm3 edited');

    const SINCE = `query($c: ID!, $s: Int!, $l: Int) { messagesSince(conversationId: $c, afterSeq: $s, limit: $l) { ${MSG} } }`;
    const since3 = (await q(b, SINCE, { c: cid, s: 3 })).messagesSince;
    expect(since3.map((m: any) => [m.seq, m.content, m.isEdited, m.isDeleted])).toEqual([
      [2, 'm2 edited', true, false],
      [5, 'm5', false, false],
      [4, '', false, true],
      [3, 'm3 edited', true, false],
    ]);
    expect(since3.map((m: any) => m.id)).toEqual([m2.id, m5.id, m4.id, m3.id]);

    const all = (await q(b, SINCE, { c: cid, s: 0 })).messagesSince;
    expect(all.map((m: any) => m.seq)).toEqual([1, 2, 5, 4, 3]);
    expect(all[0]).toMatchObject({ id: m1.id, content: 'm1 edited before m3', isEdited: true });

    const limited = (await q(b, SINCE, { c: cid, s: 3, l: 2 })).messagesSince;
    expect(limited.map((m: any) => m.seq)).toEqual([2, 5]);
    // seen everything up to seq 5: only the changes made after m5 was written
    const since5 = (await q(b, SINCE, { c: cid, s: 5 })).messagesSince;
    expect(since5.map((m: any) => [m.seq, m.content, m.isDeleted])).toEqual([
      [4, '', true],
      [3, 'm3 edited', false],
    ]);

    // a later change moves the message to the end of the change order
    await edit(b, m2.id, 'm2 edited twice');
    const after5 = (await q(a, SINCE, { c: cid, s: 5 })).messagesSince;
    expect(after5.map((m: any) => [m.seq, m.content])).toEqual([
      [4, ''],
      [3, 'm3 edited'],
      [2, 'm2 edited twice'],
    ]);
    const m6 = await send(b, cid, 'm6');
    expect((await q(a, SINCE, { c: cid, s: 6 })).messagesSince).toEqual([]);
    expect((await q(a, SINCE, { c: cid, s: 5 })).messagesSince.map((m: any) => m.id)).toEqual([m4.id, m3.id, m2.id, m6.id]);
    expect((await q(a, SINCE, { c: cid, s: 3 })).messagesSince.map((m: any) => m.seq)).toEqual([5, 4, 3, 2, 6]);
  });
});

describe('typing', () => {
  test('the other member sees typing; the typer does not get their own', async () => {
    const a = await registerUser(server.url, 'typer');
    const b = await registerUser(server.url, 'watcher');
    const cid = (await openDirect(a, b)).id;
    const TYPING = `subscription($c: ID!) { typing(conversationId: $c) { conversationId user { id username } isTyping } }`;
    const bSub = sub(client(b), TYPING, { c: cid });
    const aSub = sub(client(a), TYPING, { c: cid });
    await Promise.all([aSub.ready(), bSub.ready()]);

    expect((await q(a, `mutation($c: ID!) { setTyping(conversationId: $c, isTyping: true) }`, { c: cid })).setTyping).toBe(true);
    expect((await bSub.next()).typing).toEqual({ conversationId: cid, user: { id: a.id, username: a.username }, isTyping: true });
    await q(a, `mutation($c: ID!) { setTyping(conversationId: $c, isTyping: false) }`, { c: cid });
    expect((await bSub.next()).typing).toEqual({ conversationId: cid, user: { id: a.id, username: a.username }, isTyping: false });

    // and the other way round: b's typing is the first thing a receives (a's own two events never came)
    await q(b, `mutation($c: ID!) { setTyping(conversationId: $c, isTyping: true) }`, { c: cid });
    expect(await aSub.until(() => true)).toEqual([{ typing: { conversationId: cid, user: { id: b.id, username: b.username }, isTyping: true } }]);
    // and a typing again is the next thing b receives (b's own event never came)
    await q(a, `mutation($c: ID!) { setTyping(conversationId: $c, isTyping: true) }`, { c: cid });
    expect(await bSub.until(() => true)).toEqual([{ typing: { conversationId: cid, user: { id: a.id, username: a.username }, isTyping: true } }]);
    expect([aSub.events.length, bSub.events.length]).toEqual([1, 3]);
  });
});

describe('presence', () => {
  test('ONLINE with the first socket, OFFLINE after the last of two closes', async () => {
    const watcher = await registerUser(server.url, 'pwatch');
    const target = await registerUser(server.url, 'ptarget');
    const control = await registerUser(server.url, 'pcontrol');
    await openDirect(watcher, target); // co-members
    await openDirect(watcher, control);
    const PRESENCE = `query($id: ID) { user(id: $id) { id presence lastSeenAt } }`;
    expect((await q(watcher, PRESENCE, { id: target.id })).user).toEqual({ id: target.id, presence: 'OFFLINE', lastSeenAt: null });
    // Knows when the server has finished with a closed socket (presence.disconnected returned).
    const disconnects = finishedCalls(server.services.presence, 'disconnected');
    try {
      const watch = sub(client(watcher), `subscription { presence { user { id } status lastSeenAt } }`);
      await watch.ready();

      // first socket: its ONLINE is the first event (the watcher's own socket is not news to the watcher)
      const s1 = client(target);
      const s1sub = sub(s1, `subscription { presence { status } }`);
      await s1sub.ready();
      expect(await watch.until(() => true)).toEqual([{ presence: { user: { id: target.id }, status: 'ONLINE', lastSeenAt: null } }]);
      expect((await q(watcher, PRESENCE, { id: target.id })).user.presence).toBe('ONLINE');

      // second socket: still ONLINE, no event: the control user's ONLINE comes next
      const s2 = client(target);
      const s2sub = sub(s2, `subscription { presence { status } }`);
      await s2sub.ready();
      const c1 = client(control);
      await sub(c1, `subscription { presence { status } }`).ready();
      expect(await watch.until(() => true)).toEqual([{ presence: { user: { id: control.id }, status: 'ONLINE', lastSeenAt: null } }]);

      // first one closes (the server is done with it): still ONLINE, no event: the control's OFFLINE comes next
      s1sub.stop();
      await s1.dispose();
      await disconnects.reached(1, (userId) => userId === Number(target.id));
      expect((await q(watcher, PRESENCE, { id: target.id })).user.presence).toBe('ONLINE');
      await c1.dispose();
      expect((await watch.until(() => true)).map((e) => [e.presence.user.id, e.presence.status])).toEqual([[control.id, 'OFFLINE']]);

      // last one closes: OFFLINE, lastSeenAt recorded
      s2sub.stop();
      await s2.dispose();
      const off = (await watch.next()).presence;
      expect(off).toMatchObject({ user: { id: target.id }, status: 'OFFLINE' });
      expect(off.lastSeenAt).toMatch(ISO_MS);
      const u = (await q(watcher, PRESENCE, { id: target.id })).user;
      expect(u.presence).toBe('OFFLINE');
      expect(u.lastSeenAt).toBe(off.lastSeenAt);
      expect(watch.events).toHaveLength(4);
    } finally {
      disconnects.restore();
    }
  });

  test('presence(userIds) follows exactly the users asked for', async () => {
    const watcher = await registerUser(server.url, 'pw2');
    const x = await registerUser(server.url, 'px');
    const y = await registerUser(server.url, 'py');
    // Both share a DIRECT chat with the watcher, so the default presence visibility (contacts and
    // co-members, issue 27 §5) shows both: only `userIds` leaves y out.
    for (const u of [x, y]) await q(watcher, 'mutation($u: ID!) { openDirectChat(userId: $u) { id } }', { u: u.id });
    const watch = sub(client(watcher), `subscription($ids: [ID!]) { presence(userIds: $ids) { user { id } status } }`, { ids: [x.id] });
    await watch.ready();
    const disconnects = finishedCalls(server.services.presence, 'disconnected');
    try {
      const yWs = client(y);
      await sub(yWs, `subscription { presence { status } }`).ready();
      const xWs = client(x);
      await sub(xWs, `subscription { presence { status } }`).ready();
      // y came online first: x's ONLINE is the first event
      expect(await watch.until(() => true)).toEqual([{ presence: { user: { id: x.id }, status: 'ONLINE' } }]);
      // y goes offline first too (the server is done with it), then x: x's OFFLINE is the next event
      await yWs.dispose();
      await disconnects.reached(1, (userId) => userId === Number(y.id));
      await xWs.dispose();
      expect(await watch.until(() => true)).toEqual([{ presence: { user: { id: x.id }, status: 'OFFLINE' } }]);
      expect(watch.events).toHaveLength(2);
    } finally {
      disconnects.restore();
    }
  });
});

describe('groups and rooms', () => {
  test('createGroup with members, roles, and leaving writes a SYSTEM message', async () => {
    const owner = await registerUser(server.url, 'gowner');
    const m1 = await registerUser(server.url, 'gm1');
    const m2 = await registerUser(server.url, 'gm2');
    const g = (
      await q(owner, `mutation($i: CreateGroupInput!) { createGroup(input: $i) { ${CONV} description createdBy { id } } }`, {
        i: { name: 'Weekend plans', description: 'who brings what', memberIds: [m1.id, m2.id] },
      })
    ).createGroup;
    expect(g).toMatchObject({
      kind: 'GROUP',
      title: 'Weekend plans',
      name: 'Weekend plans',
      description: 'who brings what',
      memberCount: 3,
      createdBy: { id: owner.id },
    });
    expect(g.viewerMembership.role).toBe('OWNER');
    const roles = Object.fromEntries(g.members.map((m: any) => [m.user.id, m.role]));
    expect(roles).toEqual({ [owner.id]: 'OWNER', [m1.id]: 'MEMBER', [m2.id]: 'MEMBER' });
    expect((await conversation(m1, g.id)).viewerMembership.role).toBe('MEMBER');
    const forM2 = (await q(m2, `{ conversations(kind: GROUP) { edges { node { id } } } }`)).conversations;
    expect(forM2.edges.map((e: any) => e.node.id)).toEqual([g.id]);

    await send(m1, g.id, 'I bring snacks');
    const ownerAdded = sub(client(owner), `subscription($c: ID) { messageAdded(conversationId: $c) { ${MSG} } }`, { c: g.id });
    await ownerAdded.ready();

    expect((await q(m2, `mutation($id: ID!) { leaveConversation(id: $id) }`, { id: g.id })).leaveConversation).toBe(true);
    const sys = (await ownerAdded.next()).messageAdded;
    expect(sys).toMatchObject({ kind: 'SYSTEM', sender: null, seq: 3, conversationId: g.id });
    expect(sys.content.length).toBeGreaterThan(0);
    const page = await history(owner, g.id);
    expect(page.edges.map((e: any) => [e.node.seq, e.node.kind, e.node.sender?.id ?? null])).toEqual([
      [1, 'SYSTEM', null],
      [2, 'TEXT', m1.id],
      [3, 'SYSTEM', null],
    ]);
    expect(page.edges[0].node.content).toBe(`${owner.username} created the group "Weekend plans"`);
    const after = await conversation(owner, g.id);
    expect(after.memberCount).toBe(2);
    expect(after.members.map((m: any) => m.user.id).sort()).toEqual([owner.id, m1.id].sort());
    // the leaver no longer has access
    expect(codeOf(await raw(m2, `query($id: ID!) { conversation(id: $id) { id } }`, { id: g.id }))).toBe('NOT_FOUND');
    expect((await q(m2, `{ conversations { totalCount } }`)).conversations.totalCount).toBe(0);

    // a DIRECT cannot be left
    const d = (await openDirect(owner, m1)).id;
    expect(codeOf(await raw(m1, `mutation($id: ID!) { leaveConversation(id: $id) }`, { id: d }))).toBe('BAD_USER_INPUT');
    expect((await conversation(m1, d)).memberCount).toBe(2);
  });

  test('createRoom, publicRooms, joinRoom, full room is CONFLICT', async () => {
    const owner = await registerUser(server.url, 'rowner');
    const j1 = await registerUser(server.url, 'rj1');
    const j2 = await registerUser(server.url, 'rj2');
    const tag = `room${Date.now().toString(36)}${process.pid}`;
    const ROOM = `mutation($i: CreateRoomInput!) { createRoom(input: $i) { ${CONV} } }`;
    const room = (await q(owner, ROOM, { i: { name: `${tag} tiny`, maxMembers: 2 } })).createRoom;
    expect(room).toMatchObject({ kind: 'ROOM', title: `${tag} tiny`, visibility: 'PUBLIC', maxMembers: 2, memberCount: 1 });
    expect(room.viewerMembership.role).toBe('OWNER');
    const big = (await q(owner, ROOM, { i: { name: `${tag} big` } })).createRoom;
    expect(big).toMatchObject({ visibility: 'PUBLIC', maxMembers: 50 });
    const hidden = (await q(owner, ROOM, { i: { name: `${tag} hidden`, visibility: 'PRIVATE' } })).createRoom;
    expect(hidden.visibility).toBe('PRIVATE');

    const pub = (await q(j1, `query($s: String) { publicRooms(search: $s) { totalCount edges { node { id title visibility } } } }`, { s: tag })).publicRooms;
    expect(pub.edges.map((e: any) => e.node.id).sort()).toEqual([room.id, big.id].sort());
    expect(pub.totalCount).toBe(2);

    // non-members see a public room only through publicRooms/joinRoom
    const joined = (await q(j1, `mutation($id: ID!) { joinRoom(id: $id) { ${CONV} } }`, { id: room.id })).joinRoom;
    expect(joined).toMatchObject({ id: room.id, memberCount: 2 });
    expect(joined.viewerMembership).toMatchObject({ role: 'MEMBER', user: { id: j1.id }, unreadCount: 0 });
    // joining again changes nothing
    const again = (await q(j1, `mutation($id: ID!) { joinRoom(id: $id) { id memberCount } }`, { id: room.id })).joinRoom;
    expect(again).toEqual({ id: room.id, memberCount: 2 });

    // full
    const full = await raw(j2, `mutation($id: ID!) { joinRoom(id: $id) { id } }`, { id: room.id });
    expect(codeOf(full)).toBe('CONFLICT');
    expect(codeOf(await raw(j2, `query($id: ID!) { conversation(id: $id) { id } }`, { id: room.id }))).toBe('NOT_FOUND');
    expect((await conversation(owner, room.id)).memberCount).toBe(2);

    // private rooms cannot be joined (as if they did not exist)
    expect(codeOf(await raw(j2, `mutation($id: ID!) { joinRoom(id: $id) { id } }`, { id: hidden.id }))).toBe('NOT_FOUND');

    // concurrent joins never overfill a room
    const crowd = await Promise.all(Array.from({ length: 5 }, () => registerUser(server.url, 'crowd')));
    const small = (await q(owner, ROOM, { i: { name: `${tag} small`, maxMembers: 3 } })).createRoom;
    const results = await Promise.all(crowd.map((u) => raw(u, `mutation($id: ID!) { joinRoom(id: $id) { id } }`, { id: small.id })));
    expect(results.filter((r) => !r.errors).length).toBe(2);
    expect(results.filter((r) => r.errors).map(codeOf)).toEqual(['CONFLICT', 'CONFLICT', 'CONFLICT']);
    expect((await conversation(owner, small.id)).memberCount).toBe(3);

    // the join wrote a SYSTEM message; leaving writes another and frees the seat
    expect((await q(j1, `mutation($id: ID!) { leaveConversation(id: $id) }`, { id: room.id })).leaveConversation).toBe(true);
    const page = await history(owner, room.id);
    expect(page.edges.map((e: any) => [e.node.kind, e.node.sender])).toEqual([
      ['SYSTEM', null],
      ['SYSTEM', null],
    ]);
    const j2joined = (await q(j2, `mutation($id: ID!) { joinRoom(id: $id) { id memberCount } }`, { id: room.id })).joinRoom;
    expect(j2joined).toEqual({ id: room.id, memberCount: 2 });
  });
});
