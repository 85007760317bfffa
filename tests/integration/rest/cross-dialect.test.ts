/**
 * One conversation, every dialect: a message written through one REST dialect is read through
 * the other dialects that can see that conversation and through GraphQL (query and a live
 * messageAdded subscription), for a direct chat, a group and a support thread.
 */
import { trackRealtime } from '../../support/client';
import { startTestServer, type TestServer } from '../../support/test-server';
import { call, gqlData, makeStaff, restUser } from './rest-support';

let server: TestServer;
beforeAll(async () => { server = await startTestServer(); });
afterAll(async () => { await server.close(); });
const { client, sub } = trackRealtime(() => server.wsUrl);

const HISTORY = `query($c: ID!) { messages(conversationId: $c, last: 50) { edges { node { id content sender { username } } } } }`;
const contentsOf = (list: { content?: string; message?: string; noi_dung?: string }[]) => list.map((m) => m.content ?? m.message ?? m.noi_dung);

describe('cross-dialect', () => {
  it('a direct message sent through seed 004 is seen through seeds 000, 001, 002 (list), 003 and GraphQL', async () => {
    const alice = await restUser(server, 'xa');
    const bob = await restUser(server, 'xb');
    const live = sub(client(bob), `subscription { messageAdded { id conversationId content sender { username } } }`);
    await live.ready();

    const sent = await call(server, 'POST', '/messages/', { token: alice.token, json: { content: 'from 004', recipient_id: Number(bob.id) } });
    expect(sent.status).toBe(201);
    const cid = sent.body.conversation;
    expect(await live.next()).toEqual({ messageAdded: { id: String(sent.body.id), conversationId: String(cid), content: 'from 004', sender: { username: alice.username } } });

    // Seed 000 answers through the chat addressed by username; then replies, seen by seed 004.
    const h000 = await call(server, 'GET', `/chat/history/${alice.username}/`, { token: bob.token });
    expect(h000.body.map((m: any) => [m.message_id, m.message, m.username])).toEqual([[sent.body.id, 'from 004', alice.username]]);
    // Seed 001 and 003 read the same conversation by id.
    expect(contentsOf((await call(server, 'GET', `/chats/${cid}/messages/`, { token: bob.token })).body.results)).toEqual(['from 004']);
    expect(contentsOf((await call(server, 'GET', `/chat/rooms/${cid}/messages/`, { token: bob.token })).body.messages)).toEqual(['from 004']);
    // The shared list (seeds 000/002) and seed 001's list show it as the last message.
    expect((await call(server, 'GET', '/chat/conversations/', { token: bob.token })).body[0].last_message).toMatchObject({ message_id: sent.body.id, noi_dung: 'from 004' });
    expect((await call(server, 'GET', '/chats/', { token: bob.token })).body.results[0].last_message).toMatchObject({ id: sent.body.id, content: 'from 004' });
    // GraphQL query.
    const gq = await gqlData(server, bob, HISTORY, { c: String(cid) });
    expect(gq.messages.edges.map((e: any) => e.node.content)).toEqual(['from 004']);

    // A reply through seed 001 reaches seed 004 and the subscription.
    const reply = await call(server, 'POST', `/chats/${cid}/send-message/`, { token: bob.token, json: { content: 'from 001', replied_to: sent.body.id } });
    expect(reply.status).toBe(201);
    expect((await call(server, 'GET', `/conversations/${cid}/messages/`, { token: alice.token })).body.results.map((m: any) => m.content)).toEqual(['from 004', 'from 001']);
    expect((await live.next()).messageAdded.content).toBe('from 001');
  });

  it('a group message sent through seed 003 is seen through seeds 001, 004 and GraphQL', async () => {
    const owner = await restUser(server, 'xo');
    const member = await restUser(server, 'xm');
    const created = await call(server, 'POST', '/chats/', { token: owner.token, json: { name: 'cross', members: [Number(member.id)] } });
    const gid = created.body.id;
    const live = sub(client(member), `subscription($c: ID) { messageAdded(conversationId: $c) { content } }`, { c: String(gid) });
    await live.ready();

    const sent = await call(server, 'POST', `/chat/rooms/${gid}/messages/`, { token: owner.token, json: { content: 'from 003' } });
    expect(sent.status).toBe(201);
    expect(await live.next()).toEqual({ messageAdded: { content: 'from 003' } });
    expect((await call(server, 'GET', '/chat/rooms/', { token: member.token })).body.find((r: any) => r.id === gid)).toMatchObject({ room_type: 'group', last_message: { content: 'from 003' } });
    expect(contentsOf((await call(server, 'GET', `/chats/${gid}/messages/`, { token: member.token })).body.results).slice(-1)).toEqual(['from 003']);
    expect((await call(server, 'GET', `/conversations/${gid}/`, { token: member.token })).body.last_message).toMatchObject({ content: 'from 003' });
    const gq = await gqlData(server, member, HISTORY, { c: String(gid) });
    expect(gq.messages.edges.slice(-1)[0].node).toMatchObject({ content: 'from 003', sender: { username: owner.username } });
  });

  it('a support message sent through seed 002 reaches staff through GraphQL and seed 004, and the answer comes back', async () => {
    const customer = await restUser(server, 'xc');
    const staff = await restUser(server, 'xs');
    await makeStaff(server, staff);
    const staffToken = staff.token; // staff rights are read per request: the token from before still works
    const staffLive = sub(client(staff), `subscription { messageAdded { conversationId content } }`);
    await staffLive.ready();

    const conv = await call(server, 'GET', '/chat/conversations/my_conversation/', { token: customer.token });
    const sent = await call(server, 'POST', `/chat/conversations/${conv.body.id}/send_message/`, { token: customer.token, json: { noi_dung: 'from 002' } });
    expect(sent.status).toBe(201);
    expect(await staffLive.next()).toEqual({ messageAdded: { conversationId: String(conv.body.id), content: 'from 002' } });
    expect((await call(server, 'GET', `/conversations/${conv.body.id}/messages/`, { token: staffToken })).body.results.map((m: any) => m.content)).toEqual(['from 002']);

    // Staff answer through GraphQL; the customer reads it through seed 002.
    await gqlData(server, { token: staffToken }, `mutation($i: SendMessageInput!) { sendMessage(input: $i) { id } }`, { i: { conversationId: String(conv.body.id), content: 'from GraphQL' } });
    const back = await call(server, 'GET', `/chat/conversations/${conv.body.id}/messages/`, { token: customer.token });
    expect(back.body.map((m: any) => m.noi_dung)).toEqual(['from 002', 'from GraphQL']);
  });
});
