import type { WebSocket, WebSocketServer } from 'ws';

/**
 * Every close code the realtime sockets use, in one table (graphql-ws at /graphql, the legacy
 * WebSocket dialects at /ws/chat/<x>/, and Socket.IO's `error` event, which names them in `code`).
 * RFC 6455 §7.4.1 for the 1000s; the 4400s mirror HTTP statuses (graphql-ws's own 4403 Forbidden,
 * 4408 init timeout and 4400 bad message come from graphql-ws's `CloseCode`).
 */
export const CloseCode = {
  /** The server is shutting down (RFC 6455 "Going Away"). */
  SHUTTING_DOWN: 1001,
  /** Too many client frames waiting to be processed (RFC 6455 "Policy Violation"). */
  POLICY: 1008,
  /** An unexpected failure (RFC 6455 "Internal Error"). */
  INTERNAL: 1011,
  /** A rate or socket limit refused the connection (RFC 6455 "Try Again Later"). */
  TRY_AGAIN_LATER: 1013,
  /** Legacy sockets: a bad `<x>` (encoding), `?dialect=`, or a chat with oneself. */
  BAD_REQUEST: 4400,
  /** Legacy sockets and Socket.IO: no access token, or an invalid, expired or logged-out one, at connect. */
  UNAUTHORIZED: 4401,
  /** graphql-ws's Forbidden: authentication failed; later, the login expired or was logged out, or (legacy) a block or a lost membership. */
  FORBIDDEN: 4403,
  /** Legacy sockets: no conversation the caller may read, and no user, by that name. */
  NOT_FOUND: 4404,
  /** The socket's unsent data or undelivered events passed their limit (WS_MAX_BUFFERED_BYTES, WS_MAX_QUEUED_EVENTS): reconnect and catch up with messagesSince. */
  TOO_FAR_BEHIND: 4507,
} as const;

/** The `code` Socket.IO's `error` event gives each close code (seed 002 has no close frame). */
export const CLOSE_CODE_NAMES: Readonly<Record<number, string>> = {
  [CloseCode.SHUTTING_DOWN]: 'SHUTTING_DOWN',
  [CloseCode.POLICY]: 'POLICY_VIOLATION',
  [CloseCode.INTERNAL]: 'INTERNAL_SERVER_ERROR',
  [CloseCode.TRY_AGAIN_LATER]: 'RATE_LIMITED',
  [CloseCode.UNAUTHORIZED]: 'UNAUTHENTICATED',
  [CloseCode.FORBIDDEN]: 'FORBIDDEN',
  [CloseCode.TOO_FAR_BEHIND]: 'TOO_FAR_BEHIND',
};

/** A close reason fits in 123 bytes (RFC 6455 §5.5). */
export function truncateReason(reason: string): string {
  return Buffer.from(reason)
    .subarray(0, 120)
    .toString('utf8')
    .replace(/\uFFFD$/, '');
}

/** `readyState` of an open socket (WebSocket.OPEN). */
export const OPEN = 1;

/**
 * The part of a socket the gate and SocketSessions use: a `ws` WebSocket as it is, or a
 * Socket.IO connection behind an adapter (legacy/socketio.ts).
 */
export interface GateSocket {
  /** 0 connecting, 1 open ({@link OPEN}), 2 closing, 3 closed (the WebSocket states). */
  readonly readyState: number;
  /** Bytes accepted by `send` and not yet handed to the network. */
  readonly bufferedAmount: number;
  /** Sends one text frame (never waits). */
  send(data: string): void;
  /** Closes with a {@link CloseCode} and a reason (at most 123 bytes). */
  close(code: number, reason: string): void;
  /** Drops the connection without a closing handshake. */
  terminate(): void;
  once(event: 'close', listener: (code: number, reason: Buffer) => void): unknown;
  once(event: 'error', listener: (err: Error) => void): unknown;
  on(event: 'close', listener: (code: number, reason: Buffer) => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
}

/**
 * Pings every socket each `intervalMs`; a socket that did not answer the previous ping is
 * terminated (RFC 6455 §5.5.2/5.5.3), so a vanished client's subscriptions and presence end.
 * Returns the function that stops it.
 */
export function keepAlive(server: WebSocketServer, intervalMs: number): () => void {
  const alive = new WeakMap<WebSocket, boolean>();
  server.on('connection', (socket) => {
    alive.set(socket, true);
    socket.on('pong', () => alive.set(socket, true));
  });
  const timer = setInterval(() => {
    for (const socket of server.clients) {
      if (alive.get(socket) === false) {
        socket.terminate();
        continue;
      }
      alive.set(socket, false);
      socket.ping();
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
