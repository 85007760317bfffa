import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config/config';

/** loadConfig is always given an explicit env object: process.env is never read or changed. */

const SECRET = 'q8Vd3ZtK1pXw7LmN0sRb5YcH2jUe9GfA4oTi6kWz';
/** A minimal valid environment that writes nothing to disk. */
const base = { NODE_ENV: 'test', DATA_DIR: ':memory:', JWT_SECRET: SECRET };

/** Runs loadConfig and returns the ConfigError it throws (fails the test when it does not throw one). */
function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error(`loadConfig(${JSON.stringify(env)}) did not throw`);
}

const tempDirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'chat-config-test-'));
  tempDirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

describe('MEDIA_URL_TTL_S (issue 30, item 10)', () => {
  test('defaults to 12 hours (43200 s), so a page left open through a working day keeps its images', () => {
    expect(loadConfig(base).mediaUrlTtlSec).toBe(43200);
  });

  test('takes seconds, up to 7 days; MEDIA_URL_TTL (its old name) is read when it is unset', () => {
    expect(loadConfig({ ...base, MEDIA_URL_TTL_S: '60' }).mediaUrlTtlSec).toBe(60);
    expect(loadConfig({ ...base, MEDIA_URL_TTL_S: String(7 * 24 * 3600) }).mediaUrlTtlSec).toBe(7 * 24 * 3600);
    expect(loadConfig({ ...base, MEDIA_URL_TTL: '3600' }).mediaUrlTtlSec).toBe(3600);
    expect(loadConfig({ ...base, MEDIA_URL_TTL_S: '120', MEDIA_URL_TTL: '3600' }).mediaUrlTtlSec).toBe(120);
  });

  test.each([['0'], ['-5'], ['1.5'], ['soon'], [String(7 * 24 * 3600 + 1)]])('%j is refused, naming the variable', (v) => {
    expect(configError({ ...base, MEDIA_URL_TTL_S: v }).variable).toBe('MEDIA_URL_TTL_S');
  });
});

describe('MESSAGE_EDIT_WINDOW_S and MAX_PINS_PER_CONVERSATION (issue 31)', () => {
  test('default: no edit window, 50 pins a conversation', () => {
    const c = loadConfig(base);
    expect(c.messageEditWindowSec).toBeNull();
    expect(c.maxPinsPerConversation).toBe(50);
  });

  test('take seconds and a count; 0 means no edit window', () => {
    expect(loadConfig({ ...base, MESSAGE_EDIT_WINDOW_S: '900' }).messageEditWindowSec).toBe(900);
    expect(loadConfig({ ...base, MESSAGE_EDIT_WINDOW_S: '0' }).messageEditWindowSec).toBeNull();
    expect(loadConfig({ ...base, MAX_PINS_PER_CONVERSATION: '3' }).maxPinsPerConversation).toBe(3);
  });

  test.each([
    ['MESSAGE_EDIT_WINDOW_S', '-1'],
    ['MESSAGE_EDIT_WINDOW_S', '1.5'],
    ['MESSAGE_EDIT_WINDOW_S', 'soon'],
    ['MAX_PINS_PER_CONVERSATION', '0'],
    ['MAX_PINS_PER_CONVERSATION', '1001'],
  ])('%s=%j is refused, naming the variable', (variable, v) => {
    expect(configError({ ...base, [variable]: v }).variable).toBe(variable);
  });
});

describe('reactions (issue 31)', () => {
  test('limits default to 50 different emoji per message and 20 reactions per user per message, and take other values', () => {
    expect(loadConfig(base).reactions).toEqual({ maxEmojiPerMessage: 50, maxPerUserPerMessage: 20 });
    expect(loadConfig({ ...base, REACTIONS_MAX_EMOJI_PER_MESSAGE: '10', REACTIONS_MAX_PER_USER_PER_MESSAGE: '3' }).reactions).toEqual({
      maxEmojiPerMessage: 10,
      maxPerUserPerMessage: 3,
    });
  });

  test.each([
    ['REACTIONS_MAX_EMOJI_PER_MESSAGE', '0'],
    ['REACTIONS_MAX_EMOJI_PER_MESSAGE', 'many'],
    ['REACTIONS_MAX_PER_USER_PER_MESSAGE', '-1'],
    ['REACTIONS_MAX_PER_USER_PER_MESSAGE', '1001'],
  ])('%s=%s is refused, naming the variable', (variable, value) => {
    expect(configError({ ...base, [variable]: value }).variable).toBe(variable);
  });
});

describe('loadConfig defaults', () => {
  test('a minimal environment gets the documented defaults', () => {
    const c = loadConfig(base);
    expect(c.port).toBe(4000);
    expect(c.host).toBe('0.0.0.0');
    expect(c.nodeEnv).toBe('test');
    expect(c.databaseUrl).toBeUndefined();
    expect(c.redisUrl).toBeUndefined();
    expect(c.accessTokenTtlSec).toBe(900);
    expect(c.refreshTokenTtlSec).toBe(30 * 24 * 3600);
    expect(c.logLevel).toBe('info');
    expect(c.migrateOnStart).toBe(true);
    expect(c.corsOrigins).toEqual(['*']);
    expect(c.dataDir).toBe(':memory:');
    expect(c.seenByMaxMembers).toBe(100);
    expect(Buffer.from(c.jwtSecret).toString('utf8')).toBe(SECRET);
  });

  test('SEEN_BY_MAX_MEMBERS: 0 and more; 0 lists no readers anywhere (only seenCount)', () => {
    expect(loadConfig({ ...base, SEEN_BY_MAX_MEMBERS: '0' }).seenByMaxMembers).toBe(0);
    expect(loadConfig({ ...base, SEEN_BY_MAX_MEMBERS: '500' }).seenByMaxMembers).toBe(500);
    expect(() => loadConfig({ ...base, SEEN_BY_MAX_MEMBERS: '-1' })).toThrow();
  });

  test('NODE_ENV defaults to development', () => {
    expect(loadConfig({ DATA_DIR: ':memory:', JWT_SECRET: SECRET }).nodeEnv).toBe('development');
  });

  test('empty values count as unset', () => {
    expect(loadConfig({ ...base, PORT: '', LOG_LEVEL: '' })).toMatchObject({ port: 4000, logLevel: 'info' });
  });

  test('valid values are parsed', () => {
    const c = loadConfig({
      ...base,
      PORT: '0',
      DATABASE_URL: 'postgresql://u@db:5432/chat',
      LOG_LEVEL: 'silent',
      ACCESS_TOKEN_TTL: '60',
      MIGRATE_ON_START: 'false',
      CORS_ORIGINS: 'https://a.example, https://b.example',
    });
    expect(c).toMatchObject({
      port: 0,
      databaseUrl: 'postgresql://u@db:5432/chat',
      logLevel: 'silent',
      accessTokenTtlSec: 60,
      migrateOnStart: false,
      corsOrigins: ['https://a.example', 'https://b.example'],
    });
  });

  test('a process.env-like object with unrelated variables is accepted', () => {
    expect(loadConfig({ ...base, PATH: '/usr/bin', HOME: '/root' }).port).toBe(4000);
  });
});

describe('loadConfig rejects a bad value with a ConfigError naming the variable', () => {
  test.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['PORT', '-1'],
    ['PORT', '80.5'],
    ['DATABASE_URL', 'mysql://x'],
    ['LOG_LEVEL', 'loud'],
    ['ACCESS_TOKEN_TTL', '-5'],
    ['ACCESS_TOKEN_TTL', '0'],
    ['ACCESS_TOKEN_TTL', 'soon'],
    ['MIGRATE_ON_START', 'maybe'],
    ['NODE_ENV', 'staging'],
    ['REDIS_URL', 'http://cache'],
    ['JWT_SECRET', 'x'.repeat(31)],
    ['TRUST_PROXY', 'the nginx one'],
    ['PRESENCE_TTL_MS', '50'],
    ['RATE_MESSAGES_PER_SEC', '0'],
    ['WS_MAX_PAYLOAD_BYTES', 'lots'],
    ['REDIS_PREFIX', 'has spaces'],
  ])('%s=%s', (variable, value) => {
    const err = configError({ ...base, [variable]: value });
    expect(err.variable).toBe(variable);
    expect(err.message).toContain(variable);
  });

  test('TRUST_PROXY takes false, true, a hop count or addresses', () => {
    expect(loadConfig(base).trustProxy).toBe(false);
    expect(loadConfig({ ...base, TRUST_PROXY: 'true' }).trustProxy).toBe(true);
    expect(loadConfig({ ...base, TRUST_PROXY: '1' }).trustProxy).toBe(1);
    expect(loadConfig({ ...base, TRUST_PROXY: 'loopback, 10.0.0.0/8' }).trustProxy).toEqual(['loopback', '10.0.0.0/8']);
  });

  test('a 32-byte JWT_SECRET is enough', () => {
    expect(Buffer.from(loadConfig({ ...base, JWT_SECRET: 'x'.repeat(32) }).jwtSecret).length).toBe(32);
  });

  test('the error for a bad JWT_SECRET does not echo the secret', () => {
    const secret = 'hunter2-secret-value';
    const err = configError({ ...base, JWT_SECRET: secret });
    expect(err.variable).toBe('JWT_SECRET');
    expect(err.message).not.toContain(secret);
  });

  test('the error for a bad DATABASE_URL does not echo its password', () => {
    const err = configError({ ...base, DATABASE_URL: 'mysql://chat:p4ssw0rd-s3cret@db/chat' });
    expect(err.variable).toBe('DATABASE_URL');
    expect(err.message).not.toContain('p4ssw0rd-s3cret');
  });
});

describe('JWT_SECRET', () => {
  test('NODE_ENV=production without JWT_SECRET throws naming JWT_SECRET', () => {
    const dir = tempDir();
    const err = configError({ NODE_ENV: 'production', DATA_DIR: dir });
    expect(err.variable).toBe('JWT_SECRET');
    expect(err.message).toContain('JWT_SECRET');
    // and nothing was generated on disk
    expect(() => statSync(join(dir, 'jwt-secret'))).toThrow();
  });

  test('NODE_ENV=production refuses a placeholder or low-entropy JWT_SECRET (or previous secret), naming the variable', () => {
    const prod = { NODE_ENV: 'production', DATA_DIR: ':memory:', CORS_ORIGINS: '*' };
    for (const weak of [
      'CHANGE-ME-this-placeholder-is-not-a-secret-use-48-random-bytes',
      's'.repeat(40),
      'password'.repeat(5),
      'your-jwt-secret-goes-here-0123456789',
    ]) {
      const err = configError({ ...prod, JWT_SECRET: weak });
      expect(err.variable).toBe('JWT_SECRET');
      expect(err.message).not.toContain(weak);
    }
    expect(configError({ ...prod, JWT_SECRET: SECRET, JWT_PREVIOUS_SECRETS: 'x'.repeat(32) }).variable).toBe('JWT_PREVIOUS_SECRETS');
    // Outside production a weak secret is accepted (tests, local runs).
    expect(() => loadConfig({ NODE_ENV: 'development', DATA_DIR: ':memory:', JWT_SECRET: 's'.repeat(40) })).not.toThrow();
  });

  test('NODE_ENV=production with JWT_SECRET starts', () => {
    expect(
      Buffer.from(loadConfig({ NODE_ENV: 'production', DATA_DIR: ':memory:', JWT_SECRET: SECRET, CORS_ORIGINS: 'https://chat.example' }).jwtSecret).toString(),
    ).toBe(SECRET);
  });

  test('development without JWT_SECRET generates one under DATA_DIR/jwt-secret and reuses it', () => {
    const dir = join(tempDir(), 'nested', 'data');
    const first = loadConfig({ NODE_ENV: 'development', DATA_DIR: dir });
    const file = join(dir, 'jwt-secret');
    const stored = readFileSync(file, 'utf8').trim();
    expect(Buffer.byteLength(stored)).toBeGreaterThanOrEqual(32);
    expect(Buffer.from(first.jwtSecret).toString('utf8')).toBe(stored);
    expect(first.dataDir).toBe(dir);
    if (process.platform !== 'win32') expect(statSync(file).mode & 0o077).toBe(0); // owner-only

    const second = loadConfig({ NODE_ENV: 'development', DATA_DIR: dir });
    expect(Buffer.from(second.jwtSecret).toString('utf8')).toBe(stored);
    expect(readFileSync(file, 'utf8').trim()).toBe(stored);
  });

  test('two data directories get different generated secrets', () => {
    const a = loadConfig({ NODE_ENV: 'development', DATA_DIR: tempDir() });
    const b = loadConfig({ NODE_ENV: 'development', DATA_DIR: tempDir() });
    expect(Buffer.from(a.jwtSecret).equals(Buffer.from(b.jwtSecret))).toBe(false);
  });

  test('an explicit JWT_SECRET wins over a stored one', () => {
    const dir = tempDir();
    loadConfig({ NODE_ENV: 'development', DATA_DIR: dir });
    expect(Buffer.from(loadConfig({ NODE_ENV: 'development', DATA_DIR: dir, JWT_SECRET: SECRET }).jwtSecret).toString()).toBe(SECRET);
  });
});

describe('JWT_PREVIOUS_SECRETS (key rotation)', () => {
  test('unset: no previous keys', () => {
    expect(loadConfig(base).jwtPreviousSecrets).toEqual([]);
  });

  test('comma-separated keys, spaces and empty entries ignored, in order', () => {
    const a = 'a'.repeat(32);
    const b = 'b'.repeat(40);
    const c = loadConfig({ ...base, JWT_PREVIOUS_SECRETS: ` ${a} ,, ${b} ` });
    expect(c.jwtPreviousSecrets.map((k) => Buffer.from(k).toString('utf8'))).toEqual([a, b]);
    expect(Buffer.from(c.jwtSecret).toString('utf8')).toBe(SECRET);
  });

  test('a key under 32 bytes is refused naming the variable, without echoing any key', () => {
    const long = 'L'.repeat(40);
    const err = configError({ ...base, JWT_PREVIOUS_SECRETS: `${long},short-key` });
    expect(err.variable).toBe('JWT_PREVIOUS_SECRETS');
    expect(err.message).not.toContain('short-key');
    expect(err.message).not.toContain(long);
  });
});

describe('transport hardening settings (issue 7)', () => {
  test('defaults: query limits, introspection, landing page and suggestions outside production, WebSocket and HTTP limits', () => {
    const c = loadConfig(base);
    expect(c.graphql).toEqual({
      maxDepth: 10,
      maxCost: 100000,
      maxAliases: 15,
      maxDirectives: 50,
      maxTokens: 2000,
      introspection: true,
      landingPage: true,
      hideSuggestions: false,
      userMaxInFlight: 8,
      userHeavyCost: 1000,
      userHeavyConcurrency: 2,
      userCostPerSec: 300000,
    });
    expect(c.rateLimits.memberAddsPerHour).toBe(300);
    expect(c.rateLimits.searchesPerMin).toBe(60);
    expect(loadConfig({ ...base, RATE_SEARCHES_PER_MIN: '5' }).rateLimits.searchesPerMin).toBe(5);
    expect(() => loadConfig({ ...base, RATE_SEARCHES_PER_MIN: '0' })).toThrow(/RATE_SEARCHES_PER_MIN/);
    expect(loadConfig({ ...base, RATE_MEMBER_ADDS_PER_HOUR: '20', GRAPHQL_USER_MAX_IN_FLIGHT: '2', GRAPHQL_USER_COST_PER_SEC: '5000' })).toMatchObject({
      rateLimits: { memberAddsPerHour: 20 },
      graphql: { userMaxInFlight: 2, userCostPerSec: 5000 },
    });
    expect(c.wsMaxSubscriptions).toBe(100);
    expect(c.http).toEqual({ maxBodyBytes: 1024 * 1024, headersTimeoutMs: 20000, requestTimeoutMs: 300000, keepAliveTimeoutMs: 5000 });
  });

  test('production turns introspection, the landing page and suggestions off; GRAPHQL_INTROSPECTION / GRAPHQL_LANDING_PAGE turn the first two back on', () => {
    const prod = { ...base, NODE_ENV: 'production', CORS_ORIGINS: '*' };
    expect(loadConfig(prod).graphql).toMatchObject({ introspection: false, landingPage: false, hideSuggestions: true });
    expect(loadConfig({ ...prod, GRAPHQL_INTROSPECTION: 'true', GRAPHQL_LANDING_PAGE: 'yes' }).graphql).toMatchObject({
      introspection: true,
      landingPage: true,
      hideSuggestions: true,
    });
    expect(loadConfig({ ...base, GRAPHQL_INTROSPECTION: 'false', GRAPHQL_LANDING_PAGE: '0' }).graphql).toMatchObject({
      introspection: false,
      landingPage: false,
      hideSuggestions: false,
    });
  });

  test('values are parsed', () => {
    const c = loadConfig({
      ...base,
      GRAPHQL_MAX_DEPTH: '5',
      GRAPHQL_MAX_COST: '1000',
      GRAPHQL_MAX_ALIASES: '0',
      GRAPHQL_MAX_DIRECTIVES: '3',
      GRAPHQL_MAX_TOKENS: '500',
      WS_MAX_SUBSCRIPTIONS: '7',
      HTTP_MAX_BODY_BYTES: '2048',
      HTTP_HEADERS_TIMEOUT_MS: '1000',
      HTTP_REQUEST_TIMEOUT_MS: '2000',
      HTTP_KEEP_ALIVE_TIMEOUT_MS: '3000',
    });
    expect(c.graphql).toMatchObject({ maxDepth: 5, maxCost: 1000, maxAliases: 0, maxDirectives: 3, maxTokens: 500 });
    expect(c.wsMaxSubscriptions).toBe(7);
    expect(c.http).toEqual({ maxBodyBytes: 2048, headersTimeoutMs: 1000, requestTimeoutMs: 2000, keepAliveTimeoutMs: 3000 });
  });

  test.each([
    ['GRAPHQL_MAX_DEPTH', '0'],
    ['GRAPHQL_MAX_COST', '-1'],
    ['GRAPHQL_MAX_TOKENS', 'many'],
    ['GRAPHQL_MAX_ALIASES', '1.5'],
    ['GRAPHQL_INTROSPECTION', 'maybe'],
    ['GRAPHQL_LANDING_PAGE', 'on'],
    ['WS_MAX_SUBSCRIPTIONS', '0'],
    ['HTTP_MAX_BODY_BYTES', '0'],
    ['HTTP_KEEP_ALIVE_TIMEOUT_MS', 'soon'],
  ])('a bad %s is refused naming it', (variable, value) => {
    expect(configError({ ...base, [variable]: value }).variable).toBe(variable);
  });

  test('a headers timeout longer than the request timeout is refused', () => {
    const err = configError({ ...base, HTTP_HEADERS_TIMEOUT_MS: '5000', HTTP_REQUEST_TIMEOUT_MS: '4000' });
    expect(err.variable).toBe('HTTP_HEADERS_TIMEOUT_MS');
  });

  test('CORS_ORIGINS: "*" by default outside production; production refuses to start without it (an explicit "*" is accepted; issue 30)', () => {
    expect(loadConfig(base).corsOrigins).toEqual(['*']);
    expect(loadConfig({ ...base, NODE_ENV: 'development' }).corsOrigins).toEqual(['*']);
    const prod = { ...base, NODE_ENV: 'production' };
    for (const unset of [{}, { CORS_ORIGINS: '' }] as Record<string, string>[]) {
      const err = configError({ ...prod, ...unset });
      expect(err.variable).toBe('CORS_ORIGINS');
      expect(err.message).toMatch(/required when NODE_ENV=production/);
    }
    expect(loadConfig({ ...prod, CORS_ORIGINS: '*' }).corsOrigins).toEqual(['*']);
    expect(loadConfig({ ...prod, CORS_ORIGINS: 'https://chat.example, https://admin.example' }).corsOrigins).toEqual([
      'https://chat.example',
      'https://admin.example',
    ]);
  });

  test('CORS_ORIGINS: "*" only alone, otherwise origins (scheme and host, no path)', () => {
    expect(loadConfig({ ...base, CORS_ORIGINS: ' * ' }).corsOrigins).toEqual(['*']);
    expect(loadConfig({ ...base, CORS_ORIGINS: 'http://localhost:3000' }).corsOrigins).toEqual(['http://localhost:3000']);
    for (const bad of ['*,https://a.example', 'https://a.example/', 'a.example', 'https://a.example/app', ' , ']) {
      expect({ bad, variable: configError({ ...base, CORS_ORIGINS: bad }).variable }).toEqual({ bad, variable: 'CORS_ORIGINS' });
    }
  });
});

describe('push and the outbox (issue 34)', () => {
  test('off by default; outbox defaults: poll 1 s, lease 60 s, retention 7 days; private addresses refused', () => {
    const c = loadConfig(base);
    expect(c.push).toBeNull();
    expect(c.outbox).toEqual({ pollMs: 1000, leaseMs: 60000, retentionSec: 7 * 24 * 3600 });
    expect(c.outboundAllowPrivate).toBe(false);
    expect(c.webhooks).toEqual({ retryBaseMs: 5000, secretOverlapSec: 86400 });
    expect(loadConfig({ ...base, WEBHOOK_RETRY_BASE_MS: '20', WEBHOOK_SECRET_OVERLAP_S: '0' }).webhooks).toEqual({ retryBaseMs: 20, secretOverlapSec: 0 });
    expect(() => loadConfig({ ...base, WEBHOOK_RETRY_BASE_MS: '0' })).toThrow(/WEBHOOK_RETRY_BASE_MS/);
  });

  test('Web Push with the three VAPID_* variables; push defaults: 10 s delay, full content, TTL 24 h', () => {
    const vapid = {
      VAPID_PUBLIC_KEY: 'BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM',
      VAPID_PRIVATE_KEY: 'A'.repeat(43),
      VAPID_SUBJECT: 'mailto:ops@example.com',
    };
    expect(loadConfig({ ...base, ...vapid }).push).toMatchObject({ delayMs: 10000, content: 'full', ttlSec: 86400, retryBaseMs: 5000, fcm: null });
    expect(configError({ ...base, VAPID_PUBLIC_KEY: vapid.VAPID_PUBLIC_KEY }).message).toContain('VAPID_PRIVATE_KEY');
    expect(configError({ ...base, ...vapid, PUSH_CONTENT: 'all' }).message).toContain('PUSH_CONTENT');
  });

  test('FCM needs FCM_PROJECT_ID with a readable service account key file', () => {
    const file = join(tempDir(), 'sa.json');
    writeFileSync(file, JSON.stringify({ client_email: 'a@b.iam.gserviceaccount.com', private_key: 'k', token_uri: 'https://oauth2.googleapis.com/token' }));
    expect(loadConfig({ ...base, FCM_PROJECT_ID: 'chat-1', GOOGLE_APPLICATION_CREDENTIALS: file }).push?.fcm).toMatchObject({
      projectId: 'chat-1',
      apiUrl: 'https://fcm.googleapis.com',
    });
    expect(configError({ ...base, FCM_PROJECT_ID: 'chat-1' }).message).toContain('GOOGLE_APPLICATION_CREDENTIALS');
    expect(configError({ ...base, FCM_PROJECT_ID: 'chat-1', GOOGLE_APPLICATION_CREDENTIALS: join(tempDir(), 'none.json') }).message).toContain('readable');
  });
});
