/**
 * REST tokens and the layer's common behaviour (rest-compat.md "Tokens" and "Common"): register,
 * log in, refresh (SimpleJWT's non-rotating default for POST /api/token/ logins), logout (205), 401/400/404/405/415 error bodies, malformed JSON,
 * trailing slashes, and the OpenAPI document listing every registered route.
 */
import { restRoutes } from '../../../src/rest';
import { openApiPath } from '../../../src/rest/common/openapi.builder';
import { startTestServer, type TestServer } from '../../support/test-server';
import { call, expectError, expectKeys, restUser } from './rest-support';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.close();
});

describe('tokens', () => {
  it('registers (201 user), logs in (200 {access, refresh}), refreshes with rotation, logs out (205)', async () => {
    const reg = await call(server, 'POST', '/accounts/register/', {
      json: { username: 'tok_erin', password: 'erinpass123', first_name: 'Erin', last_name: 'E', email: 'erin@example.com' },
    });
    expect(reg.status).toBe(201);
    expectKeys(reg.body, ['id', 'username', 'email', 'first_name', 'last_name']);
    expect(reg.body).toMatchObject({ username: 'tok_erin', first_name: 'Erin', last_name: 'E', email: 'erin@example.com' });
    expect(typeof reg.body.id).toBe('number');

    const login = await call(server, 'POST', '/token/', { json: { username: 'tok_erin', password: 'erinpass123' } });
    expect(login.status).toBe(200);
    expectKeys(login.body, ['access', 'refresh']);

    // The access token works on every dialect.
    expect((await call(server, 'GET', '/chat/unread/count/', { token: login.body.access })).status).toBe(200);

    // SimpleJWT's default (issue 28 item 1): the refresh token from POST /api/token/ is not rotated.
    const refreshed = await call(server, 'POST', '/token/refresh/', { json: { refresh: login.body.refresh } });
    expect(refreshed.status).toBe(200);
    expectKeys(refreshed.body, ['access', 'refresh']);
    expect(refreshed.body.refresh).toBe(login.body.refresh);

    const again = await call(server, 'POST', '/token/', { json: { username: 'tok_erin', password: 'erinpass123' } });
    const out = await call(server, 'POST', '/accounts/logout/', { json: { refresh: again.body.refresh } });
    expect(out.status).toBe(205);
    expect(out.text).toBe('');
    expectError(await call(server, 'POST', '/token/refresh/', { json: { refresh: again.body.refresh } }), 401);
  });

  it('refuses bad credentials with 401 and bad input with 400 naming the field', async () => {
    const u = await restUser(server, 'tok');
    expectError(await call(server, 'POST', '/token/', { json: { username: u.username, password: 'wrong-password' } }), 401);
    expectError(await call(server, 'POST', '/token/', { json: { username: 'nobody_here', password: 'whatever123' } }), 401);
    expect(expectError(await call(server, 'POST', '/token/', { json: { username: u.username } }), 400).error).toMatch(/^password/);
    expect(expectError(await call(server, 'POST', '/accounts/register/', { json: { username: 'tok_short', password: 'short' } }), 400).error).toMatch(
      /password/,
    );
    expect(expectError(await call(server, 'POST', '/accounts/register/', { json: { username: 42, password: 'longenough1' } }), 400).error).toMatch(/^username/);
    // A taken username: 400 (CONFLICT answers 400 in every dialect, as DRF validation does).
    expect(expectError(await call(server, 'POST', '/accounts/register/', { json: { username: u.username, password: 'longenough1' } }), 400).detail).toMatch(
      /taken|exists/i,
    );
    expectError(await call(server, 'POST', '/token/refresh/', { json: { refresh: 'not-a-token' } }), 401);
  });
});

describe('seed 000 refresh (SimpleJWT default, issue 28 item 1)', () => {
  const LOGIN = 'mutation($u: String!, $p: String!) { login(username: $u, password: $p) { accessToken refreshToken } }';
  const REFRESH = 'mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken } }';

  it('a client keeping the refresh token of POST /api/token/ refreshes again and again (also in a burst), until logout', async () => {
    const reg = await call(server, 'POST', '/accounts/register/', { json: { username: 'ten_nguoi_dung', password: 'mật_khẩu' } });
    expect(reg.status).toBe(201);
    // The seed's own request body (its username "tên_người_dùng" in the ASCII the username rule allows).
    const login = await call(server, 'POST', '/token/', { json: { username: 'ten_nguoi_dung', password: 'mật_khẩu' } });
    expect(login.status).toBe(200);
    const kept = login.body.refresh as string;
    const accesses = new Set<string>([login.body.access]);
    for (let i = 0; i < 3; i++) {
      const r = await call(server, 'POST', '/token/refresh/', { json: { refresh: kept } });
      expect(r.status).toBe(200);
      expect(r.body.refresh).toBe(kept);
      accesses.add(r.body.access);
      expect((await call(server, 'GET', '/chat/unread/count/', { token: r.body.access })).status).toBe(200);
    }
    expect(accesses.size).toBe(4);
    const burst = await Promise.all(Array.from({ length: 4 }, () => call(server, 'POST', '/token/refresh/', { json: { refresh: kept } })));
    expect(burst.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    // The GraphQL refresh honours the login's kind too.
    const viaGraphql = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: REFRESH, variables: { t: kept } }),
    }).then((r) => r.json() as Promise<any>);
    expect(viaGraphql.data.refreshToken.refreshToken).toBe(kept);
    // Logging out ends it.
    expect((await call(server, 'POST', '/accounts/logout/', { json: { refresh: kept } })).status).toBe(205);
    expectError(await call(server, 'POST', '/token/refresh/', { json: { refresh: kept } }), 401);
  });

  it('a GraphQL login keeps rotation with reuse detection, also on POST /api/token/refresh/', async () => {
    await call(server, 'POST', '/accounts/register/', { json: { username: 'tok_gql_rot', password: 'mật_khẩu_dài' } });
    const post = (query: string, variables: Record<string, unknown>) =>
      fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) }).then(
        (r) => r.json() as Promise<any>,
      );
    const login = (await post(LOGIN, { u: 'tok_gql_rot', p: 'mật_khẩu_dài' })).data.login;
    const r = await call(server, 'POST', '/token/refresh/', { json: { refresh: login.refreshToken } });
    expect(r.status).toBe(200);
    expect(r.body.refresh).not.toBe(login.refreshToken);
  });
});

describe('common behaviour', () => {
  it('answers 401 {error, detail} without a token or with a bad one', async () => {
    const none = await call(server, 'GET', '/chats/');
    expectError(none, 401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    expectError(await call(server, 'GET', '/chats/', { token: 'garbage' }), 401);
    expectError(await call(server, 'GET', '/chats/', { headers: { authorization: 'Basic abc' } }), 401);
  });

  it('serves every path with and without the trailing slash', async () => {
    const u = await restUser(server, 'slash');
    expect((await call(server, 'GET', '/chat/unread/count', { token: u.token })).status).toBe(200);
    expect((await call(server, 'GET', '/chat/unread/count/', { token: u.token })).status).toBe(200);
  });

  it('malformed JSON is a 400, another media type a 415, an unknown path a 404, a wrong method a 405', async () => {
    const u = await restUser(server, 'bad');
    const malformed = await call(server, 'POST', '/token/', { raw: '{"username": ', headers: { 'content-type': 'application/json' } });
    expect(expectError(malformed, 400).error).toMatch(/Malformed JSON/);
    expectError(await call(server, 'POST', '/token/', { raw: 'username=x', headers: { 'content-type': 'text/plain' } }), 415);
    expectError(await call(server, 'GET', '/no/such/thing/', { token: u.token }), 404);
    const wrong = await call(server, 'DELETE', '/chats/', { token: u.token });
    expectError(wrong, 405);
    expect(wrong.headers.get('allow')).toContain('GET');
    // Query parameters are validated: 400 naming the parameter.
    expect(expectError(await call(server, 'GET', '/chats/?page=abc', { token: u.token }), 400).error).toMatch(/^page/);
    expect(expectError(await call(server, 'GET', '/chats/?page_size=1000', { token: u.token }), 400).error).toMatch(/^page_size/);
    expect(expectError(await call(server, 'GET', '/chat/conversations/1/messages/?limit=-1', { token: u.token }), 400).error).toMatch(/^limit/);
    expect(expectError(await call(server, 'GET', '/chat/conversations/1/messages/?offset=x', { token: u.token }), 400).error).toMatch(/^offset/);
    expect(expectError(await call(server, 'GET', '/chats/abc/', { token: u.token }), 400).error).toMatch(/^id/);
  });

  it('publishes an OpenAPI 3.1 document with every registered route', async () => {
    const res = await call(server, 'GET', '/openapi.json');
    expect(res.status).toBe(200);
    expect(res.body.openapi).toBe('3.1.0');
    const routes = restRoutes();
    for (const r of routes) {
      expect({ route: `${r.method} ${r.path}`, documented: Boolean(res.body.paths[openApiPath(r.path)]?.[r.method]) }).toEqual({
        route: `${r.method} ${r.path}`,
        documented: true,
      });
    }
    const send = res.body.paths['/api/chats/{id}/send-message/'].post;
    expect(send.parameters).toEqual([expect.objectContaining({ name: 'id', in: 'path', required: true })]);
    // JSON without files; multipart with `medias`, a list of binary parts.
    expect(Object.keys(send.requestBody.content['application/json'].schema.properties)).toEqual(['content', 'replied_to']);
    expect(send.requestBody.content['multipart/form-data'].schema.properties.medias).toEqual({
      type: 'array',
      items: { type: 'string', contentMediaType: 'application/octet-stream' },
    });
    expect(send.responses['201'].content['application/json'].schema.properties).toHaveProperty('replied_to_preview');
    expect(res.body.paths['/api/chats/'].get.parameters.map((p: { name: string }) => p.name)).toEqual(['page', 'page_size']);
  });
});
