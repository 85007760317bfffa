/**
 * Issue 19: dialect fidelity, second pass, and GraphQL parity, with the seeds' own example
 * values where they give them (seed 001's "Nhóm dự án", renter1/user4; seed 004's staff).
 */
import { startTestServer, type TestServer } from '../../support/test-server';
import { call, gqlData, makeStaff, restUser, type RestUser } from './rest-support';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.close();
});

const PNG_1X1 = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');

async function unreadOfChat(user: RestUser, chatId: number): Promise<number> {
  const list = await call(server, 'GET', '/chats/', { token: user.token });
  expect(list.status).toBe(200);
  return list.body.results.find((c: any) => c.id === chatId).unread_count;
}

describe('your own actions are not unread for you (item 2)', () => {
  it('the creator and the adder see 0; the other members see the notice', async () => {
    const renter1 = await restUser(server, 'renter1');
    const member = await restUser(server, 'member');
    const user4 = await restUser(server, 'user4');
    const f = new FormData();
    f.append('name', 'Nhóm dự án');
    f.append('members', member.id);
    const created = await call(server, 'POST', '/chats/', { token: renter1.token, form: f });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ unread_count: 0, last_message: null });
    const chatId = created.body.id;
    expect(await unreadOfChat(member, chatId)).toBe(0);

    // "renter1 added user4": renter1's own action.
    expect((await call(server, 'POST', `/chats/${chatId}/add_member/`, { token: renter1.token, json: { user_id: Number(user4.id) } })).status).toBe(200);
    expect(await unreadOfChat(renter1, chatId)).toBe(0);
    expect(await unreadOfChat(member, chatId)).toBe(1);
    expect(await unreadOfChat(user4, chatId)).toBe(0);

    // The same over GraphQL: unreadCount and unreadSummary agree.
    const q = 'query($c: ID!) { conversation(id: $c) { unreadCount } unreadSummary { total } }';
    expect(await gqlData(server, renter1, q, { c: String(chatId) })).toMatchObject({ conversation: { unreadCount: 0 }, unreadSummary: { total: 0 } });
    expect(await gqlData(server, member, q, { c: String(chatId) })).toMatchObject({ conversation: { unreadCount: 1 } });

    // A removal and a leave are their actors' own too.
    expect((await call(server, 'POST', `/chats/${chatId}/remove_member/`, { token: renter1.token, json: { user_id: Number(user4.id) } })).status).toBe(200);
    expect(await unreadOfChat(renter1, chatId)).toBe(0);
    expect(await unreadOfChat(member, chatId)).toBe(2);

    // The notices name their actor as sender in seed 001's message list.
    const history = await call(server, 'GET', `/chats/${chatId}/messages/`, { token: member.token });
    const notices = history.body.results.filter((m: any) => m.is_system_message);
    expect(notices.length).toBe(3);
    for (const n of notices) expect(n.sender).toMatchObject({ id: Number(renter1.id), username: renter1.username });
  });
});

describe('GraphQL parity (item 8)', () => {
  it('staff list every conversation with everyReadable; others only theirs', async () => {
    const staff = await restUser(server, 'staffer');
    await makeStaff(server, staff);
    const a = await restUser(server, 'pa');
    const b = await restUser(server, 'pb');
    const { openDirectChat } = await gqlData(server, a, 'mutation($u: ID!) { openDirectChat(userId: $u) { id } }', { u: b.id });
    const list = (u: RestUser, every: boolean) =>
      gqlData(server, u, 'query($e: Boolean) { conversations(first: 100, everyReadable: $e) { edges { node { id } } } }', { e: every });
    const ids = (r: any) => r.conversations.edges.map((e: any) => e.node.id);
    expect(ids(await list(staff, false))).not.toContain(openDirectChat.id);
    expect(ids(await list(staff, true))).toContain(openDirectChat.id);
    // Not a way around access for others.
    const c = await restUser(server, 'pc');
    expect(ids(await list(c, true))).not.toContain(openDirectChat.id);
    // The REST list of seed 004 and GraphQL agree for staff.
    const rest = await call(server, 'GET', '/conversations/', { token: staff.token });
    expect(rest.body.map((x: any) => String(x.id))).toContain(openDirectChat.id);
  });

  it('Message.isRead is seed 004 is_read: true once the other member read it', async () => {
    const a = await restUser(server, 'ra');
    const b = await restUser(server, 'rb');
    const sent = await call(server, 'POST', '/messages/', { token: a.token, json: { content: 'GG', recipient_id: Number(b.id) } });
    expect(sent.status).toBe(201);
    expect(sent.body.is_read).toBe(false);
    const q = 'query($c: ID!) { messages(conversationId: $c, last: 5) { edges { node { id isRead } } } }';
    const conversationId = String(sent.body.conversation);
    const before = await gqlData(server, a, q, { c: conversationId });
    expect(before.messages.edges.find((e: any) => e.node.id === String(sent.body.id)).node.isRead).toBe(false);
    await gqlData(server, b, 'mutation($c: ID!) { markRead(conversationId: $c) { lastReadSeq } }', { c: conversationId });
    const after = await gqlData(server, a, q, { c: conversationId });
    expect(after.messages.edges.find((e: any) => e.node.id === String(sent.body.id)).node.isRead).toBe(true);
    const rest = await call(server, 'GET', `/conversations/${conversationId}/messages/`, { token: a.token });
    expect(rest.body.results.find((m: any) => m.id === sent.body.id).is_read).toBe(true);
  });
});

describe('seed 004 staff add attachments (item 7)', () => {
  it("staff attach to another user's message; members still cannot", async () => {
    const staff = await restUser(server, 'mod');
    await makeStaff(server, staff);
    const a = await restUser(server, 'sa');
    const b = await restUser(server, 'sb');
    const sent = await call(server, 'POST', '/messages/', { token: a.token, json: { content: 'screenshot soon', recipient_id: Number(b.id) } });
    const path = `/conversations/${sent.body.conversation}/messages/${sent.body.id}/attachments/`;
    const upload = () => {
      const f = new FormData();
      f.append('file', new Blob([PNG_1X1], { type: 'image/png' }), 'shot.png');
      return f;
    };
    expect((await call(server, 'POST', path, { token: b.token, form: upload() })).status).toBe(403);
    const byStaff = await call(server, 'POST', path, { token: staff.token, form: upload() });
    expect(byStaff.status).toBe(201);
    expect(byStaff.body).toMatchObject({ message: sent.body.id });
    const msg = await call(server, 'GET', `/messages/${sent.body.id}/`, { token: a.token });
    expect(msg.status).toBe(200);
  });
});

describe('reading clears badges where the seed has no mark-read call (item 1), in every dialect and GraphQL', () => {
  it("seed 002: staff fetching the messages clears their unread count; the customer's too", async () => {
    const customer = await restUser(server, 'khach');
    const staff = await restUser(server, 'nhanvien');
    await makeStaff(server, staff);
    const mine = await call(server, 'GET', '/chat/conversations/my_conversation/', { token: customer.token });
    const id = mine.body.id;
    for (const text of ['Xin chào, tôi muốn đặt bàn', 'Cho 4 người']) {
      expect((await call(server, 'POST', `/chat/conversations/${id}/send_message/`, { token: customer.token, json: { noi_dung: text } })).status).toBe(201);
    }
    const inbox = async () => (await call(server, 'GET', '/chat/conversations/', { token: staff.token })).body.find((c: any) => c.id === id).unread_count;
    expect(await inbox()).toBe(2);
    expect((await call(server, 'GET', `/chat/conversations/${id}/messages/?limit=50&offset=0`, { token: staff.token })).status).toBe(200);
    expect(await inbox()).toBe(0);
    // The detail route the seed's router implies, in the list's shape.
    const detail = await call(server, 'GET', `/chat/conversations/${id}/`, { token: staff.token });
    expect(detail.status).toBe(200);
    expect(detail.body).toMatchObject({ id, unread_count: 0 });
    expect((await call(server, 'GET', `/chat/conversations/${id}/`, { token: (await restUser(server, 'la')).token })).status).toBe(404);
  });

  it("seed 004: fetching the newest page marks it read, seen by seed 003's list, GraphQL and seed 004 is_read", async () => {
    const a = await restUser(server, 'gamer');
    const b = await restUser(server, 'gamer');
    const sent = await call(server, 'POST', '/messages/', { token: a.token, json: { content: 'gg wp', recipient_id: Number(b.id) } });
    const conversationId = String(sent.body.conversation);
    const unread = async () =>
      (await gqlData(server, b, 'query($c: ID!) { conversation(id: $c) { unreadCount } }', { c: conversationId })).conversation.unreadCount;
    expect(await unread()).toBe(1);
    expect((await call(server, 'GET', `/conversations/${conversationId}/messages/`, { token: b.token })).status).toBe(200);
    expect(await unread()).toBe(0);
    const seenByA = await call(server, 'GET', `/conversations/${conversationId}/messages/`, { token: a.token });
    expect(seenByA.body.results.find((m: any) => m.id === sent.body.id).is_read).toBe(true);
  });

  it("seed 001: fetching the history clears the chat's unread_count", async () => {
    const owner = await restUser(server, 'owner1');
    const renter = await restUser(server, 'renter1');
    const f = new FormData();
    f.append('name', 'Phòng 101');
    f.append('members', renter.id);
    const chatId = (await call(server, 'POST', '/chats/', { token: owner.token, form: f })).body.id;
    const send = new FormData();
    send.append('content', 'Phòng còn trống không ạ?');
    expect((await call(server, 'POST', `/chats/${chatId}/send-message/`, { token: renter.token, form: send })).status).toBe(201);
    expect(await unreadOfChat(owner, chatId)).toBe(1);
    expect((await call(server, 'GET', `/chats/${chatId}/messages/`, { token: owner.token })).status).toBe(200);
    expect(await unreadOfChat(owner, chatId)).toBe(0);
  });
});

describe('seed 002 paging and seed 001 direct chats (items 5, 6)', () => {
  it('a limit above 100 is clamped to 100', async () => {
    const customer = await restUser(server, 'many');
    const id = (await call(server, 'GET', '/chat/conversations/my_conversation/', { token: customer.token })).body.id;
    for (let i = 0; i < 105; i++)
      await call(server, 'POST', `/chat/conversations/${id}/send_message/`, { token: customer.token, json: { noi_dung: `tin ${i}` } });
    const page = await call(server, 'GET', `/chat/conversations/${id}/messages/?limit=500`, { token: customer.token });
    expect(page.status).toBe(200);
    expect(page.body).toHaveLength(100);
    expect((await call(server, 'GET', `/chat/conversations/${id}/messages/?limit=-1`, { token: customer.token })).status).toBe(400);
  }, 60000);

  it('create_direct_chat answers 200 for a new chat and for an existing one', async () => {
    const a = await restUser(server, 'dm');
    const b = await restUser(server, 'dm');
    const first = await call(server, 'POST', '/chats/create_direct_chat/', { token: a.token, json: { user_id: Number(b.id) } });
    const again = await call(server, 'POST', '/chats/create_direct_chat/', { token: b.token, json: { user_id: Number(a.id) } });
    expect([first.status, again.status]).toEqual([200, 200]);
    expect(again.body.id).toBe(first.body.id);
  });
});
