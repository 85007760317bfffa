/**
 * Helpers of the authorization matrix (authz-matrix.test.ts): the roles, a "world" of fixtures
 * (users in every role, a group, a public room, a direct chat, a support thread and a blocked
 * direct chat, each with messages) built through the real API, and the classification of an
 * answer (GraphQL over HTTP, graphql-ws, REST) into one outcome class.
 */
import { gql, gqlOk, registerUser, userIdOf, wsClient, type GqlResult, type TestUser } from '../../support/client';
import { operationSignature, registrationsOf } from '../../support/readiness';
import { gqlAs } from '../../support/graphql';
import type { TestServer } from '../../support/test-server';

/** The callers of the matrix, in the column order of the expected table. */
export const ROLES = ['anonymous', 'nonMember', 'member', 'removed', 'banned', 'owner', 'staff', 'blocked'] as const;
export type Role = (typeof ROLES)[number];

/** Outcome classes of one cell (other codes, e.g. CONFLICT, appear as themselves). */
export type Outcome = 'ALLOW' | 'UNAUTHENTICATED' | 'NOT_FOUND' | 'FORBIDDEN' | 'BAD_USER_INPUT' | 'CONFLICT' | string;

/** Short letters of the expected table: A ALLOW, U UNAUTHENTICATED, N NOT_FOUND, F FORBIDDEN, B BAD_USER_INPUT, C CONFLICT. */
export const LETTER: Record<string, Outcome> = { A: 'ALLOW', U: 'UNAUTHENTICATED', N: 'NOT_FOUND', F: 'FORBIDDEN', B: 'BAD_USER_INPUT', C: 'CONFLICT' };

/** Parses an expected row such as `'U N A N N A A A'` (one letter per role, ROLES order). */
export function row(letters: string): Record<Role, Outcome> {
  const parts = letters.trim().split(/\s+/);
  if (parts.length !== ROLES.length) throw new Error(`expected row "${letters}" needs ${ROLES.length} letters`);
  return Object.fromEntries(ROLES.map((r, i) => [r, LETTER[parts[i]] ?? parts[i]])) as Record<Role, Outcome>;
}

/** Which conversation an operation works on (the blocked role always uses its blocked DIRECT). */
export type Fixture = 'group' | 'room' | 'direct' | 'support';

/** The fixtures of one matrix run: users per role and conversations with messages. */
export interface World {
  server: TestServer;
  users: Record<Exclude<Role, 'anonymous'>, TestUser> & { blocker: TestUser };
  conv: Record<Fixture, string> & { blockedDirect: string };
  /** A message per fixture (group/room: by the owner; direct: by the owner; support: by the customer = member; blockedDirect: by the blocker). */
  msg: Record<Fixture, string> & { blockedDirect: string };
  /** A notification of the member (MESSAGE, from the owner's group message). */
  memberNotification: string;
  /** A pending contact request nonMember -> member (member is the addressee). */
  requestToMember: string;
  /** The BLOCKED contact row blocker -> blocked. */
  blockRow: string;
  /** The users this world was built on. */
  base: WorldUsers;
}

const SEND = `mutation($i: SendMessageInput!) { sendMessage(input: $i) { id } }`;

/** Sends a text message as `u` into `conversationId`; returns its id. */
export async function sendAs(w: World, u: TestUser, conversationId: string, content = 'hello'): Promise<string> {
  return (await gqlOk(w.server.url, SEND, { i: { conversationId, content } }, u.token)).sendMessage.id;
}

/** The users of a world: one per role (anonymous has none) plus the blocker, and their contact rows. */
export interface WorldUsers {
  users: World['users'];
  blockedDirect: string;
  blockedMsg: string;
  requestToMember: string;
  blockRow: string;
}

/**
 * Registers the users of a world through the real API (staff promoted in the database: staff
 * never come from register); blocker and blocked share a DIRECT with a message each, then the
 * blocker blocks; nonMember asks member to be a contact.
 */
export async function buildUsers(server: TestServer): Promise<WorldUsers> {
  const url = server.url;
  const names = ['owner', 'member', 'removed', 'banned', 'nonMember', 'staff', 'blocker', 'blocked'] as const;
  const list = await Promise.all(names.map((n) => registerUser(url, n.slice(0, 5))));
  const users = Object.fromEntries(names.map((n, i) => [n, list[i]])) as World['users'];
  await server.orm.em.fork().execute('update "users" set "is_staff" = true where "id" = ?', [Number(users.staff.id)]);
  const { q } = gqlAs(url);
  const { member, blocker, blocked } = users;
  const blockedDirect = (await q(blocker, `mutation($u: ID) { openDirectChat(userId: $u) { id } }`, { u: blocked.id })).openDirectChat.id;
  await q(blocked, SEND, { i: { conversationId: blockedDirect, content: 'before the block' } });
  const blockedMsg = (await q(blocker, SEND, { i: { conversationId: blockedDirect, content: 'from the blocker' } })).sendMessage.id;
  const blockRow = (await q(blocker, `mutation($u: ID!) { blockUser(userId: $u) { id } }`, { u: blocked.id })).blockUser.id;
  const requestToMember = (await q(users.nonMember, `mutation($u: ID!) { requestContact(userId: $u) { id } }`, { u: member.id })).requestContact.id;
  return { users, blockedDirect, blockedMsg, requestToMember, blockRow };
}

/**
 * Builds a world through the real API on `base` users (new ones when omitted): owner creates a
 * group and a public room with member, removed and banned, removes `removed` and bans `banned`
 * in both; owner and member share a DIRECT (reused when it exists); member owns a SUPPORT thread
 * (idem); each conversation gets a message.
 */
export async function buildWorld(server: TestServer, base?: WorldUsers): Promise<World> {
  const url = server.url;
  const wu = base ?? (await buildUsers(server));
  const { users } = wu;
  const { q } = gqlAs(url);
  const { owner, member, removed, banned } = users;
  const group = (
    await q(owner, `mutation($i: CreateGroupInput!) { createGroup(input: $i) { id } }`, { i: { name: 'g', memberIds: [member.id, removed.id, banned.id] } })
  ).createGroup.id;
  const room = (await q(owner, `mutation { createRoom(input: {name: "r", visibility: PUBLIC}) { id } }`)).createRoom.id;
  await Promise.all([member, removed, banned].map((u) => q(u, `mutation($c: ID!) { joinRoom(id: $c) { id } }`, { c: room })));
  await Promise.all(
    [group, room].map(async (c) => {
      await q(owner, `mutation($c: ID!, $u: ID!) { removeMember(conversationId: $c, userId: $u) }`, { c, u: removed.id });
      await q(owner, `mutation($c: ID!, $u: ID!) { banMember(conversationId: $c, userId: $u, banned: true) { id } }`, { c, u: banned.id });
    }),
  );
  const direct = (await q(owner, `mutation($u: ID) { openDirectChat(userId: $u) { id } }`, { u: member.id })).openDirectChat.id;
  const world: World = {
    server,
    users,
    conv: { group, room, direct, support: '', blockedDirect: wu.blockedDirect },
    msg: { group: '', room: '', direct: '', support: '', blockedDirect: wu.blockedMsg },
    memberNotification: '',
    requestToMember: wu.requestToMember,
    blockRow: wu.blockRow,
    base: wu,
  };
  const [mg, mr, md, sup] = await Promise.all([
    sendAs(world, owner, group, 'group message'),
    sendAs(world, owner, room, 'room message'),
    sendAs(world, owner, direct, 'direct message'),
    q(member, `mutation { sendMessage(input: {toSupport: true, content: "help"}) { id conversationId } }`).then((d) => d.sendMessage),
  ]);
  Object.assign(world.msg, { group: mg, room: mr, direct: md, support: sup.id });
  world.conv.support = sup.conversationId;
  const notes = (await q(member, `{ notifications(first: 5) { edges { node { id } } } }`)).notifications.edges;
  if (!notes.length) throw new Error('the member has no notification to test with');
  world.memberNotification = notes[0].node.id;
  return world;
}

/** A user made directly in the database (no password that works): a target referenced by id only. */
export async function quickUser(server: TestServer, prefix: string): Promise<{ id: string; username: string }> {
  const username = `${prefix}${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
  const rows = await server.orm.em
    .fork()
    .execute('insert into "users" ("username", "username_key", "password_hash", "created_at", "updated_at") values (?, ?, ?, now(), now()) returning "id"', [
      username,
      username.toLowerCase(),
      '!',
    ]);
  return { id: String((rows as { id: number }[])[0].id), username };
}

/** Outcome of a GraphQL answer: its first error code, else ALLOW. */
export function gqlOutcome(r: GqlResult): Outcome {
  const code = r.errors?.[0]?.extensions?.code;
  if (r.errors?.length) return code ?? `UNCODED(${r.errors[0].message})`;
  return 'ALLOW';
}

/** Outcome of a REST status: 2xx ALLOW, 400 BAD_USER_INPUT, 401, 403, 404, 409, else HTTP_<status>. */
export function restOutcome(status: number): Outcome {
  if (status >= 200 && status < 300) return 'ALLOW';
  return (
    ({ 400: 'BAD_USER_INPUT', 401: 'UNAUTHENTICATED', 403: 'FORBIDDEN', 404: 'NOT_FOUND', 409: 'CONFLICT' } as Record<number, string>)[status] ??
    `HTTP_${status}`
  );
}

/**
 * Starts a subscription over graphql-ws as `token` (none: anonymous) and classifies it: the
 * first error or close decides; a subscription the server registered with its delivery hub
 * (readiness.ts: it listens from then on) counts as ALLOW. No timer decides.
 */
export async function subscriptionOutcome(server: TestServer, token: string | undefined, query: string, variables: Record<string, unknown>): Promise<Outcome> {
  let closeCode: number | undefined;
  const client = wsClient(server.wsUrl, token, {
    on: {
      closed: (e) => {
        closeCode = (e as { code?: number }).code;
      },
    },
  });
  const pending = registrationsOf(server).expect(userIdOf(token), operationSignature(query, undefined, variables));
  let timer: NodeJS.Timeout | undefined;
  try {
    const outcome = await new Promise<Outcome>((resolve) => {
      let settled = false;
      const done = (o: Outcome) => {
        if (!settled) {
          settled = true;
          resolve(o);
        }
      };
      void pending.registered.then(() => done('ALLOW'));
      timer = setTimeout(() => done('NEITHER_REGISTERED_NOR_REFUSED_IN_10_S'), 10_000);
      client.subscribe(
        { query, variables },
        {
          next: (v) => {
            if (v.errors?.length) done(gqlOutcome({ status: 200, errors: v.errors as GqlResult['errors'] }));
          },
          error: (e) => {
            pending.abandon();
            if (Array.isArray(e)) done(gqlOutcome({ status: 200, errors: e as GqlResult['errors'] }));
            else
              done(
                closeCode === 4403 || closeCode === 4401 || (e as { code?: number })?.code === 4403
                  ? 'UNAUTHENTICATED'
                  : `WS_CLOSED_${closeCode ?? (e as { code?: number })?.code}`,
              );
          },
          complete: () => {
            pending.abandon();
            done('COMPLETED');
          },
        },
      );
    });
    return outcome;
  } finally {
    clearTimeout(timer);
    pending.abandon();
    await client.dispose();
  }
}

/** A tiny valid PNG (1x1), for attachment cells. */
export const PNG_1X1 = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');

/** The GraphQL multipart `addAttachment` call (apollo-require-preflight set). */
export async function addAttachmentCall(server: TestServer, token: string | undefined, messageId: string): Promise<GqlResult> {
  const form = new FormData();
  form.append(
    'operations',
    JSON.stringify({ query: 'mutation($m: ID!, $f: Upload!) { addAttachment(messageId: $m, file: $f) { id } }', variables: { m: messageId, f: null } }),
  );
  form.append('map', JSON.stringify({ 0: ['variables.f'] }));
  form.append('0', new Blob([PNG_1X1], { type: 'image/png' }), 'dot.png');
  const res = await fetch(server.url, {
    method: 'POST',
    body: form,
    headers: { 'apollo-require-preflight': 'true', ...(token ? { authorization: `Bearer ${token}` } : {}) },
  });
  return { status: res.status, ...((await res.json()) as Omit<GqlResult, 'status'>) };
}

/** A REST call under /api with an optional token and JSON body or form; returns status and parsed body. */
export async function rest(server: TestServer, method: string, path: string, token?: string, body?: unknown): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  let payload: RequestInit['body'];
  if (body instanceof FormData) payload = body;
  else if (body !== undefined) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const res = await fetch(`${server.url.replace(/\/graphql$/, '')}/api${path}/`, { method: method.toUpperCase(), headers, body: payload });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = text;
  }
  return { status: res.status, body: parsed };
}

/** Runs `tasks` with at most `width` at a time; results in order. */
export async function inBatches<T>(tasks: (() => Promise<T>)[], width: number): Promise<T[]> {
  const out: T[] = new Array(tasks.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, tasks.length) }, async () => {
      while (next < tasks.length) {
        const i = next++;
        out[i] = await tasks[i]();
      }
    }),
  );
  return out;
}

export { gql };
