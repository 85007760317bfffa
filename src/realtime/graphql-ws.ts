import type { IncomingMessage, Server } from 'node:http';
import type { EntityManager } from '@mikro-orm/postgresql';
import { createSourceEventStream, GraphQLError, Kind, type OperationDefinitionNode, type ExecutionResult, type GraphQLFormattedError, type GraphQLSchema } from 'graphql';
import { CloseCode, makeServer } from 'graphql-ws';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Config } from '../config/config';
import type { DomainEvent } from '../domain/shared/events';
import { GraphQLContext } from '../graphql/context';
import { createLoaders } from '../graphql/loaders';
import type { Services } from '../services';
import type { DocumentCache } from '../security/query-limits';
import { AudienceRegistry } from './audience';
import { followedBy, mayReceive } from './audiences';
import { DELIVERY_QUERY, DeliveryHub } from './delivery';
import { startSocketIo, type SocketIoEndpoint } from './legacy/socketio';
import { startLegacySockets, type LegacySockets } from './legacy/router';
import type { LiveSocket } from './live';
import { missedChanges, REPLAY_MARGIN_MS } from './replay';
import { dependsOnViewer } from './selection';
import { bearer, SocketGate, type GatedSocket } from './socket-gate';
import { keepAlive, SocketSessions, truncateReason } from './socket-sessions';
import { routeUpgrades } from './upgrades';

/** What the realtime layer keeps per socket (graphql-ws's `extra`). */
type SocketState = GatedSocket<WebSocket>;

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
  /** The legacy dialects' sockets at /ws/chat/<x>/ (legacy/router.ts). */
  legacy: LegacySockets;
  /** Seed 002's Socket.IO endpoint at /socket.io/ (legacy/socketio.ts); app.ts routes its HTTP requests here. */
  socketIo: SocketIoEndpoint;
  /** Open sockets now (graphql-ws, the legacy WebSocket dialects and Socket.IO). */
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

/** "Bearer <token>" → token (defined in socket-gate.ts, shared with the legacy sockets; app.ts reads it from here). */
export { bearer };

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
 *   bus the instance re-checks its sockets' logins and audiences against PostgreSQL;
 * - the seeds' WebSocket dialects at /ws/chat/<x>/ (legacy/router.ts) share the admission and
 *   limits ({@link SocketGate}) and the hub; the HTTP server's upgrades are routed by path in one
 *   place (upgrades.ts).
 */
export function startRealtime(httpServer: Server, deps: RealtimeDeps): Realtime {
  const { config, services, rootEm, schema, documents, logger, clientIp, format } = deps;
  const isProd = config.nodeEnv === 'production';
  const bus = services.bus;
  const sessions = new SocketSessions(bus);
  const audience = new AudienceRegistry(bus, rootEm, (em, id) => services.contacts.blockedIds(em, id), logger);
  const hub = new DeliveryHub(bus, {
    schema,
    // Who receives what: the one audience rule (audiences.ts), asked per subscriber and event.
    mayReceive: (spec, e) => mayReceive(audience, spec, e),
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
        const { conversations, supportThreads } = await followedBy(audience, hub.interest());
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

  // `noServer`: the HTTP server's upgrades are routed by path in one place (upgrades.ts), to this
  // server (/graphql; its `path` still refuses any other path with 400) or the legacy dialects'.
  const wsServer = new WebSocketServer({
    noServer: true,
    path: '/graphql',
    maxPayload: config.ws.maxPayloadBytes,
    handleProtocols: (protocols) => (protocols.has('graphql-transport-ws') ? 'graphql-transport-ws' : false),
  });
  const stopHeartbeat = keepAlive(wsServer, config.ws.pingIntervalMs);

  // Admission (per-address and per-user limits, the token, presence) and bounded sends, shared
  // with the legacy dialects' sockets (socket-gate.ts).
  const gate = new SocketGate({ config, services, rootEm, audience, sessions, logger });
  const send = (socket: WebSocket, data: string) => gate.send(socket, data);
  const closeTooFarBehind = (socket: WebSocket, why: string) => gate.closeTooFarBehind(socket, why);

  // The seeds' WebSocket dialects at /ws/chat/<x>/ (legacy/router.ts), over the same gate and hub.
  const legacy = startLegacySockets({
    config, services, rootEm, logger, clientIp, gate, hub, audience,
    userOf: (scope, id) => (scope as unknown as { loaders: ReturnType<typeof createLoaders> }).loaders.user.load(id),
    attachmentsOf: (scope, id) => (scope as unknown as { loaders: ReturnType<typeof createLoaders> }).loaders.attachments.load(id),
  });
  // Seed 002's Socket.IO at /socket.io/ (legacy/socketio.ts), over the same gate and hub.
  const socketIo = startSocketIo({
    config, services, rootEm, logger, clientIp, gate, hub, audience,
    userOf: (scope, id) => (scope as unknown as { loaders: ReturnType<typeof createLoaders> }).loaders.user.load(id),
  });
  const stopRouting = routeUpgrades(httpServer, [legacy.route, socketIo.route], wsServer);

  const server = makeServer<Record<string, unknown> | undefined, SocketState>({
    schema,
    connectionInitWaitTimeout: config.ws.initTimeoutMs,
    onConnect: async (ctx) => {
      const state = ctx.extra;
      const params = (ctx.connectionParams ?? {}) as Record<string, unknown>;
      const token = bearer(params.authorization ?? params.Authorization) ?? (typeof params.token === 'string' ? params.token : undefined);
      // graphql-ws keeps connectionParams for the socket's life: the token is not needed after this (it is a few hundred bytes per socket).
      delete params.authorization; delete params.Authorization; delete params.token;
      // A refusal answers false: graphql-ws closes with 4403 Forbidden (unless the gate closed it with 1013 already).
      return (await gate.authenticate(state, token)).ok;
    },
    onClose: async (ctx) => {
      await gate.release(ctx.extra);
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
    const state = gate.admit(socket, clientIp(request), CloseCode.InternalServerError);
    if (!state) return;
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
    socket.once('close', (code, reason) => { void closed(code, String(reason)); });
  });

  const servers = [wsServer, legacy.server];
  const openSockets = () => servers.reduce((n, s) => n + s.clients.size, 0) + socketIo.count();
  return {
    hub,
    audience,
    legacy,
    socketIo,
    socketCount: openSockets,
    stats: () => ({ closedTooFarBehind: gate.closedTooFarBehind }),
    close: async (graceMs) => {
      offResync();
      for (const s of servers) for (const client of s.clients) client.close(1001, 'Server shutting down');
      socketIo.closeAll(1001, 'Server shutting down');
      const deadline = Date.now() + graceMs;
      while (openSockets() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      for (const s of servers) for (const client of s.clients) client.terminate();
      socketIo.close();
      stopRouting();
      await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
      legacy.close();
      hub.close();
      sessions.close();
      stopHeartbeat();
      audience.close();
    },
  };
}
