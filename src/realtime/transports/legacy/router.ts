import type { IncomingMessage } from 'node:http';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { ConversationKind } from '../../../domain/conversation/conversation.entity';
import type { Scope } from '../../../domain/shared/actor';
import { badInput, DomainError } from '../../../domain/shared/errors';
import type { DomainEvent } from '../../../domain/shared/events';
import type { Services } from '../../../services';
import type { TransportDeps } from '../../deps';
import type { FrameRenderer } from '../../delivery/hub';
import { bearer, type GatedSocket } from '../socket-gate';
import { CloseCode, keepAlive } from '../sockets';
import { pathnameOf, type UpgradeRoute } from '../upgrades';
import { InvalidFrame, refusalOf, type ClientFrame, type Dialect, type DialectName, type LegacyConnection, type Stream } from './dialect';
import { seed000 } from './seed000';
import { seed003 } from './seed003';
import { seed004 } from './seed004';
import { frameRenderers, SessionCore } from './session-core';

/** `/ws/chat/<x>` with an optional trailing slash: the one path the three seeds share. */
export const LEGACY_PATH = /^\/ws\/chat\/([^/]+)\/?$/;

/** Close codes of the legacy sockets (the table is sockets.ts {@link CloseCode}; also 1009 frame too large, 1013 limits, 4507 too far behind, 1001 shutdown). */
export const LEGACY_CLOSE = {
  /** A bad `<x>` (encoding), `?dialect=`, or a chat with oneself. */
  BAD_REQUEST: CloseCode.BAD_REQUEST,
  /** No access token, or an invalid, expired or logged-out one, at connect. */
  UNAUTHORIZED: CloseCode.UNAUTHORIZED,
  /** A block forbids the chat; later: the login expired or was logged out, or the user left or was removed or banned. */
  FORBIDDEN: CloseCode.FORBIDDEN,
  /** No conversation the caller may read, and no user, by that name. */
  NOT_FOUND: CloseCode.NOT_FOUND,
  /** Too many client frames waiting to be processed. */
  POLICY: CloseCode.POLICY,
  INTERNAL: CloseCode.INTERNAL,
} as const;

const DIALECTS: Record<DialectName, Dialect> = { '000': seed000, '003': seed003, '004': seed004 };

/** Client frames a socket may have waiting; past PAUSE_AT the socket stops reading (TCP back-pressure), past MAX_WAITING it is closed. */
const PAUSE_AT = 16;
const MAX_WAITING = 256;

/** What a legacy socket asked for, read from its upgrade request (which is not kept). */
export interface LegacyRequest {
  /** `<x>`, percent-decoded. */
  segment: string;
  /** `?dialect=`: forces the reading of `<x>` and the frames. */
  dialect?: DialectName;
  /** `Authorization: Bearer <token>`, else `?token=`. */
  token?: string;
}

/**
 * Reads `/ws/chat/<x>/?token=&dialect=` and the Authorization header.
 * @throws DomainError BAD_USER_INPUT for a bad `<x>` or `dialect`.
 */
export function parseLegacyRequest(req: Pick<IncomingMessage, 'url' | 'headers'>): LegacyRequest {
  const url = req.url ?? '/';
  const m = LEGACY_PATH.exec(pathnameOf(url));
  if (!m) throw badInput('The path must be /ws/chat/<x>/');
  let segment: string;
  try {
    segment = decodeURIComponent(m[1]).trim();
  } catch {
    throw badInput('The path segment is not valid percent-encoding');
  }
  if (!segment) throw badInput('The path must be /ws/chat/<x>/');
  const q = url.indexOf('?');
  const params = new URLSearchParams(q >= 0 ? url.slice(q + 1) : '');
  const dialect = params.get('dialect');
  if (dialect !== null && !(dialect in DIALECTS)) throw badInput('dialect must be 000, 003 or 004', 'dialect');
  const token = bearer(req.headers.authorization) ?? (params.get('token') || undefined);
  return { segment, dialect: (dialect ?? undefined) as DialectName | undefined, token };
}

/** The conversation and dialect `<x>` names for the caller (see {@link resolveTarget}). */
export interface LegacyTarget {
  dialect: DialectName;
  conversationId: number;
  /** The caller is an active member there (staff may read without). */
  member: boolean;
  /** Seed 000: the other user of the DIRECT chat. */
  peer: { id: number; username: string } | null;
}

const DIGITS = /^\d{1,15}$/;
const isCode = (err: unknown, ...codes: string[]) => err instanceof DomainError && codes.includes(err.code);

/**
 * The `<x>` rule of `/ws/chat/<x>/` (claimed by seeds 000, 003 and 004; issue 28 item 3 refined it
 * for usernames made of digits, which seed 000 allows):
 * 1. digits naming a conversation the caller is an active member of (staff included) are that
 *    conversation: a DIRECT one speaks seed 004's frames, any other (ROOM, GROUP, SUPPORT) seed 003's;
 * 2. else `<x>` naming an existing user other than the caller (letters, or digits such as "017") is seed 000: the DIRECT
 *    chat with that user, get-or-created (and the two connected) unless a block forbids it;
 * 3. else digits naming a conversation the caller may read without being a member (staff reading
 *    any, a PUBLIC room's metadata aside) are that conversation, as in 1;
 * 4. `?dialect=000` reads `<x>` as a username whatever it looks like; `?dialect=003` or `004`
 *    requires a readable conversation id (member or not) and speaks that seed's frames.
 * @throws DomainError NOT_FOUND (no such conversation or user for the caller), FORBIDDEN (a block),
 *   BAD_USER_INPUT (oneself; `?dialect=003|004` with a non-numeric `<x>`).
 */
export async function resolveTarget(services: Services, scope: Scope, request: LegacyRequest): Promise<LegacyTarget> {
  const { segment, dialect } = request;
  const digits = DIGITS.test(segment);
  /** A readable conversation named by the digits, when no username is to be tried before it (rule 3). */
  let readable: LegacyTarget | null = null;
  if (dialect !== '000' && digits) {
    try {
      const { conversation, membership } = await services.conversationQueries.access(scope, segment);
      const target: LegacyTarget = {
        dialect: dialect ?? (conversation.kind === ConversationKind.DIRECT ? '004' : '003'),
        conversationId: conversation.id,
        member: membership != null,
        peer: null,
      };
      // Rule 1 (and rule 4's forced dialect): a member's conversation comes first.
      if (dialect || membership != null) return target;
      readable = target;
    } catch (err) {
      // Not a conversation the caller may read: a username, unless the dialect says it must be a conversation.
      if (dialect || !isCode(err, 'NOT_FOUND', 'BAD_USER_INPUT')) throw err;
    }
  } else if (dialect === '003' || dialect === '004') {
    throw badInput(`With dialect=${dialect}, <x> must be a conversation id`, 'dialect');
  }
  // Rule 3: digits that name no user (or only the caller, who chats with nobody as themself) fall back to the conversation the caller may read.
  if (readable) {
    const named = await services.users.find(scope, { username: segment });
    if (!named || named.id === scope.actor.id) return readable;
  }
  let conversation;
  try {
    conversation = await services.conversations.openDirectWith(scope, { username: segment });
  } catch (err) {
    if (isCode(err, 'NOT_FOUND')) throw new DomainError('NOT_FOUND', digits ? `No conversation or user "${segment}"` : `No user "${segment}"`);
    throw err;
  }
  const [a, b] = String(conversation.directKey ?? '')
    .split(':')
    .map(Number);
  const peerId = a === scope.actor.id ? b : a;
  const peer = await services.userCache.get(scope.em, peerId);
  return { dialect: '000', conversationId: conversation.id, member: true, peer: peer ? { id: peer.id, username: peer.username } : null };
}

/**
 * The close reason for a socket that sent no access token (a token is required on every legacy
 * socket, though seeds 003 and 004 relied on a session: issue 28 asks the refusal to say exactly
 * what to send). Names the socket's own path with `?token=` when it fits a close reason (123 bytes).
 */
export function tokenRequiredReason(segment: string): string {
  const x = encodeURIComponent(segment);
  return `Unauthorized: An access token is required: /ws/chat/${x.length <= 24 ? x : '<x>'}/?token=<access from POST /api/token/>`;
}

/** The close code and reason for a refusal of {@link resolveTarget}. */
function refusal(err: unknown): [number, string] {
  if (err instanceof DomainError) {
    if (err.code === 'NOT_FOUND') return [LEGACY_CLOSE.NOT_FOUND, err.message];
    if (err.code === 'FORBIDDEN') return [LEGACY_CLOSE.FORBIDDEN, `Forbidden: ${err.message}`];
    if (err.code === 'BAD_USER_INPUT') return [LEGACY_CLOSE.BAD_REQUEST, `Bad request: ${err.message}`];
    if (err.code === 'UNAUTHENTICATED') return [LEGACY_CLOSE.UNAUTHORIZED, `Unauthorized: ${err.message}`];
  }
  return [LEGACY_CLOSE.INTERNAL, 'Internal server error'];
}

/** The running legacy sockets. */
export interface LegacySockets {
  /** The `noServer` WebSocketServer of `/ws/chat/<x>/`. */
  server: WebSocketServer;
  /** Its route for the HTTP server's upgrades (upgrades.ts). */
  route: UpgradeRoute;
  /** Sockets ready now (authenticated, bound, subscribed), optionally only those matching `filter` (tests, metrics). */
  readyCount(filter?: { userId?: number; conversationId?: number; dialect?: DialectName }): number;
  /** Stops listening to the bus (the sockets are closed by the caller). */
  close(): void;
}

/** What every legacy socket of one {@link startLegacySockets} shares. */
interface LegacyShared {
  deps: TransportDeps;
  /** One renderer per dialect and stream, shared by every socket: a frame is made once per event per dialect. */
  renderers: Map<Stream, FrameRenderer>;
  /** Ready sockets by conversation. */
  byConversation: Map<number, Set<LegacySocket>>;
}

/**
 * One socket at `/ws/chat/<x>/`: the {@link SessionCore} (frame queue, pump, typing throttle,
 * subscriptions) with the WebSocket framing: JSON frames in and out, TCP back-pressure, the
 * seed's dialect chosen by `<x>` ({@link resolveTarget}) once the socket is admitted.
 */
class LegacySocket extends SessionCore<WebSocket, RawData> implements LegacyConnection {
  dialect!: DialectName;
  conversationId = 0;
  peer: { id: number; username: string } | null = null;
  host: string | null = null;
  private impl!: Dialect;

  constructor(
    private readonly shared: LegacyShared,
    private readonly state: GatedSocket<WebSocket>,
  ) {
    super(shared.deps, state.socket, { maxWaiting: MAX_WAITING, pauseAt: PAUSE_AT, overflowReason: 'Too many frames waiting; slow down' });
  }

  send(frame: object): void {
    this.deps.gate.send(this.socket, JSON.stringify(frame));
  }

  blocked(): Promise<Set<number>> {
    return this.deps.audience.blockedIds(this.viewer);
  }

  protected override flow(reading: boolean): void {
    if (reading && this.socket.isPaused) this.socket.resume();
    else if (!reading && !this.socket.isPaused) this.socket.pause();
  }

  /** Authenticates, resolves `<x>`, subscribes, then handles the frames that waited. */
  async start(request: LegacyRequest | Error): Promise<void> {
    const { gate, services, audience, logger } = this.deps;
    if (request instanceof Error) {
      // Never authenticated: counts as its address's failure when it closes (SocketGate).
      const [code, reason] = refusal(request);
      this.close(code, reason);
      return;
    }
    const admission = await gate.authenticate(this.state, request.token);
    if (!admission.ok) {
      if (admission.unauthenticated)
        this.close(LEGACY_CLOSE.UNAUTHORIZED, request.token ? `Unauthorized: ${admission.reason}` : tokenRequiredReason(request.segment));
      return;
    }
    if (!this.accepting()) return;
    this.viewer = admission.viewer;
    const before = this.viewer.version;
    let target: LegacyTarget;
    try {
      target = await resolveTarget(services, this.scope(), request);
    } catch (err) {
      const [code, reason] = refusal(err);
      if (code === LEGACY_CLOSE.INTERNAL) logger.error({ err }, 'legacy socket target failed');
      this.close(code, reason);
      return;
    }
    if (!this.accepting()) return;
    audience.noteMembership(this.viewer, target.conversationId, target.member, before);
    this.dialect = target.dialect;
    this.impl = DIALECTS[target.dialect];
    this.conversationId = target.conversationId;
    this.peer = target.peer;
    for (const s of this.impl.streams) {
      this.follow(s.type === 'presence' ? 'presence' : `${s.type}:${this.conversationId}`, this.shared.renderers.get(s)!, {
        viewer: this.viewer,
        conversationId: this.conversationId,
        peerId: this.peer?.id ?? null,
        narrowing: s.narrowing,
        timelineOnly: true,
      });
    }
    const byConversation = this.shared.byConversation;
    let set = byConversation.get(this.conversationId);
    if (!set) byConversation.set(this.conversationId, (set = new Set()));
    set.add(this);
    this.markReady();
    logger.info(
      { socket: this.state.socketId, userId: this.viewer.actor.id, dialect: this.dialect, conversationId: this.conversationId },
      'legacy socket ready',
    );
    await this.impl.opened?.(this);
    this.drain();
  }

  /** One client frame: JSON with a string `type`, handled by the dialect; a refusal is the dialect's to answer. */
  protected async process(data: RawData): Promise<void> {
    let frame: unknown;
    try {
      frame = JSON.parse(String(data));
    } catch {
      this.impl.refuse(this, { code: 'BAD_USER_INPUT', message: 'Invalid JSON', type: null });
      return;
    }
    if (!frame || typeof frame !== 'object' || Array.isArray(frame) || typeof (frame as { type?: unknown }).type !== 'string') {
      this.impl.refuse(this, { code: 'BAD_USER_INPUT', message: 'A frame must be a JSON object with a "type"', type: null });
      return;
    }
    try {
      await this.impl.handle(this, frame as ClientFrame);
    } catch (err) {
      const { logger } = this.deps;
      if (!(err instanceof InvalidFrame) && !(err instanceof DomainError)) logger.error({ err }, 'legacy socket frame failed');
      else logger.debug({ err: (err as Error).message, dialect: this.dialect }, 'legacy socket frame refused');
      this.impl.refuse(this, refusalOf(err, (frame as ClientFrame).type));
    }
  }

  /** The socket closed: unsubscribe, forget, release its admission. */
  onClose(): void {
    if (!this.stop()) return;
    const byConversation = this.shared.byConversation;
    const set = byConversation.get(this.conversationId);
    if (set?.delete(this) && !set.size) byConversation.delete(this.conversationId);
    this.deps.gate.release(this.state).catch((err) => this.deps.logger.warn({ err }, 'legacy socket release failed'));
  }

  /** A member of this socket's conversation joined or left (`frame`: the dialect's frame for it, made once per event). */
  membershipChanged(e: Extract<DomainEvent, { type: 'membership.changed' }>, frame: () => Promise<string | null> | null): void {
    const { audience, gate } = this.deps;
    if (e.userId === this.viewer.actor.id && !e.active) {
      // Its user left, or was removed or banned: this socket can never receive again.
      void Promise.resolve(audience.canRead(this.viewer, this.conversationId)).then((ok) => {
        if (!ok) this.close(LEGACY_CLOSE.FORBIDDEN, 'Forbidden: you are no longer a member of this conversation');
      });
      return;
    }
    const made = frame();
    if (!made) return;
    void Promise.all([made, audience.canRead(this.viewer, this.conversationId)]).then(([f, ok]) => {
      if (f && ok) gate.send(this.socket, f);
    });
  }

  /** The socket's dialect once it is ready (subscribed), else undefined. */
  get dialectImpl(): Dialect | undefined {
    return this.isReady ? this.impl : undefined;
  }
}

/**
 * The seeds' WebSocket dialects at `/ws/chat/<x>/` (issue 16), thin adapters over the domain
 * services and the delivery hub:
 * - admission through the same {@link SocketGate} as /graphql (address and user limits,
 *   WS_MAX_SOCKETS_PER_USER across both, presence, login expiry and logout), with the token in
 *   `Authorization: Bearer` or `?token=`; then `<x>` is resolved ({@link resolveTarget});
 * - each socket follows its one conversation: the hub renders each event once per dialect
 *   (a {@link FrameRenderer} per dialect and event type) and writes the same frame to every
 *   socket whose user may read the conversation now (the live audience: a member removed or
 *   banned stops receiving at once, and their socket is closed with 4403), typing and presence
 *   hidden across blocks;
 * - client frames are handled one at a time, in order, as domain calls (every rule and limit
 *   applies; the session core, legacy/session-core.ts); invalid ones get the seed's error frame
 *   where it has one, else nothing.
 */
export function startLegacySockets(deps: TransportDeps): LegacySockets {
  const { config, services, rootEm, logger, clientIp, clientHost, gate } = deps;
  const server = new WebSocketServer({ noServer: true, maxPayload: config.ws.maxPayloadBytes });
  const stopHeartbeat = keepAlive(server, config.ws.pingIntervalMs);
  const shared: LegacyShared = { deps, renderers: new Map(), byConversation: new Map() };
  for (const d of Object.values(DIALECTS))
    for (const [s, r] of frameRenderers(deps, d, `legacy:${d.name}`, (f) => JSON.stringify(f))) shared.renderers.set(s, r);
  const byConversation = shared.byConversation;

  // Joins and leaves (seed 003 `user_join` / `user_leave`), and closing the socket of a member who
  // lost access. The audience registry listened first, so its memberships are current here.
  const offMembership = services.bus.on('membership.changed', (e) => {
    if (e.type !== 'membership.changed') return;
    const set = byConversation.get(e.conversationId);
    if (!set) return;
    const frames = new Map<Dialect, Promise<string | null>>();
    const frameOf = (d: Dialect) => () => {
      if (!d.membership) return null;
      let f = frames.get(d);
      if (!f) {
        f = services.userCache.get(rootEm.fork(), e.userId).then(
          (u) => {
            const frame = u ? d.membership!(u, e.active) : null;
            return frame ? JSON.stringify(frame) : null;
          },
          (err) => {
            logger.warn({ err }, 'legacy membership frame failed');
            return null;
          },
        );
        frames.set(d, f);
      }
      return f;
    };
    for (const conn of [...set]) {
      const d = conn.dialectImpl;
      if (d) conn.membershipChanged(e, frameOf(d));
    }
  });

  server.on('connection', (socket, req) => {
    const state = gate.admit(socket, clientIp(req));
    if (!state) return;
    let request: LegacyRequest | Error;
    try {
      request = parseLegacyRequest(req);
    } catch (err) {
      request = err as Error;
    }
    const conn = new LegacySocket(shared, state);
    conn.host = clientHost(req);
    socket.on('message', (data) => conn.receive(data));
    socket.once('close', () => conn.onClose());
    conn.start(request).catch((err) => {
      logger.error({ err }, 'legacy socket failed to start');
      conn.close(LEGACY_CLOSE.INTERNAL, 'Internal server error');
    });
  });

  return {
    server,
    route: { matches: (pathname) => LEGACY_PATH.test(pathname), server },
    readyCount(filter = {}) {
      let n = 0;
      for (const [cid, set] of byConversation) {
        if (filter.conversationId !== undefined && cid !== filter.conversationId) continue;
        for (const s of set) {
          if (filter.userId !== undefined && s.viewer.actor.id !== filter.userId) continue;
          if (filter.dialect !== undefined && s.dialect !== filter.dialect) continue;
          n++;
        }
      }
      return n;
    },
    close() {
      offMembership();
      stopHeartbeat();
    },
  };
}
