/**
 * Issue 34, "Delivery guarantee" for webhooks: every event is written in the transaction of its
 * change, so a server killed with SIGKILL between the commit and the delivery loses none. A
 * compiled server (`node dist/src/main.js`, a process of its own on a PostgreSQL database) makes
 * changes of every kind while the receiver holds every request unanswered (deliveries in flight,
 * the rest queued), and is killed right after the last commit; a server started afterwards on the
 * same database delivers every event at least once (the dead server's claimed rows once their
 * lease expires), each signed, one webhook-id per event. Runs when DATABASE_URL is set (PGlite is
 * one process's database). Pushes: tests/integration/push-durability.test.ts.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Client } from 'pg';
import { startApp, type RunningApp } from '../../src/app';
import { gqlOk, registerUser, waitFor, type TestUser } from '../support/client';
import { startCompiledServer } from '../support/listening';
import { createTestDatabase, testAppOptions, testConfig, type TestDatabase } from '../support/test-server';

const describePg = process.env.DATABASE_URL ? describe : describe.skip;
jest.setTimeout(120_000);

const ROOT = join(__dirname, '..', '..');
const LEASE_MS = 3000;
const SEND = 'mutation($c: ID!, $t: String!) { sendMessage(input: { conversationId: $c, content: $t }) { id } }';

/** One request the receiver got: its webhook-id, body, whether the signature matched, and whether it was answered 200. */
interface Delivery {
  id: string;
  body: string;
  signed: boolean;
  answered: boolean;
}

describePg('webhooks survive a killed server', () => {
  let db: TestDatabase;
  let env: Record<string, string>;
  const children: ChildProcess[] = [];
  const apps: RunningApp[] = [];

  beforeAll(async () => {
    // Never a stale dist/: compiles what is older than its sources (as `npm start` does).
    execFileSync(process.execPath, [join(ROOT, 'scripts', 'ensure-built.js')], { cwd: ROOT, stdio: 'inherit', timeout: 180_000 });
    db = await createTestDatabase();
    env = {
      DATABASE_URL: db.url,
      OUTBOUND_ALLOW_PRIVATE: 'true',
      OUTBOX_POLL_MS: '100',
      OUTBOX_LEASE_MS: String(LEASE_MS),
      WEBHOOK_RETRY_BASE_MS: '20',
      RATE_MESSAGES_PER_SEC: '1000',
    };
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const a of apps) await a.stop();
    await db?.drop();
  });

  /** The compiled server in a process of its own on the test database (support/listening.ts). */
  const startChild = () => startCompiledServer(env, children);

  /** SQL on the test database, from this process (no server needed). */
  async function sql<T = any>(query: string, params: unknown[] = []): Promise<T[]> {
    const c = new Client({ connectionString: db.url });
    await c.connect();
    try {
      return (await c.query(query, params)).rows as T[];
    } finally {
      await c.end();
    }
  }

  test('the server killed with SIGKILL between the commit and the delivery: after a restart every event arrives, at least once', async () => {
    // The receiver: holds every request unanswered while `hold` is set (the first server's deliveries stay in flight), then answers 200.
    let hold = true;
    let secret = '';
    const held: ServerResponse[] = [];
    const got: Delivery[] = [];
    const receiver = createServer((req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const id = String(req.headers['webhook-id']);
        // Standard Webhooks v1, as tests/integration/webhooks.test.ts verifies it.
        const mac = createHmac('sha256', Buffer.from(secret.slice('whsec_'.length), 'base64'))
          .update(`${id}.${String(req.headers['webhook-timestamp'])}.${body}`)
          .digest('base64');
        const signed = String(req.headers['webhook-signature'] ?? '')
          .split(' ')
          .includes(`v1,${mac}`);
        if (hold) {
          got.push({ id, body, signed, answered: false });
          held.push(res);
          return;
        }
        got.push({ id, body, signed, answered: true });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
    const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    try {
      const first = await startChild();
      const q = (u: TestUser, query: string, variables: Record<string, unknown> = {}) => gqlOk(first.url, query, variables, u.token);
      const staff = await registerUser(first.url, 'durstaff');
      await sql(`update "users" set "is_staff" = true where "id" = $1`, [Number(staff.id)]);
      secret = (await q(staff, 'mutation($u: String!) { createWebhook(url: $u, eventTypes: []) { secret } }', { u: hookUrl })).createWebhook.secret;
      const alice = await registerUser(first.url, 'durwa');
      const bob = await registerUser(first.url, 'durwb');

      // Changes of every kind the first server commits; the event each must deliver, by a name of its own.
      const expected = new Set<string>();
      const room = (await q(alice, 'mutation { createRoom(input: { name: "durable", visibility: PUBLIC }) { id } }')).createRoom.id as string;
      expected.add(`conversation.created:${room}`).add(`member.added:${room}:${alice.id}`);
      await q(bob, 'mutation($c: ID!) { joinRoom(id: $c) { id } }', { c: room });
      expected.add(`member.added:${room}:${bob.id}`);
      const sent: string[] = [];
      for (let i = 0; i < 5; i++) sent.push((await q(alice, SEND, { c: room, t: `durable ${i}` })).sendMessage.id);
      for (const id of sent) expected.add(`message.created:${id}`);
      await q(alice, 'mutation($id: ID!) { editMessage(id: $id, content: "edited") { id } }', { id: sent[0] });
      expected.add(`message.updated:${sent[0]}`);
      await q(bob, 'mutation($c: ID!) { leaveConversation(id: $c) }', { c: room });
      expected.add(`member.removed:${room}:${bob.id}`);
      const direct = (await q(alice, 'mutation($u: ID) { openDirectChat(userId: $u) { id } }', { u: bob.id })).openDirectChat.id as string;
      expected.add(`conversation.created:${direct}`).add(`member.added:${direct}:${alice.id}`).add(`member.added:${direct}:${bob.id}`);
      const last = (await q(alice, SEND, { c: direct, t: 'the last one' })).sendMessage.id as string;
      expected.add(`message.created:${last}`);
      // The last change (one whose event was written after the commit before issue 34's fix), and SIGKILL as soon as its commit is answered.
      await q(alice, 'mutation($id: ID!) { deleteMessage(id: $id) { id } }', { id: sent[1] });
      expected.add(`message.deleted:${sent[1]}`);
      const gone = new Promise((resolve) => first.child.once('exit', resolve));
      first.child.kill('SIGKILL');
      await gone;

      // Between the commit and the delivery: nothing was answered, every event waits in the outbox.
      expect(got.filter((d) => d.answered)).toEqual([]);
      const waiting = await sql<{ status: string }>(`select "status" from "outbox" where "channel" = 'webhook'`);
      expect(waiting.length).toBe(expected.size);
      expect(waiting.every((r) => r.status === 'PENDING')).toBe(true);

      // Restarted on the same database; the receiver answers from now on.
      hold = false;
      for (const res of held) res.destroy();
      const second = await startApp(testConfig({ ...env, MIGRATE_ON_START: 'false' }), testAppOptions());
      apps.push(second);
      const nameOf = (body: string): string => {
        const { type, data } = JSON.parse(body);
        if (type === 'conversation.created') return `${type}:${data.id}`;
        if (type === 'member.added' || type === 'member.removed') return `${type}:${data.conversationId}:${data.userId}`;
        return `${type}:${data.id}`;
      };
      const delivered = () => new Set(got.filter((d) => d.answered).map((d) => nameOf(d.body)));
      await waitFor(() => [...expected].every((e) => delivered().has(e)), 'every event after the restart', { timeoutMs: 30_000, everyMs: 50 });
      expect(delivered()).toEqual(expected);
      expect(got.every((d) => d.signed)).toBe(true);
      // At least once, one webhook-id per event: every attempt of an id carries the same body.
      const bodies = new Map<string, Set<string>>();
      for (const d of got) bodies.set(d.id, (bodies.get(d.id) ?? new Set()).add(d.body));
      expect([...bodies.values()].every((b) => b.size === 1)).toBe(true);
      expect(bodies.size).toBe(expected.size);
      await waitFor(
        async () => (await sql<{ status: string }>(`select "status" from "outbox" where "channel" = 'webhook'`)).every((r) => r.status === 'DONE'),
        'every row done',
      );
    } finally {
      for (const res of held) res.destroy();
      receiver.closeAllConnections();
      await new Promise((r) => receiver.close(r));
    }
  });
});
