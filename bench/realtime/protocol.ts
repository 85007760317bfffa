/** Messages between the realtime benchmark's orchestrator and its child processes (IPC). */

/** Orchestrator → server child. */
export type ServerCommand =
  | { cmd: 'fixture'; users: number }
  | { cmd: 'stats' }
  | { cmd: 'resetCounters' }
  | { cmd: 'profileStart' }
  | { cmd: 'profileStop' }
  /** BENCH_HEAP_SNAPSHOT=<dir>: a heap snapshot of the server with its idle sockets open. */
  | { cmd: 'heapSnapshot' }
  | { cmd: 'stop' };

/** Server child → orchestrator, in answer to a command (same order). */
export interface ServerStats {
  rss: number;
  heapUsed: number;
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
  /** CPU time the client process used so far (user + system), µs. */
  cpuMicros?: number;
}

/** A clock shared by processes on one machine: ms since the epoch, sub-ms precision. */
export const now = () => performance.timeOrigin + performance.now();
