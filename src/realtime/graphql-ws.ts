import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { EntityManager } from '@mikro-orm/postgresql';
import { createSourceEventStream, GraphQLError, Kind, type OperationDefinitionNode, type ExecutionResult, type GraphQLFormattedError, type GraphQLSchema } from 'graphql';
import { CloseCode, makeServer } from 'graphql-ws';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Config } from '../config/config';
import { RateLimitedError } from '../domain/shared/rate-limit';
import type { DomainEvent } from '../domain/shared/events';
import { GraphQLContext } from '../graphql/context';
import { createLoaders } from '../graphql/loaders';
import type { Services } from '../services';
import type { DocumentCache } from '../security/query-limits';
import { AudienceRegistry, type Viewer } from './audience';
import { DELIVERY_QUERY, DeliveryHub } from './delivery';
import { CLOSE_TOO_FAR_BEHIND, type LiveSocket } from './live';
import { missedChanges, REPLAY_MARGIN_MS } from './replay';
import { dependsOnViewer } from './selection';
import { CLOSE_TRY_AGAIN_LATER, keepAlive, SocketSessions, truncateReason } from './socket-sessions';

/** What the realtime layer keeps per socket. */
interface SocketState {
  socket: WebSocket;
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
  /** The address check made at the upgrade: connection_init waits for it instead of asking again. */
  addressCheck?: Promise<void>;
}

/** Everything {@link startRealtime} needs from the app. */
export interface RealtimeDeps {
  config: Config;
  services: Services;
  rootEm: EntityManager;
  schema: GraphQLSchema;
  /** Parse + validate with the query limits, cached per document text. */
  documents: DocumentCache;
  logger: Logger;
  /** The client address of an upgrade request (TRUST_PROXY). */
  clientIp(req: IncomingMessage): string;
  /** The one error mapper (contract codes, no internals). */
  format(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError;
  /** Called once per event as it fans out (metrics). */
  onDispatch?: (event: DomainEvent) => void;
}

/** The running realtime layer. */
export interface Realtime {
  hub: DeliveryHub;
  audience: AudienceRegistry;
  /** Open sockets now. */
  socketCount(): number;
  /** Counters since start: sockets closed with 4507 (too far behind). */
  stats(): { closedTooFarBehind: number };
  /**
   * Closes every socket (1001), waits up to `graceMs` for them to go, then terminates the rest,
   * so a client that stopped reading cannot hold the shutdown.
   */
  close(graceMs: number): Promise<void>;
}

/** Group keys in use, one copy each (thousands of sockets subscribe with the same operation). */
const keys = new Map<string, string>();
function intern(key: string): string {
  const known = keys.get(key);
  if (known !== undefined) return known;
  if (keys.size >= 10_000) keys.clear();
  keys.set(key, key);
  return key;
}

/** How long a socket closed for being too far behind may take to read its close frame before it is dropped (ms). */
const TERMINATE_AFTER_MS = 5000;

/** "Bearer <token>" → token; anything else → undefined. */
export function bearer(header: unknown): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(String(header ?? ''));
  return m?.[1];
}

/**
 * GraphQL over WebSocket at /graphql (graphql-transport-ws, graphql-ws's `makeServer` core with
 * our own `ws` adapter) and the delivery layer behind it:
 * - connect: per-address and per-user connection rates, `WS_MAX_SOCKETS_PER_USER` open sockets,
 *   a valid access token of a live login (4403 otherwise), then presence;
 * - subscriptions register with the {@link DeliveryHub} (one execution per event per group of
 *   equal operations) with access answered by the {@link AudienceRegistry} from memory;
 * - sends never wait for the network: a socket whose unsent bytes pass `WS_MAX_BUFFERED_BYTES`,
 *   or whose subscription falls `WS_MAX_QUEUED_EVENTS` behind, is closed with 4507;
 * - token expiry and logout close sockets (4403) on every instance, and after an outage of the
 *   bus the instance re-checks its sockets' logins and audiences against PostgreSQL.
 */
export function startRealtime(httpServer: Server, deps: RealtimeDeps): Realtime {
  const { config, services, rootEm, schema, documents, logger, clientIp, format } = deps;
  const isProd = config.nodeEnv === 'production';
  const bus = services.bus;
  const sessions = new SocketSessions(bus);
  const audience = new AudienceRegistry(bus, rootEm, (em, id) => services.contacts.blockedIds(em, id), logger);
  const hub = new DeliveryHub(bus, {
    schema,
    maxQueue: config.ws.maxQueuedEvents,
    followersOf: (conversationId) => audience.followersOf(conversationId),
    onDispatch: deps.onDispatch,
    newScope: (e: DomainEvent) => {
      const em = rootEm.fork({ loggerContext: DELIVERY_QUERY });
      const loaders = createLoaders(em, null, services.userCache);
      // A new text or system message has no attachments yet (they come with message.edited).
      if (e.type === 'message.added' && (e.message.kind === 'TEXT' || e.message.kind === 'SYSTEM')) loaders.attachments.prime(e.message.id, []);
      return { em, loaders };
    },
    contextFor: (actor, scope) => {
      const { em, loaders } = scope as unknown as { em: EntityManager; loaders: ReturnType<typeof createLoaders> };
      if (!actor) return GraphQLContext.forEvent(services, rootEm, null, em, loaders);
      const viewer = audience.viewerOf(actor.id);
      return GraphQLContext.forEvent(services, rootEm, actor, em, createLoaders(em, actor.id, services.userCache), viewer ? () => audience.blockedIds(viewer) : undefined);
    },
    // The same mapping as graphql-ws's onNext below: contract codes, no internals.
    present: (r) => (r.errors?.length ? { ...r, errors: r.errors.map((e) => format(e.toJSON(), e)) } : r),
    onError: (err) => logger.error({ err }, 'realtime delivery failed'),
  });
  // After an outage of the bus, events published elsewhere meanwhile were lost. Live events wait
  // while this instance re-reads from PostgreSQL, in this order: rights and memberships (bans,
  // removals, staff changes), logins (logouts close their sockets), then the message changes its
  // subscribers missed, delivered in change order before the waiting events, each once.
  const offResync = bus.onResync((downSince) => {
    hub.pause();
    const started = Date.now();
    // Live delivery never waits longer than this for the database (a late replay still comes, once).
    const unblock = setTimeout(() => hub.resume(), 10_000);
    unblock.unref();
    void (async () => {
      let replayed: DomainEvent[] = [];
      try {
        await audience.resync();
        await sessions.recheck((ids) => services.auth.liveSessions(rootEm.fork(), ids));
        const { conversations, followers } = hub.interest();
        let supportThreads = false;
        for (const actor of followers) {
          const viewer = audience.viewerOf(actor.id);
          if (!viewer) continue;
          await audience.ensureComplete(viewer);
          for (const [c, member] of viewer.member) if (member) conversations.add(c);
          if (viewer.actor.isStaff) supportThreads = true;
        }
        replayed = await missedChanges(rootEm.fork(), [...conversations], supportThreads, new Date(downSince - REPLAY_MARGIN_MS));
        logger.info({ replayed: replayed.length, ms: Date.now() - started }, 'live state re-checked after the bus outage');
      } catch (err) {
        logger.error({ err }, 're-check after the bus outage failed; clients catch up with messagesSince');
      } finally {
        clearTimeout(unblock);
        hub.resume(replayed);
      }
    })();
  });

  const wsServer = new WebSocketServer({
    server: httpServer,
    path: '/graphql',
    maxPayload: config.ws.maxPayloadBytes,
    handleProtocols: (protocols) => (protocols.has('graphql-transport-ws') ? 'graphql-transport-ws' : false),
  });
  const stopHeartbeat = keepAlive(wsServer, config.ws.pingIntervalMs);

  let closedTooFarBehind = 0;
  const closeTooFarBehind = (socket: WebSocket, why: string) => {
    if (socket.readyState !== socket.OPEN) return;
    closedTooFarBehind++;
    socket.close(CLOSE_TOO_FAR_BEHIND, why);
    // A client that stopped reading never takes the close frame: drop it after a while (its
    // memory is bounded meanwhile: nothing more is queued for a closing socket).
    setTimeout(() => socket.terminate(), TERMINATE_AFTER_MS).unref();
  };

  // Per address, only what an attacker produces counts (issue 17): sockets that fail to
  // authenticate (no connection_init in time, no token, a bad or logged-out one) count toward
  // RATE_WS_PER_MIN_IP, and at most WS_MAX_PENDING_PER_IP sockets of one address may be open
  // without having authenticated yet. An office of hundreds behind one NAT connects at once.
  const pendingByIp = new Map<string, number>();
  const settle = (state: SocketState) => {
    if (!state.pending) return;
    state.pending = false;
    const n = (pendingByIp.get(state.ip) ?? 1) - 1;
    if (n > 0) pendingByIp.set(state.ip, n); else pendingByIp.delete(state.ip);
  };
  const failed = (state: SocketState) => {
    if (state.failed || state.authenticated) return;
    state.failed = true;
    services.limits.consume('wsConnectIp', state.ip).catch(() => undefined);
  };
  const refuseAddress = (state: SocketState, err: unknown) => {
    state.failed = true;
    state.socket.close(CLOSE_TRY_AGAIN_LATER, truncateReason((err as Error).message));
  };

  /** Never waits for the network: the bytes queue in `ws`, bounded by WS_MAX_BUFFERED_BYTES. */
  const send = (socket: WebSocket, data: string) => {
    if (socket.readyState !== socket.OPEN) return;
    socket.send(data);
    if (socket.bufferedAmount > config.ws.maxBufferedBytes) closeTooFarBehind(socket, 'Too far behind: reconnect and catch up');
  };

  const server = makeServer<Record<string, unknown> | undefined, SocketState>({
    schema,
    connectionInitWaitTimeout: config.ws.initTimeoutMs,
    onConnect: async (ctx) => {
      const state = ctx.extra;
      const params = (ctx.connectionParams ?? {}) as Record<string, unknown>;
      const token = bearer(params.authorization ?? params.Authorization) ?? (typeof params.token === 'string' ? params.token : undefined);
      // graphql-ws keeps connectionParams for the socket's life: the token is not needed after this (it is a few hundred bytes per socket).
      delete params.authorization; delete params.Authorization; delete params.token;
      try {
        await (state.addressCheck ?? services.limits.check('wsConnectIp', state.ip));
      } catch (err) {
        refuseAddress(state, err);
        return false;
      }
      if (!token) { failed(state); return false; }
      let session;
      try {
        // A logged-out login's access token opens no new socket.
        session = await services.auth.liveSession(rootEm.fork(), token);
      } catch {
        failed(state);
        return false; // graphql-ws closes with 4403 Forbidden
      }
      // A valid login: whatever follows (its own per-user limits), not an address's failure.
      state.authenticated = true;
      try {
        await services.limits.consume('wsConnectUser', String(session.actor.id));
      } catch (err) {
        if (err instanceof RateLimitedError) state.socket.close(CLOSE_TRY_AGAIN_LATER, truncateReason(err.message));
        return false;
      }
      if (state.socket.readyState !== state.socket.OPEN) return false;
      const open = audience.viewerOf(session.actor.id)?.sockets ?? 0;
      if (open >= config.ws.maxSocketsPerUser) {
        state.socket.close(CLOSE_TRY_AGAIN_LATER, truncateReason(`Too many open sockets for this user (at most ${config.ws.maxSocketsPerUser}); close one first`));
        return false;
      }
      state.viewer = audience.attach(session.actor);
      settle(state);
      state.socketId = randomUUID();
      sessions.add(state.socket, session);
      logger.info({ socket: state.socketId, userId: session.actor.id, ip: state.ip }, 'socket authenticated');
      await services.presence.connected(session.actor.id, state.socketId);
      return true;
    },
    onClose: async (ctx) => {
      const state = ctx.extra;
      if (!state.viewer || !state.socketId) return;
      const { viewer, socketId } = state;
      state.viewer = undefined;
      audience.detach(viewer);
      await services.presence.disconnected(viewer.actor.id, socketId);
    },
    // Parse and validate here (with the query limits, and without introspection when it is off)
    // so that a bad document answers with an `error` message carrying BAD_USER_INPUT (graphql-ws
    // would otherwise close the whole socket on a syntax error). One socket holds at most
    // WS_MAX_SUBSCRIPTIONS operations at once: past that, the new one gets RATE_LIMITED.
    onSubscribe: (ctx, id, payload) => {
      // graphql-ws registers this operation before calling us, so the count includes it.
      if (Object.keys(ctx.subscriptions).length > config.wsMaxSubscriptions) {
        return [new GraphQLError(`Too many operations on this socket (at most ${config.wsMaxSubscriptions}); complete one first`, { extensions: { code: 'RATE_LIMITED', reason: 'TOO_MANY_SUBSCRIPTIONS' } })];
      }
      const prepared = documents.prepare(payload.query);
      if (prepared.errors) return prepared.errors;
      // graphql-ws keeps the payload while the operation lives: one shared copy of the text, not one per socket.
      (payload as { query: string }).query = prepared.query;
      const named = prepared.document.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION && (!payload.operationName || d.name?.value === payload.operationName));
      logger.info({ socket: ctx.extra.socketId, userId: ctx.extra.viewer?.actor.id, operationId: id, operation: payload.operationName ?? named?.name?.value ?? null }, 'socket subscribed');
      const state = ctx.extra;
      const viewer = state.viewer!;
      const variableValues = payload.variables ?? undefined;
      const live: LiveSocket = {
        viewer, audience, hub, maxPresenceIds: config.ws.maxPresenceIds,
        operation: {
          document: prepared.document,
          operationName: payload.operationName,
          variableValues,
          key: intern(`${payload.operationName ?? ''}\u0000${JSON.stringify(variableValues ?? null)}\u0000${payload.query}`),
          perViewer: dependsOnViewer(schema, prepared.document, payload.operationName),
        },
        operationId: id,
        send: (frame) => send(state.socket, frame),
        close: (code, reason) => closeTooFarBehind(state.socket, reason || String(code)),
      };
      return {
        schema,
        document: prepared.document,
        operationName: payload.operationName,
        variableValues,
        contextValue: new GraphQLContext(services, rootEm, viewer.actor, undefined, state.ip, live),
      };
    },
    // A subscription's root field returns the hub's stream of finished results: no execution per
    // subscriber here (graphql-js `subscribe` would execute the selection again for each event).
    subscribe: async (args) => {
      const stream = await createSourceEventStream(args);
      (args.contextValue as GraphQLContext).release();
      return stream as AsyncIterable<ExecutionResult> | ExecutionResult;
    },
    // Every error sent in an `error` message goes through the one mapper too: refusals above,
    // and failures of a subscription's stream (which would otherwise leave with their raw text).
    onError: (_ctx, _id, _payload, errors) => errors.map((e) => format(e.toJSON(), e.originalError ?? e)),
    onNext: (_ctx, _id, _payload, _args, result) => {
      const r = result as ExecutionResult;
      if (!r.errors?.length) return undefined;
      return { ...r, errors: r.errors.map((e) => format(e.toJSON ? e.toJSON() : (e as GraphQLFormattedError), e)) } as unknown as ExecutionResult;
    },
  });

  wsServer.on('connection', (socket, request) => {
    socket.once('error', (err) => {
      logger.warn({ err: err.message }, 'websocket error');
      socket.close(CloseCode.InternalServerError, 'Internal server error');
    });
    const state: SocketState = { socket, ip: clientIp(request) };
    logger.info({ ip: state.ip }, 'socket opened');
    const pending = (pendingByIp.get(state.ip) ?? 0) + 1;
    socket.once('close', () => { failed(state); settle(state); });
    if (pending > config.ws.maxPendingPerIp) {
      socket.close(CLOSE_TRY_AGAIN_LATER, 'Too many unauthenticated connections from this address');
      return;
    }
    pendingByIp.set(state.ip, pending);
    state.pending = true;
    // An address past its failures is refused at once, before it sends anything.
    state.addressCheck = services.limits.check('wsConnectIp', state.ip);
    state.addressCheck.catch((err) => { if (err instanceof RateLimitedError) refuseAddress(state, err); });
    const closed = server.opened(
      {
        protocol: socket.protocol,
        send: (data) => send(socket, data),
        close: (code, reason) => socket.close(code, reason),
        // Not an async function: graphql-ws's promise for a `subscribe` message lasts as long as the
        // subscription, and an awaiting frame here would keep the message's bytes alive with it.
        onMessage: (cb) => socket.on('message', (data) => {
          cb(String(data)).catch((err: Error) => {
            logger.error({ err }, 'graphql-ws message failed');
            socket.close(CloseCode.InternalServerError, isProd ? 'Internal server error' : truncateReason(err?.message ?? 'Internal server error'));
          });
        }),
      },
      state,
    );
    socket.once('close', (code, reason) => {
      logger.info({ socket: state.socketId ?? null, userId: state.viewer?.actor.id ?? null, ip: state.ip, code, reason: truncateReason(String(reason)) }, 'socket closed');
      void closed(code, String(reason));
    });
  });

  return {
    hub,
    audience,
    socketCount: () => wsServer.clients.size,
    stats: () => ({ closedTooFarBehind }),
    close: async (graceMs) => {
      offResync();
      for (const client of wsServer.clients) client.close(1001, 'Server shutting down');
      const deadline = Date.now() + graceMs;
      while (wsServer.clients.size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      for (const client of wsServer.clients) client.terminate();
      await new Promise<void>((resolve) => wsServer.close(() => resolve()));
      hub.close();
      sessions.close();
      stopHeartbeat();
      audience.close();
    },
  };
}
