import { Attachment } from '../../src/domain/attachment/attachment.entity';
import { PostgresSearchIndex } from '../../src/domain/search/search.index';
import { parseSearchQuery, matchQuery } from '../../src/domain/search/query';
import { codeOf, gql, gqlOk, registerUser, type TestUser } from '../support/client';
import { startTestServer, type TestServer } from '../support/test-server';

/**
 * searchMessages (issue 33) through GraphQL: the language fixtures, the operators, what the viewer
 * may read now (removed, banned, strangers, blocks), edits, deletes and account deletion, paging
 * while messages arrive, hostile queries, and the GIN index used for one- and two-character CJK.
 */

const SEARCH = `query($q: String!, $c: ID, $o: SearchOrder, $f: Int, $a: String) {
  searchMessages(query: $q, conversationId: $c, orderBy: $o, first: $f, after: $a) {
    totalCount pageInfo { hasNextPage endCursor } edges { cursor node { highlight message { id content conversationId } } } } }`;

let server: TestServer;
let alice: TestUser;
let bob: TestUser;
let carol: TestUser;
let group: string;

const q = (user: TestUser, query: string, vars: Record<string, unknown> = {}) => gql(server.url, SEARCH, { q: query, ...vars }, user.token);
async function contents(user: TestUser, query: string, vars: Record<string, unknown> = {}): Promise<string[]> {
  const r = await q(user, query, vars);
  expect(r.errors).toBeUndefined();
  return r.data.searchMessages.edges.map((e: any) => e.node.message.content);
}
async function send(user: TestUser, conversationId: string, content: string): Promise<string> {
  const r = await gqlOk(
    server.url,
    'mutation($c: ID, $t: String!) { sendMessage(input: { conversationId: $c, content: $t }) { id } }',
    { c: conversationId, t: content },
    user.token,
  );
  return r.sendMessage.id;
}
async function newGroup(owner: TestUser, members: TestUser[], name = 'g'): Promise<string> {
  const r = await gqlOk(
    server.url,
    'mutation($i: CreateGroupInput!) { createGroup(input: $i) { id } }',
    { i: { name, memberIds: members.map((m) => m.id) } },
    owner.token,
  );
  return r.createGroup.id;
}

beforeAll(async () => {
  server = await startTestServer({ RATE_SEARCHES_PER_MIN: '100000' });
  alice = await registerUser(server.url, 'srA');
  bob = await registerUser(server.url, 'srB');
  carol = await registerUser(server.url, 'srC');
  group = await newGroup(alice, [bob, carol], 'languages');
  for (const text of [
    '我家在上海东边。',
    '我喜欢猫和狗',
    'バッタと鈴虫',
    'tôi được đi học',
    'con đường này',
    'duong pho',
    'کتاب‌ها را خواندم',
    'كتاب علي',
    'The quick brown fox jumps',
    'brown quick fox',
    'a <script>alert(1)</script> quick note',
  ]) {
    await send(alice, group, text);
  }
}, 120_000);

afterAll(async () => {
  await server?.close();
});

test('Chinese and Japanese match inside a run of characters, one character included', async () => {
  expect(await contents(bob, '上海')).toEqual(['我家在上海东边。']);
  expect(await contents(bob, '猫')).toEqual(['我喜欢猫和狗']);
  expect(await contents(bob, '鈴虫')).toEqual(['バッタと鈴虫']);
  expect(await contents(bob, '上海东边')).toEqual(['我家在上海东边。']);
  expect(await contents(bob, '海上')).toEqual([]);
  const [hit] = (await q(bob, '上海')).data.searchMessages.edges;
  expect(hit.node.highlight).toBe('我家在<mark>上海</mark>东边。');
});

test('Vietnamese with or without diacritics; exact diacritics rank first', async () => {
  for (const query of ['duoc', 'được', 'toi duoc']) expect(await contents(bob, query)).toEqual(['tôi được đi học']);
  expect(await contents(bob, 'đường')).toEqual(['con đường này', 'duong pho']);
  expect((await q(bob, 'toi duoc')).data.searchMessages.edges[0].node.highlight).toBe('<mark>tôi</mark> <mark>được</mark> đi học');
});

test('Persian and Arabic: yeh/kaf forms and ZWNJ match each other; content unchanged', async () => {
  expect(await contents(bob, 'کتابها')).toEqual(['کتاب‌ها را خواندم']);
  // Arabic kaf and yeh typed, Persian stored (and the other way round).
  expect(await contents(bob, 'كتاب')).toEqual(['كتاب علي']);
  expect(await contents(bob, 'کتاب علی')).toEqual(['كتاب علي']);
  expect(await contents(bob, 'علي')).toEqual(['كتاب علي']);
});

test('English words, "exact phrase", -excluded; highlight escapes HTML', async () => {
  expect((await contents(bob, 'quick fox')).sort()).toEqual(['The quick brown fox jumps', 'brown quick fox']);
  expect(await contents(bob, '"quick brown"')).toEqual(['The quick brown fox jumps']);
  expect(await contents(bob, 'quick -jumps -note')).toEqual(['brown quick fox']);
  const [hit] = (await q(bob, 'alert')).data.searchMessages.edges;
  expect(hit.node.highlight).toBe('a &lt;script&gt;<mark>alert</mark>(1)&lt;/script&gt; quick note');
  expect(hit.node.message.content).toBe('a <script>alert(1)</script> quick note');
});

test('operators: from:, in:, before:/after:, has:link, has:file, has:image', async () => {
  const other = await newGroup(bob, [alice], 'ops');
  await send(bob, other, 'operators zebra https://example.com/x');
  const plain = await send(alice, other, 'operators zebra plain');
  const photo = await send(alice, other, 'operators zebra photo');
  const em = server.orm.em.fork();
  em.create(Attachment, {
    message: Number(photo),
    uploader: Number(alice.id),
    fileName: 'p.png',
    mimeType: 'image/png',
    size: 10,
    externalUrl: 'https://files.example.org/p.png',
  });
  em.create(Attachment, {
    message: Number(plain),
    uploader: Number(alice.id),
    fileName: 'a.pdf',
    mimeType: 'application/pdf',
    size: 10,
    externalUrl: 'https://files.example.org/a.pdf',
  });
  await em.flush();
  expect(await contents(alice, `zebra from:${bob.username}`)).toEqual(['operators zebra https://example.com/x']);
  expect(await contents(alice, `zebra from:@${bob.username.toUpperCase()}`)).toHaveLength(1);
  expect(await contents(alice, 'from:nobody_here_at_all')).toEqual([]);
  expect(await contents(alice, `quick in:${group}`)).toHaveLength(3);
  expect(await contents(alice, 'zebra', { c: group })).toEqual([]);
  expect(await contents(alice, 'zebra has:link')).toEqual(['operators zebra https://example.com/x']);
  expect((await contents(alice, 'zebra has:file')).sort()).toEqual(['operators zebra photo', 'operators zebra plain']);
  expect(await contents(alice, 'zebra has:image')).toEqual(['operators zebra photo']);
  const today = new Date().toISOString().slice(0, 10);
  expect(await contents(alice, `zebra before:${today}`)).toEqual([]);
  expect(await contents(alice, `zebra after:2000-01-01`)).toHaveLength(3);
  expect(await contents(alice, `zebra after:${today}`)).toEqual([]);
  const bad = await q(alice, 'zebra before:31/12/2026');
  expect(codeOf(bad)).toBe('BAD_USER_INPUT');
  expect(bad.errors![0].message).toMatch(/^before:/);
  // is:thread (issue 32): none of these messages is in a thread (tests/integration/threads.test.ts finds thread messages).
  expect(await contents(alice, 'zebra is:thread')).toEqual([]);
  expect(codeOf(await q(alice, 'zebra is:starred'))).toBe('BAD_USER_INPUT');
  // in: a conversation the viewer may not read is NOT_FOUND, as for every read.
  const secret = await newGroup(bob, [carol], 'secret');
  expect(codeOf(await q(alice, `zebra in:${secret}`))).toBe('NOT_FOUND');
  expect(codeOf(await q(alice, 'zebra', { c: secret }))).toBe('NOT_FOUND');
});

test('is:pinned finds only messages pinned now (issue 31), alone or with words', async () => {
  const g = await newGroup(alice, [bob], 'pins');
  const [a, b] = [await send(alice, g, 'pinnable walrus one'), await send(alice, g, 'pinnable walrus two')];
  expect(await contents(bob, 'walrus is:pinned')).toEqual([]);
  await gqlOk(server.url, 'mutation($id: ID!) { pinMessage(id: $id, pinned: true) { id } }', { id: a }, bob.token);
  expect(await contents(bob, 'walrus is:pinned')).toEqual(['pinnable walrus one']);
  expect(await contents(bob, `is:pinned in:${g}`)).toEqual(['pinnable walrus one']);
  await gqlOk(server.url, 'mutation($id: ID!) { pinMessage(id: $id, pinned: false) { id } }', { id: a }, bob.token);
  await gqlOk(server.url, 'mutation($id: ID!) { pinMessage(id: $id, pinned: true) { id } }', { id: b }, bob.token);
  expect(await contents(bob, 'walrus is:pinned')).toEqual(['pinnable walrus two']);
});

test('only what the viewer may read now: removed and banned members, strangers to a public room', async () => {
  const dave = await registerUser(server.url, 'srD');
  const erin = await registerUser(server.url, 'srE');
  const g = await newGroup(alice, [dave, erin], 'access');
  await send(alice, g, 'walrus secret plan');
  expect(await contents(dave, 'walrus')).toHaveLength(1);
  expect(await contents(erin, 'walrus')).toHaveLength(1);
  await gqlOk(server.url, 'mutation($c: ID!, $u: ID!) { removeMember(conversationId: $c, userId: $u) }', { c: g, u: dave.id }, alice.token);
  await gqlOk(server.url, 'mutation($c: ID!, $u: ID!) { banMember(conversationId: $c, userId: $u, banned: true) { id } }', { c: g, u: erin.id }, alice.token);
  expect(await contents(dave, 'walrus')).toEqual([]);
  expect(await contents(erin, 'walrus')).toEqual([]);
  expect(codeOf(await q(dave, 'walrus', { c: g }))).toBe('NOT_FOUND');
  // A PUBLIC room: a stranger sees its metadata, not its messages (conversation.policy canReadContent); joining does.
  const room = (await gqlOk(server.url, 'mutation { createRoom(input: { name: "srch-room" }) { id } }', {}, alice.token)).createRoom.id;
  await send(alice, room, 'narwhal public talk');
  expect(await contents(carol, 'narwhal')).toEqual([]);
  await gqlOk(server.url, 'mutation($c: ID!) { joinRoom(id: $c) { id } }', { c: room }, carol.token);
  expect(await contents(carol, 'narwhal')).toEqual(['narwhal public talk']);
});

test('staff find what staff may read (conversation.policy canReadContent: every conversation), never deleted messages', async () => {
  const staff = await registerUser(server.url, 'srS');
  await server.orm.em.fork().execute('update "users" set "is_staff" = true where "id" = ?', [Number(staff.id)]);
  const g = await newGroup(bob, [carol], 'staff-view');
  await send(bob, g, 'okapi in a group staff is not in');
  const gone = await send(bob, g, 'okapi deleted before the search');
  await gqlOk(server.url, 'mutation($id: ID!) { deleteMessage(id: $id) { id } }', { id: gone }, bob.token);
  const direct = (await gqlOk(server.url, 'mutation($u: ID) { openDirectChat(userId: $u) { id } }', { u: carol.id }, bob.token)).openDirectChat.id;
  await send(carol, direct, 'okapi in a direct chat');
  // What history shows staff there, search finds; a user who is not staff and not a member finds nothing.
  for (const c of [g, direct]) {
    const history = await gqlOk(server.url, 'query($c: ID!) { messages(conversationId: $c) { edges { node { content deletedAt } } } }', { c }, staff.token);
    const readable = history.messages.edges.filter((e: any) => !e.node.deletedAt && e.node.content.includes('okapi')).map((e: any) => e.node.content);
    expect(await contents(staff, 'okapi', { c })).toEqual(readable);
  }
  expect((await contents(staff, 'okapi')).sort()).toEqual(['okapi in a direct chat', 'okapi in a group staff is not in']);
  expect(await contents(alice, 'okapi')).toEqual([]);
});

test('a block hides no history, so search shows what history shows', async () => {
  const g = await newGroup(alice, [bob], 'blocks');
  await send(bob, g, 'platypus from bob');
  await gqlOk(server.url, 'mutation($u: ID!) { blockUser(userId: $u) { id } }', { u: bob.id }, alice.token);
  const history = await gqlOk(server.url, 'query($c: ID!) { messages(conversationId: $c) { edges { node { content } } } }', { c: g }, alice.token);
  expect(history.messages.edges.map((e: any) => e.node.content)).toContain('platypus from bob');
  expect(await contents(alice, 'platypus')).toEqual(['platypus from bob']);
  await gqlOk(server.url, 'mutation($u: ID!) { unblockUser(userId: $u) }', { u: bob.id }, alice.token);
});

test('an edit re-indexes, a delete removes, an account deletion removes (synchronously)', async () => {
  const frank = await registerUser(server.url, 'srF');
  const g = await newGroup(frank, [alice], 'changes');
  const id = await send(frank, g, 'axolotl original words');
  const gone = await send(frank, g, 'quokka to delete');
  await gqlOk(server.url, 'mutation($id: ID!) { editMessage(id: $id, content: "axolotl replaced text") { id } }', { id }, frank.token);
  expect(await contents(alice, 'original')).toEqual([]);
  expect(await contents(alice, 'replaced')).toEqual(['axolotl replaced text']);
  await gqlOk(server.url, 'mutation($id: ID!) { deleteMessage(id: $id) { id } }', { id: gone }, frank.token);
  expect(await contents(alice, 'quokka')).toEqual([]);
  expect(await contents(alice, `from:${frank.username}`)).toEqual(['axolotl replaced text']);
  await gqlOk(server.url, 'mutation { deleteAccount(password: "correct-horse-battery") }', {}, frank.token);
  expect(await contents(alice, 'axolotl')).toEqual([]);
  const [{ n }] = await server.orm.em
    .fork()
    .execute(`select count(*)::int as n from "messages" where "sender_id" = ? and "search_document" is not null`, [Number(frank.id)]);
  expect(n).toBe(0);
});

test('cursor paging is stable while messages arrive (NEWEST and RELEVANCE)', async () => {
  const g = await newGroup(alice, [bob], 'paging');
  for (let i = 0; i < 7; i++) await send(alice, g, i % 2 ? `lemur lemur ${i}` : `lemur ${i}`);
  for (const o of ['NEWEST', 'RELEVANCE']) {
    const seen: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 10; page++) {
      const r: any = (await q(bob, 'lemur', { o, f: 3, a: after, c: g })).data.searchMessages;
      seen.push(...r.edges.map((e: any) => e.node.message.id));
      expect(r.totalCount).toBeGreaterThanOrEqual(7);
      // New matching messages keep arriving between pages.
      await send(alice, g, `lemur late ${o} ${page}`);
      if (!r.pageInfo.hasNextPage) break;
      after = r.pageInfo.endCursor;
    }
    expect(new Set(seen).size).toBe(seen.length);
    const first7 = seen.slice(0, 7);
    expect(first7).toHaveLength(7);
    if (o === 'NEWEST') expect(first7).toEqual([...first7].sort((a, b) => Number(b) - Number(a)));
  }
  // RELEVANCE: the twice-mentioned ones first.
  const ranked = await contents(bob, 'lemur', { c: g, o: 'RELEVANCE', f: 3 });
  expect(ranked.every((c) => c.startsWith('lemur lemur'))).toBe(true);
});

test('hostile queries get clear errors, never a 500', async () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ['x'.repeat(100_000), {}, 'BAD_USER_INPUT'],
    [Array.from({ length: 50 }, () => 'from:a').join(' '), {}, 'BAD_USER_INPUT'],
    [Array.from({ length: 50 }, (_, i) => `w${i}`).join(' '), {}, 'BAD_USER_INPUT'],
    ['.*', {}, 'BAD_USER_INPUT'],
    ['quick', { f: 101 }, 'BAD_USER_INPUT'],
    ['quick', { a: 'not-a-cursor' }, 'BAD_USER_INPUT'],
    ['quick', { a: Buffer.from('hitr:1e99|2').toString('base64url') }, 'BAD_USER_INPUT'],
    ['quick', { c: '1; drop table messages' }, 'BAD_USER_INPUT'],
    ['in:abc', {}, 'BAD_USER_INPUT'],
  ];
  for (const [query, vars, code] of cases) {
    const r = await q(alice, query, vars);
    expect([query.slice(0, 30), codeOf(r)]).toEqual([query.slice(0, 30), code]);
  }
  for (const query of [
    `'; drop table "messages"; --`,
    `(?:a|b)*\\' ! & | <-> :* "`,
    'quick & !brown | fox <-> :*',
    '\u0000 quick \u0007',
    '"unterminated quick',
  ]) {
    const r = await q(alice, query);
    expect(r.errors).toBeUndefined();
  }
  expect(await contents(bob, 'quick')).toHaveLength(3);
});

test('a burst of the same search answers every one of them the same', async () => {
  const all = await Promise.all(Array.from({ length: 12 }, () => contents(bob, '猫')));
  expect(all.every((r) => r.length === 1 && r[0] === '我喜欢猫和狗')).toBe(true);
});

test('one- and two-character CJK queries use the GIN index', async () => {
  const index = new PostgresSearchIndex();
  const em = server.orm.em.fork();
  // A corpus large enough for the planner to prefer an index: 5000 more messages in bob's conversation.
  await em.execute(
    `insert into "messages" ("conversation_id", "seq", "sender_id", "kind", "content", "created_change", "change_seq", "created_at", "search_document")
     select ?, 100000 + g, ?, 'TEXT', 'filler 东京 ' || g, 0, 0, now(), ('''filler'':1 ''东'':2 ''东京'':2 ''京'':3 ''' || g || ''':4')::tsvector
       from generate_series(1, 5000) g`,
    [Number(group), Number(alice.id)],
  );
  // As autovacuum would: the GIN pending list merged, statistics current.
  await em.execute('vacuum analyze');
  for (const query of ['猫', '上海']) {
    const parsed = parseSearchQuery(query);
    const { sql, params } = index.statement({ id: Number(bob.id), username: bob.username, isStaff: false } as never, {
      match: matchQuery(parsed),
      exact: null,
      conversationIds: null,
      senders: null,
      before: null,
      after: null,
      hasFile: false,
      hasImage: false,
      order: 'RELEVANCE',
      cursor: null,
      size: 20,
    });
    const plan = await em.execute<{ 'QUERY PLAN': string }[]>(`explain ${sql}`, params);
    const text = plan.map((r) => r['QUERY PLAN']).join('\n');
    expect(text).toMatch(/Bitmap Index Scan on messages_search_document_idx/);
  }
}, 60_000);

test('a per-user rate limit: RATE_LIMITED with retryAfter', async () => {
  const limited = await startTestServer({ RATE_SEARCHES_PER_MIN: '3' });
  try {
    const u = await registerUser(limited.url, 'srL');
    const other = await registerUser(limited.url, 'srM');
    for (let i = 0; i < 3; i++) expect((await gql(limited.url, SEARCH, { q: 'hello' }, u.token)).errors).toBeUndefined();
    const refused = await gql(limited.url, SEARCH, { q: 'hello' }, u.token);
    expect(codeOf(refused)).toBe('RATE_LIMITED');
    expect(refused.errors![0].extensions!.retryAfter).toBeGreaterThan(0);
    expect((await gql(limited.url, SEARCH, { q: 'hello' }, other.token)).errors).toBeUndefined();
  } finally {
    await limited.close();
  }
}, 60_000);
