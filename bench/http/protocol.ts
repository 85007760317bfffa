/** Messages between the request-path benchmark's orchestrator and its server children (IPC). */

/** Orchestrator → server child. */
export type HttpServerCommand =
  /** `senders` (default 0): that many users who are each the first member of every `senders`th group (see HttpFixture.senders). */
  | { cmd: 'fixture'; conversations: number; members: number; senders?: number }
  | { cmd: 'bigGroup'; extra: number }
  | { cmd: 'reactions'; conversationId: string; users: number }
  | { cmd: 'webhook'; url: string }
  | { cmd: 'outbox' }
  | { cmd: 'holdDelivery' }
  | { cmd: 'stats' }
  | { cmd: 'resetCounters' }
  | { cmd: 'profileStart'; label?: string }
  | { cmd: 'profileStop'; label?: string }
  | { cmd: 'stop' };

/** Server child → orchestrator: counters. */
export interface HttpServerStats {
  /** SQL statements run since the last reset (ours; 0 for the anchor). */
  sql: number;
  rss: number;
  subscribers: number;
  /** CPU time the server process used since it started (user + system), µs. */
  cpuMicros: number;
  /** The server's event-loop delay since the last resetCounters (ms; monitorEventLoopDelay, 10 ms resolution). */
  loopDelayMs?: { p50: number; p99: number; max: number };
}

/** The benchmark's users and conversations (ids as strings, as GraphQL returns them). */
export interface HttpFixture {
  conversationIds: string[];
  /** Per conversation, one access token per member (the same order as conversationIds). */
  tokens: string[][];
  /** A DIRECT chat between the first conversation's first two members. */
  direct: { conversationId: string; senderToken: string; recipientToken: string };
  /**
   * When the fixture was asked for `senders`: sender j is the first member (the owner) of the
   * groups j, j + senders, j + 2 * senders, ... (its token is also in `tokens` there), so each of a
   * few clients can send into many of the groups as one user while every group keeps `members`
   * members. Indexes into conversationIds.
   */
  senders?: { token: string; conversationIndexes: number[] }[];
}

/** The heavy-neighbour scenario's fixture (bench/heavy): a GROUP of the heavy user and `extra` bulk members, and a bystander outside it. */
export interface BigGroupFixture {
  groupId: string;
  /** The group's owner, who sends the heavy requests. */
  heavyToken: string;
  /** Another user (not in the group) who sends `{ me { id } }`. */
  bystanderToken: string;
}

/** The outbox's rows by channel and status (bench/outbox): `{ webhook: { DONE: 12, PENDING: 3 }, push: {...} }`. */
export type OutboxCounts = Record<string, Record<string, number>>;
