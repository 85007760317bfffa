import { createHmac, randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { codeOf, gql, gqlOk, registerUser, restUrl, wsClient, type GqlResult } from '../support/client';
import { startTestServer, type TestServer } from '../support/test-server';
import { ARGON2_PARAMS, PASSWORD_MAX_LENGTH } from '../../src/domain/auth/password';

/**
 * Accounts and tokens through the real server: register, login, `me`, access-token claims and
 * forgeries, refresh-token rotation and reuse detection, logout, graphql-ws connection_init auth.
 */

const SECRET = randomBytes(32).toString('hex');
const ISSUER = 'chat-server-auth-test';
const AUDIENCE = 'chat-clients-auth-test';
const PASSWORD = 'correct-horse-battery';
const METRICS_TOKEN = 'metrics-token-auth-test-0123456789';

const REGISTER = 'mutation($input: RegisterInput!) { register(input: $input) { accessToken refreshToken accessTokenExpiresAt user { id username } } }';
const LOGIN = 'mutation($u: String!, $p: String!) { login(username: $u, password: $p) { accessToken refreshToken user { id username } } }';
const REFRESH = 'mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken accessTokenExpiresAt user { id username } } }';
const LOGOUT = 'mutation($t: String!) { logout(refreshToken: $t) }';
const ME = '{ me { id username } }';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ JWT_SECRET: SECRET, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE, METRICS_TOKEN });
});
afterAll(async () => {
  await server?.close();
});

// ---------------------------------------------------------------------------------------------
// helpers

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const decodePart = (token: string, index: 0 | 1) => JSON.parse(Buffer.from(token.split('.')[index], 'base64url').toString('utf8'));

/** An HS256-style JWT built by hand (so forgeries are under the test's control). */
function forgeJwt(header: Record<string, unknown>, payload: Record<string, unknown>, secret: string | null): string {
  const signingInput = `${b64url(header)}.${b64url(payload)}`;
  const signature = secret === null ? '' : createHmac('sha256', Buffer.from(secret, 'utf8')).update(signingInput).digest('base64url');
  return `${signingInput}.${signature}`;
}

/** Claims the server would accept for `userId`, overridable. */
function claims(userId: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  return { sub: userId, iss: ISSUER, aud: AUDIENCE, iat: now, exp: now + 600, jti: randomBytes(8).toString('hex'), ...overrides };
}

/** POSTs `{ me }` with a raw Authorization header value (or none). */
async function meWithHeader(authorization?: string): Promise<GqlResult> {
  const res = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(authorization !== undefined ? { authorization } : {}) },
    body: JSON.stringify({ query: ME }),
  });
  return { status: res.status, ...((await res.json()) as object) };
}

function expectUnauthenticated(r: GqlResult) {
  expect(r.errors?.length).toBeGreaterThan(0);
  expect(codeOf(r)).toBe('UNAUTHENTICATED');
  expect(r.data?.me ?? null).toBeNull();
}

/**
 * Opens a raw WebSocket speaking graphql-transport-ws, sends connection_init (without a payload
 * when `payload` is undefined) and reports whether the server acknowledged it or closed the socket.
 */
function wsInit(url: string, payload?: Record<string, unknown>): Promise<{ acked: boolean; closeCode?: number }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, 'graphql-transport-ws');
    let acked = false;
    const timer = setTimeout(() => {
      socket.terminate();
      reject(new Error('no connection_ack and no close within 5 s'));
    }, 5000);
    socket.on('open', () => {
      socket.send(JSON.stringify(payload === undefined ? { type: 'connection_init' } : { type: 'connection_init', payload }));
    });
    socket.on('message', (data) => {
      const msg = JSON.parse(String(data));
      if (msg.type === 'connection_ack') {
        acked = true;
        socket.close(1000);
      }
    });
    socket.on('close', (code) => {
      clearTimeout(timer);
      resolve({ acked, closeCode: code });
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** Connects a real graphql-ws client and resolves with the close event's code once the socket closes. */
async function graphqlWsCloseCode(url: string, connectionParams: Record<string, unknown>): Promise<number> {
  let onClosed!: (code: number) => void;
  const closed = new Promise<number>((r) => (onClosed = r));
  const client = wsClient(url, undefined, {
    connectionParams,
    lazy: false,
    retryAttempts: 0,
    on: { closed: (event) => onClosed((event as { code: number }).code) },
    onNonLazyError: () => undefined,
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      closed,
      new Promise<number>((_, reject) => {
        timer = setTimeout(() => reject(new Error('socket did not close within 5 s')), 5000);
      }),
    ]);
  } finally {
    clearTimeout(timer);
    await client.dispose();
  }
}

let seq = 0;
const uniqueName = (prefix: string) => `${prefix}${++seq}_${process.pid}`.slice(0, 32);

// ---------------------------------------------------------------------------------------------
// register

describe('register', () => {
  test('returns an access token, a refresh token, its expiry and the user; the access token works', async () => {
    const username = uniqueName('reg');
    const r = await gql(server.url, REGISTER, { input: { username, password: PASSWORD, firstName: 'Reg', lastName: 'Ister' } });
    expect(r.errors).toBeUndefined();
    const p = r.data.register;
    expect(p.accessToken).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(typeof p.refreshToken).toBe('string');
    expect(p.refreshToken.length).toBeGreaterThanOrEqual(32);
    expect(p.refreshToken).not.toBe(p.accessToken);
    expect(p.user).toEqual({ id: expect.any(String), username });
    const expiresAt = Date.parse(p.accessTokenExpiresAt);
    expect(expiresAt).toBe(decodePart(p.accessToken, 1).exp * 1000);

    const me = await gqlOk(server.url, ME, {}, p.accessToken);
    expect(me.me).toEqual(p.user);
  });

  test('a username taken in another letter case is CONFLICT', async () => {
    const username = uniqueName('Dup');
    await gqlOk(server.url, REGISTER, { input: { username, password: PASSWORD } });
    for (const variant of [username.toUpperCase(), username.toLowerCase(), username]) {
      const r = await gql(server.url, REGISTER, { input: { username: variant, password: PASSWORD } });
      expect(codeOf(r)).toBe('CONFLICT');
      expect(r.data?.register ?? null).toBeNull();
    }
  });

  test('a short password is BAD_USER_INPUT naming the field', async () => {
    const r = await gql(server.url, REGISTER, { input: { username: uniqueName('pw'), password: 'short' } });
    expect(codeOf(r)).toBe('BAD_USER_INPUT');
    expect(r.errors![0].extensions!.field).toBe('password');
  });

  test.each([
    ['with a space', 'bad name'],
    ['with punctuation', 'bad!name'],
    ['too short', 'ab'],
    ['too long', 'a'.repeat(33)],
    ['empty', ''],
  ])('a username %s is BAD_USER_INPUT naming the field', async (_label, username) => {
    const r = await gql(server.url, REGISTER, { input: { username, password: PASSWORD } });
    expect(codeOf(r)).toBe('BAD_USER_INPUT');
    expect(r.errors![0].extensions!.field).toBe('username');
  });
});

// ---------------------------------------------------------------------------------------------
// login

describe('login', () => {
  test('the right password logs in and returns a working token pair', async () => {
    const user = await registerUser(server.url, 'login');
    const { login } = await gqlOk(server.url, LOGIN, { u: user.username, p: PASSWORD });
    expect(login.user).toEqual({ id: user.id, username: user.username });
    expect((await gqlOk(server.url, ME, {}, login.accessToken)).me.id).toBe(user.id);
    expect((await gqlOk(server.url, REFRESH, { t: login.refreshToken })).refreshToken.user.id).toBe(user.id);
  });

  test('a wrong password and an unknown user are both UNAUTHENTICATED with the same message', async () => {
    const user = await registerUser(server.url, 'login');
    const wrong = await gql(server.url, LOGIN, { u: user.username, p: 'not-the-password' });
    const unknown = await gql(server.url, LOGIN, { u: uniqueName('ghost'), p: PASSWORD });
    expect(codeOf(wrong)).toBe('UNAUTHENTICATED');
    expect(codeOf(unknown)).toBe('UNAUTHENTICATED');
    expect(wrong.errors![0].message).toBe(unknown.errors![0].message);
    expect(wrong.data?.login ?? null).toBeNull();
    expect(unknown.data?.login ?? null).toBeNull();
  });

  test('an unknown username costs the same password-hashing work as a wrong password (the dummy hash)', async () => {
    // Counted, not timed (issue 27: a timing ratio on a shared machine caught a missing dummy hash
    // only 8 runs in 11): the instance reports every argon2 verification it completed, by the
    // parameters of the hash verified, in the metric chat_password_verifications.
    const known = await registerUser(server.url, 'timing');
    const work = `argon2id m=${ARGON2_PARAMS.memoryCost} t=${ARGON2_PARAMS.timeCost} p=${ARGON2_PARAMS.parallelism}`;
    const verifications = async (): Promise<Record<string, number>> => {
      const res = await fetch(`${server.url.replace(/\/graphql$/, '')}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
      expect(res.status).toBe(200);
      const counts: Record<string, number> = {};
      for (const m of (await res.text()).matchAll(/^chat_password_verifications\{work="([^"]*)"\} (\S+)$/gm)) counts[m[1]] = Number(m[2]);
      return counts;
    };
    /** Runs `n` refused logins and returns the verifications they caused, by work. */
    const workOf = async (n: number, username: () => string, password = 'not-the-password') => {
      const before = await verifications();
      for (let i = 0; i < n; i++) expect(codeOf(await gql(server.url, LOGIN, { u: username(), p: password }))).toBe('UNAUTHENTICATED');
      const after = await verifications();
      return Object.fromEntries(
        Object.entries(after)
          .map(([k, v]) => [k, v - (before[k] ?? 0)])
          .filter(([, v]) => v !== 0),
      );
    };
    // Exactly one verification of today's cost per refused login, whoever the username names:
    // a wrong password, an unknown username, a name no account can have, a password too long to hash.
    expect(await workOf(3, () => known.username)).toEqual({ [work]: 3 });
    expect(await workOf(3, () => uniqueName('ghost'))).toEqual({ [work]: 3 });
    expect(await workOf(2, () => 'no such name!')).toEqual({ [work]: 2 });
    expect(await workOf(2, () => uniqueName('ghost'), 'x'.repeat(PASSWORD_MAX_LENGTH + 1))).toEqual({ [work]: 2 });
    // And a login refused by its limit before any check does none (the count is of real work).
    const locked = uniqueName('locked');
    for (let i = 0; i < 10; i++) await gql(server.url, LOGIN, { u: locked, p: 'not-the-password' });
    expect(codeOf(await gql(server.url, LOGIN, { u: locked, p: 'not-the-password' }))).toBe('RATE_LIMITED');
    const before = await verifications();
    expect(codeOf(await gql(server.url, LOGIN, { u: locked, p: 'not-the-password' }))).toBe('RATE_LIMITED');
    expect(await verifications()).toEqual(before);
  });
});

// ---------------------------------------------------------------------------------------------
// me and the Authorization header

describe('me', () => {
  test('without a token is UNAUTHENTICATED', async () => {
    expectUnauthenticated(await meWithHeader());
  });

  test('with a garbage bearer token is UNAUTHENTICATED', async () => {
    expectUnauthenticated(await meWithHeader('Bearer garbage'));
    expectUnauthenticated(await meWithHeader('Bearer a.b.c'));
  });

  test('with a non-Bearer Authorization header ("Basic x") is UNAUTHENTICATED', async () => {
    expectUnauthenticated(await meWithHeader('Basic x'));
  });

  test('with a valid token returns the user', async () => {
    const user = await registerUser(server.url, 'me');
    expect((await gqlOk(server.url, ME, {}, user.token)).me).toEqual({ id: user.id, username: user.username });
  });
});

// ---------------------------------------------------------------------------------------------
// access token: claims and forgeries

describe('access token', () => {
  test('is an HS256 JWT with typ at+jwt, iss, aud, sub, iat and exp 15 minutes after iat', async () => {
    const user = await registerUser(server.url, 'claims');
    const header = decodePart(user.token, 0);
    const payload = decodePart(user.token, 1);
    expect(header.alg).toBe('HS256');
    expect(header.typ).toBe('at+jwt');
    expect(payload.iss).toBe(ISSUER);
    expect(payload.aud === AUDIENCE || (Array.isArray(payload.aud) && payload.aud.includes(AUDIENCE))).toBe(true);
    expect(payload.sub).toBe(user.id);
    expect(Number.isInteger(payload.iat)).toBe(true);
    expect(Number.isInteger(payload.exp)).toBe(true);
    expect(payload.exp - payload.iat).toBe(900);
    const nowSec = Date.now() / 1000;
    expect(Math.abs(payload.iat - nowSec)).toBeLessThan(60);
  });

  test('a token forged by hand with the server secret and valid claims is accepted (control for the forgeries below)', async () => {
    const user = await registerUser(server.url, 'forge');
    const token = forgeJwt({ alg: 'HS256', typ: 'at+jwt' }, claims(user.id), SECRET);
    expect((await gqlOk(server.url, ME, {}, token)).me.id).toBe(user.id);
  });

  describe('is rejected with UNAUTHENTICATED when', () => {
    let userId: string;
    beforeAll(async () => {
      userId = (await registerUser(server.url, 'forged')).id;
    });

    test('signed with another secret', async () => {
      expectUnauthenticated(await meWithHeader(`Bearer ${forgeJwt({ alg: 'HS256', typ: 'at+jwt' }, claims(userId), randomBytes(32).toString('hex'))}`));
    });

    test('alg is none (unsigned)', async () => {
      expectUnauthenticated(await meWithHeader(`Bearer ${forgeJwt({ alg: 'none', typ: 'at+jwt' }, claims(userId), null)}`));
    });

    test('typ is "JWT" instead of "at+jwt" (even with the right secret)', async () => {
      expectUnauthenticated(await meWithHeader(`Bearer ${forgeJwt({ alg: 'HS256', typ: 'JWT' }, claims(userId), SECRET)}`));
    });

    test('typ is missing', async () => {
      expectUnauthenticated(await meWithHeader(`Bearer ${forgeJwt({ alg: 'HS256' }, claims(userId), SECRET)}`));
    });

    test('the issuer is wrong', async () => {
      expectUnauthenticated(await meWithHeader(`Bearer ${forgeJwt({ alg: 'HS256', typ: 'at+jwt' }, claims(userId, { iss: 'someone-else' }), SECRET)}`));
    });

    test('the audience is wrong', async () => {
      expectUnauthenticated(await meWithHeader(`Bearer ${forgeJwt({ alg: 'HS256', typ: 'at+jwt' }, claims(userId, { aud: 'other-clients' }), SECRET)}`));
    });

    test('exp is missing', async () => {
      expectUnauthenticated(await meWithHeader(`Bearer ${forgeJwt({ alg: 'HS256', typ: 'at+jwt' }, claims(userId, { exp: undefined }), SECRET)}`));
    });

    test('exp is in the past', async () => {
      const now = Math.floor(Date.now() / 1000);
      expectUnauthenticated(
        await meWithHeader(`Bearer ${forgeJwt({ alg: 'HS256', typ: 'at+jwt' }, claims(userId, { iat: now - 3600, exp: now - 60 }), SECRET)}`),
      );
    });

    test('sub names no user', async () => {
      expectUnauthenticated(await meWithHeader(`Bearer ${forgeJwt({ alg: 'HS256', typ: 'at+jwt' }, claims('987654321'), SECRET)}`));
    });

    test('it is a refresh token', async () => {
      const user = await registerUser(server.url, 'rt-as-at');
      expectUnauthenticated(await meWithHeader(`Bearer ${user.refreshToken}`));
    });
  });

  test('expires after ACCESS_TOKEN_TTL (HTTP and graphql-ws)', async () => {
    const shortLived = await startTestServer({ ACCESS_TOKEN_TTL: '1' });
    try {
      const user = await registerUser(shortLived.url, 'ttl');
      const payload = decodePart(user.token, 1);
      expect(payload.exp - payload.iat).toBe(1);
      await new Promise((r) => setTimeout(r, 2200));
      const r = await gql(shortLived.url, ME, {}, user.token);
      expect(codeOf(r)).toBe('UNAUTHENTICATED');
      expect(r.data?.me ?? null).toBeNull();
      expect(await wsInit(shortLived.wsUrl, { authorization: `Bearer ${user.token}` })).toEqual({ acked: false, closeCode: 4403 });
      // The refresh token still works and yields a fresh access token (its use is not timed here:
      // a 1 s token may expire before the next request reaches the server on a loaded machine).
      const { refreshToken } = await gqlOk(shortLived.url, REFRESH, { t: user.refreshToken });
      const fresh = decodePart(refreshToken.accessToken, 1);
      expect(fresh.sub).toBe(user.id);
      expect(fresh.exp - fresh.iat).toBe(1);
      expect(fresh.iat).toBeGreaterThan(payload.iat);
    } finally {
      await shortLived.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// refresh tokens

describe('refreshToken', () => {
  test('rotates: the new pair works and the old refresh token no longer does', async () => {
    const user = await registerUser(server.url, 'rot');
    const first = (await gqlOk(server.url, REFRESH, { t: user.refreshToken })).refreshToken;
    expect(first.refreshToken).not.toBe(user.refreshToken);
    expect(first.user).toEqual({ id: user.id, username: user.username });
    expect((await gqlOk(server.url, ME, {}, first.accessToken)).me.id).toBe(user.id);

    const second = (await gqlOk(server.url, REFRESH, { t: first.refreshToken })).refreshToken;
    expect(second.refreshToken).not.toBe(first.refreshToken);
    expect((await gqlOk(server.url, ME, {}, second.accessToken)).me.id).toBe(user.id);

    // The old one issues nothing new: within REFRESH_REUSE_GRACE_S it answers the pair it was spent for.
    const old = (await gqlOk(server.url, REFRESH, { t: user.refreshToken })).refreshToken;
    expect(old.refreshToken).toBe(first.refreshToken);
  });

  test('with REFRESH_REUSE_GRACE_S=0, presenting a spent refresh token again is UNAUTHENTICATED and revokes its whole family', async () => {
    const strict = await startTestServer({ JWT_SECRET: SECRET, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE, REFRESH_REUSE_GRACE_S: '0' });
    try {
      const user = await registerUser(strict.url, 'reuse');
      const rotated = (await gqlOk(strict.url, REFRESH, { t: user.refreshToken })).refreshToken;
      const newest = (await gqlOk(strict.url, REFRESH, { t: rotated.refreshToken })).refreshToken;

      // Another session of the same user (its own family) must survive the revocation.
      const otherSession = (await gqlOk(strict.url, LOGIN, { u: user.username, p: PASSWORD })).login;

      const replay = await gql(strict.url, REFRESH, { t: rotated.refreshToken });
      expect(codeOf(replay)).toBe('UNAUTHENTICATED');
      expect(replay.data?.refreshToken ?? null).toBeNull();

      const afterRevocation = await gql(strict.url, REFRESH, { t: newest.refreshToken });
      expect(codeOf(afterRevocation)).toBe('UNAUTHENTICATED');

      const other = await gql(strict.url, REFRESH, { t: otherSession.refreshToken });
      expect(other.errors).toBeUndefined();
      expect(other.data.refreshToken.user.id).toBe(user.id);
    } finally {
      await strict.close();
    }
  });

  test('an unknown refresh token is UNAUTHENTICATED', async () => {
    expect(codeOf(await gql(server.url, REFRESH, { t: randomBytes(32).toString('base64url') }))).toBe('UNAUTHENTICATED');
    expect(codeOf(await gql(server.url, REFRESH, { t: '' }))).toBe('UNAUTHENTICATED');
  });

  test('a burst of concurrent refreshes of the same token (two tabs) all get the same successor pair, and the login lives on (REFRESH_REUSE_GRACE_S)', async () => {
    // Issue 28 item 2: before, one won, the other was "reuse detected" and the winner's new token was revoked too.
    const user = await registerUser(server.url, 'race');
    const results = await Promise.all(Array.from({ length: 4 }, () => gql(server.url, REFRESH, { t: user.refreshToken })));
    for (const r of results) expect(r.errors).toBeUndefined();
    const pairs = results.map((r) => r.data.refreshToken);
    expect(new Set(pairs.map((p) => p.refreshToken)).size).toBe(1);
    expect(new Set(pairs.map((p) => p.accessToken)).size).toBe(1);
    expect(pairs[0].refreshToken).not.toBe(user.refreshToken);
    expect(pairs.every((p) => p.user.id === user.id && p.accessTokenExpiresAt === pairs[0].accessTokenExpiresAt)).toBe(true);
    // The successor works: the family was not revoked, and it rotates on.
    expect((await gqlOk(server.url, ME, {}, pairs[0].accessToken)).me.id).toBe(user.id);
    const next = (await gqlOk(server.url, REFRESH, { t: pairs[0].refreshToken })).refreshToken;
    expect(next.refreshToken).not.toBe(pairs[0].refreshToken);
    // A repeat of the first token inside the grace period still answers that same successor pair.
    const repeat = (await gqlOk(server.url, REFRESH, { t: user.refreshToken })).refreshToken;
    expect(repeat.refreshToken).toBe(pairs[0].refreshToken);
  });

  test('a revoked login answers no successor even inside the grace period', async () => {
    const user = await registerUser(server.url, 'race-out');
    const first = (await gqlOk(server.url, REFRESH, { t: user.refreshToken })).refreshToken;
    await gqlOk(server.url, LOGOUT, { t: first.refreshToken });
    expect(codeOf(await gql(server.url, REFRESH, { t: user.refreshToken }))).toBe('UNAUTHENTICATED');
  });

  test('reuse after REFRESH_REUSE_GRACE_S revokes the family, including the successor', async () => {
    const short = await startTestServer({ JWT_SECRET: SECRET, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE, REFRESH_REUSE_GRACE_S: '1' });
    try {
      const user = await registerUser(short.url, 'late');
      const successor = (await gqlOk(short.url, REFRESH, { t: user.refreshToken })).refreshToken;
      await new Promise((r) => setTimeout(r, 1300));
      const late = await gql(short.url, REFRESH, { t: user.refreshToken });
      expect(codeOf(late)).toBe('UNAUTHENTICATED');
      expect(late.errors?.[0]?.message).toMatch(/reuse/i);
      expect(codeOf(await gql(short.url, REFRESH, { t: successor.refreshToken }))).toBe('UNAUTHENTICATED');
    } finally {
      await short.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// logout

describe('logout', () => {
  test('revokes the refresh token (and its family) and is idempotent', async () => {
    const user = await registerUser(server.url, 'logout');
    const rotated = (await gqlOk(server.url, REFRESH, { t: user.refreshToken })).refreshToken;

    expect((await gqlOk(server.url, LOGOUT, { t: rotated.refreshToken })).logout).toBe(true);
    expect(codeOf(await gql(server.url, REFRESH, { t: rotated.refreshToken }))).toBe('UNAUTHENTICATED');

    // Again, with the same token: still true, still revoked.
    expect((await gqlOk(server.url, LOGOUT, { t: rotated.refreshToken })).logout).toBe(true);
    expect(codeOf(await gql(server.url, REFRESH, { t: rotated.refreshToken }))).toBe('UNAUTHENTICATED');
  });

  test('with an unknown token returns true', async () => {
    expect((await gqlOk(server.url, LOGOUT, { t: randomBytes(32).toString('base64url') })).logout).toBe(true);
  });

  test('access tokens already issued stay valid over HTTP until they expire; a new socket with one is refused (4403)', async () => {
    const user = await registerUser(server.url, 'logout3');
    const other = (await gqlOk(server.url, LOGIN, { u: user.username, p: PASSWORD })).login;
    expect(await wsInit(server.wsUrl, { authorization: `Bearer ${user.token}` })).toEqual({ acked: true, closeCode: 1000 }); // before: accepted
    expect((await gqlOk(server.url, LOGOUT, { t: user.refreshToken })).logout).toBe(true);
    // HTTP: GraphQL and REST still accept the logged-out login's access token.
    expect((await gqlOk(server.url, ME, {}, user.token)).me).toEqual({ id: user.id, username: user.username });
    const rest = await fetch(restUrl(server.url, '/chat/unread/count/'), { headers: { authorization: `Bearer ${user.token}` } });
    expect({ status: rest.status, body: await rest.json() }).toEqual({ status: 200, body: { total_unread: 0, by_sender: [] } });
    // WebSocket: a new socket with it is refused, with either key; the other login still connects.
    expect(await wsInit(server.wsUrl, { authorization: `Bearer ${user.token}` })).toEqual({ acked: false, closeCode: 4403 });
    expect(await wsInit(server.wsUrl, { token: user.token })).toEqual({ acked: false, closeCode: 4403 });
    expect(await wsInit(server.wsUrl, { authorization: `Bearer ${other.accessToken}` })).toEqual({ acked: true, closeCode: 1000 });
    // and its refresh token is spent for good
    expect(codeOf(await gql(server.url, REFRESH, { t: user.refreshToken }))).toBe('UNAUTHENTICATED');
  });

  test('does not end other sessions of the same user', async () => {
    const user = await registerUser(server.url, 'logout2');
    const other = (await gqlOk(server.url, LOGIN, { u: user.username, p: PASSWORD })).login;
    await gqlOk(server.url, LOGOUT, { t: user.refreshToken });
    expect((await gqlOk(server.url, REFRESH, { t: other.refreshToken })).refreshToken.user.id).toBe(user.id);
  });
});

// ---------------------------------------------------------------------------------------------
// graphql-ws connection_init

describe('graphql-ws connection_init', () => {
  test('with a bad token: the socket closes with 4403 (graphql-ws client)', async () => {
    expect(await graphqlWsCloseCode(server.wsUrl, { authorization: 'Bearer garbage' })).toBe(4403);
  });

  test('with a token signed with another secret: the socket closes with 4403', async () => {
    const user = await registerUser(server.url, 'ws-forged');
    const token = forgeJwt({ alg: 'HS256', typ: 'at+jwt' }, claims(user.id), randomBytes(32).toString('hex'));
    expect(await wsInit(server.wsUrl, { authorization: `Bearer ${token}` })).toEqual({ acked: false, closeCode: 4403 });
  });

  test('with no token: the socket closes with 4403', async () => {
    expect(await wsInit(server.wsUrl)).toEqual({ acked: false, closeCode: 4403 });
    expect(await wsInit(server.wsUrl, {})).toEqual({ acked: false, closeCode: 4403 });
    expect(await graphqlWsCloseCode(server.wsUrl, {})).toBe(4403);
  });

  test('with a refresh token: the socket closes with 4403', async () => {
    const user = await registerUser(server.url, 'ws-rt');
    expect(await wsInit(server.wsUrl, { authorization: `Bearer ${user.refreshToken}` })).toEqual({ acked: false, closeCode: 4403 });
    expect(await wsInit(server.wsUrl, { token: user.refreshToken })).toEqual({ acked: false, closeCode: 4403 });
  });

  test('with "Bearer <access token>" in authorization: acknowledged', async () => {
    const user = await registerUser(server.url, 'ws-ok');
    expect(await wsInit(server.wsUrl, { authorization: `Bearer ${user.token}` })).toEqual({ acked: true, closeCode: 1000 });
  });

  test('with a bare `token` key: acknowledged', async () => {
    const user = await registerUser(server.url, 'ws-bare');
    expect(await wsInit(server.wsUrl, { token: user.token })).toEqual({ acked: true, closeCode: 1000 });
  });
});
