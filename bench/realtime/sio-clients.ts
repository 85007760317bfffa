import { io, type Socket } from 'socket.io-client';
import { now, serveCommands, type ClientCommand, type ClientReport, type SioClientCommand, type SioStormResult } from './protocol';

/**
 * The realtime benchmark's Socket.IO client process (the Socket.IO 4 anchor's clients):
 * `socket.io-client` sockets, one Manager each (`forceNew`), WebSocket only (`transports:
 * ['websocket']`, no polling), with socket.io-client's default reconnection (first retry after
 * 1 s ± 50%, doubling up to 5 s, no limit) and nothing added. Each socket parses every `message`
 * event (socket.io-parser's JSON.parse) and measures its latency from the send time its content
 * carries (`<tag>@<ms since epoch>`), as the `ws` clients of clients.ts do. For the reconnect
 * storm, each client records when it first got each seq, when it connected again, and whether
 * Socket.IO recovered its state (`socket.recovered`); it has no history to fetch a gap from.
 */
interface Client {
  socket: Socket;
  /** Seq → when it was first received (ms since the epoch), once `track` is on. */
  got: Map<number, number>;
  /** Receipts of a seq already received. */
  duplicates: number;
  /** After `arm`: when it saw its connection drop, and when it connected again (ms since the epoch). */
  droppedAt?: number;
  reconnectedAt?: number;
  recovered?: boolean;
}

interface MessagePayload {
  data: { messageAdded: { seq: number; content: string } };
}

const clients: Client[] = [];
let deliveries = 0;
let latencies: number[] = [];
let firstAt = 0;
let lastAt = 0;
/** Disconnect reasons (Socket.IO's, e.g. "transport close"). */
const closes: Record<string, number> = {};
/** Set by `track`: seqs above it are recorded per client. */
let trackFrom: number | undefined;
/** Set by `arm`: the next connect of each client is its reconnection. */
let armed = false;

/** Opens one client and resolves once it is connected (the server joins it to the room on connection). */
function open(url: string): Promise<Client> {
  return new Promise((resolve, reject) => {
    const socket = io(url, { transports: ['websocket'], forceNew: true });
    const c: Client = { socket, got: new Map(), duplicates: 0 };
    socket.on('message', (payload: MessagePayload) => {
      const m = payload.data.messageAdded;
      const t = now();
      deliveries++;
      if (!firstAt) firstAt = t;
      lastAt = t;
      latencies.push(t - Number(m.content.slice(m.content.lastIndexOf('@') + 1)));
      if (trackFrom !== undefined && m.seq > trackFrom) {
        if (c.got.has(m.seq)) c.duplicates++;
        else c.got.set(m.seq, t);
      }
    });
    socket.on('connect', () => {
      if (armed && c.reconnectedAt === undefined) {
        c.reconnectedAt = now();
        c.recovered = socket.recovered;
      }
    });
    socket.on('disconnect', (reason) => {
      if (armed && c.droppedAt === undefined) c.droppedAt = now();
      closes[reason] = (closes[reason] ?? 0) + 1;
    });
    const timer = setTimeout(() => reject(new Error('a Socket.IO client did not connect within 60 s')), 60_000);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve(c);
    });
  });
}

/**
 * The storm's figures. A client is current once it has every seq emitted before it connected
 * again (missed packets replayed by the recovery come before its `connect` event; live ones after)
 * and, to count at all, every seq in (from, to]: a client that lacks any is not current.
 */
function stormResult(t0: number, from: number, to: number, emitted: [number, number][]): SioStormResult {
  const emittedAt = new Map(emitted);
  const r: SioStormResult = {
    reconnected: 0,
    recovered: 0,
    complete: 0,
    lost: 0,
    duplicated: 0,
    droppedMs: [],
    reconnectedMs: [],
    currentMs: [],
    reasons: closes,
  };
  for (const c of clients) {
    r.duplicated += c.duplicates;
    let missing = 0;
    const back = c.reconnectedAt ?? Infinity;
    let currentAt = back;
    for (let s = from + 1; s <= to; s++) {
      const got = c.got.get(s);
      if (got === undefined) missing++;
      else if ((emittedAt.get(s) ?? Infinity) <= back) currentAt = Math.max(currentAt, got);
    }
    r.lost += missing;
    if (c.reconnectedAt === undefined) continue;
    r.reconnected++;
    if (c.recovered) r.recovered++;
    r.reconnectedMs.push(c.reconnectedAt - t0);
    if (c.droppedAt !== undefined) r.droppedMs.push(c.droppedAt - t0);
    if (missing) continue;
    r.complete++;
    r.currentMs.push(currentAt - t0);
  }
  return r;
}

async function inBatches<T>(items: T[], size: number, fn: (x: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}

serveCommands(async (m: ClientCommand | SioClientCommand) => {
  if (m.cmd === 'connect') {
    // `tokens` only counts the sockets here: the anchor has no logins.
    await inBatches(m.tokens, 100, async () => {
      clients.push(await open(m.wsUrl));
    });
    process.send!({ ok: true });
  } else if (m.cmd === 'report') {
    const r: ClientReport = {
      sockets: clients.length,
      open: clients.filter((c) => c.socket.connected).length,
      reconnected: clients.filter((c) => c.reconnectedAt !== undefined).length,
      deliveries,
      latencies: m.latencies ? latencies : [],
      firstAt,
      lastAt,
      closes,
      receiptFrames: 0,
      receiptsCarried: 0,
      lastReceiptAt: 0,
      cpuUs: process.cpuUsage().user + process.cpuUsage().system,
    };
    process.send!(r);
    if (m.reset) {
      deliveries = 0;
      latencies = [];
      firstAt = 0;
      lastAt = 0;
    }
  } else if (m.cmd === 'track') {
    trackFrom = m.from;
    process.send!({ ok: true });
  } else if (m.cmd === 'arm') {
    armed = true;
    for (const c of clients) c.reconnectedAt = c.droppedAt = undefined;
    process.send!({ ok: true });
  } else if (m.cmd === 'stormResult') {
    process.send!(stormResult(m.t0, m.from, m.to, m.emitted));
  } else if (m.cmd === 'drop') {
    for (const c of clients) c.socket.disconnect();
    clients.length = 0;
    process.send!({ ok: true });
  }
});
