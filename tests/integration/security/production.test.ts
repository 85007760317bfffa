/**
 * Production mode (NODE_ENV=production, issue 7): introspection off on HTTP and graphql-ws unless
 * GRAPHQL_INTROSPECTION=true, no "Did you mean" suggestions, no stack traces, no landing page
 * unless GRAPHQL_LANDING_PAGE=true, no HTTP batching, CSRF prevention on.
 */
import { registerUser, type TestUser } from '../../support/client';
import { startTestServer, type TestServer } from '../../support/test-server';
import { RawSocket } from './transport-support';

jest.setTimeout(60000);

let prod: TestServer;
let open: TestServer;
let user: TestUser;
let openUser: TestUser;
beforeAll(async () => {
  [prod, open] = await Promise.all([
    startTestServer({ NODE_ENV: 'production' }),
    startTestServer({ NODE_ENV: 'production', GRAPHQL_INTROSPECTION: 'true', GRAPHQL_LANDING_PAGE: 'true' }),
  ]);
  [user, openUser] = await Promise.all([registerUser(prod.url, 'prod'), registerUser(open.url, 'prod')]);
});
afterAll(async () => {
  await Promise.all([prod?.close(), open?.close()]);
});

interface Reply {
  status: number;
  headers: Headers;
  text: string;
  body: any;
}
async function post(s: TestServer, body: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  const res = await fetch(s.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: any;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, text, body: parsed };
}
/** One operation over a fresh graphql-ws socket: the `error` payload or the `next` payload's errors, and data. */
async function overWs(s: TestServer, token: string, query: string, variables?: Record<string, unknown>): Promise<{ errors?: any[]; data?: any }> {
  const socket = await RawSocket.open(s.wsUrl);
  try {
    await socket.ack(token);
    socket.subscribe('1', query, variables);
    const answer = await socket.answer('1');
    return answer.type === 'error' ? { errors: answer.payload } : answer.payload;
  } finally {
    socket.close();
  }
}

const SCHEMA = `{ __schema { queryType { name } types { name } } }`;
const TYPE = `{ __type(name: "User") { fields { name } } }`;

describe('introspection', () => {
  test('is refused over HTTP in production (both __schema and __type), while __typename works', async () => {
    for (const query of [SCHEMA, TYPE]) {
      const r = await post(prod, { query });
      expect(r.status).toBe(400);
      expect(r.body.data).toBeUndefined();
      expect(r.body.errors[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' } });
      expect(r.body.errors[0].message).toMatch(/introspection/i);
    }
    expect((await post(prod, { query: '{ __typename }' })).body).toEqual({ data: { __typename: 'Query' } });
  });

  test("is refused over graphql-ws in production too (Apollo's rule does not reach the socket by itself)", async () => {
    for (const query of [SCHEMA, TYPE]) {
      const r = await overWs(prod, user.token, query);
      expect(r.data).toBeUndefined();
      expect(r.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' } });
      expect(r.errors?.[0].message).toMatch(/introspection/i);
    }
  });

  test('GRAPHQL_INTROSPECTION=true turns it back on, on both transports', async () => {
    const http = await post(open, { query: SCHEMA });
    expect(http.status).toBe(200);
    expect(http.body.data.__schema.queryType).toEqual({ name: 'Query' });
    const ws = await overWs(open, openUser.token, TYPE);
    expect(ws.errors).toBeUndefined();
    expect(ws.data.__type.fields.map((f: { name: string }) => f.name)).toContain('username');
  });
});

describe('field suggestions', () => {
  const cases: [string, string, Record<string, unknown>, RegExp][] = [
    ['an unknown field', '{ mee { id } }', {}, /"mee"/],
    ['an unknown argument', '{ users(frist: 1) { totalCount } }', {}, /"frist"/],
    ['an unknown type', 'query($k: ConversationKnd) { conversations(kind: $k) { totalCount } }', {}, /"ConversationKnd"/],
    ['a bad enum value in variables', 'query($k: ConversationKind) { conversations(kind: $k) { totalCount } }', { k: 'DIREC' }, /"DIREC"/],
  ];

  test.each(cases)('%s over HTTP: the error names it but suggests nothing', async (_label, query, variables, names) => {
    const r = await post(prod, { query, variables }, { authorization: `Bearer ${user.token}` });
    expect(r.status).toBe(400);
    expect(r.body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(r.body.errors.map((e: { message: string }) => e.message).join('\n')).toMatch(names);
    expect(r.text).not.toMatch(/Did you mean/);
  });

  test.each(cases)('%s over graphql-ws: the error names it but suggests nothing', async (_label, query, variables, names) => {
    const r = await overWs(prod, user.token, query, variables);
    expect(r.errors?.[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(r.errors!.map((e: { message: string }) => e.message).join('\n')).toMatch(names);
    expect(JSON.stringify(r)).not.toMatch(/Did you mean/);
  });

  test('subscriptions too', async () => {
    const r = await overWs(prod, user.token, 'subscription { messageAdde { id } }');
    expect(r.errors?.[0].message).toMatch(/"messageAdde"/);
    expect(JSON.stringify(r)).not.toMatch(/Did you mean/);
  });
});

describe('errors carry no stack traces', () => {
  test.each([
    ['a syntax error', '{"query":"{ me { id "}'],
    ['a validation error', '{"query":"{ nope }"}'],
    ['a resolver error (no token)', '{"query":"{ me { id } }"}'],
    ['a domain error', '{"query":"{ users(first: -1) { totalCount } }"}'],
    ['a variable coercion error', '{"query":"query($n: Int) { users(first: $n) { totalCount } }","variables":{"n":"x"}}'],
    ['a malformed JSON body', '{"query":'],
    ['a query limit', JSON.stringify({ query: `{ ${Array.from({ length: 20 }, (_, i) => `a${i}: me { id }`).join(' ')} }` })],
  ])('%s', async (_label, body) => {
    const r = await post(prod, body);
    expect(r.body.errors.length).toBeGreaterThan(0);
    for (const e of r.body.errors) {
      expect(Object.keys(e.extensions ?? {}).filter((k) => !['code', 'reason', 'field', 'retryAfter'].includes(k))).toEqual([]);
    }
    expect(r.text).not.toMatch(/stacktrace|\n\s+at |\bat [\w.<>]+ \(|node_modules|\.ts:\d+/);
  });
});

describe('landing page', () => {
  const browserGet = (s: TestServer) => fetch(s.url, { headers: { accept: 'text/html' } });

  test('off in production: a browser GET on /graphql gets no page', async () => {
    const res = await browserGet(prod);
    expect(res.headers.get('content-type') ?? '').not.toMatch(/text\/html/);
    expect(res.status).toBe(400);
    expect(await res.text()).not.toMatch(/<html|<script/i);
  });

  test("GRAPHQL_LANDING_PAGE=true (GRAPHIQL's old name) serves GraphiQL from local assets, under a strict CSP", async () => {
    const res = await browserGet(open);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    expect(await res.text()).toMatch(/<html|<script/i);
    expect(res.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
    const json = await post(prod, { query: '{ __typename }' });
    expect(json.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
  });
});

describe('one operation per request, CSRF prevention', () => {
  test('a batch (JSON array) is refused with 400 and nothing runs', async () => {
    const r = await post(prod, [
      { query: '{ __typename }' },
      { query: `mutation { register(input: { username: "batched_${process.pid}", password: "correct-horse-battery" }) { accessToken } }` },
    ]);
    expect(r.status).toBe(400);
    expect(Array.isArray(r.body)).toBe(false);
    expect(r.body.errors[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' } });
    expect(r.body.errors[0].message).toMatch(/batching/i);
    const login = await post(prod, { query: `mutation { login(username: "batched_${process.pid}", password: "correct-horse-battery") { accessToken } }` });
    expect(login.body.errors?.[0].extensions.code).toBe('UNAUTHENTICATED');
  });

  test.each([
    ['GET without a preflight header', () => fetch(`${prod.url}?query=${encodeURIComponent('{ __typename }')}`)],
    [
      'a text/plain POST (what a cross-site form can send)',
      () => fetch(prod.url, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ query: '{ __typename }' }) }),
    ],
    [
      'a form-urlencoded POST',
      () => fetch(prod.url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'query=%7B__typename%7D' }),
    ],
  ])('%s is refused as possible CSRF', async (_label, send) => {
    const res = await send();
    expect(res.status).toBe(400);
    const body = (await res.json()) as { data?: unknown; errors: { message: string; extensions: { code: string } }[] };
    expect(body.data).toBeUndefined();
    expect(body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(body.errors[0].message).toMatch(/Cross-Site Request Forgery/);
  });

  test('a multipart POST (a cross-site form with files) runs only with apollo-require-preflight', async () => {
    const username = `csrf_${process.pid}`;
    const form = () => {
      const f = new FormData();
      f.set(
        'operations',
        JSON.stringify({
          query: `mutation($u: String!) { register(input: { username: $u, password: "correct-horse-battery" }) { user { username } } }`,
          variables: { u: username },
        }),
      );
      f.set('map', '{}');
      return f;
    };
    const refused = await fetch(prod.url, { method: 'POST', body: form() });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { errors: { message: string }[] }).errors[0].message).toMatch(/Cross-Site Request Forgery/);
    const loginBefore = await post(prod, { query: `mutation { login(username: "${username}", password: "correct-horse-battery") { accessToken } }` });
    expect(loginBefore.body.errors?.[0].extensions.code).toBe('UNAUTHENTICATED'); // the refused request registered no one

    const allowed = await fetch(prod.url, { method: 'POST', headers: { 'apollo-require-preflight': 'true' }, body: form() });
    expect(allowed.status).toBe(200);
    expect(await allowed.json()).toEqual({ data: { register: { user: { username } } } });
  });
});
