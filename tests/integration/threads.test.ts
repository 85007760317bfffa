/**
 * Issue 32, threads (contract "Threads and seen by": sendMessage threadRootId and
 * alsoSendToConversation, threadReplies, threads, followThread, markThreadRead, Message.thread and
 * threadRootId). Real servers, GraphQL over HTTP, graphql-ws and the REST dialects. The rules: a
 * reply's id means its root; a reply only in its thread stays out of the main timeline, its unread
 * counts and the REST pages; the root's summary changes with the reply; the root's author, repliers
 * and mentioned users follow; per-thread unread counts never count one's own replies, never go
 * below zero or above replyCount, are not cleared by reading the main timeline, and a reply marks
 * the thread read up to it; the invariants hold over random sequences (a property test).
 */
import { codeOf, gql, gqlOk, registerUser, trackRealtime, type GqlResult, type TestUser } from '../support/client';
import { startTestServer, type TestServer } from '../support/test-server';
import { call } from './rest/rest-support';

jest.setTimeout(180_000);

const SQL = /^\s*(\[query\]\s*)?(select|insert|update|delete|with|begin|start transaction|commit|rollback|savepoint|release|set|show)\b/i;
const statements: string[] = [];
let recording = false;
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer(
    { RATE_MESSAGES_PER_SEC: '1000', RATE_MESSAGES_BURST: '1000', GRAPHQL_USER_MAX_IN_FLIGHT: '64' },
    { onQuery: (line) => recording && SQL.test(line) && statements.push(line) },
  );
});
afterAll(async () => {
  await server?.close();
});
const rt = trackRealtime(
  () => server.wsUrl,
  () => server,
);

const q = (u: TestUser, query: string, variables: Record<string, unknown> = {}) => gqlOk(server.url, query, variables, u.token);
const raw = (u: TestUser, query: string, variables: Record<string, unknown> = {}): Promise<GqlResult> => gql(server.url, query, variables, u.token);
const users = (prefix: string, n: number) => Promise.all(Array.from({ length: n }, (_, i) => registerUser(server.url, `${prefix}${i}`)));
const group = async (owner: TestUser, members: TestUser[]): Promise<string> =>
  (await q(owner, 'mutation($u: [ID!]!) { createGroup(input: { name: "Threads", memberIds: $u }) { id } }', { u: members.map((m) => m.id) })).createGroup.id;
const SEND = `mutation($c: ID!, $t: String!, $r: ID, $also: Boolean) {
  sendMessage(input: { conversationId: $c, content: $t, threadRootId: $r, alsoSendToConversation: $also }) { id seq threadRootId } }`;
const send = async (u: TestUser, c: string, t: string, root?: string, also?: boolean): Promise<{ id: string; seq: number; threadRootId: string | null }> =>
  (await q(u, SEND, { c, t, r: root ?? null, also: also ?? null })).sendMessage;
const THREAD = 'replyCount lastReplyAt isFollowing unreadReplyCount participants(first: 5) { id }';
const threadOf = async (u: TestUser, m: string) =>
  (await q(u, `query($m: ID!) { message(id: $m) { thread { ${THREAD} root { id } } } }`, { m })).message.thread;
const timeline = async (u: TestUser, c: string) =>
  (await q(u, 'query($c: ID!) { messages(conversationId: $c, last: 100) { totalCount edges { node { content threadRootId } } } }', { c })).messages;
const unreadOf = async (u: TestUser, c: string): Promise<number> =>
  (await q(u, 'query($c: ID!) { conversation(id: $c) { unreadCount } }', { c })).conversation.unreadCount;
const markThreadRead = (u: TestUser, root: string, upToSeq?: number) =>
  q(u, `mutation($r: ID!, $n: Int) { markThreadRead(rootId: $r, upToSeq: $n) { ${THREAD} } }`, { r: root, n: upToSeq ?? null }).then((d) => d.markThreadRead);
const follow = (u: TestUser, root: string, following: boolean) =>
  q(u, `mutation($r: ID!, $f: Boolean!) { followThread(rootId: $r, following: $f) { ${THREAD} } }`, { r: root, f: following }).then((d) => d.followThread);
const threadsOf = async (u: TestUser, args: Record<string, unknown> = {}) =>
  (
    await q(
      u,
      `query($c: ID, $f: Boolean, $u: Boolean, $n: Int, $a: String) { threads(conversationId: $c, followingOnly: $f, unreadOnly: $u, first: $n, after: $a) {
        totalCount pageInfo { hasNextPage endCursor } edges { node { root { id content } ${THREAD} } } } }`,
      args,
    )
  ).threads;
const ids = (us: TestUser[]) => us.map((u) => u.id);

describe('replies', () => {
  test("a reply goes to the root's thread (a reply's id means its root); the root's summary changes with it", async () => {
    const [alice, bob, carol] = await users('th_r', 3);
    const c = await group(alice, [bob, carol]);
    const root = await send(alice, c, 'root');
    const r1 = await send(bob, c, 'first reply', root.id);
    expect(r1.threadRootId).toBe(root.id);
    const r2 = await send(carol, c, 'second reply', r1.id);
    expect(r2.threadRootId).toBe(root.id);
    const t = await threadOf(alice, root.id);
    expect(t).toMatchObject({ replyCount: 2, root: { id: root.id } });
    expect(new Date(t.lastReplyAt).getTime()).toBeGreaterThan(0);
    // Most recent first, the root's author included.
    expect(ids(t.participants)).toEqual([carol.id, bob.id, alice.id]);
    // A message without replies has no thread; a reply is not a root.
    expect(await threadOf(alice, r1.id)).toBeNull();
    const replies = (await q(alice, 'query($r: ID!) { threadReplies(rootId: $r) { totalCount edges { node { id content } } } }', { r: r1.id })).threadReplies;
    expect(replies).toEqual({ totalCount: 2, edges: [{ node: { id: r1.id, content: 'first reply' } }, { node: { id: r2.id, content: 'second reply' } }] });
  });

  test('refused: a root of another conversation, a SYSTEM message, alsoSendToConversation alone, a notice in a thread; unknown roots', async () => {
    const [alice, bob] = await users('th_bad', 2);
    const c = await group(alice, [bob]);
    const other = await group(bob, []);
    const elsewhere = await send(bob, other, 'elsewhere');
    const r = await raw(alice, SEND, { c, t: 'x', r: elsewhere.id, also: null });
    expect(codeOf(r)).toBe('BAD_USER_INPUT');
    expect(r.errors![0].extensions?.field ?? r.errors![0].message).toMatch(/threadRootId/);
    const notice = (await q(alice, 'query($c: ID!) { messages(conversationId: $c, first: 1) { edges { node { id kind } } } }', { c })).messages.edges[0].node;
    expect(notice.kind).toBe('SYSTEM');
    expect(codeOf(await raw(alice, SEND, { c, t: 'x', r: notice.id, also: null }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await raw(alice, SEND, { c, t: 'x', r: null, also: true }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await raw(alice, SEND, { c, t: 'x', r: '999999999', also: null }))).toBe('BAD_USER_INPUT');
    // Reading a thread one may not read is NOT_FOUND, as for every read.
    expect(codeOf(await raw(alice, 'query($r: ID!) { threadReplies(rootId: $r) { totalCount } }', { r: elsewhere.id }))).toBe('NOT_FOUND');
    expect(codeOf(await raw(alice, 'mutation($r: ID!) { followThread(rootId: $r, following: true) { isFollowing } }', { r: elsewhere.id }))).toBe('NOT_FOUND');
    expect(codeOf(await raw(alice, 'mutation($r: ID!) { markThreadRead(rootId: $r, upToSeq: -1) { isFollowing } }', { r: elsewhere.id }))).toBe(
      'BAD_USER_INPUT',
    );
  });

  test('a burst of 20 concurrent replies: replyCount 20, every reply once, gap-free seqs, the newest reply last', async () => {
    const [alice, ...others] = await users('th_burst', 5);
    const c = await group(alice, others);
    const root = await send(alice, c, 'burst root');
    const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => send(others[i % others.length], c, `r${i}`, root.id)));
    const seqs = replies.map((r) => r.seq).sort((a, b) => a - b);
    expect(seqs).toEqual(Array.from({ length: 20 }, (_, i) => root.seq + 1 + i));
    const t = await threadOf(alice, root.id);
    expect(t.replyCount).toBe(20);
    expect(t.unreadReplyCount).toBe(20);
    const page = (await q(alice, 'query($r: ID!) { threadReplies(rootId: $r, last: 1) { edges { node { seq } } } }', { r: root.id })).threadReplies;
    expect(page.edges[0].node.seq).toBe(root.seq + 20);
  });
});

describe('the main timeline', () => {
  test('a thread-only reply stays out of messages, unread counts and the REST pages; alsoSendToConversation shows it once, linked', async () => {
    const [alice, bob] = await users('th_tl', 2);
    const c = await group(alice, [bob]);
    const root = await send(alice, c, 'root');
    await send(bob, c, 'only in the thread', root.id);
    await send(bob, c, 'also in the timeline', root.id, true);
    await send(bob, c, 'plain');
    const tl = await timeline(alice, c);
    const contents = tl.edges.map((e: any) => e.node.content);
    expect(contents.filter((x: string) => x !== contents[0])).toEqual(['root', 'also in the timeline', 'plain']);
    expect(tl.edges.find((e: any) => e.node.content === 'also in the timeline').node.threadRootId).toBe(root.id);
    expect(tl.totalCount).toBe(contents.length);
    // Unread for alice: bob's "also" and "plain", not the thread-only reply (her own notice and root are read).
    expect(await unreadOf(alice, c)).toBe(2);
    expect((await q(alice, 'query { unreadSummary { total } }')).unreadSummary.total).toBe(2);
    // Paging back one at a time walks the same timeline, and pageInfo knows what is on either side.
    const walked: string[] = [];
    let before: string | null = null;
    for (let i = 0; i < 10; i++) {
      const page: any = (
        await q(
          alice,
          'query($c: ID!, $b: String) { messages(conversationId: $c, last: 1, before: $b) { pageInfo { hasPreviousPage hasNextPage startCursor } edges { node { content } } } }',
          {
            c,
            b: before,
          },
        )
      ).messages;
      walked.unshift(...page.edges.map((e: any) => e.node.content));
      expect(page.pageInfo.hasNextPage).toBe(before != null);
      if (!page.pageInfo.hasPreviousPage) break;
      before = page.pageInfo.startCursor;
    }
    expect(walked).toEqual(contents);
    // Seed 004's REST page (offset pages) shows the timeline too, counted the same.
    const rest = await call(server, 'GET', `/conversations/${c}/messages/`, { token: alice.token });
    expect(rest.status).toBe(200);
    expect(rest.body.count).toBe(contents.length);
    expect(rest.body.results.map((m: any) => m.content)).toEqual(contents);
    // messagesSince carries every reply, with its root.
    const since = (await q(alice, 'query($c: ID!) { messagesSince(conversationId: $c, afterSeq: 0) { content threadRootId } }', { c })).messagesSince;
    expect(since.filter((m: any) => m.threadRootId === root.id).map((m: any) => m.content)).toEqual(['only in the thread', 'also in the timeline']);
    // The conversation's last message is the timeline's newest.
    const lastOf = async () => (await q(alice, 'query($c: ID!) { conversation(id: $c) { lastMessage { content } } }', { c })).conversation.lastMessage.content;
    await send(bob, c, 'late thread reply', root.id);
    expect(await lastOf()).toBe('plain');
    // is:thread finds the root and its replies.
    const hits = (
      await q(alice, 'query { searchMessages(query: "is:thread", orderBy: NEWEST, first: 20) { edges { node { message { content } } } } }')
    ).searchMessages.edges.map((e: any) => e.node.message.content);
    expect(hits).toEqual(expect.arrayContaining(['root', 'only in the thread', 'also in the timeline', 'late thread reply']));
    expect(hits).not.toContain('plain');
  });

  test('live: messageAdded carries the reply with its root; messageUpdated the root with its new thread summary', async () => {
    const [alice, bob] = await users('th_live', 2);
    const c = await group(alice, [bob]);
    const root = await send(alice, c, 'root');
    const client = rt.client(alice);
    const added = rt.sub(client, 'subscription($c: ID) { messageAdded(conversationId: $c) { content threadRootId } }', { c });
    const updated = rt.sub(client, 'subscription($c: ID) { messageUpdated(conversationId: $c) { id thread { replyCount unreadReplyCount } } }', { c });
    await Promise.all([added.ready(), updated.ready()]);
    await send(bob, c, 'live reply', root.id);
    expect(await added.next()).toEqual({ messageAdded: { content: 'live reply', threadRootId: root.id } });
    expect(await updated.next()).toEqual({ messageUpdated: { id: root.id, thread: { replyCount: 1, unreadReplyCount: 1 } } });
  });
});

describe('following and unread replies', () => {
  test("the root's author, repliers and mentioned users follow; a choice stays; threads() lists them newest reply first", async () => {
    const [alice, bob, carol, dave] = await users('th_f', 4);
    const c = await group(alice, [bob, carol, dave]);
    const older = await send(alice, c, 'older root');
    const newer = await send(dave, c, 'newer root');
    await send(bob, c, `hey @${carol.username}`, older.id);
    expect((await threadOf(alice, older.id)).isFollowing).toBe(true); // the root's author
    expect((await threadOf(bob, older.id)).isFollowing).toBe(true); // a replier
    expect((await threadOf(carol, older.id)).isFollowing).toBe(true); // mentioned
    expect((await threadOf(dave, older.id)).isFollowing).toBe(false);
    // Carol stops following; a later mention does not make her follow again.
    expect((await follow(carol, older.id, false)).isFollowing).toBe(false);
    await send(bob, c, `again @${carol.username}`, older.id);
    expect((await threadOf(carol, older.id)).isFollowing).toBe(false);
    await send(bob, c, 'reply to the newer', newer.id);
    // Newest reply first; followingOnly by default.
    const bobs = await threadsOf(bob);
    expect(bobs.totalCount).toBe(2);
    expect(bobs.edges.map((e: any) => e.node.root.content)).toEqual(['newer root', 'older root']);
    expect((await threadsOf(carol)).totalCount).toBe(0);
    expect((await threadsOf(carol, { c, f: false })).edges.map((e: any) => e.node.root.content)).toEqual(['newer root', 'older root']);
    // Paging by cursor.
    const first = await threadsOf(bob, { n: 1 });
    expect(first.pageInfo.hasNextPage).toBe(true);
    const second = await threadsOf(bob, { n: 1, a: first.pageInfo.endCursor });
    expect(second.edges.map((e: any) => e.node.root.content)).toEqual(['older root']);
    expect(second.pageInfo.hasNextPage).toBe(false);
    // Dave follows before anything else happens; following shows for him only.
    expect((await follow(dave, older.id, true)).isFollowing).toBe(true);
    expect((await threadsOf(dave, { u: true })).edges.map((e: any) => e.node.root.content)).toEqual(['newer root', 'older root']);
  });

  test("unread replies: others' only, after the thread read position; the main timeline does not clear them; a reply reads up to itself; never backwards", async () => {
    const [alice, bob] = await users('th_u', 2);
    const c = await group(alice, [bob]);
    const root = await send(alice, c, 'root');
    const b1 = await send(bob, c, 'b1', root.id);
    await send(bob, c, 'b2', root.id);
    expect((await threadOf(alice, root.id)).unreadReplyCount).toBe(2);
    expect((await threadOf(bob, root.id)).unreadReplyCount).toBe(0); // own replies never count
    await q(alice, 'mutation($c: ID!) { markRead(conversationId: $c) { lastReadSeq } }', { c });
    expect((await threadOf(alice, root.id)).unreadReplyCount).toBe(2); // the main timeline does not clear it
    expect((await markThreadRead(alice, root.id, b1.seq)).unreadReplyCount).toBe(1);
    expect((await markThreadRead(alice, root.id, 0)).unreadReplyCount).toBe(1); // never backwards
    const a1 = await send(alice, c, 'a1', root.id); // replying reads up to the reply
    expect((await threadOf(alice, root.id)).unreadReplyCount).toBe(0);
    await send(bob, c, 'b3', root.id);
    expect((await threadOf(alice, root.id)).unreadReplyCount).toBe(1);
    expect((await markThreadRead(alice, root.id, a1.seq + 1000)).unreadReplyCount).toBe(0); // past the newest: the newest
    // Another session of the same user agrees.
    const login = await gqlOk(server.url, 'mutation($u: String!, $p: String!) { login(username: $u, password: $p) { accessToken } }', {
      u: alice.username,
      p: 'correct-horse-battery',
    });
    const other = { ...alice, token: login.login.accessToken };
    await send(bob, c, 'b4', root.id);
    expect((await threadOf(other, root.id)).unreadReplyCount).toBe(1);
    await markThreadRead(other, root.id);
    expect((await threadOf(alice, root.id)).unreadReplyCount).toBe(0);
    // A deleted reply leaves replyCount and the unread count.
    const b5 = await send(bob, c, 'b5', root.id);
    expect(await threadOf(alice, root.id)).toMatchObject({ replyCount: 6, unreadReplyCount: 1 });
    await q(bob, 'mutation($m: ID!) { deleteMessage(id: $m) { id } }', { m: b5.id });
    expect(await threadOf(alice, root.id)).toMatchObject({ replyCount: 5, unreadReplyCount: 0 });
  });

  test('a thread-only reply notifies the followers who do not watch it live, not every member', async () => {
    const [alice, bob, carol] = await users('th_n', 3);
    const c = await group(alice, [bob, carol]);
    const root = await send(alice, c, 'root');
    const count = async (u: TestUser) => (await q(u, 'query { notifications(first: 50) { totalCount } }')).notifications.totalCount;
    const before = { alice: await count(alice), carol: await count(carol) };
    await send(bob, c, 'a thread reply', root.id);
    expect(await count(alice)).toBe(before.alice + 1); // the root's author follows
    expect(await count(carol)).toBe(before.carol); // a member who does not follow
  });
});

describe('property: random replies, reads and follows keep the invariants', () => {
  test('unreadReplyCount equals a model of it, 0 <= unread <= replyCount, for every user, after every step', async () => {
    const people = await users('th_p', 3);
    const c = await group(people[0], people.slice(1));
    let seed = 32;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const root = await send(people[0], c, 'property root');
    // The model: every reply (sender, seq, deleted), each user's read position and following choice.
    const replies: { id: string; by: number; seq: number; deleted: boolean }[] = [];
    const position = new Map<number, number>();
    const following = new Map<number, boolean | null>();
    for (let step = 0; step < 40; step++) {
      const who = rand(3);
      const action = rand(10);
      if (action < 5) {
        const r = await send(people[who], c, `p${step}`, root.id);
        replies.push({ id: r.id, by: who, seq: r.seq, deleted: false });
        position.set(who, Math.max(position.get(who) ?? 0, r.seq));
        following.set(who, true);
        if (who !== 0 && following.get(0) == null) following.set(0, true);
      } else if (action < 7) {
        const newest = replies.length ? replies[replies.length - 1].seq : root.seq;
        const upTo = rand(2) ? undefined : root.seq + rand(newest - root.seq + 3);
        await markThreadRead(people[who], root.id, upTo);
        position.set(who, Math.max(position.get(who) ?? 0, Math.min(upTo ?? newest, newest)));
      } else if (action < 9) {
        const f = rand(2) === 0;
        await follow(people[who], root.id, f);
        following.set(who, f);
      } else {
        const mine = replies.filter((r) => r.by === who && !r.deleted);
        if (mine.length) {
          const r = mine[rand(mine.length)];
          await q(people[who], 'mutation($m: ID!) { deleteMessage(id: $m) { id } }', { m: r.id });
          r.deleted = true;
        }
      }
      const live = replies.filter((r) => !r.deleted);
      for (let u = 0; u < 3; u++) {
        const t = await q(people[u], `query($m: ID!) { message(id: $m) { thread { replyCount unreadReplyCount isFollowing } } }`, { m: root.id });
        if (!replies.length) {
          expect(t.message.thread).toBeNull();
          continue;
        }
        const expected = live.filter((r) => r.by !== u && r.seq > (position.get(u) ?? 0)).length;
        expect({ step, u, ...t.message.thread }).toEqual({
          step,
          u,
          replyCount: live.length,
          unreadReplyCount: expected,
          isFollowing: following.get(u) ?? false,
        });
        expect(t.message.thread.unreadReplyCount).toBeGreaterThanOrEqual(0);
        expect(t.message.thread.unreadReplyCount).toBeLessThanOrEqual(t.message.thread.replyCount);
      }
    }
    // The conversation's unread count never counts thread-only replies.
    const timelineUnread = await unreadOf(people[1], c);
    const tl = await timeline(people[1], c);
    expect(tl.edges.every((e: any) => e.node.threadRootId == null)).toBe(true);
    expect(timelineUnread).toBeLessThanOrEqual(tl.edges.length);
  });
});

describe('statements', () => {
  test('a page of 50 messages with thread summaries costs the statements of a page of 5', async () => {
    const [alice, bob] = await users('th_q', 2);
    const c = await group(alice, [bob]);
    for (let i = 0; i < 50; i++) {
      const m = await send(alice, c, `m${i}`);
      if (i % 5 === 0) await send(bob, c, `r${i}`, m.id);
    }
    const PAGE = `query($c: ID!, $n: Int) { messages(conversationId: $c, last: $n) { edges { node { id threadRootId thread { ${THREAD} root { id } } } } } }`;
    const count = async (n: number) => {
      statements.length = 0;
      recording = true;
      const page = await q(alice, PAGE, { c, n });
      recording = false;
      expect(page.messages.edges).toHaveLength(n);
      return statements.length;
    };
    await count(5);
    const five = await count(5);
    const fifty = await count(50);
    console.log(`messages(last: 50) with thread summaries: ${fifty} SQL statements (last: 5: ${five})`);
    expect(fifty).toBe(five);
  });
});
