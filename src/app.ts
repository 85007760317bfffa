import 'reflect-metadata';
import { rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { expressMiddleware } from '@as-integrations/express5';
import cors from 'cors';
import express from 'express';
import { GraphQLError } from 'graphql';
import type { Logger } from 'pino';
import { pinoHttp } from 'pino-http';
import { randomUUID } from 'node:crypto';
import { Metrics, meteredBus } from './observability/metrics';
import { restDocsRouter } from './rest/docs/docs.route';
import { demoRouter } from './demo/route';
import { graphiqlRouter } from './graphiql/route';
import Redis from 'ioredis';
import proxyaddr from 'proxy-addr';
import { compileTrust, requestOrigin } from './security/forwarded';
import type { Config } from './config/config';
import { closeDatabase, openDatabase, type Orm } from './db/orm';
import { DomainError } from './domain/shared/errors';
import { GraphQLContext, lazyEntityManager } from './graphql/context';
import { formatError } from './graphql/errors';
import { buildGraphQLSchema } from './graphql/schema';
import { createLogger, loggableUrl, routeWords } from './logger';
import { InMemoryEventBus, type EventBus } from './realtime/state/event-bus';
import { RedisEventBus } from './realtime/state/redis-event-bus';
import { createLiveState } from './realtime/state';
import { bearer, startRealtime, type Realtime } from './realtime';
import { SOCKET_IO_PATH } from './realtime/transports/legacy/socketio';
import { mediaRouter } from './media/media.routes';
import { restRouter, restRoutes } from './rest';
import { graphqlUploadExpress } from 'graphql-upload-ts';
import { createServices, type Services } from './services';
import { startPush } from './push';
import type { OutboxWorker } from './outbox/outbox-worker';
import { apiHeaders, applyServerTimeouts, corsOptions, graphqlHeaders, graphqlNoStore, mediaHeaders, serverOptions } from './security/http-hardening';
import { DocumentCache, parseOptions, queryLimitRules, webSocketValidationRules } from './security/query-limits';
import { costRefusal, QueryCost } from './security/query-cost';
import { budgetRefusal, floodGate, RequestBudget } from './security/request-budget';
import { RateLimitedError } from './domain/shared/rate-limit';

/** Pending connections the listening socket queues (reconnect storms). */
const LISTEN_BACKLOG = 4096;

/** A running server: its addresses and a graceful stop. */
export interface RunningApp {
  /** http://host:port/graphql */
  url: string;
  /** ws://host:port/graphql */
  wsUrl: string;
  port: number;
  orm: Orm;
  services: Services;
  /** The realtime delivery layer (hub, live audiences, sockets). */
  realtime: Realtime;
  logger: Logger;
  /** Drains HTTP requests and WebSocket connections, then closes the database. */
  stop(): Promise<void>;
}

/** Extra options for tests and benchmarks. */
export interface AppOptions {
  logger?: Logger;
  /**
   * Receives every SQL statement MikroORM runs (query counting): "[query] <sql>", and its logger
   * context (realtime delivery's queries carry DELIVERY_QUERY, see isDeliveryQuery).
   */
  onQuery?: (sql: string, context: Record<string, unknown>) => void;
}

/** An X-Request-Id worth keeping: 1 to 128 characters of letters, digits and `._:-` (anything else is replaced). */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * What a request's log line adds when the request ends: the client address (TRUST_PROXY), the
 * user, the GraphQL operation and the matched route's pattern (parameter names only, never their
 * values: issue 27 §5); undefined ones are left out.
 */
function requestLogFields(req: express.Request, res: express.Response): { ip?: string; userId?: number; operation?: string; route?: string } {
  return {
    ip: req.ip,
    userId: res.locals?.userId as number | undefined,
    operation: res.locals?.operation as string | undefined,
    route: req.route?.path ? `${req.baseUrl}${String(req.route.path)}` : undefined,
  };
}

/** The PostgreSQL pool's connections now (knex's tarn pool); null on PGlite (one connection, no pool). */
function poolUse(orm: Orm): { used: number; free: number; pending: number } | null {
  try {
    const pool = (
      orm.em.getConnection() as unknown as { getKnex(): { client: { pool?: { numUsed(): number; numFree(): number; numPendingAcquires(): number } } } }
    ).getKnex().client.pool;
    return pool ? { used: pool.numUsed(), free: pool.numFree(), pending: pool.numPendingAcquires() } : null;
  } catch {
    return null;
  }
}

/**
 * Starts the chat server: database (migrated unless turned off), domain services, Apollo Server
 * on express at /graphql (POST and GET), graphql-ws on the same path, /healthz and /readyz.
 * @throws when the database cannot be opened or the port cannot be bound.
 */
export async function startApp(config: Config, options: AppOptions = {}): Promise<RunningApp> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const orm = await openDatabase(
    {
      databaseUrl: config.databaseUrl,
      poolMax: config.dbPoolMax,
      dataDir: config.dataDir,
      debug: false,
      logger: (msg) => logger.debug({ orm: msg }),
      onQuery: options.onQuery ? (ctx) => options.onQuery!(`[query] ${ctx.query}`, ctx) : undefined,
      onMigrated: (names) => logger.info({ migrations: names }, `applied ${names.length} database migration(s)`),
    },
    config.migrateOnStart,
  );
  // With REDIS_URL, events and presence are shared by every instance; a Redis that is down at
  // start does not stop the server (it reports "degraded" until Redis answers).
  const redisBus = config.redisUrl ? new RedisEventBus(config.redisUrl, logger, config.redisPrefix) : undefined;
  const redis = config.redisUrl
    ? new Redis(config.redisUrl, {
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        enableAutoPipelining: true,
        connectionName: 'chat-commands',
        retryStrategy: (n) => Math.min(n * 200, 2000),
      })
    : undefined;
  redis?.on('error', (err) => logger.warn({ err: err.message }, 'redis error'));
  if (redisBus) await redisBus.ready(3000).catch((err) => logger.warn({ err: err.message }, 'Redis not reachable at start; live events are degraded'));
  const bus: EventBus = redisBus ?? new InMemoryEventBus();
  // Prometheus metrics of this instance (GET /metrics; src/observability/metrics.ts). The sources
  // are read at scrape time, after the realtime layer below exists.
  // The outbox worker starts once the server listens (below); until then the outbox metrics read null.
  let outboxWorker: OutboxWorker | null = null;
  const metrics = new Metrics({
    sockets: () => realtime.socketCount(),
    subscriptions: () => realtime.hub.subscriberCount(),
    deliveredFrames: () => realtime.hub.deliveredFrames,
    busHealthy: () => bus.healthy(),
    pool: () => poolUse(orm),
    rateLimitRefusals: () => (services.limits as { refusals?: ReadonlyMap<string, number> }).refusals ?? new Map(),
    passwordVerifications: () => services.auth.passwordWork.counts,
    outbox: () => outboxWorker,
  });
  // The shared live state (src/realtime/state) behind the domain's interfaces (domain/shared/live-state.ts).
  const services = createServices(config, meteredBus(bus, metrics), orm.em, {
    logger,
    live: (events, touch) => createLiveState(config, events, { redis, logger }, touch),
  });
  const schema = buildGraphQLSchema();
  const format = formatError(logger, { hideSuggestions: config.graphql.hideSuggestions });
  // Query limits (depth, cost, aliases, directives, tokens): the same rules on HTTP (Apollo) and
  // graphql-ws, where each distinct document is parsed and validated once (bounded cache).
  const limitRules = queryLimitRules(config.graphql);
  const wsDocuments = new DocumentCache(schema, webSocketValidationRules(config.graphql, config.graphql.introspection), parseOptions(config.graphql));
  // Issue 27: the cost of an operation with its variables (every list at its page size or cap),
  // and each user's share of the instance (queries and mutations at once, cost per second).
  const cost = new QueryCost(schema, {
    uploadMaxFiles: config.uploadMaxFiles,
    maxPinsPerConversation: config.maxPinsPerConversation,
    reactionsMaxEmoji: config.reactions.maxEmojiPerMessage,
  });
  const budget = new RequestBudget(
    {
      maxInFlight: config.graphql.userMaxInFlight,
      costPerSec: config.graphql.userCostPerSec,
      heavyCost: config.graphql.userHeavyCost,
      concurrency: config.graphql.userHeavyConcurrency,
    },
    config.graphql.maxCost,
  );

  const app = express();
  app.disable('x-powered-by');
  // Express's own error pages follow the configured mode, not the process's NODE_ENV.
  app.set('env', config.nodeEnv);
  // req.ip (limits, logs) honours X-Forwarded-For only from the proxies TRUST_PROXY names.
  app.set('trust proxy', config.trustProxy);
  const trusted = compileTrust(config.trustProxy);
  /** The client address of a WebSocket upgrade request, by the same rule as req.ip. */
  const clientIp = (req: IncomingMessage): string => proxyaddr(req, trusted);
  /** The host (and port) a WebSocket client addressed, through trusted proxies' X-Forwarded-Host/-Port (src/security/forwarded.ts). */
  const clientHost = (req: IncomingMessage): string => requestOrigin(req, trusted).host;

  const httpServer: Server = createServer(serverOptions(config.http), app);
  applyServerTimeouts(httpServer, config.http);
  // GraphQL over WebSocket and the realtime delivery layer (src/realtime/index.ts).
  const realtime = startRealtime(httpServer, {
    config,
    services,
    rootEm: orm.em,
    schema,
    documents: wsDocuments,
    logger,
    clientIp,
    clientHost,
    format,
    onDispatch: (e) => metrics.eventDispatched(e),
    cost,
    budget,
  });
  // The shutdown budget: sockets and HTTP requests get most of SHUTDOWN_GRACE_MS, the rest is for closing the database.
  const drainMs = Math.max(0, Math.floor(config.shutdownGraceMs * 0.6));

  const apollo = new ApolloServer<GraphQLContext>({
    schema,
    formatError: format,
    nodeEnv: config.nodeEnv,
    // Off in production unless GRAPHQL_INTROSPECTION=true (also refused over graphql-ws, above).
    introspection: config.graphql.introspection,
    validationRules: limitRules,
    parseOptions: parseOptions(config.graphql),
    // One operation per HTTP request (a JSON array is refused) and Apollo's CSRF prevention: a GET
    // or a multipart POST needs a header a plain HTML form cannot send (one of `requestHeaders`
    // below; docs/graphql-api.md "CSRF prevention and apollo-require-preflight").
    allowBatchedHttpRequests: false,
    // A request with any of these headers is not one a cross-site page can send without a CORS
    // preflight: `authorization` too (this API authenticates by bearer token and sets no cookies),
    // so a default urql client's GET queries with a token work, and a token-less simple request
    // (which could only act anonymously anyway) is still refused.
    csrfPrevention: { requestHeaders: ['apollo-require-preflight', 'x-apollo-operation-name', 'authorization'] },
    // main.ts owns SIGTERM/SIGINT: it drains everything (HTTP, WebSocket, database) and exits 0.
    stopOnTerminationSignals: false,
    includeStacktraceInErrorResponses: false,
    plugins: [
      // No Apollo landing page (its Sandbox loads from CDNs): a browser's GET /graphql gets GraphiQL (src/graphiql/route.ts).
      ApolloServerPluginLandingPageDisabled(),
      // Cache-Control: no-store on every GraphQL response, without Apollo's per-field cache hint hooks (see graphqlNoStore).
      ApolloServerPluginCacheControlDisabled(),
      graphqlNoStore<GraphQLContext>(),
      // Requests still open after the budget (a body that never ends) are cut.
      ApolloServerPluginDrainHttpServer({ httpServer, stopGracePeriodMillis: drainMs }),
      {
        async serverWillStart() {
          return {
            async drainServer() {
              await realtime.close(drainMs);
            },
          };
        },
      },
      metrics.apolloPlugin(),
      // GRAPHQL_MAX_COST with the variables' values (400 BAD_USER_INPUT, like the other document
      // limits), then the user's cost per second and, for an operation costing at least
      // GRAPHQL_USER_HEAVY_COST, the user's heavy operations at once (429 RATE_LIMITED with
      // Retry-After; released when the response is sent).
      {
        async requestDidStart() {
          let release: (() => void) | undefined;
          return {
            async willSendResponse() {
              release?.();
            },
            async didResolveOperation(rc) {
              const operationCost = cost.of(rc.document, rc.operationName, rc.request.variables);
              const refused = costRefusal(operationCost, config.graphql.maxCost);
              if (refused) throw new GraphQLError(refused.message, { extensions: { ...refused.extensions, http: { status: 400 } } });
              const userId = rc.contextValue.actor?.id;
              if (userId === undefined) return;
              try {
                if (budget.isHeavy(operationCost ?? 0)) release = await budget.enter(userId);
                await budget.charge(userId, operationCost ?? 0);
              } catch (err) {
                release?.();
                throw err instanceof RateLimitedError ? budgetRefusal(err, true) : err;
              }
            },
          };
        },
      },
      // The request log names the operation (pino-http customProps below).
      {
        async requestDidStart() {
          return {
            async didResolveOperation(rc) {
              if (rc.contextValue.httpLocals) rc.contextValue.httpLocals.operation = rc.operationName ?? rc.operation?.operation;
            },
          };
        },
      },
    ],
  });
  await apollo.start();

  // Seed 002's Socket.IO (src/realtime/transports/legacy/socketio.ts): its handshake and long-polling
  // requests go to its engine before anything else (a poll lasts up to a ping interval: not a
  // request to log each time; the engine applies CORS_ORIGINS itself).
  app.use(SOCKET_IO_PATH, (req, res) => {
    req.url = req.originalUrl;
    realtime.socketIo.handleRequest(req, res);
  });

  // The fixed words of every route's path, the only path segments request logs keep.
  const logWords = routeWords([
    ...restRoutes().map((r) => `/api${r.path}`),
    '/api/docs/init.js/assets',
    '/openapi.json',
    '/media/avatars/thumbnail',
    '/graphql/assets',
    '/healthz',
    '/readyz',
    '/metrics',
    SOCKET_IO_PATH,
    '/ws/chat',
  ]);
  app.use(
    pinoHttp({
      logger,
      autoLogging: { ignore: (req) => req.url === '/healthz' || req.url === '/readyz' || req.url === '/metrics' },
      // One id per request, the caller's when it sends a sane X-Request-Id (a proxy's), returned
      // in the response's X-Request-Id so a client's report can be found in the logs.
      genReqId: (req, res) => {
        const given = req.headers['x-request-id'];
        const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
        res.setHeader('x-request-id', id);
        return id;
      },
      // Read when the request ends: the client address (TRUST_PROXY), the user and the GraphQL
      // operation, and `route` (the matched route's pattern, `/api/chat/history/:username`, parameter
      // names only: issue 27 §5), added to the request's log line itself. Not `customProps`: pino-http binds
      // those when the request starts and again when it ends, so a line carried "ip" twice
      // (invalid for strict JSON consumers such as Elasticsearch; issue 30).
      customSuccessObject: (req, res, line) => ({ ...line, ...requestLogFields(req as express.Request, res as express.Response) }),
      customErrorObject: (req, res, _err, line) => ({ ...line, ...requestLogFields(req as express.Request, res as express.Response) }),
      serializers: {
        // No media signatures, tokens or GraphQL variables in request logs (src/logger.ts).
        // No path parameters either (issue 27 §5): segments other than the routes' fixed words are ":param".
        req: (req: { id: unknown; method: string; url: string }) => ({ id: req.id, method: req.method, url: loggableUrl(req.url, logWords) }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
    }),
  );
  app.use(metrics.http());
  // GraphQL first: the busiest path (every POST /graphql) then passes no other route's matching.
  // GraphiQL for a browser's GET /graphql, from local assets (GRAPHIQL); everything else goes on to
  // Apollo (other methods skip the router at once: it only ever serves GET and HEAD).
  const graphiql = graphiqlRouter(config);
  app.use('/graphql', (req, res, next) => (req.method === 'GET' || req.method === 'HEAD' ? graphiql(req, res, next) : next()));
  app.use(
    '/graphql',
    graphqlHeaders(),
    cors(corsOptions(config.corsOrigins)),
    // A user refused 50 times within a second (resending instead of waiting retryAfter) is refused here, before the body is read.
    floodGate(budget, (token) => services.auth.verifyAccessToken(token)),
    express.json({ limit: config.http.maxBodyBytes }),
    // GraphQL multipart requests (file uploads); the limits apply while streaming. Apollo's CSRF
    // prevention stays on: such requests need `Authorization` (uploads always carry it) or an
    // `apollo-require-preflight` header.
    graphqlUploadExpress({ maxFileSize: config.uploadMaxBytes + 1, maxFiles: config.uploadMaxFiles, maxFieldSize: config.http.maxBodyBytes }),
    expressMiddleware(apollo, {
      context: async ({ req, res }) => {
        const ctx = await (async () => {
          const header = req.headers.authorization;
          const ip = req.ip ?? 'unknown';
          if (!header) return new GraphQLContext(services, orm.em, null, undefined, ip);
          const token = bearer(header);
          if (!token)
            return new GraphQLContext(services, orm.em, null, new DomainError('UNAUTHENTICATED', 'Authorization header must be "Bearer <access token>"'), ip);
          try {
            return new GraphQLContext(
              services,
              orm.em,
              await services.auth.authenticate(
                lazyEntityManager(() => orm.em.fork()),
                token,
              ),
              undefined,
              ip,
            );
          } catch (err) {
            return new GraphQLContext(services, orm.em, null, err instanceof Error ? err : new GraphQLError('Invalid token'), ip);
          }
        })();
        ctx.httpLocals = res.locals;
        if (ctx.actor) res.locals.userId = ctx.actor.id;
        return ctx;
      },
    }),
  );
  if (config.metrics.enabled) app.get('/metrics', metrics.handler(config.metrics.token));
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  // 503 without the database (nothing works); 200 "degraded" without Redis (writes still succeed,
  // live delivery between instances resumes when Redis returns).
  app.get('/readyz', async (_req, res) => {
    const redisState = config.redisUrl ? (bus.healthy() && redis?.status === 'ready' ? 'ok' : 'unreachable') : 'not configured';
    try {
      await orm.em.fork().execute('select 1');
    } catch (err) {
      logger.warn({ err }, 'readiness check failed');
      res.status(503).json({ status: 'unavailable', database: 'unreachable', redis: redisState });
      return;
    }
    res.json({ status: redisState === 'unreachable' ? 'degraded' : 'ready', database: 'ok', redis: redisState });
  });
  // A browsable page of the REST layer's OpenAPI document, from local assets.
  app.use('/api/docs', apiHeaders(), restDocsRouter());
  app.use('/api', apiHeaders(), cors(corsOptions(config.corsOrigins)), restRouter({ services, rootEm: orm.em, logger }));
  // Case-sensitive (issue 27 §4): `/MEDIA/78` is not this server's file; an own-media URL is
  // recognised in every spelling anyway (file-reference.ts mediaPathKey).
  const media = express.Router({ caseSensitive: true });
  media.use('/media', mediaHeaders(), mediaRouter(services, orm.em, logger));
  app.use(media);
  // The demo web client (examples/web, built by `npm run demo`), outside production only.
  app.use('/demo', demoRouter(config));
  // Malformed JSON bodies and other request errors: a clear 400, never a 500 page.
  app.use((err: { status?: number; type?: string; message?: string }, _req: express.Request, res: express.Response, next: express.NextFunction) => {
    if (res.headersSent) return next(err);
    const status = err.status && err.status >= 400 && err.status < 500 ? err.status : 500;
    if (status === 500) logger.error({ err }, 'unhandled request error');
    const code = status === 413 ? 'PAYLOAD_TOO_LARGE' : status === 500 ? 'INTERNAL_SERVER_ERROR' : 'BAD_USER_INPUT';
    res.status(status).json({ errors: [{ message: status === 500 ? 'Internal server error' : (err.message ?? 'Bad request'), extensions: { code } }] });
  });

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    // A deep accept queue (the kernel caps it at net.core.somaxconn): after a restart or a network
    // blip, thousands of clients reconnect at once, and Node's default of 511 drops their SYNs.
    httpServer.listen({ port: config.port, host: config.host, backlog: LISTEN_BACKLOG }, () => resolve());
  });
  const { port } = httpServer.address() as AddressInfo;
  const host = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  let stopping: Promise<void> | undefined;
  const uploadPurge = startUploadPurge(config, services, orm, logger);
  // Issue 34: push to offline devices, from the transactional outbox (src/push).
  outboxWorker = startPush(config, services, orm.em, logger);

  return {
    url: `http://${host}:${port}/graphql`,
    wsUrl: `ws://${host}:${port}/graphql`,
    port,
    orm,
    services,
    realtime,
    logger,
    stop: () =>
      (stopping ??= (async () => {
        clearInterval(uploadPurge);
        await apollo.stop();
        await outboxWorker?.stop();
        services.typing.close();
        await services.presence.close();
        await services.users.flushLastSeen(orm.em.fork()).catch((err) => logger.warn({ err }, 'last-seen times not written'));
        await services.watchers.close();
        await bus.close();
        redis?.disconnect();
        await closeDatabase(orm);
        // An in-memory server's uploads are as ephemeral as its database.
        if (config.uploadDirIsTemporary) await rm(config.uploadDir, { recursive: true, force: true });
      })()),
  };
}

/**
 * Purges uploads never sent in a message (seed 003 note 7) once they are UPLOAD_ORPHAN_TTL old:
 * a sweep every quarter of the TTL (at least 1 s, at most 1 h), each instance on its own (the
 * delete is one statement, so two instances sweeping at once remove each row once).
 */
function startUploadPurge(config: Config, services: Services, orm: Orm, logger: Logger): NodeJS.Timeout {
  const ttlMs = config.uploadOrphanTtlSec * 1000;
  let running = false;
  const timer = setInterval(
    () => {
      if (running) return;
      running = true;
      services.attachments
        .purgeUploads(orm.em.fork(), new Date(Date.now() - ttlMs))
        .then((n) => {
          if (n) logger.info({ purged: n }, 'uploads never sent were purged');
        })
        .catch((err) => logger.warn({ err }, 'upload purge failed; trying again at the next sweep'))
        .finally(() => {
          running = false;
        });
    },
    Math.min(3_600_000, Math.max(1000, Math.floor(ttlMs / 4))),
  );
  timer.unref();
  return timer;
}
