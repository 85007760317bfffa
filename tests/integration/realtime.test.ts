/**
 * Issue 11: the realtime delivery layer through the real server and real graphql-ws clients.
 * One execution per event for subscribers of the same operation, no SQL per subscriber, live
 * authorization on open sockets (staff demotion, bans, logout), and bounded per-socket cost
 * (sockets per user, presence ids, send buffer).
 */
import WebSocket from 'ws';
import { isDeliveryQuery } from '../../src/realtime/delivery/hub';
import { CLOSE_TOO_FAR_BEHIND } from '../../src/realtime/transports/live';
import { codeOf, gql, gqlOk, registerUser, trackRealtime, waitFor, type TestUser } from '../support/client';
import { registrationsOf } from '../support/readiness';
import { startTestServer, type TestServer } from '../support/test-server';

jest.setTimeout(90_000);

let server: TestServer;
let deliverySql: string[] = [];
const rt = trackRealtime(
  () => server.wsUrl,
  () => server,
);

beforeAll(async () => {
  server = await startTestServer(
    { WS_MAX_SOCKETS_PER_USER: '3', WS_MAX_PRESENCE_IDS: '50', WS_MAX_PRESENCE_IDS_PER_SOCKET: '120', WS_MAX_BUFFERED_BYTES: '1024' },
    {
      onQuery: (line, context) => {
        if (isDeliveryQuery(context)) deliverySql.push(line);
      },
    },
  );
});
afterAll(async () => {
  await server?.close();
});

const ADDED = 'subscription($c: ID) { messageAdded(conversationId: $c) { id seq content sender { id username fullName } } }';
const SEND = 'mutation($c: ID!, $t: String!) { sendMessage(input: { conversationId: $c, content: $t }) { id seq } }';

/** A room of `owner` with `members` joined. */
async function room(owner: TestUser, members: TestUser[]): Promise<string> {
  const id = (await gqlOk(server.url, 'mutation { createRoom(input: { name: "hot", visibility: PUBLIC }) { id } }', {}, owner.token)).createRoom.id;
  for (const m of members) await gqlOk(server.url, 'mutation($id: ID!) { joinRoom(id: $id) { id } }', { id }, m.token);
  return id;
}

/** A raw graphql-transport-ws socket, acknowledged. */
function rawSocket(token: string): Promise<{ ws: WebSocket; closed: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(server.wsUrl, 'graphql-transport-ws');
    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    ws.once('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } })));
    ws.on('message', (data) => {
      if (JSON.parse(String(data)).type === 'connection_ack') resolve({ ws, closed });
    });
    ws.once('error', reject);
    void closed.then((code) => reject(new Error(`closed with ${code} before the ack`)));
  });
}

describe('shared execution', () => {
  test('20 subscribers of one operation: one execution per event, and no SQL per subscriber', async () => {
    const owner = await registerUser(server.url, 'hot');
    const members = await Promise.all(Array.from({ length: 20 }, () => registerUser(server.url, 'hotm')));
    const roomId = await room(owner, members);
    const subs = members.map((m) => rt.sub(rt.client(m), ADDED, { c: roomId }));
    await Promise.all(subs.map((s) => s.ready()));

    // First event: the sender's profile is read once for everyone.
    deliverySql = [];
    let executions = server.realtime.hub.executions;
    const first = (await gqlOk(server.url, SEND, { c: roomId, t: 'hello all' }, owner.token)).sendMessage;
    for (const s of subs)
      expect(await s.next()).toEqual({
        messageAdded: { id: first.id, seq: first.seq, content: 'hello all', sender: { id: owner.id, username: owner.username, fullName: owner.username } },
      });
    expect(server.realtime.hub.executions - executions).toBe(1);
    expect(deliverySql.length).toBeLessThanOrEqual(1);

    // Steady state: nothing from the database at all.
    deliverySql = [];
    executions = server.realtime.hub.executions;
    for (let i = 0; i < 3; i++) await gqlOk(server.url, SEND, { c: roomId, t: `again ${i}` }, owner.token);
    for (const s of subs) for (let i = 0; i < 3; i++) expect((await s.next()).messageAdded.content).toBe(`again ${i}`);
    expect(server.realtime.hub.executions - executions).toBe(3);
    expect(deliverySql).toEqual([]);
  });

  test("a viewer-dependent field executes per viewer: a block hides the sender's presence from the blocker only", async () => {
    const sender = await registerUser(server.url, 'pv');
    const blocker = await registerUser(server.url, 'pvb');
    const other = await registerUser(server.url, 'pvo');
    const roomId = await room(sender, [blocker, other]);
    // The sender is online (a socket open: ONLINE is published before its subscription registers).
    await rt.sub(rt.client(sender), 'subscription { notificationAdded { id } }').ready();
    await gqlOk(server.url, 'mutation($u: ID!) { blockUser(userId: $u) { status } }', { u: sender.id }, blocker.token);
    const q = 'subscription($c: ID) { messageAdded(conversationId: $c) { content sender { username presence } } }';
    const a = rt.sub(rt.client(blocker), q, { c: roomId });
    const b = rt.sub(rt.client(other), q, { c: roomId });
    await Promise.all([a.ready(), b.ready()]);
    const executions = server.realtime.hub.executions;
    await gqlOk(server.url, SEND, { c: roomId, t: 'who is online' }, sender.token);
    expect(await a.next()).toEqual({ messageAdded: { content: 'who is online', sender: { username: sender.username, presence: 'OFFLINE' } } });
    expect(await b.next()).toEqual({ messageAdded: { content: 'who is online', sender: { username: sender.username, presence: 'ONLINE' } } });
    expect(server.realtime.hub.executions - executions).toBe(2);
  });
});

describe('live authorization on open sockets', () => {
  test('a demoted staff user stops receiving SUPPORT threads at once and cannot make itself staff again over the same socket', async () => {
    const admin = await registerUser(server.url, 'adm');
    const staff = await registerUser(server.url, 'stf');
    const customer = await registerUser(server.url, 'cus');
    // The first staff user comes from the database, as `npm run create-user --staff` does.
    await server.orm.em.fork().execute('update "users" set "is_staff" = true where "id" in (?, ?)', [Number(admin.id), Number(staff.id)]);
    // A DIRECT of the staff user's own: the control conversation, which stays theirs after the demotion.
    const own = (await gqlOk(server.url, 'mutation($u: ID) { openDirectChat(userId: $u) { id } }', { u: staff.id }, admin.token)).openDirectChat.id;
    const c = rt.client(staff);
    const all = rt.sub(c, 'subscription { messageAdded { content } }');
    await all.ready();
    await gqlOk(server.url, 'mutation { sendMessage(input: { toSupport: true, content: "help 1" }) { id } }', {}, customer.token);
    expect(await all.next()).toEqual({ messageAdded: { content: 'help 1' } });

    await gqlOk(server.url, 'mutation($u: ID!) { setUserStaff(userId: $u, isStaff: false) { id isStaff } }', { u: staff.id }, admin.token);
    await gqlOk(server.url, 'mutation { sendMessage(input: { toSupport: true, content: "help 2" }) { id } }', {}, customer.token);
    await gqlOk(server.url, SEND, { c: own, t: 'control' }, admin.token);
    expect(await all.until(() => true)).toEqual([{ messageAdded: { content: 'control' } }]);

    // The socket acts with the current rights: no self-promotion.
    const again = rt.sub(c, 'mutation($u: ID!) { setUserStaff(userId: $u, isStaff: true) { id } }', { u: staff.id });
    await again.done;
    expect(JSON.stringify(again.errors)).toContain('FORBIDDEN');
    const row = await server.orm.em.fork().execute('select "is_staff" from "users" where "id" = ?', [Number(staff.id)]);
    expect(row[0].is_staff).toBe(false);
  });

  test('a banned member stops receiving on an open socket; the others keep receiving', async () => {
    const owner = await registerUser(server.url, 'bo');
    const banned = await registerUser(server.url, 'bb');
    const stays = await registerUser(server.url, 'bs');
    const roomId = await room(owner, [banned, stays]);
    const own = (await gqlOk(server.url, 'mutation($u: ID) { openDirectChat(userId: $u) { id } }', { u: banned.id }, owner.token)).openDirectChat.id;
    const gone = rt.sub(rt.client(banned), ADDED, { c: roomId });
    const kept = rt.sub(rt.client(stays), ADDED, { c: roomId });
    const everything = rt.sub(rt.client(banned), 'subscription { messageAdded { content } }');
    await Promise.all([gone.ready(), kept.ready(), everything.ready()]);
    await gqlOk(
      server.url,
      'mutation($c: ID!, $u: ID!) { banMember(conversationId: $c, userId: $u, banned: true) { id } }',
      { c: roomId, u: banned.id },
      owner.token,
    );
    // The ban's own system message may still reach them (it is about them); nothing after it does.
    await gqlOk(server.url, SEND, { c: roomId, t: 'after the ban' }, owner.token);
    const seen = [];
    for (;;) {
      const e = await kept.next();
      seen.push(e.messageAdded.content);
      if (e.messageAdded.content === 'after the ban') break;
    }
    const banNotice = `${owner.username} banned ${banned.username}`;
    // Controls after it: a message in the banned user's own DIRECT for the unscoped subscription;
    // unbanned and back in the room, their join notice for the scoped one. Each is the first
    // thing (the ban notice aside) its subscription receives after the ban.
    await gqlOk(server.url, SEND, { c: own, t: 'control' }, owner.token);
    const toEverything = (await everything.until((e) => e.messageAdded.content === 'control')).map((e) => e.messageAdded.content);
    expect(toEverything.filter((t) => t !== banNotice)).toEqual(['control']);
    await gqlOk(
      server.url,
      'mutation($c: ID!, $u: ID!) { banMember(conversationId: $c, userId: $u, banned: false) { id } }',
      { c: roomId, u: banned.id },
      owner.token,
    );
    await gqlOk(server.url, 'mutation($id: ID!) { joinRoom(id: $id) { id } }', { id: roomId }, banned.token);
    const joinNotice = `${banned.username} joined`;
    const toGone = (await gone.until((e) => e.messageAdded.content === joinNotice)).map((e) => e.messageAdded.content);
    expect(toGone.filter((t) => t !== banNotice)).toEqual([joinNotice]);
  });

  test("after logout, the login's access token opens no new socket (4403)", async () => {
    const u = await registerUser(server.url, 'lo');
    const open = await rawSocket(u.token);
    await gqlOk(server.url, 'mutation($r: String!) { logout(refreshToken: $r) }', { r: u.refreshToken }, u.token);
    expect(await open.closed).toBe(4403);
    await expect(rawSocket(u.token)).rejects.toThrow('closed with 4403');
  });
});

describe('bounded per-socket cost', () => {
  test('WS_MAX_SOCKETS_PER_USER: a burst of 8 connections of one user gets 3 sockets; the rest close with 1013', async () => {
    const u = await registerUser(server.url, 'cap');
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => rawSocket(u.token)));
    const opened = results.filter((r) => r.status === 'fulfilled').map((r) => (r as PromiseFulfilledResult<{ ws: WebSocket; closed: Promise<number> }>).value);
    const refused = results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason));
    expect(opened).toHaveLength(3);
    expect(refused).toEqual(Array(5).fill('Error: closed with 1013 before the ack'));
    // Closing one frees a place (once the server has processed the close).
    opened[0].ws.close();
    await opened[0].closed;
    await waitFor(() => (server.realtime.audience.viewerOf(Number(u.id))?.sockets ?? 0) <= 2, "the server's count of the user's sockets to drop to 2");
    const again = await rawSocket(u.token);
    for (const s of [...opened.slice(1), again]) s.ws.close();
  });

  test('WS_MAX_PRESENCE_IDS: a presence subscription with too many ids is refused with BAD_USER_INPUT', async () => {
    const u = await registerUser(server.url, 'pres');
    const c = rt.client(u);
    // One real user and ids no user has (other tests' users go OFFLINE meanwhile: not asked for).
    const watched = await registerUser(server.url, 'presw');
    // A stranger to u: shown only with presenceVisibility EVERYONE (issue 27 §5).
    await gqlOk(server.url, 'mutation { updatePrivacy(input: { presenceVisibility: EVERYONE }) { presenceVisibility } }', {}, watched.token);
    const ids = [watched.id, ...Array.from({ length: 50 }, (_, i) => String(900_000_000 + i))];
    const s = rt.sub(c, 'subscription($u: [ID!]) { presence(userIds: $u) { user { id } status } }', { u: ids });
    await s.done;
    expect(JSON.stringify(s.errors)).toContain('BAD_USER_INPUT');
    const ok = rt.sub(c, 'subscription($u: [ID!]) { presence(userIds: $u) { user { id } status } }', { u: ids.slice(0, 50) });
    await ok.ready(); // accepted: registered with the hub, no error
    await rt.sub(rt.client(watched), 'subscription { notificationAdded { id } }').ready();
    expect(await ok.until(() => true)).toEqual([{ presence: { user: { id: watched.id }, status: 'ONLINE' } }]);
    expect(ok.errors).toEqual([]);
  });

  test('WS_MAX_PRESENCE_IDS_PER_SOCKET: the userIds of all presence and userUpdated subscriptions of a socket together are bounded, a burst included (issue 27 §5)', async () => {
    const u = await registerUser(server.url, 'presk');
    const ids = (from: number, n: number) => Array.from({ length: n }, (_, i) => String(910_000_000 + from + i));
    const PRESENCE = 'subscription($u: [ID!]) { presence(userIds: $u) { status } }';
    const UPDATED = 'subscription($u: [ID!]) { userUpdated(userIds: $u) { id } }';
    /** Subscribes; true when the server registered it, false when refused (with BAD_USER_INPUT naming userIds). */
    const attempt = async (c: ReturnType<typeof rt.client>, query: string, u: string[]) => {
      const s = rt.sub(c, query, { u });
      const ok = await s.ready().then(
        () => true,
        () => false,
      );
      if (!ok) expect(s.errors.map((e: any) => [e.extensions?.code ?? e.message, e.extensions?.field])).toEqual([['BAD_USER_INPUT', 'userIds']]);
      return { ok, s };
    };
    const c = rt.client(u);
    const first = await attempt(c, PRESENCE, ids(0, 50));
    expect(first.ok).toBe(true);
    expect((await attempt(c, UPDATED, ids(50, 50))).ok).toBe(true);
    expect((await attempt(c, PRESENCE, ids(100, 21))).ok).toBe(false); // 121 > 120
    expect((await attempt(c, UPDATED, ids(100, 20))).ok).toBe(true); // exactly 120
    expect((await attempt(c, PRESENCE, ids(200, 1))).ok).toBe(false);
    // Subscriptions without userIds hold none.
    expect((await attempt(c, PRESENCE, [])).ok).toBe(true);
    // Another socket of the same user has its own allowance.
    expect((await attempt(rt.client(u), PRESENCE, ids(300, 50))).ok).toBe(true);
    // A completed subscription gives its ids back.
    first.s.stop();
    await waitFor(async () => {
      const again = await attempt(c, PRESENCE, ids(400, 50));
      if (!again.ok) return false;
      again.s.stop();
      return true;
    }, "the completed subscription's 50 ids to be released");
    // A burst of 8 subscriptions of 50 ids on a fresh socket: exactly 2 fit.
    const burst = rt.client(u);
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => attempt(burst, i % 2 ? UPDATED : PRESENCE, ids(1000 + i * 50, 50))));
    expect(results.filter((r) => r.ok)).toHaveLength(2);
  });

  test('a socket that stops reading is closed with 4507 once its unsent bytes pass WS_MAX_BUFFERED_BYTES; others are unaffected', async () => {
    const owner = await registerUser(server.url, 'slowo');
    const slow = await registerUser(server.url, 'slow');
    const fine = await registerUser(server.url, 'fine');
    const roomId = await room(owner, [slow, fine]);
    const registrations = registrationsOf(server).seen;
    const { ws, closed } = await rawSocket(slow.token);
    // 90 subscriptions on the one socket: each message is 90 frames of 4 KB for it.
    for (let i = 0; i < 90; i++)
      ws.send(
        JSON.stringify({
          id: String(i),
          type: 'subscribe',
          payload: { query: 'subscription($c: ID) { messageAdded(conversationId: $c) { content } }', variables: { c: roomId } },
        }),
      );
    const ok = rt.sub(rt.client(fine), 'subscription($c: ID) { messageAdded(conversationId: $c) { seq } }', { c: roomId });
    await ok.ready();
    await waitFor(() => registrations.filter((r) => r.userId === Number(slow.id)).length >= 90, "the slow socket's 90 subscriptions to register");
    (ws as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();
    const big = 'x'.repeat(3990);
    let sent = 0;
    const before = server.realtime.stats().closedTooFarBehind;
    while (server.realtime.stats().closedTooFarBehind === before && sent < 400) {
      await gqlOk(server.url, SEND, { c: roomId, t: `${big}${sent++}` }, owner.token);
    }
    expect(sent).toBeLessThan(400);
    (ws as unknown as { _socket: { resume(): void } })._socket.resume();
    expect(await closed).toBe(CLOSE_TOO_FAR_BEHIND);
    // The reader that kept reading got every message, in order.
    for (let i = 0; i < sent; i++) expect((await ok.next(5000)).messageAdded.seq).toBeGreaterThan(0);
    expect(ok.errors).toEqual([]);
  });
});

test('a subscription sent over HTTP answers a clear error, never a 500', async () => {
  const u = await registerUser(server.url, 'httpsub');
  const r = await gql(server.url, 'subscription { notificationAdded { id } }', {}, u.token);
  expect(r.status).toBeLessThan(500);
  expect(codeOf(r) ?? r.errors?.[0]?.message).toBeTruthy();
});
