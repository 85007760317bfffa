/**
 * The web client's Apollo Client 4: queries and mutations over HTTP, operations carrying files as
 * a GraphQL multipart request (the link of ../../apollo-client.ts, with `apollo-require-preflight`),
 * subscriptions over one graphql-ws socket that reconnects by itself. Its cache merges history
 * pages and live messages into one list per conversation (Query.messages, by seq).
 */
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, type Reference, type StoreObject } from '@apollo/client';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { getMainDefinition } from '@apollo/client/utilities';
import { createClient } from 'graphql-ws';
import { findFiles, multipartLink } from '../../apollo-client';
import { MessagePageDocument, type ChatMessageFragment } from '../../gql/graphql';

/** Messages per history page. */
export const PAGE = 30;

/** The live socket as the header shows it. */
export type ConnectionState = 'connecting' | 'live' | 'offline';

/** The Apollo Client of one browser tab, and what it tells about its socket. */
export interface Chat {
  client: ApolloClient;
  /** Calls `listener` with each change of the socket's state; returns the unsubscribe function. */
  onState(listener: (state: ConnectionState) => void): () => void;
  /** Calls `listener` each time the socket connects again after it closed (time to catch up). */
  onReconnect(listener: () => void): () => void;
}

/** One page of Query.messages as the cache stores it (nodes are references). */
interface StoredPage {
  pageInfo: { hasPreviousPage: boolean; startCursor?: string | null };
  edges: { cursor: string; node: Reference | StoreObject }[];
}

/**
 * Creates the client for the server this page came from (`/graphql`, `ws(s)://<host>/graphql`).
 * `token` is read for every request and each time the socket (re)connects.
 */
export function createChat(token: () => string | undefined): Chat {
  const httpUrl = new URL('/graphql', window.location.href).href;
  const wsUrl = httpUrl.replace(/^http/, 'ws');
  const authHeaders = (): Record<string, string> => {
    const t = token();
    return t ? { authorization: `Bearer ${t}` } : {};
  };

  const stateListeners = new Set<(s: ConnectionState) => void>();
  const reconnectListeners = new Set<() => void>();
  const setState = (s: ConnectionState) => stateListeners.forEach((l) => l(s));
  let connections = 0;

  const ws = createClient({
    url: wsUrl,
    connectionParams: () => authHeaders(),
    // Reconnect whatever closed the socket (a dropped network, a restarted server, an expired
    // token: connectionParams then sends the refreshed one), after 0.5, 1, 2, 4, then 5 s.
    retryAttempts: Infinity,
    shouldRetry: () => true,
    retryWait: (retries) => new Promise((resolve) => setTimeout(resolve, Math.min(500 * 2 ** retries, 5000))),
    // Pings find a dead connection that never said goodbye.
    keepAlive: 10_000,
    on: {
      connecting: () => setState('connecting'),
      connected: () => {
        setState('live');
        if (++connections > 1) reconnectListeners.forEach((l) => l());
      },
      closed: () => setState('offline'),
    },
  });

  const http = ApolloLink.from([
    new ApolloLink((operation, forward) => {
      operation.setContext(({ headers = {} }: { headers?: Record<string, string> }) => ({ headers: { ...headers, ...authHeaders() } }));
      return forward(operation);
    }),
    new HttpLink({ uri: httpUrl }),
  ]);
  const link = ApolloLink.split(
    ({ query }) => {
      const def = getMainDefinition(query);
      return def.kind === 'OperationDefinition' && def.operation === 'subscription';
    },
    new GraphQLWsLink(ws),
    ApolloLink.split(({ variables }) => findFiles(variables).length > 0, multipartLink(httpUrl, authHeaders), http),
  );

  const cache = new InMemoryCache({
    typePolicies: {
      Query: {
        fields: {
          messages: {
            // One list per conversation, whatever page was asked for.
            keyArgs: ['conversationId'],
            // History pages, live messages and catch-up land in one list, ascending seq, each once.
            merge(existing: StoredPage | undefined, incoming: StoredPage, { args, readField }) {
              const bySeq = new Map<number, StoredPage['edges'][number]>();
              for (const edge of [...(existing?.edges ?? []), ...incoming.edges]) bySeq.set(readField<number>('seq', edge.node) ?? 0, edge);
              const edges = [...bySeq.entries()].sort(([a], [b]) => a - b).map(([, edge]) => edge);
              // Only a page of older history says whether there is more before it.
              const older = !existing || args?.before != null;
              return { ...incoming, edges, pageInfo: older ? incoming.pageInfo : existing.pageInfo };
            },
          },
        },
      },
    },
  });

  return {
    client: new ApolloClient({ link, cache }),
    onState(listener) {
      stateListeners.add(listener);
      return () => {
        stateListeners.delete(listener);
      };
    },
    onReconnect(listener) {
      reconnectListeners.add(listener);
      return () => {
        reconnectListeners.delete(listener);
      };
    },
  };
}

/**
 * Adds `messages` (live, sent, or caught up) to their conversation's list in the cache, when
 * that list was loaded (otherwise opening the conversation loads it with them).
 */
export function addMessages(client: ApolloClient, conversationId: string, messages: ChatMessageFragment[]): void {
  if (!messages.length) return;
  client.cache.updateQuery(
    { query: MessagePageDocument, variables: { conversationId, last: PAGE } },
    (data) =>
      data && {
        messages: {
          ...data.messages,
          edges: [...data.messages.edges, ...messages.map((node) => ({ __typename: 'MessageEdge' as const, cursor: '', node }))],
        },
      },
  );
}
