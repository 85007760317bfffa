import { gqlOk, registerUser, type TestUser } from '../support/client';
import { startTestServer, type TestServer } from '../support/test-server';

/**
 * Account deletion ends the user's places by the membership rules (issue 29 item 5): where the
 * deleted user was the only OWNER, the heir of leaving (the oldest ADMIN, else the oldest member)
 * becomes OWNER; another OWNER keeps it alone; a conversation left empty stays ownerless; a place
 * as ADMIN changes no one's role. And it stays set-based: the deletion of an account owning 8
 * groups costs the same SQL statements as one owning 2 (the server reports each statement through
 * `onQuery`, as in query-count.test.ts).
 */

const PASSWORD = 'correct-horse-battery';
const DELETE = 'mutation($p: String!) { deleteAccount(password: $p) }';
const GROUP = 'mutation($n: String!, $m: [ID!]!) { createGroup(input: { name: $n, memberIds: $m }) { id } }';
const ROOM = 'mutation($n: String!) { createRoom(input: { name: $n }) { id } }';
const JOIN = 'mutation($c: ID!) { joinRoom(id: $c) { id } }';
const ADD = 'mutation($c: ID!, $u: ID!) { addMember(conversationId: $c, userId: $u) { id } }';
const ROLE = 'mutation($c: ID!, $u: ID!, $r: MemberRole!) { setMemberRole(conversationId: $c, userId: $u, role: $r) { role } }';
const MEMBERS = 'query($c: ID!) { conversation(id: $c) { members { role user { id } } } }';
const SQL = /^\s*(\[query\]\s*)?(select|insert|update|delete|with|begin|start transaction|commit|rollback|savepoint|release|set|show)\b/i;

const received: string[] = [];
let recording = false;
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer(
    {},
    {
      onQuery: (line) => {
        if (recording) received.push(line);
      },
    },
  );
});
afterAll(async () => {
  await server?.close();
});

const user = (name: string) => registerUser(server.url, name);
const rolesIn = async (c: string, viewer: TestUser) =>
  Object.fromEntries(
    ((await gqlOk(server.url, MEMBERS, { c }, viewer.token)).conversation.members as { role: string; user: { id: string } }[]).map((m) => [m.user.id, m.role]),
  );

test("an only OWNER's groups and rooms pass to the heir of leaving; another OWNER keeps it alone; nobody left: ownerless; an ADMIN's place changes no role", async () => {
  const [alice, bob, carol, dave] = await Promise.all(['er_a', 'er_b', 'er_c', 'er_d'].map(user));
  const group = async (name: string, members: TestUser[]) =>
    (await gqlOk(server.url, GROUP, { n: name, m: members.map((m) => m.id) }, alice.token)).createGroup.id;

  // The ADMIN comes first, though the plain member joined before them.
  const withAdmin = await group('with admin', [bob]);
  await gqlOk(server.url, ADD, { c: withAdmin, u: carol.id }, alice.token);
  await gqlOk(server.url, ROLE, { c: withAdmin, u: carol.id, r: 'ADMIN' }, alice.token);
  // No ADMIN: the oldest member.
  const oldest = await group('oldest member', [bob]);
  await gqlOk(server.url, ADD, { c: oldest, u: carol.id }, alice.token);
  // Another OWNER: they keep it alone, the member stays a member.
  const twoOwners = await group('two owners', [bob, carol]);
  await gqlOk(server.url, ROLE, { c: twoOwners, u: carol.id, r: 'OWNER' }, alice.token);
  // Alone: stays ownerless.
  const alone = await group('alone', []);
  // A room: its one other member.
  const room = (await gqlOk(server.url, ROOM, { n: 'erasure room' }, alice.token)).createRoom.id;
  await gqlOk(server.url, JOIN, { c: room }, dave.token);
  // Someone else's group where she is ADMIN: no role changes.
  const bobs = (await gqlOk(server.url, GROUP, { n: "bob's", m: [alice.id, carol.id] }, bob.token)).createGroup.id;
  await gqlOk(server.url, ROLE, { c: bobs, u: alice.id, r: 'ADMIN' }, bob.token);

  expect((await gqlOk(server.url, DELETE, { p: PASSWORD }, alice.token)).deleteAccount).toBe(true);

  expect(await rolesIn(withAdmin, bob)).toEqual({ [bob.id]: 'MEMBER', [carol.id]: 'OWNER' });
  expect(await rolesIn(oldest, bob)).toEqual({ [bob.id]: 'OWNER', [carol.id]: 'MEMBER' });
  expect(await rolesIn(twoOwners, bob)).toEqual({ [bob.id]: 'MEMBER', [carol.id]: 'OWNER' });
  expect(await rolesIn(room, dave)).toEqual({ [dave.id]: 'OWNER' });
  expect(await rolesIn(bobs, bob)).toEqual({ [bob.id]: 'OWNER', [carol.id]: 'MEMBER' });
  const [{ n }] = await server.orm.em
    .fork()
    .execute<{ n: string }[]>('select count(*) as n from "memberships" where "conversation_id" = ? and "left_at" is null', [Number(alone)]);
  expect(Number(n)).toBe(0);
});

test('the deletion costs the same statements for an owner of 8 groups as of 2 (set-based, not one per conversation)', async () => {
  const statementsOfDeleting = async (name: string, groups: number) => {
    const [owner, other] = await Promise.all([user(`${name}_o`), user(`${name}_m`)]);
    for (let i = 0; i < groups; i++) {
      const c = (await gqlOk(server.url, GROUP, { n: `${name} ${i}`, m: [other.id] }, owner.token)).createGroup.id;
      await gqlOk(server.url, 'mutation($c: ID!) { sendMessage(input: { conversationId: $c, content: "hello" }) { id } }', { c }, owner.token);
    }
    received.length = 0;
    recording = true;
    try {
      expect((await gqlOk(server.url, DELETE, { p: PASSWORD }, owner.token)).deleteAccount).toBe(true);
    } finally {
      recording = false;
    }
    return received.filter((line) => SQL.test(line)).length;
  };
  const few = await statementsOfDeleting('er_few', 2);
  const many = await statementsOfDeleting('er_many', 8);
  expect(few).toBeGreaterThan(10);
  expect(many).toBe(few);
});
