/**
 * Seed 002's Socket.IO at /socket.io/ (issue 16), driven with the real `socket.io-client`
 * against a real server with the seed document's own events: a customer asks, staff answer,
 * every staff user sees every thread, a customer only their own; typing both ways; the token
 * the seed's `auth: { user_id }` lacked; refusals and acknowledgements; rights that change
 * while the socket is open (staff revoked, logout); the socket limits shared with graphql-ws;
 * writes crossing to GraphQL subscribers and REST readers and back; and, with DATABASE_URL and
 * REDIS_URL, a socket on one instance receiving what was sent on the other. No timer decides
 * an outcome: tests wait for events, or for the server to report a socket ready.
 */
import { io as connectIo, type Socket } from 'socket.io-client';
import { finishedCalls, gqlOk, trackRealtime, waitFor } from '../support/client';
import { startTestCluster, startTestServer, type TestCluster, type TestServer } from '../support/test-server';
import { call, makeStaff, restUser, type RestUser } from './rest/rest-support';

type Payload = Record<string, any>;
interface Server {
  port: number;
  realtime: TestServer['realtime'];
}

/** A Socket.IO client collecting server events in order. */
class IoClient {
  readonly events: { event: string; data: Payload }[] = [];
  private taken = 0;
  private readonly waiters: (() => void)[] = [];

  constructor(readonly socket: Socket) {
    socket.onAny((event: string, data: Payload) => {
      this.events.push({ event, data });
      this.wake();
    });
    socket.on('disconnect', () => this.wake());
  }

  private wake() {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Takes events in order until one of `event` satisfying `match` (the ones before it are skipped); resolves with its data. */
  nextOf(event: string, match: (d: Payload) => boolean = () => true, timeoutMs = 8000): Promise<Payload> {
    const seen: unknown[] = [];
    return new Promise((resolve, reject) => {
      let done = false;
      const timer = setTimeout(() => {
        done = true;
        reject(new Error(`no ${event} within ${timeoutMs} ms; got ${JSON.stringify(seen)}`));
      }, timeoutMs);
      const check = () => {
        if (done) return;
        while (this.taken < this.events.length) {
          const e = this.events[this.taken++];
          seen.push(e);
          if (e.event === event && match(e.data)) {
            done = true;
            clearTimeout(timer);
            resolve(e.data);
            return;
          }
        }
        if (this.socket.disconnected) {
          done = true;
          clearTimeout(timer);
          reject(new Error(`disconnected; got ${JSON.stringify(seen)}`));
          return;
        }
        this.waiters.push(check);
      };
      check();
    });
  }

  /** Every event taken so far or waiting, of `event`. */
  all(event: string): Payload[] {
    return this.events.filter((e) => e.event === event).map((e) => e.data);
  }

  /** Emits with an acknowledgement; resolves with the server's answer. */
  ask(event: string, data: unknown): Promise<Payload> {
    return this.socket.timeout(8000).emitWithAck(event, data);
  }
}

const opened: Socket[] = [];
afterEach(() => {
  for (const s of opened.splice(0)) s.disconnect();
});

type Transport = 'polling' | 'websocket';

/** A Socket.IO client for `auth` (no reconnection: a refusal stays one). */
function ioSocket(srv: Server, auth: Record<string, unknown>, transports: Transport[] = ['polling', 'websocket'], extra: Record<string, unknown> = {}): Socket {
  const s = connectIo(`http://127.0.0.1:${srv.port}`, { auth, transports, reconnection: false, forceNew: true, ...extra });
  opened.push(s);
  return s;
}

/** Connects `user` with `auth: { token }` and resolves once the server reports the socket ready (subscribed). */
async function connect(srv: Server, user: { id: string; token: string }, transports?: Transport[]): Promise<IoClient> {
  const userId = Number(user.id);
  const before = srv.realtime.socketIo.readyCount({ userId });
  const socket = ioSocket(srv, { token: user.token }, transports);
  const client = new IoClient(socket);
  let refused: Error | undefined;
  socket.on('connect_error', (err) => {
    refused = err;
  });
  await waitFor(() => {
    if (refused) throw new Error(`refused: ${refused.message}`);
    return socket.connected && srv.realtime.socketIo.readyCount({ userId }) > before;
  }, 'socket.io ready');
  return client;
}

/** Connects with `auth` and resolves with the `connect_error` the server answers. */
function refusal(srv: Server, auth: Record<string, unknown>, transports?: Transport[]): Promise<Error & { data?: Payload }> {
  const socket = ioSocket(srv, auth, transports);
  return new Promise((resolve, reject) => {
    socket.on('connect', () => reject(new Error('connected')));
    socket.on('connect_error', (err) => resolve(err as Error & { data?: Payload }));
  });
}

const sorted = (o: object) => Object.keys(o).sort();
const MESSAGE_KEYS = ['conversation_id', 'id', 'nguoi_goi_id', 'nguoi_goi_name', 'noi_dung', 'thoi_gian'];

let server: TestServer;
let staff: RestUser;
let staff2: RestUser;
beforeAll(async () => {
  server = await startTestServer();
  staff = await restUser(server, 'nv', { first_name: 'Nhân', last_name: 'Viên' });
  staff2 = await restUser(server, 'nv2');
  await makeStaff(server, staff);
  await makeStaff(server, staff2);
});
afterAll(async () => {
  await server.close();
});
const { client: gqlClient, sub } = trackRealtime(
  () => server.wsUrl,
  () => server,
);

describe('seed 002: Socket.IO at /socket.io/', () => {
  test.each([
    ['polling then websocket', ['polling', 'websocket']],
    ['websocket only', ['websocket']],
  ] as [string, Transport[]][])('a customer asks, every staff user sees it, staff answer with customer_id (%s)', async (_name, transports) => {
    const customer = await restUser(server, 'kh', { first_name: 'Nguyễn', last_name: 'Văn A' });
    const c = await connect(server, customer, transports);
    const s1 = await connect(server, staff, transports);
    const s2 = await connect(server, staff2, ['websocket']);

    // The seed's own example: a customer's send_message has only noi_dung.
    c.socket.emit('send_message', { noi_dung: 'Xin chào, tôi muốn đặt bàn' });
    const asked = await s1.nextOf('new_message', (d) => d.nguoi_goi_id === Number(customer.id));
    expect(sorted(asked)).toEqual(MESSAGE_KEYS);
    expect(asked).toMatchObject({ nguoi_goi_id: Number(customer.id), nguoi_goi_name: 'Nguyễn Văn A', noi_dung: 'Xin chào, tôi muốn đặt bàn' });
    expect(new Date(asked.thoi_gian).toISOString()).toBe(asked.thoi_gian);
    // staff_room: the other staff user too; customer_<id>: the customer sees their own message.
    expect(await s2.nextOf('new_message', (d) => d.id === asked.id)).toEqual(asked);
    expect(await c.nextOf('new_message')).toEqual(asked);

    // Staff answer with customer_id; the customer and the other staff user receive it.
    s1.socket.emit('send_message', { noi_dung: 'Dạ, chúng tôi sẽ hỗ trợ anh/chị ngay', customer_id: Number(customer.id) });
    const answer = await c.nextOf('new_message', (d) => d.nguoi_goi_id === Number(staff.id));
    expect(answer).toMatchObject({ conversation_id: asked.conversation_id, nguoi_goi_name: 'Nhân Viên', noi_dung: 'Dạ, chúng tôi sẽ hỗ trợ anh/chị ngay' });
    expect(await s2.nextOf('new_message', (d) => d.id === answer.id)).toEqual(answer);
    expect(await s1.nextOf('new_message', (d) => d.id === answer.id)).toEqual(answer);

    // The same messages over REST, in the same shape.
    const history = await call(server, 'GET', `/chat/conversations/${asked.conversation_id}/messages/?limit=50&offset=0`, { token: customer.token });
    expect(history.body).toEqual([asked, answer]);
  });

  test("typing both ways (user_typing), never one's own, hidden across a block", async () => {
    const customer = await restUser(server, 'kt', { first_name: 'Trần', last_name: 'B' });
    const c = await connect(server, customer);
    const s1 = await connect(server, staff);
    const s2 = await connect(server, staff2);
    // Typing opens no thread: nobody hears it.
    expect(await c.ask('typing', { is_typing: true })).toEqual({ ok: true });
    const first = await c.ask('send_message', { noi_dung: 'hello' });
    const cid = first.message.conversation_id;

    await call(server, 'POST', `/accounts/connections/block/${staff2.id}/`, { token: customer.token });
    c.socket.emit('typing', { is_typing: true });
    expect(await s1.nextOf('user_typing')).toEqual({
      user_id: Number(customer.id),
      user_name: 'Trần B',
      is_typing: true,
      conversation_id: cid,
      customer_id: Number(customer.id),
    });
    s1.socket.emit('typing', { is_typing: true, customer_id: Number(customer.id) });
    expect(await c.nextOf('user_typing')).toMatchObject({ user_id: Number(staff.id), is_typing: true, conversation_id: cid, customer_id: Number(customer.id) });
    // A later message is the control event: by then any typing for staff2 or one's own would have come first.
    await s1.ask('send_message', { noi_dung: 'control', customer_id: Number(customer.id) });
    for (const client of [c, s1, s2]) await client.nextOf('new_message', (d) => d.noi_dung === 'control');
    // (staff's own send ends their typing: a false may follow the true)
    expect(c.all('user_typing').map((t) => t.user_id)).toContain(Number(staff.id));
    expect(c.all('user_typing').filter((t) => t.user_id !== Number(staff.id))).toEqual([]);
    expect(s1.all('user_typing').map((t) => t.user_id)).toEqual([Number(customer.id)]);
    expect(s2.all('user_typing').filter((t) => t.user_id === Number(customer.id))).toEqual([]);
  });

  test('a customer sees only their own thread; other conversations never reach the endpoint', async () => {
    const one = await restUser(server, 'k1');
    const two = await restUser(server, 'k2');
    const a = await connect(server, one);
    const b = await connect(server, two);
    const s = await connect(server, staff);
    // customer_id is staff's: a customer's names nobody else's thread (it goes to their own).
    const mine = await a.ask('send_message', { noi_dung: 'only mine', customer_id: Number(two.id) });
    expect(mine.ok).toBe(true);
    const own = await call(server, 'GET', '/chat/conversations/my_conversation/', { token: one.token });
    expect(mine.message.conversation_id).toBe(own.body.id);
    // A DIRECT chat between the two customers is not a support thread.
    await call(server, 'POST', '/messages/', { token: one.token, json: { content: 'direct chat', recipient_id: Number(two.id) } });
    const theirs = await b.ask('send_message', { noi_dung: 'control' });
    await b.nextOf('new_message', (d) => d.id === theirs.message.id);
    await s.nextOf('new_message', (d) => d.id === theirs.message.id);
    expect(b.all('new_message').map((m) => m.noi_dung)).toEqual(['control']);
    expect(s.all('new_message').map((m) => m.noi_dung)).toEqual(['only mine', 'control']);
    expect(a.all('new_message').map((m) => m.noi_dung)).toEqual(['only mine']);
  });

  test("a token is required: none, the seed's auth.user_id, a bad one", async () => {
    const customer = await restUser(server, 'ka');
    const none = await refusal(server, {});
    // The refusal says exactly what to send (issue 28).
    expect(none.message).toBe("Unauthorized: An access token is required: io(url, { auth: { token: '<access from POST /api/token/>' } })");
    expect(none.data).toMatchObject({ code: 'UNAUTHENTICATED', close_code: 4401 });
    const seedStyle = await refusal(server, { user_id: Number(customer.id) }, ['websocket']);
    expect(seedStyle.message).toBe("Unauthorized: auth.user_id is not accepted: send auth: { token: '<access from POST /api/token/>' }");
    const bad = await refusal(server, { token: 'not-a-token' });
    expect(bad.data).toMatchObject({ code: 'UNAUTHENTICATED' });
    // The header and ?token= work too.
    const viaHeader = ioSocket(server, {}, ['websocket'], { extraHeaders: { authorization: `Bearer ${customer.token}` } });
    await new Promise<void>((resolve, reject) => {
      viaHeader.on('connect', () => resolve());
      viaHeader.on('connect_error', reject);
    });
    const viaQuery = ioSocket(server, {}, ['polling'], { query: { token: customer.token } });
    await new Promise<void>((resolve, reject) => {
      viaQuery.on('connect', () => resolve());
      viaQuery.on('connect_error', reject);
    });
  });

  test("refused and invalid events: an error event, or the acknowledgement's error", async () => {
    const customer = await restUser(server, 'kr');
    const c = await connect(server, customer);
    const s = await connect(server, staff);
    s.socket.emit('send_message', { noi_dung: 'who to?' });
    expect(await s.nextOf('error')).toEqual({ code: 'BAD_USER_INPUT', message: expect.stringMatching(/customer_id is required/), event: 'send_message' });
    expect(await s.ask('send_message', { noi_dung: 'to staff', customer_id: Number(staff2.id) })).toEqual({
      ok: false,
      error: { code: 'BAD_USER_INPUT', message: 'Staff users have no support thread' },
    });
    expect(await s.ask('send_message', { noi_dung: 'nobody', customer_id: 999999 })).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
    expect(await c.ask('send_message', { noi_dung: 42 })).toEqual({ ok: false, error: { code: 'BAD_USER_INPUT', message: 'noi_dung must be a string' } });
    expect(await c.ask('send_message', { noi_dung: '   ' })).toMatchObject({ ok: false, error: { code: 'BAD_USER_INPUT' } });
    expect(await c.ask('send_message', 'text')).toMatchObject({ ok: false, error: { code: 'BAD_USER_INPUT' } });
    expect(await c.ask('typing', { is_typing: 'yes' })).toMatchObject({ ok: false, error: { code: 'BAD_USER_INPUT' } });
    c.socket.emit('delete_everything', {});
    expect(await c.nextOf('error')).toEqual({ code: 'BAD_USER_INPUT', message: 'Unknown event "delete_everything"', event: 'delete_everything' });
    // Nothing half-written: no thread was opened for the customer by the refused sends, and staff2 has none.
    const rows = await server.orm.em
      .fork()
      .execute('select count(*)::int as n from "conversations" where "kind" = \'SUPPORT\' and "customer_id" in (?, ?)', [
        Number(customer.id),
        Number(staff2.id),
      ]);
    expect(rows[0].n).toBe(0);
    expect(c.socket.connected && s.socket.connected).toBe(true);
  });

  test('a burst of sends is handled in order; a resend with the same client_message_id is one message', async () => {
    const customer = await restUser(server, 'kb');
    const c = await connect(server, customer);
    const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => c.ask('send_message', { noi_dung: `m${i}` })));
    expect(answers.every((a) => a.ok)).toBe(true);
    const ids = answers.map((a) => a.message.id);
    expect([...ids].sort((x, y) => x - y)).toEqual(ids);
    const again = await Promise.all([1, 2, 3].map(() => c.ask('send_message', { noi_dung: 'once', client_message_id: 'k-1' })));
    expect(new Set(again.map((a) => a.message.id)).size).toBe(1);
    const history = await call(server, 'GET', `/chat/conversations/${answers[0].message.conversation_id}/messages/?limit=50`, { token: customer.token });
    expect(history.body.map((m: Payload) => m.noi_dung)).toEqual([...Array.from({ length: 12 }, (_, i) => `m${i}`), 'once']);
  });

  test('rights change on the open socket: staff revoked stop receiving other threads; logout disconnects (FORBIDDEN)', async () => {
    const boss = await restUser(server, 'boss');
    await makeStaff(server, boss);
    const demoted = await restUser(server, 'dem');
    await makeStaff(server, demoted);
    const customer = await restUser(server, 'kd');
    const c = await connect(server, customer);
    const d = await connect(server, demoted);
    const first = await c.ask('send_message', { noi_dung: 'before' });
    await d.nextOf('new_message', (m) => m.id === first.message.id);
    const bossToken = (await call(server, 'POST', '/token/', { json: { username: boss.username, password: boss.password } })).body.access;
    await gqlOk(server.url, 'mutation($u: ID!) { setUserStaff(userId: $u, isStaff: false) { id } }', { u: demoted.id }, bossToken);
    const after = await c.ask('send_message', { noi_dung: 'after' });
    // The control: a message in demoted's own thread (demoted is a customer now) arrives; "after" never did.
    const own = await d.ask('send_message', { noi_dung: 'my own question' });
    await d.nextOf('new_message', (m) => m.id === own.message.id);
    expect(d.all('new_message').map((m) => m.id)).toEqual([first.message.id, own.message.id]);
    expect(after.ok).toBe(true);

    const disconnected = new Promise<string>((resolve) => c.socket.on('disconnect', (reason) => resolve(reason)));
    expect((await call(server, 'POST', '/accounts/logout/', { token: customer.token, json: { refresh: customer.refreshToken } })).status).toBeLessThan(300);
    expect(await c.nextOf('error', (e) => e.code === 'FORBIDDEN')).toMatchObject({ close_code: 4403, message: expect.stringMatching(/logged out/) });
    expect(await disconnected).toBe('io server disconnect');
    // The logged-out token opens no new socket.
    expect((await refusal(server, { token: customer.token })).data).toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  test("writes cross: a socket's message reaches a GraphQL subscriber; GraphQL and REST sends reach the socket", async () => {
    const customer = await restUser(server, 'kx');
    const c = await connect(server, customer);
    const s = await connect(server, staff);
    const first = await c.ask('send_message', { noi_dung: 'open the thread' });
    const cid = String(first.message.conversation_id);
    const live = sub(gqlClient(customer), 'subscription($c: ID) { messageAdded(conversationId: $c) { id content sender { id } } }', { c: cid });
    await live.ready();
    const viaSocket = await c.ask('send_message', { noi_dung: 'over socket.io' });
    expect((await live.next()).messageAdded).toEqual({ id: String(viaSocket.message.id), content: 'over socket.io', sender: { id: customer.id } });
    await call(server, 'POST', `/chat/conversations/${cid}/send_message/`, { token: staff.token, json: { noi_dung: 'over REST' } });
    expect(await c.nextOf('new_message', (m) => m.noi_dung === 'over REST')).toMatchObject({ nguoi_goi_id: Number(staff.id), conversation_id: Number(cid) });
    await gqlOk(server.url, 'mutation($c: ID!) { sendMessage(input: { conversationId: $c, content: "over GraphQL" }) { id } }', { c: cid }, customer.token);
    await s.nextOf('new_message', (m) => m.noi_dung === 'over GraphQL');
  });
});

describe('limits shared with graphql-ws', () => {
  let limited: TestServer;
  beforeAll(async () => {
    limited = await startTestServer({ WS_MAX_SOCKETS_PER_USER: '2', WS_MAX_PAYLOAD_BYTES: '2048' });
  });
  afterAll(async () => {
    await limited.close();
  });

  test('WS_MAX_SOCKETS_PER_USER counts Socket.IO and graphql-ws sockets together; an oversized event disconnects', async () => {
    const user = await restUser(limited, 'lim');
    const { wsClient, subscribe } = await import('../support/client');
    const g = wsClient(limited.wsUrl, user.token);
    const presence = subscribe(g, 'subscription { presence { user { id } } }');
    await presence.ready();
    await connect(limited, user, ['websocket']);
    const third = await refusal(limited, { token: user.token }, ['websocket']);
    expect(third.data).toMatchObject({ code: 'RATE_LIMITED', close_code: 1013 });
    expect(third.message).toMatch(/Too many open sockets/);
    presence.stop();
    await g.dispose();

    const other = await restUser(limited, 'big');
    const big = await connect(limited, other, ['websocket']);
    const gone = new Promise<string>((resolve) => big.socket.on('disconnect', (reason) => resolve(reason)));
    big.socket.emit('send_message', { noi_dung: 'x'.repeat(4096) });
    expect(await gone).toBe('transport close');
  });
});

test('shutdown: an open socket gets error SHUTTING_DOWN and is disconnected', async () => {
  const srv = await startTestServer();
  const user = await restUser(srv, 'sd');
  const c = await connect(srv, user, ['websocket']);
  const gone = new Promise<string>((resolve) => c.socket.on('disconnect', (reason) => resolve(reason)));
  await srv.close();
  expect(c.all('error')).toEqual([{ code: 'SHUTTING_DOWN', close_code: 1001, message: 'Server shutting down' }]);
  expect(await gone).toBe('io server disconnect');
});

const scale = Boolean(process.env.DATABASE_URL && process.env.REDIS_URL);
(scale ? describe : describe.skip)('two instances on one PostgreSQL and one Redis', () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startTestCluster(2);
  });
  afterAll(async () => {
    await cluster.close();
  });

  test('a Socket.IO socket on one instance receives what was sent on the other (Socket.IO and REST)', async () => {
    const [one, two] = cluster.instances;
    const viaOne = one as unknown as TestServer;
    const customer = await restUser(viaOne, 'kc');
    const boss = await restUser(viaOne, 'nvc');
    await makeStaff(viaOne, boss);
    const s = await connect(one, boss, ['websocket']);
    const c = await connect(two, customer, ['polling']);
    const asked = await c.ask('send_message', { noi_dung: 'from instance two' });
    await s.nextOf('new_message', (m) => m.id === asked.message.id);
    s.socket.emit('send_message', { noi_dung: 'from instance one', customer_id: Number(customer.id) });
    await c.nextOf('new_message', (m) => m.noi_dung === 'from instance one');
    await call(two as unknown as TestServer, 'POST', `/chat/conversations/${asked.message.conversation_id}/send_message/`, {
      token: customer.token,
      json: { noi_dung: 'REST on two' },
    });
    await s.nextOf('new_message', (m) => m.noi_dung === 'REST on two');
    c.socket.emit('typing', { is_typing: true });
    expect((await s.nextOf('user_typing')).user_id).toBe(Number(customer.id));
  });
});

(scale ? describe : describe.skip)('WS_MAX_SOCKETS_PER_USER across two instances', () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startTestCluster(2, { WS_MAX_SOCKETS_PER_USER: '2' });
  });
  afterAll(async () => {
    await cluster.close();
  });

  test('the limit holds for the deployment: more instances do not multiply it', async () => {
    const [one, two] = cluster.instances;
    const user = await restUser(one as unknown as TestServer, 'many');
    const leftOne = finishedCalls(cluster.instances[0].services.presence, 'disconnected');
    await connect(one, user, ['websocket']);
    await connect(two, user, ['websocket']);
    // Instance one holds a single socket of this user: only the shared count refuses the third.
    const third = await refusal(one, { token: user.token }, ['websocket']);
    expect(third.data).toMatchObject({ code: 'RATE_LIMITED', close_code: 1013 });
    const fourth = await refusal(two, { token: user.token }, ['websocket']);
    expect(fourth.data).toMatchObject({ code: 'RATE_LIMITED' });
    // A refused socket left no presence entry behind: closing one opens a place again.
    opened[0].disconnect();
    // Instance one's presence let go of both: the refused third socket and the closed first.
    await leftOne.reached(2, (userId: number) => userId === Number(user.id));
    leftOne.restore();
    await connect(one, user, ['websocket']);
  });
});
