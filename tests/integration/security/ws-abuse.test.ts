/**
 * WebSocket abuse (issue 7), each with a raw `ws` client speaking graphql-transport-ws by hand:
 * no connection_init → 4408, a second connection_init → 4429, subscribe before the ack → 4401,
 * a missing or bad token → 4403, an oversized frame → 1009, and a flood of subscriptions on one
 * socket: past WS_MAX_SUBSCRIPTIONS each new one gets an `error` message with RATE_LIMITED while
 * the socket and the subscriptions it already has keep working.
 */
import { gqlOk, registerUser, type TestUser } from '../../support/client';
import { startTestServer, type TestServer } from '../../support/test-server';
import { RawSocket } from './transport-support';

jest.setTimeout(60000);

const MAX_SUBSCRIPTIONS = 3;
let server: TestServer;
let alice: TestUser;
let bob: TestUser;
let conversationId: string;
const sockets: RawSocket[] = [];
/** A raw socket closed after the test. */
async function open(protocol?: string | null): Promise<RawSocket> {
  const s = await RawSocket.open(server.wsUrl, protocol);
  sockets.push(s);
  return s;
}

beforeAll(async () => {
  server = await startTestServer({
    WS_MAX_SUBSCRIPTIONS: String(MAX_SUBSCRIPTIONS), WS_INIT_TIMEOUT_MS: '1000', WS_MAX_PAYLOAD_BYTES: '4096',
    RATE_WS_PER_MIN_IP: '100000', RATE_WS_PER_MIN_USER: '100000',
  });
  [alice, bob] = await Promise.all([registerUser(server.url, 'wsa'), registerUser(server.url, 'wsa')]);
  conversationId = (await gqlOk(server.url, `mutation($u: ID!) { openDirectChat(userId: $u) { id } }`, { u: bob.id }, alice.token)).openDirectChat.id;
});
afterEach(() => { for (const s of sockets.splice(0)) s.close(); });
afterAll(async () => { await server?.close(); });

const MESSAGE_ADDED = `subscription($c: ID) { messageAdded(conversationId: $c) { content } }`;
const send = (content: string) => gqlOk(server.url, `mutation($c: ID!, $t: String!) { sendMessage(input: { conversationId: $c, content: $t }) { id } }`, { c: conversationId, t: content }, alice.token);

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
    ['a user id instead of a token (seed 002\'s old socket auth)', { user_id: 1 }],
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
    for (let i = 1; i <= MAX_SUBSCRIPTIONS; i++) s.subscribe(`s${i}`, MESSAGE_ADDED, { c: conversationId });
    s.subscribe('over', MESSAGE_ADDED, { c: conversationId });
    const refused = await s.answer('over');
    expect(refused).toMatchObject({ type: 'error', payload: [{ extensions: { code: 'RATE_LIMITED' } }] });
    expect(refused.payload[0].message).toMatch(new RegExp(`at most ${MAX_SUBSCRIPTIONS}`));
    expect(await s.stillOpen(100)).toBe(true);

    await new Promise((r) => setTimeout(r, 150)); // the streams listen
    await send('one');
    for (let i = 1; i <= MAX_SUBSCRIPTIONS; i++) {
      expect(await s.answer(`s${i}`)).toMatchObject({ type: 'next', payload: { data: { messageAdded: { content: 'one' } } } });
    }

    // Completing one frees its place.
    s.send({ id: 's1', type: 'complete' });
    await new Promise((r) => setTimeout(r, 100));
    s.subscribe('later', MESSAGE_ADDED, { c: conversationId });
    await new Promise((r) => setTimeout(r, 150));
    await send('two');
    expect(await s.next((m) => m.id === 'later')).toMatchObject({ type: 'next', payload: { data: { messageAdded: { content: 'two' } } } });
    expect(s.messages.filter((m) => m.id === 'later' && m.type === 'error')).toEqual([]);
  });

  test('a burst of 50 subscribes: exactly the first few are served, every other one is refused, the server stays up', async () => {
    const s = await open();
    await s.ack(bob.token);
    for (let i = 1; i <= 50; i++) s.subscribe(`b${i}`, MESSAGE_ADDED, { c: conversationId });
    await s.next((m) => m.id === 'b50' && m.type === 'error');
    const refused = s.messages.filter((m) => m.type === 'error');
    expect(refused).toHaveLength(50 - MAX_SUBSCRIPTIONS);
    expect(refused.every((m) => m.payload[0].extensions.code === 'RATE_LIMITED')).toBe(true);
    await new Promise((r) => setTimeout(r, 150));
    await send('burst');
    await s.next((m) => m.type === 'next' && m.id === `b${MAX_SUBSCRIPTIONS}`);
    await new Promise((r) => setTimeout(r, 200));
    const served = s.messages.filter((m) => m.type === 'next').map((m) => m.id).sort();
    expect(served).toEqual(Array.from({ length: MAX_SUBSCRIPTIONS }, (_, i) => `b${i + 1}`).sort());
    // The cap is per socket: another socket of the same user still subscribes.
    const other = await open();
    await other.ack(bob.token);
    other.subscribe('x', `{ me { username } }`);
    expect(await other.answer('x')).toMatchObject({ type: 'next', payload: { data: { me: { username: bob.username } } } });
  });
});
