/**
 * Issue 34, Web Push through the transactional outbox, to a push service on this machine that
 * verifies the VAPID JWT and decrypts each payload with the subscription's keys (aes128gcm).
 * Offline recipients get the push; online ones only when they have not read it PUSH_DELAY_MS
 * later; levels and blocks; never the sender; 410 deletes the device; 503 is retried; a push
 * service that is down and comes back still gets the push.
 */
import webPush from 'web-push';
import { gqlOk, registerUser, trackRealtime, waitFor, type TestUser } from '../support/client';
import { webPushService, type Subscription } from '../support/push-receivers';
import { startTestServer, type TestServer } from '../support/test-server';
import { FAILURES_TO_SWITCH_OFF } from '../../src/push/push-delivery';

const vapid = webPush.generateVAPIDKeys();
let server: TestServer;
let service: Awaited<ReturnType<typeof webPushService>>;
beforeAll(async () => {
  service = await webPushService(vapid.publicKey);
  server = await startTestServer({
    VAPID_PUBLIC_KEY: vapid.publicKey,
    VAPID_PRIVATE_KEY: vapid.privateKey,
    VAPID_SUBJECT: 'mailto:ops@example.com',
    OUTBOUND_ALLOW_PRIVATE: 'true',
    PUSH_DELAY_MS: '700',
    OUTBOX_POLL_MS: '50',
    PUSH_RETRY_BASE_MS: '100',
  });
});
afterAll(async () => {
  await server.close();
  await service.close();
});
const { client, sub } = trackRealtime(
  () => server.wsUrl,
  () => server,
);

const q = (u: TestUser, query: string, vars: Record<string, unknown> = {}) => gqlOk(server.url, query, vars, u.token);
const SEND = 'mutation($c: ID!, $t: String!) { sendMessage(input: { conversationId: $c, content: $t }) { id seq } }';
let n = 0;
async function device(u: TestUser): Promise<Subscription> {
  const s = service.subscribe(`/push/${++n}`);
  await q(u, 'mutation($i: RegisterPushDeviceInput!) { registerPushDevice(input: $i) { id } }', {
    i: { platform: 'WEB_PUSH', webPush: { endpoint: s.endpoint, p256dh: s.p256dh, auth: s.auth } },
  });
  return s;
}
const pushesTo = (s: Subscription) => service.received.filter((p) => s.endpoint.endsWith(p.path));
const quiet = () => new Promise((r) => setTimeout(r, 1500));
async function direct(a: TestUser, b: TestUser): Promise<string> {
  return (await q(a, 'mutation($u: ID) { openDirectChat(userId: $u) { id } }', { u: b.id })).openDirectChat.id;
}

describe('Web Push', () => {
  it('reaches an offline recipient once, encrypted and VAPID-signed, with Topic, TTL, Urgency and the unread count; never the sender', async () => {
    const a = await registerUser(server.url, 'wpa');
    const b = await registerUser(server.url, 'wpb');
    const mine = await device(a);
    const theirs = await device(b);
    const chat = await direct(a, b);
    const sent = (await q(a, SEND, { c: chat, t: 'hello there' })).sendMessage;
    // The unread count is the recipient's at the fan-out: the second message is sent once the first push is out
    // (sent at once, both fan-outs may run after both commits: on PostgreSQL the workers claim 8 rows at a time).
    await waitFor(() => pushesTo(theirs).length === 1, 'the first push');
    await q(a, SEND, { c: chat, t: 'x'.repeat(300) });
    await waitFor(() => pushesTo(theirs).length === 2, 'two pushes');
    const [first, second] = [...pushesTo(theirs)].sort((x, y) => Number(x.payload.messageId) - Number(y.payload.messageId));
    expect(first.payload).toMatchObject({ messageId: Number(sent.id), conversationId: Number(chat), title: a.username, body: 'hello there', unreadCount: 1 });
    expect(second.payload).toMatchObject({ unreadCount: 2, body: 'x'.repeat(100) });
    expect(first.headers).toMatchObject({ topic: `c${chat}`, ttl: '86400', urgency: 'high' });
    await quiet();
    expect(pushesTo(theirs)).toHaveLength(2);
    expect(pushesTo(mine)).toHaveLength(0);
    const rows = await server.orm.em.fork().execute(`select "status", count(*)::int as n from "outbox" where "channel" = 'push' group by 1`);
    expect(rows.every((r: any) => r.status === 'DONE')).toBe(true);
  });

  it('an online recipient who reads within PUSH_DELAY_MS gets nothing; one who does not, gets it after the delay', async () => {
    const a = await registerUser(server.url, 'wpo');
    const b = await registerUser(server.url, 'wpr');
    const s = await device(b);
    const chat = await direct(a, b);
    const live = sub(client(b), 'subscription { messageAdded { id } }');
    await live.ready;
    await waitFor(() => server.services.presence.isOnline(Number(b.id)), 'b online');
    const read = (await q(a, SEND, { c: chat, t: 'seen at once' })).sendMessage;
    await q(b, 'mutation($c: ID!, $s: Int) { markRead(conversationId: $c, upToSeq: $s) { lastReadSeq } }', { c: chat, s: read.seq });
    await quiet();
    expect(pushesTo(s)).toHaveLength(0);
    const t0 = Date.now();
    await q(a, SEND, { c: chat, t: 'not read' });
    await waitFor(() => pushesTo(s).length === 1, 'the late push');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(650);
    expect(pushesTo(s)[0].payload.body).toBe('not read');
  });

  it('levels (NONE, MENTIONS) and blocks stop pushes; a mention passes MENTIONS', async () => {
    const a = await registerUser(server.url, 'wpl');
    const b = await registerUser(server.url, 'wpm');
    const c = await registerUser(server.url, 'wpn');
    const sb = await device(b);
    const sc = await device(c);
    const group = (await q(a, 'mutation($m: [ID!]!) { createGroup(input: { name: "team", memberIds: $m }) { id } }', { m: [b.id, c.id] })).createGroup.id;
    const SET = 'mutation($c: ID!, $l: NotificationLevel!) { setNotificationLevel(conversationId: $c, level: $l) { id } }';
    await q(b, SET, { c: group, l: 'MENTIONS' });
    await q(c, 'mutation($u: ID!) { blockUser(userId: $u) { id } }', { u: a.id });
    await q(a, SEND, { c: group, t: 'to everyone' });
    await q(a, SEND, { c: group, t: `hey @${b.username}` });
    await waitFor(() => pushesTo(sb).length === 1, 'the mention');
    expect(pushesTo(sb)[0].payload).toMatchObject({ body: `hey @${b.username}`, title: `${a.username} · team` });
    await q(b, SET, { c: group, l: 'NONE' });
    await q(a, SEND, { c: group, t: `again @${b.username}` });
    await quiet();
    expect(pushesTo(sb)).toHaveLength(1);
    expect(pushesTo(sc)).toHaveLength(0);
  });

  it("a reply only in its thread pushes to the thread's followers (also at MENTIONS), not to the other members; one also in the conversation to everyone, followers at MENTIONS too", async () => {
    const [a, b, c] = await Promise.all(['wpt', 'wpu', 'wpv'].map((p) => registerUser(server.url, p)));
    const [sa, sb, sc] = await Promise.all([device(a), device(b), device(c)]);
    const group = (await q(a, 'mutation($m: [ID!]!) { createGroup(input: { name: "threads", memberIds: $m }) { id } }', { m: [b.id, c.id] })).createGroup.id;
    await q(a, 'mutation($c: ID!, $l: NotificationLevel!) { setNotificationLevel(conversationId: $c, level: $l) { id } }', { c: group, l: 'MENTIONS' });
    const root = (await q(a, SEND, { c: group, t: 'root' })).sendMessage;
    await waitFor(() => pushesTo(sb).length === 1 && pushesTo(sc).length === 1, 'the root to b and c');
    const REPLY =
      'mutation($c: ID!, $t: String!, $r: ID, $also: Boolean) { sendMessage(input: { conversationId: $c, content: $t, threadRootId: $r, alsoSendToConversation: $also }) { id } }';
    await q(b, REPLY, { c: group, t: 'in the thread', r: root.id });
    // a follows (the root's author) and gets it at MENTIONS; c does not follow.
    await waitFor(() => pushesTo(sa).length === 1, "the reply to the root's author");
    expect(pushesTo(sa)[0].payload).toMatchObject({ body: 'in the thread' });
    await q(b, REPLY, { c: group, t: 'for everyone', r: root.id, also: true });
    await waitFor(() => pushesTo(sc).length === 2 && pushesTo(sa).length === 2, 'the reply also in the conversation to c, and to a (a follower, at MENTIONS)');
    await quiet();
    expect(pushesTo(sc).map((p) => p.payload.body)).toEqual(['root', 'for everyone']);
    expect(pushesTo(sa).map((p) => p.payload.body)).toEqual(['in the thread', 'for everyone']);
    expect(pushesTo(sb)).toHaveLength(1); // never the sender
  });

  it('503 is retried until accepted; 410 deletes the device; a service down then up still gets the push', async () => {
    const a = await registerUser(server.url, 'wps');
    const b = await registerUser(server.url, 'wpt');
    const s = await device(b);
    const chat = await direct(a, b);
    service.answers.push(503, 503);
    await q(a, SEND, { c: chat, t: 'retried' });
    await waitFor(() => pushesTo(s).length === 1, 'the retried push');
    await service.down();
    await q(a, SEND, { c: chat, t: 'while down' });
    await quiet();
    await service.up();
    await waitFor(() => pushesTo(s).length === 2, 'the push after the service came back', { timeoutMs: 15_000 });
    expect(pushesTo(s)[1].payload.body).toBe('while down');
    service.answers.push(410);
    await q(a, SEND, { c: chat, t: 'gone' });
    await waitFor(async () => (await q(b, '{ pushDevices { id } }')).pushDevices.length === 0, 'device deleted after 410');
  });
});

/** The value of one sample of /metrics, e.g. `chat_outbox_delivered_total{channel="push"}`; 0 when absent. */
async function metric(name: string, labels = ''): Promise<number> {
  const res = await fetch(server.url.replace(/\/graphql$/, '/metrics'));
  expect(res.status).toBe(200);
  const line = (await res.text()).split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

describe('outbox metrics on /metrics', () => {
  const push = 'channel="push"';
  const counts = async () => ({
    queued: await metric('chat_outbox_queued_total', push),
    delivered: await metric('chat_outbox_delivered_total', push),
    retried: await metric('chat_outbox_retried_total', push),
    failed: await metric('chat_outbox_failed_total', push),
  });

  it('counts rows queued, delivered, retried and failed per channel', async () => {
    const a = await registerUser(server.url, 'wmx');
    const b = await registerUser(server.url, 'wmy');
    const s = await device(b);
    const chat = await direct(a, b);
    const before = await counts();
    service.answers.push(503);
    await q(a, SEND, { c: chat, t: 'counted' });
    await waitFor(() => pushesTo(s).length === 1, 'the push');
    // The send's row and the fan-out's delivery row: both delivered, the delivery after one retry.
    await waitFor(async () => (await counts()).delivered - before.delivered === 2, 'two rows delivered');
    expect(await counts()).toEqual({ queued: before.queued + 2, delivered: before.delivered + 2, retried: before.retried + 1, failed: before.failed });
    service.answers.push(410);
    await q(a, SEND, { c: chat, t: 'gone' });
    await waitFor(async () => (await counts()).failed === before.failed + 1, 'the 410 counted as failed');
    expect(await counts()).toEqual({ queued: before.queued + 4, delivered: before.delivered + 3, retried: before.retried + 1, failed: before.failed + 1 });
    expect(await metric('chat_outbox_oldest_due_age_seconds')).toBe(0);
  });

  it("the oldest due row's age: a row claimed by an instance that died shows how far behind delivery is", async () => {
    const em = server.orm.em.fork();
    const due = new Date(Date.now() - 90_000);
    // Leased far ahead, as by a dead instance whose lease has not yet expired: due, pending, not deliverable here.
    await em.execute(
      `insert into "outbox" ("channel", "kind", "key", "payload", "due_at", "created_at", "locked_until") values ('push', 'message', 'metrics-test', '{}'::jsonb, ?, ?, ?)`,
      [due, due, new Date(Date.now() + 3_600_000)],
    );
    try {
      const age = await metric('chat_outbox_oldest_due_age_seconds');
      expect(age).toBeGreaterThanOrEqual(90);
      expect(age).toBeLessThan(120);
    } finally {
      await em.execute(`delete from "outbox" where "key" = 'metrics-test'`);
    }
    expect(await metric('chat_outbox_oldest_due_age_seconds')).toBe(0);
  });
});

describe('a device that keeps failing', () => {
  const rows = (sql: string, params: unknown[]) => server.orm.em.fork().execute(sql, params);
  const active = async (s: Subscription) => (await rows(`select "active" from "push_devices" where "token" = ?`, [s.endpoint]))[0]?.active;
  /** Sends one message and waits until its delivery row is finished. @returns that row's status. */
  async function sendAndSettle(a: TestUser, chat: string, t: string): Promise<string | undefined> {
    const id = (await q(a, SEND, { c: chat, t })).sendMessage.id;
    await waitFor(
      async () => (await rows(`select 1 from "outbox" where "key" in (?, ?) and "status" = 'PENDING'`, [`push:${id}`, `push:${id}:late`])).length === 0,
      'the fan-out',
    );
    let status: string | undefined;
    await waitFor(async () => {
      const [r] = await rows(`select "status" from "outbox" where "kind" = 'delivery' and "key" like ?`, [`push:${id}:%`]);
      status = r?.status;
      return r == null || r.status !== 'PENDING';
    }, 'the delivery');
    return status;
  }

  it(`is switched off after ${FAILURES_TO_SWITCH_OFF} failed deliveries in a row (a success in between breaks the run), and gets no more outbox rows; registering it again switches it on`, async () => {
    const a = await registerUser(server.url, 'wfa');
    const b = await registerUser(server.url, 'wfb');
    const s = await device(b);
    const chat = await direct(a, b);
    service.answers.push(400, 400);
    expect(await sendAndSettle(a, chat, 'f1')).toBe('FAILED');
    expect(await sendAndSettle(a, chat, 'f2')).toBe('FAILED');
    expect(await sendAndSettle(a, chat, 'ok')).toBe('DONE');
    service.answers.push(400, 400);
    expect(await sendAndSettle(a, chat, 'f3')).toBe('FAILED');
    expect(await sendAndSettle(a, chat, 'f4')).toBe('FAILED');
    expect(await active(s)).toBe(true);
    service.answers.push(400);
    expect(await sendAndSettle(a, chat, 'f5')).toBe('FAILED');
    expect(await active(s)).toBe(false);
    const before = (
      await rows(`select count(*)::int as n from "outbox" where "target_id" = (select "id" from "push_devices" where "token" = ?)`, [s.endpoint])
    )[0].n;
    expect(await sendAndSettle(a, chat, 'switched off')).toBeUndefined();
    expect(
      (await rows(`select count(*)::int as n from "outbox" where "target_id" = (select "id" from "push_devices" where "token" = ?)`, [s.endpoint]))[0].n,
    ).toBe(before);
    expect(pushesTo(s).map((p) => p.payload.body)).toEqual(['ok']);
    await q(b, 'mutation($i: RegisterPushDeviceInput!) { registerPushDevice(input: $i) { id } }', {
      i: { platform: 'WEB_PUSH', webPush: { endpoint: s.endpoint, p256dh: s.p256dh, auth: s.auth } },
    });
    expect(await active(s)).toBe(true);
    expect(await sendAndSettle(a, chat, 'on again')).toBe('DONE');
    expect(pushesTo(s).map((p) => p.payload.body)).toEqual(['ok', 'on again']);
  });
});
