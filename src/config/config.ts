import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { z } from 'zod';

/** A Google service account key file's fields FCM HTTP v1 needs (GOOGLE_APPLICATION_CREDENTIALS). */
export interface ServiceAccount {
  client_email: string;
  private_key: string;
  token_uri: string;
}

/** Push settings (issue 34): at least one of webPush and fcm is set. */
export interface PushConfig {
  /** PUSH_DELAY_MS: how long a recipient with a live socket has to read a message before it is pushed anyway (default 10000). */
  delayMs: number;
  /** PUSH_CONTENT: full (sender and the first 100 characters), sender (the sender only), none (ids only). */
  content: 'full' | 'sender' | 'none';
  /** PUSH_TTL_S: how long a push service keeps an undelivered push (Web Push TTL, FCM ttl; default 86400). */
  ttlSec: number;
  /** PUSH_RETRY_BASE_MS: first retry delay; each next one is 4 times longer, at most 1 h (default 5000). */
  retryBaseMs: number;
  /** VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY (base64url, `npx web-push generate-vapid-keys`), VAPID_SUBJECT (mailto: or https:). */
  webPush: { publicKey: string; privateKey: string; subject: string } | null;
  /** FCM_PROJECT_ID, the service account of GOOGLE_APPLICATION_CREDENTIALS, FCM_API_URL (default https://fcm.googleapis.com). */
  fcm: { projectId: string; account: ServiceAccount; apiUrl: string } | null;
}

/** The server's whole configuration: parsed once from the environment by {@link loadConfig}. */
export interface Config {
  nodeEnv: 'development' | 'production' | 'test';
  host: string;
  /** TCP port; 0 picks a free one (tests). */
  port: number;
  /** postgres://... for PostgreSQL; undefined selects the embedded PGlite database. */
  databaseUrl?: string;
  /** PostgreSQL connections this instance may hold at once (DB_POOL_MAX, default 20; PGlite has one). */
  dbPoolMax: number;
  /** Where PGlite keeps its files and development keeps its generated JWT secret. ":memory:" keeps PGlite in memory. */
  dataDir: string;
  redisUrl?: string;
  /** Prefix of every Redis key and channel: instances of one deployment share it (default "chat"). */
  redisPrefix: string;
  /** HMAC key for access tokens (HS256), at least 32 bytes. */
  jwtSecret: Uint8Array;
  /**
   * Earlier HMAC keys (JWT_PREVIOUS_SECRETS) still accepted for access tokens they signed, so a
   * rotation does not log everyone out; tokens are never signed with them.
   */
  jwtPreviousSecrets: Uint8Array[];
  jwtIssuer: string;
  jwtAudience: string;
  /** Access-token lifetime in seconds (default 900 = 15 min). */
  accessTokenTtlSec: number;
  /** Refresh-token lifetime in seconds (default 30 days). */
  refreshTokenTtlSec: number;
  /**
   * Seconds after a refresh during which presenting the spent refresh token again answers the same
   * successor pair instead of revoking the login (REFRESH_REUSE_GRACE_S, default 30; 0 turns it
   * off): two tabs refreshing at once (Auth0's "reuse interval"). Later reuse still revokes.
   */
  refreshReuseGraceSec: number;
  /** Push to offline devices (issue 34; docs/push.md): null when neither Web Push nor FCM is configured (nothing is queued). */
  push: PushConfig | null;
  /** The transactional outbox's workers (issue 34): poll interval, lease, retention of finished rows. */
  outbox: { pollMs: number; leaseMs: number; retentionSec: number };
  /** OUTBOUND_ALLOW_PRIVATE: outbound requests (Web Push endpoints, webhooks) may reach private and loopback addresses and use http:// (development, tests). */
  outboundAllowPrivate: boolean;
  /** Webhooks (issue 34; docs/webhooks.md): WEBHOOK_RETRY_BASE_MS scales the retry schedule (5000 = 5 s, 5 min, ... 24 h); WEBHOOK_SECRET_OVERLAP_S: how long the old secret still signs after a rotation. */
  webhooks: { retryBaseMs: number; secretOverlapSec: number };
  /** Allowed CORS origins (CORS_ORIGINS; default ["*"] in development and test, required in production); ["*"] (alone) allows any origin, without credentials. */
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
  /** Most pixels (width x height) an uploaded image may have (default 40 million); larger ones are refused before decoding. */
  uploadMaxPixels: number;
  /**
   * Lifetime of the signed media URLs (`Attachment.url`, `thumbnailUrl`, avatars), in seconds
   * (MEDIA_URL_TTL_S, default 43200 = 12 h: a page opened in the morning still shows its images
   * at the end of a working day; past it, clients re-query the URL). At most 7 days.
   */
  mediaUrlTtlSec: number;
  /** Seconds an upload not yet sent in a message (seed 003 note 7, POST /api/chat/upload/) is kept before it is purged (default 86400 = 24 h). */
  uploadOrphanTtlSec: number;
  /** Most uploads not yet sent one user may hold at once (default 20; past it: CONFLICT). */
  uploadPendingMax: number;
  /** Seconds after sending during which a sender may edit their message (MESSAGE_EDIT_WINDOW_S; null, the default: no limit, as the seeds allow); staff are not limited. */
  messageEditWindowSec: number | null;
  /** Most pinned messages in one conversation (MAX_PINS_PER_CONVERSATION, default 50); past it pinMessage is refused. */
  maxPinsPerConversation: number;
  /** Message.seenBy lists readers only in conversations of at most this many active members; above it, only seenCount (SEEN_BY_MAX_MEMBERS, default 100; issue 32). */
  seenByMaxMembers: number;
  /** A crashed instance's users go OFFLINE within this many ms (Redis presence; default 30000). */
  presenceTtlMs: number;
  /** Reactions (issue 31): distinct emoji on one message (default 50), reactions of one user on one message (default 20). */
  reactions: { maxEmojiPerMessage: number; maxPerUserPerMessage: number };
  /**
   * Limits (issue 6): messages per user per second, failed logins per username+IP per 15 min, new
   * WebSocket connections per minute per IP and per user; (issue 27) other people one user may add
   * to groups and rooms per hour (createGroup's memberIds, addMember).
   */
  rateLimits: {
    messagesPerSec: number;
    messagesBurst: number;
    loginFailures: number;
    registrationsPerHourIp: number;
    wsPerMinIp: number;
    wsPerMinUser: number;
    memberAddsPerHour: number;
    /** (issue 33) searchMessages queries per user per minute. */
    searchesPerMin: number;
  };
  /** graphql-ws: ms a socket may wait before connection_init; largest accepted frame (bytes); ping interval (ms) to drop dead sockets. */
  ws: {
    initTimeoutMs: number;
    maxPayloadBytes: number;
    pingIntervalMs: number;
    /** Sockets one user may hold open at once on an instance (past it: close 1013). */
    maxSocketsPerUser: number;
    /** Most ids in one `presence(userIds:)` subscription (past it: BAD_USER_INPUT). */
    maxPresenceIds: number;
    /**
     * Most user ids the presence and userUpdated subscriptions of one socket name in `userIds`,
     * all together (issue 27 §5: 100 subscriptions of 1000 ids held 4.8 MiB per socket; past it:
     * BAD_USER_INPUT naming userIds). Subscriptions without `userIds` do not count.
     */
    maxPresenceIdsPerSocket: number;
    /** Sockets one address may hold open before they authenticate, per instance (past it: close 1013). */
    maxPendingPerIp: number;
    /** Unsent bytes a socket may queue before it is closed with 4507 (the client reconnects and catches up). */
    maxBufferedBytes: number;
    /** Events a subscription may fall behind its socket before the socket is closed with 4507. */
    maxQueuedEvents: number;
  };
  /** Absolute base of media URLs (https://chat.example.com); unset: URLs are paths ("/media/..."). */
  publicUrl?: string;
  /**
   * GET /metrics (Prometheus): with METRICS_TOKEN it needs `Authorization: Bearer <token>`;
   * without one it is open in development and off (404) in production.
   */
  metrics: { enabled: boolean; token?: string };
  /** The GraphiQL page on a browser's GET /graphql (GRAPHIQL; default on, off in production unless GRAPHIQL=true). */
  graphiql: boolean;
  /**
   * Which proxies' X-Forwarded-For to believe for the client address (rate limits, logs), in
   * Express's `trust proxy` syntax: false (default: none), a hop count, or addresses/subnets
   * ("loopback", "10.0.0.0/8", ...). Behind the docker-compose nginx: 1.
   */
  trustProxy: boolean | number | string[];
  /**
   * GraphQL hardening (issue 7), on HTTP and graphql-ws alike: document limits (depth, cost,
   * aliases, directives, lexical tokens); introspection and the landing page (on outside
   * production unless GRAPHQL_INTROSPECTION / GRAPHQL_LANDING_PAGE say otherwise); field
   * suggestions ("Did you mean ...") hidden in production.
   */
  graphql: {
    maxDepth: number;
    maxCost: number;
    maxAliases: number;
    maxDirectives: number;
    maxTokens: number;
    introspection: boolean;
    landingPage: boolean;
    hideSuggestions: boolean;
    /** Queries and mutations one user may have running at once on an instance (issue 27; past it: RATE_LIMITED). */
    userMaxInFlight: number;
    /**
     * Query cost from which an operation counts toward userMaxInFlight (GRAPHQL_USER_HEAVY_COST, default
     * 1000): cheaper ones (a send, `me`, a page of messages without members) are bounded by the cost per
     * second and the message rate instead, so an offline outbox flushing 30 sends at once goes through.
     */
    userHeavyCost: number;
    /** Of a user's heavy operations at once (userMaxInFlight), how many run at the same time on an instance; the others wait their turn (GRAPHQL_USER_HEAVY_CONCURRENCY, default 2: issue 27's bench measured other users' p99 under 100 ms with 2, not with 8). */
    userHeavyConcurrency: number;
    /** Query cost one user may start per second on an instance (issue 27; default 300000: three documents at GRAPHQL_MAX_COST, as an app starting up sends its list, a page and its profile at once; never below maxCost; past it: RATE_LIMITED). */
    userCostPerSec: number;
  };
  /** Most operations (subscriptions, queries in flight) one graphql-ws socket may hold at once (default 100). */
  wsMaxSubscriptions: number;
  /**
   * HTTP server hygiene: largest JSON body (and multipart `operations` field) on /graphql, in
   * bytes; Node's headersTimeout, requestTimeout and keepAliveTimeout, in ms.
   */
  http: { maxBodyBytes: number; headersTimeoutMs: number; requestTimeoutMs: number; keepAliveTimeoutMs: number };
}

/** Thrown when an environment variable is missing or malformed; the message names the variable. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    detail: string,
  ) {
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

/**
 * Default lifetime of signed media URLs, in seconds: 12 hours, so images of a page left open
 * through a working day still load (it was 1 hour: issue 30, item 10).
 */
export const DEFAULT_MEDIA_URL_TTL_S = 12 * 3600;

/** Variables whose values must not appear in error messages or logs. */
const SECRET_VARIABLES = new Set(['JWT_SECRET', 'JWT_PREVIOUS_SECRETS', 'DATABASE_URL', 'REDIS_URL', 'METRICS_TOKEN', 'VAPID_PRIVATE_KEY']);

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HOST: z.string().trim().min(1).default('0.0.0.0'),
  PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  DATABASE_URL: z
    .string()
    .trim()
    .regex(/^postgres(ql)?:\/\//, 'must start with postgres:// or postgresql://')
    .optional(),
  DB_POOL_MAX: positiveInt.max(1000).default(20),
  DATA_DIR: z.string().trim().min(1).default('./data'),
  REDIS_URL: z
    .string()
    .trim()
    .regex(/^rediss?:\/\//, 'must start with redis:// or rediss://')
    .optional(),
  REDIS_PREFIX: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1..64 letters, digits, ".", "_" or "-"')
    .default('chat'),
  JWT_SECRET: z.string().min(32, 'must be at least 32 bytes').optional(),
  JWT_PREVIOUS_SECRETS: z
    .string()
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    )
    .refine((list) => list.every((s) => Buffer.byteLength(s) >= 32), 'must be comma-separated keys of at least 32 bytes each')
    .default([]),
  JWT_ISSUER: z.string().trim().min(1).default('chat-server'),
  JWT_AUDIENCE: z.string().trim().min(1).default('chat-clients'),
  ACCESS_TOKEN_TTL: positiveInt.max(24 * 3600).default(900),
  REFRESH_TOKEN_TTL: positiveInt.default(30 * 24 * 3600),
  REFRESH_REUSE_GRACE_S: z.coerce.number().int().min(0).max(300).default(30),
  // Unset: "*" in development and test; production refuses to start without it (loadConfig).
  CORS_ORIGINS: z
    .string()
    .optional()
    .refine((v) => {
      if (v === undefined) return true;
      const list = v
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean);
      if (list.includes('*')) return list.length === 1;
      return list.length > 0 && list.every((o) => /^https?:\/\/[^\s/?#]+$/.test(o));
    }, 'must be "*" alone or comma-separated origins like https://chat.example.com (scheme and host, no path)'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  MIGRATE_ON_START: bool.default(true),
  SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).default(10000),
  UPLOAD_DIR: z.string().trim().min(1).optional(),
  UPLOAD_MAX_BYTES: positiveInt.max(2 ** 31 - 1).default(10 * 1024 * 1024),
  UPLOAD_MAX_FILES: positiveInt.max(100).default(10),
  UPLOAD_MAX_PIXELS: positiveInt.max(268_402_689).default(40_000_000),
  MEDIA_URL_TTL_S: positiveInt.max(7 * 24 * 3600).optional(),
  /** The old name of MEDIA_URL_TTL_S, still read when MEDIA_URL_TTL_S is unset. */
  MEDIA_URL_TTL: positiveInt.max(7 * 24 * 3600).optional(),
  UPLOAD_ORPHAN_TTL: positiveInt.max(30 * 24 * 3600).default(24 * 3600),
  UPLOAD_PENDING_MAX: positiveInt.max(10000).default(20),
  MESSAGE_EDIT_WINDOW_S: z.coerce
    .number()
    .int()
    .min(0)
    .max(10 * 365 * 24 * 3600)
    .default(0),
  MAX_PINS_PER_CONVERSATION: positiveInt.max(1000).default(50),
  SEEN_BY_MAX_MEMBERS: z.coerce.number().int().min(0).max(100000).default(100),
  PRESENCE_TTL_MS: z.coerce.number().int().min(200).max(600000).default(30000),
  RATE_MESSAGES_PER_SEC: positiveInt.max(100000).default(10),
  RATE_MESSAGES_BURST: z.coerce.number().int().min(0).max(100000).default(20),
  RATE_LOGIN_FAILURES: positiveInt.max(100000).default(10),
  RATE_REGISTRATIONS_PER_HOUR_IP: positiveInt.max(100000).default(30),
  RATE_WS_PER_MIN_IP: positiveInt.max(100000).default(120),
  RATE_WS_PER_MIN_USER: positiveInt.max(100000).default(60),
  RATE_MEMBER_ADDS_PER_HOUR: positiveInt.max(1_000_000).default(300),
  RATE_SEARCHES_PER_MIN: positiveInt.max(100000).default(60),
  REACTIONS_MAX_EMOJI_PER_MESSAGE: positiveInt.max(1000).default(50),
  REACTIONS_MAX_PER_USER_PER_MESSAGE: positiveInt.max(1000).default(20),
  WS_INIT_TIMEOUT_MS: positiveInt.max(60000).default(3000),
  WS_MAX_PAYLOAD_BYTES: positiveInt.max(16 * 1024 * 1024).default(64 * 1024),
  WS_PING_INTERVAL_MS: positiveInt.min(100).max(600000).default(30000),
  WS_MAX_SOCKETS_PER_USER: positiveInt.max(10000).default(20),
  WS_MAX_PRESENCE_IDS: positiveInt.max(100000).default(1000),
  WS_MAX_PRESENCE_IDS_PER_SOCKET: positiveInt.max(1_000_000).default(5000),
  WS_MAX_PENDING_PER_IP: positiveInt.max(1_000_000).default(5000),
  WS_MAX_BUFFERED_BYTES: positiveInt
    .min(1024)
    .max(1024 * 1024 * 1024)
    .default(4 * 1024 * 1024),
  WS_MAX_QUEUED_EVENTS: positiveInt.max(1_000_000).default(1000),
  TRUST_PROXY: z
    .string()
    .trim()
    .default('false')
    .transform((v, ctx) => {
      if (/^(false|0|no|)$/i.test(v)) return false as const;
      if (/^(true|yes)$/i.test(v)) return true as const;
      if (/^\d{1,2}$/.test(v)) return Number(v);
      const list = v
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean);
      if (list.every((x) => /^(loopback|linklocal|uniquelocal|[0-9a-fA-F.:]+(\/\d{1,3})?)$/.test(x))) return list;
      ctx.addIssue({ code: 'custom', message: 'must be false, true, a hop count, or comma-separated addresses/subnets' });
      return z.NEVER;
    }),
  GRAPHQL_MAX_DEPTH: positiveInt.max(1000).default(10),
  GRAPHQL_MAX_COST: positiveInt.max(10_000_000).default(100000),
  GRAPHQL_MAX_ALIASES: z.coerce.number().int().min(0).max(10000).default(15),
  GRAPHQL_MAX_DIRECTIVES: z.coerce.number().int().min(0).max(10000).default(50),
  GRAPHQL_MAX_TOKENS: positiveInt.max(1_000_000).default(2000),
  GRAPHQL_USER_MAX_IN_FLIGHT: positiveInt.max(10000).default(8),
  GRAPHQL_USER_HEAVY_COST: z.coerce.number().int().min(0).max(100_000_000).default(1000),
  GRAPHQL_USER_HEAVY_CONCURRENCY: positiveInt.max(10000).default(2),
  GRAPHQL_USER_COST_PER_SEC: positiveInt.max(100_000_000).default(300000),
  GRAPHQL_INTROSPECTION: bool.optional(),
  GRAPHQL_LANDING_PAGE: bool.optional(),
  GRAPHIQL: bool.optional(),
  WS_MAX_SUBSCRIPTIONS: positiveInt.max(100000).default(100),
  HTTP_MAX_BODY_BYTES: positiveInt.max(100 * 1024 * 1024).default(1024 * 1024),
  HTTP_HEADERS_TIMEOUT_MS: positiveInt.max(3_600_000).default(20000),
  HTTP_REQUEST_TIMEOUT_MS: positiveInt.max(3_600_000).default(300000),
  HTTP_KEEP_ALIVE_TIMEOUT_MS: positiveInt.max(3_600_000).default(5000),
  METRICS_TOKEN: z.string().trim().min(16, 'must be at least 16 characters').optional(),
  PUSH_DELAY_MS: z.coerce.number().int().min(0).max(3_600_000).default(10000),
  PUSH_CONTENT: z.enum(['full', 'sender', 'none']).default('full'),
  PUSH_TTL_S: z.coerce
    .number()
    .int()
    .min(0)
    .max(28 * 24 * 3600)
    .default(86400),
  PUSH_RETRY_BASE_MS: positiveInt.max(3_600_000).default(5000),
  VAPID_PUBLIC_KEY: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9_-]{86,88}$/, 'must be a base64url P-256 public key (npx web-push generate-vapid-keys)')
    .optional(),
  VAPID_PRIVATE_KEY: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9_-]{42,44}$/, 'must be a base64url P-256 private key (npx web-push generate-vapid-keys)')
    .optional(),
  VAPID_SUBJECT: z
    .string()
    .trim()
    .regex(/^(mailto:|https:\/\/)\S+$/, 'must be a mailto: or https:// URL')
    .optional(),
  FCM_PROJECT_ID: z
    .string()
    .trim()
    .regex(/^[a-z0-9-]{1,64}$/, 'must be a Firebase project id')
    .optional(),
  GOOGLE_APPLICATION_CREDENTIALS: z.string().trim().min(1).optional(),
  FCM_API_URL: z
    .string()
    .trim()
    .regex(/^https?:\/\/[^\s]+$/, 'must be an http:// or https:// URL')
    .default('https://fcm.googleapis.com'),
  OUTBOUND_ALLOW_PRIVATE: bool.default(false),
  WEBHOOK_RETRY_BASE_MS: positiveInt.max(3_600_000).default(5000),
  WEBHOOK_SECRET_OVERLAP_S: z.coerce
    .number()
    .int()
    .min(0)
    .max(30 * 24 * 3600)
    .default(24 * 3600),
  OUTBOX_POLL_MS: positiveInt.min(10).max(600_000).default(1000),
  OUTBOX_LEASE_MS: positiveInt.min(1000).max(3_600_000).default(60000),
  OUTBOX_RETENTION: positiveInt.max(365 * 24 * 3600).default(7 * 24 * 3600),
  PUBLIC_URL: z
    .string()
    .trim()
    .regex(/^https?:\/\/[^\s]+$/, 'must be an http:// or https:// URL')
    .optional(),
});

/** Words of placeholder secrets (this repository's docker-compose.yml had one; so do many examples). */
const PLACEHOLDER = /change[-_ ]?(me|this|it)|placeholder|not[-_ ]?a[-_ ]?secret|your[-_ ]?(jwt[-_ ]?)?secret|example|replace[-_ ]?me|^(secret|password)/i;

/**
 * Why a signing secret is unfit for production, or null: a known placeholder, or under 96 bits
 * of estimated entropy (its length times the Shannon entropy of its characters: a repeated
 * character or a short repeated word fails; 48 random bytes in base64 have about 250).
 */
export function weakSecret(secret: string): string | null {
  if (PLACEHOLDER.test(secret)) return 'is a placeholder, not a secret';
  const counts = new Map<string, number>();
  for (const ch of secret) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  const n = [...secret].length;
  let h = 0;
  for (const c of counts.values()) h -= (c / n) * Math.log2(c / n);
  if (h * n < 96) return `has too little entropy (about ${Math.floor(h * n)} bits, at least 96 needed)`;
  return null;
}

/**
 * Parses and validates the environment once, at start.
 * Without JWT_SECRET, development and test generate one and keep it in DATA_DIR/jwt-secret
 * (in memory when DATA_DIR is ":memory:"); production refuses to start without one.
 * @throws ConfigError naming the first bad variable.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const raw = Object.fromEntries(Object.entries(env).filter(([k, v]) => k in envSchema.shape && v !== undefined && v !== ''));
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
  if (e.NODE_ENV === 'production') {
    for (const [name, secret] of [['JWT_SECRET', e.JWT_SECRET!], ...e.JWT_PREVIOUS_SECRETS.map((s) => ['JWT_PREVIOUS_SECRETS', s] as const)] as const) {
      const weak = weakSecret(secret);
      if (weak) throw new ConfigError(name, `${weak} when NODE_ENV=production; use e.g. \`openssl rand -base64 48\``);
    }
  }
  // As with the secret: which browser origins may call the API is the operator's decision in
  // production, never a default (an explicit "*" is one; issue 30).
  if (e.CORS_ORIGINS === undefined && e.NODE_ENV === 'production') {
    throw new ConfigError(
      'CORS_ORIGINS',
      'is required when NODE_ENV=production: the origins of your web clients (e.g. https://chat.example.com), or "*" for any origin',
    );
  }
  // Node refuses a headers timeout longer than the whole-request timeout.
  if (e.HTTP_HEADERS_TIMEOUT_MS > e.HTTP_REQUEST_TIMEOUT_MS) {
    throw new ConfigError(
      'HTTP_HEADERS_TIMEOUT_MS',
      `must not exceed HTTP_REQUEST_TIMEOUT_MS (${e.HTTP_REQUEST_TIMEOUT_MS}) (got "${e.HTTP_HEADERS_TIMEOUT_MS}")`,
    );
  }
  const production = e.NODE_ENV === 'production';
  const push = pushConfig(e);
  const dataDir = e.DATA_DIR === ':memory:' ? e.DATA_DIR : resolve(e.DATA_DIR);
  return {
    nodeEnv: e.NODE_ENV,
    host: e.HOST,
    port: e.PORT,
    databaseUrl: e.DATABASE_URL,
    dbPoolMax: e.DB_POOL_MAX,
    dataDir,
    redisUrl: e.REDIS_URL,
    redisPrefix: e.REDIS_PREFIX,
    jwtSecret: new TextEncoder().encode(e.JWT_SECRET ?? developmentSecret(dataDir)),
    jwtPreviousSecrets: e.JWT_PREVIOUS_SECRETS.map((s) => new TextEncoder().encode(s)),
    jwtIssuer: e.JWT_ISSUER,
    jwtAudience: e.JWT_AUDIENCE,
    accessTokenTtlSec: e.ACCESS_TOKEN_TTL,
    refreshTokenTtlSec: e.REFRESH_TOKEN_TTL,
    refreshReuseGraceSec: e.REFRESH_REUSE_GRACE_S,
    push,
    outbox: { pollMs: e.OUTBOX_POLL_MS, leaseMs: e.OUTBOX_LEASE_MS, retentionSec: e.OUTBOX_RETENTION },
    outboundAllowPrivate: e.OUTBOUND_ALLOW_PRIVATE,
    webhooks: { retryBaseMs: e.WEBHOOK_RETRY_BASE_MS, secretOverlapSec: e.WEBHOOK_SECRET_OVERLAP_S },
    corsOrigins: (e.CORS_ORIGINS ?? '*')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    logLevel: e.LOG_LEVEL,
    migrateOnStart: e.MIGRATE_ON_START,
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    uploadDir: e.UPLOAD_DIR ? resolve(e.UPLOAD_DIR) : dataDir === ':memory:' ? mkdtempSync(join(tmpdir(), 'chat-uploads-')) : join(dataDir, 'uploads'),
    uploadDirIsTemporary: !e.UPLOAD_DIR && dataDir === ':memory:',
    uploadMaxBytes: e.UPLOAD_MAX_BYTES,
    uploadMaxFiles: e.UPLOAD_MAX_FILES,
    uploadMaxPixels: e.UPLOAD_MAX_PIXELS,
    mediaUrlTtlSec: e.MEDIA_URL_TTL_S ?? e.MEDIA_URL_TTL ?? DEFAULT_MEDIA_URL_TTL_S,
    uploadOrphanTtlSec: e.UPLOAD_ORPHAN_TTL,
    uploadPendingMax: e.UPLOAD_PENDING_MAX,
    messageEditWindowSec: e.MESSAGE_EDIT_WINDOW_S || null,
    maxPinsPerConversation: e.MAX_PINS_PER_CONVERSATION,
    seenByMaxMembers: e.SEEN_BY_MAX_MEMBERS,
    presenceTtlMs: e.PRESENCE_TTL_MS,
    reactions: { maxEmojiPerMessage: e.REACTIONS_MAX_EMOJI_PER_MESSAGE, maxPerUserPerMessage: e.REACTIONS_MAX_PER_USER_PER_MESSAGE },
    rateLimits: {
      messagesPerSec: e.RATE_MESSAGES_PER_SEC,
      messagesBurst: e.RATE_MESSAGES_BURST,
      loginFailures: e.RATE_LOGIN_FAILURES,
      registrationsPerHourIp: e.RATE_REGISTRATIONS_PER_HOUR_IP,
      wsPerMinIp: e.RATE_WS_PER_MIN_IP,
      wsPerMinUser: e.RATE_WS_PER_MIN_USER,
      memberAddsPerHour: e.RATE_MEMBER_ADDS_PER_HOUR,
      searchesPerMin: e.RATE_SEARCHES_PER_MIN,
    },
    ws: {
      initTimeoutMs: e.WS_INIT_TIMEOUT_MS,
      maxPayloadBytes: e.WS_MAX_PAYLOAD_BYTES,
      pingIntervalMs: e.WS_PING_INTERVAL_MS,
      maxSocketsPerUser: e.WS_MAX_SOCKETS_PER_USER,
      maxPresenceIds: e.WS_MAX_PRESENCE_IDS,
      maxPresenceIdsPerSocket: e.WS_MAX_PRESENCE_IDS_PER_SOCKET,
      maxPendingPerIp: e.WS_MAX_PENDING_PER_IP,
      maxBufferedBytes: e.WS_MAX_BUFFERED_BYTES,
      maxQueuedEvents: e.WS_MAX_QUEUED_EVENTS,
    },
    publicUrl: e.PUBLIC_URL?.replace(/\/+$/, ''),
    metrics: { enabled: Boolean(e.METRICS_TOKEN) || !production, token: e.METRICS_TOKEN },
    // GRAPHQL_LANDING_PAGE (which turned Apollo Sandbox on) is read as GRAPHIQL's old name.
    graphiql: e.GRAPHIQL ?? e.GRAPHQL_LANDING_PAGE ?? !production,
    trustProxy: e.TRUST_PROXY,
    graphql: {
      maxDepth: e.GRAPHQL_MAX_DEPTH,
      maxCost: e.GRAPHQL_MAX_COST,
      maxAliases: e.GRAPHQL_MAX_ALIASES,
      maxDirectives: e.GRAPHQL_MAX_DIRECTIVES,
      maxTokens: e.GRAPHQL_MAX_TOKENS,
      introspection: e.GRAPHQL_INTROSPECTION ?? !production,
      landingPage: e.GRAPHQL_LANDING_PAGE ?? !production,
      hideSuggestions: production,
      userMaxInFlight: e.GRAPHQL_USER_MAX_IN_FLIGHT,
      userHeavyCost: e.GRAPHQL_USER_HEAVY_COST,
      userHeavyConcurrency: e.GRAPHQL_USER_HEAVY_CONCURRENCY,
      userCostPerSec: e.GRAPHQL_USER_COST_PER_SEC,
    },
    wsMaxSubscriptions: e.WS_MAX_SUBSCRIPTIONS,
    http: {
      maxBodyBytes: e.HTTP_MAX_BODY_BYTES,
      headersTimeoutMs: e.HTTP_HEADERS_TIMEOUT_MS,
      requestTimeoutMs: e.HTTP_REQUEST_TIMEOUT_MS,
      keepAliveTimeoutMs: e.HTTP_KEEP_ALIVE_TIMEOUT_MS,
    },
  };
}

/**
 * The push settings (issue 34), or null when neither Web Push (the three VAPID_* variables) nor
 * FCM (FCM_PROJECT_ID and GOOGLE_APPLICATION_CREDENTIALS, a service account key file) is set.
 * @throws ConfigError for half a configuration, or a key file that cannot be read or lacks client_email, private_key or token_uri.
 */
function pushConfig(e: z.output<typeof envSchema>): PushConfig | null {
  const vapid = [e.VAPID_PUBLIC_KEY, e.VAPID_PRIVATE_KEY, e.VAPID_SUBJECT];
  if (vapid.some(Boolean) && !vapid.every(Boolean)) {
    const missing = ['VAPID_PUBLIC_KEY', 'VAPID_PRIVATE_KEY', 'VAPID_SUBJECT'][vapid.findIndex((v) => !v)];
    throw new ConfigError(missing, 'is required with the other VAPID_* variables (Web Push)');
  }
  if (Boolean(e.FCM_PROJECT_ID) !== Boolean(e.GOOGLE_APPLICATION_CREDENTIALS)) {
    throw new ConfigError(e.FCM_PROJECT_ID ? 'GOOGLE_APPLICATION_CREDENTIALS' : 'FCM_PROJECT_ID', 'is required with the other for FCM');
  }
  let account: ServiceAccount | null = null;
  if (e.GOOGLE_APPLICATION_CREDENTIALS) {
    let parsed: Partial<ServiceAccount>;
    try {
      parsed = JSON.parse(readFileSync(e.GOOGLE_APPLICATION_CREDENTIALS, 'utf8')) as Partial<ServiceAccount>;
    } catch (err) {
      throw new ConfigError('GOOGLE_APPLICATION_CREDENTIALS', `must name a readable service account JSON key file (${(err as Error).message})`);
    }
    if (typeof parsed.client_email !== 'string' || typeof parsed.private_key !== 'string' || !/^https?:\/\//.test(String(parsed.token_uri))) {
      throw new ConfigError('GOOGLE_APPLICATION_CREDENTIALS', 'must be a service account key file with client_email, private_key and token_uri');
    }
    account = { client_email: parsed.client_email, private_key: parsed.private_key, token_uri: parsed.token_uri! };
  }
  if (!e.VAPID_PUBLIC_KEY && !account) return null;
  return {
    delayMs: e.PUSH_DELAY_MS,
    content: e.PUSH_CONTENT,
    ttlSec: e.PUSH_TTL_S,
    retryBaseMs: e.PUSH_RETRY_BASE_MS,
    webPush: e.VAPID_PUBLIC_KEY ? { publicKey: e.VAPID_PUBLIC_KEY, privateKey: e.VAPID_PRIVATE_KEY!, subject: e.VAPID_SUBJECT! } : null,
    fcm: account ? { projectId: e.FCM_PROJECT_ID!, account, apiUrl: e.FCM_API_URL.replace(/\/+$/, '') } : null,
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
