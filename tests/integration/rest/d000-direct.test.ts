/**
 * Seed 000 (music-app chat) over REST, the way its frontend drives it: log in with /api/token/,
 * open a chat by username (history), messages arrive (the seed's WebSocket send is GraphQL's
 * sendMessage now), unread counts by sender, mark-read with marked_count, recent conversations,
 * the shared conversation list, and connections (request/accept/decline/block/unblock), with
 * the refusals of callers who are not allowed.
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

const SEND = `mutation($i: SendMessageInput!) { sendMessage(input: $i) { id } }`;
const HISTORY_KEYS = ['message_id', 'message', 'username', 'recipient', 'timestamp', 'is_read', 'is_edited', 'is_deleted'];
const USER_KEYS = ['id', 'username', 'first_name', 'last_name', 'avatar', 'role', 'score', 'rank', 'in_game_ids'];

async function sendTo(from: RestUser, to: RestUser, content: string): Promise<number> {
  return Number((await gqlData(server, from, SEND, { i: { recipientId: to.id, content } })).sendMessage.id);
}

describe('seed 000: chat by username', () => {
  it('history, unread counts, mark-read and recent conversations', async () => {
    const alice = await restUser(server, 'al', { first_name: 'Alice', last_name: 'A' });
    const bob = await restUser(server, 'bo', { first_name: 'Bob' });

    // Opening the chat screen: history (opens the DIRECT conversation, empty so far).
    const empty = await call(server, 'GET', `/chat/history/${bob.username}/`, { token: alice.token });
    expect(empty.status).toBe(200);
    expect(empty.body).toEqual([]);

    const m1 = await sendTo(alice, bob, 'Hi Bob');
    const m2 = await sendTo(alice, bob, 'Are you there?');

    const hist = await call(server, 'GET', `/chat/history/${bob.username}/`, { token: alice.token });
    expect(hist.status).toBe(200);
    expect(hist.body).toHaveLength(2);
    for (const item of hist.body) expectKeys(item, HISTORY_KEYS);
    expect(hist.body[0]).toEqual({
      message_id: m1,
      message: 'Hi Bob',
      username: alice.username,
      recipient: bob.username,
      timestamp: expect.any(String),
      is_read: false,
      is_edited: false,
      is_deleted: false,
    });
    expect(hist.body[1].message_id).toBe(m2);

    // Paging back: ?limit=1 gives the newest, ?before=<id> the older ones.
    const newest = await call(server, 'GET', `/chat/history/${bob.username}/?limit=1`, { token: alice.token });
    expect(newest.body.map((m: any) => m.message_id)).toEqual([m2]);
    const older = await call(server, 'GET', `/chat/history/${bob.username}/?before=${m2}`, { token: alice.token });
    expect(older.body.map((m: any) => m.message_id)).toEqual([m1]);

    const unread = await call(server, 'GET', '/chat/unread/count/', { token: bob.token });
    expect(unread.status).toBe(200);
    expect(unread.body).toEqual({ total_unread: 2, by_sender: [{ user_id: Number(alice.id), username: alice.username, count: 2 }] });

    const recent = await call(server, 'GET', '/chat/recent-conversations/?limit=10', { token: bob.token });
    expect(recent.status).toBe(200);
    expect(recent.body).toHaveLength(1);
    expectKeys(recent.body[0], ['id', 'other_user', 'last_message', 'unread_count', 'updated_at']);
    expectKeys(recent.body[0].other_user, USER_KEYS);
    expect(recent.body[0]).toMatchObject({
      other_user: { id: Number(alice.id), username: alice.username, first_name: 'Alice', last_name: 'A', avatar: null },
      last_message: { message_id: m2, message: 'Are you there?', username: alice.username, timestamp: expect.any(String) },
      unread_count: 2,
    });

    // Marking read publishes a read receipt (the seed's WebSocket "read" event: GraphQL readReceipt now).
    const receipts = sub(client(alice), `subscription($c: ID!) { readReceipt(conversationId: $c) { conversationId lastReadSeq user { username } } }`, {
      c: String(recent.body[0].id),
    });
    await receipts.ready();
    const marked = await call(server, 'POST', `/chat/mark-read/${alice.username}/`, { token: bob.token });
    expect(marked.status).toBe(200);
    expect(marked.body).toEqual({ status: 'success', marked_count: 2 });
    expect(await receipts.next()).toEqual({ readReceipt: { conversationId: String(recent.body[0].id), lastReadSeq: 2, user: { username: bob.username } } });
    expect((await call(server, 'POST', `/chat/mark-read/${alice.username}/`, { token: bob.token })).body).toEqual({ status: 'success', marked_count: 0 });
    expect((await call(server, 'GET', '/chat/unread/count/', { token: bob.token })).body).toEqual({ total_unread: 0, by_sender: [] });
    // Alice now sees her messages read.
    const read = await call(server, 'GET', `/chat/history/${bob.username}`, { token: alice.token });
    expect(read.body.map((m: any) => m.is_read)).toEqual([true, true]);

    // The shared conversation list (seeds 000 and 002) carries seed 000's keys in last_message.
    const convs = await call(server, 'GET', '/chat/conversations/', { token: alice.token });
    expect(convs.status).toBe(200);
    expect(convs.body).toHaveLength(1);
    expectKeys(convs.body[0], [
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
    ]);
    expect(convs.body[0]).toMatchObject({
      kind: 'DIRECT',
      title: 'Bob',
      is_staff_group: false,
      customer: null,
      customer_info: null,
      unread_count: 0,
      last_message: { id: m2, noi_dung: 'Are you there?', message_id: m2, message: 'Are you there?', username: alice.username, nguoi_goi_name: 'Alice A' },
    });
    expect(convs.body[0].participants.map((p: any) => p.username).sort()).toEqual([alice.username, bob.username].sort());
  });

  it('opening a chat by username connects the two (accepted), and recent conversations come newest first', async () => {
    const erin = await restUser(server, 'er');
    const finn = await restUser(server, 'fi');
    const gus = await restUser(server, 'gu');
    const opened = await call(server, 'GET', `/chat/history/${finn.username}/`, { token: erin.token });
    expect({ status: opened.status, body: opened.body }).toEqual({ status: 200, body: [] });
    for (const [me, other, direction] of [
      [erin, finn, 'outgoing'],
      [finn, erin, 'incoming'],
    ] as const) {
      const list = await call(server, 'GET', '/accounts/connections/users/', { token: me.token });
      expect(list.body).toEqual([
        {
          id: expect.any(Number),
          user: expect.objectContaining({ id: Number(other.id), username: other.username }),
          status: 'accepted',
          direction,
          created_at: expect.any(String),
        },
      ]);
    }
    // Activity orders the list: finn's chat, then gus's newer one first; ?limit cuts it.
    await sendTo(finn, erin, 'first');
    await sendTo(gus, erin, 'second');
    const recent = await call(server, 'GET', '/chat/recent-conversations/', { token: erin.token });
    expect(recent.body.map((c: any) => c.other_user.username)).toEqual([gus.username, finn.username]);
    expect((await call(server, 'GET', '/chat/recent-conversations/?limit=1', { token: erin.token })).body.map((c: any) => c.other_user.username)).toEqual([
      gus.username,
    ]);
    await sendTo(finn, erin, 'third');
    expect(
      (await call(server, 'GET', '/chat/recent-conversations/?limit=10', { token: erin.token })).body.map((c: any) => [c.other_user.username, c.unread_count]),
    ).toEqual([
      [finn.username, 2],
      [gus.username, 1],
    ]);
    // Only direct chats: a group does not show here.
    await call(server, 'POST', '/chats/', { token: erin.token, json: { name: 'not direct', members: [Number(gus.id)] } });
    expect((await call(server, 'GET', '/chat/recent-conversations/', { token: erin.token })).body).toHaveLength(2);
  });

  it('refuses bad input and unknown users', async () => {
    const alice = await restUser(server, 'al');
    expectError(await call(server, 'GET', '/chat/history/nobody_at_all/', { token: alice.token }), 404);
    expectError(await call(server, 'POST', '/chat/mark-read/nobody_at_all/', { token: alice.token }), 404);
    expectError(await call(server, 'GET', `/chat/history/${alice.username}/`, { token: alice.token }), 400);
    expect(expectError(await call(server, 'GET', '/chat/recent-conversations/?limit=abc', { token: alice.token }), 400).error).toMatch(/^limit/);
    expectError(await call(server, 'GET', '/chat/unread/count/'), 401);
  });

  it('connections: request, accept, decline, block, unblock', async () => {
    const alice = await restUser(server, 'al');
    const carol = await restUser(server, 'ca');
    const dave = await restUser(server, 'da');

    const req = await call(server, 'POST', `/accounts/connections/request/${alice.id}/`, { token: carol.token });
    expect(req.status).toBe(201);
    expectKeys(req.body, ['id', 'user', 'status', 'direction', 'created_at']);
    expectKeys(req.body.user, USER_KEYS);
    expect(req.body).toMatchObject({ user: { id: Number(alice.id), username: alice.username }, status: 'pending', direction: 'outgoing' });

    const list = await call(server, 'GET', '/accounts/connections/users/', { token: alice.token });
    expect(list.status).toBe(200);
    expect(list.body).toEqual([
      expect.objectContaining({ id: req.body.id, status: 'pending', direction: 'incoming', user: expect.objectContaining({ id: Number(carol.id) }) }),
    ]);

    // Only the addressee answers: the requester is refused, a stranger does not see it.
    expectError(await call(server, 'POST', `/accounts/connections/accept/${req.body.id}/`, { token: carol.token }), 403);
    expectError(await call(server, 'POST', `/accounts/connections/accept/${req.body.id}/`, { token: dave.token }), 404);
    const accepted = await call(server, 'POST', `/accounts/connections/accept/${req.body.id}/`, { token: alice.token });
    expect(accepted.status).toBe(200);
    expect(accepted.body).toMatchObject({ id: req.body.id, status: 'accepted', direction: 'incoming' });

    const req2 = await call(server, 'POST', `/accounts/connections/request/${alice.id}/`, { token: dave.token });
    // Declining is the addressee's too.
    expectError(await call(server, 'POST', `/accounts/connections/decline/${req2.body.id}/`, { token: dave.token }), 403);
    expectError(await call(server, 'POST', `/accounts/connections/decline/${req2.body.id}/`, { token: carol.token }), 404);
    const declined = await call(server, 'POST', `/accounts/connections/decline/${req2.body.id}/`, { token: alice.token });
    expect(declined.status).toBe(200);
    expect(declined.body).toMatchObject({ status: 'declined' });

    const blocked = await call(server, 'POST', `/accounts/connections/block/${dave.id}/`, { token: alice.token });
    expect(blocked.status).toBe(200);
    expect(blocked.body).toMatchObject({ status: 'blocked', direction: 'outgoing', user: expect.objectContaining({ id: Number(dave.id) }) });
    // A block refuses the chat and new requests, either way (403).
    expectError(await call(server, 'GET', `/chat/history/${alice.username}/`, { token: dave.token }), 403);
    expectError(await call(server, 'GET', `/chat/history/${dave.username}/`, { token: alice.token }), 403);
    expectError(await call(server, 'POST', `/accounts/connections/request/${alice.id}/`, { token: dave.token }), 403);
    // The blocked user never sees the block itself.
    expect((await call(server, 'GET', '/accounts/connections/users/', { token: dave.token })).body.some((c: any) => c.status === 'blocked')).toBe(false);

    const unblocked = await call(server, 'POST', `/accounts/connections/unblock/${dave.id}/`, { token: alice.token });
    expect(unblocked.status).toBe(200);
    expect(unblocked.body).toEqual({ status: 'success' });
    // Unblocked: the chat opens again (an empty history), and messages flow both ways.
    const reopened = await call(server, 'GET', `/chat/history/${alice.username}/`, { token: dave.token });
    expect({ status: reopened.status, body: reopened.body }).toEqual({ status: 200, body: [] });
    const hello = await sendTo(dave, alice, 'hello again');
    expect(
      (await call(server, 'GET', `/chat/history/${dave.username}/`, { token: alice.token })).body.map((m: any) => [m.message_id, m.message, m.username]),
    ).toEqual([[hello, 'hello again', dave.username]]);

    expectError(await call(server, 'POST', '/accounts/connections/request/999999/', { token: alice.token }), 404);
    expectError(await call(server, 'POST', '/accounts/connections/request/abc/', { token: alice.token }), 400);
    expect(expectError(await call(server, 'POST', `/accounts/connections/request/${alice.id}/`, { token: alice.token }), 400).error).toMatch(/^user_id/);
    expect(expectError(await call(server, 'POST', `/accounts/connections/block/${alice.id}/`, { token: alice.token }), 400).error).toMatch(/^user_id/);
  });
});
