import { Attachment } from '../../src/domain/attachment/attachment.entity';
import { gqlOk, registerUser, type TestUser } from '../support/client';
import { startTestServer, type TestServer } from '../support/test-server';

/**
 * A page of messages with sender, replyTo { sender } and attachments costs a constant number of
 * SQL statements (batch loaders, no N+1), whatever the page size.
 * The server reports every statement MikroORM runs through `onQuery` ("[query] select ...").
 */

const SQL = /^\s*(\[query\]\s*)?(select|insert|update|delete|with|begin|start transaction|commit|rollback|savepoint|release|set|show)\b/i;
const MAX_QUERIES_PER_PAGE = 8;

const received: string[] = [];
let recording = false;
let server: TestServer;
let alice: TestUser;
let bob: TestUser;
let conversationId: string;

beforeAll(async () => {
  server = await startTestServer({}, { onQuery: (line) => { if (recording) received.push(line); } });
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
        message: Number(ids[i]), uploader: Number(i % 2 === 0 ? alice.id : bob.id),
        fileName: `photo-${i}-${k}.png`, mimeType: 'image/png', size: 1024, width: 10, height: 10, storageKey: `test/${i}/${k}`,
      });
    }
  }
  await em.flush();
});
afterAll(async () => { await server?.close(); });

const PAGE = `query($c: ID!, $n: Int) {
  messages(conversationId: $c, last: $n) {
    totalCount
    pageInfo { hasPreviousPage hasNextPage }
    edges { node { id seq content sender { id username fullName } replyTo { id seq sender { id username } } attachments { id url fileName mimeType size } } }
  }
}`;

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
