import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Server as IoServer, type Socket as IoSocket } from 'socket.io';
import { DomainError } from '../../../domain/shared/errors';
import { corsOptions } from '../../../security/http-hardening';
import type { TransportDeps } from '../../deps';
import type { FrameRenderer } from '../../delivery/hub';
import type { Viewer } from '../../state/live-registry';
import { bearer, type GatedSocket } from '../socket-gate';
import { CLOSE_CODE_NAMES, CloseCode, OPEN, truncateReason, type GateSocket } from '../sockets';
import type { UpgradeRoute } from '../upgrades';
import { InvalidFrame, refusalOf, type ClientFrame, type Stream } from './dialect';
import { seed002 } from './seed002';
import { frameRenderers, SessionCore } from './session-core';

/** Socket.IO's path (seed 002 "Nginx configuration": `location /socket.io/`). */
export const SOCKET_IO_PATH = '/socket.io';

const CLOSING = 2;
const CLOSED = 3;

/** Events a socket may have waiting to be handled; past it the socket is disconnected (policy). */
const MAX_WAITING = 256;

/**
 * One Socket.IO EVENT packet for the default namespace, as socket.io-parser encodes it
 * (`2["<event>",<data>]`): written straight to the connection, so a frame is serialised once per
 * event for every socket, as the other dialects' are.
 */
export function eventPacket(event: string, data: unknown): string {
  return `2${JSON.stringify([event, data])}`;
}

/** A frame `{type, ...fields}` as a Socket.IO event packet: the event `type`, the other fields its data. */
function packetOf(frame: object): string {
  const { type, ...data } = frame as { type: string };
  return eventPacket(type, data);
}

/**
 * A Socket.IO connection as the SocketGate sees a socket: `send` writes a pre-encoded
 * packet to the engine.io connection, `bufferedAmount` counts the bytes written since the
 * connection last drained (to the network, or to a poll), and `close(code, reason)`, which
 * Socket.IO has no frame for, sends an `error` event `{code, close_code, message}` and then
 * disconnects. Before the socket has joined the namespace (the authentication middleware), a
 * close is kept as the refusal the middleware answers with (`connect_error`).
 */
class IoLink extends EventEmitter implements GateSocket {
  readyState = OPEN;
  joined = false;
  refusal: { code: string; close_code: number; message: string } | null = null;
  private queued = 0;
  private closeCode = 1006;
  private closeReason = '';

  constructor(readonly io: IoSocket) {
    super();
    const conn = io.conn;
    conn.on('drain', () => {
      this.queued = 0;
    });
    conn.once('error', (err: Error) => this.emit('error', err));
    const closed = (why: string) => {
      if (this.readyState === CLOSED) return;
      if (this.readyState !== CLOSING) {
        this.closeCode = why === 'client namespace disconnect' ? 1000 : 1006;
        this.closeReason = why;
      }
      this.readyState = CLOSED;
      this.emit('close', this.closeCode, Buffer.from(this.closeReason));
    };
    io.once('disconnect', closed);
    conn.once('close', closed);
  }

  get bufferedAmount(): number {
    return this.queued;
  }

  send(data: string): void {
    if (this.readyState !== OPEN) return;
    this.queued += data.length;
    this.io.conn.write(data);
  }

  /** Sends one event (not a shared frame: an answer to this socket only). */
  emitEvent(event: string, data: unknown): void {
    this.send(eventPacket(event, data));
  }

  close(code: number, reason: string): void {
    if (this.readyState !== OPEN) return;
    const error = { code: CLOSE_CODE_NAMES[code] ?? 'CLOSED', close_code: code, message: truncateReason(reason) };
    if (this.joined) this.emitEvent('error', error);
    this.readyState = CLOSING;
    this.closeCode = code;
    this.closeReason = error.message;
    if (this.joined) {
      this.io.disconnect(true);
    } else {
      // The middleware answers with `connect_error` (refusal). The client closes the connection
      // then; one that does not is closed by Socket.IO after connectTimeout (WS_INIT_TIMEOUT_MS),
      // and counts among its address's unauthenticated sockets meanwhile (SocketGate).
      this.refusal = error;
    }
  }

  terminate(): void {
    this.readyState = CLOSING;
    this.io.conn.close(true);
  }
}

/**
 * The refusal of a Socket.IO connection without an access token (seed 002's clients send
 * `auth: { user_id }`, which authenticates nothing): it says exactly what to send instead
 * (issue 28). At most 120 bytes (a close reason).
 */
const TOKEN_REQUIRED = (sentUserId: boolean) =>
  sentUserId
    ? "Unauthorized: auth.user_id is not accepted: send auth: { token: '<access from POST /api/token/>' }"
    : "Unauthorized: An access token is required: io(url, { auth: { token: '<access from POST /api/token/>' } })";

/** The running Socket.IO endpoint. */
export interface SocketIoEndpoint {
  /** Its route for the HTTP server's upgrades (upgrades.ts). */
  route: UpgradeRoute;
  /** Serves Socket.IO's HTTP requests (the long-polling transport and the handshake) under {@link SOCKET_IO_PATH}. */
  handleRequest(req: IncomingMessage, res: ServerResponse): void;
  /** Open Socket.IO connections (joined or not). */
  count(): number;
  /** Joined sockets, optionally only those of `userId` (tests, metrics). */
  readyCount(filter?: { userId?: number }): number;
  /** Disconnects every socket with `code` (1001 at shutdown). */
  closeAll(code: number, reason: string): void;
  /** Drops every connection and stops the engine. */
  close(): void;
}

/** A Socket.IO event as it arrived: its name and arguments (the last one its acknowledgement callback, if a function). */
interface IoEvent {
  event: string;
  args: unknown[];
}

/**
 * One joined Socket.IO socket: the {@link SessionCore} (event queue, pump, typing throttle,
 * subscriptions) with Socket.IO's framing: an event is a seed 002 frame (legacy/seed002.ts) named
 * by the event, answered through its acknowledgement callback when it has one.
 */
class IoSession extends SessionCore<IoLink, IoEvent> {
  constructor(
    deps: TransportDeps,
    link: IoLink,
    viewer: Viewer,
    private readonly renderers: Map<Stream, FrameRenderer>,
  ) {
    super(deps, link, { maxWaiting: MAX_WAITING, overflowReason: 'Too many events waiting; slow down' });
    this.viewer = viewer;
  }

  /** Sends one event to this socket only (an answer or a refusal, not a shared frame). */
  send(frame: object): void {
    this.socket.send(packetOf(frame));
  }

  /** Subscribes seed 002's streams (every SUPPORT thread the viewer follows: their own; staff: all) and takes the client's events. */
  start(): void {
    for (const s of seed002.streams)
      this.follow(`${s.type}:*`, this.renderers.get(s)!, { viewer: this.viewer, conversationId: null, narrowing: s.narrowing, timelineOnly: true });
    this.markReady();
    this.socket.io.onAny((event: string, ...args: unknown[]) => this.receive({ event, args }));
  }

  /** The connection closed: unsubscribe, drop what waited. */
  end(): void {
    this.stop();
  }

  protected override accepting(): boolean {
    return super.accepting() && this.socket.readyState === OPEN;
  }

  /** One event: its first argument an object (the frame's fields), its answer `{ok: true, ...}` or `{ok: false, error}` to the callback, else a refusal as seed 002's `error` event. */
  protected async process({ event, args }: IoEvent): Promise<void> {
    const ack = typeof args[args.length - 1] === 'function' ? (args.pop() as (answer: unknown) => void) : undefined;
    try {
      const data = args[0];
      if (!data || typeof data !== 'object' || Array.isArray(data)) throw new InvalidFrame(`${event} takes an object`);
      const answer = await seed002.handle(this, { ...(data as Record<string, unknown>), type: event } as ClientFrame);
      ack?.({ ok: true, ...answer });
    } catch (err) {
      if (!(err instanceof InvalidFrame) && !(err instanceof DomainError)) this.deps.logger.error({ err }, 'socket.io event failed');
      const refusal = refusalOf(err, event);
      if (ack) ack({ ok: false, error: { code: refusal.code, message: refusal.message } });
      else seed002.refuse(this, refusal);
    }
  }
}

/**
 * Seed 002's realtime half (restaurant support desk) on Socket.IO at `/socket.io/`, a thin
 * adapter over the domain services and the delivery hub, as the WebSocket dialects are:
 * - **Authentication**: the seed's `auth: { user_id }` names a user without proving anything (its
 *   own security notes ask for a token): a socket needs an access token in `auth: { token }`
 *   (or `Authorization: Bearer`, or `?token=`), else `connect_error` UNAUTHENTICATED. Admission
 *   goes through the same {@link SocketGate} as /graphql and /ws/chat/ (address and user limits,
 *   WS_MAX_SOCKETS_PER_USER across all three, presence, login expiry and logout: `error`
 *   FORBIDDEN, then disconnect).
 * - **Rooms**: the seed's `customer_<id>` and `staff_room` are not kept as Socket.IO rooms but
 *   follow from the live audience: a customer receives their own SUPPORT thread's events, staff
 *   every SUPPORT thread's (rights as of now: a user who stops being staff stops receiving). Other
 *   conversations never reach this endpoint.
 * - **Events**: seed 002's dialect (legacy/seed002.ts: `send_message`, `typing`; `new_message`,
 *   `user_typing`, `error`) over the session core (legacy/session-core.ts: one event at a time, in
 *   order); an acknowledgement callback, when given, gets `{ok: true, ...answer}` or
 *   `{ok: false, error: {code, message}}`, else a refusal comes as `error` `{code, message, event}`.
 * - **Across instances** events come through the same bus as everything else (no Socket.IO Redis
 *   adapter: each instance feeds its own sockets from the bus). Long-polling needs its requests on
 *   one instance (deploy/nginx.conf routes /socket.io/ by client address); the `websocket`
 *   transport alone needs nothing.
 */
export function startSocketIo(deps: TransportDeps): SocketIoEndpoint {
  const { config, logger, clientIp, gate, audience } = deps;
  // Not attached to the real HTTP server: its upgrades and requests are routed to the engine by
  // path (upgrades.ts, app.ts), so that no second listener sees every upgrade.
  const io = new IoServer(createServer(), {
    path: SOCKET_IO_PATH,
    serveClient: false,
    maxHttpBufferSize: config.ws.maxPayloadBytes,
    pingInterval: config.ws.pingIntervalMs,
    connectTimeout: config.ws.initTimeoutMs,
    cors: corsOptions(config.corsOrigins),
  });
  const links = new Map<IoSocket, { link: IoLink; state: GatedSocket<IoLink> }>();
  const joined = new Set<IoSession>();
  /** One renderer per stream, shared by every socket: a frame is made once per event. */
  const renderers = frameRenderers(deps, seed002, 'socketio:002', packetOf);

  // Authentication: every socket joins the default namespace through here.
  io.use((socket, next) => {
    const link = new IoLink(socket);
    const state = gate.admit(link, clientIp(socket.request));
    const refuse = () => {
      const r = link.refusal ?? { code: 'CLOSED', close_code: 1006, message: 'Connection refused' };
      next(Object.assign(new Error(r.message), { data: r }));
    };
    if (!state) {
      refuse();
      return;
    }
    links.set(socket, { link, state });
    link.once('close', () => {
      links.delete(socket);
      gate.release(state).catch((err) => logger.warn({ err }, 'socket.io release failed'));
    });
    const auth = (socket.handshake.auth ?? {}) as Record<string, unknown>;
    const query = socket.handshake.query as Record<string, unknown>;
    const token =
      (typeof auth.token === 'string' && auth.token) ||
      bearer(socket.handshake.headers.authorization) ||
      (typeof query.token === 'string' && query.token) ||
      undefined;
    gate
      .authenticate(state, token)
      .then(async (admission) => {
        if (!admission.ok) {
          if (admission.unauthenticated)
            link.close(CloseCode.UNAUTHORIZED, token ? `Unauthorized: ${admission.reason}` : TOKEN_REQUIRED(auth.user_id !== undefined));
          refuse();
          return;
        }
        // Complete memberships: the hub narrows "every conversation" subscribers by them.
        await audience.ensureComplete(admission.viewer);
        if (link.readyState !== OPEN) {
          refuse();
          return;
        }
        next();
      })
      .catch((err) => {
        logger.error({ err }, 'socket.io authentication failed');
        link.close(CloseCode.INTERNAL, 'Internal server error');
        refuse();
      });
  });

  io.on('connection', (socket) => {
    const entry = links.get(socket);
    if (!entry?.state.viewer) {
      socket.disconnect(true);
      return;
    }
    const { link, state } = entry;
    link.joined = true;
    const session = new IoSession(deps, link, state.viewer!, renderers);
    joined.add(session);
    link.once('close', () => {
      joined.delete(session);
      session.end();
    });
    session.start();
    logger.info({ socket: state.socketId, userId: session.viewer.actor.id, dialect: '002' }, 'socket.io ready');
  });

  return {
    route: {
      matches: (pathname) => pathname === SOCKET_IO_PATH || pathname === `${SOCKET_IO_PATH}/`,
      handle: (req, socket, head) => io.engine.handleUpgrade(req, socket, head),
    },
    handleRequest: (req, res) => io.engine.handleRequest(req, res),
    count: () => io.engine.clientsCount,
    readyCount(filter = {}) {
      let n = 0;
      for (const s of joined) if (filter.userId === undefined || s.viewer.actor.id === filter.userId) n++;
      return n;
    },
    closeAll(code, reason) {
      for (const { link } of [...links.values()]) link.close(code, reason);
    },
    close() {
      for (const { link } of [...links.values()]) link.terminate();
      io.engine.close();
    },
  };
}
