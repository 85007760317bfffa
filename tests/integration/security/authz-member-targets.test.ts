/**
 * Who may manage whom (issue 20): the member-management operations of a GROUP and a ROOM against
 * every (caller role, target role) pair, through the real server (GraphQL, and seed 001's REST
 * route for removing a member), compared with the table below. The authorization matrix
 * (authz-matrix.test.ts) has the caller's role as its columns and one kind of target, a plain
 * MEMBER; this is the target's axis: an ADMIN may manage MEMBERs only, never another ADMIN or an
 * OWNER; an OWNER manages everyone; a MEMBER no one. Each cell runs in a conversation of its own
 * and checks the target afterwards: changed as asked when allowed, untouched when refused.
 */
import { gql, gqlOk, registerUser, restUrl, type GqlResult, type TestUser } from '../../support/client';
import { startTestServer, type TestServer } from '../../support/test-server';

jest.setTimeout(120_000);

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

type Role = 'OWNER' | 'ADMIN' | 'MEMBER';
type Kind = 'GROUP' | 'ROOM';
/** A = allowed, F = FORBIDDEN. */
type Letter = 'A' | 'F';
const TARGETS: Role[] = ['MEMBER', 'ADMIN', 'OWNER'];

// ------------------------------------------------------------------------------------------
// The expected table: one row per operation and caller, one column per target role.
// ------------------------------------------------------------------------------------------
const EXPECTED: Record<string, string> = {
  //                                       MEMBER ADMIN OWNER   (the target's role)
  'removeMember by OWNER': 'A     A     A',
  'removeMember by ADMIN': 'A     F     F',
  'removeMember by MEMBER': 'F     F     F',
  'muteMember by OWNER': 'A     A     A',
  'muteMember by ADMIN': 'A     F     F',
  'muteMember by MEMBER': 'F     F     F',
  'banMember by OWNER': 'A     A     A',
  'banMember by ADMIN': 'A     F     F',
  'banMember by MEMBER': 'F     F     F',
  'setMemberRole by OWNER': 'A     A     A', // MEMBER -> ADMIN, ADMIN -> MEMBER, a second OWNER -> MEMBER
  'setMemberRole by ADMIN': 'F     F     F', // roles are the OWNER's alone
  'setMemberRole by MEMBER': 'F     F     F',
  'POST /chats/:id/remove_member by OWNER': 'A     A     A', // seed 001 (GROUP only)
  'POST /chats/:id/remove_member by ADMIN': 'A     F     F',
  'POST /chats/:id/remove_member by MEMBER': 'F     F     F',
};
const letters = (row: string) =>
  Object.fromEntries(
    row
      .trim()
      .split(/\s+/)
      .map((l, i) => [TARGETS[i], l as Letter]),
  ) as Record<Role, Letter>;

/** What a member looks like to the OWNER afterwards (null: no longer an active member). */
interface Seen {
  role: string;
  isMuted: boolean;
}

/** One conversation with two users of each role: the caller is the first of its role, the target the second. */
interface Cast {
  conv: string;
  users: Record<Role, [TestUser, TestUser]>;
}

let people: Record<Role, [TestUser, TestUser]>;
beforeAll(async () => {
  const reg = (p: string) => registerUser(server.url, p);
  people = {
    OWNER: [await reg('tgo'), await reg('tgo')],
    ADMIN: [await reg('tga'), await reg('tga')],
    MEMBER: [await reg('tgm'), await reg('tgm')],
  };
});

const q = (u: TestUser, query: string, variables: Record<string, unknown> = {}) => gqlOk(server.url, query, variables, u.token);
const SET_ROLE = `mutation($c: ID!, $u: ID!, $r: MemberRole!) { setMemberRole(conversationId: $c, userId: $u, role: $r) { role } }`;

/** A new GROUP or PUBLIC ROOM of the first OWNER with the other five users in their roles. */
async function cast(kind: Kind): Promise<Cast> {
  const [owner, coOwner] = people.OWNER;
  const others = [coOwner, ...people.ADMIN, ...people.MEMBER];
  let conv: string;
  if (kind === 'GROUP') {
    conv = (await q(owner, `mutation($i: CreateGroupInput!) { createGroup(input: $i) { id } }`, { i: { name: 'targets', memberIds: others.map((u) => u.id) } }))
      .createGroup.id;
  } else {
    conv = (await q(owner, `mutation { createRoom(input: { name: "targets", visibility: PUBLIC }) { id } }`)).createRoom.id;
    for (const u of others) await q(u, `mutation($c: ID!) { joinRoom(id: $c) { id } }`, { c: conv });
  }
  await q(owner, SET_ROLE, { c: conv, u: coOwner.id, r: 'OWNER' });
  for (const a of people.ADMIN) await q(owner, SET_ROLE, { c: conv, u: a.id, r: 'ADMIN' });
  return { conv, users: people };
}

async function seen(c: Cast, target: TestUser): Promise<Seen | null> {
  const members = (await q(people.OWNER[0], `query($c: ID!) { conversation(id: $c) { members { role isMuted user { id } } } }`, { c: c.conv })).conversation
    .members;
  const m = members.find((x: any) => x.user.id === target.id);
  return m ? { role: m.role, isMuted: m.isMuted } : null;
}

const outcome = (r: GqlResult): Letter | string =>
  r.errors?.length ? (r.errors[0].extensions?.code === 'FORBIDDEN' ? 'F' : String(r.errors[0].extensions?.code)) : 'A';

/** How each operation is called on the target, and what it changes when allowed. */
const OPS: Record<
  string,
  { kinds: Kind[]; call(c: Cast, by: TestUser, target: TestUser, targetRole: Role): Promise<Letter | string>; after(targetRole: Role): Seen | null }
> = {
  removeMember: {
    kinds: ['GROUP', 'ROOM'],
    call: async (c, by, t) =>
      outcome(await gql(server.url, `mutation($c: ID!, $u: ID!) { removeMember(conversationId: $c, userId: $u) }`, { c: c.conv, u: t.id }, by.token)),
    after: () => null,
  },
  muteMember: {
    kinds: ['GROUP', 'ROOM'],
    call: async (c, by, t) =>
      outcome(
        await gql(
          server.url,
          `mutation($c: ID!, $u: ID!) { muteMember(conversationId: $c, userId: $u, muted: true) { isMuted } }`,
          { c: c.conv, u: t.id },
          by.token,
        ),
      ),
    after: (role) => ({ role, isMuted: true }),
  },
  banMember: {
    kinds: ['GROUP', 'ROOM'],
    call: async (c, by, t) =>
      outcome(
        await gql(
          server.url,
          `mutation($c: ID!, $u: ID!) { banMember(conversationId: $c, userId: $u, banned: true) { isBanned } }`,
          { c: c.conv, u: t.id },
          by.token,
        ),
      ),
    after: () => null,
  },
  setMemberRole: {
    kinds: ['GROUP', 'ROOM'],
    call: async (c, by, t, role) => outcome(await gql(server.url, SET_ROLE, { c: c.conv, u: t.id, r: role === 'MEMBER' ? 'ADMIN' : 'MEMBER' }, by.token)),
    after: (role) => ({ role: role === 'MEMBER' ? 'ADMIN' : 'MEMBER', isMuted: false }),
  },
  'POST /chats/:id/remove_member': {
    kinds: ['GROUP'],
    call: async (c, by, t) => {
      const res = await fetch(restUrl(server.url, `/chats/${c.conv}/remove_member/`), {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${by.token}` },
        body: JSON.stringify({ user_id: Number(t.id) }),
      });
      return res.status === 200 ? 'A' : res.status === 403 ? 'F' : `HTTP_${res.status}`;
    },
    after: () => null,
  },
};

test('every member-management operation has a row for every caller role', () => {
  const rows = Object.keys(OPS).flatMap((op) => (['OWNER', 'ADMIN', 'MEMBER'] as Role[]).map((by) => `${op} by ${by}`));
  expect(rows.filter((r) => !EXPECTED[r])).toEqual([]);
  expect(Object.keys(EXPECTED).filter((r) => !rows.includes(r))).toEqual([]);
});

test.each(['GROUP', 'ROOM'] as Kind[])(
  'in a %s: every (operation, caller, target) cell answers as the table says and leaves the target as it should',
  async (kind) => {
    const cells = Object.entries(OPS)
      .filter(([, op]) => op.kinds.includes(kind))
      .flatMap(([name, op]) =>
        (['OWNER', 'ADMIN', 'MEMBER'] as Role[]).flatMap((by) =>
          TARGETS.map((target) => ({ name, op, by, target, expected: letters(EXPECTED[`${name} by ${by}`])[target] })),
        ),
      );
    const differences: string[] = [];
    // A few cells at once, each in a conversation of its own.
    for (let i = 0; i < cells.length; i += 6) {
      await Promise.all(
        cells.slice(i, i + 6).map(async ({ name, op, by, target, expected }) => {
          const c = await cast(kind);
          const caller = c.users[by][0];
          const victim = c.users[target][1];
          const before = await seen(c, victim);
          expect(before).toEqual({ role: target, isMuted: false });
          const got = await op.call(c, caller, victim, target);
          const after = await seen(c, victim);
          const want = expected === 'A' ? op.after(target) : before;
          const cell = `${name} by ${by} on ${target}`;
          if (got !== expected) differences.push(`${cell}: expected ${expected}, got ${got}`);
          if (JSON.stringify(after) !== JSON.stringify(want))
            differences.push(`${cell}: the target is ${JSON.stringify(after)}, expected ${JSON.stringify(want)}`);
        }),
      );
    }
    expect(differences).toEqual([]);
  },
);
