/**
 * Seed 003 (team chat rooms) over REST, as its React frontend drives it: log in, create public,
 * private and group rooms, list rooms (own plus public), details, join (403 private, 400 full or
 * banned), leave, members with roles, page/page_size history, send with a reply, mark read up to
 * a message, delete ("[消息已删除]"), notifications and marking one read.
 */
import { trackRealtime } from '../../support/client';
import { startTestServer, type TestServer } from '../../support/test-server';
import { call, expectError, expectKeys, gqlData, restUser, type RestUser } from './rest-support';

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

const CREATED_KEYS = ['id', 'name', 'description', 'room_type', 'created_by', 'member_count', 'is_active', 'max_members', 'created_at'];
const LIST_KEYS = ['id', 'name', 'description', 'room_type', 'created_by', 'member_count', 'last_message', 'created_at'];
const DETAIL_KEYS = ['id', 'name', 'description', 'room_type', 'created_by', 'members', 'member_count', 'is_active', 'max_members', 'created_at', 'updated_at'];
const MSG_KEYS = [
  'id',
  'room',
  'sender',
  'message_type',
  'content',
  'file_url',
  'file_name',
  'file_size',
  'is_edited',
  'is_deleted',
  'reply_to',
  'created_at',
  'updated_at',
];
const USER_KEYS = ['id', 'username', 'first_name', 'last_name'];

describe('seed 003: rooms', () => {
  // Fresh users for every test, each test makes its own rooms: any test runs alone.
  let dev: RestUser;
  let mate: RestUser;
  let stranger: RestUser;
  beforeEach(async () => {
    dev = await restUser(server, 'dev', { first_name: 'Developer', last_name: 'User' });
    mate = await restUser(server, 'mate');
    stranger = await restUser(server, 'str');
  });
  /** dev's PUBLIC room "开发讨论" (50 members) and PRIVATE room "私有" (2 members), as the first test creates and checks them. */
  async function devRooms(): Promise<{ publicId: number; privateId: number }> {
    const pub = await call(server, 'POST', '/chat/rooms/', {
      token: dev.token,
      json: { name: '开发讨论', description: '开发团队讨论群', room_type: 'public', max_members: 50 },
    });
    const priv = await call(server, 'POST', '/chat/rooms/', { token: dev.token, json: { name: '私有', room_type: 'private', max_members: '2' } });
    expect([pub.status, priv.status]).toEqual([201, 201]);
    return { publicId: pub.body.id, privateId: priv.body.id };
  }

  it('creates rooms of every type and lists own plus public rooms', async () => {
    const pub = await call(server, 'POST', '/chat/rooms/', {
      token: dev.token,
      json: { name: '开发讨论', description: '开发团队讨论群', room_type: 'public', max_members: 50 },
    });
    expect(pub.status).toBe(201);
    expectKeys(pub.body, CREATED_KEYS);
    expect(pub.body).toMatchObject({
      name: '开发讨论',
      description: '开发团队讨论群',
      room_type: 'public',
      created_by: { id: Number(dev.id), username: dev.username },
      member_count: 1,
      is_active: true,
      max_members: 50,
    });
    expectKeys(pub.body.created_by, ['id', 'username']);
    const publicId: number = pub.body.id;
    const priv = await call(server, 'POST', '/chat/rooms/', { token: dev.token, json: { name: '私有', room_type: 'private', max_members: '2' } });
    expect(priv.body).toMatchObject({ room_type: 'private', max_members: 2 });
    const privateId: number = priv.body.id;
    const group = await call(server, 'POST', '/chat/rooms/', { token: dev.token, json: { name: '小组', room_type: 'group' } });
    expect(group.status).toBe(201);
    expect(group.body).toMatchObject({ room_type: 'group', member_count: 1 });

    expect(expectError(await call(server, 'POST', '/chat/rooms/', { token: dev.token, json: { name: 'x', room_type: 'secret' } }), 400).error).toMatch(
      /^room_type/,
    );
    expect(
      expectError(await call(server, 'POST', '/chat/rooms/', { token: dev.token, json: { name: 'x', room_type: 'public', max_members: 1 } }), 400).error,
    ).toMatch(/^max_members/);

    // Own rooms plus every PUBLIC room (other tests' public rooms included: the server is shared).
    const own = [publicId, privateId, group.body.id];
    const mine = await call(server, 'GET', '/chat/rooms/', { token: dev.token });
    expect(mine.status).toBe(200);
    expect(
      mine.body
        .filter((r: any) => own.includes(r.id))
        .map((r: any) => r.id)
        .sort(),
    ).toEqual([...own].sort());
    expect(mine.body.filter((r: any) => !own.includes(r.id)).map((r: any) => r.room_type)).toEqual(
      mine.body.filter((r: any) => !own.includes(r.id)).map(() => 'public'),
    );
    for (const r of mine.body) expectKeys(r, LIST_KEYS);
    expectKeys(mine.body[0].created_by, USER_KEYS);
    // A stranger sees the public room, and public rooms only, as metadata (no last message).
    const theirs = await call(server, 'GET', '/chat/rooms/', { token: stranger.token });
    expect(theirs.body.map((r: any) => r.id)).toContain(publicId);
    expect(theirs.body.map((r: any) => r.id)).not.toContain(privateId);
    expect(theirs.body.map((r: any) => r.id)).not.toContain(group.body.id);
    expect(theirs.body.map((r: any) => r.room_type)).toEqual(theirs.body.map(() => 'public'));
    const peek = await call(server, 'GET', `/chat/rooms/${publicId}/`, { token: stranger.token });
    expect(peek.status).toBe(200);
    expectKeys(peek.body, DETAIL_KEYS);
    expect(peek.body).toMatchObject({ members: [], member_count: 1 });
    expectError(await call(server, 'GET', `/chat/rooms/${privateId}/`, { token: stranger.token }), 404);
  });

  it('joins (403 private, 400 full or banned), lists members, leaves', async () => {
    const { publicId, privateId } = await devRooms();
    const joined = await call(server, 'POST', `/chat/rooms/${publicId}/join/`, { token: mate.token });
    expect(joined.status).toBe(200);
    expect(joined.body).toEqual({ message: '成功加入房间' });
    expectError(await call(server, 'POST', `/chat/rooms/${privateId}/join/`, { token: mate.token }), 403);

    const detail = await call(server, 'GET', `/chat/rooms/${publicId}/`, { token: mate.token });
    expect(detail.body.members.map((m: any) => m.id).sort()).toEqual([Number(dev.id), Number(mate.id)].sort());
    for (const m of detail.body.members) expectKeys(m, USER_KEYS);

    const members = await call(server, 'GET', `/chat/rooms/${publicId}/members/`, { token: mate.token });
    expect(members.status).toBe(200);
    for (const m of members.body) expectKeys(m, ['id', 'room', 'user', 'role', 'joined_at', 'last_read_at', 'is_muted', 'is_banned']);
    expect(members.body.map((m: any) => [m.user.id, m.role])).toEqual([
      [Number(dev.id), 'admin'],
      [Number(mate.id), 'member'],
    ]); // issue 19: the room's OWNER shows as the seed's "admin"
    expect(members.body[0].room).toEqual({ id: publicId, name: '开发讨论' });
    expectError(await call(server, 'GET', `/chat/rooms/${privateId}/members/`, { token: mate.token }), 404);

    // Full: a room of 2 refuses a third member with 400.
    const small = await call(server, 'POST', '/chat/rooms/', { token: dev.token, json: { name: 'small', room_type: 'public', max_members: 2 } });
    await call(server, 'POST', `/chat/rooms/${small.body.id}/join/`, { token: mate.token });
    expect(expectError(await call(server, 'POST', `/chat/rooms/${small.body.id}/join/`, { token: stranger.token }), 400).error).toBe('房间已满');
    // Banned (through GraphQL's banMember): 400.
    await gqlData(server, dev, `mutation($c: ID!, $u: ID!) { banMember(conversationId: $c, userId: $u, banned: true) { isBanned } }`, {
      c: String(small.body.id),
      u: mate.id,
    });
    const banned = await call(server, 'GET', `/chat/rooms/${small.body.id}/members/`, { token: dev.token });
    expect(banned.body.find((m: any) => m.user.id === Number(mate.id))).toMatchObject({ is_banned: true });
    expectError(await call(server, 'POST', `/chat/rooms/${small.body.id}/join/`, { token: mate.token }), 400);

    // Leaving a room one cannot see: 404.
    expectError(await call(server, 'POST', `/chat/rooms/${privateId}/leave/`, { token: stranger.token }), 404);
    const left = await call(server, 'POST', `/chat/rooms/${publicId}/leave/`, { token: mate.token });
    expect(left.status).toBe(200);
    expect(left.body).toEqual({ message: '成功离开房间' });
    const leftMembers = await call(server, 'GET', `/chat/rooms/${publicId}/members/`, { token: dev.token });
    expect(leftMembers.body.map((m: any) => m.user.id)).toEqual([Number(dev.id)]);
    const back = await call(server, 'POST', `/chat/rooms/${publicId}/join/`, { token: mate.token });
    expect({ status: back.status, body: back.body }).toEqual({ status: 200, body: { message: '成功加入房间' } });
    const rejoined = await call(server, 'GET', `/chat/rooms/${publicId}/members/`, { token: mate.token });
    expect(rejoined.body.map((m: any) => [m.user.id, m.role])).toEqual([
      [Number(dev.id), 'admin'],
      [Number(mate.id), 'member'],
    ]);
  });

  it('sends, pages history, marks read, deletes, and notifies', async () => {
    const { publicId, privateId } = await devRooms();
    expect((await call(server, 'POST', `/chat/rooms/${publicId}/join/`, { token: mate.token })).body).toEqual({ message: '成功加入房间' });
    const first = await call(server, 'POST', `/chat/rooms/${publicId}/messages/`, { token: dev.token, json: { content: '大家好！', message_type: 'text' } });
    expect(first.status).toBe(201);
    expectKeys(first.body, MSG_KEYS);
    expect(first.body).toMatchObject({
      room: { id: publicId, name: '开发讨论' },
      sender: { id: Number(dev.id), username: dev.username, first_name: 'Developer', last_name: 'User' },
      message_type: 'text',
      content: '大家好！',
      file_url: null,
      file_name: null,
      file_size: null,
      is_edited: false,
      is_deleted: false,
      reply_to: null,
    });
    // The mention reaches dev live too (GraphQL notificationAdded), written by the REST send.
    const notes$ = sub(client(dev), `subscription { notificationAdded { kind message { id } } }`);
    await notes$.ready();
    const reply = await call(server, 'POST', `/chat/rooms/${publicId}/messages/`, {
      token: mate.token,
      json: { content: `收到 @${dev.username}`, reply_to: first.body.id },
    });
    expect(reply.body.reply_to).toBe(first.body.id);
    expect(await notes$.next()).toEqual({ notificationAdded: { kind: 'MENTION', message: { id: String(reply.body.id) } } });
    expect(
      expectError(await call(server, 'POST', `/chat/rooms/${publicId}/messages/`, { token: mate.token, json: { content: 'x', message_type: 'video' } }), 400)
        .error,
    ).toMatch(/^message_type/);
    // "system" is the owner's and admins' (issue 28 item 6): a plain member gets 403 naming the rule.
    expect(
      expectError(await call(server, 'POST', `/chat/rooms/${publicId}/messages/`, { token: mate.token, json: { content: 'x', message_type: 'system' } }), 403)
        .error,
    ).toMatch(/owner or an admin/);
    expect(
      expectError(await call(server, 'POST', `/chat/rooms/${publicId}/messages/`, { token: mate.token, json: { content: 'x', reply_to: 999999 } }), 400).error,
    ).toMatch(/^reply_to/);
    expectError(await call(server, 'POST', `/chat/rooms/${privateId}/messages/`, { token: mate.token, json: { content: 'x' } }), 404);
    expectError(await call(server, 'GET', `/chat/rooms/${privateId}/messages/`, { token: mate.token }), 404);

    const page = await call(server, 'GET', `/chat/rooms/${publicId}/messages/?page=1&page_size=20`, { token: mate.token });
    expect(page.status).toBe(200);
    expectKeys(page.body, ['messages', 'page', 'page_size', 'total']);
    expect(page.body).toMatchObject({ page: 1, page_size: 20 });
    expect(page.body.total).toBe(page.body.messages.length);
    for (const m of page.body.messages) expectKeys(m, MSG_KEYS);
    expect(page.body.messages.some((m: any) => m.message_type === 'system')).toBe(true);
    expectError(await call(server, 'GET', `/chat/rooms/${publicId}/messages/?page=99`, { token: mate.token }), 404);
    expect(expectError(await call(server, 'GET', `/chat/rooms/${publicId}/messages/?page=0`, { token: mate.token }), 400).error).toMatch(/^page/);

    // Mark read up to the reply: dev's read position moves from their own first message to it.
    const position = async () =>
      (await gqlData(server, dev, `query($c: ID!) { conversation(id: $c) { viewerMembership { lastReadSeq } } }`, { c: String(publicId) })).conversation
        .viewerMembership.lastReadSeq;
    const seqOf = async (id: number) => (await gqlData(server, dev, `query($m: ID!) { message(id: $m) { seq } }`, { m: String(id) })).message.seq;
    const [firstSeq, replySeq] = [await seqOf(first.body.id), await seqOf(reply.body.id)];
    expect(await position()).toBe(firstSeq);
    const markedAt = Date.now();
    const readMark = await call(server, 'POST', `/chat/messages/${reply.body.id}/read/`, { token: dev.token });
    expect(readMark.status).toBe(200);
    expect(readMark.body).toEqual({ message: '消息已标记为已读' });
    expect(await position()).toBe(replySeq);
    const members = await call(server, 'GET', `/chat/rooms/${publicId}/members/`, { token: dev.token });
    const readAt = members.body.find((m: any) => m.user.id === Number(dev.id)).last_read_at;
    expect(Date.parse(readAt)).toBeGreaterThanOrEqual(markedAt - 1000);
    expectError(await call(server, 'POST', `/chat/messages/${reply.body.id}/read/`, { token: stranger.token }), 404);

    expectError(await call(server, 'DELETE', `/chat/messages/${first.body.id}/delete/`, { token: mate.token }), 403);
    expectError(await call(server, 'DELETE', `/chat/messages/${first.body.id}/delete/`, { token: stranger.token }), 404);
    const deleted = await call(server, 'DELETE', `/chat/messages/${first.body.id}/delete/`, { token: dev.token });
    expect(deleted.status).toBe(200);
    expect(deleted.body).toEqual({ message: '消息已删除' });
    const after = await call(server, 'GET', `/chat/rooms/${publicId}/messages/`, { token: dev.token });
    expect(after.body.messages.find((m: any) => m.id === first.body.id)).toMatchObject({ content: '[消息已删除]', is_deleted: true });
    // The room's owner deletes a member's message too (room admins moderate).
    const spam = await call(server, 'POST', `/chat/rooms/${publicId}/messages/`, { token: mate.token, json: { content: '广告' } });
    const removedSpam = await call(server, 'DELETE', `/chat/messages/${spam.body.id}/delete/`, { token: dev.token });
    expect({ status: removedSpam.status, body: removedSpam.body }).toEqual({ status: 200, body: { message: '消息已删除' } });
    const afterSpam = await call(server, 'GET', `/chat/rooms/${publicId}/messages/`, { token: mate.token });
    expect(afterSpam.body.messages.find((m: any) => m.id === spam.body.id)).toMatchObject({
      content: '[消息已删除]',
      is_deleted: true,
      sender: { id: Number(mate.id) },
    });

    // The mention notified dev (MENTION); mate, not watching live, got a MESSAGE for dev's first message.
    const notes = await call(server, 'GET', '/chat/notifications/', { token: dev.token });
    expect(notes.status).toBe(200);
    const mention = notes.body.find((n: any) => n.notification_type === 'mention');
    expectKeys(mention, ['id', 'notification_type', 'title', 'content', 'room', 'message', 'is_read', 'created_at']);
    expectKeys(mention.room, ['id', 'name', 'description', 'room_type', 'created_by', 'member_count', 'is_active', 'max_members', 'created_at', 'updated_at']);
    expect(mention).toMatchObject({
      is_read: false,
      room: { id: publicId, name: '开发讨论', room_type: 'public' },
      message: { id: reply.body.id, message_type: 'text' },
    });
    expectKeys(mention.message, ['id', 'content', 'message_type', 'created_at']);
    const mateNotes = await call(server, 'GET', '/chat/notifications/', { token: mate.token });
    const messageNote = mateNotes.body.find((n: any) => n.notification_type === 'message' && n.message?.id === first.body.id);
    // Issue 19: the seed's title pattern, "新消息来自 <username>".
    expect(messageNote).toMatchObject({ title: `新消息来自 ${dev.username}` });

    const markNote = await call(server, 'POST', `/chat/notifications/${mention.id}/read/`, { token: dev.token });
    expect(markNote.body).toEqual({ message: '通知已标记为已读' });
    expect((await call(server, 'GET', '/chat/notifications/', { token: dev.token })).body.find((n: any) => n.id === mention.id).is_read).toBe(true);
    expectError(await call(server, 'POST', `/chat/notifications/${mention.id}/read/`, { token: mate.token }), 404);
  });
});

describe('seed 003: system notices and message_type "system" (issue 28 items 5-6)', () => {
  it('join, leave, add and ban notices show their actor as sender in message lists and last_message; the owner and admins post notices, other members get 403', async () => {
    const developer = await restUser(server, 'devsys', { first_name: 'Developer', last_name: 'User' });
    const user = await restUser(server, 'usersys');
    const added = await restUser(server, 'addsys');
    const admin = await restUser(server, 'admsys');
    // The seed's "1.2 创建房间" body.
    const room = (
      await call(server, 'POST', '/chat/rooms/', {
        token: developer.token,
        json: { name: '新房间', description: '房间描述', room_type: 'public', max_members: 50 },
      })
    ).body.id;
    const asDev = (query: string, variables: Record<string, unknown>) => gqlData(server, developer, query, variables);
    expect((await call(server, 'POST', `/chat/rooms/${room}/join/`, { token: user.token })).status).toBe(200);
    expect((await call(server, 'POST', `/chat/rooms/${room}/join/`, { token: admin.token })).status).toBe(200);
    await asDev('mutation($c: ID!, $u: ID!) { setMemberRole(conversationId: $c, userId: $u, role: ADMIN) { id } }', { c: String(room), u: admin.id });
    await asDev('mutation($c: ID!, $u: ID!) { addMember(conversationId: $c, userId: $u) { id } }', { c: String(room), u: added.id });
    expect((await call(server, 'POST', `/chat/rooms/${room}/leave/`, { token: added.token })).status).toBe(200);
    await asDev('mutation($c: ID!, $u: ID!) { banMember(conversationId: $c, userId: $u, banned: true) { id } }', { c: String(room), u: user.id });

    const history = await call(server, 'GET', `/chat/rooms/${room}/messages/?page=1&page_size=20`, { token: developer.token });
    const notices = history.body.messages.filter((m: any) => m.message_type === 'system');
    expect(notices.length).toBeGreaterThanOrEqual(5);
    for (const n of notices) {
      expectKeys(n.sender, USER_KEYS);
      expect(typeof n.sender.username).toBe('string');
    }
    const by = (username: string) => notices.filter((n: any) => n.sender.username === username).length;
    expect(by(user.username)).toBeGreaterThanOrEqual(1); // joined
    expect(by(added.username)).toBeGreaterThanOrEqual(1); // left
    expect(by(developer.username)).toBe(2); // added, banned
    expect(notices.find((n: any) => n.sender.username === developer.username).sender).toEqual({
      id: Number(developer.id),
      username: developer.username,
      first_name: 'Developer',
      last_name: 'User',
    });
    // last_message of the room list: the ban notice, its sender the developer.
    const listed = (await call(server, 'GET', '/chat/rooms/', { token: developer.token })).body.find((r: any) => r.id === room);
    expect(listed.last_message).toMatchObject({ sender: developer.username });

    // "2.2 发送消息" with message_type "system": the owner's and an admin's notices; a member's 403 naming the rule.
    const ownerNotice = await call(server, 'POST', `/chat/rooms/${room}/messages/`, {
      token: developer.token,
      json: { content: '消息内容', message_type: 'system' },
    });
    expect(ownerNotice.status).toBe(201);
    expectKeys(ownerNotice.body, MSG_KEYS);
    expect(ownerNotice.body).toMatchObject({
      message_type: 'system',
      content: '消息内容',
      sender: { id: Number(developer.id), username: developer.username },
      file_url: null,
    });
    const adminNotice = await call(server, 'POST', `/chat/rooms/${room}/messages/`, {
      token: admin.token,
      json: { content: '管理员通知', message_type: 'system', file_url: 'https://example.com/file.jpg' },
    });
    expect(adminNotice.status).toBe(201);
    expect(adminNotice.body).toMatchObject({ message_type: 'system', sender: { username: admin.username }, file_url: null });
    const member = await restUser(server, 'memsys');
    expect((await call(server, 'POST', `/chat/rooms/${room}/join/`, { token: member.token })).status).toBe(200);
    const total = (await call(server, 'GET', `/chat/rooms/${room}/messages/`, { token: developer.token })).body.total;
    const refused = expectError(
      await call(server, 'POST', `/chat/rooms/${room}/messages/`, { token: member.token, json: { content: '消息内容', message_type: 'system' } }),
      403,
    );
    expect(refused.error).toMatch(/owner or an admin may send a system message/);
    expect((await call(server, 'GET', `/chat/rooms/${room}/messages/`, { token: developer.token })).body.total).toBe(total);
    // A notice is the server's: nobody edits or deletes it (its actor neither).
    expectError(await call(server, 'DELETE', `/chat/messages/${ownerNotice.body.id}/delete/`, { token: developer.token }), 400);
  });
});

describe('the read position never moves backwards', () => {
  it('REST mark-read of an older message and GraphQL markRead with a lower upToSeq keep it, without a receipt', async () => {
    const owner = await restUser(server, 'rpo');
    const reader = await restUser(server, 'rpr');
    const room = await call(server, 'POST', '/chat/rooms/', { token: owner.token, json: { name: 'read marks', room_type: 'public' } });
    expect((await call(server, 'POST', `/chat/rooms/${room.body.id}/join/`, { token: reader.token })).body).toEqual({ message: '成功加入房间' });
    const ids: number[] = [];
    for (const t of ['one', 'two', 'three'])
      ids.push((await call(server, 'POST', `/chat/rooms/${room.body.id}/messages/`, { token: owner.token, json: { content: t } })).body.id);
    const MEMBERSHIP = `query($c: ID!) { conversation(id: $c) { unreadCount viewerMembership { lastReadSeq lastReadAt } } }`;
    const state = async () => (await gqlData(server, reader, MEMBERSHIP, { c: String(room.body.id) })).conversation;
    const seqOf = async (id: number) => (await gqlData(server, reader, `query($m: ID!) { message(id: $m) { seq } }`, { m: String(id) })).message.seq;
    const seqs = [await seqOf(ids[0]), await seqOf(ids[1]), await seqOf(ids[2])];
    const receipts = sub(client(owner), `subscription($c: ID!) { readReceipt(conversationId: $c) { user { id } lastReadSeq } }`, { c: String(room.body.id) });
    await receipts.ready();

    // Forward to "two" over REST: moved, with a receipt.
    expect((await call(server, 'POST', `/chat/messages/${ids[1]}/read/`, { token: reader.token })).body).toEqual({ message: '消息已标记为已读' });
    const marked = await state();
    expect(marked).toMatchObject({ unreadCount: 1, viewerMembership: { lastReadSeq: seqs[1] } });
    expect(await receipts.next()).toEqual({ readReceipt: { user: { id: reader.id }, lastReadSeq: seqs[1] } });

    // Back to "one" over REST, then to a lower upToSeq over GraphQL: both answer, nothing moves.
    expect((await call(server, 'POST', `/chat/messages/${ids[0]}/read/`, { token: reader.token })).body).toEqual({ message: '消息已标记为已读' });
    expect(await state()).toEqual(marked);
    const lower = await gqlData(
      server,
      reader,
      `mutation($c: ID!, $s: Int) { markRead(conversationId: $c, upToSeq: $s) { lastReadSeq lastReadAt unreadCount } }`,
      { c: String(room.body.id), s: seqs[0] },
    );
    expect(lower.markRead).toEqual({ lastReadSeq: seqs[1], lastReadAt: marked.viewerMembership.lastReadAt, unreadCount: 1 });
    expect(await state()).toEqual(marked);

    // Forward again to "three": this receipt is the next one (the backward marks published none).
    expect((await call(server, 'POST', `/chat/messages/${ids[2]}/read/`, { token: reader.token })).status).toBe(200);
    expect(await receipts.until(() => true)).toEqual([{ readReceipt: { user: { id: reader.id }, lastReadSeq: seqs[2] } }]);
    expect(await state()).toMatchObject({ unreadCount: 0, viewerMembership: { lastReadSeq: seqs[2] } });
  });
});
