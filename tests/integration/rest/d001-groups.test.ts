/**
 * Seed 001 (rental-app chat groups) over REST, as its frontend drives it: log in, create a group
 * with multipart repeated `members`, list (paginated), details with members, send (multipart and
 * JSON, with a reply), paginated history with absolute next/previous links and 404 past the end,
 * edit and delete through /api/messages/{id}/, add/remove/leave with SYSTEM messages, 1:1 chats
 * (201 then 200), the seed's error bodies, and writes reaching GraphQL subscriptions.
 */
import { trackRealtime } from '../../support/client';
import { startTestServer, type TestServer } from '../../support/test-server';
import { apiBase, call, expectError, expectKeys, restUser, type RestUser } from './rest-support';

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

const CHAT_KEYS = ['id', 'name', 'description', 'is_group', 'members_summary', 'created_by', 'created_at', 'updated_at', 'last_message', 'unread_count'];
const SUMMARY_KEYS = ['id', 'username', 'full_name', 'avatar_thumbnail', 'role'];
const MESSAGE_KEYS = [
  'id',
  'chat_group',
  'sender',
  'content',
  'is_system_message',
  'is_removed',
  'replied_to',
  'replied_to_preview',
  'created_at',
  'updated_at',
  'media',
];
const MEMBER_KEYS = ['id', 'chat_group', 'user', 'is_admin', 'nickname', 'last_read_at', 'unread_count', 'created_at', 'updated_at'];

function groupForm(name: string, description: string, members: RestUser[]): FormData {
  const f = new FormData();
  f.append('name', name);
  f.append('description', description);
  for (const m of members) f.append('members', m.id);
  return f;
}

async function sendForm(user: RestUser, chatId: number, content: string, repliedTo?: number) {
  const f = new FormData();
  f.append('content', content);
  if (repliedTo) f.append('replied_to', String(repliedTo));
  return call(server, 'POST', `/chats/${chatId}/send-message/`, { token: user.token, form: f });
}

describe('seed 001: chat groups', () => {
  // Fresh users for every test (each test makes its own group): any test runs alone.
  let owner: RestUser;
  let renter: RestUser;
  let third: RestUser;
  let outsider: RestUser;
  beforeEach(async () => {
    owner = await restUser(server, 'own', { first_name: 'Owner', last_name: 'One' });
    renter = await restUser(server, 'ren', { first_name: 'Renter', last_name: 'One' });
    third = await restUser(server, 'thr');
    outsider = await restUser(server, 'out');
  });
  /** The owner's group with renter and third (multipart repeated `members`, as the first test checks); its id. */
  async function newGroup(): Promise<number> {
    const created = await call(server, 'POST', '/chats/', { token: owner.token, form: groupForm('Nhóm dự án', 'Thảo luận', [renter, third]) });
    expect(created.status).toBe(201);
    return created.body.id;
  }

  it('creates a group from multipart repeated members, lists it, shows its members', async () => {
    const created = await call(server, 'POST', '/chats/', { token: owner.token, form: groupForm('Nhóm dự án', 'Thảo luận', [renter, third]) });
    expect(created.status).toBe(201);
    expectKeys(created.body, CHAT_KEYS);
    expect(created.body).toMatchObject({ name: 'Nhóm dự án', description: 'Thảo luận', is_group: true, created_by: Number(owner.id), unread_count: 0 });
    expect(created.body.members_summary.map((m: any) => m.id).sort()).toEqual([owner, renter, third].map((u) => Number(u.id)).sort());
    for (const m of created.body.members_summary) expectKeys(m, SUMMARY_KEYS);
    const chatId: number = created.body.id;

    const list = await call(server, 'GET', '/chats/', { token: renter.token });
    expect(list.status).toBe(200);
    expectKeys(list.body, ['count', 'next', 'previous', 'results']);
    expect(list.body).toMatchObject({ count: 1, next: null, previous: null });
    expectKeys(list.body.results[0], CHAT_KEYS);
    // Issue 19: as the seed shows for a new group, no last message (the creation notice is not a
    // chat's preview) and nothing unread, for the creator and the members alike.
    expect(created.body.last_message).toBeNull();
    expect(list.body.results[0]).toMatchObject({ last_message: null, unread_count: 0 });

    const detail = await call(server, 'GET', `/chats/${chatId}/`, { token: renter.token });
    expect(detail.status).toBe(200);
    expectKeys(detail.body, [...CHAT_KEYS, 'members']);
    for (const m of detail.body.members) expectKeys(m, MEMBER_KEYS);
    const mine = detail.body.members.find((m: any) => m.user.id === Number(owner.id));
    expect(mine).toMatchObject({ chat_group: chatId, is_admin: true, nickname: null, unread_count: 0 });
    expect(detail.body.members.find((m: any) => m.user.id === Number(renter.id)).is_admin).toBe(false);

    // Not a member: not found; no token: 401.
    expectError(await call(server, 'GET', `/chats/${chatId}/`, { token: outsider.token }), 404);
    expectError(await call(server, 'GET', `/chats/${chatId}/`), 401);
  });

  it('sends (multipart and JSON, with a reply), pages the history, and reaches GraphQL messageAdded', async () => {
    const chatId = await newGroup();
    const live = sub(client(owner), `subscription($c: ID) { messageAdded(conversationId: $c) { id content sender { username } } }`, { c: String(chatId) });
    await live.ready();

    const first = await sendForm(renter, chatId, 'Phòng còn trống không ạ?');
    expect(first.status).toBe(201);
    expectKeys(first.body, MESSAGE_KEYS);
    expectKeys(first.body.sender, [...SUMMARY_KEYS, 'avatar']);
    expect(first.body).toMatchObject({
      chat_group: chatId,
      content: 'Phòng còn trống không ạ?',
      is_system_message: false,
      is_removed: false,
      replied_to: null,
      replied_to_preview: null,
      media: [],
      sender: { id: Number(renter.id), username: renter.username, full_name: 'Renter One' },
    });
    expect(await live.next()).toEqual({
      messageAdded: { id: String(first.body.id), content: 'Phòng còn trống không ạ?', sender: { username: renter.username } },
    });

    const reply = await call(server, 'POST', `/chats/${chatId}/send-message/`, { token: owner.token, json: { content: 'Còn ạ', replied_to: first.body.id } });
    expect(reply.status).toBe(201);
    expect(reply.body.replied_to).toBe(first.body.id);
    expectKeys(reply.body.replied_to_preview, ['id', 'sender', 'content', 'created_at']);
    expect(reply.body.replied_to_preview).toMatchObject({ id: first.body.id, content: 'Phòng còn trống không ạ?', sender: { id: Number(renter.id) } });
    expect((await live.next()).messageAdded.content).toBe('Còn ạ');

    // History: oldest first; 3 messages (creation notice, two sent) in pages of 2.
    const page1 = await call(server, 'GET', `/chats/${chatId}/messages/?page_size=2`, { token: renter.token });
    expect(page1.status).toBe(200);
    expect(page1.body.count).toBe(3);
    expect(page1.body.previous).toBeNull();
    expect(page1.body.next).toBe(`${apiBase(server)}/chats/${chatId}/messages/?page_size=2&page=2`);
    for (const m of page1.body.results) expectKeys(m, MESSAGE_KEYS);
    // Issue 19: a system notice shows the user whose action it reports as its sender (seed 001's clients read sender.full_name).
    expect(page1.body.results[0]).toMatchObject({ is_system_message: true, sender: { id: Number(owner.id), full_name: 'Owner One' } });
    expectKeys(page1.body.results[0].sender, [...SUMMARY_KEYS, 'avatar']);
    const page2 = await call(server, 'GET', `/chats/${chatId}/messages/?page_size=2&page=2`, { token: renter.token });
    expect(page2.body).toMatchObject({ count: 3, next: null, previous: `${apiBase(server)}/chats/${chatId}/messages/?page_size=2` });
    expect(page2.body.results.map((m: any) => m.content)).toEqual(['Còn ạ']);
    expectError(await call(server, 'GET', `/chats/${chatId}/messages/?page_size=2&page=3`, { token: renter.token }), 404);

    // A non-member may not send: 403 with the seed's message (also for a chat that does not exist).
    const refused = expectError(await sendForm(outsider, chatId, 'xin chào'), 403);
    expect(refused.error).toBe('Bạn không phải là thành viên của nhóm chat này');
    expectError(await sendForm(outsider, 999999, 'xin chào'), 403);
    // `medias` files go through the upload checks (uploads.test.ts): one byte named .png is 415.
    const withFile = new FormData();
    withFile.append('content', 'ảnh');
    withFile.append('medias', new Blob([Buffer.from('x')], { type: 'image/png' }), 'a.png');
    expectError(await call(server, 'POST', `/chats/${chatId}/send-message/`, { token: renter.token, form: withFile }), 415);
    // Empty content (and no file) is a 400 naming the field.
    expect(expectError(await call(server, 'POST', `/chats/${chatId}/send-message/`, { token: renter.token, json: { content: '  ' } }), 400).error).toMatch(
      /^content/,
    );
  });

  it('edits through PATCH /api/messages/{id}/ (messageEdited), deletes with 204, refuses others', async () => {
    const chatId = await newGroup();
    const sent = await sendForm(renter, chatId, 'Phòng này có wifi không ạ?');
    const live = sub(client(owner), `subscription($c: ID) { messageEdited(conversationId: $c) { id content isEdited } }`, { c: String(chatId) });
    const deletes = sub(client(owner), `subscription($c: ID) { messageDeleted(conversationId: $c) { messageId } }`, { c: String(chatId) });
    await Promise.all([live.ready(), deletes.ready()]);

    const edited = await call(server, 'PATCH', `/messages/${sent.body.id}/`, { token: renter.token, json: { content: 'Đã chỉnh sửa: wifi?' } });
    expect(edited.status).toBe(200);
    expect(edited.body).toMatchObject({ id: sent.body.id, content: 'Đã chỉnh sửa: wifi?', chat_group: chatId, is_edited: true, media: [], attachments: [] });
    expect(await live.next()).toEqual({ messageEdited: { id: String(sent.body.id), content: 'Đã chỉnh sửa: wifi?', isEdited: true } });

    const notMine = expectError(await call(server, 'PATCH', `/messages/${sent.body.id}/`, { token: third.token, json: { content: 'hack' } }), 403);
    expect(notMine.error).toBe('Bạn chỉ có thể cập nhật tin nhắn của mình');
    expect(expectError(await call(server, 'DELETE', `/messages/${sent.body.id}/`, { token: third.token }), 403).error).toBe(
      'Bạn chỉ có thể xóa tin nhắn của mình',
    );
    expectError(await call(server, 'PATCH', `/messages/${sent.body.id}/`, { token: outsider.token, json: { content: 'hack' } }), 404);

    const del = await call(server, 'DELETE', `/messages/${sent.body.id}/`, { token: renter.token });
    expect(del.status).toBe(204);
    expect(del.text).toBe('');
    expect(await deletes.next()).toEqual({ messageDeleted: { messageId: String(sent.body.id) } });
    const after = await call(server, 'GET', `/messages/${sent.body.id}/`, { token: owner.token });
    expect(after.body).toMatchObject({ is_removed: true, is_deleted: true, content: '' });
    expect(expectError(await call(server, 'PATCH', `/messages/${sent.body.id}/`, { token: renter.token, json: { content: 'again' } }), 400).error).toBe(
      'Tin nhắn này đã bị xóa',
    );

    const history = await call(server, 'GET', `/chats/${chatId}/messages/?page_size=100`, { token: owner.token });
    const system = history.body.results.find((m: any) => m.is_system_message);
    expect(expectError(await call(server, 'DELETE', `/messages/${system.id}/`, { token: owner.token }), 400).error).toBe('Không thể xóa tin nhắn hệ thống');
  });

  it('adds, removes and leaves with SYSTEM messages; only admins manage members', async () => {
    const chatId = await newGroup();
    const denied = expectError(
      await call(server, 'POST', `/chats/${chatId}/add_member/`, { token: renter.token, json: { user_id: Number(outsider.id) } }),
      403,
    );
    expect(denied.error).toBe('Không có quyền thêm thành viên');
    const added = await call(server, 'POST', `/chats/${chatId}/add_member/`, { token: owner.token, json: { user_id: Number(outsider.id), is_admin: false } });
    expect(added.status).toBe(200);
    expect(added.body).toEqual({ status: 'success' });
    const notAdmin = await call(server, 'POST', `/chats/${chatId}/remove_member/`, { token: outsider.token, json: { user_id: Number(third.id) } });
    expect(expectError(notAdmin, 403).error).toBe('Không có quyền xóa thành viên');
    expect((await call(server, 'POST', `/chats/${chatId}/remove_member/`, { token: owner.token, json: { user_id: Number(third.id) } })).body).toEqual({
      status: 'success',
    });
    expect((await call(server, 'POST', `/chats/${chatId}/leave_group/`, { token: outsider.token })).body).toEqual({ status: 'success' });
    expect(expectError(await call(server, 'POST', `/chats/${chatId}/add_member/`, { token: owner.token, json: { user_id: 'abc' } }), 400).error).toMatch(
      /^user_id/,
    );

    const history = await call(server, 'GET', `/chats/${chatId}/messages/?page_size=100`, { token: owner.token });
    const notices = history.body.results.filter((m: any) => m.is_system_message).map((m: any) => m.content);
    expect(notices).toEqual(
      expect.arrayContaining([`${owner.username} added ${outsider.username}`, `${owner.username} removed ${third.username}`, `${outsider.username} left`]),
    );
    expect(notices.length).toBe(4);
    const detail = await call(server, 'GET', `/chats/${chatId}/`, { token: owner.token });
    expect(detail.body.members.map((m: any) => m.user.id).sort()).toEqual([Number(owner.id), Number(renter.id)].sort());

    // is_admin: the owner adds an admin; an admin adds members but not admins.
    const helper = await restUser(server, 'hlp');
    const newcomer = await restUser(server, 'new');
    expect((await call(server, 'POST', `/chats/${chatId}/add_member/`, { token: owner.token, json: { user_id: helper.id, is_admin: 'true' } })).status).toBe(
      200,
    );
    const withAdmin = await call(server, 'GET', `/chats/${chatId}/`, { token: helper.token });
    expect(withAdmin.body.members.find((m: any) => m.user.id === Number(helper.id))).toMatchObject({ is_admin: true, unread_count: 0 });
    expect(
      expectError(
        await call(server, 'POST', `/chats/${chatId}/add_member/`, { token: helper.token, json: { user_id: Number(newcomer.id), is_admin: true } }),
        403,
      ).error,
    ).toBe('Không có quyền thêm thành viên');
    expect((await call(server, 'POST', `/chats/${chatId}/add_member/`, { token: helper.token, json: { user_id: Number(newcomer.id) } })).body).toEqual({
      status: 'success',
    });
    // Someone who is not (or no longer) a member cannot leave, add or remove: the chat is not theirs to see.
    expectError(await call(server, 'POST', `/chats/${chatId}/leave_group/`, { token: outsider.token }), 404);
    expectError(await call(server, 'POST', `/chats/${chatId}/add_member/`, { token: outsider.token, json: { user_id: Number(outsider.id) } }), 404);
    expectError(await call(server, 'GET', `/chats/${chatId}/messages/`, { token: third.token }), 404);
  });

  it('creates a 1:1 chat and finds it again (200 both, as the seed documents; issue 19), and cannot leave it (400)', async () => {
    const a = await restUser(server, 'dir', { first_name: 'Renter', last_name: 'Two' });
    const b = await restUser(server, 'dir', { first_name: 'Owner', last_name: 'Two' });
    const created = await call(server, 'POST', '/chats/create_direct_chat/', { token: a.token, json: { user_id: Number(b.id) } });
    expect(created.status).toBe(200);
    expectKeys(created.body, CHAT_KEYS);
    expect(created.body).toMatchObject({ is_group: false, description: null, last_message: null, unread_count: 0, name: 'Renter Two và Owner Two' });
    const again = await call(server, 'POST', '/chats/create_direct_chat/', { token: b.token, json: { user_id: a.id } });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(created.body.id);

    const missing = expectError(await call(server, 'POST', '/chats/create_direct_chat/', { token: a.token, json: { user_id: 999999 } }), 404);
    expect(missing.error).toBe('User không tồn tại');
    expect(expectError(await call(server, 'POST', `/chats/${created.body.id}/leave_group/`, { token: a.token }), 400).error).toBe(
      'Không thể rời khỏi chat trực tiếp',
    );
    expect(expectError(await call(server, 'POST', '/chats/create_direct_chat/', { token: a.token, json: {} }), 400).error).toMatch(/^user_id/);
    expect(expectError(await call(server, 'POST', '/chats/create_direct_chat/', { token: a.token, json: { user_id: a.id } }), 400).error).toMatch(/^user_id/);
    // Someone who blocked you (seed 000's block) cannot be chatted with: 403.
    const blocker = await restUser(server, 'blk');
    await call(server, 'POST', `/accounts/connections/block/${a.id}/`, { token: blocker.token });
    expectError(await call(server, 'POST', '/chats/create_direct_chat/', { token: a.token, json: { user_id: Number(blocker.id) } }), 403);

    // The list: newest activity first.
    const group = await call(server, 'POST', '/chats/', { token: a.token, json: { name: 'later', members: [Number(b.id)] } });
    expect((await call(server, 'GET', '/chats/', { token: a.token })).body.results.map((c: any) => c.id)).toEqual([group.body.id, created.body.id]);
    await call(server, 'POST', `/chats/${created.body.id}/send-message/`, { token: b.token, json: { content: 'Phòng còn trống không ạ?' } });
    const list = await call(server, 'GET', '/chats/', { token: a.token });
    expect(list.body.results.map((c: any) => c.id)).toEqual([created.body.id, group.body.id]);
    expect(list.body.results[0]).toMatchObject({
      unread_count: 1,
      last_message: { content: 'Phòng còn trống không ạ?', is_removed: false, sender: { id: Number(b.id) } },
    });
  });
});
