/**
 * Issue 13, item 6: logs carry no content and no credentials. The server's own logger
 * (createLogger) writes into a stream here; a real driver error with message text in its
 * statement, and requests with a media signature and GraphQL GET variables, must leave none of
 * it in the lines.
 */
import { Writable } from 'node:stream';
import { createLogger } from '../../../src/logger';
import { registerUser, waitFor } from '../../support/client';
import { startTestServer, type TestServer } from '../../support/test-server';

const lines: string[] = [];
const sink = new Writable({
  write(chunk, _enc, done) {
    lines.push(String(chunk));
    done();
  },
});
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({}, { logger: createLogger('info', sink) });
});
afterAll(async () => {
  await server.close();
});

test('a database error is logged with its reason, without its statement or values', async () => {
  const logger = createLogger('info', sink);
  const before = lines.length;
  const err = await server.orm.em
    .fork()
    .execute(`select * from "messages" where "content" = 'the-private-message-text' and "no_such_column" = 1`)
    .catch((e: unknown) => e);
  expect(err).toBeInstanceOf(Error);
  expect(String((err as Error).message)).toContain('the-private-message-text'); // the driver's message does carry it
  logger.warn({ err }, 'database unavailable');
  await waitFor(() => lines.slice(before).join('').includes('database unavailable'), 'the warning line');
  const written = lines.slice(before).join('');
  expect(written).toContain('no_such_column'); // the database's own reason stays
  expect(written).not.toContain('the-private-message-text');
});

test('request logs keep paths and operation names, not media signatures, tokens or GraphQL variables', async () => {
  const u = await registerUser(server.url, 'logs');
  const origin = server.url.replace(/\/graphql$/, '');
  const q = new URLSearchParams({
    query: 'query Me($x: String) { user(username: $x) { id } }',
    variables: JSON.stringify({ x: 'the-variable-value' }),
    operationName: 'Me',
  });
  const responses = [
    await fetch(`${origin}/media/1?exp=123&sig=THE-SIGNATURE-VALUE`),
    await fetch(`${server.url}?${q}`, { headers: { authorization: `Bearer ${u.token}`, 'apollo-require-preflight': 'true' } }),
    await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${u.token}` },
      body: JSON.stringify({ query: '{ me { id } }' }),
    }),
  ];
  expect(responses.map((r) => r.status)).toEqual([404, 200, 200]);
  await Promise.all(responses.map((r) => r.arrayBuffer()));
  // pino-http writes a request's line when its response has finished, maybe after the client has
  // it: wait for the line of each request (by the X-Request-Id the server returned), not a timer.
  const ids = responses.map((r) => r.headers.get('x-request-id'));
  expect(ids.every((id) => typeof id === 'string' && id.length > 0)).toBe(true);
  await waitFor(() => ids.every((id) => lines.some((l) => l.includes(`"id":"${id}"`))), 'the request lines of all three requests');
  const written = lines.join('');
  expect(written).toContain('/media/:param?exp=123&sig=[redacted]');
  expect(written).toContain('operationName=Me');
  expect(written).not.toContain('THE-SIGNATURE-VALUE');
  expect(written).not.toContain('the-variable-value');
  expect(written).not.toContain(u.token);
});

test('request logs carry no username or other path parameter, matched route or not (issue 27 §5)', async () => {
  const name = `secretname${Date.now() % 100000}`;
  const u = await registerUser(server.url, name);
  const peer = await registerUser(server.url, `${name}peer`);
  const origin = server.url.replace(/\/graphql$/, '');
  const auth = { authorization: `Bearer ${u.token}` };
  const responses = [
    await fetch(`${origin}/api/chat/history/${peer.username}/?limit=5`, { headers: auth }),
    await fetch(`${origin}/api/chat/history/${peer.username.toUpperCase()}`, { headers: auth }),
    await fetch(`${origin}/api/no/such/${peer.username}/path`, { headers: auth }),
    await fetch(`${origin}/media/avatars/${u.id}/1`, { headers: auth }),
    await fetch(`${origin}/${peer.username}`),
  ];
  await Promise.all(responses.map((r) => r.arrayBuffer()));
  expect(responses.map((r) => r.status)).toEqual([200, 200, 404, 404, 404]);
  const ids = responses.map((r) => r.headers.get('x-request-id'));
  await waitFor(() => ids.every((id) => lines.some((l) => l.includes(`"id":"${id}"`))), 'the request lines');
  const mine = lines.filter((l) => ids.some((id) => l.includes(`"id":"${id}"`)));
  const written = mine.join('');
  expect(written.toLowerCase()).not.toContain(peer.username.toLowerCase());
  expect(written).not.toContain(`/avatars/${u.id}/`);
  expect(written).toContain('"url":"/api/chat/history/:param/?limit=5"');
  expect(written).toContain('"route":"/api/chat/history/:username"');
  expect(written).toContain('"url":"/api/:param/:param/:param/:param"');
  expect(written).toContain('"url":"/media/avatars/:param/:param"');
});
