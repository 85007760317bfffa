/**
 * WebSocket abuse (issue 7), each with a raw `ws` client speaking graphql-transport-ws by hand:
 * no connection_init → 4408, a second connection_init → 4429, subscribe before the ack → 4401,
 * a missing or bad token → 4403, an oversized frame → 1009, and a flood of subscriptions on one
 * socket: past WS_MAX_SUBSCRIPTIONS each new one gets an `error` message with RATE_LIMITED while
 * the socket and the subscriptions it already has keep working.
 */
import { gqlOk, registerUser, waitFor, type TestUser } from '../../support/client';
import { operationSignature, registrationsOf } from '../../support/readiness';
import { startTestServer, type TestServer } from '../../support/test-server';
import { RawSocket } from './transport-support';

jest.setTimeout(60000);

const MAX_SUBSCRIPTIONS = 3;
let server: TestServer;
let alice: TestUser;
let bob: TestUser;
let conversationId: string;
/** The server hub's registrations (tests/support/readiness.ts), observed from the start. */
let hubLog: ReturnType<typeof registrationsOf>;
const sockets: RawSocket[] = [];
/** A raw socket closed after the test. */
async function open(protocol?: string | null): Promise<RawSocket> {
  const s = await RawSocket.open(server.wsUrl, protocol);
  sockets.push(s);
  return s;
}

beforeAll(async () => {
  server = await startTestServer({
    WS_MAX_SUBSCRIPTIONS: String(MAX_SUBSCRIPTIONS),
    WS_INIT_TIMEOUT_MS: '1000',
    WS_MAX_PAYLOAD_BYTES: '4096',
    RATE_WS_PER_MIN_IP: '100000',
    RATE_WS_PER_MIN_USER: '100000',
  });
  hubLog = registrationsOf(server);
  [alice, bob] = await Promise.all([registerUser(server.url, 'wsa'), registerUser(server.url, 'wsa')]);
  conversationId = (await gqlOk(server.url, `mutation($u: ID!) { openDirectChat(userId: $u) { id } }`, { u: bob.id }, alice.token)).openDirectChat.id;
});
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
});
afterAll(async () => {
  await server?.close();
});

const MESSAGE_ADDED = `subscription($c: ID) { messageAdded(conversationId: $c) { content } }`;
/** MESSAGE_ADDED under an operation name of its own: a test counts the hub registrations of its own operation only. */
const messageAdded = (name: string) => `subscription ${name}($c: ID) { messageAdded(conversationId: $c) { content } }`;
/** The hub registrations of bob's `query` (on conversationId) so far. */
const registered = (query: string) => {
  const signature = operationSignature(query, undefined, { c: conversationId });
  return hubLog.seen.filter((r) => r.userId === Number(bob.id) && r.signature === signature).length;
};
/**
 * Resolves once the server has registered `n` of bob's subscriptions of `query` with its delivery
 * hub: from then on an event reaches them (raw sockets get no subscribe acknowledgement; this
 * polls the hub's log, no sleep decides). Fails after its deadline.
 */
const bobRegistered = (query: string, n: number) => waitFor(() => registered(query) >= n, `${n} registered ${query}`);
const send = (content: string) =>
  gqlOk(
    server.url,
    `mutation($c: ID!, $t: String!) { sendMessage(input: { conversationId: $c, content: $t }) { id } }`,
    { c: conversationId, t: content },
    alice.token,
  );

describe('the graphql-transport-ws handshake', () => {
  test('no connection_init within WS_INIT_TIMEOUT_MS: closed with 4408', async () => {
    const s = await open();
    expect(await s.closeCode()).toBe(4408);
  });

  test('a second connection_init, after the ack: closed with 4429', async () => {
    const s = await open();
    await s.ack(bob.token);
    s.init(bob.token);
    expect(await s.closeCode()).toBe(4429);
  });

  test('a second connection_init while the first is still being checked: closed with 4429', async () => {
    const s = await open();
    s.init(bob.token);
    s.init(bob.token);
    expect(await s.closeCode()).toBe(4429);
  });

  test('subscribe before connection_init: closed with 4401 Unauthorized, nothing executed', async () => {
    const s = await open();
    s.subscribe('1', `{ me { id } }`);
    expect(await s.closeCode()).toBe(4401);
    expect(s.messages).toEqual([]);
  });

  test.each([
    ['no token', {}],
    ['a malformed token', { authorization: 'Bearer not-a-jwt' }],
    ['a token that is not a string', { token: 12345 }],
    ['a token signed with another key', { authorization: 'Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl' }],
    ["a user id instead of a token (seed 002's old socket auth)", { user_id: 1 }],
  ])('connection_init with %s: closed with 4403 Forbidden, no ack', async (_label, payload) => {
    const s = await open();
    s.init(undefined, payload);
    expect(await s.closeCode()).toBe(4403);
    expect(s.messages.map((m) => m.type)).not.toContain('connection_ack');
  });

  test('a frame over WS_MAX_PAYLOAD_BYTES: closed with 1009', async () => {
    const s = await open();
    await s.ack(bob.token);
    s.subscribe('1', `{ me { id } }`, { pad: 'x'.repeat(5000) });
    expect(await s.closeCode()).toBe(1009);
  });

  test('a frame that is not a protocol message: closed with 4400', async () => {
    const s = await open();
    await s.ack(bob.token);
    s.send('{"type":"subscribe","id":');
    expect(await s.closeCode()).toBe(4400);
  });

  test('no graphql-transport-ws subprotocol: closed with 4406', async () => {
    const s = await open(null);
    expect(await s.closeCode()).toBe(4406);
  });

  test('reusing the id of a running subscription: closed with 4409', async () => {
    const s = await open();
    await s.ack(bob.token);
    s.subscribe('same', MESSAGE_ADDED, { c: conversationId });
    s.subscribe('same', MESSAGE_ADDED, { c: conversationId });
    expect(await s.closeCode()).toBe(4409);
  });
});

describe(`subscriptions per socket (WS_MAX_SUBSCRIPTIONS=${MAX_SUBSCRIPTIONS})`, () => {
  test('past the cap a subscribe gets an error with RATE_LIMITED; the socket and its subscriptions live on', async () => {
    const s = await open();
    await s.ack(bob.token);
    const op = messageAdded('Capped');
    for (let i = 1; i <= MAX_SUBSCRIPTIONS; i++) s.subscribe(`s${i}`, op, { c: conversationId });
    s.subscribe('over', op, { c: conversationId });
    const refused = await s.answer('over');
    expect(refused).toMatchObject({ type: 'error', payload: [{ extensions: { code: 'RATE_LIMITED' } }] });
    expect(refused.payload[0].message).toMatch(new RegExp(`at most ${MAX_SUBSCRIPTIONS}`));
    // The socket lives on: a ping sent after the refusal is answered (it would be lost on a closed socket).
    await s.roundTrip();

    await bobRegistered(op, MAX_SUBSCRIPTIONS); // the streams listen
    await send('one');
    for (let i = 1; i <= MAX_SUBSCRIPTIONS; i++) {
      expect(await s.answer(`s${i}`)).toMatchObject({ type: 'next', payload: { data: { messageAdded: { content: 'one' } } } });
    }

    // Completing one frees its place: once the server has handled the complete (the pong of a
    // later ping says so), a new subscribe is accepted and registered.
    s.send({ id: 's1', type: 'complete' });
    await s.roundTrip();
    s.subscribe('later', op, { c: conversationId });
    await s.roundTrip(); // a refusal, had there been one, was sent before this pong
    expect(s.messages.filter((m) => m.id === 'later' && m.type === 'error')).toEqual([]);
    await bobRegistered(op, MAX_SUBSCRIPTIONS + 1);
    await send('two');
    expect(await s.next((m) => m.id === 'later')).toMatchObject({ type: 'next', payload: { data: { messageAdded: { content: 'two' } } } });
    expect(s.messages.filter((m) => m.id === 'later' && m.type === 'error')).toEqual([]);
  });

  test('a burst of 50 subscribes: exactly the first few are served, every other one is refused, the server stays up', async () => {
    const s = await open();
    await s.ack(bob.token);
    const op = messageAdded('Burst');
    for (let i = 1; i <= 50; i++) s.subscribe(`b${i}`, op, { c: conversationId });
    await s.next((m) => m.id === 'b50' && m.type === 'error');
    const refused = s.messages.filter((m) => m.type === 'error');
    expect(refused.map((m) => m.id).sort()).toEqual(Array.from({ length: 50 - MAX_SUBSCRIPTIONS }, (_, i) => `b${i + MAX_SUBSCRIPTIONS + 1}`).sort());
    expect(refused.every((m) => m.payload[0].extensions.code === 'RATE_LIMITED')).toBe(true);
    await bobRegistered(op, MAX_SUBSCRIPTIONS);
    await send('burst');
    // "Nothing else is served" without a timer: a control message sent after 'burst' reaches every
    // served subscription after its 'burst' (bus order), and only the first few are registered
    // with the hub at all (checked below), so no other id can still get one.
    const first = Array.from({ length: MAX_SUBSCRIPTIONS }, (_, i) => `b${i + 1}`);
    for (const id of first) await s.next((m) => m.type === 'next' && m.id === id);
    await send('control');
    for (const id of first) await s.next((m) => m.type === 'next' && m.id === id && m.payload.data.messageAdded.content === 'control');
    const served = s.messages
      .filter((m) => m.type === 'next')
      .map((m) => `${m.id}:${m.payload.data.messageAdded.content}`)
      .sort();
    expect(served).toEqual(first.flatMap((id) => [`${id}:burst`, `${id}:control`]).sort());
    // Only the first few ever reached the hub (the server side of the same count).
    expect(registered(op)).toBe(MAX_SUBSCRIPTIONS);
    // The cap is per socket: another socket of the same user still subscribes.
    const other = await open();
    await other.ack(bob.token);
    other.subscribe('x', `{ me { username } }`);
    expect(await other.answer('x')).toMatchObject({ type: 'next', payload: { data: { me: { username: bob.username } } } });
  });
});
