/**
 * The seeds' WebSocket dialects at /ws/chat/<x>/ (issue 16): seed 000 (a username), seed 003 (a
 * room id), seed 004 (a DIRECT conversation id), driven with real `ws` clients against a real
 * server, with the seed documents' own frames: connect, send, the other side's message live,
 * typing, read/edit/delete where the seed has them, refusals (bad and logged-out tokens, a
 * non-member, a block), the `<x>` rule's ambiguous cases, the shared socket limits, and writes
 * crossing to GraphQL subscribers and REST readers (and back). With DATABASE_URL and REDIS_URL,
 * a socket on one instance receives what was sent on the other. No timer decides an outcome:
 * tests wait for frames, or for the server to report a socket ready (readyCount).
 */
import sharp from 'sharp';
import WebSocket from 'ws';
import { gqlOk, trackRealtime, waitFor } from '../support/client';
import { startTestCluster, startTestServer, type TestCluster, type TestServer } from '../support/test-server';
import { call, form, gqlData, makeStaff, restUser, type RestUser } from './rest/rest-support';

type Frame = Record<string, any>;
type Closed = { code: number; reason: string };

/** Every legacy socket a test opened (closed after each test). */
const opened: LegacyClient[] = [];

/** A raw `ws` client collecting JSON frames in order. */
class LegacyClient {
  readonly frames: Frame[] = [];
  private taken = 0;
  private readonly waiters: (() => void)[] = [];
  readonly closed: Promise<Closed>;
  /** Set when the server refused the HTTP upgrade itself (its status). */
  httpStatus?: number;

  constructor(
    readonly url: string,
    headers: Record<string, string> = {},
  ) {
    this.ws = new WebSocket(url, { headers });
    opened.push(this);
    this.closed = new Promise((resolve) => {
      this.ws.on('close', (code, reason) => {
        resolve({ code, reason: String(reason) });
        this.wake();
      });
      this.ws.on('unexpected-response', (_req, res) => {
        this.httpStatus = res.statusCode;
        resolve({ code: -res.statusCode!, reason: 'http' });
        this.wake();
      });
      this.ws.on('error', () => undefined);
    });
    this.ws.on('message', (data) => {
      this.frames.push(JSON.parse(String(data)));
      this.wake();
    });
  }

  readonly ws: WebSocket;

  private wake() {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Takes frames in order until one satisfies `isLast` (taken too); resolves with all of them. */
  until(isLast: (f: Frame) => boolean, timeoutMs = 8000): Promise<Frame[]> {
    const got: Frame[] = [];
    return new Promise((resolve, reject) => {
      let done = false;
      const timer = setTimeout(() => {
        done = true;
        reject(new Error(`${this.url}: no matching frame within ${timeoutMs} ms; got ${JSON.stringify(got)}`));
      }, timeoutMs);
      const check = () => {
        if (done) return;
        while (this.taken < this.frames.length) {
          const f = this.frames[this.taken++];
          got.push(f);
          if (isLast(f)) {
            done = true;
            clearTimeout(timer);
            resolve(got);
            return;
          }
        }
        if (this.ws.readyState === WebSocket.CLOSED) {
          done = true;
          clearTimeout(timer);
          reject(new Error(`${this.url}: closed; got ${JSON.stringify(got)}`));
          return;
        }
        this.waiters.push(check);
      };
      check();
    });
  }

  /** The next frame not yet taken. */
  async next(timeoutMs = 8000): Promise<Frame> {
    return (await this.until(() => true, timeoutMs))[0];
  }

  /** The next frame of `type` (the ones before it are skipped). */
  async nextOf(type: string, timeoutMs = 8000): Promise<Frame> {
    const got = await this.until((f) => f.type === type, timeoutMs);
    return got[got.length - 1];
  }

  send(frame: object | string): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  async open(): Promise<void> {
    if (this.ws.readyState === WebSocket.OPEN) return;
    await new Promise<void>((resolve, reject) => {
      this.ws.once('open', () => resolve());
      void this.closed.then((c) => reject(new Error(`${this.url}: closed ${c.code} ${c.reason} before opening`)));
    });
  }
}

afterEach(async () => {
  for (const c of opened.splice(0)) {
    if (c.ws.readyState === WebSocket.OPEN || c.ws.readyState === WebSocket.CONNECTING) c.ws.terminate();
  }
});

interface Server {
  port: number;
  realtime: TestServer['realtime'];
}

/** ws://127.0.0.1:PORT/ws/chat/<x>/?query */
const wsUrl = (srv: Server, x: string, query = '') => `ws://127.0.0.1:${srv.port}/ws/chat/${encodeURIComponent(x)}/${query ? `?${query}` : ''}`;

/**
 * Opens a legacy socket for `user` at `/ws/chat/<x>/` (token in `?token=`, or with `header` in
 * Authorization) and resolves once the server reports it ready (authenticated, bound and
 * subscribed), so that what happens from now on reaches it.
 */
async function connect(srv: Server, user: { id: string; token: string }, x: string, opts: { query?: string; header?: boolean } = {}): Promise<LegacyClient> {
  const userId = Number(user.id);
  const before = srv.realtime.legacy.readyCount({ userId });
  const query = opts.header ? (opts.query ?? '') : [`token=${encodeURIComponent(user.token)}`, opts.query].filter(Boolean).join('&');
  const c = new LegacyClient(wsUrl(srv, x, query), opts.header ? { authorization: `Bearer ${user.token}` } : {});
  let refused: Closed | undefined;
  void c.closed.then((r) => {
    refused = r;
  });
  await waitFor(() => {
    if (refused) throw new Error(`${c.url} closed ${refused.code} ${refused.reason}`);
    return srv.realtime.legacy.readyCount({ userId }) > before;
  }, `legacy socket ready at ${c.url}`);
  await c.open();
  return c;
}

/** Opens a socket that the server must refuse; resolves with its close code and reason. */
async function refusedWith(srv: Server, x: string, query = '', headers: Record<string, string> = {}): Promise<Closed> {
  const c = new LegacyClient(wsUrl(srv, x, query), headers);
  return c.closed;
}

/**
 * Opens `/ws/chat/<x>/` as `user` and settles on whichever comes first: the close code of a
 * refusal, or 'admitted' when the server reports the socket ready (then it is closed again), so a
 * wrongly admitted socket fails a test at once instead of by timeout.
 */
async function admittedOrClosed(srv: Server, user: { id: string; token: string }, x: string, query = ''): Promise<number | 'admitted'> {
  const userId = Number(user.id);
  const before = srv.realtime.legacy.readyCount({ userId });
  const c = new LegacyClient(wsUrl(srv, x, `token=${encodeURIComponent(user.token)}${query}`));
  let closed: Closed | undefined;
  void c.closed.then((r) => {
    closed = r;
  });
  await waitFor(() => closed != null || srv.realtime.legacy.readyCount({ userId }) > before, `legacy socket settled at ${c.url}`);
  if (closed) return closed.code;
  c.ws.close();
  await c.closed;
  return 'admitted';
}

const sorted = (o: object) => Object.keys(o).sort();

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.close();
});
const { client: gqlClient, sub } = trackRealtime(
  () => server.wsUrl,
  () => server,
);

/** A DIRECT conversation between two users, opened through seed 004's send-to-recipient. */
async function directBetween(a: RestUser, b: RestUser, srv: TestServer = server): Promise<number> {
  const res = await call(srv, 'POST', '/messages/', { token: a.token, json: { content: 'hi', recipient_id: Number(b.id) } });
  expect(res.status).toBe(201);
  return res.body.conversation;
}

/** A public seed-003 room created by `owner` and joined by `members`. */
async function roomWith(owner: RestUser, ...members: RestUser[]): Promise<number> {
  const res = await call(server, 'POST', '/chat/rooms/', { token: owner.token, json: { name: `room ${owner.username}`, room_type: 'public' } });
  expect(res.status).toBe(201);
  for (const m of members) expect((await call(server, 'POST', `/chat/rooms/${res.body.id}/join/`, { token: m.token })).status).toBe(200);
  return res.body.id;
}

/** A user with exactly this username (REST register + token). */
async function userNamed(username: string): Promise<RestUser> {
  const password = 'correct-horse-battery';
  const reg = await call(server, 'POST', '/accounts/register/', { json: { username, password } });
  if (reg.status !== 201) throw new Error(`register ${username}: ${reg.status} ${reg.text}`);
  const tok = await call(server, 'POST', '/token/', { json: { username, password } });
  return { id: String(reg.body.id), username, password, token: tok.body.access, refreshToken: tok.body.refresh };
}

const MESSAGE_ADDED = 'subscription($c: ID) { messageAdded(conversationId: $c) { id content sender { username } } }';

describe('seed 000: /ws/chat/<recipient_username>/', () => {
  test('privacy (issue 27 §5): a peer with presenceVisibility NOBODY shows offline and no status frames; with sendReadReceipts off, no read frames', async () => {
    const alice = await restUser(server, 'ap_');
    const bob = await restUser(server, 'bp_');
    await directBetween(alice, bob);
    await gqlData(server, bob, 'mutation { updatePrivacy(input: { presenceVisibility: NOBODY, sendReadReceipts: false }) { presenceVisibility } }');
    const b = await connect(server, bob, alice.username);
    expect(await b.next()).toEqual({ type: 'status', username: alice.username, status: 'offline' });
    // bob is online, but alice is told offline, and bob's status changes never reach her.
    const a = await connect(server, alice, bob.username);
    expect(await a.next()).toEqual({ type: 'status', username: bob.username, status: 'offline' });
    expect(await b.nextOf('status')).toEqual({ type: 'status', username: alice.username, status: 'online' });
    a.send({ type: 'message', message: 'are you there?', username: alice.username });
    await b.until((f) => f.type === 'message' && f.message === 'are you there?');
    b.send({ type: 'read' });
    b.send({ type: 'message', message: 'after reading', username: bob.username });
    const toAlice = await a.until((f) => f.type === 'message' && f.message === 'after reading');
    expect(toAlice.filter((f) => f.type === 'read' || f.type === 'status')).toEqual([]);
    // Turned back on: alice gets bob's read frames again.
    await gqlData(server, bob, 'mutation { updatePrivacy(input: { sendReadReceipts: true }) { sendReadReceipts } }');
    a.send({ type: 'message', message: 'again', username: alice.username });
    await b.until((f) => f.type === 'message' && f.message === 'again');
    b.send({ type: 'read' });
    expect(await a.nextOf('read')).toMatchObject({ type: 'read', username: bob.username });
  });

  test('connect, status, message both ways, typing, read; REST history sees it', async () => {
    const alice = await restUser(server, 'a0_');
    const bob = await restUser(server, 'b0_');
    const a = await connect(server, alice, bob.username);
    // The peer's presence comes first: bob has no socket yet.
    expect(await a.next()).toEqual({ type: 'status', username: bob.username, status: 'offline' });
    const b = await connect(server, bob, alice.username, { header: true });
    expect(await b.next()).toEqual({ type: 'status', username: alice.username, status: 'online' });
    expect(await a.nextOf('status')).toEqual({ type: 'status', username: bob.username, status: 'online' });

    // The seed's own frame; its `username` is the sender's and is not trusted (the token says who sends).
    a.send({ type: 'message', message: 'Nội dung tin nhắn', username: 'someone-else' });
    const got = await b.nextOf('message');
    expect(sorted(got)).toEqual(['message', 'message_id', 'timestamp', 'type', 'username']);
    expect(got).toMatchObject({ type: 'message', message: 'Nội dung tin nhắn', username: alice.username });
    expect(new Date(got.timestamp).toISOString()).toBe(got.timestamp);
    expect(await a.nextOf('message')).toEqual(got); // the sender's socket gets it too

    b.send({ type: 'typing', is_typing: true });
    expect(await a.nextOf('typing')).toEqual({ type: 'typing', username: bob.username, is_typing: true });
    b.send({ type: 'typing', is_typing: false });
    expect(await a.nextOf('typing')).toEqual({ type: 'typing', username: bob.username, is_typing: false });

    b.send({ type: 'read' });
    const read = await a.nextOf('read');
    expect(read).toMatchObject({ type: 'read', username: bob.username });
    expect(sorted(read)).toEqual(['timestamp', 'type', 'username']);

    // bob's own typing and read receipts never come back to him (alice's do: sending reads the chat).
    a.send({ type: 'message', message: 'reply', username: alice.username });
    const toBob = await b.until((f) => f.type === 'message');
    expect(toBob.filter((f) => f.type === 'typing' || (f.type === 'read' && f.username === bob.username))).toEqual([]);

    const history = await call(server, 'GET', `/chat/history/${alice.username}/`, { token: bob.token });
    expect(history.body.map((m: any) => [m.message_id, m.message, m.username])).toEqual([
      [got.message_id, 'Nội dung tin nhắn', alice.username],
      [expect.any(Number), 'reply', alice.username],
    ]);
    // Read: bob marked it over the socket.
    expect((await call(server, 'GET', '/chat/unread/count/', { token: bob.token })).body.total_unread).toBe(1);

    b.ws.close();
    expect(await a.nextOf('status')).toEqual({ type: 'status', username: bob.username, status: 'offline' });
  });

  test('connecting get-or-creates the DIRECT chat and the connection; invalid frames are ignored', async () => {
    const alice = await restUser(server, 'a0_');
    const bob = await restUser(server, 'b0_');
    const a = await connect(server, alice, bob.username);
    const conns = await call(server, 'GET', '/accounts/connections/users/', { token: bob.token });
    expect(conns.body.map((c: any) => [c.user.username, c.status])).toEqual([[alice.username, 'accepted']]);
    const recent = await call(server, 'GET', '/chat/recent-conversations/', { token: alice.token });
    expect(recent.body.map((c: any) => c.other_user.username)).toEqual([bob.username]);
    a.send('not json');
    a.send({ type: 'nope' });
    a.send({ type: 'message', message: 42 });
    a.send({ type: 'message', message: 'after the junk', username: alice.username });
    const frames = await a.until((f) => f.type === 'message');
    expect(frames.map((f) => f.type)).toEqual(['status', 'message']);
    expect(frames[1].message).toBe('after the junk');
  });
});

describe('seed 004: /ws/chat/<conversation_id>/ of a DIRECT conversation', () => {
  test('new_message, message_edited, message_deleted, user_typing; invalid events get no answer', async () => {
    const alice = await restUser(server, 'a4_');
    const bob = await restUser(server, 'b4_');
    const cid = await directBetween(alice, bob);
    const a = await connect(server, alice, String(cid));
    const b = await connect(server, bob, String(cid), { header: true });
    expect(server.realtime.legacy.readyCount({ userId: Number(alice.id), dialect: '004' })).toBe(1);

    b.send({ type: 'chat_message', content: 'محتوای پیام جدید.' });
    const added = await a.next();
    expect(added).toEqual({
      type: 'new_message',
      message: {
        id: expect.any(Number),
        sender: { id: Number(bob.id), username: bob.username, profile_picture: null },
        content: 'محتوای پیام جدید.',
        timestamp: expect.any(String),
      },
    });
    expect(await b.next()).toEqual(added);
    const id = added.message.id;

    b.send({ type: 'edit_message', message_id: id, content: 'محتوای ویرایش شده.' });
    expect(await a.next()).toEqual({ type: 'message_edited', message: { id, content: 'محتوای ویرایش شده.' } });
    expect(await b.next()).toEqual({ type: 'message_edited', message: { id, content: 'محتوای ویرایش شده.' } });

    // Editing or deleting someone else's message, bad JSON, unknown types: ignored, no answer.
    a.send({ type: 'edit_message', message_id: id, content: 'hijacked' });
    a.send({ type: 'delete_message', message_id: id });
    a.send('{oops');
    a.send({ type: 'explode' });
    a.send({ type: 'edit_message', message_id: 999999, content: 'x' });
    a.send({ type: 'chat_message', content: 'control' });
    expect((await a.next()).message.content).toBe('control');
    expect((await b.next()).message.content).toBe('control');

    a.send({ type: 'typing', is_typing: true });
    expect(await b.next()).toEqual({ type: 'user_typing', user: { id: Number(alice.id), username: alice.username, profile_picture: null }, is_typing: true });

    b.send({ type: 'delete_message', message_id: id });
    expect(await a.nextOf('message_deleted')).toEqual({ type: 'message_deleted', message_id: id });

    const page = await call(server, 'GET', `/conversations/${cid}/messages/`, { token: alice.token });
    const row = page.body.results.find((m: any) => m.id === id);
    expect(row).toMatchObject({ is_deleted: true, is_edited: true, content: '' });
    expect(page.body.results.map((m: any) => m.content)).toContain('control');
  });

  test('a write on the socket reaches a GraphQL subscriber; a GraphQL send reaches the socket', async () => {
    const alice = await restUser(server, 'a4_');
    const bob = await restUser(server, 'b4_');
    const cid = await directBetween(alice, bob);
    const live = sub(gqlClient(bob), MESSAGE_ADDED, { c: String(cid) });
    await live.ready();
    const a = await connect(server, alice, String(cid));
    a.send({ type: 'chat_message', content: 'from the legacy socket' });
    expect(await live.next()).toEqual({ messageAdded: { id: expect.any(String), content: 'from the legacy socket', sender: { username: alice.username } } });
    await a.next();
    await gqlOk(
      server.url,
      'mutation($i: SendMessageInput!) { sendMessage(input: $i) { id } }',
      { i: { conversationId: String(cid), content: 'from GraphQL' } },
      bob.token,
    );
    expect((await a.next()).message).toMatchObject({ content: 'from GraphQL', sender: { username: bob.username } });
  });
});

describe('threads on the legacy sockets (issue 32)', () => {
  test('a reply only in its thread never reaches a seed socket (no threads there); one also sent to the conversation does', async () => {
    const alice = await restUser(server, 'a4t_');
    const bob = await restUser(server, 'b4t_');
    const cid = await directBetween(alice, bob);
    const a = await connect(server, alice, String(cid));
    const SEND = 'mutation($i: SendMessageInput!) { sendMessage(input: $i) { id } }';
    const root = (await gqlOk(server.url, SEND, { i: { conversationId: String(cid), content: 'root' } }, bob.token)).sendMessage.id;
    expect((await a.next()).message.content).toBe('root');
    await gqlOk(server.url, SEND, { i: { conversationId: String(cid), content: 'thread only', threadRootId: root } }, bob.token);
    await gqlOk(server.url, SEND, { i: { conversationId: String(cid), content: 'also here', threadRootId: root, alsoSendToConversation: true } }, bob.token);
    // Frames arrive in bus order: had the thread-only reply been sent, it would come first.
    expect((await a.next()).message.content).toBe('also here');
  });
});

describe('seed 003: /ws/chat/<room_id>/', () => {
  test('system notices (join, leave, add, ban) carry their actor as sender in chat_message frames; message_type "system" from the owner or an admin only (issue 28 items 5-6)', async () => {
    const developer = await restUser(server, 'dev3s_', { first_name: 'Developer', last_name: 'User' });
    const member = await restUser(server, 'mem3s_');
    const joiner = await restUser(server, 'join3s_');
    const room = await roomWith(developer, member);
    const d = await connect(server, developer, String(room));
    const m = await connect(server, member, String(room));
    await d.nextOf('connection_established');
    await m.nextOf('connection_established');
    // A join notice: its sender is the joiner (the seed's sender shape), never null.
    expect((await call(server, 'POST', `/chat/rooms/${room}/join/`, { token: joiner.token })).status).toBe(200);
    const joined = await d.until((f) => f.type === 'chat_message' && f.message.message_type === 'system');
    expect(joined[joined.length - 1].message.sender).toEqual({ id: Number(joiner.id), username: joiner.username, first_name: '', last_name: '' });
    // The owner's notice (the seed's own chat_message example with message_type "system").
    d.send({ type: 'chat_message', content: '消息内容', message_type: 'system' });
    const notice = await m.until((f) => f.type === 'chat_message' && f.message.content === '消息内容');
    expect(notice[notice.length - 1].message).toMatchObject({
      message_type: 'system',
      content: '消息内容',
      sender: { id: Number(developer.id), username: developer.username, first_name: 'Developer', last_name: 'User' },
    });
    // A plain member: an error frame naming the rule, nothing written.
    const before = (await call(server, 'GET', `/chat/rooms/${room}/messages/`, { token: developer.token })).body.total;
    m.send({ type: 'chat_message', content: '我不是管理员', message_type: 'system' });
    const refused = await m.nextOf('error');
    expect(refused.message).toMatch(/owner or an admin.*system/);
    expect((await call(server, 'GET', `/chat/rooms/${room}/messages/`, { token: developer.token })).body.total).toBe(before);
  });

  test('connection_established, chat_message with reply_to, typing, error frames, user_join / user_leave', async () => {
    const alice = await restUser(server, 'a3_');
    const bob = await restUser(server, 'b3_');
    const carol = await restUser(server, 'c3_');
    const room = await roomWith(alice, bob);
    const a = await connect(server, alice, String(room));
    expect(await a.next()).toEqual({ type: 'connection_established', message: '连接成功' });
    const b = await connect(server, bob, String(room), { header: true });
    expect(await b.next()).toEqual({ type: 'connection_established', message: '连接成功' });

    b.send({ type: 'chat_message', content: '消息内容', message_type: 'text' });
    const got = await a.next();
    expect(got).toEqual({
      type: 'chat_message',
      message: {
        id: expect.any(Number),
        sender: { id: Number(bob.id), username: bob.username, first_name: '', last_name: '' },
        content: '消息内容',
        message_type: 'text',
        created_at: expect.any(String),
        timestamp: got.message.created_at,
        reply_to: null,
        file_url: null,
        file_name: null,
        file_size: null,
      },
    });
    a.send({ type: 'chat_message', content: '回复', message_type: 'text', reply_to: got.message.id });
    const toBob = await b.until((f) => f.type === 'chat_message' && f.message.content === '回复');
    expect(toBob[toBob.length - 1].message.reply_to).toBe(got.message.id);

    a.send({ type: 'typing', is_typing: true });
    expect(await b.next()).toEqual({ type: 'typing', user: { id: Number(alice.id), username: alice.username }, is_typing: true });

    a.send('not json');
    a.send({ type: 'nope' });
    a.send({ type: 'chat_message', content: 'x', message_type: 'image' }); // no file_url
    a.send({ type: 'chat_message', content: '   ' });
    a.send({ type: 'chat_message', content: 'x', reply_to: 'abc' });
    a.send({ type: 'user_join' }); // accepted, changes nothing
    const errors = await a.until((f) => f.type === 'error' && /reply_to/.test(f.message));
    expect(errors.filter((f) => f.type === 'error').map((f) => f.message)).toEqual([
      'Invalid JSON',
      'Unknown message type: nope',
      'file_url is required for image and file messages',
      expect.any(String),
      'reply_to must be a message id',
    ]);
    for (const e of errors.filter((f) => f.type === 'error')) expect(sorted(e)).toEqual(['message', 'type']);

    expect((await call(server, 'POST', `/chat/rooms/${room}/join/`, { token: carol.token })).status).toBe(200);
    expect((await a.nextOf('user_join')).user).toEqual({ id: Number(carol.id), username: carol.username });
    expect((await call(server, 'POST', `/chat/rooms/${room}/leave/`, { token: carol.token })).status).toBe(200);
    expect(await a.nextOf('user_leave')).toEqual({ type: 'user_leave', user: { id: Number(carol.id), username: carol.username } });

    const history = await call(server, 'GET', `/chat/rooms/${room}/messages/`, { token: alice.token });
    expect(history.body.messages.filter((m: any) => m.message_type === 'text').map((m: any) => [m.content, m.reply_to])).toEqual([
      ['消息内容', null],
      ['回复', got.message.id],
    ]);
  });

  test("chat_message with message_type image/file and file_url: the REST send's file message, file_* in every frame and in history", async () => {
    const alice = await restUser(server, 'a3f_');
    const bob = await restUser(server, 'b3f_');
    const room = await roomWith(alice, bob);
    const a = await connect(server, alice, String(room));
    const b = await connect(server, bob, String(room));
    const live = sub(gqlClient(alice), 'subscription($c: ID) { messageAdded(conversationId: $c) { id kind attachments { url fileName size isExternal } } }', {
      c: String(room),
    });
    await live.ready();
    // The seed's frame with the REST send's file fields (seed 003 "2.2 发送消息" example).
    b.send({
      type: 'chat_message',
      content: '消息内容',
      message_type: 'image',
      file_url: 'https://example.com/file.jpg',
      file_name: 'image.jpg',
      file_size: 1024,
    });
    const got = await a.nextOf('chat_message');
    expect(got.message).toMatchObject({
      content: '消息内容',
      message_type: 'image',
      file_url: 'https://example.com/file.jpg',
      file_name: 'image.jpg',
      file_size: 1024,
      reply_to: null,
    });
    expect(sorted(got.message)).toEqual([
      'content',
      'created_at',
      'file_name',
      'file_size',
      'file_url',
      'id',
      'message_type',
      'reply_to',
      'sender',
      'timestamp',
    ]);
    expect(await live.next()).toEqual({
      messageAdded: {
        id: String(got.message.id),
        kind: 'IMAGE',
        attachments: [{ url: 'https://example.com/file.jpg', fileName: 'image.jpg', size: 1024, isExternal: true }],
      },
    });
    // A file without content; its sender's own socket gets the frame too.
    b.send({ type: 'chat_message', message_type: 'file', file_url: 'https://example.com/docs/spec.pdf', reply_to: got.message.id });
    const own = await b.until((f) => f.type === 'chat_message' && f.message.message_type === 'file');
    expect(own[own.length - 1].message).toMatchObject({
      content: '',
      file_url: 'https://example.com/docs/spec.pdf',
      file_name: 'spec.pdf',
      file_size: null,
      reply_to: got.message.id,
    });

    // Hostile frames: error frames naming the seed's field, nothing written.
    const before = (await call(server, 'GET', `/chat/rooms/${room}/messages/`, { token: alice.token })).body.total;
    b.send({ type: 'chat_message', content: 'x', message_type: 'image', file_url: 'javascript:alert(1)' });
    b.send({ type: 'chat_message', content: 'x', message_type: 'file', file_url: 'data:text/html,<script>alert(1)</script>' });
    b.send({ type: 'chat_message', content: 'x', message_type: 'file', file_url: 'https://example.com/x', file_size: 1e12 });
    b.send({ type: 'chat_message', content: 'x', message_type: 'file', file_url: 'https://example.com/x', file_name: '../../etc/passwd' });
    b.send({ type: 'chat_message', content: 'x', message_type: 'file', file_url: '/media/999999' });
    b.send({ type: 'chat_message', content: 'x', message_type: 'video', file_url: 'https://example.com/x' });
    b.send({ type: 'chat_message', content: 'last', message_type: 'text' });
    const frames = await b.until((f) => f.type === 'chat_message' && f.message.content === 'last');
    expect(frames.filter((f) => f.type === 'error').map((f) => f.message)).toEqual([
      'file_url must be an http:// or https:// URL; javascript: URLs are refused',
      'file_url must be an http:// or https:// URL; data: URLs are refused',
      'file_size must be a whole number of bytes from 0 to 2147483647',
      'file_name: File name must not contain path separators or control characters',
      'file_url names a file of this server that you may not see',
      'message_type must be text, image, file or system',
    ]);
    const history = await call(server, 'GET', `/chat/rooms/${room}/messages/`, { token: alice.token });
    expect(history.body.total).toBe(before + 1);
    expect(history.body.messages.filter((m: any) => m.file_url).map((m: any) => [m.message_type, m.file_url, m.file_name, m.file_size])).toEqual([
      ['image', 'https://example.com/file.jpg', 'image.jpg', 1024],
      ['file', 'https://example.com/docs/spec.pdf', 'spec.pdf', null],
    ]);
  });

  test("a file_url of this server's media (the socket's Host, or signed) links that file when the sender may see it", async () => {
    const alice = await restUser(server, 'a3m_');
    const bob = await restUser(server, 'b3m_');
    const room = await roomWith(alice, bob);
    const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: 1, g: 2, b: 3 } } })
      .png()
      .toBuffer();
    const upload = await call(server, 'POST', `/chats/${room}/send-message/`, {
      token: alice.token,
      form: form({ content: 'p' }, [['medias', { name: 'p.png', bytes: png, type: 'image/png' }]]),
    });
    const sourceId = upload.body.media[0].id;
    const b = await connect(server, bob, String(room));
    b.send({ type: 'chat_message', content: '', message_type: 'image', file_url: `http://127.0.0.1:${server.port}/media/${sourceId}` });
    const got = await b.nextOf('chat_message');
    expect(got.message).toMatchObject({
      message_type: 'image',
      file_name: 'p.png',
      file_size: png.length,
      file_url: expect.stringMatching(/^\/media\/\d+\?exp=\d+&sig=/),
    });
    expect(got.message.file_url).not.toMatch(new RegExp(`^/media/${sourceId}\\?`));
    const download = await fetch(`http://127.0.0.1:${server.port}${got.message.file_url}`);
    expect(Buffer.from(await download.arrayBuffer()).equals(png)).toBe(true);
    // carol reads another room only: the same URL is refused on her socket.
    const carol = await restUser(server, 'c3m_');
    const hers = await roomWith(carol);
    const c = await connect(server, carol, String(hers));
    c.send({ type: 'chat_message', content: '', message_type: 'image', file_url: upload.body.media[0].url });
    expect((await c.nextOf('error')).message).toBe('file_url names a file of this server that you may not see');
  });

  test('a member who leaves or is banned is closed with 4403 and stops receiving at once', async () => {
    const alice = await restUser(server, 'a3_');
    const bob = await restUser(server, 'b3_');
    const carol = await restUser(server, 'c3_');
    const room = await roomWith(alice, bob, carol);
    const b = await connect(server, bob, String(room));
    const c = await connect(server, carol, String(room));
    await gqlOk(
      server.url,
      'mutation($c: ID!, $u: ID!) { banMember(conversationId: $c, userId: $u, banned: true) { id } }',
      { c: String(room), u: bob.id },
      alice.token,
    );
    expect(await b.closed).toEqual({ code: 4403, reason: 'Forbidden: you are no longer a member of this conversation' });
    c.send({ type: 'chat_message', content: 'after the ban' });
    await c.until((f) => f.type === 'chat_message' && f.message.content === 'after the ban');
    expect(b.frames.filter((f) => f.type === 'chat_message' && f.message.message_type === 'text')).toEqual([]);
    expect((await call(server, 'POST', `/chat/rooms/${room}/leave/`, { token: carol.token })).status).toBe(200);
    expect((await c.closed).code).toBe(4403);
  });

  test('typing of a user blocked either way is hidden', async () => {
    const alice = await restUser(server, 'a3_');
    const bob = await restUser(server, 'b3_');
    const dave = await restUser(server, 'd3_');
    const room = await roomWith(alice, bob, dave);
    expect((await call(server, 'POST', `/accounts/connections/block/${dave.id}/`, { token: alice.token })).status).toBe(200);
    const a = await connect(server, alice, String(room));
    const d = await connect(server, dave, String(room));
    const b = await connect(server, bob, String(room));
    d.send({ type: 'typing', is_typing: true });
    // bob sees dave typing; alice (who blocked dave) does not: her first typing frame is bob's.
    expect((await b.nextOf('typing')).user.username).toBe(dave.username);
    b.send({ type: 'typing', is_typing: true });
    const seen = await a.until((f) => f.type === 'typing');
    expect(seen.filter((f) => f.type === 'typing').map((f) => f.user.username)).toEqual([bob.username]);
  });
});

describe('authentication and access', () => {
  test('no token, a bad one, a refresh token and a logged-out one are closed with 4401', async () => {
    const alice = await restUser(server, 'aa_');
    const bob = await restUser(server, 'ba_');
    // The refusal says exactly what to send (issue 28): the socket's own path with ?token=.
    expect(await refusedWith(server, bob.username)).toEqual({
      code: 4401,
      reason: `Unauthorized: An access token is required: /ws/chat/${bob.username}/?token=<access from POST /api/token/>`,
    });
    // Seed 003's room id and seed 004's conversation id sockets alike (the seeds connected without a token).
    expect(await refusedWith(server, '1')).toEqual({
      code: 4401,
      reason: 'Unauthorized: An access token is required: /ws/chat/1/?token=<access from POST /api/token/>',
    });
    expect((await refusedWith(server, 'x'.repeat(40))).reason).toBe(
      'Unauthorized: An access token is required: /ws/chat/<x>/?token=<access from POST /api/token/>',
    );
    expect((await refusedWith(server, bob.username, 'token=garbage')).code).toBe(4401);
    expect((await refusedWith(server, bob.username, '', { authorization: 'Bearer garbage' })).code).toBe(4401);
    expect((await refusedWith(server, bob.username, `token=${alice.refreshToken}`)).code).toBe(4401);
    expect((await call(server, 'POST', '/accounts/logout/', { token: alice.token, json: { refresh: alice.refreshToken } })).status).toBeLessThan(300);
    expect(await refusedWith(server, bob.username, `token=${alice.token}`)).toEqual({ code: 4401, reason: 'Unauthorized: This login was logged out' });
  });

  test('logging out closes an open legacy socket (4403)', async () => {
    const alice = await restUser(server, 'aa_');
    const bob = await restUser(server, 'ba_');
    const a = await connect(server, alice, bob.username);
    expect((await call(server, 'POST', '/accounts/logout/', { token: alice.token, json: { refresh: alice.refreshToken } })).status).toBeLessThan(300);
    expect(await a.closed).toEqual({ code: 4403, reason: 'Forbidden: logged out' });
  });

  test('a non-member: the id of a conversation they may not see is no conversation (and no user): 4404', async () => {
    const alice = await restUser(server, 'an_');
    const bob = await restUser(server, 'bn_');
    const carol = await restUser(server, 'cn_');
    const cid = await directBetween(alice, bob);
    const room = await roomWith(alice, bob);
    expect(await refusedWith(server, String(cid), `token=${carol.token}`)).toEqual({ code: 4404, reason: `No conversation or user "${cid}"` });
    expect((await refusedWith(server, String(room), `token=${carol.token}`)).code).toBe(4404);
    expect((await refusedWith(server, String(room), `token=${carol.token}&dialect=003`)).code).toBe(4404);
    expect(await refusedWith(server, 'nobody-by-this-name', `token=${carol.token}`)).toEqual({ code: 4404, reason: 'No user "nobody-by-this-name"' });
  });

  test('a non-member of a PRIVATE room or of a GROUP is refused (4404) in every dialect; the members are admitted (issue 27)', async () => {
    const alice = await restUser(server, 'ap_');
    const bob = await restUser(server, 'bp_');
    const carol = await restUser(server, 'cp_');
    const create = (kind: 'Room' | 'Group', input: object) =>
      gqlOk<Record<string, { id: string }>>(server.url, `mutation($i: Create${kind}Input!) { r: create${kind}(input: $i) { id } }`, { i: input }, alice.token);
    const priv = (await create('Room', { name: `private ${alice.username}`, visibility: 'PRIVATE' })).r.id;
    await gqlOk(server.url, 'mutation($c: ID!, $u: ID!) { addMember(conversationId: $c, userId: $u) { id } }', { c: priv, u: bob.id }, alice.token);
    const group = (await create('Group', { name: `group ${alice.username}`, memberIds: [bob.id] })).r.id;
    for (const id of [priv, group]) {
      for (const q of ['', '&dialect=003', '&dialect=004']) {
        expect({ id, q, outcome: await admittedOrClosed(server, carol, id, q) }).toEqual({ id, q, outcome: 4404 });
      }
      // A real member of the same conversation is admitted (the refusal is about membership, not the kind).
      const b = await connect(server, bob, id);
      b.ws.close();
      await b.closed;
    }
  });

  test('a block forbids the seed-000 chat either way (4403); bad requests are 4400', async () => {
    const alice = await restUser(server, 'ab_');
    const bob = await restUser(server, 'bb_');
    expect((await call(server, 'POST', `/accounts/connections/block/${alice.id}/`, { token: bob.token })).status).toBe(200);
    expect(await refusedWith(server, bob.username, `token=${alice.token}`)).toEqual({ code: 4403, reason: 'Forbidden: You cannot chat with this user' });
    expect((await refusedWith(server, alice.username, `token=${bob.token}`)).code).toBe(4403);
    expect((await refusedWith(server, alice.username, `token=${alice.token}`)).code).toBe(4400); // oneself
    expect((await refusedWith(server, bob.username, `token=${alice.token}&dialect=002`)).code).toBe(4400);
    expect((await refusedWith(server, bob.username, `token=${alice.token}&dialect=004`)).code).toBe(4400);
  });

  test('other paths are still refused at the upgrade (400), as before', async () => {
    const c = new LegacyClient(`ws://127.0.0.1:${server.port}/ws/other/`);
    expect((await c.closed).code).toBe(-400);
    const d = new LegacyClient(`ws://127.0.0.1:${server.port}/ws/chat/a/b/`);
    expect((await d.closed).code).toBe(-400);
  });
});

describe('the <x> rule: ambiguous cases', () => {
  test('a username made of digits that is no visible conversation is a username (seed 000)', async () => {
    const alice = await restUser(server, 'ax_');
    const digits = await userNamed(`9${String(Date.now()).slice(-8)}`);
    const a = await connect(server, alice, digits.username);
    expect(server.realtime.legacy.readyCount({ userId: Number(alice.id), dialect: '000' })).toBe(1);
    expect(await a.next()).toEqual({ type: 'status', username: digits.username, status: 'offline' });
    a.send({ type: 'message', message: 'to the digits' });
    expect((await a.nextOf('message')).message).toBe('to the digits');
    const history = await call(server, 'GET', `/chat/history/${alice.username}/`, { token: digits.token });
    expect(history.body.map((m: any) => m.message)).toEqual(['to the digits']);
  });

  test('digits naming a visible conversation win over a user of that name; ?dialect=000 reaches the user', async () => {
    const alice = await restUser(server, 'ax_');
    const bob = await restUser(server, 'bx_');
    const room = await roomWith(alice, bob);
    const dm = await directBetween(alice, bob);
    // "00<id>" is conversation <id> for the digit rule, and also a user's name.
    const roomNamed = await userNamed(`00${room}`);
    const r = await connect(server, alice, roomNamed.username);
    expect(await r.next()).toEqual({ type: 'connection_established', message: '连接成功' }); // the room, seed 003
    const u = await connect(server, alice, roomNamed.username, { query: 'dialect=000' });
    expect(await u.next()).toEqual({ type: 'status', username: roomNamed.username, status: 'offline' }); // the user, seed 000
    // A DIRECT conversation's id speaks seed 004, or seed 003 when asked.
    const d4 = await connect(server, alice, String(dm));
    const d3 = await connect(server, alice, String(dm), { query: 'dialect=003' });
    expect(await d3.next()).toEqual({ type: 'connection_established', message: '连接成功' });
    await call(server, 'POST', '/messages/', { token: bob.token, json: { content: 'both see it', recipient_id: Number(alice.id) } });
    expect((await d4.next()).type).toBe('new_message');
    expect((await d3.next()).type).toBe('chat_message');
    expect(server.realtime.legacy.readyCount({ userId: Number(alice.id) })).toBe(4);
  });

  test('digits that are a username ("017") reach the user unless the caller is a member of conversation 17: member, non-member, staff, ?dialect= (issue 28 item 3)', async () => {
    const alice = await restUser(server, 'ay_');
    const bob = await restUser(server, 'by_');
    const carol = await restUser(server, 'cy_');
    const desk = await restUser(server, 'sy_');
    await makeStaff(server, desk);
    const dm = await directBetween(alice, bob);
    // The issue's "/ws/chat/017/" with user "017": here conversation <dm> and user "0<dm>" (at least 3 characters, the username rule).
    const zeroPadded = (id: number) => `${'0'.repeat(Math.max(1, 3 - String(id).length))}${id}`;
    const named = await userNamed(zeroPadded(dm));
    const x = named.username;
    // A member (alice): her conversation, seed 004's frames.
    const member = await connect(server, alice, x);
    expect(server.realtime.legacy.readyCount({ userId: Number(alice.id), dialect: '004' })).toBe(1);
    // Staff, who may read the conversation without being in it: the user, seed 000, and their messages arrive.
    const staff = await connect(server, desk, x);
    expect(await staff.next()).toEqual({ type: 'status', username: x, status: 'offline' });
    staff.send({ type: 'message', message: 'Xin chào 017', username: desk.username });
    expect((await staff.nextOf('message')).message).toBe('Xin chào 017');
    expect((await call(server, 'GET', `/chat/history/${desk.username}/`, { token: named.token })).body.map((m: any) => m.message)).toEqual(['Xin chào 017']);
    // A non-member who may not read it: the user too.
    const stranger = await connect(server, carol, x);
    expect(await stranger.next()).toEqual({ type: 'status', username: x, status: 'offline' });
    // ?dialect=004 forces the conversation for staff.
    await connect(server, desk, x, { query: 'dialect=004' });
    expect(server.realtime.legacy.readyCount({ userId: Number(desk.id), dialect: '004' })).toBe(1);
    // Digits that name no user: the conversation staff may read.
    await connect(server, desk, String(dm));
    expect(server.realtime.legacy.readyCount({ userId: Number(desk.id), dialect: '004' })).toBe(2);
    expect(server.realtime.legacy.readyCount({ userId: Number(desk.id), dialect: '000' })).toBe(1);
    // Staff who are members (a room they joined): the room, seed 003.
    const room = await roomWith(alice, desk);
    const roomNamed = await userNamed(zeroPadded(room));
    const inRoom = await connect(server, desk, roomNamed.username);
    expect(await inRoom.next()).toEqual({ type: 'connection_established', message: '连接成功' });
    // Seed 004's new_message still reaches the member's socket.
    await call(server, 'POST', '/messages/', { token: bob.token, json: { content: 'سلام', recipient_id: Number(alice.id) } });
    expect((await member.nextOf('new_message')).message.content).toBe('سلام');
  });
});

describe('limits shared with /graphql', () => {
  let limited: TestServer;
  beforeAll(async () => {
    limited = await startTestServer({ WS_MAX_SOCKETS_PER_USER: '2', WS_MAX_PAYLOAD_BYTES: '2048', RATE_MESSAGES_PER_SEC: '1', RATE_MESSAGES_BURST: '0' });
  });
  afterAll(async () => {
    await limited.close();
  });

  const restOn = async (prefix: string): Promise<RestUser> => {
    const username = `${prefix}${Date.now() % 1e6}_${Math.floor(Math.random() * 1e4)}`;
    const password = 'correct-horse-battery';
    const reg = await call(limited, 'POST', '/accounts/register/', { json: { username, password } });
    const tok = await call(limited, 'POST', '/token/', { json: { username, password } });
    return { id: String(reg.body.id), username, password, token: tok.body.access, refreshToken: tok.body.refresh };
  };

  test('WS_MAX_SOCKETS_PER_USER counts graphql-ws and legacy sockets together (1013)', async () => {
    const alice = await restOn('al');
    const bob = await restOn('bl');
    const g = new WebSocket(limited.wsUrl, 'graphql-transport-ws');
    opened.push({ ws: g } as unknown as LegacyClient);
    await new Promise<void>((resolve, reject) => {
      g.on('open', () => g.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${alice.token}` } })));
      g.on('message', (d) => {
        if (JSON.parse(String(d)).type === 'connection_ack') resolve();
      });
      g.on('close', (code) => reject(new Error(`graphql-ws closed ${code}`)));
    });
    await connect(limited, alice, bob.username);
    const third = await refusedWith(limited, bob.username, `token=${alice.token}`);
    expect(third.code).toBe(1013);
    expect(third.reason).toMatch(/Too many open sockets/);
    g.close();
  });

  test('frames past WS_MAX_PAYLOAD_BYTES close the socket (1009); sends past the message rate are refused', async () => {
    const alice = await restOn('ap');
    const bob = await restOn('bp');
    const res = await call(limited, 'POST', '/chat/rooms/', { token: alice.token, json: { name: 'limits', room_type: 'public' } });
    const room = String(res.body.id);
    const a = await connect(limited, alice, room);
    await a.nextOf('connection_established');
    for (let i = 0; i < 3; i++) a.send({ type: 'chat_message', content: `m${i}` });
    // One message a second: at least one of three sent at once is refused with seed 003's error frame.
    const frames = await a.until((f) => f.type === 'error');
    expect(frames[frames.length - 1]).toEqual({ type: 'error', message: 'Too many messages; slow down' });
    const b = await connect(limited, bob, alice.username);
    b.send({ type: 'message', message: 'x'.repeat(4096) });
    expect((await b.closed).code).toBe(1009);
  });
});

describe('a slow reader', () => {
  let small: TestServer;
  beforeAll(async () => {
    small = await startTestServer({ WS_MAX_BUFFERED_BYTES: '1024' });
  });
  afterAll(async () => {
    await small.close();
  });

  test('a legacy socket that stops reading is closed with 4507; the sender and other readers are unaffected', async () => {
    const owner = await restUser(small, 'ow_');
    const slowUser = await restUser(small, 'sl_');
    const cid = await directBetween(owner, slowUser, small);
    const slow = await connect(small, slowUser, String(cid));
    const fine = await connect(small, owner, String(cid));
    (slow.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();
    const before = small.realtime.stats().closedTooFarBehind;
    const big = '\u{1F600}'.repeat(3990); // 16 KB a frame
    let sent = 0;
    while (small.realtime.stats().closedTooFarBehind === before && sent < 400) {
      const res = await call(small, 'POST', '/messages/', { token: owner.token, json: { content: `${big}${sent++}`, recipient_id: Number(slowUser.id) } });
      expect(res.status).toBe(201);
    }
    expect(sent).toBeLessThan(400);
    (slow.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    expect((await slow.closed).code).toBe(4507);
    // The reader that kept reading got every message, in order.
    for (let i = 0; i < sent; i++) expect((await fine.next()).message.content).toBe(`${big}${i}`);
    // Up to 400 sends of 16 KB until the kernel's socket buffers fill: on a loaded 2-core machine
    // that is longer than jest's default 30 s (no timing is asserted).
  }, 120_000);
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

  test('a legacy socket on one instance receives what was sent on the other, legacy and REST', async () => {
    const [one, two] = cluster.instances;
    const viaOne = one as unknown as TestServer;
    const viaTwo = two as unknown as TestServer;
    const alice = await restUser(viaOne, 'ac_');
    const bob = await restUser(viaOne, 'bc_');
    const cid = await directBetween(alice, bob, viaOne);
    const a = await connect(one, alice, String(cid));
    const b = await connect(two, bob, alice.username);
    expect(await b.next()).toEqual({ type: 'status', username: alice.username, status: 'online' });
    b.send({ type: 'message', message: 'from instance two', username: bob.username });
    expect((await a.nextOf('new_message')).message).toMatchObject({ content: 'from instance two', sender: { username: bob.username } });
    a.send({ type: 'chat_message', content: 'from instance one' });
    const toBob = await b.until((f) => f.type === 'message' && f.message === 'from instance one');
    expect(toBob[toBob.length - 1]).toMatchObject({ message: 'from instance one', username: alice.username });
    await call(viaTwo, 'POST', '/messages/', { token: bob.token, json: { content: 'REST on two', recipient_id: Number(alice.id) } });
    await a.until((f) => f.type === 'new_message' && f.message.content === 'REST on two');
    b.send({ type: 'typing', is_typing: true });
    expect((await a.nextOf('user_typing')).user.username).toBe(bob.username);
  });
});
