/**
 * One conversation, every dialect: for a direct chat, a group, a support thread and a public
 * room, a message is sent through each dialect that can send there (and through GraphQL), and
 * each message is then read back through every REST endpoint of every dialect that can see that
 * conversation (histories, message lists, conversation lists' and details' last message, the
 * message resource /api/messages/{id}/) by each side, and through GraphQL: the messages query and a live
 * messageAdded subscription.
 */
import { trackRealtime, type LiveSubscription } from '../../support/client';
import { startTestServer, type TestServer } from '../../support/test-server';
import { call, form, gqlData, makeStaff, restUser, type RestUser } from './rest-support';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.close();
});
const { client, sub } = trackRealtime(
  () => server.wsUrl,
  () => server,
);

/** What a reader shows: [message id, content] pairs (a list's or detail's last message is one pair). */
type Seen = [number, string][];
interface Reader {
  name: string;
  read(): Promise<Seen>;
}
type Kind = 'DIRECT' | 'GROUP' | 'SUPPORT' | 'ROOM';

const get = async (user: RestUser, path: string) => {
  const res = await call(server, 'GET', path, { token: user.token });
  if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${res.text}`);
  return res.body;
};
const last = (m: { id?: number; message_id?: number; content?: string; noi_dung?: string; message?: string } | null): Seen =>
  m ? [[m.id ?? m.message_id!, m.content ?? m.noi_dung ?? m.message!]] : [];
const inList = (list: any[], cid: number) => list.find((c) => c.id === cid) ?? null;

const HISTORY = `query($c: ID!) { messages(conversationId: $c, last: 100) { edges { node { id content } } } }`;

/**
 * Every reader of conversation `cid` (of `kind`) for `viewer`: the dialects' message lists (any
 * conversation they may see), the lists and details their membership or staff rights show, seed
 * 000's username-addressed endpoints for a direct chat with `other`, and GraphQL's query.
 */
function readers(viewer: RestUser, cid: number, kind: Kind, opts: { other?: RestUser; customer?: boolean } = {}): Reader[] {
  const r: Reader[] = [
    {
      name: '001 GET /chats/{id}/messages/',
      read: async () => (await get(viewer, `/chats/${cid}/messages/?page_size=100`)).results.map((m: any) => [m.id, m.content]),
    },
    {
      name: '002 GET /chat/conversations/{id}/messages/',
      read: async () => (await get(viewer, `/chat/conversations/${cid}/messages/?limit=100`)).map((m: any) => [m.id, m.noi_dung]),
    },
    {
      name: '003 GET /chat/rooms/{id}/messages/',
      read: async () => (await get(viewer, `/chat/rooms/${cid}/messages/?page_size=100`)).messages.map((m: any) => [m.id, m.content]),
    },
    {
      name: '004 GET /conversations/{id}/messages/',
      read: async () => (await get(viewer, `/conversations/${cid}/messages/?page_size=100`)).results.map((m: any) => [m.id, m.content]),
    },
    { name: '004 GET /conversations/{id}/ last_message', read: async () => last((await get(viewer, `/conversations/${cid}/`)).last_message) },
    { name: '004 GET /conversations/ last_message', read: async () => last(inList(await get(viewer, '/conversations/'), cid)?.last_message) },
    {
      name: '000+002 GET /chat/conversations/ last_message (seed 002 keys)',
      read: async () => last(inList(await get(viewer, '/chat/conversations/'), cid)?.last_message),
    },
    {
      name: '000+002 GET /chat/conversations/ last_message (seed 000 keys)',
      read: async () => {
        const m = inList(await get(viewer, '/chat/conversations/'), cid)?.last_message;
        return m ? [[m.message_id, m.message]] : [];
      },
    },
    {
      name: 'GraphQL messages',
      read: async () => (await gqlData(server, viewer, HISTORY, { c: String(cid) })).messages.edges.map((e: any) => [Number(e.node.id), e.node.content]),
    },
  ];
  if (kind === 'DIRECT' || kind === 'GROUP') {
    r.push({ name: '001 GET /chats/ last_message', read: async () => last(inList((await get(viewer, '/chats/?page_size=100')).results, cid)?.last_message) });
    r.push({ name: '001 GET /chats/{id}/ last_message', read: async () => last((await get(viewer, `/chats/${cid}/`)).last_message) });
  }
  if (kind === 'GROUP' || kind === 'ROOM') {
    r.push({ name: '003 GET /chat/rooms/ last_message', read: async () => last(inList(await get(viewer, '/chat/rooms/'), cid)?.last_message) });
  }
  if (kind === 'DIRECT' && opts.other) {
    const other = opts.other;
    r.push({
      name: '000 GET /chat/history/{username}/',
      read: async () => (await get(viewer, `/chat/history/${other.username}/?limit=100`)).map((m: any) => [m.message_id, m.message]),
    });
    r.push({
      name: '000 GET /chat/recent-conversations/ last_message',
      read: async () => last(inList(await get(viewer, '/chat/recent-conversations/?limit=100'), cid)?.last_message),
    });
  }
  if (kind === 'SUPPORT' && opts.customer) {
    r.push({
      name: '002 GET /chat/conversations/my_conversation/ last_message',
      read: async () => last((await get(viewer, '/chat/conversations/my_conversation/')).last_message),
    });
  }
  return r;
}

/** A send through one dialect (or GraphQL): returns the new message's id. */
interface Sender {
  name: string;
  send(content: string): Promise<number>;
}
const created = async (p: Promise<{ status: number; body: any; text: string }>, what: string, key = 'id') => {
  const res = await p;
  if (res.status !== 201) throw new Error(`${what}: ${res.status} ${res.text}`);
  return Number(res.body[key]);
};
const via = {
  seed001: (u: RestUser, cid: number): Sender => ({
    name: `001 send-message as ${u.username}`,
    send: (c) => created(call(server, 'POST', `/chats/${cid}/send-message/`, { token: u.token, json: { content: c } }), 'seed 001'),
  }),
  seed002: (u: RestUser, cid: number): Sender => ({
    name: `002 send_message as ${u.username}`,
    send: (c) => created(call(server, 'POST', `/chat/conversations/${cid}/send_message/`, { token: u.token, json: { noi_dung: c } }), 'seed 002'),
  }),
  seed003: (u: RestUser, cid: number): Sender => ({
    name: `003 rooms/messages as ${u.username}`,
    send: (c) => created(call(server, 'POST', `/chat/rooms/${cid}/messages/`, { token: u.token, json: { content: c, message_type: 'text' } }), 'seed 003'),
  }),
  seed004: (u: RestUser, to: RestUser): Sender => ({
    name: `004 POST /messages/ as ${u.username}`,
    send: (c) => created(call(server, 'POST', '/messages/', { token: u.token, json: { content: c, recipient_id: Number(to.id) } }), 'seed 004'),
  }),
  graphql: (u: RestUser, cid: number): Sender => ({
    name: `GraphQL sendMessage as ${u.username}`,
    send: async (c) =>
      Number(
        (await gqlData(server, u, `mutation($i: SendMessageInput!) { sendMessage(input: $i) { id } }`, { i: { conversationId: String(cid), content: c } }))
          .sendMessage.id,
      ),
  }),
};

/**
 * Sends one message through each sender, then checks that each is seen by every reader of every
 * viewer and arrives on each viewer's live subscription. Returns the misses (empty when all see all).
 */
async function everyoneSeesEverything(
  senders: Sender[],
  viewers: { user: RestUser; live: LiveSubscription; readers: Reader[] }[],
  cid: number,
): Promise<string[]> {
  const misses: string[] = [];
  for (const sender of senders) {
    const content = `via ${sender.name}`;
    const id = await sender.send(content);
    for (const v of viewers) {
      const event = (await v.live.next()).messageAdded;
      if (event.id !== String(id) || event.conversationId !== String(cid) || event.content !== content)
        misses.push(`${v.user.username} live: ${JSON.stringify(event)} for ${content}`);
      // The message resource shared by seeds 001 and 004.
      const one = await get(v.user, `/messages/${id}/`);
      if (one.content !== content || one.chat_group !== cid || one.conversation !== cid)
        misses.push(`${v.user.username} GET /messages/{id}/: ${JSON.stringify(one).slice(0, 200)}`);
      for (const r of v.readers) {
        const seen = await r.read();
        if (!seen.some(([mid, c]) => mid === id && c === content))
          misses.push(`${v.user.username} ${r.name}: ${content} not in ${JSON.stringify(seen.slice(-3))}`);
      }
    }
  }
  return misses;
}

/** A live messageAdded subscription over every conversation of `user`, ready. */
async function liveOf(user: RestUser): Promise<LiveSubscription> {
  const s = sub(client(user), `subscription { messageAdded { id conversationId content } }`);
  await s.ready();
  return s;
}

describe('cross-dialect: one message, every dialect that can see it, and GraphQL', () => {
  it('a direct chat: sent through seeds 001, 002, 003, 004 and GraphQL; read through seeds 000-004 and GraphQL by both sides', async () => {
    const alice = await restUser(server, 'xa');
    const bob = await restUser(server, 'xb');
    const first = await call(server, 'POST', '/messages/', { token: alice.token, json: { content: 'opening', recipient_id: Number(bob.id) } });
    const cid = first.body.conversation;
    const [aliceLive, bobLive] = await Promise.all([liveOf(alice), liveOf(bob)]);
    const misses = await everyoneSeesEverything(
      [via.seed004(alice, bob), via.seed001(bob, cid), via.seed002(alice, cid), via.seed003(bob, cid), via.graphql(alice, cid)],
      [
        { user: alice, live: aliceLive, readers: readers(alice, cid, 'DIRECT', { other: bob }) },
        { user: bob, live: bobLive, readers: readers(bob, cid, 'DIRECT', { other: alice }) },
      ],
      cid,
    );
    expect(misses).toEqual([]);
  }, 180000);

  it('a group: sent through seeds 001, 002, 003 and GraphQL; read through seeds 000 (shared list), 001-004 and GraphQL', async () => {
    const owner = await restUser(server, 'xo');
    const member = await restUser(server, 'xm');
    const group = await call(server, 'POST', '/chats/', { token: owner.token, form: form({ name: 'cross', members: [member.id] }) });
    const cid = group.body.id;
    const [ownerLive, memberLive] = await Promise.all([liveOf(owner), liveOf(member)]);
    const misses = await everyoneSeesEverything(
      [via.seed001(owner, cid), via.seed002(member, cid), via.seed003(owner, cid), via.graphql(member, cid)],
      [
        { user: owner, live: ownerLive, readers: readers(owner, cid, 'GROUP') },
        { user: member, live: memberLive, readers: readers(member, cid, 'GROUP') },
      ],
      cid,
    );
    expect(misses).toEqual([]);
  }, 180000);

  it('a support thread: the customer and staff (not a member until they answer) read it through every dialect and GraphQL', async () => {
    const customer = await restUser(server, 'xc');
    const staff = await restUser(server, 'xs');
    await makeStaff(server, staff); // staff rights are read per request: the token from before works
    const cid = (await get(customer, '/chat/conversations/my_conversation/')).id;
    const [customerLive, staffLive] = await Promise.all([liveOf(customer), liveOf(staff)]);
    const misses = await everyoneSeesEverything(
      [via.seed002(customer, cid), via.seed001(staff, cid), via.seed003(customer, cid), via.graphql(staff, cid)],
      [
        { user: customer, live: customerLive, readers: readers(customer, cid, 'SUPPORT', { customer: true }) },
        { user: staff, live: staffLive, readers: readers(staff, cid, 'SUPPORT') },
      ],
      cid,
    );
    expect(misses).toEqual([]);
  }, 180000);

  it('a public room: sent through seeds 003, 001, 002 and GraphQL; read by its owner and a member who joined', async () => {
    const dev = await restUser(server, 'xd');
    const mate = await restUser(server, 'xt');
    const room = await call(server, 'POST', '/chat/rooms/', { token: dev.token, json: { name: '开发讨论', room_type: 'public' } });
    const cid = room.body.id;
    expect((await call(server, 'POST', `/chat/rooms/${cid}/join/`, { token: mate.token })).status).toBe(200);
    const [devLive, mateLive] = await Promise.all([liveOf(dev), liveOf(mate)]);
    const misses = await everyoneSeesEverything(
      [via.seed003(dev, cid), via.seed001(mate, cid), via.seed002(dev, cid), via.graphql(mate, cid)],
      [
        { user: dev, live: devLive, readers: readers(dev, cid, 'ROOM') },
        { user: mate, live: mateLive, readers: readers(mate, cid, 'ROOM') },
      ],
      cid,
    );
    expect(misses).toEqual([]);
  }, 180000);
});

/** Where each reader shows message `id`'s file: [reader, URL shown] (null: the message is there, its dialect has no file field). */
async function fileSeen(viewer: RestUser, cid: number, id: number): Promise<[string, string | null | undefined][]> {
  const find = (list: any[]) => list.find((m: any) => (m.id ?? m.message_id) === id);
  const one = await get(viewer, `/messages/${id}/`);
  const gql = (
    await gqlData(server, viewer, `query($c: ID!) { messages(conversationId: $c, last: 100) { edges { node { id attachments { url } } } } }`, {
      c: String(cid),
    })
  ).messages.edges.find((e: any) => Number(e.node.id) === id);
  return [
    ['001 GET /chats/{id}/messages/ media', find((await get(viewer, `/chats/${cid}/messages/?page_size=100`)).results)?.media[0]?.url],
    ['003 GET /chat/rooms/{id}/messages/ file_url', find((await get(viewer, `/chat/rooms/${cid}/messages/?page_size=100`)).messages)?.file_url],
    [
      '004 GET /conversations/{id}/messages/ attachments',
      find((await get(viewer, `/conversations/${cid}/messages/?page_size=100`)).results)?.attachments[0]?.file,
    ],
    ['004 GET /conversations/{id}/ last_message', (await get(viewer, `/conversations/${cid}/`)).last_message?.attachments[0]?.file],
    ['001+004 GET /messages/{id}/ media', one.media[0]?.url],
    ['001+004 GET /messages/{id}/ attachments', one.attachments[0]?.file],
    ['GraphQL messages attachments', gql?.node.attachments[0]?.url],
    [
      '002 GET /chat/conversations/{id}/messages/ (no file field)',
      find(await get(viewer, `/chat/conversations/${cid}/messages/?limit=100`)) ? null : undefined,
    ],
  ];
}

describe('cross-dialect: a seed-003 file message (issue 16)', () => {
  it("an external link and a link to this server's media, sent through seed 003, are the same file in every dialect, GraphQL and live", async () => {
    const dev = await restUser(server, 'xfd');
    const mate = await restUser(server, 'xfm');
    const room = await call(server, 'POST', '/chat/rooms/', { token: dev.token, json: { name: '文件', room_type: 'public' } });
    const cid = room.body.id;
    expect((await call(server, 'POST', `/chat/rooms/${cid}/join/`, { token: mate.token })).status).toBe(200);
    const live = sub(client(mate), `subscription($c: ID) { messageAdded(conversationId: $c) { id attachments { url isExternal } } }`, { c: String(cid) });
    await live.ready();

    const external = await call(server, 'POST', `/chat/rooms/${cid}/messages/`, {
      token: dev.token,
      json: { content: '消息内容', message_type: 'image', file_url: 'https://example.com/file.jpg', file_name: 'image.jpg', file_size: 1024 },
    });
    expect(external.status).toBe(201);
    expect(await live.next()).toEqual({
      messageAdded: { id: String(external.body.id), attachments: [{ url: 'https://example.com/file.jpg', isExternal: true }] },
    });
    for (const viewer of [dev, mate]) {
      const misses = (await fileSeen(viewer, cid, external.body.id)).filter(([, url]) => url !== 'https://example.com/file.jpg' && url !== null);
      expect(misses).toEqual([]);
    }

    // An upload through seed 001 elsewhere, linked by its seed-003 URL: every reader shows the new attachment's signed URL.
    const group = await call(server, 'POST', '/chats/', { token: mate.token, form: form({ name: 'src', members: [dev.id] }) });
    const png = Buffer.from(
      '89504e470d0a1a0a0000000d4948445200000001000000010806000000' + '1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082',
      'hex',
    );
    const upload = await call(server, 'POST', `/chats/${group.body.id}/send-message/`, {
      token: mate.token,
      form: form({ content: 'src' }, [['medias', { name: 'one.png', bytes: png, type: 'image/png' }]]),
    });
    expect(upload.status).toBe(201);
    const linked = await call(server, 'POST', `/chat/rooms/${cid}/messages/`, {
      token: dev.token,
      json: { content: '', message_type: 'image', file_url: upload.body.media[0].url },
    });
    expect(linked.status).toBe(201);
    const linkedId = Number(/\/media\/(\d+)\?/.exec(linked.body.file_url)![1]);
    expect(linkedId).not.toBe(upload.body.media[0].id);
    expect(await live.next()).toEqual({
      messageAdded: { id: String(linked.body.id), attachments: [{ url: expect.stringMatching(new RegExp(`^/media/${linkedId}\\?exp=`)), isExternal: false }] },
    });
    for (const viewer of [dev, mate]) {
      const misses = (await fileSeen(viewer, cid, linked.body.id)).filter(
        ([, url]) => url !== null && !new RegExp(`/media/${linkedId}\\?exp=\\d+&sig=`).test(url ?? ''),
      );
      expect(misses).toEqual([]);
    }
  }, 60000);
});

describe('cross-dialect: issue 28, an archived room and a file uploaded first', () => {
  const ARCHIVED = /archived \(inactive\)/;

  it('a room deactivated through seed 003 is inactive in GraphQL and refuses sends through seeds 001, 002, 003, 004 and GraphQL; its history stays readable everywhere', async () => {
    const dev = await restUser(server, 'xad');
    const mate = await restUser(server, 'xam');
    const room = await call(server, 'POST', '/chat/rooms/', { token: dev.token, json: { name: '开发讨论', room_type: 'public' } });
    const cid = room.body.id;
    expect((await call(server, 'POST', `/chat/rooms/${cid}/join/`, { token: mate.token })).status).toBe(200);
    const hello = await call(server, 'POST', `/chat/rooms/${cid}/messages/`, { token: dev.token, json: { content: '大家好！', message_type: 'text' } });
    expect((await call(server, 'PATCH', `/chat/rooms/${cid}/`, { token: dev.token, json: { is_active: false } })).body.is_active).toBe(false);
    expect((await gqlData(server, mate, 'query($c: ID!) { conversation(id: $c) { isArchived } }', { c: String(cid) })).conversation.isArchived).toBe(true);

    const refusals: [string, { status: number; text: string }][] = [
      ['001 send-message', await call(server, 'POST', `/chats/${cid}/send-message/`, { token: mate.token, json: { content: 'x' } })],
      ['002 send_message', await call(server, 'POST', `/chat/conversations/${cid}/send_message/`, { token: mate.token, json: { noi_dung: 'x' } })],
      ['003 rooms/messages', await call(server, 'POST', `/chat/rooms/${cid}/messages/`, { token: mate.token, json: { content: 'x', message_type: 'text' } })],
      ['001+004 PATCH /messages/{id}/', await call(server, 'PATCH', `/messages/${hello.body.id}/`, { token: dev.token, json: { content: 'x' } })],
    ];
    for (const [name, res] of refusals) expect([name, res.status, ARCHIVED.test(res.text)]).toEqual([name, 403, true]);
    const g = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${mate.token}` },
      body: JSON.stringify({
        query: 'mutation($i: SendMessageInput!) { sendMessage(input: $i) { id } }',
        variables: { i: { conversationId: String(cid), content: 'x' } },
      }),
    }).then((r) => r.json() as Promise<any>);
    expect(g.errors[0]).toMatchObject({ extensions: { code: 'FORBIDDEN' }, message: expect.stringMatching(ARCHIVED) });

    for (const viewer of [dev, mate]) {
      const seen = await Promise.all(readers(viewer, cid, 'ROOM').map(async (r) => [r.name, (await r.read()).some(([id]) => id === hello.body.id)] as const));
      expect(seen.filter(([, ok]) => !ok)).toEqual([]);
    }
  }, 60000);

  it('a file uploaded through seed 003 and sent by URL is the same file in every dialect, GraphQL and live', async () => {
    const dev = await restUser(server, 'xud');
    const mate = await restUser(server, 'xum');
    const room = await call(server, 'POST', '/chat/rooms/', { token: dev.token, json: { name: '文件', room_type: 'public' } });
    const cid = room.body.id;
    expect((await call(server, 'POST', `/chat/rooms/${cid}/join/`, { token: mate.token })).status).toBe(200);
    const live = sub(client(mate), `subscription($c: ID) { messageAdded(conversationId: $c) { id attachments { url isExternal } } }`, { c: String(cid) });
    await live.ready();
    const png = Buffer.from(
      '89504e470d0a1a0a0000000d4948445200000001000000010806000000' + '1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082',
      'hex',
    );
    const up = await call(server, 'POST', '/chat/upload/', {
      token: dev.token,
      form: form({}, [['file', { name: 'image.png', bytes: png, type: 'image/png' }]]),
    });
    expect(up.status).toBe(201);
    const uploadId = Number(/\/media\/(\d+)\?/.exec(up.body.file_url)![1]);
    const sent = await call(server, 'POST', `/chat/rooms/${cid}/messages/`, {
      token: dev.token,
      json: { content: '消息内容', message_type: 'image', file_url: up.body.file_url, file_name: 'image.png', file_size: 1024 },
    });
    expect(sent.status).toBe(201);
    expect(await live.next()).toEqual({
      messageAdded: { id: String(sent.body.id), attachments: [{ url: expect.stringMatching(new RegExp(`^/media/${uploadId}\\?exp=`)), isExternal: false }] },
    });
    for (const viewer of [dev, mate]) {
      const misses = (await fileSeen(viewer, cid, sent.body.id)).filter(
        ([, url]) => url !== null && !new RegExp(`/media/${uploadId}\\?exp=\\d+&sig=`).test(url ?? ''),
      );
      expect(misses).toEqual([]);
    }
  }, 60000);
});
