/**
 * Seed 002 (restaurant support desk) over REST, as its frontends drive it: a customer logs in,
 * gets their conversation (created on first use) and writes over the HTTP fallback; staff see
 * every customer's conversation in GET /api/chat/conversations/ with their own unread counts,
 * read with limit/offset and answer under their own name; another customer is locked out.
 */
import { trackRealtime } from '../../support/client';
import { startTestServer, type TestServer } from '../../support/test-server';
import { call, expectError, expectKeys, makeStaff, restUser, type RestUser } from './rest-support';

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

const CONV_KEYS = [
  'id',
  'customer',
  'customer_info',
  'is_staff_group',
  'created_at',
  'last_message_at',
  'last_message',
  'unread_count',
  'kind',
  'title',
  'participants',
];
const MSG_KEYS = ['id', 'conversation_id', 'nguoi_goi_id', 'nguoi_goi_name', 'noi_dung', 'thoi_gian'];

describe('seed 002: support desk', () => {
  let customer: RestUser;
  let other: RestUser;
  let staff: RestUser;
  let staff2: RestUser;
  beforeAll(async () => {
    customer = await restUser(server, 'kh', { first_name: 'Nguyễn', last_name: 'Văn A' });
    other = await restUser(server, 'kh');
    staff = await restUser(server, 'nv', { first_name: 'Nhân', last_name: 'Viên' });
    staff2 = await restUser(server, 'nv');
    await makeStaff(server, staff);
    await makeStaff(server, staff2);
  });

  it('customer asks, staff answer, both read with limit/offset', async () => {
    const mine = await call(server, 'GET', '/chat/conversations/my_conversation/', { token: customer.token });
    expect(mine.status).toBe(200);
    expectKeys(mine.body, CONV_KEYS);
    expect(mine.body).toMatchObject({
      customer: Number(customer.id),
      customer_info: { id: Number(customer.id), username: customer.username, ho_ten: 'Nguyễn Văn A', loai_nguoi_dung: 'khach_hang' },
      is_staff_group: true,
      last_message: null,
      last_message_at: null,
      unread_count: 0,
      kind: 'SUPPORT',
    });
    expectKeys(mine.body.customer_info, ['id', 'username', 'ho_ten', 'loai_nguoi_dung']);
    const id = mine.body.id;
    // Created once: the same conversation the next time.
    expect((await call(server, 'GET', '/chat/conversations/my_conversation', { token: customer.token })).body.id).toBe(id);

    const sent = await call(server, 'POST', `/chat/conversations/${id}/send_message/`, {
      token: customer.token,
      json: { noi_dung: 'Xin chào, tôi muốn đặt bàn' },
    });
    expect(sent.status).toBe(201);
    expectKeys(sent.body, MSG_KEYS);
    expect(sent.body).toEqual({
      id: expect.any(Number),
      conversation_id: id,
      nguoi_goi_id: Number(customer.id),
      nguoi_goi_name: 'Nguyễn Văn A',
      noi_dung: 'Xin chào, tôi muốn đặt bàn',
      thoi_gian: expect.any(String),
    });

    // The staff inbox: every customer's conversation, with this staff user's unread count.
    const inbox = await call(server, 'GET', '/chat/conversations/', { token: staff.token });
    expect(inbox.status).toBe(200);
    const row = inbox.body.find((c: any) => c.id === id);
    expectKeys(row, CONV_KEYS);
    expect(row).toMatchObject({
      is_staff_group: true,
      unread_count: 1,
      last_message: { id: sent.body.id, noi_dung: 'Xin chào, tôi muốn đặt bàn', nguoi_goi_name: 'Nguyễn Văn A' },
    });
    expectKeys(row.last_message, ['id', 'noi_dung', 'thoi_gian', 'nguoi_goi_name', 'message_id', 'message', 'username', 'timestamp']);

    // The seed's Socket.IO `new_message` to the customer's room and to staff_room: GraphQL messageAdded now.
    const toCustomer = sub(client(customer), `subscription($c: ID) { messageAdded(conversationId: $c) { id content sender { username } } }`, { c: String(id) });
    const toStaff = sub(client(staff2), `subscription { messageAdded { id conversationId } }`);
    await Promise.all([toCustomer.ready(), toStaff.ready()]);
    const reply = await call(server, 'POST', `/chat/conversations/${id}/send_message/`, {
      token: staff.token,
      json: { noi_dung: 'Dạ, chúng tôi sẽ hỗ trợ anh/chị ngay' },
    });
    expect(reply.status).toBe(201);
    expect(reply.body).toMatchObject({ nguoi_goi_id: Number(staff.id), nguoi_goi_name: 'Nhân Viên' });
    expect(await toCustomer.next()).toEqual({
      messageAdded: { id: String(reply.body.id), content: 'Dạ, chúng tôi sẽ hỗ trợ anh/chị ngay', sender: { username: staff.username } },
    });
    expect(await toStaff.next()).toEqual({ messageAdded: { id: String(reply.body.id), conversationId: String(id) } });

    const all = await call(server, 'GET', `/chat/conversations/${id}/messages/?limit=50&offset=0`, { token: customer.token });
    expect(all.status).toBe(200);
    for (const m of all.body) expectKeys(m, MSG_KEYS);
    expect(all.body.map((m: any) => m.noi_dung)).toEqual(['Xin chào, tôi muốn đặt bàn', 'Dạ, chúng tôi sẽ hỗ trợ anh/chị ngay']);
    expect((await call(server, 'GET', `/chat/conversations/${id}/messages/?limit=1&offset=1`, { token: staff2.token })).body.map((m: any) => m.id)).toEqual([
      reply.body.id,
    ]);
    expect((await call(server, 'GET', `/chat/conversations/${id}/messages/?offset=5`, { token: customer.token })).body).toEqual([]);

    // Each staff user has their own unread count: the one who answered has read; the other fetched
    // the second message only (limit=1&offset=1), which marks read up to it (issue 19: the seed has
    // no mark-read call; fetching marks what was shown).
    const inbox1 = (await call(server, 'GET', '/chat/conversations/', { token: staff.token })).body.find((c: any) => c.id === id);
    const inbox2 = (await call(server, 'GET', '/chat/conversations/', { token: staff2.token })).body.find((c: any) => c.id === id);
    expect([inbox1.unread_count, inbox2.unread_count]).toEqual([0, 0]);
    // The customer fetched both messages (limit=50) after the reply: nothing unread for them either.
    expect((await call(server, 'GET', '/chat/conversations/my_conversation/', { token: customer.token })).body.unread_count).toBe(0);

    // Another customer sees none of it.
    expectError(await call(server, 'GET', `/chat/conversations/${id}/messages/`, { token: other.token }), 404);
    expectError(await call(server, 'POST', `/chat/conversations/${id}/send_message/`, { token: other.token, json: { noi_dung: 'hi' } }), 404);
    expect((await call(server, 'GET', '/chat/conversations/', { token: other.token })).body.some((c: any) => c.id === id)).toBe(false);
  });

  it('refuses bad input, staff have no conversation of their own', async () => {
    const mine = await call(server, 'GET', '/chat/conversations/my_conversation/', { token: other.token });
    expect(
      expectError(await call(server, 'POST', `/chat/conversations/${mine.body.id}/send_message/`, { token: other.token, json: { noi_dung: '' } }), 400).error,
    ).toMatch(/^noi_dung/);
    expect(
      expectError(await call(server, 'POST', `/chat/conversations/${mine.body.id}/send_message/`, { token: other.token, json: { noi_dung: 5 } }), 400).error,
    ).toMatch(/^noi_dung/);
    // A limit above 100 is clamped (issue 19), so a page of 500 asked is a page of at most 100.
    const big = await call(server, 'GET', `/chat/conversations/${mine.body.id}/messages/?limit=500`, { token: other.token });
    expect(big.status).toBe(200);
    expect(big.body.length).toBeLessThanOrEqual(100);
    expectError(await call(server, 'GET', '/chat/conversations/my_conversation/', { token: staff.token }), 404);
    expectError(await call(server, 'GET', '/chat/conversations/my_conversation/'), 401);
  });

  it('the staff inbox lists the support threads only, each with its customer (no DIRECT chat with customer_info null; issue 28 item 4)', async () => {
    // The seed's staff inbox reads `customer_info.ho_ten` of every item.
    const khach = await restUser(server, 'khach', { first_name: 'Nguyễn', last_name: 'Văn A' });
    const thread = await call(server, 'GET', '/chat/conversations/my_conversation/', { token: khach.token });
    await call(server, 'POST', `/chat/conversations/${thread.body.id}/send_message/`, { token: khach.token, json: { noi_dung: 'Cảm ơn nhà hàng' } });
    // Staff's own DIRECT chat (seed 004's send-to-recipient creates it).
    const dm = await call(server, 'POST', `/messages/`, { token: staff.token, json: { content: 'Xin chào', recipient_id: Number(other.id) } });
    expect(dm.status).toBe(201);
    const inbox = await call(server, 'GET', '/chat/conversations/', { token: staff.token });
    expect(inbox.status).toBe(200);
    expect(inbox.body.length).toBeGreaterThan(0);
    for (const row of inbox.body) {
      expect(row.kind).toBe('SUPPORT');
      expect(row.customer_info).toEqual(expect.objectContaining({ id: row.customer, ho_ten: expect.any(String), loai_nguoi_dung: 'khach_hang' }));
    }
    expect(inbox.body.map((r: any) => r.id)).not.toContain(dm.body.conversation);
    expect(inbox.body.find((r: any) => r.id === thread.body.id).customer_info).toMatchObject({ username: khach.username, ho_ten: 'Nguyễn Văn A' });
    // A customer's list still holds their own DIRECT chats too (seed 000's conversation list).
    const mine = await call(server, 'GET', '/chat/conversations/', { token: other.token });
    expect(mine.body.map((r: any) => r.id)).toContain(dm.body.conversation);
  });
});
