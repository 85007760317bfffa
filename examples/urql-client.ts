/**
 * Example: this chat server from urql (`@urql/core` 6) in plain TypeScript (no React).
 *
 * For a frontend team: copy this file and examples/operations.graphql, point codegen.ts at your
 * own operations, run `npm run codegen`, then:
 *
 *   const chat = createUrqlChatClient({ httpUrl: 'https://chat.example.com/graphql', wsUrl: 'wss://chat.example.com/graphql' });
 *   await chat.login('erin', 'erinpass123');          // keeps the access token for what follows
 *   const { edges } = await chat.listConversations();
 *   const message = await chat.firstMessage(edges[0].node.id);
 *
 * Queries and mutations go over HTTP (`fetchExchange`, which also sends variables holding a File
 * or Blob as a GraphQL multipart request by itself), subscriptions over graphql-ws
 * (`subscriptionExchange`). Results are typed by the generated TypedDocumentNodes in ./gql.
 * Refreshing the 15-minute access token (`refreshToken`) is left to the app; log in before the
 * first subscription (the socket authenticates once, when it opens).
 */
import { cacheExchange, Client, fetchExchange, subscriptionExchange, type AnyVariables, type OperationResult } from '@urql/core';
import { createClient } from 'graphql-ws';
import {
  ConversationsDocument,
  LoginDocument,
  MessageAddedDocument,
  OpenDirectChatDocument,
  RegisterDocument,
  SendMessageDocument,
  type AuthFieldsFragment,
  type ConversationsQuery,
  type MessageFieldsFragment,
  type OpenDirectChatMutation,
  type RegisterInput,
} from './gql/graphql';

/** Where the server is, and who is calling. */
export interface ChatClientOptions {
  /** The GraphQL endpoint over HTTP, e.g. `https://chat.example.com/graphql`. */
  httpUrl: string;
  /** The same endpoint over WebSocket, e.g. `wss://chat.example.com/graphql`. */
  wsUrl: string;
  /** An access token from an earlier login; `register` and `login` replace it. */
  token?: string;
  /** A WebSocket constructor where there is no global one (Node 20: the `ws` package). */
  webSocketImpl?: unknown;
}

/** The chat operations of one signed-in user, over one urql Client and one WebSocket. */
export interface UrqlChatClient {
  /** The underlying urql Client, for anything else. */
  client: Client;
  /** Creates an account and signs in as it. */
  register(input: RegisterInput): Promise<AuthFieldsFragment>;
  /** Signs in; later requests carry the new access token. */
  login(username: string, password: string): Promise<AuthFieldsFragment>;
  /** The viewer's conversations, newest activity first (always from the network). */
  listConversations(first?: number): Promise<ConversationsQuery['conversations']>;
  /** Gets or creates the direct conversation with `username`. */
  openDirectChat(username: string): Promise<OpenDirectChatMutation['openDirectChat']>;
  /** Sends a text message. */
  sendMessage(conversationId: string, content: string): Promise<MessageFieldsFragment>;
  /** Calls `onMessage` for every new message of the conversation; returns the unsubscribe function. */
  subscribeMessages(conversationId: string, onMessage: (m: MessageFieldsFragment) => void, onError?: (e: unknown) => void): () => void;
  /** Subscribes to the conversation and resolves with the first message received (then unsubscribes). */
  firstMessage(conversationId: string): Promise<MessageFieldsFragment>;
  /** Sends `file` (a File, so it has a name) as a message attachment, as a GraphQL multipart request. */
  uploadFile(conversationId: string, file: File, content?: string): Promise<MessageFieldsFragment>;
  /** Closes the WebSocket. */
  dispose(): Promise<void>;
}

/** The data of a result; throws its error (GraphQL or network) instead. */
function dataOf<T>(result: OperationResult<T, AnyVariables>, what: string): T {
  if (result.error) throw result.error;
  if (!result.data) throw new Error(`${what} returned no data`);
  return result.data;
}

/** Creates the urql Client setup for this server (HTTP with uploads, and WebSocket). */
export function createUrqlChatClient(options: ChatClientOptions): UrqlChatClient {
  let token = options.token;
  const authHeaders = (): Record<string, string> => (token ? { authorization: `Bearer ${token}` } : {});

  const ws = createClient({
    url: options.wsUrl,
    ...(options.webSocketImpl ? { webSocketImpl: options.webSocketImpl } : {}),
    // Read when the socket opens (lazily, at the first subscription).
    connectionParams: () => authHeaders(),
  });
  const client = new Client({
    url: options.httpUrl,
    // urql sends queries as GET by default, and file uploads as multipart/form-data: the server's
    // CSRF prevention (Apollo Server) refuses both unless the request carries a header a plain
    // <form> or <img> cannot set. `apollo-require-preflight` is that header; alternatively
    // `preferGetMethod: false` makes queries JSON POSTs (uploads still need the header).
    fetchOptions: () => ({ headers: { ...authHeaders(), 'apollo-require-preflight': 'true' } }),
    exchanges: [
      cacheExchange,
      fetchExchange,
      subscriptionExchange({
        forwardSubscription(request) {
          const input = { ...request, query: request.query ?? '' };
          return { subscribe: (sink) => ({ unsubscribe: ws.subscribe(input, sink) }) };
        },
      }),
    ],
  });

  const signedIn = (auth: AuthFieldsFragment) => {
    token = auth.accessToken;
    return auth;
  };
  const sendMessage = async (conversationId: string, content: string, attachments?: File[]) =>
    dataOf(await client.mutation(SendMessageDocument, { input: { conversationId, content, attachments } }).toPromise(), 'sendMessage').sendMessage;
  const subscribeMessages: UrqlChatClient['subscribeMessages'] = (conversationId, onMessage, onError) => {
    const sub = client.subscription(MessageAddedDocument, { conversationId }).subscribe((result) => {
      if (result.error) onError?.(result.error);
      else if (result.data) onMessage(result.data.messageAdded);
    });
    return () => sub.unsubscribe();
  };

  return {
    client,
    async register(input) {
      return signedIn(dataOf(await client.mutation(RegisterDocument, { input }).toPromise(), 'register').register);
    },
    async login(username, password) {
      return signedIn(dataOf(await client.mutation(LoginDocument, { username, password }).toPromise(), 'login').login);
    },
    async listConversations(first = 20) {
      const result = await client.query(ConversationsDocument, { first }, { requestPolicy: 'network-only' }).toPromise();
      return dataOf(result, 'conversations').conversations;
    },
    async openDirectChat(username) {
      return dataOf(await client.mutation(OpenDirectChatDocument, { username }).toPromise(), 'openDirectChat').openDirectChat;
    },
    sendMessage: (conversationId, content) => sendMessage(conversationId, content),
    subscribeMessages,
    firstMessage(conversationId) {
      return new Promise((resolve, reject) => {
        // `settled` covers a result delivered before subscribeMessages returns.
        let settled = false;
        // Assigned after `settle` is defined (settle may run before subscribeMessages returns).
        // eslint-disable-next-line prefer-const
        let stop: (() => void) | undefined;
        const settle = (f: () => void) => {
          if (settled) return;
          settled = true;
          stop?.();
          f();
        };
        stop = subscribeMessages(
          conversationId,
          (m) => settle(() => resolve(m)),
          (e) => settle(() => reject(e)),
        );
        if (settled) stop();
      });
    },
    uploadFile: (conversationId, file, content = '') => sendMessage(conversationId, content, [file]),
    async dispose() {
      await ws.dispose();
    },
  };
}
