/**
 * Password change and account deletion (issue 18 items 4-5) through the real server, with real
 * clients on every transport: GraphQL over HTTP, graphql-ws, a legacy socket at /ws/chat/<x>/ and
 * a REST dialect. Password change keeps the caller's login and ends every other one (refresh
 * tokens, access tokens over HTTP, sockets with 4403); the failed-login limit covers its current
 * password. Deletion leaves no personal row (counted through every foreign key to `users`) or
 * file behind, keeps the other people's conversations readable with the sender shown as a deleted
 * user, kills the user's tokens and sockets, reserves the username, refuses the last staff user,
 * and holds under concurrent calls. No timer decides an outcome: tests wait for the server's own
 * readiness (subscriptions registered, legacy sockets ready) and for close events.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import WebSocket from 'ws';
import { codeOf, gql, gqlOk, registerUser, restUrl, subscribe, waitFor, wsClient, type GqlResult, type TestUser } from '../support/client';
import { filesUnder } from '../support/files';
import { startTestCluster, startTestServer, type TestCluster, type TestServer } from '../support/test-server';

const PASSWORD = 'correct-horse-battery';
const NEW_PASSWORD = 'a-brand-new-passphrase';
/** Small, so the limit is reached quickly; every test uses its own users (the count is per username and address). */
const LOGIN_FAILURES = 3;

const LOGIN = 'mutation($u: String!, $p: String!) { login(username: $u, password: $p) { accessToken refreshToken } }';
const REFRESH = 'mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken } }';
const CHANGE = 'mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }';
const DELETE = 'mutation($p: String!) { deleteAccount(password: $p) }';
const ME = '{ me { id username } }';
const OPEN = 'mutation($u: ID!) { openDirectChat(userId: $u) { id } }';
const SEND = 'mutation($c: ID!, $t: String!) { sendMessage(input: { conversationId: $c, content: $t }) { id seq } }';
const ADDED = 'subscription { messageAdded { id content } }';
const HISTORY = `query($c: ID!) { messages(conversationId: $c, first: 50) { edges { node {
  id seq content isDeleted attachments { id } sender { id username fullName firstName lastName avatarUrl deletedAt } } } } }`;

let server: TestServer;
let uploadDir: string;
beforeAll(async () => {
  uploadDir = mkdtempSync(join(tmpdir(), 'accounts-security-'));
  server = await startTestServer({ RATE_LOGIN_FAILURES: String(LOGIN_FAILURES), UPLOAD_DIR: uploadDir });
});
afterAll(async () => {
  await server?.close();
  rmSync(uploadDir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// helpers

/** Every socket and client a test opened, closed after it. */
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** A second (third, ...) login of `user`: a new refresh-token family. */
async function loginAgain(user: TestUser, password = PASSWORD): Promise<{ token: string; refreshToken: string }> {
  const r = (await gqlOk(server.url, LOGIN, { u: user.username, p: password })).login;
  return { token: r.accessToken, refreshToken: r.refreshToken };
}

/**
 * A graphql-ws client of `token` with a `messageAdded` subscription the server has registered;
 * `closed` resolves with the socket's close code.
 */
async function liveSocket(token: string, wsUrl = server.wsUrl) {
  let onClosed!: (code: number) => void;
  const closed = new Promise<number>((r) => (onClosed = r));
  const client = wsClient(wsUrl, token, { on: { closed: (e) => onClosed((e as { code: number }).code) } });
  const sub = subscribe(client, ADDED);
  cleanups.push(() => {
    sub.stop();
    void client.dispose();
  });
  await sub.ready();
  return { sub, closed };
}

/** A seed-000 legacy socket `/ws/chat/<username>/` of `user` (token in the query), once the server reports it ready. */
async function legacySocket(user: { id: string }, token: string, peerUsername: string) {
  const userId = Number(user.id);
  const before = server.realtime.legacy.readyCount({ userId });
  const ws = new WebSocket(`${server.wsUrl.replace(/\/graphql$/, '')}/ws/chat/${peerUsername}/?token=${encodeURIComponent(token)}`);
  const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
  ws.on('error', () => undefined);
  cleanups.push(() => ws.close());
  let early: number | undefined;
  void closed.then((c) => {
    early = c;
  });
  await waitFor(() => {
    if (early !== undefined) throw new Error(`legacy socket closed early: ${early}`);
    return server.realtime.legacy.readyCount({ userId }) > before;
  }, 'legacy socket ready');
  return { ws, closed };
}

/** A raw graphql-ws handshake: whether the server acknowledged, and the close code. */
function wsInit(token: string): Promise<{ acked: boolean; closeCode: number }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(server.wsUrl, 'graphql-transport-ws');
    let acked = false;
    socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } })));
    socket.on('message', (data) => {
      if (JSON.parse(String(data)).type === 'connection_ack') {
        acked = true;
        socket.close(1000);
      }
    });
    socket.on('close', (code) => resolve({ acked, closeCode: code }));
    socket.on('error', reject);
  });
}

const rest = (path: string, token?: string, init: RequestInit = {}) =>
  fetch(restUrl(server.url, path), { ...init, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(init.headers ?? {}) } });

const sql = <T = Record<string, unknown>>(query: string, params: unknown[] = []) => server.orm.em.fork().execute<T[]>(query, params);

/** The error's code and the input field it names. */
const refusal = (r: GqlResult) => ({ code: codeOf(r), field: r.errors?.[0]?.extensions?.field ?? null });

/**
 * Rows referencing `userId`, per foreign-key column to "users" (read from the catalog, so a table
 * added later is counted too): `table.column` -> count.
 */
async function referencingRows(userId: number): Promise<Record<string, number>> {
  const fks = await sql<{ tbl: string; col: string }>(
    `select c.conrelid::regclass::text as tbl, a.attname as col
       from pg_constraint c join pg_attribute a on a.attrelid = c.conrelid and a.attnum = any(c.conkey)
      where c.contype = 'f' and c.confrelid = 'users'::regclass order by 1, 2`,
  );
  const out: Record<string, number> = {};
  for (const { tbl, col } of fks) {
    const [row] = await sql<{ n: string }>(`select count(*) as n from ${tbl} where "${col}" = ?`, [userId]);
    out[`${tbl.replace(/"/g, '')}.${col}`] = Number(row.n);
  }
  return out;
}

/** One GraphQL multipart request with one PNG at `path` of the variables; fails on errors. */
async function withPng(user: TestUser, query: string, variables: Record<string, unknown>, path: string): Promise<any> {
  const png = await sharp({ create: { width: 64, height: 48, channels: 3, background: { r: 10, g: 200, b: 90 } } })
    .png()
    .toBuffer();
  const form = new FormData();
  form.append('operations', JSON.stringify({ query, variables }));
  form.append('map', JSON.stringify({ 0: [`variables.${path}`] }));
  form.append('0', new Blob([png], { type: 'image/png' }), 'me.png');
  const res = await fetch(server.url, { method: 'POST', headers: { authorization: `Bearer ${user.token}`, 'apollo-require-preflight': 'true' }, body: form });
  const body = (await res.json()) as GqlResult;
  expect(body.errors).toBeUndefined();
  return body.data;
}

/** Sends a message with one PNG. */
async function sendImage(user: TestUser, conversationId: string): Promise<string> {
  const data = await withPng(
    user,
    'mutation($i: SendMessageInput!) { sendMessage(input: $i) { id attachments { id } } }',
    { i: { conversationId, content: 'my face', attachments: [null] } },
    'i.attachments.0',
  );
  expect(data.sendMessage.attachments).toHaveLength(1);
  return data.sendMessage.id;
}

// ---------------------------------------------------------------------------------------------
// changePassword

describe('changePassword', () => {
  test("keeps the caller's login and ends every other: refresh tokens, access tokens over HTTP, graphql-ws and legacy sockets (4403)", async () => {
    const alice = await registerUser(server.url, 'cp_a');
    const bob = await registerUser(server.url, 'cp_b');
    const direct = (await gqlOk(server.url, OPEN, { u: bob.id }, alice.token)).openDirectChat.id;
    const second = await loginAgain(alice);
    const third = await loginAgain(alice);

    const mine = await liveSocket(alice.token);
    const other = await liveSocket(second.token);
    const legacy = await legacySocket(alice, third.token, bob.username);

    expect((await gqlOk(server.url, CHANGE, { c: PASSWORD, n: NEW_PASSWORD }, alice.token)).changePassword).toBe(true);

    // The other logins' sockets close with 4403, on both transports.
    expect(await other.closed).toBe(4403);
    expect(await legacy.closed).toBe(4403);
    // Their refresh tokens are revoked, their access tokens refused over HTTP (GraphQL and REST) and WebSocket.
    for (const login of [second, third]) {
      expect(codeOf(await gql(server.url, REFRESH, { t: login.refreshToken }))).toBe('UNAUTHENTICATED');
      expect(codeOf(await gql(server.url, ME, {}, login.token))).toBe('UNAUTHENTICATED');
      expect((await rest('/chat/unread/count/', login.token)).status).toBe(401);
      expect(await wsInit(login.token)).toEqual({ acked: false, closeCode: 4403 });
    }
    // The caller's own login stays: its access token, its socket (which still receives), its refresh token.
    expect((await gqlOk(server.url, ME, {}, alice.token)).me.id).toBe(alice.id);
    const sent = (await gqlOk(server.url, SEND, { c: direct, t: 'still there?' }, bob.token)).sendMessage;
    expect(await mine.sub.next()).toEqual({ messageAdded: { id: sent.id, content: 'still there?' } });
    expect((await gqlOk(server.url, REFRESH, { t: alice.refreshToken })).refreshToken.accessToken).toEqual(expect.any(String));

    // The new password logs in, the old one does not.
    expect(codeOf(await gql(server.url, LOGIN, { u: alice.username, p: PASSWORD }))).toBe('UNAUTHENTICATED');
    const fresh = await loginAgain(alice, NEW_PASSWORD);
    expect((await gqlOk(server.url, ME, {}, fresh.token)).me.id).toBe(alice.id);
  });

  test('refreshes racing the change: no other login survives it (its new refresh and access tokens are dead too)', async () => {
    const user = await registerUser(server.url, 'cp_race');
    // Two more logins (the login limit of this server is small, LOGIN_FAILURES).
    const others = [await loginAgain(user), await loginAgain(user)];
    const [refreshed, changed] = await Promise.all([
      Promise.all(others.map((o) => gql(server.url, REFRESH, { t: o.refreshToken }))),
      gql(server.url, CHANGE, { c: PASSWORD, n: NEW_PASSWORD }, user.token),
    ]);
    expect(changed.data?.changePassword).toBe(true);
    for (const r of refreshed) {
      const next = r.data?.refreshToken;
      if (!next) {
        expect(codeOf(r)).toBe('UNAUTHENTICATED');
        continue;
      }
      // A refresh that won the race left nothing usable behind.
      expect(codeOf(await gql(server.url, REFRESH, { t: next.refreshToken }))).toBe('UNAUTHENTICATED');
      expect(codeOf(await gql(server.url, ME, {}, next.accessToken))).toBe('UNAUTHENTICATED');
    }
    const [{ n }] = await sql<{ n: string }>('select count(*) as n from "refresh_tokens" where "user_id" = ? and "revoked_at" is null', [Number(user.id)]);
    expect(Number(n)).toBe(1); // the caller's own login
  });

  test('a new password breaking the registration rule is BAD_USER_INPUT naming newPassword, and changes nothing', async () => {
    const user = await registerUser(server.url, 'cp_rule');
    const second = await loginAgain(user);
    for (const bad of ['short', 'x'.repeat(257)]) {
      expect(refusal(await gql(server.url, CHANGE, { c: PASSWORD, n: bad }, user.token))).toEqual({ code: 'BAD_USER_INPUT', field: 'newPassword' });
    }
    // Nothing changed: the old password still logs in, the other login still refreshes.
    await loginAgain(user);
    expect((await gqlOk(server.url, REFRESH, { t: second.refreshToken })).refreshToken.accessToken).toEqual(expect.any(String));
  });

  test('a wrong current password is BAD_USER_INPUT naming currentPassword and counts toward the failed-login limit, shared with login', async () => {
    const user = await registerUser(server.url, 'cp_lim');
    for (let i = 0; i < LOGIN_FAILURES; i++) {
      expect(refusal(await gql(server.url, CHANGE, { c: `wrong-guess-${i}`, n: NEW_PASSWORD }, user.token))).toEqual({
        code: 'BAD_USER_INPUT',
        field: 'currentPassword',
      });
    }
    // Past the limit even the right password is refused, here and at login, until the window passes.
    const limited = await gql(server.url, CHANGE, { c: PASSWORD, n: NEW_PASSWORD }, user.token);
    expect(codeOf(limited)).toBe('RATE_LIMITED');
    expect(limited.errors?.[0]?.extensions?.retryAfter).toBeGreaterThan(0);
    expect(codeOf(await gql(server.url, LOGIN, { u: user.username, p: PASSWORD }))).toBe('RATE_LIMITED');

    // And failed logins count toward changePassword.
    const other = await registerUser(server.url, 'cp_lim2');
    for (let i = 0; i < LOGIN_FAILURES; i++) expect(codeOf(await gql(server.url, LOGIN, { u: other.username, p: `nope-${i}-xxxx` }))).toBe('UNAUTHENTICATED');
    expect(codeOf(await gql(server.url, CHANGE, { c: PASSWORD, n: NEW_PASSWORD }, other.token))).toBe('RATE_LIMITED');
  });

  test('without a token: UNAUTHENTICATED', async () => {
    expect(codeOf(await gql(server.url, CHANGE, { c: PASSWORD, n: NEW_PASSWORD }))).toBe('UNAUTHENTICATED');
  });
});

// ---------------------------------------------------------------------------------------------
// deleteAccount

describe('deleteAccount', () => {
  test("erases every personal row and file, keeps the others' conversations readable with a deleted-user sender, kills tokens and sockets", async () => {
    const alice = await registerUser(server.url, 'del_a', { firstName: 'Alice', lastName: 'Liddell', email: 'alice@example.com' });
    const bob = await registerUser(server.url, 'del_b');
    const carol = await registerUser(server.url, 'del_c');
    const aliceId = Number(alice.id);

    // A DIRECT chat (contacts connected), a text, an image, a reply from bob; a group alice owns
    // with carol as ADMIN; a block of alice's; notifications both ways.
    const direct = (await gqlOk(server.url, OPEN, { u: bob.id }, alice.token)).openDirectChat.id;
    const hello = (await gqlOk(server.url, SEND, { c: direct, t: `hi @${bob.username}, it is Alice` }, alice.token)).sendMessage;
    await sendImage(alice, direct);
    const avatar = (await withPng(alice, 'mutation($f: Upload!) { setAvatar(file: $f) { avatarUrl } }', { f: null }, 'f')).setAvatar.avatarUrl;
    expect(avatar).toEqual(expect.any(String));
    const reply = (await gqlOk(server.url, SEND, { c: direct, t: 'hello Alice' }, bob.token)).sendMessage;
    const group = (
      await gqlOk(
        server.url,
        'mutation($m: [ID!]!) { createGroup(input: { name: "Book club", memberIds: $m }) { id } }',
        { m: [bob.id, carol.id] },
        alice.token,
      )
    ).createGroup.id;
    await gqlOk(
      server.url,
      'mutation($c: ID!, $u: ID!) { setMemberRole(conversationId: $c, userId: $u, role: ADMIN) { role } }',
      { c: group, u: carol.id },
      alice.token,
    );
    await gqlOk(server.url, SEND, { c: group, t: `@${carol.username} see you Tuesday` }, alice.token);
    await gqlOk(server.url, SEND, { c: group, t: `@${alice.username} sure` }, bob.token);
    const dave = await registerUser(server.url, 'del_d');
    await gqlOk(server.url, 'mutation($u: ID!) { blockUser(userId: $u) { id } }', { u: dave.id }, alice.token);

    const before = await referencingRows(aliceId);
    expect(before['refresh_tokens.user_id']).toBe(1);
    expect(before['contacts.requester_id'] + before['contacts.addressee_id']).toBe(2); // bob (connected), dave (blocked)
    expect(before['notifications.user_id']).toBeGreaterThan(0);
    expect(before['attachments.uploader_id']).toBe(1);
    const files = filesUnder(uploadDir);
    expect(files.length).toBe(4); // the image and its thumbnail, the avatar and its thumbnail
    const [{ n: aboutHer }] = await sql<{ n: string }>(
      'select count(*) as n from "notifications" where "message_id" in (select "id" from "messages" where "sender_id" = ?)',
      [aliceId],
    );
    expect(Number(aboutHer)).toBeGreaterThan(0);

    // Open sockets of hers: graphql-ws and a legacy one.
    const live = await liveSocket(alice.token);
    const legacy = await legacySocket(alice, alice.token, bob.username);
    // Bob's open client follows her profile: it learns of the deletion live.
    const bobClient = wsClient(server.wsUrl, bob.token);
    const profile = subscribe(bobClient, 'subscription($u: [ID!]) { userUpdated(userIds: $u) { id username firstName deletedAt } }', { u: [alice.id] });
    cleanups.push(() => {
      profile.stop();
      void bobClient.dispose();
    });
    await profile.ready();

    expect((await gqlOk(server.url, DELETE, { p: PASSWORD }, alice.token)).deleteAccount).toBe(true);

    // Sockets closed (4403) on both transports.
    expect(await live.closed).toBe(4403);
    expect(await legacy.closed).toBe(4403);
    expect(await profile.next()).toEqual({
      userUpdated: { id: alice.id, username: `deleted-user-${aliceId}`, firstName: null, deletedAt: expect.any(String) },
    });

    // No personal row left: what still points at her is the tombstone's place in others' history only.
    const after = await referencingRows(aliceId);
    expect(after).toEqual({
      ...Object.fromEntries(Object.keys(before).map((k) => [k, 0])),
      'conversations.created_by_id': before['conversations.created_by_id'], // who opened a conversation: a pointer to the tombstone
      'memberships.user_id': before['memberships.user_id'], // the DIRECT one (kept, muted) and the group one (left)
      'messages.sender_id': before['messages.sender_id'], // her messages, now deleted ones
      'messages.actor_id': before['messages.actor_id'], // "... created the group" notices
    });
    const [tomb] = await sql('select * from "users" where "id" = ?', [aliceId]);
    expect(tomb).toMatchObject({
      username: `deleted-user-${aliceId}`,
      username_key: `deleted-user-${aliceId}`,
      email: null,
      first_name: null,
      last_name: null,
      avatar_url: null,
      avatar_key: null,
      avatar_thumbnail_key: null,
      role: null,
      rank: null,
      last_seen_at: null,
      is_staff: false,
      score: 0,
    });
    expect(tomb.deleted_at).not.toBeNull();
    expect(tomb.password_hash).not.toMatch(/^\$argon2/);
    // Invitations she sent name the tombstone.
    const titles = (await gqlOk(server.url, '{ notifications(first: 50) { edges { node { kind title } } } }', {}, bob.token)).notifications.edges.map(
      (e: any) => e.node,
    );
    expect(titles.filter((n: any) => n.kind === 'ROOM_INVITE').map((n: any) => n.title)).toEqual([`deleted-user-${aliceId} added you to Book club`]);
    expect(JSON.stringify(titles)).not.toContain(alice.username);
    const [{ n: aboutHerAfter }] = await sql<{ n: string }>(
      'select count(*) as n from "notifications" where "message_id" in (select "id" from "messages" where "sender_id" = ?)',
      [aliceId],
    );
    expect(Number(aboutHerAfter)).toBe(0);
    expect(
      await sql(
        'select "content", "mention_ids", "client_message_id" from "messages" where "sender_id" = ? and ("content" <> \'\' or "deleted_at" is null or "mention_ids" <> \'[]\'::jsonb)',
        [aliceId],
      ),
    ).toEqual([]);
    expect(
      await sql(
        'select "role", "left_at" is null as active, "nickname" from "memberships" m join "conversations" c on c."id" = m."conversation_id" where m."user_id" = ? and c."kind" <> \'DIRECT\' and m."left_at" is null',
        [aliceId],
      ),
    ).toEqual([]);
    // Her files are gone from storage (message images and avatar), and the avatar's URL answers 404.
    expect(filesUnder(uploadDir).filter((f) => files.includes(f))).toEqual([]);
    expect((await fetch(new URL(avatar, server.url))).status).toBe(404);

    // Bob still reads the DIRECT chat: her messages keep their place as deleted ones, from a deleted user.
    const history = (await gqlOk(server.url, HISTORY, { c: direct }, bob.token)).messages.edges.map((e: any) => e.node);
    const deletedSender = {
      id: alice.id,
      username: `deleted-user-${aliceId}`,
      fullName: `deleted-user-${aliceId}`,
      firstName: null,
      lastName: null,
      avatarUrl: null,
      deletedAt: expect.any(String),
    };
    expect(history.map((m: any) => ({ seq: m.seq, content: m.content, isDeleted: m.isDeleted, attachments: m.attachments.length, sender: m.sender }))).toEqual([
      { seq: hello.seq, content: '', isDeleted: true, attachments: 0, sender: deletedSender },
      { seq: hello.seq + 1, content: '', isDeleted: true, attachments: 0, sender: deletedSender },
      { seq: reply.seq, content: 'hello Alice', isDeleted: false, attachments: 0, sender: expect.objectContaining({ id: bob.id, deletedAt: null }) },
    ]);
    // ... and in a REST dialect (seed 000: the chat by the other user's name), the same way.
    const res = await rest(`/chat/history/deleted-user-${aliceId}/`, bob.token);
    expect(res.status).toBe(200);
    const items = (await res.json()) as any[];
    expect(items.map((m) => ({ message: m.message, username: m.username, is_deleted: m.is_deleted }))).toEqual([
      { message: '', username: `deleted-user-${aliceId}`, is_deleted: true },
      { message: '', username: `deleted-user-${aliceId}`, is_deleted: true },
      { message: 'hello Alice', username: bob.username, is_deleted: false },
    ]);
    // ... and seed 004's user shape (the sender object) shows the same deleted user.
    const res004 = await rest(`/conversations/${direct}/messages/`, bob.token);
    expect(res004.status).toBe(200);
    const body004 = (await res004.json()) as any;
    const senders = (body004.results ?? body004).filter((m: any) => m.sender?.id === aliceId).map((m: any) => m.sender);
    expect(senders).toEqual(
      [0, 1].map(() => ({
        id: aliceId,
        username: `deleted-user-${aliceId}`,
        first_name: '',
        last_name: '',
        profile_picture: null,
        score: 0,
        rank: null,
        role: null,
        in_game_ids: [],
      })),
    );
    // The group still works and has an owner: carol (the ADMIN) took over.
    await gqlOk(server.url, SEND, { c: group, t: 'still here' }, bob.token);
    const members = (await gqlOk(server.url, 'query($c: ID!) { conversation(id: $c) { members { role user { id } } } }', { c: group }, carol.token))
      .conversation.members;
    expect(members).toEqual(
      expect.arrayContaining([
        { role: 'OWNER', user: { id: carol.id } },
        { role: 'MEMBER', user: { id: bob.id } },
      ]),
    );
    expect(members.map((m: any) => m.user.id)).not.toContain(alice.id);
    // Its SYSTEM notices name the tombstone, not her.
    const notices = (
      await gqlOk(server.url, 'query($c: ID!) { messages(conversationId: $c, first: 50) { edges { node { kind content } } } }', { c: group }, carol.token)
    ).messages.edges
      .map((e: any) => e.node)
      .filter((m: any) => m.kind === 'SYSTEM')
      .map((m: any) => m.content);
    expect(notices[0]).toBe(`deleted-user-${aliceId} created the group "Book club"`);
    expect(notices.join('\n')).not.toContain(alice.username);

    // Her tokens are dead: access (GraphQL, REST, WebSocket) and refresh; login fails like a wrong password.
    expect(codeOf(await gql(server.url, ME, {}, alice.token))).toBe('UNAUTHENTICATED');
    expect((await rest('/chat/unread/count/', alice.token)).status).toBe(401);
    expect(await wsInit(alice.token)).toEqual({ acked: false, closeCode: 4403 });
    expect(codeOf(await gql(server.url, REFRESH, { t: alice.refreshToken }))).toBe('UNAUTHENTICATED');
    expect(codeOf(await gql(server.url, LOGIN, { u: alice.username, p: PASSWORD }))).toBe('UNAUTHENTICATED');
    expect(codeOf(await gql(server.url, LOGIN, { u: `deleted-user-${aliceId}`, p: PASSWORD }))).toBe('UNAUTHENTICATED');

    // Nobody starts anything new with the tombstone; her username stays reserved, the tombstone's name cannot be registered.
    expect(codeOf(await gql(server.url, OPEN, { u: alice.id }, carol.token))).toBe('NOT_FOUND');
    expect(codeOf(await gql(server.url, 'mutation($u: ID!) { requestContact(userId: $u) { id } }', { u: alice.id }, carol.token))).toBe('NOT_FOUND');
    expect((await gqlOk(server.url, OPEN, { u: alice.id }, bob.token)).openDirectChat.id).toBe(direct); // the existing chat stays readable
    const REGISTER = 'mutation($u: String!) { register(input: { username: $u, password: "another-password-1" }) { accessToken } }';
    expect(codeOf(await gql(server.url, REGISTER, { u: alice.username.toUpperCase() }))).toBe('CONFLICT');
    expect(refusal(await gql(server.url, REGISTER, { u: 'deleted-user-999999' }))).toEqual({ code: 'BAD_USER_INPUT', field: 'username' });
    // She is in no directory any more.
    expect(
      (await gqlOk(server.url, 'query($s: String) { users(search: $s, first: 5) { totalCount } }', { s: `deleted-user-${aliceId}` }, bob.token)).users
        .totalCount,
    ).toBe(0);
    // The DIRECT chat is read-only now (nobody would receive it): FORBIDDEN, nothing written.
    const refusedSend = await gql(server.url, SEND, { c: direct, t: 'are you there?' }, bob.token);
    expect(codeOf(refusedSend)).toBe('FORBIDDEN');
    expect(refusedSend.errors?.[0]?.message).toMatch(/deleted their account/);
    expect((await gqlOk(server.url, HISTORY, { c: direct }, bob.token)).messages.edges).toHaveLength(3);
    // Naming the tombstone in the group notifies nobody.
    await gqlOk(server.url, SEND, { c: group, t: `@deleted-user-${aliceId} are you there?` }, bob.token);
    // No contact or notification row was made for her by what the others did since.
    expect((await referencingRows(aliceId))['contacts.addressee_id']).toBe(0);
    expect((await referencingRows(aliceId))['notifications.user_id']).toBe(0);
  });

  test('a wrong password is BAD_USER_INPUT naming password, erases nothing, and counts toward the failed-login limit', async () => {
    const user = await registerUser(server.url, 'del_w', { firstName: 'Wendy' });
    for (let i = 0; i < LOGIN_FAILURES; i++) {
      expect(refusal(await gql(server.url, DELETE, { p: `not-it-${i}-xx` }, user.token))).toEqual({ code: 'BAD_USER_INPUT', field: 'password' });
    }
    expect(codeOf(await gql(server.url, DELETE, { p: PASSWORD }, user.token))).toBe('RATE_LIMITED');
    const [row] = await sql('select "first_name", "deleted_at" from "users" where "id" = ?', [Number(user.id)]);
    expect(row).toEqual({ first_name: 'Wendy', deleted_at: null });
    expect((await gqlOk(server.url, ME, {}, user.token)).me.id).toBe(user.id);
    expect(codeOf(await gql(server.url, DELETE, { p: PASSWORD }))).toBe('UNAUTHENTICATED');
  });

  test('an older account already named deleted-user-<id>: the tombstone takes another never-registrable name, the older account is untouched', async () => {
    const user = await registerUser(server.url, 'del_clash');
    const older = await registerUser(server.url, 'del_older');
    // As an account registered before such names were refused would be.
    await sql('update "users" set "username" = ?, "username_key" = ? where "id" = ?', [`deleted-user-${user.id}`, `deleted-user-${user.id}`, Number(older.id)]);
    expect((await gqlOk(server.url, DELETE, { p: PASSWORD }, user.token)).deleteAccount).toBe(true);
    const [tomb] = await sql<{ username: string; deleted_at: Date | null }>('select "username", "deleted_at" from "users" where "id" = ?', [Number(user.id)]);
    expect(tomb.username).toMatch(new RegExp(`^deleted-user-${user.id}-[0-9a-f]{8}$`));
    expect(tomb.deleted_at).not.toBeNull();
    expect((await gqlOk(server.url, ME, {}, older.token)).me).toEqual({ id: older.id, username: `deleted-user-${user.id}` });
    const REGISTER = 'mutation($u: String!) { register(input: { username: $u, password: "another-password-1" }) { accessToken } }';
    expect(refusal(await gql(server.url, REGISTER, { u: `deleted-user-${user.id}-0a1b2c3d` }))).toEqual({ code: 'BAD_USER_INPUT', field: 'username' });
  });

  test('two concurrent deletions of one account: one succeeds, the other is refused cleanly (no 500)', async () => {
    const user = await registerUser(server.url, 'del_twice');
    const second = await loginAgain(user);
    const results = await Promise.all([gql(server.url, DELETE, { p: PASSWORD }, user.token), gql(server.url, DELETE, { p: PASSWORD }, second.token)]);
    expect(results.map((r) => r.status).every((s) => s < 500)).toBe(true);
    expect(results.filter((r) => r.data?.deleteAccount === true)).toHaveLength(1);
    expect(results.filter((r) => !r.errors).length).toBe(1);
    expect(results.flatMap((r) => (r.errors ? [codeOf(r)] : []))).toEqual(['UNAUTHENTICATED']);
    expect(await sql('select count(*)::int as n from "reserved_usernames" where "username_key" = ?', [user.username.toLowerCase()])).toEqual([{ n: 1 }]);
  });

  test('staff: the last staff user is refused (FORBIDDEN); of the last two deleting at once exactly one succeeds', async () => {
    // No other test of this file makes staff: these are the only ones.
    const s1 = await registerUser(server.url, 'del_s1');
    const s2 = await registerUser(server.url, 'del_s2');
    await sql('update "users" set "is_staff" = true where "id" = ?', [Number(s1.id)]);
    expect(await sql('select count(*)::int as n from "users" where "is_staff"')).toEqual([{ n: 1 }]);
    const last = await gql(server.url, DELETE, { p: PASSWORD }, s1.token);
    expect(codeOf(last)).toBe('FORBIDDEN');
    expect(last.errors?.[0]?.message).toMatch(/last staff user/);

    await gqlOk(server.url, 'mutation($u: ID!) { setUserStaff(userId: $u, isStaff: true) { isStaff } }', { u: s2.id }, s1.token);
    const both = await Promise.all([gql(server.url, DELETE, { p: PASSWORD }, s1.token), gql(server.url, DELETE, { p: PASSWORD }, s2.token)]);
    expect(both.filter((r) => r.data?.deleteAccount === true)).toHaveLength(1);
    expect(both.flatMap((r) => (r.errors ? [codeOf(r)] : []))).toEqual(['FORBIDDEN']);
    expect(await sql('select count(*)::int as n from "users" where "is_staff" and "deleted_at" is null')).toEqual([{ n: 1 }]);
  });
});

describe("deleteAccount racing the user's own writes (issue 27)", () => {
  // A server of its own with message limits out of the way: the sends must reach the deletion.
  let racy: TestServer;
  beforeAll(async () => {
    racy = await startTestServer({ RATE_MESSAGES_PER_SEC: '1000', RATE_MESSAGES_BURST: '1000' });
  });
  afterAll(async () => {
    await racy?.close();
  });
  const racySql = <T = Record<string, unknown>>(query: string, params: unknown[] = []) => racy.orm.em.fork().execute<T[]>(query, params);
  const EDIT = 'mutation($id: ID!, $t: String!) { editMessage(id: $id, content: $t) { id } }';

  /**
   * What a deleted user's racing writes left behind: `unexpected` outcomes (anything but a success
   * or UNAUTHENTICATED; an edit may find its message already erased: BAD_USER_INPUT), messages of
   * hers not erased (content, mentions), `extra` messages beyond her first and her successful
   * sends, notifications about her messages or naming her. All empty (0) when nothing is left.
   */
  async function leftOf(user: TestUser, done: { kind: 'send' | 'edit'; result: GqlResult }[]) {
    const outcomes = done.map(({ kind, result }) => `${kind}:${result.errors ? codeOf(result) : 'ok'}`);
    const unexpected = outcomes.filter((o) => !['send:ok', 'edit:ok', 'send:UNAUTHENTICATED', 'edit:UNAUTHENTICATED', 'edit:BAD_USER_INPUT'].includes(o));
    const uid = Number(user.id);
    const mine = await racySql<{ id: number; content: string; mention_ids: unknown; deleted_at: Date | null }>(
      'select "id", "content", "mention_ids", "deleted_at" from "messages" where "sender_id" = ? order by "seq"',
      [uid],
    );
    const left = mine.filter((m) => m.content !== '' || JSON.stringify(m.mention_ids) !== '[]' || !m.deleted_at);
    const notes = await racySql<{ kind: string; title: string }>(
      `select "kind", "title" from "notifications" where "message_id" in (select "id" from "messages" where "sender_id" = ?)
          or "title" like ? or "body" like ?`,
      [uid, `%${user.username}%`, `%${user.username}%`],
    );
    return { unexpected, left, extra: mine.length - 1 - outcomes.filter((o) => o === 'send:ok').length, notes };
  }

  test('25 sends and edits, one every 15 ms, with deleteAccount fired after 150 ms: each commits before the deletion (and is erased) or is refused; nothing of the user is left', async () => {
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    for (let round = 0; round < 4; round++) {
      const alice = await registerUser(racy.url, 'race_a');
      const bob = await registerUser(racy.url, 'race_b');
      const group = (await gqlOk(racy.url, 'mutation($m: [ID!]!) { createGroup(input: { name: "Race", memberIds: $m }) { id } }', { m: [bob.id] }, alice.token))
        .createGroup.id;
      const first = (await gqlOk(racy.url, SEND, { c: group, t: `first @${bob.username}` }, alice.token)).sendMessage.id;
      const writes: Promise<{ kind: 'send' | 'edit'; result: GqlResult }>[] = [];
      let deletion: Promise<GqlResult> | undefined;
      for (let i = 0; i < 25; i++) {
        if (i === 10) deletion = gql(racy.url, DELETE, { p: PASSWORD }, alice.token);
        const text = `message ${i} for @${bob.username} from ${alice.username}`;
        writes.push(
          i % 5 === 4
            ? gql(racy.url, EDIT, { id: first, t: text }, alice.token).then((result) => ({ kind: 'edit' as const, result }))
            : gql(racy.url, SEND, { c: group, t: text }, alice.token).then((result) => ({ kind: 'send' as const, result })),
        );
        await sleep(15);
      }
      const done = await Promise.all(writes);
      expect((await deletion!).data?.deleteAccount).toBe(true);
      expect(await leftOf(alice, done)).toEqual({ unexpected: [], left: [], extra: 0, notes: [] });
    }
  });

  // PostgreSQL only (PGlite has one connection: a transaction held by the test would stop the
  // server too). The test itself holds the conversation's row lock so that the user's writes have
  // passed their checks and wait at their write; then the deletion starts; the lock is released
  // only once the database reports all of them waiting. Without the author's row lock taken first,
  // the writes usually commit after the deletion's snapshot and stay (seen in 3 runs of 5 on
  // today's code; the burst above is the one that catches it); with it, they are erased every time.
  (process.env.DATABASE_URL ? test : test.skip)("writes waiting at the conversation's lock when the deletion starts: erased by it or refused", async () => {
    const alice = await registerUser(racy.url, 'race_la');
    const bob = await registerUser(racy.url, 'race_lb');
    const group = (await gqlOk(racy.url, 'mutation($m: [ID!]!) { createGroup(input: { name: "Race", memberIds: $m }) { id } }', { m: [bob.id] }, alice.token))
      .createGroup.id;
    const first = (await gqlOk(racy.url, SEND, { c: group, t: `first @${bob.username}` }, alice.token)).sendMessage.id;
    /** Backends of this database waiting for a lock, those whose statement writes the conversation's row apart. */
    const waiting = async () =>
      (
        await racySql<{ n: string; at_conversation: string }>(
          `select count(*) as n, count(*) filter (where query like '%update "conversations"%') as at_conversation
         from pg_stat_activity where datname = current_database() and cardinality(pg_blocking_pids(pid)) > 0`,
        )
      ).map((r) => ({ n: Number(r.n), atConversation: Number(r.at_conversation) }))[0];
    const holder = racy.orm.em.fork();
    await holder.begin();
    let done: { kind: 'send' | 'edit'; result: GqlResult }[];
    let deletion: Promise<GqlResult>;
    try {
      await holder.execute('select "id" from "conversations" where "id" = ? for update', [Number(group)]);
      const text = (i: number) => `held ${i} for @${bob.username} from ${alice.username}`;
      const writes = [
        ...[0, 1, 2].map((i) => gql(racy.url, SEND, { c: group, t: text(i) }, alice.token).then((result) => ({ kind: 'send' as const, result }))),
        gql(racy.url, EDIT, { id: first, t: text(3) }, alice.token).then((result) => ({ kind: 'edit' as const, result })),
      ];
      await waitFor(async () => (await waiting()).atConversation === 4, "the writes wait at the conversation's lock");
      deletion = gql(racy.url, DELETE, { p: PASSWORD }, alice.token);
      await waitFor(async () => (await waiting()).n === 5, 'the deletion waits too');
      await holder.commit();
      done = await Promise.all(writes);
    } catch (err) {
      await holder.rollback().catch(() => undefined);
      throw err;
    }
    expect((await deletion).data?.deleteAccount).toBe(true);
    expect(await leftOf(alice, done)).toEqual({ unexpected: [], left: [], extra: 0, notes: [] });
  });
});

describe("deleteAccount: a customer's support thread", () => {
  // After the staff test above (it needs to be alone with its staff users).
  test('stays with the staff, readable and answerable, its deleted customer shown as a deleted user; no staff member inherits it', async () => {
    const customer = await registerUser(server.url, 'del_cust', { firstName: 'Cuong' });
    const agent = await registerUser(server.url, 'del_agent');
    await sql('update "users" set "is_staff" = true where "id" = ?', [Number(agent.id)]);
    const thread = (
      await gqlOk(server.url, 'mutation { sendMessage(input: { toSupport: true, content: "my order is late" }) { conversationId } }', {}, customer.token)
    ).sendMessage.conversationId;
    await gqlOk(server.url, SEND, { c: thread, t: 'looking into it' }, agent.token);
    const ROLES_Q = 'query($c: ID!) { conversation(id: $c) { members { role user { id } } } }';
    const agentRole = (await gqlOk(server.url, ROLES_Q, { c: thread }, agent.token)).conversation.members.find((m: any) => m.user.id === agent.id).role;

    expect((await gqlOk(server.url, DELETE, { p: PASSWORD }, customer.token)).deleteAccount).toBe(true);

    const members = (await gqlOk(server.url, ROLES_Q, { c: thread }, agent.token)).conversation.members;
    expect(members).toEqual([{ role: agentRole, user: { id: agent.id } }]);
    const history = (await gqlOk(server.url, HISTORY, { c: thread }, agent.token)).messages.edges.map((e: any) => e.node);
    expect(history.map((m: any) => [m.content, m.sender.username])).toEqual([
      ['', `deleted-user-${customer.id}`],
      ['looking into it', agent.username],
    ]);
    // Seed 002's shape names the deleted customer the same way.
    const res = await rest(`/chat/conversations/${thread}/messages/`, agent.token);
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect((body.results ?? body).map((m: any) => [m.noi_dung, m.nguoi_goi_name])).toEqual([
      ['', `deleted-user-${customer.id}`],
      ['looking into it', agent.username],
    ]);
    await gqlOk(server.url, SEND, { c: thread, t: 'closing this' }, agent.token);
  });
});

// ---------------------------------------------------------------------------------------------
// across instances (PostgreSQL and Redis): the bus carries the ends of sessions and the cache drops

const scale = Boolean(process.env.DATABASE_URL && process.env.REDIS_URL);
(scale ? describe : describe.skip)('across instances', () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startTestCluster(2);
  });
  afterAll(async () => {
    await cluster?.close();
  });

  test('a password change on one instance ends the other logins on the other (socket 4403, access token refused); a deletion ends every one', async () => {
    const [a, b] = cluster.instances;
    const user = await registerUser(a.url, 'xi_user');
    const other = (await gqlOk(a.url, LOGIN, { u: user.username, p: PASSWORD })).login;
    // Instance b knows both logins' user in its cache and holds a socket of each.
    expect((await gqlOk(b.url, ME, {}, other.accessToken)).me.id).toBe(user.id);
    const theirs = await liveSocket(other.accessToken, b.wsUrl);
    const mine = await liveSocket(user.token, b.wsUrl);

    expect((await gqlOk(a.url, CHANGE, { c: PASSWORD, n: NEW_PASSWORD }, user.token)).changePassword).toBe(true);
    expect(await theirs.closed).toBe(4403);
    expect(codeOf(await gql(b.url, ME, {}, other.accessToken))).toBe('UNAUTHENTICATED');
    expect((await gqlOk(b.url, ME, {}, user.token)).me.id).toBe(user.id);

    expect((await gqlOk(a.url, DELETE, { p: NEW_PASSWORD }, user.token)).deleteAccount).toBe(true);
    expect(await mine.closed).toBe(4403);
    expect(codeOf(await gql(b.url, ME, {}, user.token))).toBe('UNAUTHENTICATED');
  });
});
