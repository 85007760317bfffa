import { createSourceEventStream, execute, GraphQLError, Kind, type OperationDefinitionNode, type ExecutionResult, type GraphQLFormattedError } from 'graphql';
import { CloseCode, makeServer } from 'graphql-ws';
import { WebSocketServer, type WebSocket } from 'ws';
import { badInput } from '../../domain/shared/errors';
import { GraphQLContext } from '../../graphql/context';
import { costRefusal } from '../../security/query-cost';
import { budgetRefusal } from '../../security/request-budget';
import { RateLimitedError } from '../../domain/shared/rate-limit';
import type { TransportDeps } from '../deps';
import { dependsOnViewer } from '../delivery/selection';
import { LiveContext, type LiveSocket } from './live';
import { bearer, type GatedSocket, type SocketGate } from './socket-gate';
import type { AudienceRegistry, Viewer } from '../state/live-registry';
import type { DeliveryHub, PreparedOperation } from '../delivery/hub';
import { keepAlive, truncateReason } from './sockets';

/** What the realtime layer keeps per socket (graphql-ws's `extra`). */
/** A graphql-ws socket's state: the gate's, and the user ids its presence/userUpdated subscriptions name (LiveSocket.holdUserIds). */
type SocketState = GatedSocket<WebSocket> & { userIdsHeld?: number };

/** The running graphql-ws transport. */
export interface GraphqlWs {
  /** The `noServer` WebSocketServer of /graphql (upgrades.ts routes to it). */
  server: WebSocketServer;
  /** Stops its heartbeat (the sockets are closed by the caller). */
  close(): void;
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

/**
 * GraphQL over WebSocket at /graphql (graphql-transport-ws, graphql-ws's `makeServer` core with
 * our own `ws` adapter), a translation only: connect goes through the {@link SocketGate}, a
 * subscription's resolver (subscription.resolver.ts) registers its topic and audience with the
 * {@link DeliveryHub}, which writes each `next` frame, serialised once per group.
 */
export function startGraphqlWs(deps: TransportDeps): GraphqlWs {
  const { config, services, rootEm, schema, documents, logger, clientIp, format, gate, hub, audience, cost, budget } = deps;
  /** The cost of each query or mutation being started, for the budget (execute, below). */
  const costs = new WeakMap<object, number>();
  const isProd = config.nodeEnv === 'production';
  // `noServer`: the HTTP server's upgrades are routed by path in one place (upgrades.ts), to this
  // server (/graphql; its `path` still refuses any other path with 400) or the legacy dialects'.
  const wsServer = new WebSocketServer({
    noServer: true,
    path: '/graphql',
    maxPayload: config.ws.maxPayloadBytes,
    handleProtocols: (protocols) => (protocols.has('graphql-transport-ws') ? 'graphql-transport-ws' : false),
  });
  const stopHeartbeat = keepAlive(wsServer, config.ws.pingIntervalMs);

  const send = (socket: WebSocket, data: string) => gate.send(socket, data);
  // graphql-ws's own connection_init timer stays referenced by its per-socket closure for the
  // socket's life once cleared: ours is dropped when connection_init arrives (same 4408 close).
  const initWaits = new Map<SocketState, NodeJS.Timeout>();
  const initWaitMs = config.ws.initTimeoutMs;
  const endInitWait = (state: SocketState) => {
    const timer = initWaits.get(state);
    if (timer === undefined) return;
    clearTimeout(timer);
    initWaits.delete(state);
  };

  const server = makeServer<Record<string, unknown> | undefined, SocketState>({
    schema,
    connectionInitWaitTimeout: 0, // ours below (initWaits)
    onConnect: async (ctx) => {
      const state = ctx.extra;
      endInitWait(state);
      const params = (ctx.connectionParams ?? {}) as Record<string, unknown>;
      const token = bearer(params.authorization ?? params.Authorization) ?? (typeof params.token === 'string' ? params.token : undefined);
      // graphql-ws keeps connectionParams for the socket's life: the token is not needed after this (it is a few hundred bytes per socket).
      delete params.authorization;
      delete params.Authorization;
      delete params.token;
      // A refusal answers false: graphql-ws closes with 4403 Forbidden (unless the gate closed it with 1013 already).
      return (await gate.authenticate(state, token)).ok;
    },
    onClose: async (ctx) => {
      endInitWait(ctx.extra);
      await gate.release(ctx.extra);
    },
    // Parse and validate here (with the query limits, and without introspection when it is off)
    // so that a bad document answers with an `error` message carrying BAD_USER_INPUT (graphql-ws
    // would otherwise close the whole socket on a syntax error). One socket holds at most
    // WS_MAX_SUBSCRIPTIONS operations at once: past that, the new one gets RATE_LIMITED.
    onSubscribe: (ctx, id, payload) => {
      // graphql-ws registers this operation before calling us, so the count includes it.
      if (Object.keys(ctx.subscriptions).length > config.wsMaxSubscriptions) {
        return [
          new GraphQLError(`Too many operations on this socket (at most ${config.wsMaxSubscriptions}); complete one first`, {
            extensions: { code: 'RATE_LIMITED', reason: 'TOO_MANY_SUBSCRIPTIONS' },
          }),
        ];
      }
      const prepared = documents.prepare(payload.query);
      if (prepared.errors) return prepared.errors;
      // graphql-ws keeps the payload while the operation lives: one shared copy of the text, not one per socket.
      (payload as { query: string }).query = prepared.query;
      const named = prepared.document.definitions.find(
        (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION && (!payload.operationName || d.name?.value === payload.operationName),
      );
      logger.info(
        { socket: ctx.extra.socketId, userId: ctx.extra.viewer?.actor.id, operationId: id, operation: payload.operationName ?? named?.name?.value ?? null },
        'socket subscribed',
      );
      const state = ctx.extra;
      const viewer = state.viewer!;
      const variableValues = payload.variables ?? undefined;
      // The cost with the variables' values (every list at its page size or cap): past GRAPHQL_MAX_COST, refused like the other document limits.
      const operationCost = cost?.of(prepared.document, payload.operationName, variableValues) ?? null;
      const refused = costRefusal(operationCost, config.graphql.maxCost);
      if (refused) return [refused];
      const live = new SocketLive(
        state,
        gate,
        viewer,
        audience,
        hub,
        config.ws,
        {
          document: prepared.document,
          operationName: payload.operationName,
          variableValues,
          key: intern(`${payload.operationName ?? ''}\u0000${JSON.stringify(variableValues ?? null)}\u0000${payload.query}`),
          perViewer: dependsOnViewer(schema, prepared.document, payload.operationName),
        },
        id,
      );
      const contextValue = new LiveContext(services, rootEm, viewer.actor, state.ip, live);
      if (operationCost !== null) costs.set(contextValue, operationCost);
      return {
        schema,
        document: prepared.document,
        operationName: payload.operationName,
        variableValues,
        contextValue,
      };
    },
    // Queries and mutations run within the user's budget (RequestBudget): past it, RATE_LIMITED
    // with retryAfter and nothing executed. Subscriptions are bounded per socket instead.
    execute: async (args) => {
      const context = args.contextValue as GraphQLContext;
      const userId = context.actor?.id;
      if (!budget || userId === undefined) return execute(args);
      let release: () => void;
      try {
        release = await budget.admit(userId, costs.get(context) ?? 0);
      } catch (err) {
        if (err instanceof RateLimitedError) return { errors: [budgetRefusal(err, false)] };
        throw err;
      }
      try {
        return await execute(args);
      } finally {
        release();
      }
    },
    // A subscription's root field returns the hub's stream of finished results: no execution per
    // subscriber here (graphql-js `subscribe` would execute the selection again for each event).
    subscribe: async (args) => {
      const stream = await createSourceEventStream(args);
      (args.contextValue as GraphQLContext).release();
      // graphql-ws keeps `args` for the subscription's life; the hub holds what the stream needs.
      if (isAsyncIterable(stream)) (args as { contextValue?: unknown }).contextValue = undefined;
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
    if (socket.protocol === 'graphql-transport-ws' && initWaitMs > 0 && Number.isFinite(initWaitMs)) {
      initWaits.set(
        state,
        setTimeout(() => {
          initWaits.delete(state);
          socket.close(CloseCode.ConnectionInitialisationTimeout, 'Connection initialisation timeout');
        }, initWaitMs),
      );
    }
    const closed = server.opened(
      {
        protocol: socket.protocol,
        send: (data) => send(socket, data),
        close: (code, reason) => socket.close(code, reason),
        // Not an async function: graphql-ws's promise for a `subscribe` message lasts as long as the
        // subscription, and an awaiting frame here would keep the message's bytes alive with it.
        onMessage: (cb) =>
          socket.on('message', (data) => {
            cb(String(data)).catch((err: Error) => {
              logger.error({ err }, 'graphql-ws message failed');
              socket.close(CloseCode.InternalServerError, isProd ? 'Internal server error' : truncateReason(err?.message ?? 'Internal server error'));
            });
          }),
      },
      state,
    );
    // `on`: ws emits 'close' once, and a once() wrapper is more objects kept per socket.
    socket.on('close', (code, reason) => {
      void closed(code, String(reason));
    });
  });

  return { server: wsServer, close: stopHeartbeat };
}

/** Whether a value is an async iterable (a subscription's stream, not an error result). */
function isAsyncIterable(x: unknown): x is AsyncIterable<unknown> {
  return typeof (x as { [Symbol.asyncIterator]?: unknown } | null)?.[Symbol.asyncIterator] === 'function';
}

/**
 * The LiveSocket of one subscription: its methods are on the prototype, so a subscription keeps
 * one small object alive rather than a closure per method (and the onSubscribe scope they shared).
 */
class SocketLive implements LiveSocket {
  constructor(
    private readonly state: SocketState,
    private readonly gate: SocketGate,
    readonly viewer: Viewer,
    readonly audience: AudienceRegistry,
    readonly hub: DeliveryHub,
    private readonly limits: { maxPresenceIds: number; maxPresenceIdsPerSocket: number },
    readonly operation: PreparedOperation,
    readonly operationId: string,
  ) {}

  get maxPresenceIds(): number {
    return this.limits.maxPresenceIds;
  }

  holdUserIds(count: number): () => void {
    const state = this.state;
    const cap = this.limits.maxPresenceIdsPerSocket;
    const held = state.userIdsHeld ?? 0;
    if (held + count > cap) {
      throw badInput(`The subscriptions of this socket may name at most ${cap} users in userIds (${held} already); complete one first`, 'userIds');
    }
    state.userIdsHeld = held + count;
    let released = false;
    return () => {
      if (!released) {
        released = true;
        state.userIdsHeld = (state.userIdsHeld ?? count) - count;
      }
    };
  }

  send(frame: string): void {
    this.gate.send(this.state.socket, frame);
  }

  sendShared(prefix: string, payload: string): void {
    this.gate.sendEnvelope(this.state.socket, prefix, payload, '}');
  }

  close(code: number, reason: string): void {
    this.gate.closeTooFarBehind(this.state.socket, reason || String(code));
  }
}
