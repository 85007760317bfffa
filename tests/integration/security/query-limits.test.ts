/**
 * Query limits (issue 7) on both transports: depth, cost, aliases, directives and tokens are
 * refused with BAD_USER_INPUT (reason QUERY_LIMIT_EXCEEDED, or a parse error for tokens) over
 * HTTP *and* over graphql-ws, with the defaults and with limits set in the environment; the
 * contract's rich queries pass the defaults; page sizes are capped at 100 on every field.
 */
import { NoSchemaIntrospectionCustomRule, specifiedRules } from 'graphql';
import { buildGraphQLSchema } from '../../../src/graphql/schema';
import { DocumentCache, parseOptions, queryLimitRules } from '../../../src/security/query-limits';
import { gqlOk, registerUser, type GqlResult, type TestUser } from '../../support/client';
import { startTestServer, type TestServer } from '../../support/test-server';
import { RawSocket } from './transport-support';

jest.setTimeout(60000);

let server: TestServer;
let tight: TestServer;
let alice: TestUser;
let bob: TestUser;
let tightUser: TestUser;
let conversationId: string;
beforeAll(async () => {
  [server, tight] = await Promise.all([
    startTestServer(),
    startTestServer({ GRAPHQL_MAX_DEPTH: '3', GRAPHQL_MAX_COST: '60', GRAPHQL_MAX_ALIASES: '1', GRAPHQL_MAX_DIRECTIVES: '1', GRAPHQL_MAX_TOKENS: '40' }),
  ]);
  [alice, bob, tightUser] = await Promise.all([registerUser(server.url, 'ql'), registerUser(server.url, 'ql'), registerUser(tight.url, 'qlt')]);
  conversationId = (await gqlOk(server.url, `mutation($u: ID!) { openDirectChat(userId: $u) { id } }`, { u: bob.id }, alice.token)).openDirectChat.id;
  await gqlOk(server.url, `mutation($c: ID!) { sendMessage(input: { conversationId: $c, content: "hello" }) { id } }`, { c: conversationId }, alice.token);
});
afterAll(async () => {
  await Promise.all([server?.close(), tight?.close()]);
});

/** One operation over graphql-ws on a fresh authenticated socket: its `errors` (error message or next.errors) and `data`. */
async function overWs(s: TestServer, token: string, query: string, variables?: Record<string, unknown>, operationName?: string): Promise<GqlResult> {
  const socket = await RawSocket.open(s.wsUrl);
  try {
    await socket.ack(token);
    socket.send({ id: '1', type: 'subscribe', payload: { query, variables, operationName } });
    const answer = await socket.answer('1');
    return answer.type === 'error' ? { status: 0, errors: answer.payload } : { status: 0, ...answer.payload };
  } finally {
    socket.close();
  }
}

type Transport = 'HTTP' | 'graphql-ws';
const TRANSPORTS: Transport[] = ['HTTP', 'graphql-ws'];
/** POSTs one operation (with an operation name when given) and returns status and body. */
async function overHttp(s: TestServer, token: string, query: string, variables: Record<string, unknown>, operationName?: string): Promise<GqlResult> {
  const res = await fetch(s.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables, operationName }),
  });
  return { status: res.status, ...((await res.json()) as object) };
}
const run = (t: Transport, s: TestServer, user: TestUser, query: string, variables: Record<string, unknown> = {}, operationName?: string) =>
  t === 'HTTP' ? overHttp(s, user.token, query, variables, operationName) : overWs(s, user.token, query, variables, operationName);

/** Asserts a refusal by a query limit: one BAD_USER_INPUT error matching `message`, no data. */
function expectLimit(r: GqlResult, message: RegExp, t: Transport): void {
  expect(r.data ?? undefined).toBeUndefined();
  expect(r.errors).toHaveLength(1);
  expect(r.errors![0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' } });
  expect(r.errors![0].message).toMatch(message);
  if (t === 'HTTP') expect(r.status).toBe(400);
}
/** Asserts the document passed the limits: it ran (data, or an error from a resolver). */
function expectRan(r: GqlResult): void {
  const refused = (r.errors ?? []).filter((e) => e.extensions?.code === 'BAD_USER_INPUT' && !e.path);
  expect(refused).toEqual([]);
  expect(r.data).toBeDefined();
}

const nest = (levels: number) => 'replyTo { '.repeat(levels) + 'id' + ' }'.repeat(levels);
/** messages(1) edges(2) node(3) + `replies` levels of replyTo + id: depth 4 + replies. */
const deepQuery = (replies: number) => `query($c: ID!) { messages(conversationId: $c) { edges { node { ${nest(replies)} } } } }`;
const aliases = (n: number) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: me { id }`).join(' ')} }`;

const U = 'id username fullName firstName lastName avatarUrl presence lastSeenAt isStaff';
const M = `id seq kind content createdAt editedAt deletedAt isEdited isDeleted clientMessageId conversationId sender { ${U} } replyTo { id seq content sender { ${U} } } attachments { id url thumbnailUrl mimeType width height size fileName } mentions { id username }`;
const C = `id kind title name description visibility unreadCount lastSeq lastActivityAt createdAt updatedAt maxMembers memberCount viewerMembership { role lastReadSeq isMuted unreadCount } lastMessage { ${M} } members { id role nickname joinedAt isMuted isBanned lastReadSeq user { ${U} } }`;
/**
 * A client asking for everything about a page of 20 conversations (the default), members (up to
 * 100 each) included: every list counted at its real maximum (issue 27), about 46 000.
 */
const RICH_CONVERSATIONS = `query { conversations(first: 20) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { ${C} } } } }`;
const RICH_MESSAGES = `query($c: ID!) { messages(conversationId: $c, last: 100) { totalCount pageInfo { hasPreviousPage startCursor } edges { cursor node { ${M} } } } }`;

describe.each(TRANSPORTS)('default limits over %s', (t) => {
  test('depth: 10 levels run, 11 are refused', async () => {
    expectRan(await run(t, server, alice, deepQuery(6), { c: conversationId }));
    expectLimit(await run(t, server, alice, deepQuery(7), { c: conversationId }), /depth limit of 10 exceeded, found 11/, t);
  });

  test('aliases: 15 run, 16 are refused (__typename aliases are free)', async () => {
    expectRan(await run(t, server, alice, aliases(15)));
    expectLimit(await run(t, server, alice, aliases(16)), /Aliases limit of 15 exceeded, found 16/, t);
    expectRan(await run(t, server, alice, `{ ${Array.from({ length: 30 }, (_, i) => `t${i}: __typename`).join(' ')} }`));
  });

  test('directives: 50 run, 51 are refused', async () => {
    expectRan(await run(t, server, alice, `{ me { ${'id @include(if: true) '.repeat(50)}} }`));
    expectLimit(await run(t, server, alice, `{ me { ${'id @include(if: true) '.repeat(51)}} }`), /Directives limit of 50 exceeded, found 51/, t);
  });

  test('tokens: a document of more than 2000 tokens is refused while parsing', async () => {
    // Many small operations (8 tokens each), one of them chosen: repeating one field instead would
    // trip graphql-js's own overlapping-fields budget first.
    const operations = (n: number) => Array.from({ length: n }, (_, i) => `query Q${i} { me { id } }`).join('\n');
    expectRan(await run(t, server, alice, operations(250), {}, 'Q7')); // 2000 tokens
    expectLimit(await run(t, server, alice, operations(251), {}, 'Q7'), /Document contains more tha[nt] 2000 tokens/, t);
  });

  test("cost: the contract's rich queries pass; pages of 100 rich conversations (100 members each) are refused", async () => {
    expectRan(await run(t, server, alice, RICH_CONVERSATIONS));
    expectRan(await run(t, server, alice, RICH_MESSAGES, { c: conversationId }));
    expectLimit(await run(t, server, alice, RICH_CONVERSATIONS.replace('first: 20', 'first: 100')), /Cost limit of 100000 exceeded/, t);
    // A variable page size counts at its value (graphql-armor counted it as 1).
    expectLimit(
      await run(t, server, alice, `query($n: Int) { conversations(first: $n) { edges { node { ${C} } } } }`, { n: 100 }),
      /Cost limit of 100000 exceeded/,
      t,
    );
    expectRan(await run(t, server, alice, `query($n: Int) { conversations(first: $n) { edges { node { ${C} } } } }`, { n: 20 }));
  });

  test('page sizes: first, last and limit above 100 are BAD_USER_INPUT naming the argument, also messagesSince(limit)', async () => {
    const cases: [string, Record<string, unknown>, string][] = [
      [`query($n: Int) { users(first: $n) { totalCount } }`, { n: 101 }, 'first'],
      [`query($c: ID!, $n: Int) { messages(conversationId: $c, last: $n) { totalCount } }`, { c: conversationId, n: 101 }, 'last'],
      [`query($c: ID!, $n: Int) { messagesSince(conversationId: $c, afterSeq: 0, limit: $n) { id } }`, { c: conversationId, n: 101 }, 'limit'],
      [`query($c: ID!) { messagesSince(conversationId: $c, afterSeq: 0, limit: 500) { id } }`, { c: conversationId }, 'limit'],
      [`query($n: Int) { notifications(first: $n) { totalCount } }`, { n: 1000 }, 'first'],
    ];
    for (const [query, variables, argument] of cases) {
      const r = await run(t, server, alice, query, variables);
      expect({ argument, error: r.errors?.[0] }).toMatchObject({
        argument,
        error: { extensions: { code: 'BAD_USER_INPUT', field: argument }, message: expect.stringContaining(argument) },
      });
    }
    const ok = await run(t, server, alice, `query($c: ID!) { messagesSince(conversationId: $c, afterSeq: 0, limit: 100) { content } }`, { c: conversationId });
    expect(ok).toMatchObject({ data: { messagesSince: [{ content: 'hello' }] } });
  });

  test('outside production an unknown field still gets its suggestion (introspection is on anyway)', async () => {
    const r = await run(t, server, alice, `{ mee { id } }`);
    expect(r.errors?.[0].message).toMatch(/Did you mean "me"\?/);
  });
});

describe.each(TRANSPORTS)('limits from the environment over %s', (t) => {
  test('GRAPHQL_MAX_DEPTH, _ALIASES, _DIRECTIVES, _TOKENS and _COST are the ones enforced', async () => {
    expectRan(await run(t, tight, tightUser, `{ me { id } }`));
    expectLimit(await run(t, tight, tightUser, `{ conversations { edges { node { id } } } }`), /depth limit of 3 exceeded, found 4/, t);
    expectLimit(await run(t, tight, tightUser, `{ a: me { id } b: me { id } }`), /Aliases limit of 1 exceeded, found 2/, t);
    expectLimit(await run(t, tight, tightUser, `{ me { id @include(if: true) username @skip(if: false) } }`), /Directives limit of 1 exceeded, found 2/, t);
    expectLimit(await run(t, tight, tightUser, `{ me { ${'id '.repeat(40)}} }`), /more tha[nt] 40 tokens/, t);
    // The page size multiplies the edges (1 + 100 x (edge + cursor)), not totalCount.
    expectLimit(await run(t, tight, tightUser, `{ users(first: 100) { edges { cursor } } }`), /Cost limit of 60 exceeded, found 201/, t);
    expectRan(await run(t, tight, tightUser, `{ users(first: 100) { totalCount } }`));
    expectRan(await run(t, tight, tightUser, `{ users(first: 10) { edges { cursor } } }`));
  });
});

describe('DocumentCache (graphql-ws parse + validate per document)', () => {
  const schema = buildGraphQLSchema();
  const limits = { maxDepth: 10, maxCost: 100000, maxAliases: 15, maxDirectives: 50, maxTokens: 2000 };
  const rules = [...specifiedRules, ...queryLimitRules(limits), NoSchemaIntrospectionCustomRule];

  test('a document is parsed and validated once; the least recently used one leaves first', () => {
    const cache = new DocumentCache(schema, rules, parseOptions(limits), 2);
    const a = cache.prepare('{ me { id } }');
    const b = cache.prepare('{ me { username } }');
    expect(a.document).toBeDefined();
    expect(cache.prepare('{ me { id } }')).toBe(a); // hit; a is now the most recent
    cache.prepare('{ __typename }'); // evicts b
    expect(cache.size).toBe(2);
    expect(cache.prepare('{ me { id } }')).toBe(a);
    expect(cache.prepare('{ me { username } }')).not.toBe(b);
  });

  test('refusals are remembered too, with their codes; oversized documents are not remembered', () => {
    const cache = new DocumentCache(schema, rules, parseOptions(limits), 10, 100);
    const bad = cache.prepare('{ __schema { types { name } } }');
    expect(bad.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', reason: 'GRAPHQL_VALIDATION_FAILED' } });
    expect(bad.errors?.[0].message).toMatch(/introspection/i);
    expect(cache.prepare('{ __schema { types { name } } }')).toBe(bad);
    const syntax = cache.prepare('{ me { id ');
    expect(syntax.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', reason: 'GRAPHQL_PARSE_FAILED' } });
    expect(cache.prepare(42)).toMatchObject({ errors: [expect.objectContaining({ extensions: expect.objectContaining({ code: 'BAD_USER_INPUT' }) })] });
    const long = `{ me { ${'id '.repeat(50)}} }`;
    const first = cache.prepare(long);
    expect(first.document).toBeDefined();
    expect(cache.prepare(long)).not.toBe(first);
    expect(cache.size).toBe(2);
  });
});
