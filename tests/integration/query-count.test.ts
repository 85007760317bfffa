import { Attachment } from '../../src/domain/attachment/attachment.entity';
import { gqlOk, registerUser, type TestUser } from '../support/client';
import { startTestServer, type TestServer } from '../support/test-server';

/**
 * The statement count is the contract (issue 12), not the time: a page of messages with sender,
 * replyTo { sender } and attachments costs at most 4 SQL statements whatever the page size (3
 * once the senders are in the user cache); a send costs 2 (its checks, then the message with its
 * notifications in one commit); an authenticated `{ me { id } }` costs none once the user is cached.
 * The server reports every statement MikroORM runs through `onQuery` ("[query] select ...").
 */

const SQL = /^\s*(\[query\]\s*)?(select|insert|update|delete|with|begin|start transaction|commit|rollback|savepoint|release|set|show)\b/i;
const MAX_QUERIES_PER_PAGE = 4;

const received: string[] = [];
let recording = false;
let server: TestServer;
let alice: TestUser;
let bob: TestUser;
let conversationId: string;

beforeAll(async () => {
  server = await startTestServer(
    {},
    {
      onQuery: (line) => {
        if (recording) received.push(line);
      },
    },
  );
  alice = await registerUser(server.url, 'qcA');
  bob = await registerUser(server.url, 'qcB');
  conversationId = (await gqlOk(server.url, 'mutation($u: ID) { openDirectChat(userId: $u) { id } }', { u: bob.id }, alice.token)).openDirectChat.id;

  // 60 messages, alternating senders; two out of three reply to an earlier message (some of them
  // outside the newest 10 and the newest 50), so replies cross page boundaries.
  const ids: string[] = [];
  for (let i = 0; i < 60; i++) {
    const sender = i % 2 === 0 ? alice : bob;
    const replyToId = i > 0 && i % 3 !== 0 ? ids[Math.floor(i / 2)] : null;
    const { sendMessage } = await gqlOk(
      server.url,
      'mutation($c: ID, $t: String!, $r: ID) { sendMessage(input: { conversationId: $c, content: $t, replyToId: $r }) { id } }',
      { c: conversationId, t: `message ${i}`, r: replyToId },
      sender.token,
    );
    ids.push(sendMessage.id);
  }
  // Attachment rows are written with the server's own ORM: the page cost is about reading them, and uploads (tests/integration/attachments.test.ts) would only slow the fixture down.
  const em = server.orm.em.fork();
  for (let i = 0; i < 60; i += 3) {
    for (let k = 0; k < (i % 2 ? 1 : 2); k++) {
      em.create(Attachment, {
        message: Number(ids[i]),
        uploader: Number(i % 2 === 0 ? alice.id : bob.id),
        fileName: `photo-${i}-${k}.png`,
        mimeType: 'image/png',
        size: 1024,
        width: 10,
        height: 10,
        storageKey: `test/${i}/${k}`,
      });
    }
  }
  await em.flush();
});
afterAll(async () => {
  await server?.close();
});

const PAGE = `query($c: ID!, $n: Int) {
  messages(conversationId: $c, last: $n) {
    totalCount
    pageInfo { hasPreviousPage hasNextPage }
    edges { node { id seq content sender { id username fullName } replyTo { id seq sender { id username } } attachments { id url fileName mimeType size } } }
  }
}`;

/** Runs one request and returns its result and the SQL statements it caused. */
async function counted(query: string, variables: Record<string, unknown>, token: string): Promise<{ data: any; statements: string[] }> {
  received.length = 0;
  recording = true;
  let data: any;
  try {
    data = await gqlOk(server.url, query, variables, token);
  } finally {
    recording = false;
  }
  return { data, statements: received.filter((line) => SQL.test(line)) };
}

/** Runs one page request and returns its result and the SQL statements it caused. */
async function measure(last: number): Promise<{ data: any; statements: string[] }> {
  received.length = 0;
  recording = true;
  let data: any;
  try {
    data = await gqlOk(server.url, PAGE, { c: conversationId, n: last }, alice.token);
  } finally {
    recording = false;
  }
  const statements = received.filter((line) => SQL.test(line));
  const other = received.filter((line) => !SQL.test(line));
  if (other.length) console.log(`query log lines not counted as SQL statements:\n${other.join('\n')}`);
  return { data, statements };
}

test('the query log reports SQL statements', async () => {
  const { statements } = await measure(1);
  expect(statements.length).toBeGreaterThan(0);
  expect(statements.some((s) => /\bfrom "messages"/i.test(s))).toBe(true);
});

test('a page of 50 and a page of 10 cost the same small number of queries', async () => {
  const big = await measure(50);
  const small = await measure(10);

  // The pages are what they claim to be, with senders, replies and attachments resolved.
  const bigNodes = big.data.messages.edges.map((e: any) => e.node);
  const smallNodes = small.data.messages.edges.map((e: any) => e.node);
  expect(bigNodes).toHaveLength(50);
  expect(smallNodes).toHaveLength(10);
  expect(bigNodes.map((n: any) => n.seq)).toEqual(Array.from({ length: 50 }, (_, i) => 11 + i));
  expect(bigNodes.every((n: any) => n.sender && [alice.username, bob.username].includes(n.sender.username))).toBe(true);
  const replies = bigNodes.filter((n: any) => n.replyTo);
  expect(replies.length).toBeGreaterThan(20);
  expect(replies.every((n: any) => n.replyTo.sender && n.replyTo.seq < n.seq)).toBe(true);
  expect(replies.some((n: any) => n.replyTo.seq <= 10)).toBe(true); // a reply target outside the page
  expect(bigNodes.filter((n: any) => n.attachments.length > 0).length).toBeGreaterThan(10);
  expect(bigNodes.some((n: any) => n.attachments.length === 2)).toBe(true);

  console.log(
    `messages(last: 50) with sender, replyTo { sender } and attachments: ${big.statements.length} SQL queries ` +
      `(last: 10: ${small.statements.length})\n${big.statements.map((s) => `  ${s.slice(0, 160)}`).join('\n')}`,
  );
  expect(big.statements.length).toBe(small.statements.length);
  expect(big.statements.length).toBeLessThanOrEqual(MAX_QUERIES_PER_PAGE);
});

test('a page costs at most 4 statements with its senders not in the user cache, and 3 with them there', async () => {
  server.services.userCache.clear();
  await gqlOk(server.url, '{ __typename }', {}, alice.token); // the token's own user (the request's authentication, not the page)
  const cold = await measure(50);
  expect(cold.statements.length).toBeLessThanOrEqual(4);
  const warm = await measure(50);
  expect(warm.statements.length).toBe(3);
  // The same page either way (media URLs aside: their signature carries the current second).
  const unsigned = (d: unknown) => JSON.parse(JSON.stringify(d, (k, v) => (k === 'url' ? undefined : v)));
  expect(unsigned(warm.data)).toEqual(unsigned(cold.data));
});

const SEND =
  'mutation($c: ID, $t: String!, $r: ID, $k: String) { sendMessage(input: { conversationId: $c, content: $t, replyToId: $r, clientMessageId: $k }) { id seq content sender { username } } }';

test("a send costs 2 statements: its checks, then the message with its notifications (DIRECT: the conversation's lock first)", async () => {
  // A conversation of its own: the 60-message fixture the page tests count stays as it is.
  const carol = await registerUser(server.url, 'qcC');
  const conversationId = (await gqlOk(server.url, 'mutation($u: ID) { openDirectChat(userId: $u) { id } }', { u: carol.id }, alice.token)).openDirectChat.id;
  await gqlOk(server.url, '{ me { id } }', {}, alice.token); // alice in the user cache
  const plain = await counted(SEND, { c: conversationId, t: 'counted plain' }, alice.token);
  expect(plain.data.sendMessage.content).toBe('counted plain');
  // DIRECT (issue 27 §3): begin, the conversation's row lock, the message, commit: a block
  // committed while the send waited is a new row, seen only by a statement begun after the lock.
  expect(plain.statements).toHaveLength(5);
  expect(plain.statements[1]).toMatch(/begin/);
  // A group's send: the rules are re-checked under the lock by the message's own statement.
  const group = (
    await gqlOk(server.url, 'mutation($m: [ID!]!) { createGroup(input: { name: "Counted", memberIds: $m }) { id } }', { m: [carol.id] }, alice.token)
  ).createGroup.id;
  expect((await counted(SEND, { c: group, t: 'counted group' }, alice.token)).statements).toHaveLength(2);

  // A reply and an idempotency key are checked by the same first statement.
  const reply = await counted(SEND, { c: conversationId, t: 'counted reply', r: plain.data.sendMessage.id, k: 'qc-key-1' }, alice.token);
  expect(reply.statements).toHaveLength(5);
  const { message } = await gqlOk(server.url, 'query($id: ID!) { message(id: $id) { replyTo { id } } }', { id: reply.data.sendMessage.id }, carol.token);
  expect(message.replyTo.id).toBe(plain.data.sendMessage.id);

  // The retry is answered by the first statement alone, with the first message.
  const retry = await counted(SEND, { c: conversationId, t: 'counted reply', r: plain.data.sendMessage.id, k: 'qc-key-1' }, alice.token);
  expect(retry.data.sendMessage.id).toBe(reply.data.sendMessage.id);
  expect(retry.statements.length).toBeLessThanOrEqual(2);

  // The recipient who is not watching got the MESSAGE notifications, written by that same statement.
  const { notifications } = await gqlOk(server.url, '{ notifications(first: 5) { edges { node { kind body message { id } } } } }', {}, carol.token);
  const bodies = notifications.edges.map((e: any) => e.node.body);
  expect(bodies).toEqual(expect.arrayContaining(['counted plain', 'counted reply']));
  expect(bodies.filter((b: string) => b === 'counted reply')).toHaveLength(1);
});

test('an authenticated { me { id } } costs no statement once the user is cached', async () => {
  await gqlOk(server.url, '{ me { id } }', {}, bob.token);
  const me = await counted('{ me { id username } }', {}, bob.token);
  expect(me.data.me).toEqual({ id: bob.id, username: bob.username });
  expect(me.statements).toHaveLength(0);
});

test('issue 31: a page of 50 with revisions, pins and forwards costs as many statements as a page of 10 (batch loaders)', async () => {
  // A conversation of its own: edits, pins and forwards, all through the API.
  const dave = await registerUser(server.url, 'qcD');
  const c = (await gqlOk(server.url, 'mutation($u: ID) { openDirectChat(userId: $u) { id } }', { u: dave.id }, alice.token)).openDirectChat.id;
  const first = (await counted('query($c: ID!) { messages(conversationId: $c, first: 5) { edges { node { id } } } }', { c: conversationId }, alice.token)).data
    .messages.edges;
  for (let i = 0; i < 60; i++) {
    const m =
      i % 10 === 5
        ? (
            await gqlOk(
              server.url,
              'mutation($m: ID!, $c: ID!) { forwardMessage(id: $m, toConversationId: $c) { id } }',
              { m: first[Math.floor(i / 10) % 5].node.id, c },
              alice.token,
            )
          ).forwardMessage
        : (await gqlOk(server.url, SEND, { c, t: `history ${i}` }, i % 2 ? dave.token : alice.token)).sendMessage;
    if (i % 2 === 0 && i % 10 !== 5) {
      for (const t of ['one', 'two'])
        await gqlOk(server.url, 'mutation($id: ID!, $t: String!) { editMessage(id: $id, content: $t) { id } }', { id: m.id, t }, alice.token);
    }
    if (i % 3 === 0) await gqlOk(server.url, 'mutation($id: ID!) { pinMessage(id: $id, pinned: true) { id } }', { id: m.id }, dave.token);
  }
  const PAGE_31 = `query($c: ID!, $n: Int) { messages(conversationId: $c, last: $n) { edges { node {
    id seq content sender { id } revisions { content editedAt editedBy { id username } } isPinned pinnedAt pinnedBy { id } isForwarded forwardedFrom { id content sender { id } } } } } }`;
  await counted(PAGE_31, { c, n: 50 }, alice.token); // the users in the cache
  const big = await counted(PAGE_31, { c, n: 50 }, alice.token);
  const small = await counted(PAGE_31, { c, n: 10 }, alice.token);
  const nodes = big.data.messages.edges.map((e: any) => e.node);
  expect(nodes).toHaveLength(50);
  expect(nodes.filter((n: any) => n.revisions.length === 3).length).toBeGreaterThan(20);
  expect(nodes.filter((n: any) => n.isPinned && n.pinnedBy.id === dave.id).length).toBeGreaterThan(10);
  expect(nodes.filter((n: any) => n.isForwarded && n.forwardedFrom?.sender).length).toBeGreaterThanOrEqual(4);
  console.log(
    `issue 31 page of 50: ${big.statements.length} SQL statements (10: ${small.statements.length})\n${big.statements.map((s) => `  ${s.slice(0, 160)}`).join('\n')}`,
  );
  expect(big.statements.length).toBe(small.statements.length);
  // The page (access check and messages), revisions, the originals, the viewer's memberships of their conversations.
  expect(big.statements.length).toBeLessThanOrEqual(5);
});

test('issue 31: a page of 50 messages with their reactions costs one statement more than without, as a page of 10 does', async () => {
  // Reactions on every message of the newest 50 (rows written with the server's own connection):
  // both users, up to three emoji each, so each summary has counts, the viewer's own and latest users.
  const em = server.orm.em.fork();
  await em.execute(
    `insert into "message_reactions" ("message_id", "user_id", "emoji", "created_at")
     select m."id", u."id", e."emoji", now() - (m."seq" || ' seconds')::interval
       from "messages" m cross join (select unnest(array[?::int, ?::int]) as "id") u cross join unnest(array['👍', '🎉', '😂']) with ordinality as e("emoji", "k")
      where m."conversation_id" = ? and (m."seq" + u."id" * e."k") % 3 <> 0
     on conflict do nothing`,
    [Number(alice.id), Number(bob.id), Number(conversationId)],
  );
  const WITH = `query($c: ID!, $n: Int) { messages(conversationId: $c, last: $n) { edges { node { id sender { id } reactions { emoji count reactedByViewer latestUsers { id username } } } } } }`;
  const WITHOUT = `query($c: ID!, $n: Int) { messages(conversationId: $c, last: $n) { edges { node { id sender { id } } } } }`;
  await counted(WITH, { c: conversationId, n: 50 }, alice.token); // senders into the user cache
  const big = await counted(WITH, { c: conversationId, n: 50 }, alice.token);
  const small = await counted(WITH, { c: conversationId, n: 10 }, alice.token);
  const plain = await counted(WITHOUT, { c: conversationId, n: 50 }, alice.token);
  const nodes = big.data.messages.edges.map((e: any) => e.node);
  expect(nodes).toHaveLength(50);
  expect(nodes.filter((n: any) => n.reactions.length > 0).length).toBeGreaterThan(40);
  expect(nodes.some((n: any) => n.reactions.some((r: any) => r.reactedByViewer) && n.reactions.some((r: any) => r.latestUsers.length === 2))).toBe(true);
  console.log(
    `messages(last: 50) with reactions: ${big.statements.length} SQL statements (last: 10: ${small.statements.length}; without reactions: ${plain.statements.length})`,
  );
  expect(big.statements.length).toBe(small.statements.length);
  expect(big.statements.length).toBe(plain.statements.length + 1);
});
