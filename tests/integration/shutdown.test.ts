import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import WebSocket from 'ws';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gql, gqlOk, subscribe, wsClient } from '../support/client';
import { listeningPort } from '../support/listening';

/**
 * The compiled server as an operator runs it (`node dist/src/main.js`, PGlite on disk under
 * DATA_DIR): SIGTERM drains in-flight HTTP requests and WebSocket connections and exits 0, and
 * the data is still there on the next start.
 */

jest.setTimeout(120_000);

const ROOT = join(__dirname, '..', '..');
const MAIN = join(ROOT, 'dist', 'src', 'main.js');
const PASSWORD = 'correct-horse-battery';

interface Running {
  child: ChildProcess;
  url: string;
  wsUrl: string;
  base: string;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children: ChildProcess[] = [];
/** Process groups started here (`npm start`): killed at the end whatever is left in them. */
const groups: number[] = [];

/** Whether any process of process group `pgid` is still alive (an orphan keeps its group). */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
let dataDir: string;

beforeAll(() => {
  // Never a stale dist/: compiles what is older than its sources (as `npm start` does).
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'ensure-built.js')], { cwd: ROOT, stdio: 'inherit', timeout: 180_000 });
  dataDir = mkdtempSync(join(tmpdir(), 'chat-shutdown-test-'));
});
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const g of groups) if (groupAlive(g)) process.kill(-g, 'SIGKILL');
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

/**
 * Starts `node dist/src/main.js` (or `npm start`, in a process group of its own so that what it
 * leaves behind can be found) and resolves once it logs "chat server listening".
 */
async function startCompiled(extra: Record<string, string> = {}, how: 'node' | 'npm start' = 'node'): Promise<Running> {
  const env: NodeJS.ProcessEnv = {
    ...extra,
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: 'development',
    HOST: '127.0.0.1',
    PORT: '0', // the kernel picks a free port at bind time; it is read from the log (listeningPort)
    DATA_DIR: extra.DATA_DIR ?? dataDir, // no DATABASE_URL: PGlite on disk, even when the suite runs on PostgreSQL
    LOG_LEVEL: 'info',
  };
  const child =
    how === 'node'
      ? spawn(process.execPath, [MAIN], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn('npm', ['start'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  if (how !== 'node') groups.push(child.pid!);
  children.push(child);
  let out = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not log "chat server listening" within 60 s:\n${out}`)), 60_000);
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const bound = listeningPort(out);
      if (bound) {
        clearTimeout(timer);
        resolve(bound);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`server exited (code ${code}, signal ${signal}) before listening:\n${out}`));
    });
  });
  const base = `http://127.0.0.1:${port}`;
  return { child, url: `${base}/graphql`, wsUrl: `ws://127.0.0.1:${port}/graphql`, base, output: () => out, exited };
}

const REGISTER = 'mutation($u: String!) { register(input: { username: $u, password: "correct-horse-battery" }) { accessToken user { id username } } }';
const LOGIN = 'mutation($u: String!, $p: String!) { login(username: $u, password: $p) { accessToken user { id username } } }';
const suffix = `${process.pid}`;

/** Registers `username` on a running server: its id, username and access token. */
async function register(server: Running, username: string): Promise<{ id: string; username: string; token: string }> {
  const reg = (await gqlOk(server.url, REGISTER, { u: username })).register;
  return { id: reg.user.id, username: reg.user.username, token: reg.accessToken };
}

/** A slow request: one mutation registering each of `usernames` (argon2 each), executed one after another. */
function slowRegistrations(server: Running, usernames: string[]): Promise<Response> {
  const query = `mutation { ${usernames.map((u, i) => `r${i}: register(input: { username: "${u}", password: "${PASSWORD}" }) { user { id } }`).join(' ')} }`;
  return fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
}

/** The slow request was answered in full: 200, no errors, every registration done. */
async function expectAllRegistered(response: Response, usernames: string[]): Promise<void> {
  expect(response.status).toBe(200);
  const body = (await response.json()) as { data?: Record<string, { user: { id: string } }>; errors?: unknown[] };
  expect(body.errors).toBeUndefined();
  expect(Object.keys(body.data ?? {})).toHaveLength(usernames.length);
}

test('SIGTERM drains an in-flight request and the WebSocket connections, then exits 0', async () => {
  const server = await startCompiled();
  const drainedUsernames = [1, 2, 3, 4, 5, 6].map((i) => `drain${i}_${suffix}`);

  const firstUser = await register(server, `first_${suffix}`);
  const health = await fetch(`${server.base}/healthz`);
  expect(health.status).toBe(200);

  // A live graphql-ws connection with an active subscription.
  let connected!: () => void;
  const isConnected = new Promise<void>((r) => (connected = r));
  let closedWith: number | undefined;
  let closed!: () => void;
  const isClosed = new Promise<void>((r) => (closed = r));
  const client = wsClient(server.wsUrl, firstUser.token, {
    lazy: false,
    onNonLazyError: () => undefined,
    on: {
      connected: () => connected(),
      closed: (e) => {
        closedWith = (e as { code: number }).code;
        closed();
      },
    },
  });
  try {
    await isConnected;
    // The server runs in another process (no hub to observe): the subscription is live once a
    // message the test sends to the user arrives on it.
    const peer = (await gqlOk(server.url, REGISTER, { u: `peer_${suffix}` })).register;
    const chat = (await gqlOk(server.url, 'mutation($u: ID) { openDirectChat(userId: $u) { id } }', { u: firstUser.id }, peer.accessToken)).openDirectChat.id;
    const sub = subscribe(client, 'subscription { messageAdded { id } }');
    await sub.readyBy(() =>
      gqlOk(server.url, 'mutation($c: ID!) { sendMessage(input: { conversationId: $c, content: "are you there?" }) { id } }', { c: chat }, peer.accessToken),
    );

    // A slow request in flight: six registrations (argon2 each) executed one after another.
    const slow = slowRegistrations(server, drainedUsernames);
    // Once a later request on another connection is answered, the slow one has been read too.
    expect((await fetch(`${server.base}/healthz`)).status).toBe(200);

    server.child.kill('SIGTERM');

    await expectAllRegistered(await slow, drainedUsernames);

    const exit = await server.exited;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      isClosed,
      new Promise<void>((r) => {
        timer = setTimeout(r, 5000);
      }),
    ]);
    clearTimeout(timer);
    expect(closedWith).toBeDefined();
    expect(closedWith).not.toBe(1006); // closed by the server with a close frame, not dropped
    sub.stop();

    // Exit status 0 from main.ts, not death by the signal; the log is shown when it differs.
    expect({ ...exit, output: exit.code === 0 ? '' : server.output() }).toEqual({ code: 0, signal: null, output: '' });
  } finally {
    await client.dispose();
  }
  expect(server.output()).toContain('shutting down');
});

test('the data persisted under DATA_DIR: a second start on the same directory knows the users and the secret', async () => {
  // Its own first run, on its own directory: a user, and registrations still in flight at SIGTERM.
  const dir = mkdtempSync(join(tmpdir(), 'chat-shutdown-persist-'));
  try {
    const first = await startCompiled({ DATA_DIR: dir });
    const firstUser = await register(first, `kept_${suffix}`);
    const drainedUsernames = [1, 2, 3].map((i) => `kept${i}_${suffix}`);
    const slow = slowRegistrations(first, drainedUsernames);
    // Once a later request on another connection is answered, the slow one has been read too.
    expect((await fetch(`${first.base}/healthz`)).status).toBe(200);
    first.child.kill('SIGTERM');
    await expectAllRegistered(await slow, drainedUsernames);
    const firstExit = await first.exited;
    expect({ ...firstExit, output: firstExit.code === 0 ? '' : first.output() }).toEqual({ code: 0, signal: null, output: '' });
    expect(existsSync(join(dir, 'pglite'))).toBe(true);
    expect(existsSync(join(dir, 'jwt-secret'))).toBe(true);

    const server = await startCompiled({ DATA_DIR: dir });
    try {
      const login = await gql(server.url, LOGIN, { u: firstUser.username, p: PASSWORD });
      expect(login.errors).toBeUndefined();
      expect(login.data.login.user).toEqual({ id: firstUser.id, username: firstUser.username });

      // The registrations that were in flight during the first shutdown were committed.
      for (const u of drainedUsernames) {
        const r = await gql(server.url, LOGIN, { u, p: PASSWORD });
        expect({ u, errors: r.errors }).toEqual({ u, errors: undefined });
      }

      // The generated development secret was reused, so the first run's access token still works.
      expect((await gqlOk(server.url, '{ me { id } }', {}, firstUser.token)).me.id).toBe(firstUser.id);
    } finally {
      server.child.kill('SIGTERM');
      const exit = await server.exited;
      expect({ code: exit.code, signal: exit.signal }).toEqual({ code: 0, signal: null });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SIGTERM exits 0 within SHUTDOWN_GRACE_MS although 10 sockets stopped reading and a request body never ends', async () => {
  const grace = 3000;
  const dir = mkdtempSync(join(tmpdir(), 'chat-shutdown-stalled-'));
  const server = await startCompiled({ SHUTDOWN_GRACE_MS: String(grace), DATA_DIR: dir });
  try {
    const reg = (await gqlOk(server.url, REGISTER, { u: `stall_${suffix}` })).register;
    // 20 sockets with a subscription each; 10 of them stop reading (their TCP stream is paused),
    // so they never answer the server's close frame.
    const sockets = await Promise.all(
      Array.from(
        { length: 20 },
        () =>
          new Promise<WebSocket>((resolve, reject) => {
            const ws = new WebSocket(server.wsUrl, 'graphql-transport-ws');
            ws.once('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${reg.accessToken}` } })));
            ws.on('message', (data) => {
              if (JSON.parse(String(data)).type !== 'connection_ack') return;
              ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: 'subscription { messageAdded { id } }' } }));
              resolve(ws);
            });
            ws.once('error', reject);
          }),
      ),
    );
    for (const ws of sockets.slice(0, 10)) (ws as unknown as { _socket: { pause(): void } })._socket.pause();
    // An HTTP request whose body never comes.
    const stuck = connect(Number(new URL(server.base).port), '127.0.0.1');
    await new Promise<void>((r) => stuck.once('connect', () => r()));
    stuck.write('POST /graphql HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"query":');
    stuck.on('error', () => undefined);
    expect((await fetch(`${server.base}/healthz`)).status).toBe(200);

    const t0 = Date.now();
    server.child.kill('SIGTERM');
    const exit = await server.exited;
    const elapsed = Date.now() - t0;
    expect({ ...exit, output: exit.code === 0 ? '' : server.output() }).toEqual({ code: 0, signal: null, output: '' });
    expect(elapsed).toBeLessThan(grace);
    stuck.destroy();
    for (const ws of sockets) ws.terminate();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SIGTERM ends the process within SHUTDOWN_GRACE_MS while its event loop is kept busy by heavy queries (issue 27)', async () => {
  const grace = 4000;
  const dir = mkdtempSync(join(tmpdir(), 'chat-shutdown-busy-'));
  const server = await startCompiled({
    SHUTDOWN_GRACE_MS: String(grace),
    DATA_DIR: dir,
    GRAPHQL_USER_MAX_IN_FLIGHT: '64',
    RATE_MESSAGES_BURST: '100',
    LOG_LEVEL: 'info',
  });
  try {
    const [a, b] = [
      (await gqlOk(server.url, REGISTER, { u: `busy_a_${suffix}` })).register,
      (await gqlOk(server.url, REGISTER, { u: `busy_b_${suffix}` })).register,
    ];
    const { openDirectChat } = await gqlOk(server.url, 'mutation($u: ID!) { openDirectChat(userId: $u) { id } }', { u: b.user.id }, a.accessToken);
    for (let i = 0; i < 100; i++) {
      await gqlOk(
        server.url,
        'mutation($c: ID, $t: String!) { sendMessage(input: { conversationId: $c, content: $t }) { id } }',
        { c: openDirectChat.id, t: `message ${i} @busy_b_${suffix}` },
        a.accessToken,
      );
    }
    // 15 aliases of 100 messages with their senders, mentions and members: each request is a
    // long stretch of JavaScript once its rows are in; 48 of them keep the loop busy.
    const heavy = `query($c: ID!) { ${Array.from({ length: 15 }, (_, i) => `a${i}: messages(conversationId: $c, last: 100) { edges { node { id content sender { id username fullName } mentions { id username } } } }`).join(' ')} }`;
    let stop = false;
    const load = Array.from({ length: 48 }, async () => {
      while (!stop) await gql(server.url, heavy, { c: openDirectChat.id }, a.accessToken).catch(() => undefined);
    });
    await new Promise((r) => setTimeout(r, 1500));
    const t0 = Date.now();
    server.child.kill('SIGTERM');
    const exit = await server.exited;
    const elapsed = Date.now() - t0;
    stop = true;
    await Promise.all(load);
    // Drained (0) or cut by the hard-exit timer (1): ended by itself, not by a signal, in time.
    expect({ signal: exit.signal, ended: exit.code === 0 || exit.code === 1 }).toEqual({ signal: null, ended: true });
    console.log(`busy SIGTERM: exit ${exit.code} after ${elapsed} ms (grace ${grace} ms)`);
    expect(elapsed).toBeLessThan(grace + 1000);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SIGTERM to the process `npm start` starts stops the server: it exits, the port closes, nothing is left behind (issue 30)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'chat-shutdown-npm-'));
  const server = await startCompiled({ DATA_DIR: dir, SHUTDOWN_GRACE_MS: '3000' }, 'npm start');
  try {
    const port = Number(new URL(server.base).port);
    expect((await fetch(`${server.base}/healthz`)).status).toBe(200);
    process.kill(server.child.pid!, 'SIGTERM');
    await server.exited;
    // The server drains (SHUTDOWN_GRACE_MS) and exits; before the fix it went on as an orphan
    // (npm's `sh -c` shell died without passing the signal on).
    const deadline = Date.now() + 30_000;
    while (groupAlive(server.child.pid!) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect({ left: groupAlive(server.child.pid!), output: groupAlive(server.child.pid!) ? server.output() : '' }).toEqual({ left: false, output: '' });
    const refused = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(false);
      });
      s.once('error', () => resolve(true));
    });
    expect(refused).toBe(true);
    expect(server.output()).toContain('chat server listening');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
