/**
 * Issue 6: several instances behind one address, on one PostgreSQL and one Redis. Runs when
 * DATABASE_URL and REDIS_URL are both set (CI's PostgreSQL run); each test starts its own
 * instances on one fresh database.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { finishedCalls, gql, gqlOk, registerUser, subscribe, waitFor as waitUntil, wsClient, type LiveSubscription, type TestUser } from '../../support/client';
import { startTestCluster, type TestCluster } from '../../support/test-server';
import { TcpProxy } from '../../support/tcp-proxy';
import type { Client } from 'graphql-ws';
import type { RunningApp } from '../../../src/app';
import { User } from '../../../src/domain/user/user.entity';

const enabled = Boolean(process.env.DATABASE_URL && process.env.REDIS_URL);
const describeScale = enabled ? describe : describe.skip;
jest.setTimeout(120000);

const SEND = `mutation($c: ID!, $t: String!) { sendMessage(input: { conversationId: $c, content: $t }) { id seq } }`;
const ADDED = `subscription($c: ID) { messageAdded(conversationId: $c) { id seq content sender { username } } }`;
const EDITED = `subscription($c: ID) { messageEdited(conversationId: $c) { id seq content isEdited } }`;
const PRESENCE = `subscription($u: [ID!]) { presence(userIds: $u) { user { id } status lastSeenAt } }`;
const SINCE = `query($c: ID!, $a: Int!) { messagesSince(conversationId: $c, afterSeq: $a) { id seq content isEdited isDeleted } }`;

let clients: Client[] = [];
let subs: LiveSubscription[] = [];
/** The instance each client connects to: its subscriptions' ready() watches that instance's hub. */
const instanceOf = new WeakMap<Client, RunningApp>();
function client(app: RunningApp, user: TestUser, extra: Parameters<typeof wsClient>[2] = {}): Client {
  const c = wsClient(app.wsUrl, user.token, extra);
  clients.push(c);
  instanceOf.set(c, app);
  return c;
}
function live<T = any>(c: Client, query: string, variables: Record<string, unknown> = {}): LiveSubscription<T> {
  const app = instanceOf.get(c);
  const s = subscribe<T>(c, query, variables, app ? { server: app } : {});
  subs.push(s);
  return s;
}
afterEach(async () => {
  for (const s of subs) s.stop();
  await Promise.all(clients.map((c) => c.dispose()));
  subs = [];
  clients = [];
});

/** Two users with a DIRECT conversation, opened through `app`. */
async function pair(app: RunningApp): Promise<{ alice: TestUser; bob: TestUser; conversationId: string }> {
  const alice = await registerUser(app.url, 'alice');
  const bob = await registerUser(app.url, 'bob');
  const d = await gqlOk(app.url, `mutation($u: ID!) { openDirectChat(userId: $u) { id } }`, { u: bob.id }, alice.token);
  return { alice, bob, conversationId: d.openDirectChat.id };
}

/** Collects `n` events (what follows them is checked with a control event: LiveSubscription.until). */
async function take<T>(s: LiveSubscription<T>, n: number, timeoutMs = 10000): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < n; i++) out.push(await s.next(timeoutMs));
  return out;
}

const waitFor = (check: () => Promise<boolean>, timeoutMs: number, what: string) => waitUntil(check, what, { timeoutMs, everyMs: 100 });

const readyz = async (app: RunningApp) => {
  const res = await fetch(app.url.replace(/\/graphql$/, '/readyz'));
  return { status: res.status, body: (await res.json()) as { status: string; database: string; redis: string } };
};

describeScale('two instances on one PostgreSQL and one Redis', () => {
  let cluster: TestCluster;
  let a: RunningApp;
  let b: RunningApp;
  beforeEach(async () => {
    cluster = await startTestCluster(2);
    [a, b] = cluster.instances;
  });
  afterEach(async () => {
    await cluster.close();
  });

  test('a subscriber on A gets every message sent through B (GraphQL and REST) exactly once, in seq order', async () => {
    const { alice, bob, conversationId } = await pair(a);
    const onA = live(client(a, alice), ADDED, { c: conversationId });
    const allOnA = live(client(a, alice), ADDED, {});
    const ownOnB = live(client(b, bob), ADDED, { c: conversationId });
    const editsOnA = live(client(a, alice), EDITED, { c: conversationId });
    await Promise.all([onA.ready(), allOnA.ready(), ownOnB.ready(), editsOnA.ready()]);

    for (let i = 1; i <= 10; i++) await gqlOk(b.url, SEND, { c: conversationId, t: `gql ${i}` }, bob.token);
    for (let i = 1; i <= 5; i++) {
      const res = await fetch(`${b.url.replace(/\/graphql$/, '')}/api/messages/`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${bob.token}` },
        body: JSON.stringify({ content: `rest ${i}`, recipient_id: Number(alice.id) }),
      });
      expect(res.status).toBe(201);
    }
    const expected = [...Array.from({ length: 10 }, (_, i) => `gql ${i + 1}`), ...Array.from({ length: 5 }, (_, i) => `rest ${i + 1}`)];
    for (const s of [onA, allOnA, ownOnB]) {
      const got = await take(s, 15);
      expect(got.map((e: any) => e.messageAdded.seq)).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
      expect(got.map((e: any) => e.messageAdded.content)).toEqual(expected);
    }
    // Exactly once: a control message through B is the next event of each (no second copy before it).
    await gqlOk(b.url, SEND, { c: conversationId, t: 'control' }, bob.token);
    for (const s of [onA, allOnA, ownOnB]) {
      expect((await s.until(() => true, 10000)).map((e: any) => [e.messageAdded.seq, e.messageAdded.content])).toEqual([[16, 'control']]);
    }

    // An edit through B's REST layer reaches messageEdited on A, once.
    const first = (onA.events[0] as any).messageAdded.id;
    const patch = await fetch(`${b.url.replace(/\/graphql$/, '')}/api/messages/${first}/`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${bob.token}` },
      body: JSON.stringify({ content: 'gql 1 (edited)' }),
    });
    expect(patch.status).toBe(200);
    const [edit] = await take(editsOnA, 1);
    expect((edit as any).messageEdited).toMatchObject({ id: first, seq: 1, content: 'gql 1 (edited)', isEdited: true });
    // Once: a second edit (GraphQL, through B) is the next edit event.
    await gqlOk(b.url, `mutation($id: ID!) { editMessage(id: $id, content: "gql 1 (edited twice)") { id } }`, { id: first }, bob.token);
    expect((await editsOnA.until(() => true, 10000)).map((e: any) => e.messageEdited.content)).toEqual(['gql 1 (edited twice)']);
  });

  test('a member watching live on B gets no MESSAGE notification for a message sent through A; one who is not watching does', async () => {
    const { alice, bob, conversationId } = await pair(a);
    const watching = live(client(b, bob), ADDED, {});
    await watching.ready();
    await gqlOk(a.url, SEND, { c: conversationId, t: 'are you watching?' }, alice.token);
    await watching.next(5000);
    const count = async (u: TestUser, app: RunningApp) => (await gqlOk(app.url, `{ notifications { totalCount } }`, {}, u.token)).notifications.totalCount;
    expect(await count(bob, a)).toBe(0);

    watching.stop();
    // The stop reached B and B's watch entry left Redis: A no longer counts bob as watching.
    await waitFor(async () => (await a.services.watchers.watchersOf(Number(conversationId), [Number(bob.id)])).length === 0, 10000, "bob's watch to end");
    await gqlOk(a.url, SEND, { c: conversationId, t: 'now you are not' }, alice.token);
    expect(await count(bob, b)).toBe(1);
  });

  test('presence: ONLINE while any socket on any instance is open, OFFLINE after the last closes', async () => {
    const { alice, bob } = await pair(a);
    const watch = live(client(a, alice), PRESENCE, { u: [bob.id] });
    await watch.ready();

    const bobOnA = client(a, bob);
    const bobOnB = client(b, bob);
    const keepA = live(bobOnA, ADDED, {});
    const keepB = live(bobOnB, ADDED, {});
    await Promise.all([keepA.ready(), keepB.ready()]);
    const online = await watch.next(5000);
    expect((online as any).presence).toMatchObject({ user: { id: bob.id }, status: 'ONLINE' });
    const presenceOf = async (app: RunningApp) =>
      (await gqlOk(app.url, `query($u: ID!) { user(id: $u) { presence } }`, { u: bob.id }, alice.token)).user.presence;
    expect(await presenceOf(a)).toBe('ONLINE');
    expect(await presenceOf(b)).toBe('ONLINE');

    // The socket on A closes and A is done with it: still connected on B, so still ONLINE.
    const disconnectsOnA = finishedCalls(a.services.presence, 'disconnected');
    try {
      await bobOnA.dispose();
      await disconnectsOnA.reached(1, (userId) => userId === Number(bob.id));
    } finally {
      disconnectsOnA.restore();
    }
    expect(await presenceOf(a)).toBe('ONLINE');

    // The last one closes: the next event is OFFLINE, stamped after that close (an OFFLINE for the
    // socket on A would carry an earlier lastSeenAt: the server shares this process's clock).
    const lastClosed = Date.now();
    await bobOnB.dispose();
    const offline = await watch.next(5000);
    expect((offline as any).presence).toMatchObject({ user: { id: bob.id }, status: 'OFFLINE' });
    expect(Date.parse((offline as any).presence.lastSeenAt)).toBeGreaterThanOrEqual(lastClosed);
    expect(await presenceOf(b)).toBe('OFFLINE');
    // Announced once: bob's next ONLINE (a new socket on A) is the next event.
    await live(client(a, bob), ADDED, {}).ready();
    expect((await watch.until(() => true, 5000)).map((e: any) => e.presence.status)).toEqual(['ONLINE']);
  });

  test('resume: a client that misses messages, edits and deletes gets all of them from messagesSince, no gap, no duplicate', async () => {
    const { alice, bob, conversationId } = await pair(a);
    for (let i = 1; i <= 3; i++) await gqlOk(b.url, SEND, { c: conversationId, t: `before ${i}` }, bob.token);

    const first = client(a, alice);
    const before = live(first, ADDED, { c: conversationId });
    await before.ready();
    await gqlOk(b.url, SEND, { c: conversationId, t: 'seen live' }, bob.token);
    const lastSeen = ((await before.next(5000)) as any).messageAdded.seq as number;
    expect(lastSeen).toBe(4);
    await first.dispose(); // the connection drops

    const N = 12;
    const ids: string[] = [];
    for (let i = 1; i <= N; i++) ids.push((await gqlOk(b.url, SEND, { c: conversationId, t: `missed ${i}` }, bob.token)).sendMessage.id);
    const history = (
      await gqlOk(a.url, `query($c: ID!) { messages(conversationId: $c, first: 3) { edges { node { id seq } } } }`, { c: conversationId }, alice.token)
    ).messages.edges.map((e: any) => e.node);
    await gqlOk(b.url, `mutation($id: ID!) { editMessage(id: $id, content: "before 2, fixed") { id } }`, { id: history[1].id }, bob.token);
    await gqlOk(a.url, `mutation($id: ID!) { deleteMessage(id: $id) { id } }`, { id: history[2].id }, bob.token);
    await gqlOk(b.url, `mutation($id: ID!) { deleteMessage(id: $id) { id } }`, { id: ids[4] }, bob.token);

    // Reconnect (on the other instance), catch up, then resubscribe.
    const caughtUp = (await gqlOk(b.url, SINCE, { c: conversationId, a: lastSeen }, alice.token)).messagesSince as any[];
    const newSeqs = caughtUp
      .filter((m) => m.seq > lastSeen)
      .map((m) => m.seq)
      .sort((x, y) => x - y);
    expect(newSeqs).toEqual(Array.from({ length: N }, (_, i) => lastSeen + 1 + i));
    expect(new Set(caughtUp.map((m) => m.id)).size).toBe(caughtUp.length);
    expect(caughtUp.find((m) => m.seq === 2)).toMatchObject({ content: 'before 2, fixed', isEdited: true });
    expect(caughtUp.find((m) => m.seq === 3)).toMatchObject({ content: '', isDeleted: true });
    expect(caughtUp.find((m) => m.id === ids[4])).toMatchObject({ content: '', isDeleted: true });
    expect(caughtUp.find((m) => m.seq === 1)).toBeUndefined(); // unchanged before the mark: not repeated

    const again = live(client(b, alice), ADDED, { c: conversationId });
    await again.ready();
    await gqlOk(a.url, SEND, { c: conversationId, t: 'after resume' }, bob.token);
    const [next] = await take(again, 1);
    expect((next as any).messageAdded).toMatchObject({ seq: lastSeen + N + 1, content: 'after resume' });
    await gqlOk(b.url, SEND, { c: conversationId, t: 'control' }, bob.token);
    expect((await again.until(() => true, 10000)).map((e: any) => e.messageAdded.seq)).toEqual([lastSeen + N + 2]);
  });

  test('typing refreshes reach the bus at most once a second, whichever instance they land on', async () => {
    const { alice, bob, conversationId } = await pair(a);
    const watch = live(client(a, alice), `subscription($c: ID!) { typing(conversationId: $c) { user { id } isTyping } }`, { c: conversationId });
    await watch.ready();
    const TYPE = `mutation($c: ID!) { setTyping(conversationId: $c, isTyping: true) }`;
    for (let i = 0; i < 6; i++) await gqlOk(i % 2 ? a.url : b.url, TYPE, { c: conversationId }, bob.token);
    const first = await watch.next(3000);
    expect((first as any).typing).toMatchObject({ user: { id: bob.id }, isTyping: true });

    // A stop that lands on the other instance still ends the indicator; it is the next event (no
    // second refresh came before it).
    await gqlOk(a.url, `mutation($c: ID!) { setTyping(conversationId: $c, isTyping: false) }`, { c: conversationId }, bob.token);
    expect((await watch.until(() => true, 3000)).map((e: any) => e.typing)).toEqual([{ user: { id: bob.id }, isTyping: false }]);
    // Once: typing again (where the stop landed) is the next event (no second stop before it).
    await gqlOk(a.url, TYPE, { c: conversationId }, bob.token);
    expect((await watch.until(() => true, 3000)).map((e: any) => e.typing)).toEqual([{ user: { id: bob.id }, isTyping: true }]);
  });

  test("typing expiry: a refresh on B keeps the indicator that A started alive past A's own 5 s", async () => {
    const { alice, bob, conversationId } = await pair(a);
    const watch = live(client(a, alice), `subscription($c: ID!) { typing(conversationId: $c) { user { id } isTyping } }`, { c: conversationId });
    await watch.ready();
    const TYPE = `mutation($c: ID!) { setTyping(conversationId: $c, isTyping: true) }`;
    const started = Date.now();
    await gqlOk(a.url, TYPE, { c: conversationId }, bob.token);
    expect(((await watch.next(3000)) as any).typing.isTyping).toBe(true);
    await new Promise((r) => setTimeout(r, 3000));
    await gqlOk(b.url, TYPE, { c: conversationId }, bob.token);
    expect(((await watch.next(3000)) as any).typing.isTyping).toBe(true); // the refresh, a second or more later
    // A's timer fires at 5 s, but B saw a newer refresh: no isTyping=false until B's expiry at ~8 s.
    const ended = (await watch.next(10000)) as any;
    expect(ended.typing).toMatchObject({ user: { id: bob.id }, isTyping: false });
    expect(Date.now() - started).toBeGreaterThanOrEqual(7500);
    // Ended once: typing again is the next event.
    await gqlOk(a.url, TYPE, { c: conversationId }, bob.token);
    expect((await watch.until(() => true, 3000)).map((e: any) => e.typing)).toEqual([{ user: { id: bob.id }, isTyping: true }]);
  });
});

describeScale('Redis outage', () => {
  let cluster: TestCluster;
  let proxy: TcpProxy;
  afterEach(async () => {
    await cluster?.close();
    await proxy?.close();
  });
  /** Two instances whose Redis connections all pass through `proxy` (cut() is a Redis outage for both). */
  async function twoInstancesBehindARedisProxy(): Promise<void> {
    const target = new URL(process.env.REDIS_URL!);
    proxy = await new TcpProxy(target.hostname, Number(target.port || 6379)).start();
    const viaProxy = new URL(process.env.REDIS_URL!);
    viaProxy.port = String(proxy.port);
    cluster = await startTestCluster(2, { REDIS_URL: viaProxy.toString() });
  }

  test('sends keep succeeding and persist; /readyz is degraded; live delivery resumes when Redis returns', async () => {
    await twoInstancesBehindARedisProxy();
    const [a, b] = cluster.instances;
    const { alice, bob, conversationId } = await pair(a);
    const onA = live(client(a, alice), ADDED, { c: conversationId });
    await onA.ready();
    await gqlOk(b.url, SEND, { c: conversationId, t: 'before the outage' }, bob.token);
    expect(((await onA.next(5000)) as any).messageAdded.seq).toBe(1);
    expect((await readyz(a)).body).toMatchObject({ status: 'ready', redis: 'ok' });

    await proxy.cut();
    await waitFor(async () => (await readyz(a)).body.status === 'degraded', 10000, 'readyz degraded');
    expect(await readyz(a)).toEqual({ status: 200, body: { status: 'degraded', database: 'ok', redis: 'unreachable' } });
    for (let i = 1; i <= 3; i++) {
      const r = await gql(b.url, SEND, { c: conversationId, t: `during ${i}` }, bob.token);
      expect(r.errors).toBeUndefined();
      expect(r.data.sendMessage.seq).toBe(1 + i);
    }
    const stored = await gqlOk(a.url, `query($c: ID!) { messages(conversationId: $c) { edges { node { seq content } } } }`, { c: conversationId }, alice.token);
    expect(stored.messages.edges.map((e: any) => e.node.content)).toEqual(['before the outage', 'during 1', 'during 2', 'during 3']);

    await proxy.restore();
    await waitFor(async () => (await readyz(a)).body.status === 'ready' && (await readyz(b)).body.status === 'ready', 15000, 'readyz ready');
    // The subscription on A was never closed: A replays what it missed from PostgreSQL, in order,
    // then live delivery goes on; every message arrives once.
    await gqlOk(b.url, SEND, { c: conversationId, t: 'after the outage' }, bob.token);
    const got = (await take(onA, 4, 10000)).map((e: any) => [e.messageAdded.seq, e.messageAdded.content]);
    expect(got).toEqual([
      [2, 'during 1'],
      [3, 'during 2'],
      [4, 'during 3'],
      [5, 'after the outage'],
    ]);
    const missed = (await gqlOk(a.url, SINCE, { c: conversationId, a: 1 }, alice.token)).messagesSince.map((m: any) => m.seq);
    expect(missed).toEqual([2, 3, 4, 5]);
    // Once each: a control message after them is the next event.
    await gqlOk(b.url, SEND, { c: conversationId, t: 'control' }, bob.token);
    expect((await onA.until(() => true, 10000)).map((e: any) => e.messageAdded.seq)).toEqual([6]);
  });

  test('issue 31: a reaction made during the outage reaches messageUpdated on A after it, once', async () => {
    await twoInstancesBehindARedisProxy();
    const [a, b] = cluster.instances;
    const { alice, bob, conversationId } = await pair(a);
    const messageId = (await gqlOk(a.url, SEND, { c: conversationId, t: 'react to me' }, alice.token)).sendMessage.id;
    const UPDATED = 'subscription($c: ID) { messageUpdated(conversationId: $c) { id reactions { emoji count } } }';
    const REACT = 'mutation($m: ID!, $e: String!) { addReaction(messageId: $m, emoji: $e) { id } }';
    const onA = live(client(a, alice), UPDATED, { c: conversationId });
    await onA.ready();
    await proxy.cut();
    await waitFor(async () => (await readyz(a)).body.status === 'degraded', 10000, 'readyz degraded');
    await gqlOk(b.url, REACT, { m: messageId, e: '👍' }, bob.token);
    await proxy.restore();
    await waitFor(async () => (await readyz(a)).body.status === 'ready' && (await readyz(b)).body.status === 'ready', 15000, 'readyz ready');
    expect(await onA.next(10000)).toEqual({ messageUpdated: { id: messageId, reactions: [{ emoji: '👍', count: 1 }] } });
    // Once: the next reaction is the next event.
    await gqlOk(b.url, REACT, { m: messageId, e: '🎉' }, bob.token);
    expect((await onA.until(() => true, 10000)).map((e: any) => e.messageUpdated.reactions.length)).toEqual([2]);
  });

  test('HTTP requests on A follow staff changes made on B at once (the user cache): with Redis, during an outage, and after it', async () => {
    await twoInstancesBehindARedisProxy();
    const [a, b] = cluster.instances;
    const admin = await registerUser(a.url, 'adm');
    const staff = await registerUser(a.url, 'stf');
    await a.orm.em.fork().nativeUpdate(User, { id: { $in: [Number(admin.id), Number(staff.id)] } }, { isStaff: true });
    const customer = await registerUser(a.url, 'cus');
    const thread = (await gqlOk(a.url, 'mutation { sendMessage(input: { toSupport: true, content: "help" }) { conversationId } }', {}, customer.token))
      .sendMessage.conversationId;
    const READ = 'query($c: ID!) { conversation(id: $c) { id } }';
    const canRead = async (app: RunningApp) => Boolean((await gql(app.url, READ, { c: thread }, staff.token)).data?.conversation);
    const setStaff = (app: RunningApp, on: boolean) =>
      gqlOk(app.url, 'mutation($u: ID!, $s: Boolean!) { setUserStaff(userId: $u, isStaff: $s) { isStaff } }', { u: staff.id, s: on }, admin.token);
    expect(await canRead(a)).toBe(true); // now in A's user cache as staff

    // With Redis: the demotion on B reaches A's cache within the bus's latency.
    await setStaff(b, false);
    await waitFor(async () => !(await canRead(a)), 1000, 'the demotion on A');
    await setStaff(b, true);
    await waitFor(async () => canRead(a), 1000, 'the promotion on A');

    // During an outage A hears nothing from B, so it serves nothing from memory: every request reads PostgreSQL.
    await proxy.cut();
    await waitFor(async () => (await readyz(a)).body.status === 'degraded', 10000, 'readyz degraded');
    await setStaff(b, false);
    expect(await canRead(a)).toBe(false);
    expect((await gql(a.url, READ, { c: thread }, staff.token)).errors?.[0].extensions?.code).toBe('NOT_FOUND');

    // After it, nothing stale was kept.
    await proxy.restore();
    await waitFor(async () => (await readyz(a)).body.status === 'ready', 15000, 'readyz ready');
    expect(await canRead(a)).toBe(false);
    await setStaff(b, true);
    await waitFor(async () => canRead(a), 1000, 'the promotion on A after the outage');
  });

  test("a ban and a logout made on B during the outage apply on A once Redis returns; A's open subscriptions get every missed message once, in order", async () => {
    await twoInstancesBehindARedisProxy();
    const [a, b] = cluster.instances;
    const owner = await registerUser(a.url, 'own');
    const watcher = await registerUser(a.url, 'wat');
    const banned = await registerUser(a.url, 'ban');
    const leaver = await registerUser(a.url, 'lea');
    const roomId = (await gqlOk(a.url, 'mutation { createRoom(input: { name: "outage", visibility: PUBLIC }) { id } }', {}, owner.token)).createRoom.id;
    for (const u of [watcher, banned, leaver]) await gqlOk(a.url, 'mutation($id: ID!) { joinRoom(id: $id) { id } }', { id: roomId }, u.token);
    const bannedDirect = (await gqlOk(a.url, 'mutation($u: ID) { openDirectChat(userId: $u) { id } }', { u: banned.id }, owner.token)).openDirectChat.id;
    const watching = live(client(a, watcher), ADDED, { c: roomId });
    const bannedWatching = live(client(a, banned), ADDED, { c: roomId });
    const bannedAll = live(client(a, banned), 'subscription { messageAdded { content } }');
    let leaverClosed!: (code: number) => void;
    const leaverCode = new Promise<number>((r) => (leaverClosed = r));
    const leaverSub = live(client(a, leaver, { on: { closed: (e) => leaverClosed((e as { code: number }).code) } }), ADDED, { c: roomId });
    await Promise.all([watching, bannedWatching, bannedAll, leaverSub].map((s) => s.ready()));

    await proxy.cut();
    await waitFor(async () => (await readyz(a)).body.status === 'degraded' && (await readyz(b)).body.status === 'degraded', 10000, 'readyz degraded');
    const sent: number[] = [];
    for (let i = 1; i <= 3; i++) sent.push((await gqlOk(b.url, SEND, { c: roomId, t: `during ${i}` }, owner.token)).sendMessage.seq);
    await gqlOk(
      b.url,
      'mutation($c: ID!, $u: ID!) { banMember(conversationId: $c, userId: $u, banned: true) { id } }',
      { c: roomId, u: banned.id },
      owner.token,
    );
    sent.push((await gqlOk(b.url, SEND, { c: roomId, t: 'after the ban' }, owner.token)).sendMessage.seq);
    await gqlOk(b.url, 'mutation($r: String!) { logout(refreshToken: $r) }', { r: leaver.refreshToken }, leaver.token);
    expect(watching.events).toEqual([]);

    const restored = Date.now();
    await proxy.restore();
    // Everything since the cut, in seq order, once: the three sends, the ban's system message, and the send after it.
    const got = (await take(watching, 5, 15000)).map((e: any) => e.messageAdded.seq);
    expect(got).toEqual([...got].sort((x, y) => x - y));
    expect(new Set(got).size).toBe(5);
    expect(got).toEqual(expect.arrayContaining(sent));
    expect(await leaverCode).toBe(4403);
    // Redis reconnects within 2 s (retry strategy); the re-check takes well under a second after that.
    expect(Date.now() - restored).toBeLessThan(6000);
    // Once, in order: a control message after it is the watcher's next event.
    await gqlOk(b.url, SEND, { c: roomId, t: 'control' }, owner.token);
    expect((await watching.until(() => true, 10000)).map((e: any) => e.messageAdded.content)).toEqual(['control']);
    // The banned user got nothing from the room after the ban: controls in their own DIRECT (for
    // every-conversation) and, unbanned and back in the room, their join notice (for the room's)
    // are the first such events (the ban's own notice aside, which may reach them).
    const banNotice = `${owner.username} banned ${banned.username}`;
    const fromRoom = (events: any[]) => events.map((e) => e.messageAdded.content).filter((t: string) => t !== banNotice);
    await gqlOk(b.url, SEND, { c: bannedDirect, t: 'direct control' }, owner.token);
    const toAll = fromRoom(await bannedAll.until((e: any) => e.messageAdded.content === 'direct control', 10000));
    expect(toAll[toAll.length - 1]).toBe('direct control');
    expect(toAll).not.toContain('after the ban');
    await gqlOk(
      b.url,
      'mutation($c: ID!, $u: ID!) { banMember(conversationId: $c, userId: $u, banned: false) { id } }',
      { c: roomId, u: banned.id },
      owner.token,
    );
    await gqlOk(a.url, 'mutation($id: ID!) { joinRoom(id: $id) { id } }', { id: roomId }, banned.token);
    const joinNotice = `${banned.username} joined`;
    const sinceBan = fromRoom(await bannedWatching.until((e: any) => e.messageAdded.content === joinNotice, 10000));
    expect(sinceBan[sinceBan.length - 1]).toBe(joinNotice);
    expect(sinceBan).not.toContain('after the ban');
    const contents = [...bannedWatching.events, ...bannedAll.events].map((e: any) => e.messageAdded.content);
    expect(contents).not.toContain('after the ban');
  });
});

describeScale('an instance that dies without cleaning up', () => {
  let cluster: TestCluster;
  let child: ChildProcess | undefined;
  afterEach(async () => {
    child?.kill('SIGKILL');
    await cluster?.close();
  });

  test('its users go OFFLINE within PRESENCE_TTL_MS on the other instances', async () => {
    const ttl = 3000;
    cluster = await startTestCluster(1, { PRESENCE_TTL_MS: String(ttl) });
    const [a] = cluster.instances;
    const entry = await buildServer();
    child = spawn(process.execPath, [entry], {
      env: {
        ...process.env,
        ...cluster.env,
        PRESENCE_TTL_MS: String(ttl),
        MIGRATE_ON_START: 'false',
        NODE_ENV: 'test',
        HOST: '127.0.0.1',
        PORT: '0',
        LOG_LEVEL: 'info',
        RATE_MESSAGES_PER_SEC: '1000',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const wsUrl = await new Promise<string>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`child did not start: ${out}`)), 30000);
      child!.stdout!.on('data', (d) => {
        out += String(d);
        const m = /"ws":"(ws:\/\/[^"]+)"/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      child!.on('exit', (code) => reject(new Error(`child exited with ${code}: ${out}`)));
    });

    const { alice, bob } = await pair(a);
    const watch = live(client(a, alice), PRESENCE, { u: [bob.id] });
    await watch.ready();
    const bobOnChild = wsClient(wsUrl, bob.token, { retryAttempts: 0 });
    clients.push(bobOnChild);
    live(bobOnChild, ADDED, {});
    expect(((await watch.next(5000)) as any).presence.status).toBe('ONLINE');

    const killedAt = Date.now();
    child.kill('SIGKILL');
    const offline = (await watch.next(ttl * 3)) as any;
    expect(offline.presence).toMatchObject({ user: { id: bob.id }, status: 'OFFLINE' });
    expect(Date.now() - killedAt).toBeLessThan(ttl * 2);
    expect((await gqlOk(a.url, `query($u: ID!) { user(id: $u) { presence } }`, { u: bob.id }, alice.token)).user.presence).toBe('OFFLINE');
  });
});

/**
 * Compiles the server with tsc into `.test-build/` (inside the project, so node_modules resolve)
 * once per test run, and returns its entry point: a real second process that can be SIGKILLed.
 */
async function buildServer(): Promise<string> {
  const root = join(__dirname, '..', '..', '..');
  const out = join(root, '.test-build');
  const entry = join(out, 'src', 'main.js');
  await promisify(execFile)(
    process.execPath,
    [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json'), '--outDir', out],
    { cwd: root },
  );
  if (!existsSync(entry)) throw new Error('build did not produce src/main.js');
  return entry;
}
