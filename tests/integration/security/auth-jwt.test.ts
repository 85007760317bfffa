import { createHmac, createSign, generateKeyPairSync, randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { codeOf, gql, registerUser, type GqlResult, type TestUser } from '../../support/client';
import { headerOf, kidOf } from '../../support/jwt';
import { startTestServer, type TestServer } from '../../support/test-server';

/**
 * JWT checks of RFC 8725 through the real server, on all three transports: every forged or
 * misused token is UNAUTHENTICATED over GraphQL HTTP, closes a graphql-ws socket with 4403 at
 * connection_init, and answers 401 on REST. A well-formed token forged with the server's key is
 * accepted everywhere first (the control), so each refusal comes from the one defect it has.
 */

const SECRET = randomBytes(32).toString('hex');
const ISSUER = 'chat-server-jwt-test';
const AUDIENCE = 'chat-clients-jwt-test';
/** The server's kid for SECRET (AuthService's derivation; the control test checks it matches what the server sends). */
const KID = kidOf(SECRET);

let server: TestServer;
let user: TestUser;
beforeAll(async () => {
  server = await startTestServer({ JWT_SECRET: SECRET, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE });
  user = await registerUser(server.url, 'jwt');
});
afterAll(async () => {
  await server?.close();
});

// ---------------------------------------------------------------------------------------------
// forging

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Signs `header.payload` by hand: HMAC-SHA256/512 with `secret`, RSA-SHA256 with a private key, or nothing. */
function forge(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  signer: { hmac: string | Buffer; hash?: 'sha256' | 'sha512' } | { rsa: string } | null,
): string {
  const input = `${b64url(header)}.${b64url(payload)}`;
  if (signer === null) return `${input}.`;
  if ('hmac' in signer)
    return `${input}.${createHmac(signer.hash ?? 'sha256', signer.hmac)
      .update(input)
      .digest('base64url')}`;
  return `${input}.${createSign('RSA-SHA256').update(input).sign(signer.rsa).toString('base64url')}`;
}

/** Claims the server accepts for the test user, overridable (undefined removes a claim). */
function claims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  return { sub: user.id, iss: ISSUER, aud: AUDIENCE, iat: now, exp: now + 600, jti: randomBytes(8).toString('hex'), ...overrides };
}

const GOOD_HEADER = { alg: 'HS256', typ: 'at+jwt', kid: KID };
const good = (overrides: Record<string, unknown> = {}) => forge(GOOD_HEADER, claims(overrides), { hmac: SECRET });

// An attacker's RSA key pair: for a token signed RS256, for one "signed" HS256 with the public
// key as the HMAC secret (the classic RS/HS confusion), and for one carrying its own `jwk`.
const attacker = generateKeyPairSync('rsa', { modulusLength: 2048 });
const attackerPrivatePem = attacker.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const attackerPublicPem = attacker.publicKey.export({ type: 'spki', format: 'pem' }).toString();
const attackerPublicJwk = attacker.publicKey.export({ format: 'jwk' });

/** Every bad token, by what is wrong with it. */
const BAD_TOKENS: [string, () => string][] = [
  ['alg "none" (unsigned)', () => forge({ alg: 'none', typ: 'at+jwt', kid: KID }, claims(), null)],
  [
    'alg "none" with the HS256 signature attached',
    () => {
      const signed = good().split('.');
      return `${b64url({ alg: 'none', typ: 'at+jwt', kid: KID })}.${signed[1]}.${signed[2]}`;
    },
  ],
  ['alg "NONE" (case games)', () => forge({ alg: 'NONE', typ: 'at+jwt' }, claims(), null)],
  ['signed RS256 with a generated key pair', () => forge({ alg: 'RS256', typ: 'at+jwt', kid: KID }, claims(), { rsa: attackerPrivatePem })],
  [
    'RS256 carrying its own public key in a `jwk` header',
    () => forge({ alg: 'RS256', typ: 'at+jwt', jwk: attackerPublicJwk }, claims(), { rsa: attackerPrivatePem }),
  ],
  ['HS256 "signed" with an RSA public key (PEM) as the secret', () => forge(GOOD_HEADER, claims(), { hmac: attackerPublicPem })],
  ['HS512 with the right secret (algorithm not the pinned one)', () => forge({ ...GOOD_HEADER, alg: 'HS512' }, claims(), { hmac: SECRET, hash: 'sha512' })],
  ['signed with another secret', () => forge(GOOD_HEADER, claims(), { hmac: randomBytes(32).toString('hex') })],
  ['a kid the server does not know (right secret)', () => forge({ ...GOOD_HEADER, kid: 'not-a-kid' }, claims(), { hmac: SECRET })],
  ['a wrong iss', () => good({ iss: 'someone-else' })],
  ['no iss', () => good({ iss: undefined })],
  ['a wrong aud', () => good({ aud: 'other-clients' })],
  ['an aud list without ours', () => good({ aud: ['a', 'b'] })],
  [
    'expired (exp in the past)',
    () => {
      const now = Math.floor(Date.now() / 1000);
      return good({ iat: now - 3600, exp: now - 60 });
    },
  ],
  ['no exp', () => good({ exp: undefined })],
  ['nbf in the future', () => good({ nbf: Math.floor(Date.now() / 1000) + 3600 })],
  ['typ "JWT" instead of "at+jwt"', () => forge({ ...GOOD_HEADER, typ: 'JWT' }, claims(), { hmac: SECRET })],
  ['no typ', () => forge({ alg: 'HS256', kid: KID }, claims(), { hmac: SECRET })],
  ['sub not a user id ("1.0")', () => good({ sub: `${user.id}.0` })],
  ['a refresh token presented as an access token', () => user.refreshToken],
  ['not a JWT at all', () => 'garbage'],
];

// ---------------------------------------------------------------------------------------------
// the three transports

/** GraphQL over HTTP: `{ me }` with the token. */
function graphqlMe(token: string): Promise<GqlResult> {
  return gql(server.url, '{ me { id } }', {}, token);
}

/** REST: GET /api/chats/ (seed 001's list, any authenticated user) with the token; the status. */
async function restStatus(token: string): Promise<number> {
  const res = await fetch(`${server.url.replace(/\/graphql$/, '')}/api/chats/`, { headers: { authorization: `Bearer ${token}` } });
  await res.arrayBuffer();
  return res.status;
}

/** graphql-ws: connection_init with the token; whether the server acknowledged, and the close code. */
function wsInit(token: string): Promise<{ acked: boolean; closeCode?: number }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(server.wsUrl, 'graphql-transport-ws');
    let acked = false;
    const timer = setTimeout(() => {
      socket.terminate();
      reject(new Error('no connection_ack and no close within 5 s'));
    }, 5000);
    socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } })));
    socket.on('message', (data) => {
      if (JSON.parse(String(data)).type === 'connection_ack') {
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

// ---------------------------------------------------------------------------------------------

describe('control: a well-formed token forged with the server key', () => {
  test('the server signs its tokens HS256 with typ at+jwt and the derived kid', () => {
    expect(headerOf(user.token)).toEqual({ alg: 'HS256', typ: 'at+jwt', kid: KID });
  });

  test('is accepted over GraphQL HTTP, graphql-ws and REST', async () => {
    const token = good();
    const r = await graphqlMe(token);
    expect(r.errors).toBeUndefined();
    expect(r.data.me.id).toBe(user.id);
    expect(await wsInit(token)).toEqual({ acked: true, closeCode: 1000 });
    expect(await restStatus(token)).toBe(200);
  });

  test('an nbf in the past is accepted (nbf is checked, not refused outright)', async () => {
    const token = good({ nbf: Math.floor(Date.now() / 1000) - 60 });
    expect((await graphqlMe(token)).data?.me?.id).toBe(user.id);
  });

  test('a token without kid (issued before kids existed) signed with the current key still works', async () => {
    const token = forge({ alg: 'HS256', typ: 'at+jwt' }, claims(), { hmac: SECRET });
    expect((await graphqlMe(token)).data?.me?.id).toBe(user.id);
    expect(await restStatus(token)).toBe(200);
  });
});

describe.each(BAD_TOKENS)('refused token: %s', (_label, make) => {
  test('is UNAUTHENTICATED over GraphQL HTTP', async () => {
    const r = await graphqlMe(make());
    expect(codeOf(r)).toBe('UNAUTHENTICATED');
    expect(r.data?.me ?? null).toBeNull();
  });

  test('closes the graphql-ws socket with 4403 at connection_init', async () => {
    expect(await wsInit(make())).toEqual({ acked: false, closeCode: 4403 });
  });

  test('answers 401 on REST', async () => {
    expect(await restStatus(make())).toBe(401);
  });
});

describe('an access token presented as a refresh token', () => {
  test('refreshToken (GraphQL) is UNAUTHENTICATED', async () => {
    const r = await gql(server.url, 'mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken } }', { t: user.token });
    expect(codeOf(r)).toBe('UNAUTHENTICATED');
    expect(r.data?.refreshToken ?? null).toBeNull();
  });

  test('POST /api/token/refresh/ answers 401', async () => {
    const res = await fetch(`${server.url.replace(/\/graphql$/, '')}/api/token/refresh/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refresh: user.token }),
    });
    await res.arrayBuffer();
    expect(res.status).toBe(401);
  });

  test("and the user's real refresh token was not spent by those attempts", async () => {
    const r = await gql(server.url, 'mutation($t: String!) { refreshToken(refreshToken: $t) { user { id } } }', { t: user.refreshToken });
    expect(r.errors).toBeUndefined();
    expect(r.data.refreshToken.user.id).toBe(user.id);
  });
});
