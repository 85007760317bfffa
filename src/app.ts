import 'reflect-metadata';
import { rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { expressMiddleware } from '@as-integrations/express5';
import cors from 'cors';
import express from 'express';
import { GraphQLError, parse, validate, type ExecutionResult, type GraphQLFormattedError } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import type { Logger } from 'pino';
import { pinoHttp } from 'pino-http';
import { WebSocketServer } from 'ws';
import type { Config } from './config/config';
import { closeDatabase, openDatabase, type Orm } from './db/orm';
import type { Actor } from './domain/shared/actor';
import { DomainError } from './domain/shared/errors';
import { GraphQLContext } from './graphql/context';
import { formatError } from './graphql/errors';
import { buildGraphQLSchema } from './graphql/schema';
import { createLogger } from './logger';
import { InMemoryEventBus, type EventBus } from './realtime/event-bus';
import { mediaRouter } from './media/media.routes';
import { restRouter } from './rest';
import { graphqlUploadExpress } from 'graphql-upload-ts';
import { createServices, type Services } from './services';

/** A running server: its addresses and a graceful stop. */
export interface RunningApp {
  /** http://host:port/graphql */
  url: string;
  /** ws://host:port/graphql */
  wsUrl: string;
  port: number;
  orm: Orm;
  services: Services;
  logger: Logger;
  /** Drains HTTP requests and WebSocket connections, then closes the database. */
  stop(): Promise<void>;
}

/** Extra options for tests and benchmarks. */
export interface AppOptions {
  logger?: Logger;
  /** Receives every SQL statement MikroORM runs (query counting). */
  onQuery?: (sql: string) => void;
}

/** "Bearer <token>" → token; anything else → undefined. */
function bearer(header: unknown): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(String(header ?? ''));
  return m?.[1];
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
      dataDir: config.dataDir,
      debug: options.onQuery ? ['query'] : false,
      logger: options.onQuery ?? ((msg) => logger.debug({ orm: msg })),
    },
    config.migrateOnStart,
  );
  const bus: EventBus = new InMemoryEventBus();
  const services = createServices(config, bus, orm.em, (err, what) => logger.error({ err }, `failed ${what}`));
  const schema = buildGraphQLSchema();
  const format = formatError(logger);

  const app = express();
  app.disable('x-powered-by');
  const httpServer: Server = createServer(app);
  const wsServer = new WebSocketServer({ server: httpServer, path: '/graphql' });

  const wsCleanup = useServer(
    {
      schema,
      onConnect: async (ctx) => {
        const params = (ctx.connectionParams ?? {}) as Record<string, unknown>;
        const token = bearer(params.authorization ?? params.Authorization) ?? (typeof params.token === 'string' ? params.token : undefined);
        if (!token) return false;
        try {
          const actor = await services.auth.authenticate(orm.em.fork(), token);
          (ctx.extra as { actor?: Actor }).actor = actor;
          services.presence.connected(actor.id);
          return true;
        } catch {
          return false; // graphql-ws closes with 4403 Forbidden
        }
      },
      onDisconnect: async (ctx) => {
        const actor = (ctx.extra as { actor?: Actor }).actor;
        if (actor) await services.presence.disconnected(actor.id);
      },
      // Parse and validate here so that a bad document answers with an `error` message carrying
      // BAD_USER_INPUT (graphql-ws would otherwise close the whole socket on a syntax error).
      onSubscribe: (ctx, _id, payload) => {
        let document;
        try {
          document = parse(payload.query);
        } catch (err) {
          return [new GraphQLError((err as Error).message, { extensions: { code: 'BAD_USER_INPUT', reason: 'GRAPHQL_PARSE_FAILED' } })];
        }
        const invalid = validate(schema, document);
        if (invalid.length) {
          return invalid.map((e) => new GraphQLError(e.message, { nodes: e.nodes, extensions: { code: 'BAD_USER_INPUT', reason: 'GRAPHQL_VALIDATION_FAILED' } }));
        }
        return {
          schema,
          document,
          operationName: payload.operationName,
          variableValues: payload.variables ?? undefined,
          contextValue: new GraphQLContext(services, orm.em, (ctx.extra as { actor?: Actor }).actor ?? null),
        };
      },
      onNext: (_ctx, _id, _payload, _args, result) => {
        const r = result as ExecutionResult;
        if (!r.errors?.length) return undefined;
        return { ...r, errors: r.errors.map((e) => format(e.toJSON ? e.toJSON() : (e as GraphQLFormattedError), e)) } as unknown as ExecutionResult;
      },
    },
    wsServer,
  );

  const apollo = new ApolloServer<GraphQLContext>({
    schema,
    formatError: format,
    introspection: true,
    // main.ts owns SIGTERM/SIGINT: it drains everything (HTTP, WebSocket, database) and exits 0.
    stopOnTerminationSignals: false,
    includeStacktraceInErrorResponses: false,
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer }),
      { async serverWillStart() { return { async drainServer() { await wsCleanup.dispose(); } }; } },
    ],
  });
  await apollo.start();

  app.use(
    pinoHttp({
      logger,
      autoLogging: { ignore: (req) => req.url === '/healthz' || req.url === '/readyz' },
      serializers: {
        req: (req: { id: unknown; method: string; url: string }) => ({ id: req.id, method: req.method, url: req.url }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
    }),
  );
  app.get('/healthz', (_req, res) => { res.json({ status: 'ok' }); });
  app.get('/readyz', async (_req, res) => {
    try {
      await orm.em.fork().execute('select 1');
      res.json({ status: 'ready', database: 'ok' });
    } catch (err) {
      logger.warn({ err }, 'readiness check failed');
      res.status(503).json({ status: 'unavailable', database: 'unreachable' });
    }
  });
  app.use('/api', restRouter({ services, rootEm: orm.em, logger }));
  app.use('/media', mediaRouter(services, orm.em, logger));
  const origins = config.corsOrigins;
  app.use(
    '/graphql',
    cors({ origin: origins.includes('*') ? true : origins, credentials: true }),
    express.json({ limit: '1mb' }),
    // GraphQL multipart requests (file uploads); the limits apply while streaming. Apollo's CSRF
    // prevention stays on: such requests need an `apollo-require-preflight` header.
    graphqlUploadExpress({ maxFileSize: config.uploadMaxBytes + 1, maxFiles: config.uploadMaxFiles, maxFieldSize: 1024 * 1024 }),
    expressMiddleware(apollo, {
      context: async ({ req }) => {
        const header = req.headers.authorization;
        if (!header) return new GraphQLContext(services, orm.em, null);
        const token = bearer(header);
        if (!token) return new GraphQLContext(services, orm.em, null, new DomainError('UNAUTHENTICATED', 'Authorization header must be "Bearer <access token>"'));
        try {
          return new GraphQLContext(services, orm.em, await services.auth.authenticate(orm.em.fork(), token));
        } catch (err) {
          return new GraphQLContext(services, orm.em, null, err instanceof Error ? err : new GraphQLError('Invalid token'));
        }
      },
    }),
  );
  // Malformed JSON bodies and other request errors: a clear 400, never a 500 page.
  app.use((err: { status?: number; type?: string; message?: string }, _req: express.Request, res: express.Response, next: express.NextFunction) => {
    if (res.headersSent) return next(err);
    const status = err.status && err.status >= 400 && err.status < 500 ? err.status : 500;
    if (status === 500) logger.error({ err }, 'unhandled request error');
    const code = status === 413 ? 'PAYLOAD_TOO_LARGE' : status === 500 ? 'INTERNAL_SERVER_ERROR' : 'BAD_USER_INPUT';
    res.status(status).json({ errors: [{ message: status === 500 ? 'Internal server error' : err.message ?? 'Bad request', extensions: { code } }] });
  });

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(config.port, config.host, () => resolve());
  });
  const { port } = httpServer.address() as AddressInfo;
  const host = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  let stopping: Promise<void> | undefined;

  return {
    url: `http://${host}:${port}/graphql`,
    wsUrl: `ws://${host}:${port}/graphql`,
    port,
    orm,
    services,
    logger,
    stop: () =>
      (stopping ??= (async () => {
        for (const client of wsServer.clients) client.close(1001, 'Server shutting down');
        await apollo.stop();
        await new Promise<void>((resolve) => wsServer.close(() => resolve()));
        services.typing.close();
        await bus.close();
        await closeDatabase(orm);
        // An in-memory server's uploads are as ephemeral as its database.
        if (config.uploadDirIsTemporary) await rm(config.uploadDir, { recursive: true, force: true });
      })()),
  };
}
