import { connect } from 'node:net';
import WebSocket from 'ws';

/** A raw `graphql-transport-ws` socket: every message and the close are recorded, nothing is automatic. */
export class RawSocket {
  readonly messages: any[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private waiters: (() => void)[] = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      this.messages.push(JSON.parse(String(data)));
      this.wake();
    });
    this.closed = new Promise((resolve) =>
      ws.once('close', (code, reason) => {
        resolve({ code, reason: String(reason) });
        this.wake();
      }),
    );
  }

  /** Opens a socket speaking graphql-transport-ws (or `protocol`; null: no subprotocol at all). */
  static async open(wsUrl: string, protocol: string | null = 'graphql-transport-ws', options: WebSocket.ClientOptions = {}): Promise<RawSocket> {
    const ws = protocol === null ? new WebSocket(wsUrl, options) : new WebSocket(wsUrl, protocol, options);
    const socket = new RawSocket(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return socket;
  }

  /** Sends one protocol message (an object, sent as JSON, or a raw string). */
  send(message: object | string): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** connection_init with `Authorization: Bearer <token>` (or `payload` as given). */
  init(token?: string, payload?: Record<string, unknown>): void {
    this.send({ type: 'connection_init', payload: payload ?? (token ? { authorization: `Bearer ${token}` } : {}) });
  }

  /** Sends connection_init and waits for connection_ack. @throws when the socket closes instead. */
  async ack(token: string): Promise<void> {
    this.init(token);
    await this.next((m) => m.type === 'connection_ack');
  }

  /** subscribe message for operation `id`. */
  subscribe(id: string, query: string, variables?: Record<string, unknown>): void {
    this.send({ id, type: 'subscribe', payload: { query, ...(variables ? { variables } : {}) } });
  }

  /** Resolves with the first message (received or still to come) matching `match`; rejects on close or after `timeoutMs`. */
  next(match: (m: any) => boolean, timeoutMs = 5000): Promise<any> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no matching message within ${timeoutMs} ms; got ${JSON.stringify(this.messages)}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== check);
      };
      const check = () => {
        const found = this.messages.find(match);
        if (found) {
          done();
          resolve(found);
          return;
        }
        if (this.ws.readyState === WebSocket.CLOSED) {
          done();
          reject(new Error(`socket closed before a matching message; got ${JSON.stringify(this.messages)}`));
        }
      };
      this.waiters.push(check);
      check();
    });
  }

  /** The `error` or first `next` message of operation `id`. */
  answer(id: string, timeoutMs?: number): Promise<any> {
    return this.next((m) => m.id === id && (m.type === 'error' || m.type === 'next'), timeoutMs);
  }

  /** Resolves with the close code, or rejects when the socket is still open after `timeoutMs`. */
  async closeCode(timeoutMs = 5000): Promise<number> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`socket still open after ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return (await Promise.race([this.closed, timeout])).code;
    } finally {
      clearTimeout(timer);
    }
  }

  private pings = 0;
  /**
   * A control round trip: sends a protocol `ping` (with a payload of its own) and resolves once
   * its `pong` comes back. The server handles one socket's messages in the order they arrive,
   * so everything sent before the ping has been handled by then (a `complete` has freed its
   * place, a refused `subscribe` has been answered), and the socket is still open: rejects when
   * it closes instead. No timer decides it (`timeoutMs` only bounds a lost answer).
   */
  async roundTrip(timeoutMs = 5000): Promise<void> {
    const n = ++this.pings;
    this.send({ type: 'ping', payload: { roundTrip: n } });
    await this.next((m) => m.type === 'pong' && m.payload?.roundTrip === n, timeoutMs);
  }

  close(): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close();
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }
}

/** What a raw TCP client saw: the bytes the server sent and how long until it closed the connection. */
export interface RawHttpExchange {
  text: string;
  closedAfterMs: number;
}

/**
 * Writes `chunks` to a raw TCP connection to `port` (one after another, `gapMs` apart) and
 * collects everything the server answers until it closes the connection (or `maxMs` passes,
 * then the result says so with closedAfterMs = Infinity).
 */
export function rawHttp(port: number, chunks: string[], { gapMs = 0, maxMs = 10000 } = {}): Promise<RawHttpExchange> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const started = Date.now();
    let text = '';
    // A bound, not a sleep: the result says whether the server closed the connection within maxMs (timeouts are what these tests measure).
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ text, closedAfterMs: Infinity });
    }, maxMs);
    socket.on('data', (d) => {
      text += d.toString('latin1');
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ text, closedAfterMs: Date.now() - started });
    });
    socket.on('error', (err) => {
      if ((err as NodeJS.ErrnoException).code !== 'ECONNRESET') {
        clearTimeout(timer);
        reject(err);
      }
    });
    socket.on('connect', async () => {
      for (const chunk of chunks) {
        if (socket.destroyed) return;
        socket.write(chunk);
        // Only paces the chunks (a client sending its headers slowly); the outcome is the server's answer and when it closed.
        if (gapMs) await new Promise((r) => setTimeout(r, gapMs));
      }
    });
  });
}
