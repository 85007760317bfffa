import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { Config } from '../../config/config';
import type { Session } from '../../domain/auth/auth.service';
import { RateLimitedError } from '../../domain/shared/rate-limit';
import type { Services } from '../../services';
import type { AudienceRegistry, Viewer } from '../state/live-registry';
import type { SocketSessions } from './socket-sessions';
import { CloseCode, OPEN, truncateReason, type GateSocket } from './sockets';

/** The part of a `ws` WebSocket's TCP socket that {@link SocketGate.sendEnvelope} batches a turn's frames with. */
interface CorkableSocket {
  cork(): void;
  uncork(): void;
}

/** The part of a `ws` WebSocket's sender that {@link SocketGate.sendEnvelope} writes a prepared frame with (`_state` 0: nothing queued). */
interface FrameSender {
  _state: number;
  sendFrame(list: Buffer[]): void;
}

/** What the gate keeps per socket (GraphQL's and the legacy dialects' alike). */
export interface GatedSocket<S extends GateSocket = GateSocket> {
  socket: S;
  /** The client address (TRUST_PROXY rules), read once from the upgrade request, which is not kept. */
  ip: string;
  viewer?: Viewer;
  socketId?: string;
  /** Counted in its address's unauthenticated sockets (until it authenticates or closes). */
  pending?: boolean;
  /** Its failure to authenticate was counted toward RATE_WS_PER_MIN_IP (or it was refused for its address). */
  failed?: boolean;
  /** It authenticated (it never counts as a failure). */
  authenticated?: boolean;
}

/** The outcome of {@link SocketGate.authenticate}. */
export type Admission =
  | { ok: true; viewer: Viewer; session: Session }
  /**
   * `unauthenticated`: no token, or a bad or logged-out one (the caller closes the socket with
   * its protocol's code). Otherwise the gate closed it already (1013: a limit) or it is gone.
   */
  | { ok: false; unauthenticated: boolean; reason: string };

/** What {@link SocketGate} needs from the realtime layer. */
export interface SocketGateDeps {
  config: Config;
  services: Services;
  rootEm: EntityManager;
  audience: AudienceRegistry;
  sessions: SocketSessions;
  logger: Logger;
}

export { bearer } from '../../security/bearer';

/** How long a socket closed for being too far behind may take to read its close frame before it is dropped (ms). */
const TERMINATE_AFTER_MS = 5000;

/**
 * Admission and bounded cost of every WebSocket of the instance, whatever it speaks (graphql-ws
 * at /graphql, the legacy dialects at /ws/chat/...), so one address and one user meet the same
 * limits on both:
 * - per address, only what an attacker produces counts (issue 17): sockets that fail to
 *   authenticate count toward RATE_WS_PER_MIN_IP (past it, a failing socket is closed with 1013;
 *   a valid token is still admitted, issue 27 §5), and at most WS_MAX_PENDING_PER_IP sockets of
 *   one address may be open without having authenticated yet;
 * - per user: RATE_WS_PER_MIN_USER new sockets a minute, WS_MAX_SOCKETS_PER_USER open at once;
 * - a valid access token of a live login, then presence and the login's expiry and revocation;
 * - sends never wait for the network: past WS_MAX_BUFFERED_BYTES unsent bytes the socket is closed
 *   with 4507.
 */
export class SocketGate {
  private readonly pendingByIp = new Map<string, number>();
  /** Sockets closed with 4507 (too far behind) since start. */
  closedTooFarBehind = 0;

  constructor(private readonly deps: SocketGateDeps) {}

  /**
   * A socket was upgraded: logs it and counts it among its address's unauthenticated sockets. Returns its state, or null when its address has too many
   * unauthenticated sockets open (then it is closed with 1013). A socket error closes it with
   * `errorCode` (its protocol's internal-error code).
   */
  admit<S extends GateSocket>(socket: S, ip: string, errorCode = 1011): GatedSocket<S> | null {
    const { config, logger } = this.deps;
    // `on`, not `once`: each once() wrapper is a few objects kept per socket; a second error or
    // close event (none is emitted by `ws`) would only repeat a no-op close or an idempotent settle.
    socket.on('error', (err) => {
      logger.warn({ err: err.message }, 'websocket error');
      socket.close(errorCode, 'Internal server error');
    });
    const state: GatedSocket<S> = { socket, ip };
    logger.info({ ip }, 'socket opened');
    const pending = (this.pendingByIp.get(ip) ?? 0) + 1;
    let admitted = false;
    // One close listener for the gate's whole bookkeeping (one closure per socket, not two).
    socket.on('close', (code, reason) => {
      this.failed(state);
      this.settle(state);
      if (!admitted) return;
      logger.info(
        { socket: state.socketId ?? null, userId: state.viewer?.actor.id ?? null, ip, code, reason: truncateReason(String(reason)) },
        'socket closed',
      );
    });
    if (pending > config.ws.maxPendingPerIp) {
      socket.close(CloseCode.TRY_AGAIN_LATER, 'Too many unauthenticated connections from this address');
      return null;
    }
    this.pendingByIp.set(ip, pending);
    state.pending = true;
    admitted = true;
    // An address past its failures may still bring a valid token (issue 27 §5: one attacker behind
    // a NAT locked every user behind it out): its standing decides only a failed authentication, so
    // it is read then (refuseFailure), not for every socket (issue 35: a Redis round trip for each
    // of 2000 sockets in a reconnect storm).
    return state;
  }

  /**
   * Authenticates the socket with `token`: its address's standing, a live login, the user's
   * connection rate and open sockets; then attaches the user's live viewer, tracks the login's
   * expiry and revocation, and marks the user online. Pair a success with {@link release}.
   */
  async authenticate(state: GatedSocket, token: string | undefined): Promise<Admission> {
    const { config, services, rootEm, audience, sessions, logger } = this.deps;
    if (!token) return this.refuseFailure(state, 'An access token is required');
    let session: Session;
    try {
      // A logged-out login's access token opens no new socket.
      session = await services.auth.liveSession(rootEm.fork(), token);
    } catch (err) {
      return this.refuseFailure(state, (err as { code?: string }).code === 'UNAUTHENTICATED' ? (err as Error).message : 'Invalid access token');
    }
    // A valid login: whatever follows (its own per-user limits), not an address's failure.
    state.authenticated = true;
    try {
      await services.limits.consume('wsConnectUser', String(session.actor.id));
    } catch (err) {
      if (err instanceof RateLimitedError) state.socket.close(CloseCode.TRY_AGAIN_LATER, truncateReason(err.message));
      return { ok: false, unauthenticated: false, reason: 'user rate' };
    }
    if (state.socket.readyState !== OPEN) return { ok: false, unauthenticated: false, reason: 'closed' };
    const open = audience.viewerOf(session.actor.id)?.sockets ?? 0;
    if (open >= config.ws.maxSocketsPerUser) {
      state.socket.close(
        CloseCode.TRY_AGAIN_LATER,
        truncateReason(`Too many open sockets for this user (at most ${config.ws.maxSocketsPerUser}); close one first`),
      );
      return { ok: false, unauthenticated: false, reason: 'too many sockets' };
    }
    this.settle(state);
    // A revocation that arrived since the login check closes the socket here (SocketSessions.add).
    if (!sessions.add(state.socket, session)) return { ok: false, unauthenticated: false, reason: 'logged out' };
    state.viewer = audience.attach(session.actor);
    state.socketId = randomUUID();
    logger.info({ socket: state.socketId, userId: session.actor.id, ip: state.ip }, 'socket authenticated');
    // The per-instance count above is exact and free; presence counts the user's sockets on
    // every instance (with Redis), so more instances do not multiply the limit.
    const everywhere = await services.presence.connected(session.actor.id, state.socketId);
    if (everywhere > config.ws.maxSocketsPerUser) {
      state.socket.close(
        CloseCode.TRY_AGAIN_LATER,
        truncateReason(`Too many open sockets for this user (at most ${config.ws.maxSocketsPerUser}); close one first`),
      );
      return { ok: false, unauthenticated: false, reason: 'too many sockets' };
    }
    return { ok: true, viewer: state.viewer, session };
  }

  /** The socket of a successful {@link authenticate} closed: detaches its viewer and updates presence (once). */
  async release(state: GatedSocket): Promise<void> {
    if (!state.viewer || !state.socketId) return;
    const { viewer, socketId } = state;
    state.viewer = undefined;
    this.deps.audience.detach(viewer);
    await this.deps.services.presence.disconnected(viewer.actor.id, socketId);
  }

  /** Sends one text frame; never waits for the network: the bytes queue in `ws`, bounded by WS_MAX_BUFFERED_BYTES (then 4507). */
  send(socket: GateSocket, data: string): void {
    if (socket.readyState !== OPEN) return;
    socket.send(data);
    // A corked socket is checked when its writes leave (endTurn): held bytes are not a client's backlog.
    const raw = (socket as { _socket?: CorkableSocket })._socket;
    if (raw === undefined || !this.corked.has(raw)) this.checkBacklog(socket);
  }

  /** Closes the socket with 4507 when its unsent bytes are past WS_MAX_BUFFERED_BYTES. */
  private checkBacklog(socket: GateSocket): void {
    if (socket.bufferedAmount > this.deps.config.ws.maxBufferedBytes) this.closeTooFarBehind(socket, 'Too far behind: reconnect and catch up');
  }

  /**
   * Sends `prefix + payload + suffix` as one text frame, like {@link send}, where `payload` is
   * shared by many sockets (a hub result: the same string for its whole group): it is encoded to
   * UTF-8 once per turn of the event loop, and each socket gets a small buffer of its own (the
   * WebSocket header, RFC 6455 §5.2, and its prefix) followed by the shared bytes, handed to `ws`'s
   * sender as one frame (as Socket.IO's engine does with pre-encoded frames). `suffix` must be the
   * same for every call with a given payload. Sockets that are not plain `ws` ones, or whose
   * sender is busy (a compressed or Blob frame in progress), take the ordinary {@link send}.
   *
   * The turn's first payload leaves at once (no added latency at a steady pace); from its second
   * on (a burst from the bus, results settling together), a socket's frames wait for the end of
   * the turn (`setImmediate`) and leave together, one `writev` instead of a system call per frame:
   * under load, the cost per frame falls as events pile up.
   */
  sendEnvelope(socket: GateSocket, prefix: string, payload: string, suffix: string): void {
    if (socket.readyState !== OPEN) return;
    const sender = (socket as { _sender?: FrameSender })._sender;
    const raw = (socket as { _socket?: CorkableSocket })._socket;
    if (!sender || !raw || sender._state !== 0 || typeof sender.sendFrame !== 'function') {
      this.send(socket, prefix + payload + suffix);
      return;
    }
    let body = this.encoded.get(payload);
    if (!body) {
      body = Buffer.from(payload + suffix);
      this.encoded.set(payload, body);
      this.scheduleEndOfTurn();
    }
    if (this.encoded.size > 1 && !this.corked.has(raw)) {
      raw.cork();
      this.corked.set(raw, socket);
    }
    const prefixLength = Buffer.byteLength(prefix);
    const length = prefixLength + body.length;
    const headerLength = length < 126 ? 2 : length < 65536 ? 4 : 10;
    const head = Buffer.allocUnsafe(headerLength + prefixLength);
    head[0] = 0x81; // FIN, text frame; a server's frames are not masked
    if (headerLength === 2) head[1] = length;
    else if (headerLength === 4) {
      head[1] = 126;
      head.writeUInt16BE(length, 2);
    } else {
      head[1] = 127;
      head.writeUInt32BE(0, 2);
      head.writeUInt32BE(length, 6);
    }
    head.write(prefix, headerLength);
    sender.sendFrame([head, body]);
    if (!this.corked.has(raw)) this.checkBacklog(socket);
  }

  /** Payloads encoded in this turn (sendEnvelope), dropped at its end. */
  private readonly encoded = new Map<string, Buffer>();
  /** Sockets corked in this turn, with their WebSocket. */
  private readonly corked = new Map<CorkableSocket, GateSocket>();
  private endOfTurnScheduled = false;

  private scheduleEndOfTurn(): void {
    if (this.endOfTurnScheduled) return;
    this.endOfTurnScheduled = true;
    setImmediate(this.endTurn);
  }

  /** Lets every corked socket's frames go, then applies WS_MAX_BUFFERED_BYTES to what the network did not take. */
  private readonly endTurn = (): void => {
    this.endOfTurnScheduled = false;
    for (const [raw, socket] of this.corked) {
      raw.uncork();
      this.checkBacklog(socket);
    }
    this.corked.clear();
    this.encoded.clear();
  };

  /** Closes a socket with 4507 and drops it if it does not take the close frame within a few seconds. */
  closeTooFarBehind(socket: GateSocket, why: string): void {
    if (socket.readyState !== OPEN) return;
    this.closedTooFarBehind++;
    socket.close(CloseCode.TOO_FAR_BEHIND, why);
    // A client that stopped reading never takes the close frame: drop it after a while (its
    // memory is bounded meanwhile: nothing more is queued for a closing socket).
    setTimeout(() => socket.terminate(), TERMINATE_AFTER_MS).unref();
  }

  /**
   * A failed authentication (no token, a bad or logged-out one): counted toward its address's
   * RATE_WS_PER_MIN_IP; an address already past it is closed with 1013 (try again later), else
   * the caller closes the socket with its protocol's unauthenticated code.
   */
  private async refuseFailure(state: GatedSocket, reason: string): Promise<Admission> {
    const refusal = await this.deps.services.limits.check('wsConnectIp', state.ip).then(
      () => null,
      (err: unknown) => err,
    );
    this.failed(state);
    if (refusal instanceof RateLimitedError) {
      this.refuseAddress(state, refusal);
      return { ok: false, unauthenticated: false, reason: 'address refused' };
    }
    return { ok: false, unauthenticated: true, reason };
  }

  /** The socket is no longer one of its address's unauthenticated ones. */
  private settle(state: GatedSocket): void {
    if (!state.pending) return;
    state.pending = false;
    const n = (this.pendingByIp.get(state.ip) ?? 1) - 1;
    if (n > 0) this.pendingByIp.set(state.ip, n);
    else this.pendingByIp.delete(state.ip);
  }

  /** Counts the socket's failure to authenticate toward RATE_WS_PER_MIN_IP (once; never for an authenticated one). */
  private failed(state: GatedSocket): void {
    if (state.failed || state.authenticated) return;
    state.failed = true;
    this.deps.services.limits.consume('wsConnectIp', state.ip).catch(() => undefined);
  }

  private refuseAddress(state: GatedSocket, err: unknown): void {
    state.failed = true;
    state.socket.close(CloseCode.TRY_AGAIN_LATER, truncateReason((err as Error).message));
  }
}
