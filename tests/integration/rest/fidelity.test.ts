/**
 * Issue 19: dialect fidelity, second pass, and GraphQL parity, with the seeds' own example
 * values where they give them (seed 001's "Nhóm dự án", renter1/user4; seed 004's staff).
 */
import { startTestServer, type TestServer } from '../../support/test-server';
import { call, gqlData, makeStaff, restUser, type RestUser } from './rest-support';

let server: TestServer;
beforeAll(async () => { server = await startTestServer(); });
afterAll(async () => { await server.close(); });

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
    const list = (u: RestUser, every: boolean) => gqlData(server, u, 'query($e: Boolean) { conversations(first: 100, everyReadable: $e) { edges { node { id } } } }', { e: every });
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
  it('staff attach to another user\'s message; members still cannot', async () => {
    const staff = await restUser(server, 'mod');
    await makeStaff(server, staff);
    const a = await restUser(server, 'sa');
    const b = await restUser(server, 'sb');
    const sent = await call(server, 'POST', '/messages/', { token: a.token, json: { content: 'screenshot soon', recipient_id: Number(b.id) } });
    const path = `/conversations/${sent.body.conversation}/messages/${sent.body.id}/attachments/`;
    const upload = () => { const f = new FormData(); f.append('file', new Blob([PNG_1X1], { type: 'image/png' }), 'shot.png'); return f; };
    expect((await call(server, 'POST', path, { token: b.token, form: upload() })).status).toBe(403);
    const byStaff = await call(server, 'POST', path, { token: staff.token, form: upload() });
    expect(byStaff.status).toBe(201);
    expect(byStaff.body).toMatchObject({ message: sent.body.id });
    const msg = await call(server, 'GET', `/messages/${sent.body.id}/`, { token: a.token });
    expect(msg.status).toBe(200);
  });
});
