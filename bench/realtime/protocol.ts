/** Messages between the realtime benchmark's orchestrator and its child processes (IPC). */

/** Orchestrator → server child. */
export type ServerCommand =
  | { cmd: 'fixture'; users: number }
  | { cmd: 'stats' }
  | { cmd: 'resetCounters' }
  /** The process's CPU time so far, without a GC first: answers `{ cpuUs }` (user + system, µs). */
  | { cmd: 'cpu' }
  | { cmd: 'profileStart' }
  | { cmd: 'profileStop' }
  /** BENCH_HEAP_SNAPSHOT=<dir>: a heap snapshot of the server with its idle sockets open. */
  | { cmd: 'heapSnapshot' }
  /** The Socket.IO anchor only: closes every socket's engine connection at once; answers `{ t0, dropped }`. */
  | { cmd: 'dropAll' }
  | { cmd: 'stop' };

/** Server child → orchestrator, in answer to a command (same order). */
export interface ServerStats {
  rss: number;
  heapUsed: number;
  /** V8's heap as committed (used, free lists, the young generation): bytes. */
  heapTotal: number;
  /** Memory outside the JS heap that V8 knows of (Buffers, ArrayBuffers, native objects held by JS): bytes. */
  external: number;
  /** SQL statements run while delivering events (hub access checks and executions). */
  deliverySql: number;
  /** All SQL statements. */
  sql: number;
  /** GraphQL executions of the delivery hub. */
  executions: number;
  /** Subscriptions registered (hub subscribers, or the bare server's subscribe messages). */
  subscribers: number;
  sockets: number;
}

export interface Fixture {
  roomId: string;
  senderToken: string;
  /** One access token per subscriber user. */
  tokens: string[];
}

/** Orchestrator → client child. */
export type ClientCommand =
  | { cmd: 'connect'; wsUrl: string; tokens: string[]; query: string; variables: Record<string, unknown>; from?: number }
  | { cmd: 'report'; reset?: boolean; latencies?: boolean }
  | { cmd: 'drop' }
  | { cmd: 'close' };

/** Client child → orchestrator. */
export interface ClientReport {
  sockets: number;
  open: number;
  /** Socket.IO clients (sio-clients.ts): connected again since the storm's `arm`. */
  reconnected?: number;
  deliveries: number;
  /** Send-to-receipt latencies (ms) of the deliveries since the last reset. */
  latencies: number[];
  firstAt: number;
  lastAt: number;
  /** Sockets closed by the server and their codes. */
  closes: Record<string, number>;
  /** Issue 32: readReceipt frames received, the receipts they stand for (coalescedCount), and when the last came. */
  receiptFrames: number;
  receiptsCarried: number;
  lastReceiptAt: number;
  /** The client process's CPU time so far (user + system, µs). */
  cpuUs: number;
}

/** Orchestrator → Socket.IO client child (sio-clients.ts), besides the ClientCommands. */
export type SioClientCommand =
  /** From now on each client records the time it first got each seq above `from`. */
  | { cmd: 'track'; from: number }
  /** The next connect of each client is its reconnection (time and `socket.recovered` recorded). */
  | { cmd: 'arm' }
  /** The storm's figures: `emitted` is every seq's emit time at the server ([seq, ms since the epoch]). */
  | { cmd: 'stormResult'; t0: number; from: number; to: number; emitted: [number, number][] };

/** Socket.IO client child → orchestrator: the storm's figures. */
export interface SioStormResult {
  /** Clients connected again (and how many of them with `socket.recovered`). */
  reconnected: number;
  recovered: number;
  /** Clients with every seq in (from, to]; the others lack some. */
  complete: number;
  /** Missing (client, seq) pairs in (from, to], and seqs a client got more than once. */
  lost: number;
  duplicated: number;
  /** Per client, ms after t0: saw the drop (its `disconnect` event); connected again; current (every seq emitted before it reconnected received). */
  droppedMs: number[];
  reconnectedMs: number[];
  currentMs: number[];
  /** Disconnect reasons seen by the clients. */
  reasons: Record<string, number>;
}

/** A clock shared by processes on one machine: ms since the epoch, sub-ms precision. */
export const now = () => performance.timeOrigin + performance.now();

/**
 * A client child's command loop: runs `handle` for each command from the orchestrator, exits on
 * `close`, answers a thrown error as `{ error }` (the orchestrator then stops), and tells the
 * orchestrator it is ready.
 */
export function serveCommands<M extends { cmd: string }>(handle: (m: M) => Promise<void> | void): void {
  process.on('message', async (m: M) => {
    try {
      if (m.cmd === 'close') process.exit(0);
      await handle(m);
    } catch (err) {
      process.send!({ error: String((err as Error).stack ?? err) });
    }
  });
  process.send!({ ready: true });
}
