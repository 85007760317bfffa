/**
 * Issue 32, "seen by" and "one subscription for every badge" (contract: Message.seenBy, seenCount;
 * typing and readReceipt with an optional conversation). Real servers, GraphQL over HTTP and
 * graphql-ws clients. seenBy lists the active members whose read position covers a message: never
 * its sender, never users with read receipts off, never a member removed or banned (also after
 * reading), never a user blocked either way with the viewer; seenCount counts the same readers; a
 * page of 50 messages with both costs the statements of a page of 10. The subscriptions without a
 * conversation carry typing and receipts of every conversation of the viewer and nothing else.
 */
import { gql, gqlOk, registerUser, subscribe, trackRealtime, wsClient, type TestUser } from '../support/client';
import { startTestServer, type TestServer } from '../support/test-server';

jest.setTimeout(120_000);

const SQL = /^\s*(\[query\]\s*)?(select|insert|update|delete|with|begin|start transaction|commit|rollback|savepoint|release|set|show)\b/i;
const received: string[] = [];
let recording = false;
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({}, { onQuery: (line) => recording && received.push(line) });
});
afterAll(async () => {
  await server?.close();
});
const rt = trackRealtime(
  () => server.wsUrl,
  () => server,
);

const q = (u: TestUser, query: string, variables: Record<string, unknown> = {}, s: TestServer = server) => gqlOk(s.url, query, variables, u.token);
const group = async (owner: TestUser, members: TestUser[], s: TestServer = server): Promise<string> =>
  (await q(owner, 'mutation($u: [ID!]!) { createGroup(input: { name: "g", memberIds: $u }) { id } }', { u: members.map((m) => m.id) }, s)).createGroup.id;
const send = async (u: TestUser, c: string, content = 'hi', s: TestServer = server): Promise<{ id: string; seq: number }> =>
  (await q(u, 'mutation($c: ID!, $t: String!) { sendMessage(input: { conversationId: $c, content: $t }) { id seq } }', { c, t: content }, s)).sendMessage;
const read = (u: TestUser, c: string, upToSeq?: number, s: TestServer = server) =>
  q(u, 'mutation($c: ID!, $n: Int) { markRead(conversationId: $c, upToSeq: $n) { lastReadSeq } }', { c, n: upToSeq ?? null }, s);
const privacy = (u: TestUser, sendReadReceipts: boolean) =>
  q(u, 'mutation($i: PrivacySettingsInput!) { updatePrivacy(input: $i) { sendReadReceipts } }', { i: { sendReadReceipts } });
const users = (prefix: string, n: number) => Promise.all(Array.from({ length: n }, (_, i) => registerUser(server.url, `${prefix}${i}`)));

const SEEN = `query($m: ID!, $n: Int, $a: String) { message(id: $m) { seenCount seenBy(first: $n, after: $a) {
  totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id } } } } }`;

/** Every reader of message `m` as `viewer` sees it, paged `pageSize` at a time, with seenCount and totalCount. */
async function seenBy(viewer: TestUser, m: string, pageSize = 2, s: TestServer = server): Promise<{ ids: string[]; count: number; total: number }> {
  const ids: string[] = [];
  let after: string | null = null;
  let count = -1;
  let total = -1;
  for (let pages = 0; pages < 100; pages++) {
    const { message }: any = await q(viewer, SEEN, { m, n: pageSize, a: after }, s);
    count = message.seenCount;
    total = message.seenBy.totalCount;
    ids.push(...message.seenBy.edges.map((e: any) => e.node.id));
    if (!message.seenBy.pageInfo.hasNextPage) break;
    after = message.seenBy.pageInfo.endCursor;
  }
  // Cursors never repeat a reader; the order (joining order) is compared as a set below.
  expect(new Set(ids).size).toBe(ids.length);
  return { ids: ids.sort((a, b) => Number(a) - Number(b)), count, total };
}
const sorted = (us: TestUser[]) => us.map((u) => u.id).sort((a, b) => Number(a) - Number(b));

describe('Message.seenBy and seenCount', () => {
  test('members whose read position covers it; never the sender, read receipts off, removed or banned members, nor across a block', async () => {
    const [owner, bob, quiet, removed, banned, blocksOwner, blockedByOwner, idle] = await users('sb', 8);
    const c = await group(owner, [bob, quiet, removed, banned, blocksOwner, blockedByOwner, idle]);
    const m1 = await send(owner, c, 'one');
    const m2 = await send(owner, c, 'two');
    await privacy(quiet, false);
    await read(bob, c, m1.seq);
    await Promise.all([quiet, removed, banned, blocksOwner, blockedByOwner, owner].map((u) => read(u, c)));
    await q(blocksOwner, 'mutation($u: ID!) { blockUser(userId: $u) { id } }', { u: owner.id });
    await q(owner, 'mutation($u: ID!) { blockUser(userId: $u) { id } }', { u: blockedByOwner.id });

    // The owner (sender): bob, removed and banned (still members); not quiet, not the owner, nor either side of a block.
    expect(await seenBy(owner, m1.id)).toEqual({ ids: sorted([bob, removed, banned]), count: 3, total: 3 });
    expect(await seenBy(owner, m2.id)).toEqual({ ids: sorted([removed, banned]), count: 2, total: 2 });
    // Bob has no block: both blocking users count for him, and he sees himself.
    expect(await seenBy(bob, m1.id)).toEqual({ ids: sorted([bob, removed, banned, blocksOwner, blockedByOwner]), count: 5, total: 5 });

    // Decision: a member removed (or banned) after reading no longer counts anywhere.
    await q(owner, 'mutation($c: ID!, $u: ID!) { removeMember(conversationId: $c, userId: $u) }', { c, u: removed.id });
    await q(owner, 'mutation($c: ID!, $u: ID!) { banMember(conversationId: $c, userId: $u, banned: true) { id } }', { c, u: banned.id });
    expect(await seenBy(owner, m1.id)).toEqual({ ids: sorted([bob]), count: 1, total: 1 });
    expect(await seenBy(bob, m2.id)).toEqual({ ids: sorted([blocksOwner, blockedByOwner]), count: 2, total: 2 });

    // A message of bob's read by the owner: the owner counts for bob, not for those in a block with the owner.
    const m3 = await send(bob, c, 'three');
    await read(owner, c);
    expect(await seenBy(bob, m3.id)).toEqual({ ids: sorted([owner]), count: 1, total: 1 });
    expect(await seenBy(blocksOwner, m3.id)).toEqual({ ids: [], count: 0, total: 0 });
    expect(await seenBy(blockedByOwner, m3.id)).toEqual({ ids: [], count: 0, total: 0 });

    // Read receipts back on: quiet counts again (derived from read positions, nothing was lost).
    await privacy(quiet, true);
    expect(await seenBy(owner, m1.id)).toEqual({ ids: sorted([bob, quiet]), count: 2, total: 2 });
    // The removed member cannot read the message any more at all.
    const gone = await gqlOkOrCode(removed, SEEN, { m: m1.id });
    expect(gone).toBe('NOT_FOUND');
  });

  test('DIRECT: the other user once their read position covers it, pages and cursors', async () => {
    const [a, b] = await users('sbd', 2);
    const c = (await q(a, 'mutation($u: ID) { openDirectChat(userId: $u) { id } }', { u: b.id })).openDirectChat.id;
    const m = await send(a, c);
    expect(await seenBy(a, m.id)).toEqual({ ids: [], count: 0, total: 0 });
    await read(b, c);
    expect(await seenBy(a, m.id)).toEqual({ ids: [b.id], count: 1, total: 1 });
    const page = (await q(a, SEEN, { m: m.id, n: 0 })).message.seenBy;
    expect(page).toMatchObject({ edges: [], totalCount: 1, pageInfo: { hasNextPage: true } });
    const bad = await gqlOkOrCode(a, SEEN, { m: m.id, a: 'not-a-cursor' });
    expect(bad).toBe('BAD_USER_INPUT');
    expect(await gqlOkOrCode(a, SEEN, { m: m.id, n: 101 })).toBe('BAD_USER_INPUT');
  });

  test('correct after concurrent reads by many users (bursts of markRead, out of order)', async () => {
    const [owner, ...members] = await users('sbc', 13);
    const c = await group(owner, members);
    const sent = [];
    for (let i = 0; i < 3; i++) sent.push(await send(owner, c, `m${i}`));
    // Every member fires reads up to 1, 2 and 3 (twice each) at once, all members at the same time.
    const seqs = sent.map((m) => m.seq);
    await Promise.all(members.flatMap((u) => [2, 0, 1, 2, 1, 0].map((i) => read(u, c, seqs[i]))));
    for (const m of sent) expect(await seenBy(owner, m.id, 5)).toEqual({ ids: sorted(members), count: 12, total: 12 });
    // Positions never moved backwards.
    const positions = (await q(owner, 'query($c: ID!) { conversation(id: $c) { members { user { id } lastReadSeq } } }', { c })).conversation.members;
    expect(positions.filter((p: any) => p.user.id !== owner.id).every((p: any) => p.lastReadSeq === seqs[2])).toBe(true);
  });

  test('staff reading a GROUP without a membership see no seen-by (members only)', async () => {
    const [owner, bob, staff] = await users('sbs', 3);
    await server.orm.em.fork().execute('update "users" set "is_staff" = true where "id" = ?', [Number(staff.id)]);
    server.services.userCache.clear();
    const c = await group(owner, [bob]);
    const m = await send(owner, c);
    await read(bob, c);
    expect(await seenBy(staff, m.id)).toEqual({ ids: [], count: 0, total: 0 });
    expect(await seenBy(owner, m.id)).toEqual({ ids: [bob.id], count: 1, total: 1 });
  });
});

describe('large conversations (SEEN_BY_MAX_MEMBERS)', () => {
  let small: TestServer;
  beforeAll(async () => {
    small = await startTestServer({ SEEN_BY_MAX_MEMBERS: '3' });
  });
  afterAll(async () => {
    await small?.close();
  });

  test('above the bound seenBy is empty and seenCount still counts; at the bound the readers are listed', async () => {
    const [owner, a, b, c] = await Promise.all(['sbl0', 'sbl1', 'sbl2', 'sbl3'].map((p) => registerUser(small.url, p)));
    const big = await group(owner, [a, b, c], small);
    const fits = await group(owner, [a, b], small);
    const mBig = await send(owner, big, 'x', small);
    const mFits = await send(owner, fits, 'x', small);
    await Promise.all([read(a, big, undefined, small), read(b, big, undefined, small), read(a, fits, undefined, small)]);
    expect(await seenBy(owner, mBig.id, 2, small)).toEqual({ ids: [], count: 2, total: 0 });
    expect(await seenBy(owner, mFits.id, 2, small)).toEqual({ ids: [a.id], count: 1, total: 1 });
  });

  test("above the bound, receipts are coalesced: a burst of readers reaches another member as at most one receipt a second; the reader's own sessions get theirs at once", async () => {
    const people = await Promise.all(Array.from({ length: 7 }, (_, i) => registerUser(small.url, `sbc${i}`)));
    const [owner, watcher, ...readers] = people;
    const big = await group(owner, [watcher, ...readers], small);
    const fits = await group(owner, [watcher], small);

    const RECEIPTS = 'subscription($c: ID) { readReceipt(conversationId: $c) { user { id } lastReadSeq coalescedCount } }';
    const rtSmall = { client: (u: TestUser) => wsClient(small.wsUrl, u.token) };
    const watcherClient = rtSmall.client(watcher);
    const ownClient = rtSmall.client(readers[0]);
    try {
      const live = subscribe(watcherClient, RECEIPTS, { c: big }, { server: small });
      const own = subscribe(ownClient, RECEIPTS, { c: big }, { server: small });
      const liveFits = subscribe(watcherClient, RECEIPTS, { c: fits }, { server: small });
      await Promise.all([live.ready(), own.ready(), liveFits.ready()]);
      // The sender's own receipt (a send reads up to itself) comes first, in a window of its own: taken before the burst.
      const news = await send(owner, big, 'news', small);
      await send(owner, fits, 'news', small);
      await live.until((e) => e.readReceipt.user.id === owner.id && e.readReceipt.lastReadSeq === news.seq, 5000);
      await liveFits.until((e) => e.readReceipt.user.id === owner.id, 5000);
      await own.until((e) => e.readReceipt.user.id === owner.id, 5000);
      const started = Date.now();
      await Promise.all(readers.map((u) => read(u, big, undefined, small)));
      // The reader's own session: its receipt at once, not coalesced.
      expect(await own.next()).toEqual({ readReceipt: { user: { id: readers[0].id }, lastReadSeq: expect.any(Number), coalescedCount: 1 } });
      expect(Date.now() - started).toBeLessThan(900);
      // The watcher: the window's newest receipt standing for all of them (5 readers; a slow burst may span two windows).
      const got = [await live.next(5000)];
      let counted = got[0].readReceipt.coalescedCount;
      while (counted < readers.length) {
        got.push(await live.next(5000));
        counted += got[got.length - 1].readReceipt.coalescedCount;
      }
      expect(counted).toBe(readers.length);
      expect(got.length).toBeLessThanOrEqual(2);
      // At or below the bound every receipt comes as it is.
      await read(watcher, fits, undefined, small);
      expect(await liveFits.next()).toEqual({ readReceipt: { user: { id: watcher.id }, lastReadSeq: expect.any(Number), coalescedCount: 1 } });
      live.stop();
      own.stop();
      liveFits.stop();
    } finally {
      await Promise.all([watcherClient.dispose(), ownClient.dispose()]);
    }
  });
});

test('a page of 50 messages with seenBy and seenCount costs the statements of a page of 10 (one per loader, whatever the size)', async () => {
  const [owner, ...members] = await users('sbq', 5);
  const c = await group(owner, members);
  for (let i = 0; i < 60; i++) await send(i % 3 === 0 ? members[i % members.length] : owner, c, `message ${i}`);
  await Promise.all(members.map((u, i) => read(u, c, 10 + i * 12)));
  const PAGE = `query($c: ID!, $n: Int) { messages(conversationId: $c, last: $n) { edges { node { id seq sender { id }
    seenCount seenBy(first: 3) { totalCount edges { node { id username } } } } } } }`;
  await q(owner, PAGE, { c, n: 1 }); // the users in the user cache
  const measure = async (n: number) => {
    received.length = 0;
    recording = true;
    try {
      const data = await q(owner, PAGE, { c, n });
      return { nodes: data.messages.edges.map((e: any) => e.node), statements: received.filter((l) => SQL.test(l)) };
    } finally {
      recording = false;
    }
  };
  const big = await measure(50);
  const small = await measure(10);
  expect(big.nodes).toHaveLength(50);
  // The counts are right: readers whose position covers the seq (a send moves its sender's too), minus the sender.
  const positions = (await q(owner, 'query($c: ID!) { conversation(id: $c) { members { user { id } lastReadSeq } } }', { c })).conversation.members.map(
    (p: any) => ({ id: p.user.id, seq: p.lastReadSeq }),
  );
  expect(new Set(positions.map((p: any) => p.seq)).size).toBeGreaterThan(3);
  for (const n of big.nodes) {
    const want = positions.filter((p: any) => p.seq >= n.seq && p.id !== n.sender.id).length;
    expect({ seq: n.seq, count: n.seenCount, total: n.seenBy.totalCount, listed: n.seenBy.edges.length }).toEqual({
      seq: n.seq,
      count: want,
      total: want,
      listed: Math.min(3, want),
    });
  }
  console.log(
    `messages(last: 50) with seenBy and seenCount: ${big.statements.length} SQL statements (last: 10: ${small.statements.length})\n${big.statements.map((s) => `  ${s.slice(0, 140)}`).join('\n')}`,
  );
  expect(big.statements.length).toBe(small.statements.length);
  expect(big.statements.length).toBeLessThanOrEqual(6);
});

describe('typing and readReceipt without a conversation: every conversation of the viewer', () => {
  test('typing and receipts of every conversation of the viewer, nothing of others, never across a block, never of receipts off', async () => {
    const [alice, bob, carol, dave, erin] = await users('sbw', 5);
    const g1 = await group(alice, [bob, carol]); // carol is blocked by alice below
    const g2 = await group(alice, [dave]); // dave sends no read receipts
    const g3 = await group(bob, [erin]); // not alice's
    await send(bob, g1, 'from bob');
    await send(alice, g1);
    await send(alice, g2);
    await send(bob, g3);
    await privacy(dave, false);
    await q(alice, 'mutation($u: ID!) { blockUser(userId: $u) { id } }', { u: carol.id });

    const T = 'subscription { typing { conversationId user { id } isTyping } }';
    const R = 'subscription { readReceipt { conversationId user { id } lastReadSeq } }';
    const client = rt.client(alice);
    const typing = rt.sub(client, T);
    const receipts = rt.sub(client, R);
    const otherSession = rt.sub(rt.client(alice), R);
    await Promise.all([typing.ready(), receipts.ready(), otherSession.ready()]);
    const type = (u: TestUser, c: string) => q(u, 'mutation($c: ID!) { setTyping(conversationId: $c, isTyping: true) }', { c });

    // Forbidden first (erin in g3, carol blocked in g1), then an allowed control event: exactly the control arrives.
    await type(erin, g3);
    await type(carol, g1);
    await type(dave, g2);
    expect((await typing.until((e) => e.typing.user.id === dave.id)).map((e) => [e.typing.conversationId, e.typing.user.id])).toEqual([[g2, dave.id]]);
    await type(bob, g1);
    expect(await typing.next()).toMatchObject({ typing: { conversationId: g1, user: { id: bob.id }, isTyping: true } });

    await read(erin, g3);
    await read(carol, g1);
    await read(dave, g2);
    await read(bob, g1);
    expect((await receipts.until((e) => e.readReceipt.user.id === bob.id)).map((e) => [e.readReceipt.conversationId, e.readReceipt.user.id])).toEqual([
      [g1, bob.id],
    ]);
    // Live seen-by: the receipt says who now covers which seqs; the query agrees.
    const bobReceipt = receipts.events[receipts.events.length - 1].readReceipt;
    const aliceMessages = (
      await q(alice, 'query($c: ID!) { messages(conversationId: $c, last: 10) { edges { node { id seq sender { id } } } } }', { c: g1 })
    ).messages.edges
      .map((e: any) => e.node)
      .filter((n: any) => n.sender?.id !== bob.id && n.seq <= bobReceipt.lastReadSeq);
    for (const n of aliceMessages) expect((await seenBy(alice, n.id)).ids).toContain(bob.id);

    // Alice's own receipt reaches her other session (and this one); that session got bob's before, nothing else.
    await send(carol, g1, 'from carol'); // alice has something to read; carol's own receipt never reaches alice (block)
    await read(alice, g1);
    const mine = await otherSession.until((e) => e.readReceipt.user.id === alice.id);
    expect(mine.map((e) => [e.readReceipt.conversationId, e.readReceipt.user.id])).toEqual([
      [g1, bob.id],
      [g1, alice.id],
    ]);
    expect(await receipts.next()).toMatchObject({ readReceipt: { conversationId: g1, user: { id: alice.id } } });

    // Added to g3 later: its events arrive on the same subscriptions, no resubscribe.
    await q(bob, 'mutation($c: ID!, $u: ID!) { addMember(conversationId: $c, userId: $u) { id } }', { c: g3, u: alice.id });
    await type(bob, g3);
    const upTo = await typing.until((e) => e.typing.conversationId === g3);
    // Before it, at most the typing of the others ending by itself (5 s), never erin's or carol's.
    expect(upTo.slice(0, -1).every((e) => !e.typing.isTyping && [bob.id, dave.id].includes(e.typing.user.id))).toBe(true);
    expect(upTo[upTo.length - 1]).toMatchObject({ typing: { conversationId: g3, user: { id: bob.id }, isTyping: true } });
    await send(bob, g3, 'for erin');
    await read(erin, g3);
    const g3Receipts = await receipts.until((e) => e.readReceipt.user.id === erin.id);
    // Sending may move bob's own position first (his receipt, also g3's); nothing of other conversations.
    expect(g3Receipts.every((e) => e.readReceipt.conversationId === g3 && [bob.id, erin.id].includes(e.readReceipt.user.id))).toBe(true);
  });
});

/** The data of a query, or the code of its first error. */
async function gqlOkOrCode(u: TestUser, query: string, variables: Record<string, unknown>): Promise<unknown> {
  const r = await gql(server.url, query, variables, u.token);
  return r.errors?.length ? r.errors[0].extensions?.code : r.data;
}
