/**
 * Issue 34, webhooks (staff), through a real server and a real HTTP receiver on this machine:
 * Standard Webhooks v1 signatures verified by an implementation written here from the spec (not
 * the server's); every event type, each once, queued in the transaction of its change (an edit
 * whose commit fails queues nothing); the receiver refusing connections, then answering 503, then
 * up: every event arrives with one webhook-id throughout; retries keeping webhook-id, redirects
 * not followed, 410 disabling the endpoint, secret rotation (both secrets sign), staff only, and
 * the SSRF rules at creation and at delivery. A server killed between commit and delivery:
 * tests/integration/webhook-durability.test.ts (PostgreSQL).
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
const EDIT = 'mutation($id: ID!, $t: String!) { editMessage(id: $id, content: $t) { id } }';
const DELETE = 'mutation($id: ID!) { deleteMessage(id: $id) { id } }';
const JOIN = 'mutation($c: ID!) { joinRoom(id: $c) { id } }';
const BAN = 'mutation($c: ID!, $u: ID!, $b: Boolean!) { banMember(conversationId: $c, userId: $u, banned: $b) { isBanned } }';
const sql = (query: string, params: unknown[] = []): Promise<any[]> => server.orm.em.fork().execute(query, params);

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

  it('every event type arrives, signed, once, with its documented data', async () => {
    const staff = await staffUser(server);
    const e = await endpoint(staff); // [] = every event
    const [alice, bob, carol, dave, erin] = await Promise.all(['wht', 'whu', 'whv', 'whw', 'whx'].map((p) => registerUser(server.url, p)));
    const ids = (...us: TestUser[]) => us.map((u) => Number(u.id));
    const group = (await q(alice, 'mutation($m: [ID!]!) { createGroup(input: { name: "hooks", memberIds: $m }) { id } }', { m: [bob.id] })).createGroup.id;
    const r = await room(alice);
    await q(carol, JOIN, { c: r });
    await q(dave, JOIN, { c: r });
    const sent = (await q(alice, SEND, { c: group, t: 'to edit' })).sendMessage;
    await q(alice, EDIT, { id: sent.id, t: 'edited' });
    await q(alice, DELETE, { id: sent.id });
    await q(alice, 'mutation($c: ID!, $u: ID!) { removeMember(conversationId: $c, userId: $u) }', { c: r, u: carol.id });
    await q(alice, BAN, { c: r, u: dave.id, b: true });
    await q(alice, BAN, { c: r, u: dave.id, b: false }); // an unban removes nobody: no event
    const direct = (await q(alice, 'mutation($u: ID) { openDirectChat(userId: $u) { id } }', { u: bob.id })).openDirectChat.id;
    const asked = (await q(erin, 'mutation { sendMessage(input: { toSupport: true, content: "help" }) { id conversationId } }')).sendMessage;
    const support = asked.conversationId;
    const answer = (await q(staff, SEND, { c: support, t: 'on it' })).sendMessage;
    const bye = (await q(bob, SEND, { c: direct, t: 'bye' })).sendMessage;
    await q(bob, 'mutation { deleteAccount(password: "correct-horse-battery") }');

    const expected = 24;
    await waitFor(() => at(e.path).length >= expected, `${expected} events`);
    await new Promise((res) => setTimeout(res, 400));
    const got = at(e.path);
    expect(got).toHaveLength(expected);
    expect(got.every((x) => verify(e.secret, x))).toBe(true);
    expect(new Set(got.map((x) => x.headers['webhook-id'])).size).toBe(expected);
    expect(new Set(got.map((x) => x.body)).size).toBe(expected);
    const bodies = got.map((x) => JSON.parse(x.body));
    const pick = (type: string) => bodies.filter((b) => b.type === type).map((b) => b.data);
    // By numeric ids; an asymmetric matcher (no such fields) keeps its place.
    const sorted = <T extends Record<string, any>>(xs: T[], ...by: string[]) =>
      [...xs].sort((a, b) => by.map((k) => (a[k] === b[k] ? 0 : a[k] < b[k] ? -1 : 1)).find((d) => d !== 0) ?? 0);

    const created = (id: string, kind: string, name: string | null, memberIds: number[], more: object = {}) => ({
      id: Number(id),
      kind,
      name,
      visibility: null,
      customerId: null,
      createdById: Number(alice.id),
      createdAt: expect.any(String),
      memberIds,
      ...more,
    });
    expect(sorted(pick('conversation.created'), 'id')).toEqual(
      sorted(
        [
          created(group, 'GROUP', 'hooks', ids(alice, bob)),
          created(r, 'ROOM', 'webhooks', ids(alice), { visibility: 'PUBLIC' }),
          created(direct, 'DIRECT', null, ids(alice, bob)),
          created(support, 'SUPPORT', null, ids(erin), { customerId: Number(erin.id), createdById: Number(erin.id) }),
        ],
        'id',
      ),
    );
    const member = (c: string, u: TestUser) => ({ conversationId: Number(c), userId: Number(u.id) });
    expect(sorted(pick('member.added'), 'conversationId', 'userId')).toEqual(
      sorted(
        [
          member(group, alice),
          member(group, bob),
          member(r, alice),
          member(r, carol),
          member(r, dave),
          member(direct, alice),
          member(direct, bob),
          member(support, erin),
          member(support, staff),
        ].map((m) => ({ ...m, joinedAt: expect.any(String) })),
        'conversationId',
        'userId',
      ),
    );
    expect(sorted(pick('member.removed'), 'conversationId', 'userId')).toEqual(
      sorted(
        [
          { ...member(r, carol), leftAt: expect.any(String), banned: false },
          { ...member(r, dave), leftAt: null, banned: true },
          { ...member(group, bob), leftAt: expect.any(String), banned: false }, // the account deletion
        ],
        'conversationId',
        'userId',
      ),
    );
    const numeric = (xs: number[]) => [...xs].sort((a, b) => a - b);
    expect(numeric(pick('message.created').map((m) => m.id))).toEqual(numeric([sent, asked, answer, bye].map((m: { id: string }) => Number(m.id))));
    expect(pick('message.created').find((m) => m.id === Number(answer.id))).toMatchObject({ conversationId: Number(support), senderId: Number(staff.id) });
    expect(pick('message.updated')).toEqual([
      expect.objectContaining({ id: Number(sent.id), conversationId: Number(group), content: 'edited', editedAt: expect.any(String), deletedAt: null }),
    ]);
    expect(sorted(pick('message.deleted'), 'id')).toEqual([
      expect.objectContaining({ id: Number(sent.id), content: '', deletedAt: expect.any(String) }),
      expect.objectContaining({ id: Number(bye.id), conversationId: Number(direct), senderId: Number(bob.id), content: '', deletedAt: expect.any(String) }),
    ]);
    expect(pick('user.deleted')).toEqual([{ userId: Number(bob.id), deletedAt: expect.any(String) }]);
    // The outbox holds one row per event for this endpoint, each finished.
    await waitFor(async () => {
      const rows = await sql(`select "status" from "outbox" where "target_id" = ?`, [Number(e.id)]);
      return rows.length === expected && rows.every((x: { status: string }) => x.status === 'DONE');
    }, 'every row done');
    await q(staff, 'mutation($i: ID!) { deleteWebhook(id: $i) }', { i: e.id });
  });

  it('an edit whose transaction fails at its commit queues nothing (its row is written in that transaction)', async () => {
    const staff = await staffUser(server);
    const e = await endpoint(staff, ['message.updated']);
    const alice = await registerUser(server.url, 'whr');
    const sent = (await q(alice, SEND, { c: await room(alice), t: 'before' })).sendMessage;
    // A deferred constraint trigger refuses the edit at COMMIT, after every statement of its
    // transaction ran: the outbox row was inserted (its sequence moves) and is rolled back with it.
    await sql(`create function webhooks_test_refuse() returns trigger language plpgsql as $$ begin raise exception 'refused at commit'; end $$`);
    await sql(
      `create constraint trigger webhooks_test_refuse after update on "messages" deferrable initially deferred
        for each row when (new."content" = 'never committed') execute function webhooks_test_refuse()`,
    );
    const [{ last_value: before }] = await sql(`select "last_value" from "outbox_id_seq"`);
    try {
      const refused = await raw(alice, EDIT, { id: sent.id, t: 'never committed' });
      expect(refused.errors?.length).toBeGreaterThan(0);
    } finally {
      await sql(`drop trigger webhooks_test_refuse on "messages"`);
      await sql(`drop function webhooks_test_refuse()`);
    }
    const [{ last_value: after }] = await sql(`select "last_value" from "outbox_id_seq"`);
    expect(Number(after)).toBeGreaterThan(Number(before));
    expect(await sql(`select "key" from "outbox" where "target_id" = ?`, [Number(e.id)])).toEqual([]);
    const [msg] = await sql(`select "content", "change_seq" from "messages" where "id" = ?`, [Number(sent.id)]);
    expect(msg.content).toBe('before');
    await q(alice, EDIT, { id: sent.id, t: 'committed' });
    await waitFor(() => at(e.path).length >= 1, 'the committed edit');
    await new Promise((res) => setTimeout(res, 300));
    expect(at(e.path).map((x) => JSON.parse(x.body).data.content)).toEqual(['committed']);
    await q(staff, 'mutation($i: ID!) { deleteWebhook(id: $i) }', { i: e.id });
  });

  it('the receiver down (connection refused), then answering 503, then up: every event arrives, each with one webhook-id throughout', async () => {
    const staff = await staffUser(server);
    // A port nobody listens on (connection refused) until the receiver opens on it.
    const probe = createServer();
    await new Promise<void>((res) => probe.listen(0, '127.0.0.1', () => res()));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((res) => probe.close(() => res()));
    const secret = (await q(staff, CREATE, { u: `http://127.0.0.1:${port}/down`, e: [] })).createWebhook;
    const hookId = Number(secret.webhook.id);
    const alice = await registerUser(server.url, 'whk');
    const bob = await registerUser(server.url, 'whl');
    const c = await room(alice);
    await q(bob, JOIN, { c });
    const sent = (await q(alice, SEND, { c, t: 'while down' })).sendMessage;
    await q(alice, EDIT, { id: sent.id, t: 'edited while down' });
    await q(alice, DELETE, { id: sent.id });
    await q(bob, 'mutation($c: ID!) { leaveConversation(id: $c) }', { c });
    const types = ['conversation.created', 'member.added', 'member.added', 'message.created', 'message.updated', 'message.deleted', 'member.removed'];
    const rows = () =>
      sql(`select "id", "status", "attempts", "last_error", "locked_until" from "outbox" where "target_id" = ? order by "id"`, [hookId]) as Promise<
        { id: string; status: string; attempts: number; last_error: string | null; locked_until: Date | null }[]
      >;
    // Each row tried and refused (not answered), and waiting for its next attempt.
    await waitFor(async () => {
      const rs = await rows();
      return rs.length === types.length && rs.every((x) => x.status === 'PENDING' && x.attempts >= 1 && x.last_error != null && x.locked_until == null);
    }, 'every delivery refused');
    expect((await rows()).map((x) => x.last_error)).toEqual(types.map(() => expect.stringMatching(/ECONNREFUSED/)));

    // Up, but failing: 503 to everything; then healthy. The retry schedule is not waited out
    // (its unit tests cover it): due rows are made due now at each switch.
    const got: { id: string; status: number; body: string; valid: boolean }[] = [];
    let status = 503;
    const back = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (x: Buffer) => chunks.push(x));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        got.push({ id: String(req.headers['webhook-id']), status, body, valid: verify(secret.secret, { path: req.url ?? '', headers: req.headers, body }) });
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((res) => back.listen(port, '127.0.0.1', () => res()));
    try {
      const rowIds = (await rows()).map((x) => `msg_${x.id}`);
      // Until each row got an answer of `s`: the rows still without one are made due now (each
      // poll), so none spends its ten attempts.
      const answeredAll = (s: number) =>
        waitFor(
          async () => {
            const answered = new Set(got.filter((x) => x.status === s).map((x) => x.id));
            const waiting = rowIds.filter((id) => !answered.has(id)).map((id) => Number(id.slice('msg_'.length)));
            if (!waiting.length) return true;
            await sql(
              `update "outbox" set "due_at" = now() where "id" in (select (jsonb_array_elements_text(?::jsonb))::bigint) and "status" = 'PENDING' and "locked_until" is null`,
              [JSON.stringify(waiting)],
            );
            return false;
          },
          `each delivery answered ${s}`,
          { everyMs: 200, timeoutMs: 20_000 },
        );
      await answeredAll(503);
      status = 200;
      await answeredAll(200);
      await waitFor(async () => (await rows()).every((x) => x.status === 'DONE'), 'every row done');
      // Each event: one webhook-id (its row's) on every attempt, the same body each time, signed each time.
      expect(new Set(got.map((x) => x.id))).toEqual(new Set(rowIds));
      for (const id of rowIds) expect(new Set(got.filter((x) => x.id === id).map((x) => x.body)).size).toBe(1);
      expect(got.every((x) => x.valid)).toBe(true);
      // Delivered once each (one 200 per webhook-id), every type there.
      expect(got.filter((x) => x.status === 200)).toHaveLength(types.length);
      expect(
        got
          .filter((x) => x.status === 200)
          .map((x) => JSON.parse(x.body).type)
          .sort(),
      ).toEqual([...types].sort());
      expect((await rows()).every((x) => x.attempts >= 3)).toBe(true);
    } finally {
      back.closeAllConnections();
      await new Promise<void>((res) => back.close(() => res()));
      await q(staff, 'mutation($i: ID!) { deleteWebhook(id: $i) }', { i: String(hookId) });
    }
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
