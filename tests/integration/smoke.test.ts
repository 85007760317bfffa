import { gqlOk, registerUser, subscribe, wsClient } from '../support/client';
import { startTestServer, type TestServer } from '../support/test-server';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.close();
});

test('a message sent over HTTP reaches the other member over graphql-ws', async () => {
  const alice = await registerUser(server.url, 'alice');
  const bob = await registerUser(server.url, 'bob');
  const { openDirectChat } = await gqlOk(server.url, 'mutation($u: ID) { openDirectChat(userId: $u) { id } }', { u: bob.id }, alice.token);
  const client = wsClient(server.wsUrl, bob.token);
  const sub = subscribe(
    client,
    'subscription($c: ID) { messageAdded(conversationId: $c) { seq content sender { username } } }',
    { c: openDirectChat.id },
    { server },
  );
  await sub.ready();
  await gqlOk(server.url, 'mutation($c: ID) { sendMessage(input: { conversationId: $c, content: "hi bob" }) { id } }', { c: openDirectChat.id }, alice.token);
  const event = await sub.next();
  expect(event.messageAdded).toEqual({ seq: 1, content: 'hi bob', sender: { username: alice.username } });
  sub.stop();
  await client.dispose();
});
