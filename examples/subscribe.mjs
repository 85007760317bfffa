// Prints the messages of every conversation the token's user belongs to, live over graphql-ws
// (the README's worked example). Run from the project folder, which has the `graphql-ws` and
// `ws` packages (elsewhere: `npm i graphql-ws ws`):
//   URL=http://localhost:4000/graphql TOKEN=<access token> node examples/subscribe.mjs
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const url = (process.env.URL ?? 'http://localhost:4000/graphql').replace(/^http/, 'ws');
const client = createClient({
  url,
  webSocketImpl: WebSocket,
  connectionParams: { authorization: `Bearer ${process.env.TOKEN}` },
});

// No conversationId: messages of every conversation the viewer belongs to.
const subscription = client.iterate({
  query: 'subscription { messageAdded { conversationId seq content sender { username } } }',
});
console.log('listening for messages... (Ctrl+C to stop)');
for await (const result of subscription) {
  console.log(JSON.stringify(result));
}
