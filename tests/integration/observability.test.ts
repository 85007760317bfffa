/**
 * Issue 15, items 4 and 5: what an operator sees. Prometheus metrics at /metrics (protected by
 * METRICS_TOKEN; off in production without one), and request logs that carry a request id
 * (the caller's X-Request-Id or a new one, returned), the GraphQL operation, the user and the
 * client address; sockets logged when they open, subscribe and close (with the code).
 */
import { Writable } from 'node:stream';
import { createLogger } from '../../src/logger';
import { gqlOk, registerUser, subscribe, wsClient } from '../support/client';
import { duplicateJsonKeys } from '../support/json-keys';
import { startTestServer, type TestServer } from '../support/test-server';

const TOKEN = 'metrics-token-0123456789';
const lines: string[] = [];
const sink = new Writable({
  write(chunk, _enc, done) {
    lines.push(String(chunk));
    done();
  },
});
const logged = () =>
  lines
    .flatMap((l) => l.split('\n'))
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, any>);
let server: TestServer;
let origin: string;

beforeAll(async () => {
  server = await startTestServer({ METRICS_TOKEN: TOKEN }, { logger: createLogger('info', sink) });
  origin = server.url.replace(/\/graphql$/, '');
});
afterAll(async () => {
  await server.close();
});

/** The value of one sample line of the exposition text, e.g. `chat_ws_open_sockets 1`; undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^(\w+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}

async function scrape(): Promise<string> {
  const res = await fetch(`${origin}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  return res.text();
}

test('/metrics needs the token', async () => {
  expect((await fetch(`${origin}/metrics`)).status).toBe(401);
  expect((await fetch(`${origin}/metrics`, { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status).toBe(401);
  expect(await scrape()).toContain('process_cpu_user_seconds_total');
});

test('/metrics is off in production without a token, and open in development', async () => {
  const prod = await startTestServer({ NODE_ENV: 'production', JWT_SECRET: 'a'.repeat(16) + 'Zq9!xR2#vL7@pM4$' });
  try {
    expect((await fetch(`${prod.url.replace(/\/graphql$/, '')}/metrics`)).status).toBe(404);
  } finally {
    await prod.close();
  }
  const dev = await startTestServer({ NODE_ENV: 'development' });
  try {
    expect((await fetch(`${dev.url.replace(/\/graphql$/, '')}/metrics`)).status).toBe(200);
  } finally {
    await dev.close();
  }
});

test('HTTP requests, GraphQL operations, sockets, subscriptions, events and delivery are counted', async () => {
  const a = await registerUser(server.url, 'obs');
  const b = await registerUser(server.url, 'obs');
  const before = await scrape();
  const okBefore = sample(before, 'chat_graphql_operations_total', { operation: 'Me', type: 'query', outcome: 'ok' }) ?? 0;
  const failedBefore = sample(before, 'chat_graphql_operations_total', { operation: 'Broken', type: 'query', outcome: 'error' }) ?? 0;
  const publishedBefore = sample(before, 'chat_events_published_total', { type: 'message.added' }) ?? 0;
  const deliveredBefore = sample(before, 'chat_events_delivered_frames') ?? 0;

  await gqlOk(server.url, 'query Me { me { id } }', {}, a.token);
  await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: 'query Broken { nope }' }) });
  const { openDirectChat: chat } = await gqlOk(server.url, 'mutation($u: ID!) { openDirectChat(userId: $u) { id } }', { u: b.id }, a.token);
  const client = wsClient(server.wsUrl, b.token);
  try {
    const sub = subscribe(client, 'subscription($c: ID!) { messageAdded(conversationId: $c) { content } }', { c: chat.id });
    await sub.ready();
    const during = await scrape();
    expect(sample(during, 'chat_ws_open_sockets')).toBe(1);
    expect(sample(during, 'chat_ws_active_subscriptions')).toBe(1);
    await gqlOk(server.url, 'mutation($c: ID!) { sendMessage(input: { conversationId: $c, content: "counted" }) { id } }', { c: chat.id }, a.token);
    expect((await sub.next()).messageAdded.content).toBe('counted');
    const after = await scrape();
    expect(sample(after, 'chat_graphql_operations_total', { operation: 'Me', type: 'query', outcome: 'ok' })).toBe(okBefore + 1);
    expect(sample(after, 'chat_graphql_operations_total', { operation: 'Broken', type: 'query', outcome: 'error' })).toBe(failedBefore + 1);
    expect(sample(after, 'chat_graphql_operation_duration_seconds_count', { operation: 'Me', type: 'query' })).toBeGreaterThanOrEqual(1);
    expect(sample(after, 'chat_events_published_total', { type: 'message.added' })).toBe(publishedBefore + 1);
    expect(sample(after, 'chat_events_delivered_frames')).toBeGreaterThanOrEqual(deliveredBefore + 1);
    expect(sample(after, 'chat_delivery_latency_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(sample(after, 'chat_http_requests_total', { method: 'POST', route: '/graphql', status: '200' })).toBeGreaterThanOrEqual(3);
    expect(sample(after, 'chat_bus_healthy')).toBe(1);
  } finally {
    await client.dispose();
  }
});

test('rate-limit refusals are counted by limit', async () => {
  const before = sample(await scrape(), 'chat_rate_limit_refusals', { limit: 'login' }) ?? 0;
  const u = await registerUser(server.url, 'obslimit');
  const login = () =>
    fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        query: 'mutation($u: String!) { login(username: $u, password: "wrong-password-1") { accessToken } }',
        variables: { u: u.username },
      }),
    });
  // RATE_LOGIN_FAILURES (default 10) failures, then refusals.
  for (let i = 0; i < 12; i++) await login();
  expect(sample(await scrape(), 'chat_rate_limit_refusals', { limit: 'login' })).toBeGreaterThan(before);
});

test('a request keeps a sane X-Request-Id, gets a new one otherwise, and its log line names operation, user and address', async () => {
  const u = await registerUser(server.url, 'obslog');
  const given = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${u.token}`, 'x-request-id': 'trace-abc.123' },
    body: JSON.stringify({ query: 'query WhoAmI { me { id } }' }),
  });
  expect(given.headers.get('x-request-id')).toBe('trace-abc.123');
  const odd = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-request-id': 'bad id with spaces' },
    body: '{"query":"{ __typename }"}',
  });
  const fresh = odd.headers.get('x-request-id');
  expect(fresh).toMatch(/^[0-9a-f-]{36}$/);
  await new Promise((r) => setImmediate(r));
  const line = logged().find((l) => l.req?.id === 'trace-abc.123');
  expect(line).toMatchObject({ operation: 'WhoAmI', userId: Number(u.id), ip: expect.stringMatching(/127\.0\.0\.1/) });
  expect(logged().some((l) => l.req?.id === fresh)).toBe(true);
  // REST requests name their user too.
  const rest = await fetch(`${origin}/api/chat/unread/count/`, { headers: { authorization: `Bearer ${u.token}`, 'x-request-id': 'rest-req-1' } });
  expect(rest.headers.get('x-request-id')).toBe('rest-req-1');
  await new Promise((r) => setImmediate(r));
  expect(logged().find((l) => l.req?.id === 'rest-req-1')).toMatchObject({ userId: Number(u.id) });
});

test('each request log line is JSON with unique keys: "ip", "userId" and "operation" once each (issue 30)', async () => {
  const u = await registerUser(server.url, 'obskeys');
  await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${u.token}`, 'x-request-id': 'unique-keys-1' },
    body: JSON.stringify({ query: 'query Keys { me { id } }' }),
  });
  await fetch(`${origin}/api/chat/unread/count/`, { headers: { 'x-request-id': 'unique-keys-2' } });
  await new Promise((r) => setImmediate(r));
  const raw = lines.flatMap((l) => l.split('\n')).filter((l) => l.includes('"unique-keys-'));
  expect(raw).toHaveLength(2);
  for (const line of raw) {
    expect(duplicateJsonKeys(line)).toEqual([]);
    expect(line.match(/"ip":/g)).toHaveLength(1);
  }
  const gqlLine = JSON.parse(raw.find((l) => l.includes('unique-keys-1'))!);
  expect(gqlLine).toMatchObject({ ip: expect.stringMatching(/127\.0\.0\.1/), userId: Number(u.id), operation: 'Keys', res: { statusCode: 200 } });
  expect(JSON.parse(raw.find((l) => l.includes('unique-keys-2'))!)).toMatchObject({ ip: expect.stringMatching(/127\.0\.0\.1/), res: { statusCode: 401 } });
});

test('the duplicate-key check sees what JSON.parse hides', () => {
  expect(duplicateJsonKeys('{"a":1,"b":{"c":[{"d":1,"d":2}]},"a":"x"}')).toEqual(['b.c[0].d', 'a']);
  expect(duplicateJsonKeys('{"ip":"1","msg":"a \\"ip\\":","ip":"2"}')).toEqual(['ip']);
  expect(() => duplicateJsonKeys('{"a":1')).toThrow(/invalid JSON/);
});

test('sockets are logged when they open, authenticate, subscribe and close (with the code)', async () => {
  const u = await registerUser(server.url, 'obssock');
  const client = wsClient(server.wsUrl, u.token);
  const sub = subscribe(client, 'subscription Alerts { notificationAdded { id } }');
  await sub.ready();
  await client.dispose();
  const until = Date.now() + 3000;
  const closedLine = () => logged().find((l) => l.msg === 'socket closed' && l.userId === Number(u.id));
  while (!closedLine() && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  const mine = logged().filter((l) => l.userId === Number(u.id) && typeof l.msg === 'string' && l.msg.startsWith('socket'));
  expect(mine.map((l) => l.msg)).toEqual(expect.arrayContaining(['socket authenticated', 'socket subscribed', 'socket closed']));
  expect(mine.find((l) => l.msg === 'socket subscribed')).toMatchObject({ operation: 'Alerts' });
  expect(closedLine()).toMatchObject({ code: 1000 });
  expect(logged().some((l) => l.msg === 'socket opened')).toBe(true);
});

test('migrations applied at start are logged at info', async () => {
  expect(logged().some((l) => l.level === 30 && /applied \d+ database migration/.test(l.msg) && Array.isArray(l.migrations))).toBe(true);
});
