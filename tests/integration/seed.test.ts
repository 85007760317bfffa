/**
 * `npm run seed` (issue 2, demo data): the seeding function against the real server's database,
 * then the demo accounts used through GraphQL with the password the README documents.
 */
import { DEMO_PASSWORD, seed } from '../../src/seed';
import { gqlOk } from '../support/client';
import { startTestServer, type TestServer } from '../support/test-server';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.close();
});

const login = async (username: string): Promise<string> =>
  (await gqlOk(server.url, `mutation($u: String!, $p: String!) { login(username: $u, password: $p) { accessToken } }`, { u: username, p: DEMO_PASSWORD })).login
    .accessToken;

const CONVERSATIONS = `query($k: ConversationKind) { conversations(kind: $k, first: 50) { edges { node {
  id kind title visibility memberCount
  lastMessage { content sender { username } }
} } } }`;

test('creates users, a direct chat with a reply, a group, a public room and a support thread; a second run changes nothing', async () => {
  const first = await seed(server.services, server.orm.em);
  expect(first.created).toBe(true);
  expect(first.lines.length).toBeGreaterThan(0);

  const alice = await login('alice');
  const list = (await gqlOk(server.url, CONVERSATIONS, {}, alice)).conversations.edges.map((e: any) => e.node);
  expect(list.map((c: any) => [c.kind, c.title, c.memberCount]).sort()).toEqual([
    ['DIRECT', 'Bob Brown', 2],
    ['GROUP', 'Weekend trip', 3],
    ['ROOM', 'General', 3],
  ]);
  expect(list.every((c: any) => c.lastMessage?.content)).toBe(true);

  const direct = list.find((c: any) => c.kind === 'DIRECT').id;
  const page = (
    await gqlOk(
      server.url,
      `query($c: ID!) { messages(conversationId: $c) { edges { node { seq sender { username } replyTo { seq } } } } }`,
      { c: direct },
      alice,
    )
  ).messages;
  expect(page.edges.map((e: any) => [e.node.seq, e.node.sender.username, e.node.replyTo?.seq ?? null])).toEqual([
    [1, 'alice', null],
    [2, 'bob', 1],
    [3, 'alice', null],
  ]);

  const publicRooms = (await gqlOk(server.url, `{ publicRooms { edges { node { title visibility } } } }`, {}, await login('bob'))).publicRooms.edges.map(
    (e: any) => e.node,
  );
  expect(publicRooms).toContainEqual({ title: 'General', visibility: 'PUBLIC' });

  // dave is staff and sees carol's support thread in his inbox, answered by him
  const dave = await login('dave');
  expect((await gqlOk(server.url, `{ me { isStaff } }`, {}, dave)).me.isStaff).toBe(true);
  const inbox = (await gqlOk(server.url, CONVERSATIONS, { k: 'SUPPORT' }, dave)).conversations.edges.map((e: any) => e.node);
  expect(inbox).toEqual([expect.objectContaining({ kind: 'SUPPORT', lastMessage: { content: expect.any(String), sender: { username: 'dave' } } })]);

  const again = await seed(server.services, server.orm.em);
  expect(again.created).toBe(false);
  expect((await gqlOk(server.url, CONVERSATIONS, {}, alice)).conversations.edges).toHaveLength(3);
  expect((await gqlOk(server.url, `{ users(search: "a") { totalCount } }`, {}, alice)).users.totalCount).toBe(3); // alice, carol, dave
});
