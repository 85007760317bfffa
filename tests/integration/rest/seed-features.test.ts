/**
 * Issue 28, the missing seed features, driven by the seed documents' own example values:
 * - item 7, seed 003 note 7 ("文件消息需要先上传文件获取URL，然后发送消息"): POST /api/chat/upload/, then a
 *   file message naming its URL over REST and over the seed-003 socket; nobody else may link it;
 *   uploads never sent are purged after UPLOAD_ORPHAN_TTL;
 * - item 8, seed 003 `is_active`: PATCH /api/chat/rooms/{id}/ and archiveConversation; an inactive
 *   room is readable and refuses sends, joins, member additions and edits in every dialect;
 * - item 10, seed 002's fcm-django devices: POST/GET /api/devices/, DELETE /api/devices/{registration_id}/,
 *   and GraphQL registerPushDevice / pushDevices / unregisterPushDevice over the same table;
 * - item 11, seed 002's router: GET /api/chat/messages/ and /api/chat/messages/{id}/;
 * - item 12, seed 002's security note 4: noi_dung and nguoi_goi_name HTML-escaped for its innerHTML sample.
 */
import sharp from 'sharp';
import WebSocket from 'ws';
import { io as ioClient } from 'socket.io-client';
import { codeOf, gql, waitFor } from '../../support/client';
import { startTestServer, type TestServer } from '../../support/test-server';
import { call, expectError, form, gqlData, makeStaff, restUser, type RestUser } from './rest-support';

let server: TestServer;
// A short orphan TTL so the purge is observable (the sweep runs every second at this TTL).
beforeAll(async () => {
  server = await startTestServer({ UPLOAD_ORPHAN_TTL: '2', UPLOAD_PENDING_MAX: '3' });
});
afterAll(async () => {
  await server.close();
});

const rows = async (sql: string, params: unknown[] = []) => server.orm.em.fork().execute(sql, params);
const png = (w = 64, h = 48) =>
  sharp({ create: { width: w, height: h, channels: 3, background: { r: 200, g: 40, b: 40 } } })
    .png()
    .toBuffer();
const upload = async (user: RestUser, name = 'image.jpg', bytes?: Buffer) =>
  call(server, 'POST', '/chat/upload/', {
    token: user.token,
    form: form({}, [
      [
        'file',
        {
          name,
          bytes:
            bytes ??
            (await sharp(await png())
              .jpeg()
              .toBuffer()),
          type: 'image/jpeg',
        },
      ],
    ]),
  });
const roomOf = async (owner: RestUser, ...members: RestUser[]) => {
  const res = await call(server, 'POST', '/chat/rooms/', {
    token: owner.token,
    json: { name: '开发讨论', description: '开发团队讨论群', room_type: 'public', max_members: 50 },
  });
  expect(res.status).toBe(201);
  for (const m of members) expect((await call(server, 'POST', `/chat/rooms/${res.body.id}/join/`, { token: m.token })).status).toBe(200);
  return res.body.id as number;
};

/** A seed-003 socket on /ws/chat/<room>/ (token in the query), ready once `connection_established` arrived. */
async function roomSocket(user: RestUser, room: number) {
  const frames: any[] = [];
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}/ws/chat/${room}/?token=${encodeURIComponent(user.token)}`);
  ws.on('message', (d) => frames.push(JSON.parse(String(d))));
  ws.on('error', () => undefined);
  await waitFor(() => frames.some((f) => f.type === 'connection_established'), 'connection_established');
  // The socket is subscribed once the server counts it ready.
  await waitFor(() => server.realtime.legacy.readyCount({ userId: Number(user.id) }) > 0, 'seed-003 socket ready');
  return {
    send: (f: object) => ws.send(JSON.stringify(f)),
    next: async (type: string, after = 0) => {
      await waitFor(() => frames.slice(after).some((f) => f.type === type), `a ${type} frame`);
      return frames.slice(after).find((f) => f.type === type);
    },
    get count() {
      return frames.length;
    },
    close: () => ws.terminate(),
  };
}

describe('item 7: seed 003 note 7, upload first, then send the URL', () => {
  let dev: RestUser;
  let mate: RestUser;
  let room: number;
  beforeAll(async () => {
    dev = await restUser(server, 'updev', { first_name: 'Developer', last_name: 'User' });
    mate = await restUser(server, 'upmate');
    room = await roomOf(dev, mate);
  });

  it('answers {file_url, file_name, file_size} of the stored file; the uploader links it over REST (the message takes that file)', async () => {
    const bytes = await sharp(await png())
      .jpeg()
      .toBuffer();
    const up = await upload(dev, 'image.jpg', bytes);
    expect(up.status).toBe(201);
    expect(up.body).toEqual({
      file_url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/media\/\d+\?exp=\d+&sig=/),
      file_name: 'image.jpg',
      file_size: bytes.length,
    });
    // The uploader may fetch it before sending (a preview); the bytes are what was uploaded.
    const media = await fetch(up.body.file_url);
    expect(media.status).toBe(200);
    expect(Buffer.from(await media.arrayBuffer()).equals(bytes)).toBe(true);

    // The seed's own send body ("2.2 发送消息"), with the upload's file_url.
    const sent = await call(server, 'POST', `/chat/rooms/${room}/messages/`, {
      token: dev.token,
      json: { content: '消息内容', message_type: 'image', file_url: up.body.file_url, file_name: 'image.jpg', file_size: 1024 },
    });
    expect(sent.status).toBe(201);
    const attachmentId = Number(/\/media\/(\d+)\?/.exec(up.body.file_url)![1]);
    // The message took the upload's own row: its real size, not the declared 1024.
    expect(sent.body).toMatchObject({
      message_type: 'image',
      content: '消息内容',
      file_name: 'image.jpg',
      file_size: bytes.length,
      file_url: expect.stringContaining(`/media/${attachmentId}?`),
    });
    const [row] = await rows('select "message_id", "size" from "attachments" where "id" = ?', [attachmentId]);
    expect(Number(row.message_id)).toBe(sent.body.id);
    // The room's members read it.
    const history = await call(server, 'GET', `/chat/rooms/${room}/messages/`, { token: mate.token });
    expect(history.body.messages.find((m: any) => m.id === sent.body.id)).toMatchObject({ file_size: bytes.length, file_name: 'image.jpg' });
    expect((await fetch(history.body.messages.find((m: any) => m.id === sent.body.id).file_url)).status).toBe(200);
  });

  it('the uploader links it through a seed-003 chat_message frame', async () => {
    const up = await upload(dev, 'photo.jpg');
    expect(up.status).toBe(201);
    const socket = await roomSocket(dev, room);
    try {
      const at = socket.count;
      socket.send({ type: 'chat_message', content: '消息内容', message_type: 'image', file_url: up.body.file_url, reply_to: null });
      const frame = await socket.next('chat_message', at);
      expect(frame.message).toMatchObject({
        content: '消息内容',
        message_type: 'image',
        file_name: 'photo.jpg',
        file_size: up.body.file_size,
        sender: { username: dev.username },
      });
      const attachmentId = Number(/\/media\/(\d+)\?/.exec(up.body.file_url)![1]);
      expect(frame.message.file_url).toContain(`/media/${attachmentId}?`);
    } finally {
      socket.close();
    }
  });

  it('another user holding the URL cannot link it (400 naming file_url, nothing written); nor fetch it without the signature', async () => {
    const up = await upload(dev);
    const before = await rows('select count(*) as n from "messages"');
    const theft = await call(server, 'POST', `/chat/rooms/${room}/messages/`, {
      token: mate.token,
      json: { content: '', message_type: 'image', file_url: up.body.file_url },
    });
    expect(expectError(theft, 400).error).toBe('file_url names a file of this server that you may not see');
    expect(await rows('select count(*) as n from "messages"')).toEqual(before);
    const attachmentId = Number(/\/media\/(\d+)\?/.exec(up.body.file_url)![1]);
    const unsigned = await fetch(`${new URL(server.url).origin}/media/${attachmentId}`, { headers: { authorization: `Bearer ${mate.token}` } });
    expect(unsigned.status).toBe(404);
    // Over the socket too: an error frame, no message.
    const socket = await roomSocket(mate, room);
    try {
      const at = socket.count;
      socket.send({ type: 'chat_message', content: '', message_type: 'image', file_url: up.body.file_url });
      expect((await socket.next('error', at)).message).toMatch(/^file_url names a file of this server that you may not see/);
    } finally {
      socket.close();
    }
    const [row] = await rows('select "message_id" from "attachments" where "id" = ?', [attachmentId]);
    expect(row.message_id).toBeNull();
  });

  it('checks the upload like every attachment: 415 for a disguised file, 400 without a file; nothing is kept', async () => {
    const before = await rows('select count(*) as n from "attachments"');
    expectError(
      await call(server, 'POST', '/chat/upload/', {
        token: dev.token,
        form: form({}, [['file', { name: 'x.jpg', bytes: Buffer.from('<script>alert(1)</script>'), type: 'image/jpeg' }]]),
      }),
      415,
    );
    expectError(await call(server, 'POST', '/chat/upload/', { token: dev.token, form: form({ file: 'not a file' }) }), 400);
    expectError(await call(server, 'POST', '/chat/upload/', { form: form({}, [['file', { name: 'a.png', bytes: await png() }]]) }), 401);
    expect(await rows('select count(*) as n from "attachments"')).toEqual(before);
  });

  it('two sends racing for one upload: both messages have the file, one took the row, the other shares its bytes', async () => {
    const up = await upload(dev);
    const body = { content: '', message_type: 'image', file_url: up.body.file_url };
    const [a, b] = await Promise.all([1, 2].map(() => call(server, 'POST', `/chat/rooms/${room}/messages/`, { token: dev.token, json: body })));
    expect([a.status, b.status]).toEqual([201, 201]);
    const attachmentId = Number(/\/media\/(\d+)\?/.exec(up.body.file_url)![1]);
    const linked = await rows('select "message_id", "storage_key" from "attachments" where "message_id" in (?, ?) order by "id"', [a.body.id, b.body.id]);
    expect(linked).toHaveLength(2);
    expect(new Set(linked.map((r: any) => r.storage_key)).size).toBe(1);
    expect(await rows('select count(*)::int as n from "attachments" where "id" = ? and "message_id" is not null', [attachmentId])).toEqual([{ n: 1 }]);
  });

  it('purges uploads never sent after UPLOAD_ORPHAN_TTL (their files too), keeps sent ones; caps unsent uploads per user', async () => {
    const owner = await restUser(server, 'uppurge');
    const r = await roomOf(owner);
    const kept = await upload(owner);
    const orphan = await upload(owner);
    const third = await upload(owner);
    expect(third.status).toBe(201);
    // UPLOAD_PENDING_MAX=3: a fourth unsent upload is refused (CONFLICT → 400) and stores nothing.
    expect(expectError(await upload(owner), 400).error).toMatch(/uploads not yet sent \(at most 3\)/);
    expect(
      (
        await call(server, 'POST', `/chat/rooms/${r}/messages/`, {
          token: owner.token,
          json: { content: 'kept', message_type: 'image', file_url: kept.body.file_url },
        })
      ).status,
    ).toBe(201);
    const orphanId = Number(/\/media\/(\d+)\?/.exec(orphan.body.file_url)![1]);
    const keptId = Number(/\/media\/(\d+)\?/.exec(kept.body.file_url)![1]);
    const [{ storage_key: orphanKey }] = await rows('select "storage_key" from "attachments" where "id" = ?', [orphanId]);
    expect((await fetch(orphan.body.file_url)).status).toBe(200);
    await waitFor(async () => (await rows('select 1 from "attachments" where "id" = ?', [orphanId])).length === 0, 'the orphan upload purged', {
      timeoutMs: 20000,
    });
    expect((await fetch(orphan.body.file_url)).status).toBe(404);
    expect((await fetch(kept.body.file_url)).status).toBe(200);
    expect(await rows('select 1 from "attachments" where "storage_key" = ?', [orphanKey])).toEqual([]);
    // Its URL, sent late, names nothing any more.
    const late = await call(server, 'POST', `/chat/rooms/${r}/messages/`, {
      token: owner.token,
      json: { content: '', message_type: 'image', file_url: orphan.body.file_url },
    });
    expect(expectError(late, 400).error).toMatch(/^file_url/);
    expect(keptId).not.toBe(orphanId);
  }, 40000);
});

describe('item 7: an account deletion takes its unsent uploads', () => {
  it('deleteAccount removes the rows and files of the uploads never sent', async () => {
    const leaver = await restUser(server, 'upgone');
    const up = await upload(leaver);
    const id = Number(/\/media\/(\d+)\?/.exec(up.body.file_url)![1]);
    expect(await rows('select 1 from "attachments" where "id" = ?', [id])).toHaveLength(1);
    expect((await gqlData(server, leaver, 'mutation($p: String!) { deleteAccount(password: $p) }', { p: leaver.password })).deleteAccount).toBe(true);
    expect(await rows('select 1 from "attachments" where "id" = ?', [id])).toEqual([]);
    expect((await fetch(up.body.file_url)).status).toBe(404);
  });
});

describe('item 8: seed 003 is_active (archiveConversation)', () => {
  const ARCHIVED = /archived \(inactive\)/;

  it("an owner deactivates the seed's room: readable, refuses sends, joins, additions and edits in every dialect; reactivated, all work again", async () => {
    const dev = await restUser(server, 'ardev', { first_name: 'Developer', last_name: 'User' });
    const mate = await restUser(server, 'armate');
    const late = await restUser(server, 'arlate');
    const room = await roomOf(dev, mate);
    const hello = await call(server, 'POST', `/chat/rooms/${room}/messages/`, { token: mate.token, json: { content: '大家好！', message_type: 'text' } });
    expect(hello.status).toBe(201);

    // A member cannot deactivate it (403), the owner can (200, is_active false), as GraphQL shows.
    expectError(await call(server, 'PATCH', `/chat/rooms/${room}/`, { token: mate.token, json: { is_active: false } }), 403);
    const off = await call(server, 'PATCH', `/chat/rooms/${room}/`, { token: dev.token, json: { is_active: false } });
    expect(off.status).toBe(200);
    expect(off.body).toMatchObject({ id: room, name: '开发讨论', is_active: false, max_members: 50 });
    expect((await gqlData(server, mate, 'query($id: ID!) { conversation(id: $id) { isArchived } }', { id: String(room) })).conversation).toEqual({
      isArchived: true,
    });
    expect((await call(server, 'GET', `/chat/rooms/${room}/`, { token: mate.token })).body.is_active).toBe(false);

    // History stays readable everywhere.
    expect((await call(server, 'GET', `/chat/rooms/${room}/messages/`, { token: mate.token })).body.messages.map((m: any) => m.content)).toContain('大家好！');
    expect((await call(server, 'GET', `/chats/${room}/messages/`, { token: mate.token })).status).toBe(200);

    // Sends: seeds 001, 002, 003, GraphQL, and the seed-003 socket; each a clear refusal, nothing written.
    const before = await rows('select count(*) as n from "messages" where "conversation_id" = ?', [room]);
    expect(
      expectError(await call(server, 'POST', `/chat/rooms/${room}/messages/`, { token: mate.token, json: { content: '消息内容', message_type: 'text' } }), 403)
        .error,
    ).toMatch(ARCHIVED);
    expect(expectError(await call(server, 'POST', `/chats/${room}/send-message/`, { token: mate.token, json: { content: 'x' } }), 403).error).toMatch(ARCHIVED);
    expect(
      expectError(await call(server, 'POST', `/chat/conversations/${room}/send_message/`, { token: mate.token, json: { noi_dung: 'Xin chào' } }), 403).error,
    ).toMatch(ARCHIVED);
    const g = await gql(
      server.url,
      'mutation($i: SendMessageInput!) { sendMessage(input: $i) { id } }',
      { i: { conversationId: String(room), content: 'x' } },
      mate.token,
    );
    expect(codeOf(g)).toBe('FORBIDDEN');
    expect(g.errors![0].message).toMatch(ARCHIVED);
    const socket = await roomSocket(mate, room);
    try {
      const at = socket.count;
      socket.send({ type: 'chat_message', content: '消息内容', message_type: 'text' });
      expect((await socket.next('error', at)).message).toMatch(ARCHIVED);
    } finally {
      socket.close();
    }
    expect(await rows('select count(*) as n from "messages" where "conversation_id" = ?', [room])).toEqual(before);

    // Joins, additions and edits (the sender's own, and staff's) are refused too.
    expect(expectError(await call(server, 'POST', `/chat/rooms/${room}/join/`, { token: late.token }), 403).error).toMatch(ARCHIVED);
    const add = await gql(
      server.url,
      'mutation($c: ID!, $u: ID!) { addMember(conversationId: $c, userId: $u) { id } }',
      { c: String(room), u: late.id },
      dev.token,
    );
    expect(codeOf(add)).toBe('FORBIDDEN');
    expect(expectError(await call(server, 'PATCH', `/messages/${hello.body.id}/`, { token: mate.token, json: { content: 'edited' } }), 403).detail).toMatch(
      ARCHIVED,
    );
    const staff = await restUser(server, 'arstaff');
    await makeStaff(server, staff);
    expect(expectError(await call(server, 'PATCH', `/messages/${hello.body.id}/`, { token: staff.token, json: { content: 'edited' } }), 403).detail).toMatch(
      ARCHIVED,
    );

    // Staff reactivate it through GraphQL; everything works again.
    expect(
      (await gqlData(server, staff, 'mutation($id: ID!) { archiveConversation(id: $id, archived: false) { id isArchived } }', { id: String(room) }))
        .archiveConversation,
    ).toEqual({ id: String(room), isArchived: false });
    expect(
      (await call(server, 'POST', `/chat/rooms/${room}/messages/`, { token: mate.token, json: { content: '消息内容', message_type: 'text' } })).status,
    ).toBe(201);
    expect((await call(server, 'POST', `/chat/rooms/${room}/join/`, { token: late.token })).status).toBe(200);
    expect((await call(server, 'GET', `/chat/rooms/`, { token: late.token })).body.find((r: any) => r.id === room)).toBeTruthy();
  }, 60000);

  it('DIRECT chats cannot be archived; strangers get 404; a burst of the same archive leaves one state', async () => {
    const a = await restUser(server, 'ara');
    const b = await restUser(server, 'arb');
    const direct = await call(server, 'POST', '/messages/', { token: a.token, json: { content: 'hi', recipient_id: Number(b.id) } });
    const d = await gql(
      server.url,
      'mutation($id: ID!) { archiveConversation(id: $id, archived: true) { id } }',
      { id: String(direct.body.conversation) },
      a.token,
    );
    expect(codeOf(d)).toBe('BAD_USER_INPUT');
    const room = await roomOf(a);
    const privateRoom = (await call(server, 'POST', '/chat/rooms/', { token: a.token, json: { name: 'p', room_type: 'private' } })).body.id;
    expectError(await call(server, 'PATCH', `/chat/rooms/${privateRoom}/`, { token: b.token, json: { is_active: false } }), 404);
    const burst = await Promise.all(
      Array.from({ length: 5 }, () => call(server, 'PATCH', `/chat/rooms/${room}/`, { token: a.token, json: { is_active: false } })),
    );
    expect(burst.map((r) => [r.status, r.body.is_active])).toEqual(Array(5).fill([200, false]));
    const [{ archived_at: at }] = await rows('select "archived_at" from "conversations" where "id" = ?', [room]);
    expect(at).not.toBeNull();
    expectError(await call(server, 'PATCH', `/chat/rooms/${room}/`, { token: a.token, json: { is_active: 'no' } }), 400);
  });
});

describe('item 10: seed 002 push devices (fcm-django) and GraphQL registerPushDevice', () => {
  const TOKEN = 'fcm-token-of-customer-123:APA91bExample';

  it('registers, lists and deletes fcm-django devices; idempotent per token; re-registering moves the device; GraphQL sees the same table', async () => {
    const customer = await restUser(server, 'pdc');
    const other = await restUser(server, 'pdo');
    const body = { registration_id: TOKEN, type: 'android', name: 'Điện thoại của Nguyễn Văn A', device_id: 'android-123', active: true };
    const created = await call(server, 'POST', '/devices/', { token: customer.token, json: body });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      id: expect.any(Number),
      name: body.name,
      registration_id: TOKEN,
      device_id: 'android-123',
      active: true,
      date_created: expect.any(String),
      type: 'android',
    });
    // Again: 200, the same device (a burst of the same: still one row).
    const again = await Promise.all([1, 2, 3].map(() => call(server, 'POST', '/devices/', { token: customer.token, json: body })));
    expect(again.map((r) => [r.status, r.body.id])).toEqual(Array(3).fill([200, created.body.id]));
    expect((await call(server, 'GET', '/devices/', { token: customer.token })).body).toEqual([created.body]);
    expect((await gqlData(server, customer, '{ pushDevices { id platform name lastPushAt } }')).pushDevices).toEqual([
      { id: String(created.body.id), platform: 'FCM', name: body.name, lastPushAt: null },
    ]);

    // The phone changes hands: the other user's registration moves it (one row, now theirs).
    const moved = await call(server, 'POST', '/devices/', { token: other.token, json: { registration_id: TOKEN, type: 'android' } });
    expect([moved.status, moved.body.id]).toEqual([200, created.body.id]);
    expect((await call(server, 'GET', '/devices/', { token: customer.token })).body).toEqual([]);
    // Only its owner deletes it.
    expectError(await call(server, 'DELETE', `/devices/${encodeURIComponent(TOKEN)}/`, { token: customer.token }), 404);
    expect((await call(server, 'DELETE', `/devices/${encodeURIComponent(TOKEN)}/`, { token: other.token })).status).toBe(204);
    expect((await call(server, 'GET', '/devices/', { token: other.token })).body).toEqual([]);
  });

  it("GraphQL: FCM and Web Push devices, idempotent per endpoint; unregister is the owner's; bad input names the field", async () => {
    const u = await restUser(server, 'pdg');
    const v = await restUser(server, 'pdv');
    const REGISTER = 'mutation($i: RegisterPushDeviceInput!) { registerPushDevice(input: $i) { id platform name createdAt } }';
    const webPush = {
      endpoint: 'https://8.8.8.8/send/abc123', // a public address: endpoints must resolve only to public ones (issue 34)
      p256dh: 'BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM',
      auth: 'tBHItJI5svbpez7KI4CCXg',
    };
    const first = (await gqlData(server, u, REGISTER, { i: { platform: 'WEB_PUSH', webPush, name: 'Chrome on Linux' } })).registerPushDevice;
    expect(first).toMatchObject({ platform: 'WEB_PUSH', name: 'Chrome on Linux' });
    expect((await gqlData(server, u, REGISTER, { i: { platform: 'WEB_PUSH', webPush } })).registerPushDevice.id).toBe(first.id);
    // fcm-django's list shows it too (its endpoint as registration_id, type web).
    expect((await call(server, 'GET', '/devices/', { token: u.token })).body).toEqual([
      expect.objectContaining({ id: Number(first.id), registration_id: webPush.endpoint, type: 'web' }),
    ]);
    for (const [i, field] of [
      [{ platform: 'FCM' }, 'fcmToken'],
      [{ platform: 'WEB_PUSH', fcmToken: 'x' }, 'webPush'],
      [{ platform: 'WEB_PUSH', webPush: { ...webPush, endpoint: 'http://127.0.0.1/x' } }, 'webPush.endpoint'],
      [{ platform: 'FCM', fcmToken: 'has space' }, 'fcmToken'],
    ] as const) {
      const r = await gql(server.url, REGISTER, { i }, u.token);
      expect([codeOf(r), r.errors?.[0]?.extensions?.field]).toEqual(['BAD_USER_INPUT', field]);
    }
    const theft = await gql(server.url, 'mutation($id: ID!) { unregisterPushDevice(id: $id) }', { id: first.id }, v.token);
    expect(codeOf(theft)).toBe('NOT_FOUND');
    expect((await gqlData(server, u, 'mutation($id: ID!) { unregisterPushDevice(id: $id) }', { id: first.id })).unregisterPushDevice).toBe(true);
    expect((await gqlData(server, u, '{ pushDevices { id } }')).pushDevices).toEqual([]);
  });
});

describe("item 11: seed 002 GET /api/chat/messages/ (the router's ChatMessageViewSet)", () => {
  it("lists the caller's visible messages oldest first with limit/offset; detail; others' messages 404", async () => {
    const customer = await restUser(server, 'msc', { first_name: 'Nguyễn Văn', last_name: 'A' });
    const staff = await restUser(server, 'mss');
    const stranger = await restUser(server, 'msx');
    await makeStaff(server, staff);
    const cid = (await call(server, 'GET', '/chat/conversations/my_conversation/', { token: customer.token })).body.id;
    const a = await call(server, 'POST', `/chat/conversations/${cid}/send_message/`, {
      token: customer.token,
      json: { noi_dung: 'Xin chào, tôi muốn đặt bàn' },
    });
    const b = await call(server, 'POST', `/chat/conversations/${cid}/send_message/`, {
      token: staff.token,
      json: { noi_dung: 'Dạ, chúng tôi sẽ hỗ trợ anh/chị ngay' },
    });
    const mine = await call(server, 'GET', '/chat/messages/?limit=50&offset=0', { token: customer.token });
    expect(mine.status).toBe(200);
    expect(mine.body.map((m: any) => [m.id, m.noi_dung])).toEqual([
      [a.body.id, 'Xin chào, tôi muốn đặt bàn'],
      [b.body.id, 'Dạ, chúng tôi sẽ hỗ trợ anh/chị ngay'],
    ]);
    expect(mine.body[0]).toEqual({
      id: a.body.id,
      conversation_id: cid,
      nguoi_goi_id: Number(customer.id),
      nguoi_goi_name: 'Nguyễn Văn A',
      noi_dung: 'Xin chào, tôi muốn đặt bàn',
      thoi_gian: expect.any(String),
    });
    expect((await call(server, 'GET', '/chat/messages/?limit=1&offset=1', { token: customer.token })).body.map((m: any) => m.id)).toEqual([b.body.id]);
    // Staff see every support thread's messages; a stranger sees none of them.
    expect((await call(server, 'GET', '/chat/messages/?limit=100', { token: staff.token })).body.map((m: any) => m.id)).toEqual(
      expect.arrayContaining([a.body.id, b.body.id]),
    );
    expect((await call(server, 'GET', '/chat/messages/', { token: stranger.token })).body).toEqual([]);
    expect((await call(server, 'GET', `/chat/messages/${a.body.id}/`, { token: customer.token })).body).toEqual(mine.body[0]);
    expectError(await call(server, 'GET', `/chat/messages/${a.body.id}/`, { token: stranger.token }), 404);
    expectError(await call(server, 'GET', '/chat/messages/?limit=-1', { token: customer.token }), 400);
  });
});

describe('item 12: seed 002 security note 4, noi_dung for its innerHTML sample', () => {
  it('stores text as sent; seed 002 (REST and Socket.IO) answers it HTML-escaped, every other dialect and GraphQL the text itself', async () => {
    const customer = await restUser(server, 'xsc', { first_name: '<img src=x onerror=alert(1)>' });
    const staff = await restUser(server, 'xss');
    await makeStaff(server, staff);
    const cid = (await call(server, 'GET', '/chat/conversations/my_conversation/', { token: customer.token })).body.id;
    const staffSocket = ioClient(`http://127.0.0.1:${server.port}`, { auth: { token: staff.token }, transports: ['websocket'] });
    const events: any[] = [];
    staffSocket.on('new_message', (d) => events.push(d));
    try {
      await waitFor(() => staffSocket.connected && server.realtime.socketIo.readyCount({ userId: Number(staff.id) }) > 0, 'the staff Socket.IO client ready');
      const text = 'Xin chào <script>alert("x")</script> & cảm ơn';
      const escaped = 'Xin chào &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; cảm ơn';
      const sent = await call(server, 'POST', `/chat/conversations/${cid}/send_message/`, { token: customer.token, json: { noi_dung: text } });
      expect(sent.body).toMatchObject({ noi_dung: escaped, nguoi_goi_name: '&lt;img src=x onerror=alert(1)&gt;' });
      expect((await call(server, 'GET', `/chat/conversations/${cid}/messages/`, { token: staff.token })).body.at(-1).noi_dung).toBe(escaped);
      expect((await call(server, 'GET', '/chat/conversations/', { token: staff.token })).body.find((c: any) => c.id === cid).last_message.noi_dung).toBe(
        escaped,
      );
      await waitFor(() => events.some((e) => e.id === sent.body.id), 'new_message');
      expect(events.find((e) => e.id === sent.body.id)).toMatchObject({ noi_dung: escaped, nguoi_goi_name: '&lt;img src=x onerror=alert(1)&gt;' });
      // Stored as sent: seed 004 and GraphQL show the text itself.
      expect((await call(server, 'GET', `/messages/${sent.body.id}/`, { token: staff.token })).body.content).toBe(text);
      expect((await gqlData(server, staff, 'query($id: ID!) { message(id: $id) { content } }', { id: String(sent.body.id) })).message.content).toBe(text);
    } finally {
      staffSocket.disconnect();
    }
  });
});
