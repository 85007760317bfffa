import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { stopChild } from '../children';
import { now, type ClientReport, type Fixture, type ServerStats, type SioStormResult } from './protocol';

/**
 * The realtime benchmark (issue 11), each scenario run against our server and against two
 * anchors in the same run with the same sizes: a bare `ws` server (the least the job needs) and,
 * since issue 35, a Socket.IO 4 server (what a common realtime stack does; server.ts `socketio`,
 * clients `socket.io-client` over WebSocket only, sio-clients.ts). Server and clients run in
 * separate processes (2 cores: one each):
 * - hot room: N subscriber sockets in one room (the anchors: every socket subscribed, or joined
 *   to one Socket.IO room; a POST /send is one broadcast, `io.to(room).emit` for Socket.IO); M
 *   messages sent 4 at a time (deliveries/s), then M messages at a steady 20/s (delivery latency
 *   p50/p99), and SQL statements run by delivery;
 * - idle sockets: server RSS growth per socket with one subscription (one room joined);
 * - reconnect storm: every socket drops at once while messages flow at 10/s; each of our clients
 *   reconnects, resubscribes and catches up with messagesSince; time until all are current, and
 *   messages lost or duplicated. Its anchor is Socket.IO's connectionStateRecovery (the bare
 *   server has no history): the server closes every engine connection, the clients reconnect
 *   with their default reconnection and the server replays what each missed (socketIoStorm).
 * Ratios are ours over the anchor (for deliveries/s above 1 is better; for latency, memory and
 * time below 1 is better).
 * BENCH_SUBSCRIBERS (2000), BENCH_ROOM_MESSAGES (100), BENCH_IDLE_SOCKETS (5000) size them.
 */
export async function benchRealtime(): Promise<Record<string, unknown>> {
  const n = Number(process.env.BENCH_SUBSCRIBERS ?? 2000);
  const m = Number(process.env.BENCH_ROOM_MESSAGES ?? 100);
  const idle = Number(process.env.BENCH_IDLE_SOCKETS ?? 5000);
  // BENCH_SCENARIOS=hot,receipts,idle,storm (default: all) picks scenarios (the storm runs after the hot room).
  const only = new Set((process.env.BENCH_SCENARIOS ?? 'hot,receipts,idle,storm').split(','));
  // BENCH_SERVERS=ours,bare,socketio (default: all) picks the servers measured (say, one anchor alone; a ratio needs both sides).
  const servers = new Set((process.env.BENCH_SERVERS ?? 'ours,bare,socketio').split(','));
  const run = (scenario: string, server: 'ours' | 'bare' | 'socketio') => only.has(scenario) && servers.has(server);
  const skipped = {
    deliveriesPerSec: NaN,
    cpuUsPerDelivery: { server: NaN, clients: NaN },
    latency: { p50: NaN, p99: NaN, max: NaN },
    deliverySql: NaN,
    sqlPerDelivery: NaN,
    executionsPerMessage: NaN,
    storm: undefined,
  };
  const hotBare = run('hot', 'bare') ? await hotRoom('bare', n, m, false) : skipped;
  const hotSio = run('hot', 'socketio') ? await hotRoom('socketio', n, m, false) : skipped;
  const hotOurs = run('hot', 'ours') || run('storm', 'ours') ? await hotRoom('ours', n, m, only.has('storm')) : skipped;
  const stormSio = run('storm', 'socketio') ? await socketIoStorm(n) : undefined;
  // Issue 32: receipts in a large room; its anchor is the hot room's bare `ws` delivery rate of this run.
  const receipts = run('receipts', 'ours') ? await receiptsRoom(Number(process.env.BENCH_RECEIPT_MEMBERS ?? 1000)) : undefined;
  const idleBare = run('idle', 'bare') ? await idleSockets('bare', idle) : NaN;
  const idleSio = run('idle', 'socketio') ? await idleSockets('socketio', idle) : NaN;
  const idleOurs = run('idle', 'ours') ? await idleSockets('ours', idle) : NaN;
  const ratio = (a: number, b: number) => Number((a / b).toFixed(3));
  const ourStorm = hotOurs.storm as { timeUntilAllCurrentMs: number } | undefined;
  return {
    hotRoom: {
      subscribers: n,
      messages: m,
      deliveriesPerSec: {
        ours: hotOurs.deliveriesPerSec,
        bareWs: hotBare.deliveriesPerSec,
        ratio: ratio(hotOurs.deliveriesPerSec, hotBare.deliveriesPerSec),
        target: '>= 0.5',
        socketIo: hotSio.deliveriesPerSec,
        oursOverSocketIo: ratio(hotOurs.deliveriesPerSec, hotSio.deliveriesPerSec),
      },
      // The burst's CPU time per delivery (µs), the server's and the client process's; ratios ours over the anchor, of the server's.
      cpuUsPerDelivery: {
        ours: hotOurs.cpuUsPerDelivery,
        bareWs: hotBare.cpuUsPerDelivery,
        ratio: ratio(hotOurs.cpuUsPerDelivery.server, hotBare.cpuUsPerDelivery.server),
        socketIo: hotSio.cpuUsPerDelivery,
        oursOverSocketIo: ratio(hotOurs.cpuUsPerDelivery.server, hotSio.cpuUsPerDelivery.server),
      },
      latencyAt20PerSecMs: {
        ours: hotOurs.latency,
        bareWs: hotBare.latency,
        target: 'p99 < 100',
        socketIo: hotSio.latency,
        oursOverSocketIo: { p50: ratio(hotOurs.latency.p50, hotSio.latency.p50), p99: ratio(hotOurs.latency.p99, hotSio.latency.p99) },
      },
      sqlPerDeliveredEvent: { ours: hotOurs.sqlPerDelivery, deliverySql: hotOurs.deliverySql, executionsPerMessage: hotOurs.executionsPerMessage, target: 0 },
    },
    idleSockets: {
      sockets: idle,
      rssPerSocketKiB: {
        ours: idleOurs,
        bareWs: idleBare,
        ratio: ratio(idleOurs, idleBare),
        target: '<= 1.5',
        socketIo: idleSio,
        oursOverSocketIo: ratio(idleOurs, idleSio),
      },
    },
    reconnectStorm: (hotOurs.storm || stormSio) && {
      ...hotOurs.storm,
      socketIoAnchor: stormSio,
      // Ours over Socket.IO's recovery (null when a Socket.IO client never became current).
      oursOverSocketIo: ourStorm && stormSio?.timeUntilAllCurrentMs ? ratio(ourStorm.timeUntilAllCurrentMs, stormSio.timeUntilAllCurrentMs) : null,
      targetOverSocketIo: '<= 2',
    },
    receipts: receipts && {
      ...receipts,
      anchorBareWsDeliveriesPerSec: hotBare.deliveriesPerSec,
      framesPerSecOverAnchor: ratio(receipts.framesPerSec, hotBare.deliveriesPerSec),
      target: 'at most one receipt frame per conversation per second per subscriber (not members x readers)',
    },
  };
}

const RECEIPTS_QUERY = 'subscription($c: ID) { readReceipt(conversationId: $c) { lastReadSeq readAt coalescedCount user { id username } } }';

/**
 * Issue 32: receipts in a large room. `n` members each subscribe to the room's readReceipt; one
 * message, then every member marks the room read at once (32 requests in flight). Uncoalesced,
 * that is n receipts to n subscribers (n x n frames); coalesced (above SEEN_BY_MAX_MEMBERS, 100),
 * each subscriber gets its own receipt and at most one a second of the others'. Reports the
 * frames the clients received, frames per second over the burst, and the receipts they stood for.
 */
async function receiptsRoom(n: number) {
  progress(`receipts: ${n} members`);
  const server = await child('server.js', ['ours']);
  const { url, wsUrl } = (server.ask as unknown as { info: { url: string; wsUrl: string } }).info;
  const fixture = await server.ask<Fixture>({ cmd: 'fixture', users: n });
  const clients = await child('clients.js', []);
  await clients.ask({ cmd: 'connect', wsUrl, tokens: fixture.tokens, query: RECEIPTS_QUERY, variables: { c: fixture.roomId } });
  await until('subscriptions', 60_000, async () => (await server.ask<ServerStats>({ cmd: 'stats' })).subscribers >= n);
  const gql = async (token: string, query: string, variables: Record<string, unknown>) => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await res.json()) as { errors?: unknown };
    if (body.errors) throw new Error(JSON.stringify(body.errors));
  };
  await gql(fixture.senderToken, 'mutation($c: ID, $t: String!) { sendMessage(input: { conversationId: $c, content: $t }) { seq } }', {
    c: fixture.roomId,
    t: 'read me',
  });
  // The sender's own receipt window closes before the burst.
  await new Promise((r) => setTimeout(r, 1500));
  await clients.ask({ cmd: 'report', reset: true });
  const t0 = now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < n) {
        const token = fixture.tokens[next++];
        await gql(token, 'mutation($c: ID!) { markRead(conversationId: $c) { lastReadSeq } }', { c: fixture.roomId });
      }
    }),
  );
  const marked = now();
  // Frames stop: nothing new for 2.5 s (a coalescing window is 1 s).
  let last = -1;
  let report = await clients.ask<ClientReport>({ cmd: 'report' });
  while (report.receiptFrames !== last) {
    last = report.receiptFrames;
    await new Promise((r) => setTimeout(r, 2500));
    report = await clients.ask<ClientReport>({ cmd: 'report' });
  }
  const seconds = Math.max(0.001, (report.lastReceiptAt - t0) / 1000);
  const result = {
    members: n,
    markReadPerSec: Math.round(n / ((marked - t0) / 1000)),
    receiptFrames: report.receiptFrames,
    uncoalescedFrames: n * n,
    framesPerSubscriber: Number((report.receiptFrames / n).toFixed(2)),
    receiptsCarried: report.receiptsCarried,
    burstSeconds: Number(seconds.toFixed(2)),
    framesPerSec: Math.round(report.receiptFrames / seconds),
  };
  progress('receipts:', JSON.stringify(result));
  await clients.ask({ cmd: 'drop' });
  clients.proc.send({ cmd: 'close' });
  await stopChild(server.proc);
  return result;
}

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});
/** Progress on stderr (stdout carries the results). */
const progress = (...parts: unknown[]) => console.error(`[bench realtime ${new Date().toISOString().slice(11, 19)}]`, ...parts);

/** Forks a child and returns a function that sends a message and resolves with the next answer. */
async function child(script: string, args: string[]): Promise<{ proc: ChildProcess; ask: <T>(msg: unknown) => Promise<T> }> {
  // BENCH_SERVER_NODE_FLAGS (e.g. --trace-gc): extra Node/V8 flags for the server children only.
  const extra = script === 'server.js' ? (process.env.BENCH_SERVER_NODE_FLAGS ?? '').split(' ').filter(Boolean) : [];
  const proc = fork(join(__dirname, script), args, {
    execArgv: ['--expose-gc', '--max-old-space-size=4096', ...extra],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.add(proc);
  proc.once('exit', () => children.delete(proc));
  const queue: ((v: unknown) => void)[] = [];
  let first!: (v: unknown) => void;
  const ready = new Promise((r) => (first = r));
  queue.push(first);
  proc.on('message', (msg) => {
    const r = queue.shift();
    if ((msg as { error?: string }).error) {
      console.error((msg as { error: string }).error);
      process.exit(1);
    }
    r?.(msg);
  });
  proc.on('exit', (code) => {
    if (code) {
      console.error(`${script} exited with ${code}`);
      process.exit(1);
    }
  });
  // A child that exits while we wait for its answer must not leave the orchestrator waiting on nothing.
  proc.on('exit', () => {
    for (const r of queue.splice(0)) r({ exited: true });
  });
  const ask = <T>(msg: unknown) =>
    new Promise<T>((resolve) => {
      queue.push(resolve as (v: unknown) => void);
      proc.send(msg as object);
    });
  const info = await ready;
  return { proc, ask: Object.assign(ask, { info }) as typeof ask & { info: unknown } };
}

const QUERY = 'subscription($c: ID) { messageAdded(conversationId: $c) { id seq content createdAt sender { id username fullName } } }';

async function until(what: string, ms: number, test: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await test())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const pct = (sorted: number[], p: number) => Number(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))].toFixed(1));

/**
 * Sends `storm0`, `storm1`, ... every 100 ms (10 messages a second) until `stop`, which waits for
 * every send in flight and resolves with how many failed. Both storms' traffic.
 */
function steadySender(sendOne: (tag: string) => Promise<void>): { stop: () => Promise<number> } {
  let sending = true;
  let sent = 0;
  let failed = 0;
  const inFlight: Promise<void>[] = [];
  const loop = (async () => {
    while (sending) {
      inFlight.push(
        sendOne(`storm${sent++}`).catch(() => {
          failed++;
        }),
      );
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    stop: async () => {
      sending = false;
      await loop;
      await Promise.all(inFlight);
      return failed;
    },
  };
}

/** The client child of a server kind: socket.io-client sockets for the Socket.IO anchor, raw `ws` graphql-transport-ws ones otherwise. */
const clientScript = (kind: 'ours' | 'bare' | 'socketio') => (kind === 'socketio' ? 'sio-clients.js' : 'clients.js');

async function hotRoom(kind: 'ours' | 'bare' | 'socketio', n: number, m: number, storm: boolean) {
  progress(`hot room (${kind}): ${n} sockets`);
  const server = await child('server.js', [kind]);
  const { url, wsUrl } = (server.ask as unknown as { info: { url: string; wsUrl: string } }).info;
  const fixture: Fixture =
    kind === 'ours' ? await server.ask<Fixture>({ cmd: 'fixture', users: n }) : { roomId: '0', senderToken: '', tokens: Array.from({ length: n }, () => 'x') };
  const clients = await child(clientScript(kind), []);
  await clients.ask({ cmd: 'connect', wsUrl, tokens: fixture.tokens, query: QUERY, variables: { c: fixture.roomId } });
  await until('subscriptions', 60_000, async () => (await server.ask<ServerStats>({ cmd: 'stats' })).subscribers >= n);
  let lastSeq = 0;
  const sendOne = async (tag: string) => {
    const content = `${tag}@${now()}`;
    if (kind !== 'ours') {
      await (await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ content }) })).json();
      return;
    }
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${fixture.senderToken}` },
      body: JSON.stringify({
        query: 'mutation($c: ID, $t: String!) { sendMessage(input: { conversationId: $c, content: $t }) { seq } }',
        variables: { c: fixture.roomId, t: content },
      }),
    });
    const body = (await res.json()) as { data?: { sendMessage: { seq: number } }; errors?: unknown };
    if (!body.data) throw new Error(JSON.stringify(body.errors));
    lastSeq = Math.max(lastSeq, body.data.sendMessage.seq);
  };
  const report = (latencies = false, reset = false) => clients.ask<ClientReport>({ cmd: 'report', latencies, reset });
  const delivered = (count: number) => until('deliveries', 300_000, async () => (await report()).deliveries >= count);

  // Warm-up (JIT, caches, pools), then counters from zero.
  for (let i = 0; i < 5; i++) await sendOne(`warm${i}`);
  await delivered(5 * n);
  await report(false, true);
  await server.ask({ cmd: 'resetCounters' });

  // Throughput: m messages, 4 in flight at a time (profiled with BENCH_CPU_PROF).
  await server.ask({ cmd: 'profileStart' });
  const serverCpu0 = (await server.ask<{ cpuUs: number }>({ cmd: 'cpu' })).cpuUs;
  const clientCpu0 = (await report()).cpuUs;
  const t0 = now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < m) {
        next++;
        await sendOne(`burst${next}`);
      }
    }),
  );
  await delivered(n * m);
  const burst = await report(false, true);
  const serverCpu = (await server.ask<{ cpuUs: number }>({ cmd: 'cpu' })).cpuUs - serverCpu0;
  const deliveriesPerSec = Math.round((n * m) / ((burst.lastAt - t0) / 1000));
  // CPU per delivery over the burst: the server's and the client process's (less moved by other load on the machine than the rate).
  const cpuUsPerDelivery = { server: Number((serverCpu / (n * m)).toFixed(2)), clients: Number(((burst.cpuUs - clientCpu0) / (n * m)).toFixed(2)) };
  await server.ask({ cmd: 'profileStop' });
  const stats = await server.ask<ServerStats>({ cmd: 'stats' });
  progress(
    `hot room (${kind}): ${deliveriesPerSec} deliveries/s; CPU µs per delivery ${JSON.stringify(cpuUsPerDelivery)}; ${stats.deliverySql} SQL in delivery, ${stats.executions} executions for ${m} messages`,
  );

  // Latency at a steady 20 messages/s.
  const sends: Promise<void>[] = [];
  for (let i = 0; i < m; i++) {
    sends.push(sendOne(`steady${i}`));
    await new Promise((r) => setTimeout(r, 50));
  }
  await Promise.all(sends);
  await delivered(n * m);
  const steady = await report(true, true);
  const sorted = steady.latencies.sort((a, b) => a - b);
  const latency = { p50: pct(sorted, 50), p99: pct(sorted, 99), max: Number(sorted[sorted.length - 1].toFixed(1)) };
  progress(`hot room (${kind}): latency at 20/s p50 ${latency.p50} ms, p99 ${latency.p99} ms`);

  let stormResult: Record<string, unknown> | undefined;
  if (storm && kind === 'ours') {
    await server.ask({ cmd: 'resetCounters' });
    await server.ask({ cmd: 'profileStart' });
    const cpu0 = (await server.ask<{ cpuUs: number }>({ cmd: 'cpu' })).cpuUs;
    stormResult = await reconnectStorm(clients.ask, sendOne, () => lastSeq, url, fixture.roomId, n);
    const cpuMs = Math.round(((await server.ask<{ cpuUs: number }>({ cmd: 'cpu' })).cpuUs - cpu0) / 1000);
    await server.ask({ cmd: 'profileStop' });
    const after = await server.ask<ServerStats>({ cmd: 'stats' });
    stormResult.sqlStatements = after.sql;
    // Server CPU from the drop until the check (a few seconds past the last catch-up).
    stormResult.serverCpuMs = cpuMs;
    progress(`reconnect storm: ${after.sql} SQL statements in all`);
  }

  await clients.ask({ cmd: 'drop' });
  clients.proc.send({ cmd: 'close' });
  await stopChild(server.proc);
  return {
    deliveriesPerSec,
    cpuUsPerDelivery,
    latency,
    deliverySql: stats.deliverySql,
    sqlPerDelivery: Number((stats.deliverySql / (n * m)).toFixed(4)),
    executionsPerMessage: Number((stats.executions / m).toFixed(2)),
    storm: stormResult,
  };
}

async function reconnectStorm(
  ask: <T>(msg: unknown) => Promise<T>,
  sendOne: (tag: string) => Promise<void>,
  lastSeq: () => number,
  httpUrl: string,
  roomId: string,
  n: number,
) {
  progress(`reconnect storm: ${n} clients`);
  const from = lastSeq();
  const sender = steadySender(sendOne);
  await new Promise((r) => setTimeout(r, 500));
  const storm = await ask<{ allCaughtUpMs: number; retries: unknown; openedMs: unknown; caughtUpMs: unknown; catchUpRequests: number; clientCpuMs: number }>({
    cmd: 'storm',
    httpUrl,
    conversationId: roomId,
    from,
  });
  const { allCaughtUpMs } = storm;
  progress('reconnect storm:', JSON.stringify(storm));
  await new Promise((r) => setTimeout(r, 2000));
  const failedSends = await sender.stop();
  await new Promise((r) => setTimeout(r, 1500));
  const to = lastSeq();
  const { lost, duplicated } = await ask<{ lost: number; duplicated: number }>({ cmd: 'check', from, to });
  progress(`reconnect storm: all current after ${Math.round(allCaughtUpMs)} ms; lost ${lost}, duplicated ${duplicated}, failed sends ${failedSends}`);
  return {
    clients: n,
    messagesDuringStorm: to - from,
    timeUntilAllCurrentMs: Math.round(allCaughtUpMs),
    lost,
    duplicated,
    failedSends,
    socketsAcknowledgedMs: storm.openedMs,
    caughtUpMs: storm.caughtUpMs,
    clientRetries: storm.retries,
    catchUpRequests: storm.catchUpRequests,
    clientCpuMs: storm.clientCpuMs,
    target: '< 10000 ms, 0 lost, 0 duplicated',
  };
}

async function idleSockets(kind: 'ours' | 'bare' | 'socketio', count: number): Promise<number> {
  progress(`idle sockets (${kind}): ${count}`);
  const server = await child('server.js', [kind]);
  const { wsUrl } = (server.ask as unknown as { info: { wsUrl: string } }).info;
  const fixture: Fixture =
    kind === 'ours'
      ? await server.ask<Fixture>({ cmd: 'fixture', users: count })
      : { roomId: '0', senderToken: '', tokens: Array.from({ length: count }, () => 'x') };
  const clients = await child(clientScript(kind), []);
  // One socket first: lazily made structures (pools, caches) are not counted per socket.
  await clients.ask({ cmd: 'connect', wsUrl, tokens: fixture.tokens.slice(0, 1), query: QUERY, variables: { c: fixture.roomId } });
  await until('subscriptions', 60_000, async () => (await server.ask<ServerStats>({ cmd: 'stats' })).subscribers >= 1);
  await new Promise((r) => setTimeout(r, 500));
  const before = await server.ask<ServerStats>({ cmd: 'stats' });
  await clients.ask({ cmd: 'connect', wsUrl, tokens: fixture.tokens.slice(1), query: QUERY, variables: { c: fixture.roomId } });
  await until('subscriptions', 120_000, async () => (await server.ask<ServerStats>({ cmd: 'stats' })).subscribers >= count);
  await new Promise((r) => setTimeout(r, 1000));
  const after = await server.ask<ServerStats>({ cmd: 'stats' });
  if (kind === 'ours' && process.env.BENCH_HEAP_SNAPSHOT) await server.ask({ cmd: 'heapSnapshot' });
  await clients.ask({ cmd: 'drop' });
  clients.proc.send({ cmd: 'close' });
  await stopChild(server.proc);
  const perSocket = Number(((after.rss - before.rss) / (count - 1) / 1024).toFixed(1));
  const kib = (key: 'heapUsed' | 'heapTotal' | 'external') => ((after[key] - before[key]) / (count - 1) / 1024).toFixed(1);
  // RSS against what V8 accounts for: the heap in use, the heap committed, and external memory.
  progress(
    `idle sockets (${kind}): ${perSocket} KiB RSS per socket (JS heap used ${kib('heapUsed')} KiB, committed ${kib('heapTotal')} KiB; external ${kib('external')} KiB)`,
  );
  return perSocket;
}

/** The installed version of a package (read from its package.json next to its entry point's folder). */
function versionOf(pkg: string): string {
  let dir = dirname(require.resolve(pkg));
  for (;;) {
    try {
      const json = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version: string };
      if (json.name === pkg) return json.version;
    } catch {
      // no package.json here: one folder up
    }
    if (dirname(dir) === dir) return 'unknown';
    dir = dirname(dir);
  }
}

/**
 * The reconnect storm's Socket.IO 4 anchor (issue 35): a Socket.IO server with
 * connectionStateRecovery (its defaults: sessions and broadcast packets kept 2 minutes) and `n`
 * socket.io-client clients in one room; 5 warm-up messages (each client then holds the offset it
 * recovers from), then messages at 10/s through POST /send (each with the seq the server assigns);
 * 0.5 s in, the server closes every socket's engine connection at once (`socket.conn.close()`,
 * a recoverable disconnect). Each client reconnects with socket.io-client's default reconnection
 * (1 s ± 50%, then doubling up to 5 s) and the server replays the packets it missed when it
 * recovers the session (`socket.recovered`); a client not recovered has no history to fetch its
 * gap from: its missing seqs count as lost. 2 s after all are back, sending stops; 1.5 s later
 * each client's seqs in (from, to] are counted. A client is current once it has every seq emitted
 * before it reconnected; `timeUntilAllCurrentMs` is the last client's, null if any lacks a seq.
 */
async function socketIoStorm(n: number) {
  progress(`reconnect storm (socketio anchor): ${n} clients`);
  const server = await child('server.js', ['socketio', 'recovery']);
  const { url, wsUrl } = (server.ask as unknown as { info: { url: string; wsUrl: string } }).info;
  const clients = await child('sio-clients.js', []);
  await clients.ask({ cmd: 'connect', wsUrl, tokens: Array.from({ length: n }, () => 'x'), query: '', variables: {} });
  await until('room joins', 60_000, async () => (await server.ask<ServerStats>({ cmd: 'stats' })).subscribers >= n);
  const emitted: [number, number][] = [];
  const lastSeq = () => emitted.reduce((a, [seq]) => Math.max(a, seq), 0);
  const sendOne = async (tag: string) => {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ content: `${tag}@${now()}` }) });
    const { seq, at } = (await res.json()) as { seq: number; at: number };
    emitted.push([seq, at]);
  };
  for (let i = 0; i < 5; i++) await sendOne(`warm${i}`);
  await until('deliveries', 60_000, async () => (await clients.ask<ClientReport>({ cmd: 'report' })).deliveries >= 5 * n);
  const from = lastSeq();
  await clients.ask({ cmd: 'track', from });

  const sender = steadySender(sendOne);
  await new Promise((r) => setTimeout(r, 500));
  await clients.ask({ cmd: 'arm' });
  const { t0, dropped } = await server.ask<{ t0: number; dropped: number }>({ cmd: 'dropAll' });
  let allBack = true;
  await until('reconnections', 180_000, async () => ((await clients.ask<ClientReport>({ cmd: 'report' })).reconnected ?? 0) >= n).catch(() => {
    allBack = false;
  });
  progress(`reconnect storm (socketio anchor): ${allBack ? 'all' : 'not all'} reconnected after ${Math.round(now() - t0)} ms`);
  await new Promise((r) => setTimeout(r, 2000));
  const failedSends = await sender.stop();
  await new Promise((r) => setTimeout(r, 1500));
  const to = lastSeq();
  const r = await clients.ask<SioStormResult>({ cmd: 'stormResult', t0, from, to, emitted });
  await clients.ask({ cmd: 'drop' });
  clients.proc.send({ cmd: 'close' });
  await stopChild(server.proc);

  const p = (xs: number[]) => {
    const sorted = [...xs].sort((a, b) => a - b);
    return sorted.length ? { p50: Math.round(pct(sorted, 50)), p99: Math.round(pct(sorted, 99)), max: Math.round(sorted[sorted.length - 1]) } : null;
  };
  const current = p(r.currentMs);
  const result = {
    socketIo: versionOf('socket.io'),
    socketIoClient: versionOf('socket.io-client'),
    clients: n,
    dropped,
    messagesDuringStorm: to - from,
    timeUntilAllCurrentMs: r.complete === n && current ? current.max : null,
    clientsCurrent: r.complete,
    reconnected: r.reconnected,
    recovered: r.recovered,
    lost: r.lost,
    duplicated: r.duplicated,
    failedSends,
    dropSeenMs: p(r.droppedMs),
    socketsReestablishedMs: p(r.reconnectedMs),
    currentMs: current,
    disconnectReasons: r.reasons,
  };
  progress('reconnect storm (socketio anchor):', JSON.stringify(result));
  return result;
}
