/**
 * What every dialect shares (rest-compat.md "Common"): every registered route answers with and
 * without its trailing slash; page/page_size and limit/offset (and seed 000's limit/before) are
 * validated on every route that takes them (400 naming the parameter, a page past the end 404
 * "Invalid page." as DRF does); unknown body fields are ignored; and RATE_LIMITED is a 429 with
 * Retry-After on every dialect's send and on POST /api/token/.
 */
import { restRoutes } from '../../../src/rest';
import { startTestServer, type TestServer } from '../../support/test-server';
import { call, expectError, restUser, type RestUser } from './rest-support';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.close();
});

/** A route's path with its parameters filled in. */
const concrete = (path: string) => path.replace(/:username/g, 'somebody').replace(/:\w+/g, '1');

describe('trailing slash', () => {
  it('every route answers with and without it (401 without a token, not 404)', async () => {
    const answers: Record<string, [number, number]> = {};
    for (const r of restRoutes()) {
      const path = concrete(r.path);
      const method = r.method.toUpperCase();
      const [withSlash, without] = await Promise.all([call(server, method, `${path}/`), call(server, method, path)]);
      answers[`${method} ${r.path}`] = [withSlash.status, without.status];
    }
    const expected = Object.fromEntries(
      restRoutes().map((r) => {
        const open = r.auth === false;
        // The token endpoints without a body: 400 naming the first missing field; the OpenAPI document: 200.
        const status = !open ? 401 : r.method === 'get' ? 200 : 400;
        return [`${r.method.toUpperCase()} ${r.path}`, [status, status]];
      }),
    );
    expect(answers).toEqual(expected);
  });
});

describe('pagination parameters', () => {
  let u: RestUser;
  let peer: RestUser;
  let groupId: number;
  let directId: number;
  let roomId: number;
  beforeAll(async () => {
    u = await restUser(server, 'pg');
    peer = await restUser(server, 'pg');
    groupId = (await call(server, 'POST', '/chats/', { token: u.token, json: { name: 'paged', members: [Number(peer.id)] } })).body.id;
    directId = (await call(server, 'POST', '/messages/', { token: u.token, json: { content: 'one', recipient_id: Number(peer.id) } })).body.conversation;
    roomId = (await call(server, 'POST', '/chat/rooms/', { token: u.token, json: { name: 'paged room', room_type: 'public' } })).body.id;
  });

  it('page/page_size: 400 naming the parameter, past the end 404, on every page-numbered route', async () => {
    const routes = ['/chats/', `/chats/${groupId}/messages/`, `/conversations/${directId}/messages/`, `/chat/rooms/${roomId}/messages/`];
    for (const path of routes) {
      for (const [query, param] of [
        ['page=abc', 'page'],
        ['page=0', 'page'],
        ['page=-1', 'page'],
        ['page=1.5', 'page'],
        ['page=', 'page'],
        ['page=1&page=2', 'page'],
        ['page_size=0', 'page_size'],
        ['page_size=101', 'page_size'],
        ['page_size=ten', 'page_size'],
      ]) {
        const res = await call(server, 'GET', `${path}?${query}`, { token: u.token });
        expect({ path, query, status: res.status, names: String(res.body?.error).startsWith(param) }).toEqual({ path, query, status: 400, names: true });
      }
      const ok = await call(server, 'GET', `${path}?page=1&page_size=100`, { token: u.token });
      expect({ path, status: ok.status }).toEqual({ path, status: 200 });
      const past = expectError(await call(server, 'GET', `${path}?page=50&page_size=100`, { token: u.token }), 404);
      expect(past).toEqual({ error: 'Invalid page.', detail: 'Invalid page.' });
    }
  });

  it('limit/offset (seed 002), limit/before (seed 000) and limit (recent conversations): 400 naming the parameter', async () => {
    const support = (await call(server, 'GET', '/chat/conversations/my_conversation/', { token: u.token })).body.id;
    const cases: [string, string][] = [
      [`/chat/conversations/${support}/messages/?limit=-1`, 'limit'],
      [`/chat/conversations/${support}/messages/?limit=abc`, 'limit'],
      [`/chat/conversations/${support}/messages/?offset=-1`, 'offset'],
      [`/chat/conversations/${support}/messages/?offset=1.5`, 'offset'],
      [`/chat/conversations/${support}/messages/?offset=x`, 'offset'],
      [`/chat/history/${peer.username}/?limit=abc`, 'limit'],
      [`/chat/history/${peer.username}/?limit=1000`, 'limit'],
      [`/chat/history/${peer.username}/?before=abc`, 'before'],
      [`/chat/history/${peer.username}/?before=999999`, 'before'],
      ['/chat/recent-conversations/?limit=abc', 'limit'],
      ['/chat/recent-conversations/?limit=-5', 'limit'],
    ];
    for (const [path, param] of cases) {
      const res = await call(server, 'GET', path, { token: u.token });
      expect({ path, status: res.status, names: String(res.body?.error).startsWith(param) }).toEqual({ path, status: 400, names: true });
    }
    // Issue 19: a limit above 100 is clamped (DRF's LimitOffsetPagination max_limit), not refused.
    const clamped = await call(server, 'GET', `/chat/conversations/${support}/messages/?limit=101`, { token: u.token });
    expect(clamped.status).toBe(200);
    // An offset past the end is an empty list (limit/offset pagination does not 404).
    expect((await call(server, 'GET', `/chat/conversations/${support}/messages/?limit=0&offset=0`, { token: u.token })).body).toEqual([]);
    expect((await call(server, 'GET', `/chat/conversations/${support}/messages/?offset=1000`, { token: u.token })).body).toEqual([]);
  });
});

describe('bodies', () => {
  it('ignores unknown fields; a wrong type is a 400 naming the field', async () => {
    const u = await restUser(server, 'bd');
    const peer = await restUser(server, 'bd');
    expect((await call(server, 'POST', '/token/', { json: { username: u.username, password: u.password, remember_me: true } })).status).toBe(200);
    const created = await call(server, 'POST', '/chats/', {
      token: u.token,
      json: { name: 'extra', avatar: 'x.png', is_group: true, members: [Number(peer.id)] },
    });
    expect(created.status).toBe(201);
    expect(created.body).not.toHaveProperty('avatar');
    expect(expectError(await call(server, 'POST', '/chats/', { token: u.token, json: { name: ['a'] } }), 400).error).toMatch(/^name/);
    expect(expectError(await call(server, 'POST', '/chats/', { token: u.token, json: { name: 'g', members: [{ id: 1 }] } }), 400).error).toMatch(/^members/);
    expect(expectError(await call(server, 'POST', '/chats/', { token: u.token, json: { name: 'g', members: [999999] } }), 404).error).toMatch(/User/);
    expect(
      expectError(await call(server, 'POST', '/chat/rooms/', { token: u.token, json: { name: 'r', room_type: 'public', max_members: 'many' } }), 400).error,
    ).toMatch(/^max_members/);
    expect(expectError(await call(server, 'POST', '/messages/', { token: u.token, json: { content: 12, recipient_id: Number(peer.id) } }), 400).error).toMatch(
      /^content/,
    );
    // A JSON body that is not an object.
    expect(expectError(await call(server, 'POST', '/messages/', { token: u.token, json: ['content'] }), 400).error).toBeTruthy();
    // Urlencoded forms work as DRF parses them.
    const urlencoded = await call(server, 'POST', '/messages/', {
      token: u.token,
      raw: `content=hi&recipient_id=${peer.id}`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(urlencoded.status).toBe(201);
  });
});

describe('429 with Retry-After', () => {
  let limited: TestServer;
  beforeAll(async () => {
    limited = await startTestServer({ RATE_MESSAGES_PER_SEC: '2', RATE_MESSAGES_BURST: '0', RATE_LOGIN_FAILURES: '2' });
  });
  afterAll(async () => {
    await limited.close();
  });

  /**
   * Fires rounds of `n` sends at once until one is refused (a loaded machine may spread a round
   * over two one-second windows); returns the statuses seen and the first refusal.
   */
  async function untilRefused(n: number, send: () => ReturnType<typeof call>) {
    const statuses = new Set<number>();
    for (let round = 0; round < 10; round++) {
      const answers = await Promise.all(Array.from({ length: n }, send));
      for (const a of answers) statuses.add(a.status);
      const refused = answers.find((a) => a.status === 429);
      if (refused) return { statuses: [...statuses].sort(), refused };
    }
    return { statuses: [...statuses].sort(), refused: undefined };
  }
  const checkRefusal = (r: Awaited<ReturnType<typeof untilRefused>>) => {
    expect(r.statuses).toEqual([201, 429]);
    expect(expectError(r.refused!, 429).error).toMatch(/Too many messages/);
    expect(Number(r.refused!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  };

  it("on every dialect's send", async () => {
    const a = await restUser(limited, 'rl');
    const b = await restUser(limited, 'rl');
    const c = await restUser(limited, 'rl');
    const d = await restUser(limited, 'rl');
    const e = await restUser(limited, 'rl');

    checkRefusal(await untilRefused(5, () => call(limited, 'POST', '/messages/', { token: a.token, json: { content: 'spam', recipient_id: Number(b.id) } })));
    const group = (await call(limited, 'POST', '/chats/', { token: b.token, json: { name: 'rl' } })).body.id;
    checkRefusal(await untilRefused(5, () => call(limited, 'POST', `/chats/${group}/send-message/`, { token: b.token, json: { content: 'spam' } })));
    const support = (await call(limited, 'GET', '/chat/conversations/my_conversation/', { token: c.token })).body.id;
    checkRefusal(
      await untilRefused(5, () => call(limited, 'POST', `/chat/conversations/${support}/send_message/`, { token: c.token, json: { noi_dung: 'spam' } })),
    );
    const room = (await call(limited, 'POST', '/chat/rooms/', { token: d.token, json: { name: 'rl', room_type: 'public' } })).body.id;
    checkRefusal(await untilRefused(5, () => call(limited, 'POST', `/chat/rooms/${room}/messages/`, { token: d.token, json: { content: 'spam' } })));

    // Another user is not held back by them.
    expect((await call(limited, 'POST', '/messages/', { token: e.token, json: { content: 'hi', recipient_id: Number(a.id) } })).status).toBe(201);
  });

  it('on POST /api/token/ after too many failed logins (then even the right password waits)', async () => {
    const u = await restUser(limited, 'rl');
    for (let i = 0; i < 2; i++) expectError(await call(limited, 'POST', '/token/', { json: { username: u.username, password: 'wrong-password' } }), 401);
    const refused = await call(limited, 'POST', '/token/', { json: { username: u.username, password: u.password } });
    expect(expectError(refused, 429).error).toMatch(/Too many failed logins/);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(60);
  });
});
