import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Server as IoServer, type Socket as IoSocket } from 'socket.io';
import type { Conversation } from '../../../domain/conversation/conversation.entity';
import type { Scope } from '../../../domain/shared/actor';
import { DomainError } from '../../../domain/shared/errors';
import type { DomainEvent, EventOf, MessageView } from '../../../domain/shared/events';
import { fullNameOf } from '../../../domain/user/user.entity';
import type { UserRecord } from '../../../domain/user/user-cache';
import { corsOptions } from '../../../security/http-hardening';
import type { Viewer } from '../../state/live-registry';
import type { AudienceSpec } from '../../delivery/audiences';
import { DELIVERY_QUERY, type EventScope, type FrameRenderer } from '../../delivery/hub';
import { bearer, type GatedSocket } from '../socket-gate';
import { OPEN, type GateSocket } from '../sockets';
import { CLOSE_CODE_NAMES, CloseCode, truncateReason } from '../sockets';
import { TYPING_REFRESH_MS } from '../../state/typing';
import type { UpgradeRoute } from '../upgrades';
import { idIn, InvalidFrame, publicMessage, textIn, type ClientFrame } from './dialect';
import type { LegacyDeps } from './router';
import { htmlText } from '../../../rest/d002-support/presenters';

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

/** `{code, message}` of the `error` event for a refused or invalid client event. */
function errorOf(err: unknown): { code: string; message: string } {
  if (err instanceof InvalidFrame) return { code: 'BAD_USER_INPUT', message: err.message };
  if (err instanceof DomainError) return { code: err.code, message: err.message };
  return { code: 'INTERNAL_SERVER_ERROR', message: publicMessage(err) };
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

/** Everything the Socket.IO endpoint needs from the realtime layer: the WebSocket dialects' (seed 002 shows no attachments). */
export type SocketIoDeps = Omit<LegacyDeps, 'attachmentsOf'>;

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

/** `{id, conversation_id, nguoi_goi_id, nguoi_goi_name, noi_dung, thoi_gian}` (seed 002 `new_message`; the REST message shape, texts HTML-escaped: htmlText). */
function supportMessage(m: MessageView, sender: UserRecord | null) {
  return {
    id: m.id,
    conversation_id: m.conversationId,
    nguoi_goi_id: m.senderId,
    nguoi_goi_name: htmlText(sender ? fullNameOf(sender) : ''),
    noi_dung: htmlText(m.content),
    thoi_gian: m.createdAt,
  };
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
 * - **Client events**: `send_message` `{noi_dung}` (customer: to their thread, opened on first
 *   use; staff: `customer_id` names the thread, opened if the customer has none) and `typing`
 *   `{is_typing, customer_id}`; an acknowledgement callback, when given, gets
 *   `{ok: true, message}` or `{ok: false, error: {code, message}}`, else a refusal comes as
 *   `error` `{code, message, event}`. Optional `client_message_id` makes a resend idempotent.
 * - **Server events**: `new_message` (the seed's six fields, to the sender's sockets too) and
 *   `user_typing` `{user_id, user_name, is_typing, conversation_id, customer_id}` (not one's own,
 *   never across a block).
 * - **Across instances** events come through the same bus as everything else (no Socket.IO Redis
 *   adapter: each instance feeds its own sockets from the bus). Long-polling needs its requests on
 *   one instance (deploy/nginx.conf routes /socket.io/ by client address); the `websocket`
 *   transport alone needs nothing.
 */
export function startSocketIo(deps: SocketIoDeps): SocketIoEndpoint {
  const { config, services, rootEm, logger, clientIp, gate, hub, audience } = deps;
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

  const renderer = (event: 'message.added' | 'typing', render: (e: DomainEvent, scope: EventScope) => Promise<string | null>): FrameRenderer => ({
    key: `socketio:002:${event}`,
    render,
  });
  const user = (scope: EventScope, id: number | null) => (id == null ? Promise.resolve(null) : deps.userOf(scope, id));
  /** SUPPORT threads' customers (they never change): one query per thread, then memory. */
  const customers = new Map<number, number | null>();
  const customerOf = async (conversationId: number): Promise<number | null> => {
    if (customers.has(conversationId)) return customers.get(conversationId)!;
    const [row] = await rootEm
      .fork()
      .execute<{ customer_id: number | null }[]>('select "customer_id" from "conversations" where "id" = ?', [conversationId], 'all', DELIVERY_QUERY);
    if (customers.size >= 100_000) customers.clear();
    customers.set(conversationId, row?.customer_id ?? null);
    return row?.customer_id ?? null;
  };
  const renderers = {
    message: renderer('message.added', async (e, scope) => {
      const { message } = e as EventOf<'message.added'>;
      return eventPacket('new_message', supportMessage(message, await user(scope, message.senderId)));
    }),
    typing: renderer('typing', async (e, scope) => {
      const t = e as EventOf<'typing'>;
      const u = await user(scope, t.userId);
      return eventPacket('user_typing', {
        user_id: t.userId,
        user_name: u ? fullNameOf(u) : '',
        is_typing: t.isTyping,
        conversation_id: t.conversationId,
        customer_id: await customerOf(t.conversationId),
      });
    }),
  };

  /** One joined socket: its subscriptions and its client events, handled one at a time, in order. */
  class IoSession {
    private readonly waiting: { event: string; args: unknown[] }[] = [];
    private busy = false;
    private lastTyping = 0;
    private readonly offs: (() => void)[] = [];

    constructor(
      readonly link: IoLink,
      readonly viewer: Viewer,
    ) {}

    scope(): Scope {
      return { actor: this.viewer.actor, em: rootEm.fork() };
    }

    start(): void {
      const viewer = this.viewer;
      // Every SUPPORT thread the viewer follows (their own; staff: all), nothing else (audiences.ts `supportOnly`).
      const audience: AudienceSpec = { viewer, conversationId: null, narrowing: 'supportOnly' };
      const sub = (topic: string, r: FrameRenderer) =>
        hub.subscribeFrames({
          topic,
          actor: viewer.actor,
          renderer: r,
          audience,
          write: (frame) => gate.send(this.link, frame),
          onOverflow: () => gate.closeTooFarBehind(this.link, 'Too far behind: reconnect and catch up'),
        });
      this.offs.push(sub('message.added:*', renderers.message), sub('typing:*', renderers.typing));
      this.link.io.onAny((event: string, ...args: unknown[]) => this.receive(event, args));
    }

    stop(): void {
      for (const off of this.offs.splice(0)) off();
      this.waiting.length = 0;
    }

    private receive(event: string, args: unknown[]): void {
      if (this.link.readyState !== OPEN) return;
      if (this.waiting.length >= MAX_WAITING) {
        this.link.close(CloseCode.POLICY, 'Too many events waiting; slow down');
        return;
      }
      this.waiting.push({ event, args });
      void this.pump();
    }

    private async pump(): Promise<void> {
      if (this.busy) return;
      this.busy = true;
      try {
        while (this.waiting.length && this.link.readyState === OPEN) {
          const { event, args } = this.waiting.shift()!;
          const ack = typeof args[args.length - 1] === 'function' ? (args.pop() as (answer: unknown) => void) : undefined;
          try {
            const answer = await this.handle(event, args[0]);
            ack?.({ ok: true, ...answer });
          } catch (err) {
            if (!(err instanceof InvalidFrame) && !(err instanceof DomainError)) logger.error({ err }, 'socket.io event failed');
            const error = errorOf(err);
            if (ack) ack({ ok: false, error });
            else this.link.emitEvent('error', { ...error, event });
          }
        }
      } finally {
        this.busy = false;
      }
    }

    /** Handles one client event. @throws InvalidFrame (bad payload, unknown event), DomainError (a refusal). */
    private async handle(event: string, data: unknown): Promise<object> {
      if (!data || typeof data !== 'object' || Array.isArray(data)) throw new InvalidFrame(`${event} takes an object`);
      const payload = data as ClientFrame;
      switch (event) {
        case 'send_message': {
          const content = textIn(payload, 'noi_dung');
          const cmid = payload.client_message_id;
          if (cmid !== undefined && typeof cmid !== 'string') throw new InvalidFrame('client_message_id must be a string');
          const scope = this.scope();
          const m = this.viewer.actor.isStaff
            ? await services.messages.send(scope, {
                conversationId: (await services.conversations.supportThreadFor(scope, this.customerId(payload))).id,
                content,
                clientMessageId: cmid,
              })
            : await services.messages.send(scope, { toSupport: true, content, clientMessageId: cmid });
          return { message: supportMessage(m, await services.userCache.get(scope.em, m.senderId ?? 0)) };
        }
        case 'typing': {
          const v = payload.is_typing;
          if (v !== undefined && typeof v !== 'boolean') throw new InvalidFrame('is_typing must be true or false');
          const isTyping = v ?? true;
          // At most one `true` a second reaches the domain (it publishes refreshes at most that often anyway).
          if (isTyping && Date.now() - this.lastTyping < TYPING_REFRESH_MS) return {};
          const scope = this.scope();
          const customerId = this.viewer.actor.isStaff ? Number(this.customerId(payload)) : this.viewer.actor.id;
          const thread: Conversation | null = await services.conversationQueries.existingSupportThread(scope, customerId);
          // No thread yet: nobody to tell (typing never opens one).
          if (!thread) return {};
          await services.messages.setTyping(scope, String(thread.id), isTyping);
          this.lastTyping = isTyping ? Date.now() : 0;
          return {};
        }
        default:
          throw new InvalidFrame(`Unknown event "${event}"`);
      }
    }

    /** Staff name the customer's thread with `customer_id`. @throws InvalidFrame when it is missing or malformed. */
    private customerId(payload: ClientFrame): string {
      const id = idIn(payload.customer_id);
      if (!id) throw new InvalidFrame('customer_id is required for staff (the customer whose thread this is)');
      return id;
    }
  }

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
    const session = new IoSession(link, state.viewer!);
    joined.add(session);
    link.once('close', () => {
      joined.delete(session);
      session.stop();
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
