/**
 * Issue 34, webhooks (staff), through a real server and a real HTTP receiver on this machine:
 * Standard Webhooks v1 signatures verified by an implementation written here from the spec (not
 * the server's), message.created queued in the send's transaction, edits and deletions, retries
 * keeping webhook-id, redirects not followed, 410 disabling the endpoint, secret rotation (both
 * secrets sign), staff only, and the SSRF rules at creation and at delivery.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { User } from '../../src/domain/user/user.entity';
import { registerUser, waitFor, type TestUser } from '../support/client';
import { expectDenied, gqlAs } from '../support/graphql';
import { startTestServer, type TestServer } from '../support/test-server';

interface Received {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** Standard Webhooks v1 verification, from the spec: HMAC-SHA256 over `${id}.${timestamp}.${body}` keyed with base64-decoded `whsec_` secret; any `v1,` signature may match. */
function verify(secret: string, r: Received, toleranceSec = 300): boolean {
  const id = String(r.headers['webhook-id'] ?? '');
  const ts = String(r.headers['webhook-timestamp'] ?? '');
  const sigs = String(r.headers['webhook-signature'] ?? '').split(' ');
  if (!id || !/^\d+$/.test(ts) || Math.abs(Date.now() / 1000 - Number(ts)) > toleranceSec) return false;
  if (!secret.startsWith('whsec_')) return false;
  const expected = createHmac('sha256', Buffer.from(secret.slice('whsec_'.length), 'base64'))
    .update(`${id}.${ts}.${r.body}`)
    .digest();
  return sigs.some((s) => {
    const [version, value] = s.split(',');
    if (version !== 'v1' || !value) return false;
    const given = Buffer.from(value, 'base64');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}

/** A receiver: `answers[path]` lists the statuses to give in turn (then 200). */
async function receiver() {
  const received: Received[] = [];
  const answers = new Map<string, number[]>();
  const srv: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '/';
      received.push({ path, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      const status = answers.get(path)?.shift() ?? 200;
      res.writeHead(status, status === 302 ? { location: '/elsewhere' } : {});
      res.end();
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const base = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
  return { received, answers, base, close: () => new Promise<void>((r) => srv.close(() => r())) };
}

let server: TestServer;
let strict: TestServer;
let hook: Awaited<ReturnType<typeof receiver>>;
beforeAll(async () => {
  hook = await receiver();
  server = await startTestServer({ OUTBOUND_ALLOW_PRIVATE: 'true', OUTBOX_POLL_MS: '50', WEBHOOK_RETRY_BASE_MS: '20' });
  strict = await startTestServer({ OUTBOX_POLL_MS: '50', WEBHOOK_RETRY_BASE_MS: '20' });
});
afterAll(async () => {
  await server?.close();
  await strict?.close();
  await hook.close();
});

const { q, raw } = gqlAs(() => server.url);
const onStrict = gqlAs(() => strict.url);
const CREATE = `mutation($u: String!, $e: [String!]!) { createWebhook(url: $u, eventTypes: $e) { secret webhook { id url eventTypes isEnabled consecutiveFailures } } }`;
const HOOK = `{ webhooks { id url eventTypes isEnabled consecutiveFailures lastSuccessAt lastFailureAt } }`;
const SEND = 'mutation($c: ID!, $t: String!) { sendMessage(input: { conversationId: $c, content: $t }) { id seq } }';

async function staffUser(s: TestServer, prefix = 'whstaff'): Promise<TestUser> {
  const u = await registerUser(s.url, prefix);
  await s.orm.em.fork().nativeUpdate(User, { id: Number(u.id) }, { isStaff: true });
  return u;
}
let n = 0;
async function endpoint(staff: TestUser, eventTypes: string[] = []) {
  const path = `/hook/${++n}`;
  const r = (await q(staff, CREATE, { u: `${hook.base}${path}`, e: eventTypes })).createWebhook;
  return { path, id: r.webhook.id as string, secret: r.secret as string, created: r.webhook };
}
const at = (path: string) => hook.received.filter((r) => r.path === path);
async function room(u: TestUser): Promise<string> {
  return (await q(u, 'mutation { createRoom(input: { name: "webhooks", visibility: PUBLIC }) { id } }')).createRoom.id;
}
async function webhookOf(staff: TestUser, id: string) {
  return (await q(staff, HOOK)).webhooks.find((w: { id: string }) => w.id === id);
}

describe('webhooks', () => {
  it('deliver message.created signed (Standard Webhooks v1), then message.updated and message.deleted', async () => {
    const staff = await staffUser(server);
    const subscribed = ['message.created', 'message.updated', 'message.deleted'];
    const e = await endpoint(staff, subscribed);
    expect(e.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(e.created).toEqual({ id: e.id, url: `${hook.base}${e.path}`, eventTypes: subscribed, isEnabled: true, consecutiveFailures: 0 });
    const all = await endpoint(staff); // [] = every event
    const alice = await registerUser(server.url, 'wha');
    const c = await room(alice);
    const sent = (await q(alice, SEND, { c, t: 'hello hooks' })).sendMessage;
    await waitFor(() => at(e.path).length >= 1, 'message.created');
    const [got] = at(e.path);
    expect(verify(e.secret, got)).toBe(true);
    expect(verify(e.secret, { ...got, body: got.body.replace('hello', 'jello') })).toBe(false);
    expect(got.headers['content-type']).toBe('application/json');
    const body = JSON.parse(got.body);
    expect(body).toEqual({
      type: 'message.created',
      timestamp: expect.any(String),
      data: expect.objectContaining({ id: Number(sent.id), conversationId: Number(c), seq: sent.seq, senderId: Number(alice.id), content: 'hello hooks' }),
    });
    await q(alice, 'mutation($id: ID!) { editMessage(id: $id, content: "edited") { id } }', { id: sent.id });
    await q(alice, 'mutation($id: ID!) { deleteMessage(id: $id) { id } }', { id: sent.id });
    await waitFor(() => at(e.path).length >= 3, 'message.updated and message.deleted');
    const types = at(e.path).map((r) => JSON.parse(r.body));
    expect(types.map((b) => b.type).sort()).toEqual(['message.created', 'message.deleted', 'message.updated']);
    expect(types.find((b) => b.type === 'message.updated').data.content).toBe('edited');
    expect(at(e.path).every((r) => verify(e.secret, r))).toBe(true);
    expect(new Set(at(e.path).map((r) => r.headers['webhook-id'])).size).toBe(3);
    await waitFor(() => at(all.path).length >= 5, 'every event for []');
    expect(new Set(at(all.path).map((r) => JSON.parse(r.body).type))).toEqual(new Set([...subscribed, 'conversation.created', 'member.added']));
    await q(staff, 'mutation($i: ID!) { deleteWebhook(id: $i) }', { i: all.id });
    await waitFor(async () => (await webhookOf(staff, e.id)).lastSuccessAt != null, 'lastSuccessAt');
    await q(staff, 'mutation($i: ID!) { deleteWebhook(id: $i) }', { i: e.id });
  });

  it('member.added, member.removed and user.deleted, once each', async () => {
    const staff = await staffUser(server);
    const e = await endpoint(staff, ['member.added', 'member.removed', 'user.deleted']);
    const alice = await registerUser(server.url, 'whm');
    const bob = await registerUser(server.url, 'whn');
    const c = await room(alice);
    await q(bob, 'mutation($c: ID!) { joinRoom(id: $c) { id } }', { c });
    await q(bob, 'mutation($c: ID!) { leaveConversation(id: $c) }', { c });
    await q(bob, 'mutation { deleteAccount(password: "correct-horse-battery") }');
    await waitFor(() => at(e.path).length >= 4, 'four events');
    await new Promise((r) => setTimeout(r, 300));
    const bodies = at(e.path).map((r) => JSON.parse(r.body));
    const pick = (type: string) => bodies.filter((b) => b.type === type).map((b) => b.data);
    expect(pick('member.added')).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ conversationId: Number(c), userId: Number(alice.id) }),
        expect.objectContaining({ conversationId: Number(c), userId: Number(bob.id) }),
      ]),
    );
    expect(pick('member.added')).toHaveLength(2);
    expect(pick('member.removed')).toEqual([
      expect.objectContaining({ conversationId: Number(c), userId: Number(bob.id), banned: false, leftAt: expect.any(String) }),
    ]);
    expect(pick('user.deleted')).toEqual([{ userId: Number(bob.id), deletedAt: expect.any(String) }]);
    expect(at(e.path).every((r) => verify(e.secret, r))).toBe(true);
    await q(staff, 'mutation($i: ID!) { deleteWebhook(id: $i) }', { i: e.id });
  });

  it('only the subscribed event types; a burst of sends gives each message once', async () => {
    const staff = await staffUser(server);
    const e = await endpoint(staff, ['message.deleted']);
    const f = await endpoint(staff, ['message.created']);
    const alice = await registerUser(server.url, 'whb');
    const c = await room(alice);
    await Promise.all(Array.from({ length: 8 }, (_, i) => q(alice, SEND, { c, t: `burst ${i}` })));
    await waitFor(() => at(f.path).length >= 8, 'eight message.created');
    await new Promise((r) => setTimeout(r, 300));
    expect(at(f.path)).toHaveLength(8);
    expect(new Set(at(f.path).map((r) => JSON.parse(r.body).data.content)).size).toBe(8);
    expect(at(e.path)).toHaveLength(0);
    await q(staff, 'mutation($i: ID!) { deleteWebhook(id: $i) }', { i: e.id });
    await q(staff, 'mutation($i: ID!) { deleteWebhook(id: $i) }', { i: f.id });
  });

  it('retries 5xx and redirects (never followed) with the same webhook-id, each attempt signed', async () => {
    const staff = await staffUser(server);
    const e = await endpoint(staff, ['message.created']);
    hook.answers.set(e.path, [503, 302]);
    const alice = await registerUser(server.url, 'whc');
    await q(alice, SEND, { c: await room(alice), t: 'retry me' });
    await waitFor(() => at(e.path).length >= 3, 'three attempts', { timeoutMs: 15_000 });
    const tries = at(e.path);
    expect(new Set(tries.map((r) => r.headers['webhook-id'])).size).toBe(1);
    expect(tries.every((r) => verify(e.secret, r))).toBe(true);
    expect(hook.received.filter((r) => r.path === '/elsewhere')).toHaveLength(0);
    await waitFor(async () => (await webhookOf(staff, e.id)).lastSuccessAt != null, 'success recorded');
    expect((await webhookOf(staff, e.id)).consecutiveFailures).toBe(0);
    await q(staff, 'mutation($i: ID!) { deleteWebhook(id: $i) }', { i: e.id });
  });

  it('410 disables the endpoint: counted, and nothing more is sent to it', async () => {
    const staff = await staffUser(server);
    const e = await endpoint(staff, ['message.created']);
    hook.answers.set(e.path, [410]);
    const alice = await registerUser(server.url, 'whd');
    const c = await room(alice);
    await q(alice, SEND, { c, t: 'gone' });
    await waitFor(async () => (await webhookOf(staff, e.id)).isEnabled === false, 'disabled');
    const w = await webhookOf(staff, e.id);
    expect(w.consecutiveFailures).toBe(1);
    expect(w.lastFailureAt).not.toBeNull();
    await q(alice, SEND, { c, t: 'after' });
    await new Promise((r) => setTimeout(r, 400));
    expect(at(e.path)).toHaveLength(1);
    // Re-enabled: counted afresh and delivered again.
    const again = (await q(staff, 'mutation($i: ID!) { updateWebhook(id: $i, isEnabled: true) { isEnabled consecutiveFailures } }', { i: e.id })).updateWebhook;
    expect(again).toEqual({ isEnabled: true, consecutiveFailures: 0 });
    await q(alice, SEND, { c, t: 'back' });
    await waitFor(() => at(e.path).length >= 2, 'delivered after re-enabling');
    await q(staff, 'mutation($i: ID!) { deleteWebhook(id: $i) }', { i: e.id });
  });

  it('once the schedule is spent the delivery is FAILED and consecutiveFailures counts it', async () => {
    const staff = await staffUser(server);
    const e = await endpoint(staff, ['message.created']);
    hook.answers.set(
      e.path,
      Array.from({ length: 20 }, () => 500),
    );
    const alice = await registerUser(server.url, 'whh');
    const sent = (await q(alice, SEND, { c: await room(alice), t: 'never accepted' })).sendMessage;
    await waitFor(() => at(e.path).length >= 2, 'first retry');
    // Nine attempts spent (the schedule's waits reach hours even scaled): the next one is the last.
    const key = `webhook:${e.id}:message.created:${sent.id}`;
    await waitFor(async () => {
      const r = await server.orm.em
        .fork()
        .execute(`update "outbox" set "attempts" = 9, "due_at" = now() where "key" = ? and "locked_until" is null and "status" = 'PENDING' returning "id"`, [
          key,
        ]);
      return r.length === 1;
    }, 'the row between attempts');
    await waitFor(async () => (await webhookOf(staff, e.id)).consecutiveFailures === 1, 'failure counted');
    const [row] = await server.orm.em.fork().execute(`select "status", "attempts", "last_error" from "outbox" where "key" = ?`, [key]);
    expect(row).toMatchObject({ status: 'FAILED', attempts: 10 });
    expect(row.last_error).toMatch(/gave up after 10 attempts: endpoint answered 500/);
    const w = await webhookOf(staff, e.id);
    expect(w.isEnabled).toBe(true);
    expect(w.lastFailureAt).not.toBeNull();
    expect(new Set(at(e.path).map((r) => r.headers['webhook-id'])).size).toBe(1);
    await q(staff, 'mutation($i: ID!) { deleteWebhook(id: $i) }', { i: e.id });
  });

  it('after a rotation both the old and the new secret sign', async () => {
    const staff = await staffUser(server);
    const e = await endpoint(staff, ['message.created']);
    const r = (await q(staff, 'mutation($i: ID!) { rotateWebhookSecret(id: $i) { secret webhook { id } } }', { i: e.id })).rotateWebhookSecret;
    expect(r.secret).not.toBe(e.secret);
    const alice = await registerUser(server.url, 'whe');
    await q(alice, SEND, { c: await room(alice), t: 'rotated' });
    await waitFor(() => at(e.path).length >= 1, 'delivery');
    const [got] = at(e.path);
    expect(String(got.headers['webhook-signature']).split(' ')).toHaveLength(2);
    expect(verify(r.secret, got)).toBe(true);
    expect(verify(e.secret, got)).toBe(true);
    expect(verify('whsec_' + Buffer.from('not the secret').toString('base64'), got)).toBe(false);
    await q(staff, 'mutation($i: ID!) { deleteWebhook(id: $i) }', { i: e.id });
  });

  it('staff only: every operation is FORBIDDEN to others; bad input is BAD_USER_INPUT', async () => {
    const staff = await staffUser(server);
    const e = await endpoint(staff, ['user.deleted']);
    const bob = await registerUser(server.url, 'whf');
    const url = `${hook.base}/x`;
    expectDenied(await raw(bob, HOOK), 'webhooks', 'FORBIDDEN');
    expectDenied(await raw(bob, CREATE, { u: url, e: [] }), 'createWebhook', 'FORBIDDEN');
    expectDenied(await raw(bob, 'mutation($i: ID!) { updateWebhook(id: $i, isEnabled: false) { id } }', { i: e.id }), 'updateWebhook', 'FORBIDDEN');
    expectDenied(await raw(bob, 'mutation($i: ID!) { rotateWebhookSecret(id: $i) { secret } }', { i: e.id }), 'rotateWebhookSecret', 'FORBIDDEN');
    expectDenied(await raw(bob, 'mutation($i: ID!) { deleteWebhook(id: $i) }', { i: e.id }), 'deleteWebhook', 'FORBIDDEN');
    expectDenied(await raw(staff, CREATE, { u: url, e: ['message.exploded'] }), 'createWebhook', 'BAD_USER_INPUT');
    expectDenied(await raw(staff, CREATE, { u: 'not a url', e: [] }), 'createWebhook', 'BAD_USER_INPUT');
    expectDenied(await raw(staff, 'mutation { deleteWebhook(id: "999999") }'), 'deleteWebhook', 'NOT_FOUND');
    expect(await webhookOf(staff, e.id)).toMatchObject({ isEnabled: true });
    await q(staff, 'mutation($i: ID!) { deleteWebhook(id: $i) }', { i: e.id });
  });
});

describe('webhooks: SSRF (without OUTBOUND_ALLOW_PRIVATE)', () => {
  it('refuses http://, loopback (also by a name resolving to 127.0.0.1), private, link-local and IPv6 equivalents at creation', async () => {
    const staff = await staffUser(strict);
    for (const u of [
      `http://93.184.215.14/hook`,
      `https://localhost:${new URL(hook.base).port}/hook`,
      'https://127.0.0.1/hook',
      'https://10.1.2.3/hook',
      'https://169.254.169.254/latest/meta-data',
      'https://[::1]/hook',
      'https://[::ffff:127.0.0.1]/hook',
      'https://[fe80::1]/hook',
      'https://224.0.0.1/hook',
    ]) {
      expectDenied(await onStrict.raw(staff, CREATE, { u, e: [] }), 'createWebhook', 'BAD_USER_INPUT');
    }
    expect((await onStrict.q(staff, HOOK)).webhooks).toEqual([]);
  });

  it('checks again at every delivery: a URL whose name now resolves to 127.0.0.1 is refused, counted, never reached', async () => {
    const staff = await staffUser(strict);
    const w = (await onStrict.q(staff, CREATE, { u: 'https://93.184.215.14/hook', e: ['message.created'] })).createWebhook.webhook;
    // As if DNS changed after the check: the stored name now resolves to loopback (the receiver's port).
    const path = `/strict/${++n}`;
    await strict.orm.em.fork().execute(`update "webhooks" set "url" = ? where "id" = ?`, [`https://localhost:${new URL(hook.base).port}${path}`, Number(w.id)]);
    const alice = await registerUser(strict.url, 'whg');
    await onStrict.q(alice, SEND, {
      c: (await onStrict.q(alice, 'mutation { createRoom(input: { name: "s", visibility: PUBLIC }) { id } }')).createRoom.id,
      t: 'x',
    });
    await waitFor(async () => (await onStrict.q(staff, HOOK)).webhooks[0].consecutiveFailures === 1, 'refused delivery counted');
    expect(at(path)).toHaveLength(0);
    const [row] = await strict.orm.em.fork().execute(`select "status", "last_error" from "outbox" where "channel" = 'webhook'`);
    expect(row.status).toBe('FAILED');
    expect(row.last_error).toMatch(/refused: .*127\.0\.0\.1|refused: .*::1/);
  });
});
