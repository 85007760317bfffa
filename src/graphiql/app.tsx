/**
 * The browser entry of the GraphiQL page served on GET /graphql (src/graphiql/route.ts).
 * Bundled with React, GraphiQL and GraphiQL's CSS by scripts/build-graphiql.js into
 * dist/graphiql/graphiql.{js,css}; nothing here loads anything from another origin.
 *
 * Not part of the server's TypeScript build (tsconfig.json and tsconfig.build.json exclude it):
 * esbuild compiles it, with the browser's globals and React's automatic JSX runtime.
 *
 * - Queries and mutations: HTTP POST to the page's endpoint (data-endpoint of #graphiql-root,
 *   "/graphql"), with `authorization: Bearer <token>` when a token is set.
 * - Subscriptions: graphql-ws on ws(s)://<this host><endpoint>, the token in connection_init as
 *   `{ authorization: 'Bearer <token>' }`. A new token disposes the socket: the next operation
 *   opens a new one with the new token.
 * - The token lives in localStorage (TOKEN_KEY); `?query=` in the page's URL fills the editor.
 */
import { useEffect, useMemo, useRef, useState, type CSSProperties } from 'react';
import { createRoot } from 'react-dom/client';
import { GraphiQL } from 'graphiql';
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import { createClient } from 'graphql-ws';
import 'graphiql/graphiql.css';

/** localStorage key of the access token. */
const TOKEN_KEY = 'chat-server:graphiql:token';
/** Typing pauses this long (ms) before a changed token is applied (one reconnect, not one per key). */
const TOKEN_DEBOUNCE_MS = 400;

const DEFAULT_QUERY = `# Chat server GraphQL API.
# Paste an access token above (register or login return one), then run (Ctrl-Enter):
query Me {
  me {
    id
    username
  }
}
`;

function readToken(): string {
  try {
    return window.localStorage.getItem(TOKEN_KEY) ?? '';
  } catch {
    return '';
  }
}

function storeToken(token: string): void {
  try {
    if (token) window.localStorage.setItem(TOKEN_KEY, token);
    else window.localStorage.removeItem(TOKEN_KEY);
  } catch {
    // Storage may be off (private mode): the token then lasts as long as the page.
  }
}

/** "Bearer abc" or "abc" -> "abc" (people paste either). */
function bareToken(value: string): string {
  return value.trim().replace(/^bearer\s+/i, '');
}

/** The WebSocket URL of an endpoint path on this page's host (ws: on http:, wss: on https:). */
function socketUrl(endpoint: string): string {
  const url = new URL(endpoint, window.location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.search = '';
  url.hash = '';
  return url.toString();
}

const bar: CSSProperties = {
  display: 'flex',
  alignItems: 'center',
  gap: '8px',
  padding: '6px 12px',
  borderBottom: '1px solid rgba(0, 0, 0, 0.12)',
  fontFamily: 'system-ui, sans-serif',
  fontSize: '14px',
};
const input: CSSProperties = { flex: 1, minWidth: 0, padding: '4px 8px', fontFamily: 'monospace', fontSize: '13px' };

function App({ endpoint }: { endpoint: string }) {
  const [draft, setDraft] = useState(readToken);
  const [token, setToken] = useState(() => bareToken(readToken()));
  const timer = useRef<number | undefined>(undefined);

  const apply = (value: string) => {
    window.clearTimeout(timer.current);
    const next = bareToken(value);
    storeToken(next);
    setToken(next);
  };
  const onChange = (value: string) => {
    setDraft(value);
    window.clearTimeout(timer.current);
    timer.current = window.setTimeout(() => apply(value), TOKEN_DEBOUNCE_MS);
  };
  useEffect(() => () => window.clearTimeout(timer.current), []);

  // One socket per token: a changed token disposes the old client (its socket closes) and the
  // next subscription connects with the new one.
  const wsClient = useMemo(
    () =>
      createClient({
        url: socketUrl(endpoint),
        lazy: true,
        connectionParams: () => (token ? { authorization: `Bearer ${token}` } : {}),
        retryAttempts: 3,
      }),
    [endpoint, token],
  );
  useEffect(
    () => () => {
      void wsClient.dispose();
    },
    [wsClient],
  );

  const fetcher = useMemo(
    () =>
      createGraphiQLFetcher({
        url: endpoint,
        wsClient,
        headers: token ? { authorization: `Bearer ${token}` } : {},
        // One JSON response per operation (no multipart/mixed negotiation).
        enableIncrementalDelivery: false,
      }),
    [endpoint, token, wsClient],
  );

  const initialQuery = useMemo(() => new URLSearchParams(window.location.search).get('query') ?? undefined, []);

  return (
    <div style={{ display: 'flex', flexDirection: 'column', height: '100vh' }}>
      <form
        style={bar}
        onSubmit={(e) => {
          e.preventDefault();
          apply(draft);
        }}
      >
        <label htmlFor="graphiql-token">Access token</label>
        <input
          id="graphiql-token"
          name="token"
          type="password"
          autoComplete="off"
          spellCheck={false}
          placeholder="paste an access token (from register or login); sent as Authorization: Bearer <token>"
          style={input}
          value={draft}
          onChange={(e) => onChange(e.target.value)}
          onBlur={() => apply(draft)}
        />
        <span data-testid="token-state">{token ? 'authenticated requests' : 'anonymous'}</span>
      </form>
      <div style={{ flex: 1, minHeight: 0 }}>
        <GraphiQL fetcher={fetcher} defaultQuery={DEFAULT_QUERY} query={initialQuery} isHeadersEditorEnabled shouldPersistHeaders={false} />
      </div>
    </div>
  );
}

// The page's CSP allows no inline style attribute; CSSOM changes are fine.
document.body.style.margin = '0';
const root = document.getElementById('graphiql-root');
if (root) createRoot(root).render(<App endpoint={root.dataset.endpoint || '/graphql'} />);
