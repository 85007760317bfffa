import type { Server } from 'node:http';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { DomainEvent } from '../domain/shared/events';
import { GraphQLContext } from '../graphql/context';
import { createLoaders } from '../read-model/loaders';
import { followedBy, mayReceive } from './delivery/audiences';
import { DELIVERY_QUERY, DeliveryHub, type EventScope } from './delivery/hub';
import type { RealtimeDeps, TransportDeps } from './deps';
import { missedChanges, REPLAY_MARGIN_MS } from './delivery/replay';
import { LargeConversations } from './state/large-conversations';
import { AudienceRegistry } from './state/live-registry';
import { startGraphqlWs } from './transports/graphql-ws';
import { startSocketIo, type SocketIoEndpoint } from './transports/legacy/socketio';
import { startLegacySockets, type LegacySockets } from './transports/legacy/router';
import { bearer, SocketGate } from './transports/socket-gate';
import { SocketSessions } from './transports/socket-sessions';
import { CloseCode as Close } from './transports/sockets';
import { routeUpgrades } from './transports/upgrades';

/** "Bearer <token>" → token (defined in transports/socket-gate.ts, shared with the legacy sockets; app.ts reads it from here). */
export { bearer };
export type { RealtimeDeps, TransportDeps } from './deps';

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

/**
 * The realtime layer's composition root (issue 29: transports only translate). It builds, in
 * order: the shared state it owns (the live registry of viewers, SocketSessions for logins), the
 * delivery hub (one execution per event per group of equal subscriptions, the audience rules of
 * delivery/audiences.ts), the re-check after a bus outage (replay), the admission gate, and the
 * three transports over them: graphql-ws at /graphql (transports/graphql-ws.ts), the seeds'
 * WebSocket dialects at /ws/chat/<x>/ and seed 002's Socket.IO at /socket.io/
 * (transports/legacy/); the HTTP server's upgrades are routed by path in one place (upgrades.ts).
 * - connect: per-address and per-user connection rates, `WS_MAX_SOCKETS_PER_USER` open sockets,
 *   a valid access token of a live login (4403 otherwise), then presence;
 * - sends never wait for the network: a socket whose unsent bytes pass `WS_MAX_BUFFERED_BYTES`,
 *   or whose subscription falls `WS_MAX_QUEUED_EVENTS` behind, is closed with 4507;
 * - token expiry and logout close sockets (4403) on every instance, and after an outage of the
 *   bus the instance re-checks its sockets' logins and audiences against PostgreSQL.
 */
export function startRealtime(httpServer: Server, deps: RealtimeDeps): Realtime {
  const { config, services, rootEm, schema, logger, format } = deps;
  const bus = services.bus;
  const sessions = new SocketSessions(bus);
  const audience = new AudienceRegistry(
    bus,
    rootEm,
    (em, id) => services.contacts.blockedIds(em, id),
    logger,
    (em, id) => services.userCache.get(em, id),
  );
  const largeConversations = new LargeConversations(rootEm, config.seenByMaxMembers);
  const hub = new DeliveryHub(bus, {
    schema,
    // Who receives what: the one audience rule (audiences.ts), asked per subscriber and event.
    mayReceive: (spec, e) => mayReceive(audience, spec, e),
    maxQueue: config.ws.maxQueuedEvents,
    followersOf: (conversationId) => audience.followersOf(conversationId),
    // Issue 32: receipts of conversations above SEEN_BY_MAX_MEMBERS are coalesced (one a second per subscriber).
    coalesceReceipts: (conversationId) => largeConversations.isLarge(conversationId),
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
      return GraphQLContext.forEvent(
        services,
        rootEm,
        actor,
        em,
        createLoaders(em, actor.id, services.userCache),
        viewer ? () => audience.blockedIds(viewer) : undefined,
      );
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

  // Admission (per-address and per-user limits, the token, presence) and bounded sends, shared
  // with the legacy dialects' sockets (socket-gate.ts).
  const gate = new SocketGate({ config, services, rootEm, audience, sessions, logger });
  // What the three transports share, built once: the app's deps, the gate, the hub, the live
  // registry, and the event scope's loaders for the legacy frames.
  const loadersOf = (scope: EventScope) => (scope as unknown as { loaders: ReturnType<typeof createLoaders> }).loaders;
  const transportDeps: TransportDeps = {
    ...deps,
    gate,
    hub,
    audience,
    userOf: (scope, id) => loadersOf(scope).user.load(id),
    attachmentsOf: (scope, id) => loadersOf(scope).attachments.load(id),
  };
  // GraphQL over WebSocket at /graphql (transports/graphql-ws.ts).
  const graphqlWs = startGraphqlWs(transportDeps);
  // The seeds' WebSocket dialects at /ws/chat/<x>/ (legacy/router.ts), over the same gate and hub.
  const legacy = startLegacySockets(transportDeps);
  // Seed 002's Socket.IO at /socket.io/ (legacy/socketio.ts), over the same gate and hub.
  const socketIo = startSocketIo(transportDeps);
  const stopRouting = routeUpgrades(httpServer, [legacy.route, socketIo.route], graphqlWs.server);

  const servers = [graphqlWs.server, legacy.server];
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
      for (const s of servers) for (const client of s.clients) client.close(Close.SHUTTING_DOWN, 'Server shutting down');
      socketIo.closeAll(Close.SHUTTING_DOWN, 'Server shutting down');
      const deadline = Date.now() + graceMs;
      while (openSockets() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      for (const s of servers) for (const client of s.clients) client.terminate();
      socketIo.close();
      stopRouting();
      await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
      legacy.close();
      hub.close();
      sessions.close();
      graphqlWs.close();
      audience.close();
    },
  };
}
