import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { InMemoryEventBus } from '../../src/realtime/state/event-bus';
import { CLOSE_FORBIDDEN, REVOKED_MEMORY_MS, SocketSessions } from '../../src/realtime/transports/socket-sessions';
import type { Session } from '../../src/domain/auth/auth.service';

/**
 * SocketSessions over real sockets (a `ws` server and client on localhost) and the in-process bus:
 * a revoked login's sockets close with 4403 (docs/graphql-api.md "Auth flow": logout, a password change and a
 * deleted account end that login's sockets), also when the revocation arrives between a socket's
 * login check and its adding (a logout racing a connect), within REVOKED_MEMORY_MS.
 */
describe('SocketSessions', () => {
  let server: WebSocketServer;
  let url: string;
  const open: WebSocket[] = [];

  beforeAll(async () => {
    server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise<void>((r) => server.once('listening', () => r()));
    url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    for (const c of open) c.terminate();
    await new Promise<void>((r) => server.close(() => r()));
  });

  /** A connected pair: the server side (what SocketSessions tracks) and the client, with its close code. */
  async function pair(): Promise<{ socket: WebSocket; closed: Promise<number> }> {
    const accepted = new Promise<WebSocket>((r) => server.once('connection', (s) => r(s)));
    const client = new WebSocket(url);
    open.push(client);
    const closed = new Promise<number>((r) => client.once('close', (code) => r(code)));
    await new Promise<void>((r, j) => {
      client.once('open', () => r());
      client.once('error', j);
    });
    return { socket: await accepted, closed };
  }

  const session = (sessionId: string): Session =>
    ({
      actor: { id: 1, username: 'alice', isStaff: false },
      expiresAt: new Date(Date.now() + 3_600_000),
      sessionId,
    }) as Session;

  test("a login revoked after its socket was added closes that socket (4403), not another login's", async () => {
    const bus = new InMemoryEventBus();
    const sessions = new SocketSessions(bus);
    const a = await pair();
    const b = await pair();
    expect(sessions.add(a.socket, session('one'))).toBe(true);
    expect(sessions.add(b.socket, session('two'))).toBe(true);
    bus.publish({ type: 'session.revoked', sessionId: 'one', userId: 1 });
    expect(await a.closed).toBe(CLOSE_FORBIDDEN);
    expect(b.socket.readyState).toBe(WebSocket.OPEN);
    sessions.close();
  });

  test("a login revoked between the socket's check and its adding: the socket is refused and closed (4403)", async () => {
    const bus = new InMemoryEventBus();
    const sessions = new SocketSessions(bus);
    const late = await pair();
    bus.publish({ type: 'session.revoked', sessionId: 'one', userId: 1 });
    expect(sessions.add(late.socket, session('one'))).toBe(false);
    expect(await late.closed).toBe(CLOSE_FORBIDDEN);
    // Another login of the same user is unaffected.
    const other = await pair();
    expect(sessions.add(other.socket, session('two'))).toBe(true);
    expect(other.socket.readyState).toBe(WebSocket.OPEN);
    sessions.close();
  });

  test('a revocation is remembered for REVOKED_MEMORY_MS, then forgotten (the map does not grow)', async () => {
    let now = 1_000_000;
    const bus = new InMemoryEventBus();
    const sessions = new SocketSessions(bus, () => now);
    bus.publish({ type: 'session.revoked', sessionId: 'old', userId: 1 });
    now += REVOKED_MEMORY_MS - 1;
    const early = await pair();
    expect(sessions.add(early.socket, session('old'))).toBe(false);
    expect(await early.closed).toBe(CLOSE_FORBIDDEN);
    now += 2;
    // The next revocation prunes the expired one.
    bus.publish({ type: 'session.revoked', sessionId: 'new', userId: 1 });
    const later = await pair();
    expect(sessions.add(later.socket, session('old'))).toBe(true);
    expect(later.socket.readyState).toBe(WebSocket.OPEN);
    sessions.close();
  });
});
