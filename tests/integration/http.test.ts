import WebSocket from 'ws';
import { registerUser } from '../support/client';
import { startTestServer, type TestServer } from '../support/test-server';
import { isInterfaceType, isObjectType } from 'graphql';
import { buildGraphQLSchema } from '../../src/graphql/schema';

/**
 * The HTTP surface: health endpoints, GraphQL over GET and POST, and malformed requests; and,
 * since the contract's error-code rule covers every GraphQL error, the same request errors over graphql-ws.
 */

const CONTRACT_CODES = [
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'NOT_FOUND',
  'BAD_USER_INPUT',
  'CONFLICT',
  'RATE_LIMITED',
  'PAYLOAD_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
  'INTERNAL_SERVER_ERROR',
];

let server: TestServer;
let base: string;
beforeAll(async () => {
  server = await startTestServer();
  base = new URL(server.url).origin;
});
afterAll(async () => {
  await server?.close();
});

interface Reply {
  status: number;
  contentType: string;
  body: any;
}

async function request(url: string, init: RequestInit = {}): Promise<Reply> {
  const res = await fetch(url, init);
  const text = await res.text();
  let body: any = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* not JSON: kept as text, the assertions will say so */
  }
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', body };
}

const post = (body: string, headers: Record<string, string> = {}) =>
  request(server.url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

/** A GraphQL error response: JSON, the given status, every error with a contract code; returns the first code. */
function expectErrorResponse(r: Reply, status: number): string {
  expect(r.status).toBe(status);
  expect(r.contentType).toMatch(/^application\/(graphql-response\+)?json/);
  expect(Array.isArray(r.body?.errors)).toBe(true);
  expect(r.body.errors.length).toBeGreaterThan(0);
  for (const e of r.body.errors) {
    expect(typeof e.message).toBe('string');
    expect(CONTRACT_CODES).toContain(e.extensions?.code);
  }
  return r.body.errors[0].extensions.code;
}

describe('health', () => {
  test('GET /healthz is 200', async () => {
    const r = await request(`${base}/healthz`);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ status: 'ok' });
  });

  test('GET /readyz is 200 with the database ok', async () => {
    const r = await request(`${base}/readyz`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ database: 'ok' });
  });
});

describe('GraphQL over GET', () => {
  const typename = `?query=${encodeURIComponent('{__typename}')}`;

  test('GET /graphql?query={__typename} with a CSRF-safe header works', async () => {
    const r = await request(server.url + typename, { headers: { 'apollo-require-preflight': 'true' } });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ data: { __typename: 'Query' } });
  });

  test('GET /graphql?query={__typename} with content-type application/json works', async () => {
    const r = await request(server.url + typename, { headers: { 'content-type': 'application/json' } });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ data: { __typename: 'Query' } });
  });

  test('a GET with a bearer token and no other header works (a default urql client): Authorization already forces a CORS preflight', async () => {
    const u = await registerUser(server.url, 'csrfget');
    const r = await request(`${server.url}?query=${encodeURIComponent('{ me { username } }')}`, { headers: { authorization: `Bearer ${u.token}` } });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ data: { me: { username: u.username } } });
  });

  test('a plain GET without any header is refused as possible CSRF with a contract code, not a 500', async () => {
    const r = await request(server.url + typename);
    expect(expectErrorResponse(r, 400)).toBe('BAD_USER_INPUT');
  });

  test('a mutation over GET is refused with a contract code', async () => {
    const r = await request(`${server.url}?query=${encodeURIComponent('mutation { logout(refreshToken: "x") }')}`, {
      headers: { 'apollo-require-preflight': 'true' },
    });
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
    expectErrorResponse(r, r.status);
  });
});

describe('GraphQL responses are never cached', () => {
  test('a result over POST and GET, a resolver error and a validation error carry Cache-Control: no-store', async () => {
    const typename = `?query=${encodeURIComponent('{__typename}')}`;
    const replies = [
      await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ __typename }"}' }),
      await fetch(server.url + typename, { headers: { 'apollo-require-preflight': 'true' } }),
      await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ me { id } }"}' }),
      await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ nope }"}' }),
    ];
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 400]);
    for (const r of replies) expect(r.headers.get('cache-control')).toBe('no-store');
  });

  test('no type or field of the schema carries a @cacheControl hint (the header relies on it: graphqlNoStore)', () => {
    const hinted: string[] = [];
    const hints = (node?: { directives?: readonly { name: { value: string } }[] } | null) => node?.directives?.some((d) => d.name.value === 'cacheControl');
    for (const type of Object.values(buildGraphQLSchema().getTypeMap())) {
      if (hints(type.astNode)) hinted.push(type.name);
      if (isObjectType(type) || isInterfaceType(type))
        for (const f of Object.values(type.getFields())) if (hints(f.astNode)) hinted.push(`${type.name}.${f.name}`);
    }
    expect(hinted).toEqual([]);
  });
});

describe("malformed requests are the client's fault (4xx, contract codes), never a 500", () => {
  test('a malformed JSON body is 400 BAD_USER_INPUT', async () => {
    const r = await post('{"query": ');
    expect(expectErrorResponse(r, 400)).toBe('BAD_USER_INPUT');
  });

  test('a JSON body that is not a GraphQL request is 400 BAD_USER_INPUT', async () => {
    for (const body of ['', '{}', '{"query": 5}', '[{"query":"{__typename}"}]', '"just a string"', 'null', '{"query":"{__typename}","variables":"x"}']) {
      const r = await post(body);
      expect({ body, code: expectErrorResponse(r, 400) }).toEqual({ body, code: 'BAD_USER_INPUT' });
    }
  });

  test('a GraphQL syntax error is BAD_USER_INPUT', async () => {
    const r = await post(JSON.stringify({ query: '{ me { id ' }));
    expect(expectErrorResponse(r, 400)).toBe('BAD_USER_INPUT');
    expect(r.body.data).toBeUndefined();
  });

  test('an unknown field is BAD_USER_INPUT', async () => {
    const r = await post(JSON.stringify({ query: '{ noSuchField }' }));
    expect(expectErrorResponse(r, 400)).toBe('BAD_USER_INPUT');
    expect(r.body.errors[0].message).toContain('noSuchField');
  });

  test('variables of the wrong type are BAD_USER_INPUT', async () => {
    const badEnum = await post(JSON.stringify({ query: 'query($k: ConversationKind) { conversations(kind: $k) { totalCount } }', variables: { k: 'NOPE' } }));
    expect(expectErrorResponse(badEnum, 400)).toBe('BAD_USER_INPUT');
    const badInt = await post(JSON.stringify({ query: 'query($n: Int) { users(first: $n) { totalCount } }', variables: { n: 'many' } }));
    expect(expectErrorResponse(badInt, 400)).toBe('BAD_USER_INPUT');
    const missing = await post(JSON.stringify({ query: 'mutation($t: String!) { logout(refreshToken: $t) }' }));
    expect(expectErrorResponse(missing, 400)).toBe('BAD_USER_INPUT');
  });

  test('an unknown or ambiguous operation name is BAD_USER_INPUT', async () => {
    const ambiguous = await post(JSON.stringify({ query: 'query A { __typename } query B { __typename }' }));
    expect(expectErrorResponse(ambiguous, 400)).toBe('BAD_USER_INPUT');
    const unknown = await post(JSON.stringify({ query: 'query A { __typename }', operationName: 'Z' }));
    expect(expectErrorResponse(unknown, 400)).toBe('BAD_USER_INPUT');
  });

  test('a body over the size limit is 413 PAYLOAD_TOO_LARGE', async () => {
    const r = await post(JSON.stringify({ query: '{ __typename }', variables: { pad: 'x'.repeat(2 * 1024 * 1024) } }));
    expect(expectErrorResponse(r, 413)).toBe('PAYLOAD_TOO_LARGE');
  });

  test('a text/plain POST is refused with a contract code', async () => {
    const r = await post(JSON.stringify({ query: '{ __typename }' }), { 'content-type': 'text/plain' });
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
    expectErrorResponse(r, r.status);
  });

  test('an unsupported method is refused with a contract code', async () => {
    const r = await request(server.url, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ __typename }' }) });
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
    expectErrorResponse(r, r.status);
  });

  test('an error from a resolver (no token) carries a contract code on a 200 response', async () => {
    const r = await post(JSON.stringify({ query: '{ me { id } }' }));
    expect(expectErrorResponse(r, 200)).toBe('UNAUTHENTICATED');
    expect(r.body.data).toBeNull();
  });

  test('the server still answers after all of the above', async () => {
    const r = await post(JSON.stringify({ query: '{ __typename }' }));
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ data: { __typename: 'Query' } });
  });
});

describe('request errors over graphql-ws carry contract codes too', () => {
  /** Subscribes over a raw graphql-transport-ws socket and returns the server's first answer for the operation. */
  async function firstAnswer(token: string, query: string): Promise<{ type: string; payload: any }> {
    const socket = new WebSocket(server.wsUrl, 'graphql-transport-ws');
    try {
      return await new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no answer within 5 s')), 5000);
        socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } })));
        socket.on('message', (data) => {
          const msg = JSON.parse(String(data));
          if (msg.type === 'connection_ack') socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query } }));
          else if (msg.id === '1' && (msg.type === 'next' || msg.type === 'error')) {
            clearTimeout(timer);
            resolve(msg);
          }
        });
        socket.on('close', (code) => {
          clearTimeout(timer);
          reject(new Error(`socket closed with ${code}`));
        });
        socket.on('error', (err) => {
          clearTimeout(timer);
          reject(err);
        });
      });
    } finally {
      socket.removeAllListeners('close');
      socket.close();
    }
  }
  const errorsOf = (answer: { type: string; payload: any }) => (answer.type === 'error' ? answer.payload : answer.payload.errors);

  let token: string;
  beforeAll(async () => {
    token = (await registerUser(server.url, 'wserr')).token;
  });

  test.each([
    ['an unknown field', 'subscription { noSuchField }'],
    ['a syntax error', 'subscription { messageAdded { id '],
    // (No subscription has a required argument since typing and readReceipt take an optional conversation, issue 32.)
    ['an argument of the wrong type', 'subscription { typing(conversationId: { id: 1 }) { isTyping } }'],
  ])('%s', async (_label, query) => {
    const errors = errorsOf(await firstAnswer(token, query));
    expect(Array.isArray(errors)).toBe(true);
    expect(errors.length).toBeGreaterThan(0);
    for (const e of errors) expect({ message: e.message, code: e.extensions?.code }).toEqual({ message: e.message, code: 'BAD_USER_INPUT' });
  });
});
