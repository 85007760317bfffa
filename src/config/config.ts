import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { z } from 'zod';

/** The server's whole configuration: parsed once from the environment by {@link loadConfig}. */
export interface Config {
  nodeEnv: 'development' | 'production' | 'test';
  host: string;
  /** TCP port; 0 picks a free one (tests). */
  port: number;
  /** postgres://... for PostgreSQL; undefined selects the embedded PGlite database. */
  databaseUrl?: string;
  /** Where PGlite keeps its files and development keeps its generated JWT secret. ":memory:" keeps PGlite in memory. */
  dataDir: string;
  redisUrl?: string;
  /** HMAC key for access tokens (HS256), at least 32 bytes. */
  jwtSecret: Uint8Array;
  jwtIssuer: string;
  jwtAudience: string;
  /** Access-token lifetime in seconds (default 900 = 15 min). */
  accessTokenTtlSec: number;
  /** Refresh-token lifetime in seconds (default 30 days). */
  refreshTokenTtlSec: number;
  /** Allowed CORS origins; ["*"] allows any. */
  corsOrigins: string[];
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Run pending migrations at start (default true). */
  migrateOnStart: boolean;
  /** Milliseconds SIGTERM waits for open connections before closing them. */
  shutdownGraceMs: number;
  /** Where uploaded files live: UPLOAD_DIR, else <DATA_DIR>/uploads; a fresh temporary folder when DATA_DIR is ":memory:". */
  uploadDir: string;
  /** True when uploadDir is a temporary folder of this process (DATA_DIR ":memory:"): removed at stop. */
  uploadDirIsTemporary: boolean;
  /** Largest accepted file, in bytes (default 10 MB, seed 004). */
  uploadMaxBytes: number;
  /** Most files on one message (default 10). */
  uploadMaxFiles: number;
  /** Lifetime of the signed media URLs that `Attachment.url` returns, in seconds (default 3600). */
  mediaUrlTtlSec: number;
  /** Absolute base of media URLs (https://chat.example.com); unset: URLs are paths ("/media/..."). */
  publicUrl?: string;
}

/** Thrown when an environment variable is missing or malformed; the message names the variable. */
export class ConfigError extends Error {
  constructor(readonly variable: string, detail: string) {
    super(`Invalid configuration: ${variable} ${detail}`);
    this.name = 'ConfigError';
  }
}

const bool = z
  .string()
  .trim()
  .toLowerCase()
  .refine((v) => ['1', '0', 'true', 'false', 'yes', 'no'].includes(v), 'must be true or false')
  .transform((v) => ['1', 'true', 'yes'].includes(v));

const positiveInt = z.coerce.number().int().positive();

/** Variables whose values must not appear in error messages or logs. */
const SECRET_VARIABLES = new Set(['JWT_SECRET', 'DATABASE_URL', 'REDIS_URL']);

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HOST: z.string().trim().min(1).default('0.0.0.0'),
  PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  DATABASE_URL: z
    .string()
    .trim()
    .regex(/^postgres(ql)?:\/\//, 'must start with postgres:// or postgresql://')
    .optional(),
  DATA_DIR: z.string().trim().min(1).default('./data'),
  REDIS_URL: z.string().trim().regex(/^rediss?:\/\//, 'must start with redis:// or rediss://').optional(),
  JWT_SECRET: z.string().min(32, 'must be at least 32 bytes').optional(),
  JWT_ISSUER: z.string().trim().min(1).default('chat-server'),
  JWT_AUDIENCE: z.string().trim().min(1).default('chat-clients'),
  ACCESS_TOKEN_TTL: positiveInt.max(24 * 3600).default(900),
  REFRESH_TOKEN_TTL: positiveInt.default(30 * 24 * 3600),
  CORS_ORIGINS: z.string().default('*'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  MIGRATE_ON_START: bool.default(true),
  SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).default(10000),
  UPLOAD_DIR: z.string().trim().min(1).optional(),
  UPLOAD_MAX_BYTES: positiveInt.max(2 ** 31 - 1).default(10 * 1024 * 1024),
  UPLOAD_MAX_FILES: positiveInt.max(100).default(10),
  MEDIA_URL_TTL: positiveInt.max(7 * 24 * 3600).default(3600),
  PUBLIC_URL: z.string().trim().regex(/^https?:\/\/[^\s]+$/, 'must be an http:// or https:// URL').optional(),
});

/**
 * Parses and validates the environment once, at start.
 * Without JWT_SECRET, development and test generate one and keep it in DATA_DIR/jwt-secret
 * (in memory when DATA_DIR is ":memory:"); production refuses to start without one.
 * @throws ConfigError naming the first bad variable.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const raw = Object.fromEntries(
    Object.entries(env).filter(([k, v]) => k in envSchema.shape && v !== undefined && v !== ''),
  );
  const parsed = envSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const name = String(issue.path[0]);
    // Secrets and URLs (which may carry passwords) are never echoed.
    const shown = raw[name] !== undefined && !SECRET_VARIABLES.has(name) ? ` (got "${raw[name]}")` : '';
    throw new ConfigError(name, `${issue.message}${shown}`);
  }
  const e = parsed.data;
  if (Buffer.byteLength(e.JWT_SECRET ?? '') === 0 && e.NODE_ENV === 'production') {
    throw new ConfigError('JWT_SECRET', 'is required when NODE_ENV=production (at least 32 bytes)');
  }
  const dataDir = e.DATA_DIR === ':memory:' ? e.DATA_DIR : resolve(e.DATA_DIR);
  return {
    nodeEnv: e.NODE_ENV,
    host: e.HOST,
    port: e.PORT,
    databaseUrl: e.DATABASE_URL,
    dataDir,
    redisUrl: e.REDIS_URL,
    jwtSecret: new TextEncoder().encode(e.JWT_SECRET ?? developmentSecret(dataDir)),
    jwtIssuer: e.JWT_ISSUER,
    jwtAudience: e.JWT_AUDIENCE,
    accessTokenTtlSec: e.ACCESS_TOKEN_TTL,
    refreshTokenTtlSec: e.REFRESH_TOKEN_TTL,
    corsOrigins: e.CORS_ORIGINS.split(',').map((s) => s.trim()).filter(Boolean),
    logLevel: e.LOG_LEVEL,
    migrateOnStart: e.MIGRATE_ON_START,
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    uploadDir: e.UPLOAD_DIR ? resolve(e.UPLOAD_DIR)
      : dataDir === ':memory:' ? mkdtempSync(join(tmpdir(), 'chat-uploads-')) : join(dataDir, 'uploads'),
    uploadDirIsTemporary: !e.UPLOAD_DIR && dataDir === ':memory:',
    uploadMaxBytes: e.UPLOAD_MAX_BYTES,
    uploadMaxFiles: e.UPLOAD_MAX_FILES,
    mediaUrlTtlSec: e.MEDIA_URL_TTL,
    publicUrl: e.PUBLIC_URL?.replace(/\/+$/, ''),
  };
}

/** A random 48-byte secret kept in DATA_DIR/jwt-secret so tokens survive restarts in development. */
function developmentSecret(dataDir: string): string {
  if (dataDir === ':memory:') return randomBytes(48).toString('base64url');
  const file = join(dataDir, 'jwt-secret');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(48).toString('base64url');
  writeFileSync(file, secret, { mode: 0o600 });
  return secret;
}

/** For command-line entry points: {@link loadConfig}, or print the ConfigError and exit 1. */
export function loadConfigOrExit(env: NodeJS.ProcessEnv = process.env): Config {
  try {
    return loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(1);
    }
    throw err;
  }
}
