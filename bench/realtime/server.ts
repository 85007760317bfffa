import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { writeHeapSnapshot } from 'node:v8';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { Server as IoServer } from 'socket.io';
import { WebSocketServer, type WebSocket } from 'ws';
import { startApp, type RunningApp } from '../../src/app';
import { loadConfig } from '../../src/config/config';
import { hashPassword } from '../../src/domain/auth/password';
import { RoomVisibility } from '../../src/domain/conversation/conversation.entity';
import { Membership } from '../../src/domain/conversation/membership.entity';
import { User } from '../../src/domain/user/user.entity';
import { isDeliveryQuery } from '../../src/realtime/delivery/hub';
import { cpuProfiler } from '../children';
import { now, type Fixture, type ServerCommand, type ServerStats } from './protocol';

/**
 * A child process of the realtime benchmark: `ours` (the chat server, in-memory PGlite or
 * DATABASE_URL), `bare` (the anchor: node:http + ws doing the least the job needs: a
 * graphql-transport-ws handshake, and each POST /send broadcast as one `next` frame to every
 * subscribed socket) or `socketio` (the Socket.IO 4 anchor: node:http + a default Socket.IO
 * server, every socket joined to one room on connection, each POST /send one
 * `io.to(room).emit('message', payload)`; with a second argument `recovery`, with
 * `connectionStateRecovery`). Answers the orchestrator's commands over IPC.
 */
const kind = process.argv[2] as 'ours' | 'bare' | 'socketio';
const send = (m: unknown) => process.send!(m);

/** BENCH_CPU_PROF=<dir>: a V8 CPU profile of the measured phase only (profileStart .. profileStop). */
const profiler = cpuProfiler();
const profile = (cmd: 'profileStart' | 'profileStop') => (cmd === 'profileStart' ? profiler.start() : profiler.stop(kind));
/** The `cpu` command's answer: this process's CPU time so far (user + system, µs). */
const cpu = () => {
  const { user, system } = process.cpuUsage();
  return { cpuUs: user + system };
};

async function ours(): Promise<void> {
  let sql = 0;
  let deliverySql = 0;
  const env = {
    ...process.env,
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: process.env.DATABASE_URL ? './data' : ':memory:',
    LOG_LEVEL: 'silent',
    // The default connection limits (issue 17: a reconnect storm from one address passes them); only the sender's message rate is lifted.
    RATE_MESSAGES_PER_SEC: '100000',
    ACCESS_TOKEN_TTL: '3600',
    JWT_SECRET: randomBytes(32).toString('hex'),
    REDIS_PREFIX: `bench-${randomBytes(4).toString('hex')}`,
  };
  const app: RunningApp = await startApp(loadConfig(env), {
    logger: pino({ level: 'silent' }),
    onQuery: (line, context) => {
      sql++;
      if (isDeliveryQuery(context)) deliverySql++;
      if (process.env.BENCH_SQL_LOG) console.error(line.slice(0, 120));
    },
  });
  const stats = (): ServerStats => ({
    ...memory(),
    sql,
    deliverySql,
    executions: app.realtime.hub.executions,
    subscribers: app.realtime.hub.subscriberCount(),
    sockets: app.realtime.socketCount(),
  });
  process.on('message', async (m: ServerCommand) => {
    if (m.cmd === 'fixture') send(await fixture(app, m.users));
    else if (m.cmd === 'stats') {
      global.gc?.();
      send(stats());
    } else if (m.cmd === 'cpu') send(cpu());
    else if (m.cmd === 'resetCounters') {
      sql = 0;
      deliverySql = 0;
      app.realtime.hub.executions = 0;
      send({ ok: true });
    } else if (m.cmd === 'profileStart' || m.cmd === 'profileStop') {
      await profile(m.cmd);
      send({ ok: true });
    } else if (m.cmd === 'heapSnapshot')
      send({ path: process.env.BENCH_HEAP_SNAPSHOT ? writeHeapSnapshot(join(process.env.BENCH_HEAP_SNAPSHOT, `ours-${Date.now()}.heapsnapshot`)) : null });
    else if (m.cmd === 'stop') {
      await app.stop();
      process.exit(0);
    }
  });
  send({ ready: true, url: app.url, wsUrl: app.wsUrl });
}

/** A PUBLIC room with a sender and `n` members, each with a login of their own (rows written directly: registering 2000 users would mostly time argon2). */
async function fixture(app: RunningApp, n: number): Promise<Fixture> {
  const em = app.orm.em.fork();
  const hash = await hashPassword('benchmark-pass');
  const tag = randomBytes(3).toString('hex');
  const mk = (name: string) => em.create(User, { username: name, usernameKey: name.toLowerCase(), passwordHash: hash, firstName: 'Bench', lastName: name });
  const sender = mk(`sender_${tag}`);
  const users = Array.from({ length: n }, (_, i) => mk(`member${i}_${tag}`));
  await em.flush();
  const room = await app.services.conversations.createRoom(
    { actor: { id: sender.id, username: sender.username, isStaff: false }, em },
    { name: `hot room ${tag}`, visibility: RoomVisibility.PUBLIC },
  );
  for (const u of users) em.create(Membership, { conversation: room.id, user: u.id });
  await em.flush();
  const tokens: string[] = [];
  // A fresh EntityManager per login: one that managed them all would recompute every change set at each flush.
  for (const u of users) tokens.push((await app.services.auth.startSession(app.orm.em.fork(), u)).accessToken);
  const senderToken = (await app.services.auth.startSession(app.orm.em.fork(), sender)).accessToken;
  return { roomId: String(room.id), senderToken, tokens };
}

async function bare(): Promise<void> {
  const subscribed = new Map<WebSocket, string>();
  const http = createServer((req, res) => {
    if (req.method !== 'POST' || req.url !== '/send') {
      res.writeHead(404).end();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const { content } = JSON.parse(Buffer.concat(chunks).toString()) as { content: string };
      const payload = JSON.stringify({
        data: {
          messageAdded: { id: '1', seq: 1, content, createdAt: new Date().toISOString(), sender: { id: '1', username: 'sender', fullName: 'Bench sender' } },
        },
      });
      for (const [socket, id] of subscribed) socket.send(`{"id":${JSON.stringify(id)},"type":"next","payload":${payload}}`);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
  });
  const wss = new WebSocketServer({ server: http, path: '/graphql', handleProtocols: (p) => (p.has('graphql-transport-ws') ? 'graphql-transport-ws' : false) });
  wss.on('connection', (socket) => {
    socket.on('message', (data) => {
      const msg = JSON.parse(String(data)) as { type: string; id?: string };
      if (msg.type === 'connection_init') socket.send('{"type":"connection_ack"}');
      else if (msg.type === 'subscribe') subscribed.set(socket, msg.id!);
    });
    socket.on('close', () => subscribed.delete(socket));
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const { port } = http.address() as AddressInfo;
  process.on('message', (m: ServerCommand) => {
    if (!anchorCommand(m, () => ({ subscribers: subscribed.size, sockets: wss.clients.size }))) send({ error: `unknown command ${m.cmd}` });
  });
  send({ ready: true, url: `http://127.0.0.1:${port}/send`, wsUrl: `ws://127.0.0.1:${port}/graphql` });
}

/** The process's memory as the idle scenario compares it (bytes). */
function memory(): Pick<ServerStats, 'rss' | 'heapUsed' | 'heapTotal' | 'external'> {
  const { rss, heapUsed, heapTotal, external } = process.memoryUsage();
  return { rss, heapUsed, heapTotal, external };
}

/**
 * Answers the commands both anchors (bare ws, Socket.IO) share: stats (after a GC; no SQL, with
 * the anchor's subscriber and socket counts), resetCounters, cpu, profileStart/Stop, stop.
 * Returns false for any other command.
 */
function anchorCommand(m: ServerCommand, counts: () => { subscribers: number; sockets: number }): boolean {
  if (m.cmd === 'stats') {
    global.gc?.();
    send({ ...memory(), sql: 0, deliverySql: 0, executions: 0, ...counts() } satisfies ServerStats);
  } else if (m.cmd === 'resetCounters') send({ ok: true });
  else if (m.cmd === 'cpu') send(cpu());
  else if (m.cmd === 'profileStart' || m.cmd === 'profileStop') void profile(m.cmd).then(() => send({ ok: true }));
  else if (m.cmd === 'stop') process.exit(0);
  else return false;
  return true;
}

/** The Socket.IO anchor's payload for one message: the bare anchor's (a GraphQL result with what our messageAdded carries), with the server's seq. */
function messagePayload(seq: number, content: string) {
  return {
    data: {
      messageAdded: { id: String(seq), seq, content, createdAt: new Date().toISOString(), sender: { id: '1', username: 'sender', fullName: 'Bench sender' } },
    },
  };
}

/** The JSON body of a POST, parsed. */
function readJson<T>(req: IncomingMessage): Promise<T> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString()) as T));
    req.on('error', reject);
  });
}

/**
 * The Socket.IO 4 anchor: a default `socket.io` Server on node:http (its defaults: both
 * transports offered, no compression, 25 s pings), every socket joined to ROOM on connection (a
 * recovered socket has its rooms back already; the join is then a no-op), and each POST /send
 * (`{ content }`) one `io.to(ROOM).emit('message', payload)` whose seq the server assigns (1, 2,
 * ...), answered with `{ seq, at }` (`at`: when it was emitted, ms since the epoch). With
 * `recovery`, `connectionStateRecovery` with its defaults (2 minutes; the in-memory adapter keeps
 * every broadcast packet that long). `dropAll` closes every socket's engine connection
 * (`socket.conn.close()`: the disconnect reason is "forced close" here and "transport close" at
 * the client, both recoverable).
 */
async function socketio(recovery: boolean): Promise<void> {
  const ROOM = 'room';
  let seq = 0;
  const http = createServer((req, res) => {
    if (req.method !== 'POST' || req.url !== '/send') {
      res.writeHead(404).end();
      return;
    }
    void readJson<{ content: string }>(req).then(({ content }) => {
      seq++;
      io.to(ROOM).emit('message', messagePayload(seq, content));
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true, seq, at: now() }));
    });
  });
  const io = new IoServer(http, { serveClient: false, ...(recovery ? { connectionStateRecovery: {} } : {}) });
  io.on('connection', (socket) => void socket.join(ROOM));
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const { port } = http.address() as AddressInfo;
  process.on('message', (m: ServerCommand) => {
    if (m.cmd === 'dropAll') {
      const t0 = now();
      const sockets = [...io.of('/').sockets.values()];
      for (const socket of sockets) socket.conn.close();
      send({ t0, dropped: sockets.length });
    } else if (!anchorCommand(m, () => ({ subscribers: io.of('/').adapter.rooms.get(ROOM)?.size ?? 0, sockets: io.of('/').sockets.size }))) {
      send({ error: `unknown command ${m.cmd}` });
    }
  });
  send({ ready: true, url: `http://127.0.0.1:${port}/send`, wsUrl: `http://127.0.0.1:${port}` });
}

(kind === 'bare' ? bare() : kind === 'socketio' ? socketio(process.argv[3] === 'recovery') : ours()).catch((err) => {
  console.error(err);
  process.exit(1);
});
