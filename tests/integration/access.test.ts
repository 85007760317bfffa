/**
 * Who may do what, through the real server: non-members are locked out with NOT_FOUND (no
 * existence leak) over HTTP and graphql-ws, removal mid-subscription, FORBIDDEN for the wrong
 * member, content rules, idempotent retries and gap-free seq under concurrency.
 */
import { codeOf, registerUser, trackRealtime, type LiveSubscription, type TestUser } from '../support/client';
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

const MSG = `id conversationId seq clientMessageId content sender { id }`;
const { q, raw } = gqlAs(() => server.url);
const SEND = `mutation($i: SendMessageInput!) { sendMessage(input: $i) { ${MSG} } }`;

async function openDirect(me: TestUser, other: TestUser): Promise<string> {
  return (await q(me, `mutation($u: ID) { openDirectChat(userId: $u) { id } }`, { u: other.id })).openDirectChat.id;
}
async function createGroup(owner: TestUser, members: TestUser[], name = 'group'): Promise<string> {
  return (await q(owner, `mutation($i: CreateGroupInput!) { createGroup(input: $i) { id } }`, { i: { name, memberIds: members.map((m) => m.id) } })).createGroup
    .id;
}
async function send(me: TestUser, conversationId: string, content: string, extra: Record<string, unknown> = {}): Promise<any> {
  return (await q(me, SEND, { i: { conversationId, content, ...extra } })).sendMessage;
}
async function history(me: TestUser, conversationId: string): Promise<any> {
  return (
    await q(me, `query($c: ID!) { messages(conversationId: $c, first: 100) { totalCount edges { node { id seq content sender { id } } } } }`, {
      c: conversationId,
    })
  ).messages;
}

/** The extensions.code a subscription ended with (it must end with an error, without events). */
async function subscriptionError(s: LiveSubscription): Promise<string | undefined> {
  const ended = await Promise.race([s.done.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 3000))]);
  expect(ended).toBe(true);
  expect(s.events).toEqual([]);
  const flat = s.errors.flatMap((e) => (Array.isArray(e) ? e : [e])) as { extensions?: { code?: string } }[];
  expect(flat.length).toBeGreaterThan(0);
  return flat[0]?.extensions?.code;
}

describe('a non-member is locked out with NOT_FOUND', () => {
  let alice: TestUser;
  let bob: TestUser;
  let mallory: TestUser;
  let direct: string;
  let group: string;
  const msgIn: Record<string, any> = {};

  beforeAll(async () => {
    alice = await registerUser(server.url, 'alice');
    bob = await registerUser(server.url, 'bob');
    mallory = await registerUser(server.url, 'mallory');
    direct = await openDirect(alice, bob);
    group = await createGroup(alice, [bob], 'private group');
    msgIn[direct] = await send(alice, direct, 'secret direct');
    msgIn[group] = await send(bob, group, 'secret group');
  });

  const kinds = [
    ['DIRECT', () => direct],
    ['GROUP', () => group],
  ] as const;

  test.each(kinds)('every query and mutation on a %s', async (_kind, idOf) => {
    const c = idOf();
    const m = msgIn[c];
    const missingConversation = '987654321';
    const checks: [string, string, Record<string, unknown>][] = [
      ['conversation', `query($c: ID!) { conversation(id: $c) { id } }`, { c }],
      ['messages', `query($c: ID!) { messages(conversationId: $c) { totalCount edges { node { id } } } }`, { c }],
      ['message', `query($m: ID!) { message(id: $m) { id content } }`, { m: m.id }],
      ['messagesSince', `query($c: ID!) { messagesSince(conversationId: $c, afterSeq: 0) { id } }`, { c }],
      ['sendMessage', `mutation($c: ID!) { sendMessage(input: { conversationId: $c, content: "let me in" }) { id } }`, { c }],
      ['editMessage', `mutation($m: ID!) { editMessage(id: $m, content: "pwned") { id } }`, { m: m.id }],
      ['deleteMessage', `mutation($m: ID!) { deleteMessage(id: $m) { id } }`, { m: m.id }],
      ['markRead', `mutation($c: ID!) { markRead(conversationId: $c) { id } }`, { c }],
      ['setTyping', `mutation($c: ID!) { setTyping(conversationId: $c, isTyping: true) }`, { c }],
      ['addMember', `mutation($c: ID!, $u: ID!) { addMember(conversationId: $c, userId: $u) { id } }`, { c, u: mallory.id }],
      ['removeMember', `mutation($c: ID!, $u: ID!) { removeMember(conversationId: $c, userId: $u) }`, { c, u: bob.id }],
      ['leaveConversation', `mutation($c: ID!) { leaveConversation(id: $c) }`, { c }],
    ];
    for (const [field, query, vars] of checks) {
      expectDenied(await raw(mallory, query, vars), field, 'NOT_FOUND');
    }
    // exactly as for a conversation that does not exist
    for (const [field, query, vars] of checks) {
      const missing = 'c' in vars ? { ...vars, c: missingConversation } : { ...vars, m: '987654321' };
      expectDenied(await raw(mallory, query, missing), field, 'NOT_FOUND');
    }

    // nothing changed
    const page = await history(alice, c);
    const last = page.edges[page.edges.length - 1].node;
    expect(page.totalCount).toBe(last.seq); // a group starts with its creation notice (SYSTEM)
    expect(last).toMatchObject({ id: m.id, content: m.content });
    const members = (await q(alice, `query($c: ID!) { conversation(id: $c) { memberCount members { user { id } } } }`, { c })).conversation;
    expect(members.memberCount).toBe(2);
    expect(members.members.map((x: any) => x.user.id)).not.toContain(mallory.id);
    expect(await q(mallory, `{ conversations { totalCount } unreadSummary { total } }`)).toEqual({
      conversations: { totalCount: 0 },
      unreadSummary: { total: 0 },
    });
  });

  test.each(kinds)('every subscription with the conversationId of a %s', async (_kind, idOf) => {
    const c = idOf();
    const ws = client(mallory);
    const queries = [
      `subscription($c: ID) { messageAdded(conversationId: $c) { id } }`,
      `subscription($c: ID) { messageEdited(conversationId: $c) { id } }`,
      `subscription($c: ID) { messageDeleted(conversationId: $c) { messageId } }`,
      `subscription($c: ID!) { typing(conversationId: $c) { isTyping } }`,
      `subscription($c: ID!) { readReceipt(conversationId: $c) { lastReadSeq } }`,
    ];
    const live = queries.map((query) => sub(ws, query, { c }));
    for (const s of live) expect(await subscriptionError(s)).toBe('NOT_FOUND');
    // same for a conversation that does not exist
    const missing = queries.map((query) => sub(ws, query, { c: '987654321' }));
    for (const s of missing) expect(await subscriptionError(s)).toBe('NOT_FOUND');
  });

  test("messageAdded without conversationId never carries the others' messages", async () => {
    const friend = await registerUser(server.url, 'friend');
    const own = await openDirect(mallory, friend);
    const ws = client(mallory);
    const all = sub(ws, `subscription { messageAdded { id conversationId content } }`);
    const edits = sub(ws, `subscription { messageEdited { id conversationId content } }`);
    const dels = sub(ws, `subscription { messageDeleted { conversationId messageId } }`);
    await Promise.all([all.ready(), edits.ready(), dels.ready()]);

    const a = await send(alice, direct, 'not for mallory');
    const b = await send(bob, group, 'not for mallory either');
    await q(alice, `mutation($id: ID!) { editMessage(id: $id, content: "edited, still secret") { id } }`, { id: a.id });
    await q(bob, `mutation($id: ID!) { deleteMessage(id: $id) { id } }`, { id: b.id });
    const mine = await send(friend, own, 'for mallory');
    // the first event is from her own conversation
    expect((await all.next()).messageAdded).toEqual({ id: mine.id, conversationId: own, content: 'for mallory' });
    // Controls in her own conversation, after the others' edit and delete: each is the first
    // (and only) thing its subscription receives (delivery keeps bus order per subscriber).
    const control = await send(friend, own, 'control');
    await q(friend, `mutation($id: ID!) { editMessage(id: $id, content: "for mallory, edited") { id } }`, { id: mine.id });
    await q(friend, `mutation($id: ID!) { deleteMessage(id: $id) { id } }`, { id: control.id });
    expect(await all.until((e) => e.messageAdded.id === control.id)).toEqual([{ messageAdded: { id: control.id, conversationId: own, content: 'control' } }]);
    expect(await edits.until(() => true)).toEqual([{ messageEdited: { id: mine.id, conversationId: own, content: 'for mallory, edited' } }]);
    expect(await dels.until(() => true)).toEqual([{ messageDeleted: { conversationId: own, messageId: control.id } }]);
    expect([all.events.length, edits.events.length, dels.events.length]).toEqual([2, 1, 1]);
  });
});

test('a member removed mid-subscription stops receiving, with and without conversationId', async () => {
  const owner = await registerUser(server.url, 'owner');
  const kept = await registerUser(server.url, 'kept');
  const removed = await registerUser(server.url, 'removed');
  const g = await createGroup(owner, [kept, removed], 'soon smaller');

  const ws = client(removed);
  const scoped = sub(ws, `subscription($c: ID) { messageAdded(conversationId: $c) { content } }`, { c: g });
  const unscoped = sub(client(removed), `subscription { messageAdded { content conversationId } }`);
  const scopedEdits = sub(ws, `subscription($c: ID) { messageEdited(conversationId: $c) { content } }`, { c: g });
  const control = sub(client(kept), `subscription($c: ID) { messageAdded(conversationId: $c) { content kind } }`, { c: g });
  await Promise.all([scoped.ready(), unscoped.ready(), scopedEdits.ready(), control.ready()]);

  const before = await send(owner, g, 'before');
  expect((await scoped.next()).messageAdded.content).toBe('before');
  expect((await unscoped.next()).messageAdded).toEqual({ content: 'before', conversationId: g });
  expect((await control.next()).messageAdded.content).toBe('before');

  expect((await q(owner, `mutation($c: ID!, $u: ID!) { removeMember(conversationId: $c, userId: $u) }`, { c: g, u: removed.id })).removeMember).toBe(true);
  expect((await control.next()).messageAdded.kind).toBe('SYSTEM');
  const nScoped = scoped.events.length;
  const nUnscoped = unscoped.events.length;

  await send(owner, g, 'after');
  await q(owner, `mutation($id: ID!) { editMessage(id: $id, content: "before, edited") { id } }`, { id: before.id });
  expect((await control.next()).messageAdded.content).toBe('after');
  expect(scoped.events.length).toBe(nScoped);
  expect(unscoped.events.length).toBe(nUnscoped);
  expect(codeOf(await raw(removed, `query($c: ID!) { messages(conversationId: $c) { totalCount } }`, { c: g }))).toBe('NOT_FOUND');

  // Nothing sent while removed arrives later either: added back, the same open subscriptions get
  // the re-add notice and a control message first, then an edit made now, and nothing before them.
  await q(owner, `mutation($c: ID!, $u: ID!) { addMember(conversationId: $c, userId: $u) { id } }`, { c: g, u: removed.id });
  await send(owner, g, 'control');
  await q(owner, `mutation($id: ID!) { editMessage(id: $id, content: "control edit") { id } }`, { id: before.id });
  const notice = `${owner.username} added ${removed.username}`;
  expect((await scoped.until((e) => e.messageAdded.content === 'control')).map((e) => e.messageAdded.content)).toEqual([notice, 'control']);
  expect(await unscoped.until((e) => e.messageAdded.content === 'control')).toEqual([
    { messageAdded: { content: notice, conversationId: g } },
    { messageAdded: { content: 'control', conversationId: g } },
  ]);
  expect(await scopedEdits.until(() => true)).toEqual([{ messageEdited: { content: 'control edit' } }]);
  const seen = [...scoped.events, ...unscoped.events].map((e: any) => e.messageAdded.content);
  expect(seen).not.toContain('after');
});

describe('FORBIDDEN for members without the right', () => {
  test("editing (or deleting in a DIRECT) someone else's message", async () => {
    const a = await registerUser(server.url, 'ea');
    const b = await registerUser(server.url, 'eb');
    const c = await openDirect(a, b);
    const m = await send(a, c, 'mine');
    expect(codeOf(await raw(b, `mutation($id: ID!) { editMessage(id: $id, content: "yours now") { id } }`, { id: m.id }))).toBe('FORBIDDEN');
    expect(codeOf(await raw(b, `mutation($id: ID!) { deleteMessage(id: $id) { id } }`, { id: m.id }))).toBe('FORBIDDEN');
    const msg = (await q(a, `query($id: ID!) { message(id: $id) { content isEdited isDeleted } }`, { id: m.id })).message;
    expect(msg).toEqual({ content: 'mine', isEdited: false, isDeleted: false });
  });

  test('a plain MEMBER cannot add or remove members', async () => {
    const owner = await registerUser(server.url, 'fo');
    const member = await registerUser(server.url, 'fm');
    const other = await registerUser(server.url, 'fx');
    const outsider = await registerUser(server.url, 'fy');
    const g = await createGroup(owner, [member, other]);
    const add = await raw(member, `mutation($c: ID!, $u: ID!) { addMember(conversationId: $c, userId: $u) { id } }`, { c: g, u: outsider.id });
    expect(codeOf(add)).toBe('FORBIDDEN');
    const rm = await raw(member, `mutation($c: ID!, $u: ID!) { removeMember(conversationId: $c, userId: $u) }`, { c: g, u: other.id });
    expect(codeOf(rm)).toBe('FORBIDDEN');
    const conv = (await q(owner, `query($c: ID!) { conversation(id: $c) { memberCount } }`, { c: g })).conversation;
    expect(conv.memberCount).toBe(3);
    expect(codeOf(await raw(outsider, `query($c: ID!) { conversation(id: $c) { id } }`, { c: g }))).toBe('NOT_FOUND');
    // the owner can
    const added = (await q(owner, `mutation($c: ID!, $u: ID!) { addMember(conversationId: $c, userId: $u) { role user { id } } }`, { c: g, u: outsider.id }))
      .addMember;
    expect(added).toEqual({ role: 'MEMBER', user: { id: outsider.id } });
  });
});

describe('content rules', () => {
  let a: TestUser;
  let b: TestUser;
  let c: string;
  beforeAll(async () => {
    a = await registerUser(server.url, 'ca');
    b = await registerUser(server.url, 'cb');
    c = await openDirect(a, b);
  });

  test('empty, whitespace-only and over-long content is BAD_USER_INPUT; 4000 characters is fine', async () => {
    for (const content of ['', '   ', ' \n\t  ', 'x'.repeat(4001)]) {
      const r = await raw(a, SEND, { i: { conversationId: c, content } });
      expect({ len: content.length, code: codeOf(r) }).toEqual({ len: content.length, code: 'BAD_USER_INPUT' });
    }
    const max = await send(a, c, 'y'.repeat(4000));
    expect(max.content).toHaveLength(4000);
    expect(max.seq).toBe(1); // the rejected ones took no seq
    const padded = await send(a, c, `  ${'z'.repeat(4000)}  `); // 4000 after trimming
    expect(padded.content.trim()).toHaveLength(4000);
    expect(padded.seq).toBe(2);

    // the same rules for editMessage
    for (const content of ['', '  \n ', 'x'.repeat(4001)]) {
      const r = await raw(a, `mutation($id: ID!, $c: String!) { editMessage(id: $id, content: $c) { id } }`, { id: max.id, c: content });
      expect({ len: content.length, code: codeOf(r) }).toEqual({ len: content.length, code: 'BAD_USER_INPUT' });
    }
    const edited = (await q(a, `mutation($id: ID!, $c: String!) { editMessage(id: $id, content: $c) { content } }`, { id: max.id, c: 'w'.repeat(4000) }))
      .editMessage;
    expect(edited.content).toBe('w'.repeat(4000));
  });

  test('replyToId must be a message of the same conversation', async () => {
    const third = await registerUser(server.url, 'cc');
    const elsewhere = await openDirect(a, third);
    const foreign = await send(a, elsewhere, 'in another chat');
    const before = (await history(a, c)).totalCount;
    const r = await raw(a, SEND, { i: { conversationId: c, content: 'reply', replyToId: foreign.id } });
    expect(codeOf(r)).toBe('BAD_USER_INPUT');
    // a message the sender cannot see, and one that does not exist, are refused the same way
    const hidden = await send(third, await openDirect(third, b), 'hidden from a');
    expect(codeOf(await raw(a, SEND, { i: { conversationId: c, content: 'reply', replyToId: hidden.id } }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await raw(a, SEND, { i: { conversationId: c, content: 'reply', replyToId: '987654321' } }))).toBe('BAD_USER_INPUT');
    expect((await history(a, c)).totalCount).toBe(before);
    const target = await send(b, c, 'original');
    const ok = (
      await q(a, `mutation($i: SendMessageInput!) { sendMessage(input: $i) { seq replyTo { id } } }`, {
        i: { conversationId: c, content: 'reply', replyToId: target.id },
      })
    ).sendMessage;
    expect(ok).toEqual({ seq: before + 2, replyTo: { id: target.id } });
  });
});

describe('idempotency and seq', () => {
  test('the same clientMessageId sent twice returns the same message', async () => {
    const a = await registerUser(server.url, 'ia');
    const b = await registerUser(server.url, 'ib');
    const c = await openDirect(a, b);
    await send(b, c, 'warm-up');
    const first = await send(a, c, 'once', { clientMessageId: 'retry-key-1' });
    const second = await send(a, c, 'once', { clientMessageId: 'retry-key-1' });
    expect(second.id).toBe(first.id);
    expect(second.seq).toBe(first.seq);
    expect(first).toMatchObject({ seq: 2, clientMessageId: 'retry-key-1' });
    expect(second.clientMessageId).toBe('retry-key-1');
    const page = await history(a, c);
    expect(page.totalCount).toBe(2);
    expect(page.edges.map((e: any) => e.node.seq)).toEqual([1, 2]);
    // the key is the sender's own: another sender using it gets a message of their own
    const bobs = await send(b, c, 'also once', { clientMessageId: 'retry-key-1' });
    expect(bobs.id).not.toBe(first.id);
    expect(bobs).toMatchObject({ seq: 3, content: 'also once', sender: { id: b.id } });
    expect((await send(a, c, 'next')).seq).toBe(4);
  });

  test('the same clientMessageId sent 5 times concurrently yields exactly one message', async () => {
    const a = await registerUser(server.url, 'ca5');
    const b = await registerUser(server.url, 'cb5');
    const c = await openDirect(a, b);
    await send(a, c, 'one');
    await send(b, c, 'two');
    const ws = client(b);
    const added = sub(ws, `subscription($c: ID) { messageAdded(conversationId: $c) { id seq } }`, { c });
    await added.ready();

    const results = await Promise.all(
      Array.from({ length: 5 }, () => raw(a, SEND, { i: { conversationId: c, content: 'exactly once', clientMessageId: 'burst-key' } })),
    );
    for (const r of results) expect(r.errors).toBeUndefined();
    const ids = new Set(results.map((r) => r.data.sendMessage.id));
    const seqSet = new Set(results.map((r) => r.data.sendMessage.seq));
    expect(ids.size).toBe(1);
    expect([...seqSet]).toEqual([3]);

    let page = await history(a, c);
    expect(page.totalCount).toBe(3);
    expect(page.edges.map((e: any) => e.node.seq)).toEqual([1, 2, 3]);
    expect(page.edges.filter((e: any) => e.node.content === 'exactly once')).toHaveLength(1);
    // one live event
    expect((await added.next()).messageAdded).toEqual({ id: [...ids][0], seq: 3 });

    // seq stays gap-free afterwards, and the next live event is the next message (no second copy of the burst)
    const next = await send(b, c, 'after the burst');
    expect(next.seq).toBe(4);
    expect(await added.until(() => true)).toEqual([{ messageAdded: { id: next.id, seq: 4 } }]);
    page = await history(a, c);
    expect(page.totalCount).toBe(4);
    expect(page.edges.map((e: any) => e.node.seq)).toEqual([1, 2, 3, 4]);
  });

  describe('a retry after the sender lost the right to send answers with the first message, and stores nothing', () => {
    const MUTE = `mutation($c: ID!, $u: ID!) { muteMember(conversationId: $c, userId: $u, muted: true) { isMuted } }`;
    /** Sends `input` (a retry): it must succeed; returns the message and checks the conversation did not grow. */
    async function retry(sender: TestUser, reader: TestUser, c: string, input: Record<string, unknown>) {
      const before = await history(reader, c);
      const r = await raw(sender, SEND, { i: input });
      expect(r.errors).toBeUndefined();
      const after = await history(reader, c);
      expect(after.totalCount).toBe(before.totalCount);
      expect(after.edges.filter((e: any) => e.node.content === input.content)).toHaveLength(1);
      return r.data.sendMessage;
    }

    test('muted in a group (a new send is FORBIDDEN)', async () => {
      const owner = await registerUser(server.url, 'rmo');
      const a = await registerUser(server.url, 'rma');
      const g = await createGroup(owner, [a], 'retry while muted');
      const first = await send(a, g, 'sent once', { clientMessageId: 'k-muted' });
      await q(owner, MUTE, { c: g, u: a.id });
      expect(codeOf(await raw(a, SEND, { i: { conversationId: g, content: 'new', clientMessageId: 'k-muted-new' } }))).toBe('FORBIDDEN');
      expect(await retry(a, owner, g, { conversationId: g, content: 'sent once', clientMessageId: 'k-muted' })).toEqual(first);
    });

    test('removed from a group (a new send is NOT_FOUND)', async () => {
      const owner = await registerUser(server.url, 'rro');
      const a = await registerUser(server.url, 'rra');
      const g = await createGroup(owner, [a], 'retry after removal');
      const first = await send(a, g, 'sent once', { clientMessageId: 'k-removed' });
      await q(owner, `mutation($c: ID!, $u: ID!) { removeMember(conversationId: $c, userId: $u) }`, { c: g, u: a.id });
      expect(codeOf(await raw(a, SEND, { i: { conversationId: g, content: 'new', clientMessageId: 'k-removed-new' } }))).toBe('NOT_FOUND');
      expect(await retry(a, owner, g, { conversationId: g, content: 'sent once', clientMessageId: 'k-removed' })).toEqual(first);
    });

    test('blocked in a DIRECT chat, by conversationId and by recipientId (a new send is FORBIDDEN)', async () => {
      const a = await registerUser(server.url, 'rba');
      const b = await registerUser(server.url, 'rbb');
      const c = await openDirect(a, b);
      const byId = await send(a, c, 'by id', { clientMessageId: 'k-blocked-id' });
      const byRecipient = (await q(a, SEND, { i: { recipientId: b.id, content: 'by recipient', clientMessageId: 'k-blocked-recipient' } })).sendMessage;
      expect(byRecipient.conversationId).toBe(c);
      await q(b, `mutation($u: ID!) { blockUser(userId: $u) { id } }`, { u: a.id });
      expect(codeOf(await raw(a, SEND, { i: { conversationId: c, content: 'new', clientMessageId: 'k-blocked-new' } }))).toBe('FORBIDDEN');
      expect(codeOf(await raw(a, SEND, { i: { recipientId: b.id, content: 'new', clientMessageId: 'k-blocked-new2' } }))).toBe('FORBIDDEN');
      expect(await retry(a, b, c, { conversationId: c, content: 'by id', clientMessageId: 'k-blocked-id' })).toEqual(byId);
      expect(await retry(a, b, c, { recipientId: b.id, content: 'by recipient', clientMessageId: 'k-blocked-recipient' })).toEqual(byRecipient);
    });
  });

  test('seq is gap-free under 20 concurrent sends from two users', async () => {
    const a = await registerUser(server.url, 'sa');
    const b = await registerUser(server.url, 'sb');
    const c = await openDirect(a, b);
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => send(i % 2 ? b : a, c, `burst ${i}`)));
    const got = results.map((m) => m.seq).sort((x, y) => x - y);
    expect(got).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(new Set(results.map((m) => m.id)).size).toBe(20);
    const page = await history(b, c);
    expect(page.totalCount).toBe(20);
    expect(page.edges.map((e: any) => e.node.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    // each message kept its own content and sender
    const bySeq = new Map(results.map((m) => [m.seq, m]));
    for (const e of page.edges) {
      expect(e.node.content).toBe(bySeq.get(e.node.seq).content);
      expect(e.node.sender.id).toBe(bySeq.get(e.node.seq).sender.id);
    }
    expect((await send(a, c, 'then one more')).seq).toBe(21);
  });
});
