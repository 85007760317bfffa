import WebSocket from 'ws';
import { now, serveCommands, type ClientCommand, type ClientReport } from './protocol';

/**
 * The realtime benchmark's client process: many graphql-transport-ws sockets (raw `ws`, the
 * least a client does: handshake, one subscription, JSON.parse of every frame). Message content
 * carries its send time (`<tag>@<ms since epoch>`), so each delivery's latency is measured here.
 * For the reconnect storm, each client tracks the seqs it has and catches up over HTTP with
 * messagesSince, as the resume recipe of docs/realtime.md says.
 */
interface Client {
  token: string;
  socket?: WebSocket;
  /** Seqs received (live or by catch-up). */
  seen: Set<number>;
  /** Seqs received live twice on one subscription. */
  duplicates: number;
  caughtUpAt?: number;
  repairing?: Promise<void>;
}

/** Set by the storm: where gaps are fetched from. */
let repair: { httpUrl: string; conversationId: string; from: number } | undefined;

const clients: Client[] = [];
let deliveries = 0;
let receiptFrames = 0;
let receiptsCarried = 0;
let lastReceiptAt = 0;
let latencies: number[] = [];
let firstAt = 0;
let lastAt = 0;
const closes: Record<string, number> = {};
let query = '';
let variables: Record<string, unknown> = {};
let wsUrl = '';

function frontier(c: Client, from: number): number {
  let s = from;
  while (c.seen.has(s + 1)) s++;
  return s;
}

/** Retries of the storm: sockets reopened after a failure or 10 s without an ack, catch-up requests retried. */
const retries = { open: 0, catchUp: 0 };
/** Catch-up requests of the storm (each messagesSince page, retries included). */
let catchUpRequests = 0;
/** Per-client durations of the storm (ms): socket acknowledged, catch-up done. */
const phases: { open: number[]; catchUp: number[] } = { open: [], catchUp: [] };

/**
 * Opens the client's socket and subscribes; after a failure, or 30 s without an ack, reopens
 * with graphql-ws's default back-off (1 s, 2 s, 4 s, ... plus 0.3 to 3 s at random).
 */
async function openRetrying(c: Client): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await Promise.race([open(c), new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no ack within 30 s')), 30_000))]);
      return;
    } catch {
      retries.open++;
      c.socket?.terminate();
      await new Promise((r) => setTimeout(r, 1000 * 2 ** Math.min(attempt, 4) + 300 + Math.random() * 2700));
    }
  }
}

function open(c: Client): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(wsUrl, 'graphql-transport-ws');
    c.socket = socket;
    const liveSeen = new Set<number>();
    socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${c.token}` } })));
    socket.on('message', (data) => {
      const msg = JSON.parse(String(data)) as { type: string; payload?: { data?: { messageAdded?: { content: string; seq: number } } } };
      if (msg.type === 'connection_ack') {
        socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query, variables } }));
        resolve();
        return;
      }
      if (msg.type !== 'next') return;
      // Issue 32: read receipt frames are counted apart (the receipts scenario), with the receipts each stands for.
      const receipt = (msg.payload?.data as { readReceipt?: { coalescedCount: number } } | undefined)?.readReceipt;
      if (receipt) {
        receiptFrames++;
        receiptsCarried += receipt.coalescedCount;
        lastReceiptAt = now();
        return;
      }
      const m = msg.payload?.data?.messageAdded;
      if (!m) return;
      const t = now();
      deliveries++;
      if (!firstAt) firstAt = t;
      lastAt = t;
      const at = Number(m.content.slice(m.content.lastIndexOf('@') + 1));
      latencies.push(t - at);
      if (liveSeen.has(m.seq)) c.duplicates++;
      liveSeen.add(m.seq);
      // A live seq past the first gap: fetch the gap (the subscription may have started after a
      // catch-up query had already answered).
      if (repair && !c.repairing && m.seq > frontier(c, repair.from) + 1) {
        c.repairing = catchUp(c, repair.httpUrl, repair.conversationId, repair.from).finally(() => {
          c.repairing = undefined;
        });
      }
      c.seen.add(m.seq);
    });
    socket.on('close', (code) => {
      closes[code] = (closes[code] ?? 0) + 1;
      reject(new Error(`closed with ${code}`));
    });
    socket.on('error', (err) => reject(err));
  });
}

async function inBatches<T>(items: T[], size: number, fn: (x: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}

/** The resume recipe: subscribe (done by open), then messagesSince from the first gap until a short page. */
async function catchUp(c: Client, httpUrl: string, conversationId: string, from: number): Promise<void> {
  for (;;) {
    const after = frontier(c, from);
    let body: { data?: { messagesSince: { seq: number }[] }; errors?: unknown };
    catchUpRequests++;
    try {
      const res = await fetch(httpUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${c.token}` },
        body: JSON.stringify({
          query: 'query($c: ID!, $a: Int!) { messagesSince(conversationId: $c, afterSeq: $a, limit: 100) { seq } }',
          variables: { c: conversationId, a: after },
        }),
        signal: AbortSignal.timeout(60_000),
      });
      body = (await res.json()) as typeof body;
      if (!body.data) throw new Error(`messagesSince failed: ${JSON.stringify(body.errors)}`);
    } catch {
      retries.catchUp++;
      await new Promise((r) => setTimeout(r, 200 + Math.random() * 800));
      continue;
    }
    for (const m of body.data.messagesSince) c.seen.add(m.seq);
    if (body.data.messagesSince.length < 100) break;
  }
  c.caughtUpAt = now();
}

serveCommands(
  async (m: ClientCommand | { cmd: 'storm'; httpUrl: string; conversationId: string; from: number } | { cmd: 'check'; from: number; to: number }) => {
    if (m.cmd === 'connect') {
      ({ wsUrl, query, variables } = m);
      const fresh = m.tokens.map((token) => ({ token, seen: new Set<number>(), duplicates: 0 }));
      clients.push(...fresh);
      await inBatches(fresh, 100, open);
      process.send!({ ok: true });
    } else if (m.cmd === 'report') {
      const cpu = process.cpuUsage();
      const r: ClientReport = {
        sockets: clients.length,
        open: clients.filter((c) => c.socket?.readyState === WebSocket.OPEN).length,
        deliveries,
        latencies: m.latencies ? latencies : [],
        firstAt,
        lastAt,
        closes,
        receiptFrames,
        receiptsCarried,
        lastReceiptAt,
        cpuUs: cpu.user + cpu.system,
      };
      process.send!(r);
      if (m.reset) {
        receiptFrames = 0;
        receiptsCarried = 0;
        lastReceiptAt = 0;
        deliveries = 0;
        latencies = [];
        firstAt = 0;
        lastAt = 0;
      }
    } else if (m.cmd === 'storm') {
      // Every socket drops at once; each client reconnects, resubscribes and catches up.
      const t0 = now();
      const cpu0 = process.cpuUsage();
      catchUpRequests = 0;
      repair = { httpUrl: m.httpUrl, conversationId: m.conversationId, from: m.from };
      for (const c of clients) c.socket?.terminate();
      for (const c of clients) c.caughtUpAt = undefined;
      await Promise.all(
        clients.map(async (c) => {
          await openRetrying(c);
          phases.open.push(now() - t0);
          // Live messages that arrive meanwhile do not start a second catch-up.
          c.repairing = catchUp(c, m.httpUrl, m.conversationId, m.from);
          await c.repairing;
          c.repairing = undefined;
          phases.catchUp.push(now() - t0);
          // A gap left behind the first catch-up (a message committed before the subscription started).
          if (frontier(c, m.from) < Math.max(m.from, ...c.seen)) {
            c.repairing = catchUp(c, m.httpUrl, m.conversationId, m.from).finally(() => {
              c.repairing = undefined;
            });
          }
        }),
      );
      const pct = (xs: number[], p: number) => Math.round([...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]);
      const cpu = process.cpuUsage(cpu0);
      process.send!({
        allCaughtUpMs: Math.max(...clients.map((c) => c.caughtUpAt! - t0)),
        t0,
        retries,
        catchUpRequests,
        clientCpuMs: Math.round((cpu.user + cpu.system) / 1000),
        openedMs: { p50: pct(phases.open, 50), p99: pct(phases.open, 99) },
        caughtUpMs: { p50: pct(phases.catchUp, 50), p99: pct(phases.catchUp, 99) },
      });
    } else if (m.cmd === 'check') {
      await Promise.all(clients.map((c) => c.repairing));
      let lost = 0;
      let duplicated = 0;
      for (const c of clients) {
        for (let s = m.from + 1; s <= m.to; s++) if (!c.seen.has(s)) lost++;
        duplicated += c.duplicates;
      }
      process.send!({ lost, duplicated });
    } else if (m.cmd === 'drop') {
      for (const c of clients) c.socket?.terminate();
      clients.length = 0;
      process.send!({ ok: true });
    }
  },
);
