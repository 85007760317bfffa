import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import pino from 'pino';
import { startApp, type AppOptions, type RunningApp } from '../../src/app';
import { loadConfig, type Config } from '../../src/config/config';
import { registerServer, unregisterServer } from './readiness';

/** A real server on a free port with its own clean database. */
export interface TestServer extends RunningApp {
  /** Stops the server and drops its database. */
  close(): Promise<void>;
}

/** A PostgreSQL database made for one test file (or one cluster of servers). */
export interface TestDatabase {
  /** postgres://... of the new database. */
  url: string;
  /** Drops it (closing whatever is still connected). */
  drop(): Promise<void>;
}

/**
 * Creates a fresh PostgreSQL database through `baseUrl` (default DATABASE_URL), named
 * `chat_test_<pid>_<random>`. @throws when the URL is unset or the user may not create databases.
 */
export async function createTestDatabase(baseUrl = process.env.DATABASE_URL): Promise<TestDatabase> {
  if (!baseUrl) throw new Error('createTestDatabase needs DATABASE_URL');
  const dbName = `chat_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = new Client({ connectionString: baseUrl });
  await admin.connect();
  await admin.query(`create database "${dbName}"`);
  await admin.end();
  const u = new URL(baseUrl);
  u.pathname = `/${dbName}`;
  return {
    url: u.toString(),
    async drop() {
      const c = new Client({ connectionString: baseUrl });
      await c.connect();
      await c.query(`drop database if exists "${dbName}" with (force)`);
      await c.end();
    },
  };
}

/** The configuration every test server starts from; `env` overrides it. */
export function testConfig(env: Record<string, string> = {}): Config {
  return loadConfig({
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: '0',
    DATA_DIR: ':memory:',
    LOG_LEVEL: 'silent',
    JWT_SECRET: randomBytes(32).toString('hex'),
    // Test files run in parallel against one Redis: each server has its own keys and channel.
    REDIS_PREFIX: `test-${randomBytes(6).toString('hex')}`,
    // Tests send bursts from one user (pagination fixtures, concurrency); the limit has its own tests.
    RATE_MESSAGES_PER_SEC: '100000',
    // Every test user registers from 127.0.0.1; the registration limit has its own test.
    RATE_REGISTRATIONS_PER_HOUR_IP: '100000',
    // fetch (undici) reuses a kept-alive socket until 1 s before the server's keep-alive timeout;
    // on a loaded machine the test process can stall longer than that, and a POST written to a
    // socket the server is closing fails with ECONNRESET (CI's PGlite run, reactions.test.ts). The
    // timeout itself has its own test (tests/integration/security/transport.test.ts).
    HTTP_KEEP_ALIVE_TIMEOUT_MS: '65000',
    // Production refuses to start without CORS_ORIGINS; a production-mode test server that names
    // none allows any origin (the refusal itself is tested in tests/unit/config.test.ts).
    ...(env.NODE_ENV === 'production' && env.CORS_ORIGINS === undefined ? { CORS_ORIGINS: '*' } : {}),
    ...env,
  });
}

/**
 * Starts the real server (HTTP + WebSocket) on port 0 against a fresh database:
 * PGlite in memory by default; with DATABASE_URL set, a new PostgreSQL database created for
 * this server and dropped by close(). `env` overrides configuration variables (`REDIS_URL: ''`
 * keeps a server off Redis even when the suite runs with REDIS_URL: the in-process paths).
 */
export async function startTestServer(env: Record<string, string> = {}, options: AppOptions = {}): Promise<TestServer> {
  const db = process.env.DATABASE_URL ? await createTestDatabase() : undefined;
  // With REDIS_URL (CI's PostgreSQL run) every test server carries its events and presence on Redis.
  const redis: Record<string, string> = process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {};
  const app = await startApp(testConfig({ ...(db ? { DATABASE_URL: db.url } : {}), ...redis, ...env }), testAppOptions(options));
  // Subscriptions find their server by URL (readiness.ts: ready() observes its hub).
  registerServer(app.wsUrl, app);
  return {
    ...app,
    async close() {
      unregisterServer(app.wsUrl, app);
      await app.stop();
      await db?.drop();
    },
  };
}

/** Test logger (TEST_LOG_LEVEL, default silent) plus `options`. */
export function testAppOptions(options: AppOptions = {}): AppOptions {
  return { logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }), ...options };
}

/** Several instances of the server on one PostgreSQL database and one Redis (a deployment). */
export interface TestCluster {
  instances: RunningApp[];
  /** The settings every instance shares (JWT_SECRET, REDIS_PREFIX, DATABASE_URL, ...). */
  env: Record<string, string>;
  /** Starts one more instance with the shared settings plus `env`. */
  add(env?: Record<string, string>): Promise<RunningApp>;
  /** Stops every instance still running and drops the database. */
  close(): Promise<void>;
}

/**
 * Starts `count` server instances sharing a new PostgreSQL database (DATABASE_URL) and Redis
 * (REDIS_URL), as behind a load balancer. The first runs the migrations. Needs both variables.
 */
export async function startTestCluster(count: number, env: Record<string, string> = {}): Promise<TestCluster> {
  if (!process.env.DATABASE_URL || !process.env.REDIS_URL) throw new Error('startTestCluster needs DATABASE_URL and REDIS_URL');
  const db = await createTestDatabase();
  const shared: Record<string, string> = {
    DATABASE_URL: db.url,
    REDIS_URL: process.env.REDIS_URL,
    JWT_SECRET: randomBytes(32).toString('hex'),
    REDIS_PREFIX: `test-${randomBytes(6).toString('hex')}`,
    ...env,
  };
  const instances: RunningApp[] = [];
  const stopped = new WeakSet<RunningApp>();
  const add = async (extra: Record<string, string> = {}) => {
    const app = await startApp(testConfig({ ...shared, MIGRATE_ON_START: instances.length ? 'false' : 'true', ...extra }), testAppOptions());
    const stop = app.stop;
    app.stop = async () => {
      if (stopped.has(app)) return;
      stopped.add(app);
      unregisterServer(app.wsUrl, app);
      await stop();
    };
    registerServer(app.wsUrl, app);
    instances.push(app);
    return app;
  };
  for (let i = 0; i < count; i++) await add();
  return {
    instances,
    env: shared,
    add,
    async close() {
      await Promise.all(instances.map((a) => a.stop().catch(() => undefined)));
      await db.drop();
    },
  };
}
