import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { startApp, type RunningApp } from '../../../src/app';
import { codeOf, gql, gqlOk, registerUser, type TestUser } from '../../support/client';
import { headerOf, kidOf } from '../../support/jwt';
import { createTestDatabase, testAppOptions, testConfig } from '../../support/test-server';

/**
 * JWT key rotation with `kid`, across real restarts of the server on one database:
 *   1. JWT_SECRET=K1: tokens carry kid(K1).
 *   2. JWT_SECRET=K2, JWT_PREVIOUS_SECRETS=K1: K1's tokens still work on every transport, new
 *      ones carry kid(K2); an unknown kid, or a known kid on a token signed with another key, is refused.
 *   3. JWT_SECRET=K2 alone: K1's tokens are refused; K2's work.
 */

const K1 = randomBytes(32).toString('hex');
const K2 = randomBytes(32).toString('hex');

// Each test restarts the server; on a busy machine a cold start on disk (PGlite) with its
// migrations can take longer than jest's default 30 s. A guard against hanging, not a timing check.
jest.setTimeout(180_000);

/** Where the data survives a restart: a PostgreSQL database of its own, else PGlite files in a temporary folder. */
let store: { env: Record<string, string>; cleanup(): Promise<void> };
let app: RunningApp | undefined;

beforeAll(async () => {
  if (process.env.DATABASE_URL) {
    const db = await createTestDatabase();
    store = { env: { DATABASE_URL: db.url }, cleanup: () => db.drop() };
  } else {
    const dir = mkdtempSync(join(tmpdir(), 'chat-key-rotation-'));
    store = { env: { DATA_DIR: dir }, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
  }
});
afterAll(async () => {
  await app?.stop();
  await store?.cleanup();
});

/** Stops the running instance (if any) and starts one on the same data with these key settings. */
async function restartWith(keys: Record<string, string>): Promise<RunningApp> {
  await app?.stop();
  app = undefined;
  const redis: Record<string, string> = process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {};
  app = await startApp(testConfig({ ...store.env, ...redis, ...keys }), testAppOptions());
  return app;
}

/** An HS256 access token signed by hand with `secret` and the header fields given. */
function forge(secret: string, header: Record<string, unknown>, userId: string): string {
  const now = Math.floor(Date.now() / 1000);
  const payload = { sub: userId, iss: 'chat-server', aud: 'chat-clients', iat: now, exp: now + 600 };
  const input = `${Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'at+jwt', ...header })).toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
  return `${input}.${createHmac('sha256', Buffer.from(secret, 'utf8')).update(input).digest('base64url')}`;
}

/** What each transport says to `token`: GraphQL HTTP `me` id (or the error code), graphql-ws init, REST status. */
async function transports(server: RunningApp, token: string): Promise<{ http: string; ws: string; rest: number }> {
  const r = await gql(server.url, '{ me { id } }', {}, token);
  const http = r.errors?.length ? String(codeOf(r)) : `user ${r.data.me.id}`;
  const ws = await new Promise<string>((resolve, reject) => {
    const socket = new WebSocket(server.wsUrl, 'graphql-transport-ws');
    let acked = false;
    socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } })));
    socket.on('message', (data) => {
      if (JSON.parse(String(data)).type === 'connection_ack') {
        acked = true;
        socket.close(1000);
      }
    });
    socket.on('close', (code) => resolve(acked ? 'acked' : `closed ${code}`));
    socket.on('error', reject);
  });
  const res = await fetch(`${server.url.replace(/\/graphql$/, '')}/api/chats/`, { headers: { authorization: `Bearer ${token}` } });
  await res.arrayBuffer();
  return { http, ws, rest: res.status };
}

const accepted = (user: TestUser) => ({ http: `user ${user.id}`, ws: 'acked', rest: 200 });
const REFUSED = { http: 'UNAUTHENTICATED', ws: 'closed 4403', rest: 401 };

let user: TestUser;
/** Issued by the server while K1 was the current key. */
let tokenK1: string;
/** Issued by the server after the rotation to K2. */
let tokenK2: string;

test('1. with JWT_SECRET=K1, access tokens carry kid(K1) and work', async () => {
  const server = await restartWith({ JWT_SECRET: K1 });
  user = await registerUser(server.url, 'rot');
  tokenK1 = user.token;
  expect(headerOf(tokenK1)).toEqual({ alg: 'HS256', typ: 'at+jwt', kid: kidOf(K1) });
  expect(await transports(server, tokenK1)).toEqual(accepted(user));
});

test("2. after rotating to K2 with K1 kept as previous: K1's token still works everywhere; new tokens carry kid(K2)", async () => {
  const server = await restartWith({ JWT_SECRET: K2, JWT_PREVIOUS_SECRETS: K1 });
  expect(await transports(server, tokenK1)).toEqual(accepted(user));

  // Refresh tokens are not JWTs: the one issued under K1 refreshes, and the new access token is K2's.
  const refreshed = (await gqlOk(server.url, 'mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken } }', { t: user.refreshToken }))
    .refreshToken;
  tokenK2 = refreshed.accessToken;
  expect(headerOf(tokenK2)).toEqual({ alg: 'HS256', typ: 'at+jwt', kid: kidOf(K2) });
  expect(kidOf(K2)).not.toBe(kidOf(K1));
  expect(await transports(server, tokenK2)).toEqual(accepted(user));
});

test('2. during the rotation, an unknown kid is refused, and a known kid only vouches for its own key', async () => {
  const server = app!;
  // The current key under a kid nobody issued.
  expect(await transports(server, forge(K2, { kid: 'unknown-kid1' }, user.id))).toEqual(REFUSED);
  // A stranger's key under a stranger's kid.
  const stranger = randomBytes(32).toString('hex');
  expect(await transports(server, forge(stranger, { kid: kidOf(stranger) }, user.id))).toEqual(REFUSED);
  // K2 signing under K1's kid, and K1 under K2's: the kid picks the key, the signature must match it.
  expect(await transports(server, forge(K2, { kid: kidOf(K1) }, user.id))).toEqual(REFUSED);
  expect(await transports(server, forge(K1, { kid: kidOf(K2) }, user.id))).toEqual(REFUSED);
  // A kid that is not a string.
  expect(await transports(server, forge(K2, { kid: 42 }, user.id))).toEqual(REFUSED);
  // Controls: each key under its own kid works.
  expect(await transports(server, forge(K1, { kid: kidOf(K1) }, user.id))).toEqual(accepted(user));
  expect(await transports(server, forge(K2, { kid: kidOf(K2) }, user.id))).toEqual(accepted(user));
  // A token without kid (issued before kids existed) is checked with the current key only.
  expect(await transports(server, forge(K2, {}, user.id))).toEqual(accepted(user));
  expect(await transports(server, forge(K1, {}, user.id))).toEqual(REFUSED);
});

test("3. once K1 is removed from JWT_PREVIOUS_SECRETS, its tokens are refused on every transport; K2's still work", async () => {
  const server = await restartWith({ JWT_SECRET: K2 });
  expect(await transports(server, tokenK1)).toEqual(REFUSED);
  expect(await transports(server, forge(K1, { kid: kidOf(K1) }, user.id))).toEqual(REFUSED);
  expect(await transports(server, tokenK2)).toEqual(accepted(user));
  // Logging in works as ever and yields K2 tokens.
  const login = await gql(server.url, 'mutation($u: String!) { login(username: $u, password: "correct-horse-battery") { accessToken } }', { u: user.username });
  expect(headerOf(login.data.login.accessToken).kid).toBe(kidOf(K2));
});
