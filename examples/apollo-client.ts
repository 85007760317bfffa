/**
 * Example: this chat server from Apollo Client 4 in plain TypeScript (no React).
 *
 * For a frontend team: copy this file and examples/operations.graphql, point codegen.ts at your
 * own operations, run `npm run codegen`, then:
 *
 *   const chat = createApolloChatClient({ httpUrl: 'https://chat.example.com/graphql', wsUrl: 'wss://chat.example.com/graphql' });
 *   await chat.login('erin', 'erinpass123');          // keeps the access token for what follows
 *   const { edges } = await chat.listConversations();
 *   const message = await chat.firstMessage(edges[0].node.id);
 *
 * Queries and mutations go over HTTP (HttpLink), subscriptions over graphql-ws (GraphQLWsLink),
 * and operations whose variables hold a File or Blob as a GraphQL multipart request (a small
 * link below: Apollo Client 4 has no upload link). Results are typed by the generated
 * TypedDocumentNodes in ./gql. Refreshing the 15-minute access token (`refreshToken`) is left to
 * the app; log in before the first subscription (the socket authenticates once, when it opens).
 */
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from '@apollo/client';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { getMainDefinition } from '@apollo/client/utilities';
import { print } from 'graphql';
import { createClient } from 'graphql-ws';
import { Observable } from 'rxjs';
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

/** The chat operations of one signed-in user, over one Apollo Client and one WebSocket. */
export interface ApolloChatClient {
  /** The underlying Apollo Client, for anything else (`client.query`, cache reads...). */
  client: ApolloClient;
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
  /** Closes the WebSocket and stops the client. */
  dispose(): Promise<void>;
}

/** The paths (`input.attachments.0`) and values of every File or Blob inside `value`. */
export function findFiles(value: unknown, path = '', found: [string, Blob][] = []): [string, Blob][] {
  if (typeof Blob !== 'undefined' && value instanceof Blob) found.push([path, value]);
  else if (value && typeof value === 'object') {
    for (const [key, v] of Object.entries(value)) findFiles(v, path ? `${path}.${key}` : key, found);
  }
  return found;
}

/**
 * A terminating link for operations carrying files: the GraphQL multipart request spec
 * (docs/graphql-api.md "Uploading files") with fetch and FormData. Files
 * become `null` in `operations` and are mapped to their variable paths in `map`. The server's CSRF
 * prevention refuses multipart requests without the `apollo-require-preflight` header.
 */
export function multipartLink(httpUrl: string, authHeaders: () => Record<string, string>): ApolloLink {
  return new ApolloLink(
    (operation) =>
      new Observable<ApolloLink.Result>((observer) => {
        const files = findFiles(operation.variables);
        const variables = JSON.parse(JSON.stringify(operation.variables, (_k, v: unknown) => (v instanceof Blob ? null : v)));
        const form = new FormData();
        form.append('operations', JSON.stringify({ query: print(operation.query), operationName: operation.operationName, variables }));
        form.append('map', JSON.stringify(Object.fromEntries(files.map(([path], i) => [String(i), [`variables.${path}`]]))));
        files.forEach(([, file], i) => form.append(String(i), file));
        const abort = new AbortController();
        fetch(httpUrl, { method: 'POST', headers: { ...authHeaders(), 'apollo-require-preflight': 'true' }, body: form, signal: abort.signal })
          .then((res) => res.json() as Promise<ApolloLink.Result>)
          .then(
            (result) => {
              observer.next(result);
              observer.complete();
            },
            (e: unknown) => observer.error(e),
          );
        return () => abort.abort();
      }),
  );
}

/** Creates the Apollo Client 4 setup for this server (HTTP, WebSocket and multipart links). */
export function createApolloChatClient(options: ChatClientOptions): ApolloChatClient {
  let token = options.token;
  const authHeaders = (): Record<string, string> => (token ? { authorization: `Bearer ${token}` } : {});

  const ws = createClient({
    url: options.wsUrl,
    ...(options.webSocketImpl ? { webSocketImpl: options.webSocketImpl } : {}),
    // Read when the socket opens (lazily, at the first subscription).
    connectionParams: () => authHeaders(),
  });
  const http = ApolloLink.from([
    new ApolloLink((operation, forward) => {
      operation.setContext(({ headers = {} }: { headers?: Record<string, string> }) => ({ headers: { ...headers, ...authHeaders() } }));
      return forward(operation);
    }),
    new HttpLink({ uri: options.httpUrl }),
  ]);
  const link = ApolloLink.split(
    ({ query }) => {
      const def = getMainDefinition(query);
      return def.kind === 'OperationDefinition' && def.operation === 'subscription';
    },
    new GraphQLWsLink(ws),
    ApolloLink.split(({ variables }) => findFiles(variables).length > 0, multipartLink(options.httpUrl, authHeaders), http),
  );
  const client = new ApolloClient({ link, cache: new InMemoryCache() });

  const signedIn = (auth: AuthFieldsFragment) => {
    token = auth.accessToken;
    return auth;
  };
  const sendMessage = async (conversationId: string, content: string, attachments?: File[]) => {
    const { data } = await client.mutate({ mutation: SendMessageDocument, variables: { input: { conversationId, content, attachments } } });
    if (!data) throw new Error('sendMessage returned no data');
    return data.sendMessage;
  };
  const subscribeMessages: ApolloChatClient['subscribeMessages'] = (conversationId, onMessage, onError) => {
    const sub = client.subscribe({ query: MessageAddedDocument, variables: { conversationId } }).subscribe({
      next: ({ data, error }) => {
        if (error) onError?.(error);
        else if (data) onMessage(data.messageAdded);
      },
      error: (e: unknown) => onError?.(e),
    });
    return () => sub.unsubscribe();
  };

  return {
    client,
    async register(input) {
      const { data } = await client.mutate({ mutation: RegisterDocument, variables: { input } });
      if (!data) throw new Error('register returned no data');
      return signedIn(data.register);
    },
    async login(username, password) {
      const { data } = await client.mutate({ mutation: LoginDocument, variables: { username, password } });
      if (!data) throw new Error('login returned no data');
      return signedIn(data.login);
    },
    async listConversations(first = 20) {
      const { data } = await client.query({ query: ConversationsDocument, variables: { first }, fetchPolicy: 'network-only' });
      if (!data) throw new Error('conversations returned no data');
      return data.conversations;
    },
    async openDirectChat(username) {
      const { data } = await client.mutate({ mutation: OpenDirectChatDocument, variables: { username } });
      if (!data) throw new Error('openDirectChat returned no data');
      return data.openDirectChat;
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
      client.stop();
      await ws.dispose();
    },
  };
}
