/**
 * Seed 004 (gaming-community chat) over REST, as its frontend drives it: log in, send to a user
 * (POST /api/messages/ creates the conversation), list and open conversations, page messages,
 * read/edit/delete through /api/messages/{id}/ (the union shape shared with seed 001), staff
 * reading and moderating everything, and the refusals of everyone else.
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

const USER_KEYS = ['id', 'username', 'first_name', 'last_name', 'profile_picture', 'score', 'rank', 'role', 'in_game_ids'];
const MSG_KEYS = ['id', 'conversation', 'sender', 'content', 'timestamp', 'is_read', 'is_edited', 'is_deleted', 'attachments'];
const UNION_KEYS = [
  ...new Set([...MSG_KEYS, 'chat_group', 'is_system_message', 'is_removed', 'replied_to', 'replied_to_preview', 'created_at', 'updated_at', 'media']),
];
const UNION_SENDER_KEYS = [...new Set([...USER_KEYS, 'full_name', 'avatar', 'avatar_thumbnail'])];

describe('seed 004: conversations', () => {
  let p1: RestUser;
  let p2: RestUser;
  let outsider: RestUser;
  let admin: RestUser;
  beforeAll(async () => {
    p1 = await restUser(server, 'gamer', { first_name: 'Player', last_name: 'One' });
    p2 = await restUser(server, 'gamer');
    outsider = await restUser(server, 'out');
    admin = await restUser(server, 'adm');
    await makeStaff(server, admin);
  });

  it('sends to a recipient (creating the conversation), lists, opens and pages it', async () => {
    const first = await call(server, 'POST', '/messages/', {
      token: p1.token,
      json: { content: 'سلام، این یک پیام آزمایشی است.', recipient_id: Number(p2.id) },
    });
    expect(first.status).toBe(201);
    expectKeys(first.body, MSG_KEYS);
    expectKeys(first.body.sender, USER_KEYS);
    expect(first.body).toMatchObject({
      content: 'سلام، این یک پیام آزمایشی است.',
      is_read: false,
      is_edited: false,
      is_deleted: false,
      attachments: [],
      sender: {
        id: Number(p1.id),
        username: p1.username,
        first_name: 'Player',
        last_name: 'One',
        profile_picture: null,
        score: 0,
        rank: null,
        role: null,
        in_game_ids: [],
      },
    });
    const conversationId = first.body.conversation;
    const second = await call(server, 'POST', '/messages/', { token: p2.token, json: { content: 'hi', recipient_id: String(p1.id) } });
    expect(second.body.conversation).toBe(conversationId);

    const list = await call(server, 'GET', '/conversations/', { token: p1.token });
    expect(list.status).toBe(200);
    expect(list.body).toHaveLength(1);
    expectKeys(list.body[0], ['id', 'participants', 'created_at', 'last_message']);
    for (const u of list.body[0].participants) expectKeys(u, USER_KEYS);
    expect(list.body[0].last_message).toMatchObject({ id: second.body.id, content: 'hi' });
    expectKeys(list.body[0].last_message, MSG_KEYS);

    // Another user's conversations are not listed to them; staff see every conversation.
    expect((await call(server, 'GET', '/conversations/', { token: outsider.token })).body).toEqual([]);
    expect((await call(server, 'GET', '/conversations/', { token: admin.token })).body.map((c: any) => c.id)).toContain(conversationId);

    const one = await call(server, 'GET', `/conversations/${conversationId}/`, { token: p2.token });
    expect(one.status).toBe(200);
    expect(one.body.id).toBe(conversationId);
    expectError(await call(server, 'GET', `/conversations/${conversationId}/`, { token: outsider.token }), 404);
    expect((await call(server, 'GET', `/conversations/${conversationId}/`, { token: admin.token })).status).toBe(200);

    const page = await call(server, 'GET', `/conversations/${conversationId}/messages/?page_size=1`, { token: p1.token });
    expect(page.status).toBe(200);
    expect(page.body).toMatchObject({ count: 2, previous: null });
    expect(page.body.next).toMatch(/\/api\/conversations\/\d+\/messages\/\?page_size=1&page=2$/);
    expectKeys(page.body.results[0], MSG_KEYS);
    // p2 answered, so p2 has read p1's message.
    expect(page.body.results[0]).toMatchObject({ id: first.body.id, is_read: true });
    expectError(await call(server, 'GET', `/conversations/${conversationId}/messages/?page=3&page_size=1`, { token: p1.token }), 404);
    expectError(await call(server, 'GET', `/conversations/${conversationId}/messages/`, { token: outsider.token }), 404);
    expect((await call(server, 'GET', `/conversations/${conversationId}/messages/`, { token: admin.token })).body.count).toBe(2);

    expect(expectError(await call(server, 'POST', '/messages/', { token: p1.token, json: { content: 'x' } }), 400).error).toMatch(/^recipient_id/);
    expectError(await call(server, 'POST', '/messages/', { token: p1.token, json: { content: 'x', recipient_id: 999999 } }), 404);
    expect(expectError(await call(server, 'POST', '/messages/', { token: p1.token, json: { content: 'x', recipient_id: p1.id } }), 400).error).toMatch(
      /^recipient_id/,
    );
    // A recipient who blocked the sender: 403, and no conversation is opened.
    await call(server, 'POST', `/accounts/connections/block/${p1.id}/`, { token: outsider.token });
    expectError(await call(server, 'POST', '/messages/', { token: p1.token, json: { content: 'x', recipient_id: Number(outsider.id) } }), 403);
    expect((await call(server, 'GET', '/conversations/', { token: outsider.token })).body).toEqual([]);
  });

  it('reads, edits (PUT and PATCH) and deletes a message; staff moderate, others are refused', async () => {
    const sent = await call(server, 'POST', '/messages/', { token: p1.token, json: { content: 'gg', recipient_id: Number(p2.id) } });
    const got = await call(server, 'GET', `/messages/${sent.body.id}/`, { token: p2.token });
    expect(got.status).toBe(200);
    expectKeys(got.body, UNION_KEYS);
    expectKeys(got.body.sender, UNION_SENDER_KEYS);
    expect(got.body).toMatchObject({
      id: sent.body.id,
      conversation: sent.body.conversation,
      chat_group: sent.body.conversation,
      content: 'gg',
      is_system_message: false,
    });
    expectError(await call(server, 'GET', `/messages/${sent.body.id}/`, { token: outsider.token }), 404);

    // Edits and deletes reach the seed's message_edited / message_deleted listeners: GraphQL subscriptions now.
    const edits = sub(client(p2), `subscription($c: ID) { messageEdited(conversationId: $c) { id content isEdited } }`, { c: String(sent.body.conversation) });
    const deletes = sub(client(p2), `subscription($c: ID) { messageDeleted(conversationId: $c) { messageId conversationId } }`, {
      c: String(sent.body.conversation),
    });
    await Promise.all([edits.ready(), deletes.ready()]);
    const put = await call(server, 'PUT', `/messages/${sent.body.id}/`, { token: p1.token, json: { content: 'gg wp' } });
    expect(put.status).toBe(200);
    expectKeys(put.body, UNION_KEYS);
    expect(put.body).toMatchObject({ content: 'gg wp', is_edited: true });
    expect(await edits.next()).toEqual({ messageEdited: { id: String(sent.body.id), content: 'gg wp', isEdited: true } });
    const errBody = expectError(await call(server, 'PATCH', `/messages/${sent.body.id}/`, { token: p2.token, json: { content: 'nope' } }), 403);
    expect(errBody.detail).toMatch(/sender/);
    expect((await call(server, 'PATCH', `/messages/${sent.body.id}/`, { token: admin.token, json: { content: 'moderated' } })).body.content).toBe('moderated');
    expect(expectError(await call(server, 'PATCH', `/messages/${sent.body.id}/`, { token: p1.token, json: {} }), 400).error).toMatch(/^content/);
    expect(expectError(await call(server, 'PATCH', `/messages/${sent.body.id}/`, { token: p1.token, json: { content: '   ' } }), 400).error).toMatch(
      /^content/,
    );

    expectError(await call(server, 'DELETE', `/messages/${sent.body.id}/`, { token: p2.token }), 403);
    expect((await call(server, 'DELETE', `/messages/${sent.body.id}/`, { token: admin.token })).status).toBe(204);
    expect(await deletes.next()).toEqual({ messageDeleted: { messageId: String(sent.body.id), conversationId: String(sent.body.conversation) } });
    expect((await call(server, 'GET', `/messages/${sent.body.id}/`, { token: p1.token })).body).toMatchObject({ is_deleted: true, content: '' });
    expectError(await call(server, 'GET', '/messages/999999/'), 401);
  });
});
