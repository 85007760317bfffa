/**
 * Issue 34, "Delivery guarantee": pushes survive a crash. A compiled server (`node
 * dist/src/main.js`, a second process on the same PostgreSQL database) queues pushes while the
 * push service is down, is killed with SIGKILL, and a server started afterwards delivers every
 * one (at least once, never lost). A server killed while it holds claimed rows (their HTTP calls
 * in flight) leaves them leased: another instance takes them over only once OUTBOX_LEASE_MS has
 * passed. Runs when DATABASE_URL is set (PGlite is one process's database).
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import webPush from 'web-push';
import { startApp, type RunningApp } from '../../src/app';
import { gqlOk, registerUser, waitFor, type TestUser } from '../support/client';
import { killHard, startCompiledServer } from '../support/listening';
import { webPushService, type Subscription } from '../support/push-receivers';
import { createTestDatabase, testAppOptions, testConfig, type TestDatabase } from '../support/test-server';

const describePg = process.env.DATABASE_URL ? describe : describe.skip;
jest.setTimeout(120_000);

const ROOT = join(__dirname, '..', '..');
const LEASE_MS = 3000;
const vapid = webPush.generateVAPIDKeys();
const SEND = 'mutation($c: ID!, $t: String!) { sendMessage(input: { conversationId: $c, content: $t }) { id } }';

describePg('pushes survive a killed server', () => {
  let db: TestDatabase;
  let service: Awaited<ReturnType<typeof webPushService>>;
  let env: Record<string, string>;
  const children: ChildProcess[] = [];
  const apps: RunningApp[] = [];

  beforeAll(async () => {
    // Never a stale dist/: compiles what is older than its sources (as `npm start` does).
    execFileSync(process.execPath, [join(ROOT, 'scripts', 'ensure-built.js')], { cwd: ROOT, stdio: 'inherit', timeout: 180_000 });
    db = await createTestDatabase();
    service = await webPushService(vapid.publicKey);
    env = {
      DATABASE_URL: db.url,
      VAPID_PUBLIC_KEY: vapid.publicKey,
      VAPID_PRIVATE_KEY: vapid.privateKey,
      VAPID_SUBJECT: 'mailto:ops@example.com',
      OUTBOUND_ALLOW_PRIVATE: 'true',
      PUSH_DELAY_MS: '0',
      OUTBOX_POLL_MS: '100',
      OUTBOX_LEASE_MS: String(LEASE_MS),
      PUSH_RETRY_BASE_MS: '200',
      RATE_MESSAGES_PER_SEC: '1000',
    };
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const a of apps) await a.stop();
    await service?.close();
    await db?.drop();
  });

  /** The compiled server in a process of its own on the test database (support/listening.ts). */
  const startChild = () => startCompiledServer(env, children);

  const kill = killHard;

  /** A second server, in this process, on the same database (the restarted or surviving instance). */
  async function startInProcess(): Promise<RunningApp> {
    const app = await startApp(testConfig({ ...env, MIGRATE_ON_START: 'false' }), testAppOptions());
    apps.push(app);
    return app;
  }

  async function pair(url: string, endpoint?: (s: Subscription) => string) {
    const a = await registerUser(url, 'dura');
    const b = await registerUser(url, 'durb');
    const s = service.subscribe(`/push/${b.username}`);
    if (endpoint) s.endpoint = endpoint(s);
    await gqlOk(
      url,
      'mutation($i: RegisterPushDeviceInput!) { registerPushDevice(input: $i) { id } }',
      { i: { platform: 'WEB_PUSH', webPush: { endpoint: s.endpoint, p256dh: s.p256dh, auth: s.auth } } },
      b.token,
    );
    const chat = (await gqlOk(url, 'mutation($u: ID) { openDirectChat(userId: $u) { id } }', { u: b.id }, a.token)).openDirectChat.id as string;
    return { a, b: b as TestUser, s, chat };
  }
  const received = (s: Subscription) => service.received.filter((p) => p.path === new URL(s.endpoint).pathname).map((p) => String(p.payload.messageId));
  const sql = async (app: RunningApp, query: string, params: unknown[] = []) => app.orm.em.fork().execute(query, params);

  test('the push service down, the server killed with SIGKILL and restarted: every push arrives, at least once', async () => {
    const first = await startChild();
    const { a, s, chat } = await pair(first.url);
    await service.down();
    const sent: string[] = [];
    for (let i = 0; i < 10; i++) sent.push((await gqlOk(first.url, SEND, { c: chat, t: `offline ${i}` }, a.token)).sendMessage.id);
    // Let the first server fan out and fail some attempts against the service that is down.
    await new Promise((r) => setTimeout(r, 700));
    await kill(first.child);
    await service.up();
    const second = await startInProcess();
    await waitFor(() => sent.every((id) => received(s).includes(id)), 'every push after the restart', { timeoutMs: 30_000 });
    expect(new Set(received(s))).toEqual(new Set(sent));
    await waitFor(async () => (await sql(second, `select 1 from "outbox" where "status" <> 'DONE'`)).length === 0, 'every row done');
  });

  test('rows claimed by an instance that died are taken over by another once their lease expires', async () => {
    // A front for the push service that holds requests (never answers) while `hold` is set: the first server's calls stay in flight.
    let hold = true;
    const held: ServerResponse[] = [];
    const front = createServer((req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', async () => {
        if (hold) return void held.push(res);
        const r = await fetch(`${service.url}${req.url}`, { method: 'POST', headers: req.headers as Record<string, string>, body: Buffer.concat(chunks) });
        res.writeHead(r.status).end(await r.text());
      });
    });
    await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
    const frontUrl = `http://127.0.0.1:${(front.address() as AddressInfo).port}`;
    try {
      const first = await startChild();
      const { a, s, chat } = await pair(first.url, (sub) => `${frontUrl}${new URL(sub.endpoint).pathname}`);
      const id = (await gqlOk(first.url, SEND, { c: chat, t: 'in flight' }, a.token)).sendMessage.id as string;
      await waitFor(() => held.length === 1, 'the first server is delivering');
      const surviving = await startInProcess();
      const [claimed] = await sql(surviving, `select "status", "attempts", "locked_until" from "outbox" where "kind" = 'delivery' and "key" like ?`, [
        `push:${id}:%`,
      ]);
      expect(claimed).toMatchObject({ status: 'PENDING', attempts: 1 });
      await kill(first.child);
      const killedAt = Date.now();
      hold = false;
      // Within the lease, the row stays the dead instance's: nobody delivers it twice meanwhile.
      await new Promise((r) => setTimeout(r, Math.max(0, new Date(claimed.locked_until).getTime() - Date.now() - 500)));
      expect(received(s)).toEqual([]);
      await waitFor(() => received(s).includes(id), 'the push delivered by the surviving instance', { timeoutMs: LEASE_MS * 4 });
      expect(Date.now() - killedAt).toBeLessThan(LEASE_MS + 5000);
      expect(received(s)).toEqual([id]);
      await waitFor(async () => {
        const [row] = await sql(surviving, `select "status", "attempts" from "outbox" where "kind" = 'delivery' and "key" like ?`, [`push:${id}:%`]);
        return row.status === 'DONE' && row.attempts === 2;
      }, 'the row done on its second attempt');
    } finally {
      for (const res of held) res.destroy();
      front.closeAllConnections();
      await new Promise((r) => front.close(r));
    }
  });
});
