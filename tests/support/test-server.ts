import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import pino from 'pino';
import { startApp, type AppOptions, type RunningApp } from '../../src/app';
import { loadConfig, type Config } from '../../src/config/config';

/** A real server on a free port with its own clean database. */
export interface TestServer extends RunningApp {
  /** Stops the server and drops its database. */
  close(): Promise<void>;
}

/**
 * Starts the real server (HTTP + WebSocket) on port 0 against a fresh database:
 * PGlite in memory by default; with DATABASE_URL set, a new PostgreSQL database created for
 * this server and dropped by close(). `env` overrides configuration variables.
 */
export async function startTestServer(env: Record<string, string> = {}, options: AppOptions = {}): Promise<TestServer> {
  const baseUrl = process.env.DATABASE_URL;
  let dbName: string | undefined;
  let databaseUrl: string | undefined;
  if (baseUrl) {
    dbName = `chat_test_${process.pid}_${randomBytes(4).toString('hex')}`;
    const admin = new Client({ connectionString: baseUrl });
    await admin.connect();
    await admin.query(`create database "${dbName}"`);
    await admin.end();
    const u = new URL(baseUrl);
    u.pathname = `/${dbName}`;
    databaseUrl = u.toString();
  }
  const config: Config = loadConfig({
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
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    ...env,
  });
  const app = await startApp(config, { logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }), ...options });
  return {
    ...app,
    async close() {
      await app.stop();
      if (dbName && baseUrl) {
        const admin = new Client({ connectionString: baseUrl });
        await admin.connect();
        await admin.query(`drop database if exists "${dbName}" with (force)`);
        await admin.end();
      }
    },
  };
}
