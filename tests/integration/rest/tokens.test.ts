/**
 * REST tokens and the layer's common behaviour (rest-compat.md "Tokens" and "Common"): register,
 * log in, rotating refresh, logout (205), 401/400/404/405/415 error bodies, malformed JSON,
 * trailing slashes, and the OpenAPI document listing every registered route.
 */
import { restRoutes } from '../../../src/rest';
import { openApiPath } from '../../../src/rest/common/openapi.builder';
import { startTestServer, type TestServer } from '../../support/test-server';
import { call, expectError, expectKeys, restUser } from './rest-support';

let server: TestServer;
beforeAll(async () => { server = await startTestServer(); });
afterAll(async () => { await server.close(); });

describe('tokens', () => {
  it('registers (201 user), logs in (200 {access, refresh}), refreshes with rotation, logs out (205)', async () => {
    const reg = await call(server, 'POST', '/accounts/register/', { json: { username: 'tok_erin', password: 'erinpass123', first_name: 'Erin', last_name: 'E', email: 'erin@example.com' } });
    expect(reg.status).toBe(201);
    expectKeys(reg.body, ['id', 'username', 'email', 'first_name', 'last_name']);
    expect(reg.body).toMatchObject({ username: 'tok_erin', first_name: 'Erin', last_name: 'E', email: 'erin@example.com' });
    expect(typeof reg.body.id).toBe('number');

    const login = await call(server, 'POST', '/token/', { json: { username: 'tok_erin', password: 'erinpass123' } });
    expect(login.status).toBe(200);
    expectKeys(login.body, ['access', 'refresh']);

    // The access token works on every dialect.
    expect((await call(server, 'GET', '/chat/unread/count/', { token: login.body.access })).status).toBe(200);

    const refreshed = await call(server, 'POST', '/token/refresh/', { json: { refresh: login.body.refresh } });
    expect(refreshed.status).toBe(200);
    expectKeys(refreshed.body, ['access', 'refresh']);
    expect(refreshed.body.refresh).not.toBe(login.body.refresh);
    // The old refresh token is dead (and reusing it revokes the family).
    expectError(await call(server, 'POST', '/token/refresh/', { json: { refresh: login.body.refresh } }), 401);

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
    expect(expectError(await call(server, 'POST', '/accounts/register/', { json: { username: 'tok_short', password: 'short' } }), 400).error).toMatch(/password/);
    expect(expectError(await call(server, 'POST', '/accounts/register/', { json: { username: 42, password: 'longenough1' } }), 400).error).toMatch(/^username/);
    // A taken username: 400 (CONFLICT answers 400 in every dialect, as DRF validation does).
    expect(expectError(await call(server, 'POST', '/accounts/register/', { json: { username: u.username, password: 'longenough1' } }), 400).detail).toMatch(/taken|exists/i);
    expectError(await call(server, 'POST', '/token/refresh/', { json: { refresh: 'not-a-token' } }), 401);
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
      expect({ route: `${r.method} ${r.path}`, documented: Boolean(res.body.paths[openApiPath(r.path)]?.[r.method]) }).toEqual({ route: `${r.method} ${r.path}`, documented: true });
    }
    const send = res.body.paths['/api/chats/{id}/send-message/'].post;
    expect(send.parameters).toEqual([expect.objectContaining({ name: 'id', in: 'path', required: true })]);
    // JSON without files; multipart with `medias`, a list of binary parts.
    expect(Object.keys(send.requestBody.content['application/json'].schema.properties)).toEqual(['content', 'replied_to']);
    expect(send.requestBody.content['multipart/form-data'].schema.properties.medias).toEqual({ type: 'array', items: { type: 'string', contentMediaType: 'application/octet-stream' } });
    expect(send.responses['201'].content['application/json'].schema.properties).toHaveProperty('replied_to_preview');
    expect(res.body.paths['/api/chats/'].get.parameters.map((p: { name: string }) => p.name)).toEqual(['page', 'page_size']);
  });
});
