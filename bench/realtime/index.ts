import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { stopChild } from '../children';
import { now, type ClientReport, type Fixture, type ServerStats } from './protocol';

/**
 * The realtime benchmark (issue 11), each scenario run against our server and against a bare
 * `ws` anchor in the same run, server and clients in separate processes (2 cores: one each):
 * - hot room: N subscriber sockets in one room; M messages sent 4 at a time (deliveries/s), then
 *   M messages at a steady 20/s (delivery latency p50/p99), and SQL statements run by delivery;
 * - idle sockets: server RSS growth per socket with one subscription;
 * - reconnect storm (ours only: the anchor has no history): every socket drops at once while
 *   messages flow at 10/s; each client reconnects, resubscribes and catches up with
 *   messagesSince; time until all are current, and messages lost or duplicated.
 * BENCH_SUBSCRIBERS (2000), BENCH_ROOM_MESSAGES (100), BENCH_IDLE_SOCKETS (5000) size them.
 */
export async function benchRealtime(): Promise<Record<string, unknown>> {
  const n = Number(process.env.BENCH_SUBSCRIBERS ?? 2000);
  const m = Number(process.env.BENCH_ROOM_MESSAGES ?? 100);
  const idle = Number(process.env.BENCH_IDLE_SOCKETS ?? 5000);
  // BENCH_SCENARIOS=hot,receipts,idle,storm (default: all) picks scenarios (the storm runs after the hot room).
  const only = new Set((process.env.BENCH_SCENARIOS ?? 'hot,receipts,idle,storm').split(','));
  const skipped = {
    deliveriesPerSec: NaN,
    latency: { p50: NaN, p99: NaN, max: NaN },
    deliverySql: NaN,
    sqlPerDelivery: NaN,
    executionsPerMessage: NaN,
    storm: undefined,
  };
  const hotBare = only.has('hot') ? await hotRoom('bare', n, m, false) : skipped;
  const hotOurs = only.has('hot') || only.has('storm') ? await hotRoom('ours', n, m, only.has('storm')) : skipped;
  // Issue 32: receipts in a large room; its anchor is the hot room's bare `ws` delivery rate of this run.
  const receipts = only.has('receipts') ? await receiptsRoom(Number(process.env.BENCH_RECEIPT_MEMBERS ?? 1000)) : undefined;
  const idleBare = only.has('idle') ? await idleSockets('bare', idle) : NaN;
  const idleOurs = only.has('idle') ? await idleSockets('ours', idle) : NaN;
  const ratio = (a: number, b: number) => Number((a / b).toFixed(3));
  return {
    hotRoom: {
      subscribers: n,
      messages: m,
      deliveriesPerSec: {
        ours: hotOurs.deliveriesPerSec,
        bareWs: hotBare.deliveriesPerSec,
        ratio: ratio(hotOurs.deliveriesPerSec, hotBare.deliveriesPerSec),
        target: '>= 0.5',
      },
      latencyAt20PerSecMs: { ours: hotOurs.latency, bareWs: hotBare.latency, target: 'p99 < 100' },
      sqlPerDeliveredEvent: { ours: hotOurs.sqlPerDelivery, deliverySql: hotOurs.deliverySql, executionsPerMessage: hotOurs.executionsPerMessage, target: 0 },
    },
    idleSockets: {
      sockets: idle,
      rssPerSocketKiB: { ours: idleOurs, bareWs: idleBare, ratio: ratio(idleOurs, idleBare), target: '<= 1.5' },
    },
    reconnectStorm: hotOurs.storm,
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

async function hotRoom(kind: 'ours' | 'bare', n: number, m: number, storm: boolean) {
  progress(`hot room (${kind}): ${n} sockets`);
  const server = await child('server.js', [kind]);
  const { url, wsUrl } = (server.ask as unknown as { info: { url: string; wsUrl: string } }).info;
  const fixture: Fixture =
    kind === 'ours' ? await server.ask<Fixture>({ cmd: 'fixture', users: n }) : { roomId: '0', senderToken: '', tokens: Array.from({ length: n }, () => 'x') };
  const clients = await child('clients.js', []);
  await clients.ask({ cmd: 'connect', wsUrl, tokens: fixture.tokens, query: QUERY, variables: { c: fixture.roomId } });
  await until('subscriptions', 60_000, async () => (await server.ask<ServerStats>({ cmd: 'stats' })).subscribers >= n);
  let lastSeq = 0;
  const sendOne = async (tag: string) => {
    const content = `${tag}@${now()}`;
    if (kind === 'bare') {
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
  const deliveriesPerSec = Math.round((n * m) / ((burst.lastAt - t0) / 1000));
  await server.ask({ cmd: 'profileStop' });
  const stats = await server.ask<ServerStats>({ cmd: 'stats' });
  progress(`hot room (${kind}): ${deliveriesPerSec} deliveries/s; ${stats.deliverySql} SQL in delivery, ${stats.executions} executions for ${m} messages`);

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
    stormResult = await reconnectStorm(clients.ask, sendOne, () => lastSeq, url, fixture.roomId, n);
    await server.ask({ cmd: 'profileStop' });
    const after = await server.ask<ServerStats>({ cmd: 'stats' });
    stormResult.sqlStatements = after.sql;
    progress(`reconnect storm: ${after.sql} SQL statements in all`);
  }

  await clients.ask({ cmd: 'drop' });
  clients.proc.send({ cmd: 'close' });
  await stopChild(server.proc);
  return {
    deliveriesPerSec,
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
  let sending = true;
  let sent = 0;
  let failedSends = 0;
  const inFlight: Promise<void>[] = [];
  const sender = (async () => {
    while (sending) {
      inFlight.push(
        sendOne(`storm${sent++}`).catch(() => {
          failedSends++;
        }),
      );
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  await new Promise((r) => setTimeout(r, 500));
  const storm = await ask<{ allCaughtUpMs: number; retries: unknown; openedMs: unknown; caughtUpMs: unknown }>({
    cmd: 'storm',
    httpUrl,
    conversationId: roomId,
    from,
  });
  const { allCaughtUpMs } = storm;
  progress('reconnect storm:', JSON.stringify(storm));
  await new Promise((r) => setTimeout(r, 2000));
  sending = false;
  await sender;
  await Promise.all(inFlight);
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
    target: '< 10000 ms, 0 lost, 0 duplicated',
  };
}

async function idleSockets(kind: 'ours' | 'bare', count: number): Promise<number> {
  progress(`idle sockets (${kind}): ${count}`);
  const server = await child('server.js', [kind]);
  const { wsUrl } = (server.ask as unknown as { info: { wsUrl: string } }).info;
  const fixture: Fixture =
    kind === 'ours'
      ? await server.ask<Fixture>({ cmd: 'fixture', users: count })
      : { roomId: '0', senderToken: '', tokens: Array.from({ length: count }, () => 'x') };
  const clients = await child('clients.js', []);
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
  progress(`idle sockets (${kind}): ${perSocket} KiB RSS per socket (JS heap ${((after.heapUsed - before.heapUsed) / (count - 1) / 1024).toFixed(1)} KiB)`);
  return perSocket;
}
