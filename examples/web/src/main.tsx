/**
 * Entry point of the web client: keeps this tab's login in sessionStorage (so two tabs can be
 * two users), refreshes the access token a minute before it expires, and renders the app.
 */
import { ApolloProvider, useMutation } from '@apollo/client/react';
import { StrictMode, useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { RefreshTokenDocument, type AuthFieldsFragment } from '../../gql/graphql';
import { createChat } from './apollo';
import { Login, Main } from './App';
import './style.css';

const KEY = 'chat-demo-auth';

function loadAuth(): AuthFieldsFragment | null {
  try {
    return JSON.parse(sessionStorage.getItem(KEY) ?? 'null') as AuthFieldsFragment | null;
  } catch {
    return null;
  }
}

function Root() {
  const [auth, setAuthState] = useState(loadAuth);
  const authRef = useRef(auth);
  const chat = useMemo(() => createChat(() => authRef.current?.accessToken), []);
  const setAuth = useCallback(
    (next: AuthFieldsFragment | null) => {
      authRef.current = next;
      if (next) sessionStorage.setItem(KEY, JSON.stringify(next));
      else {
        sessionStorage.removeItem(KEY);
        void chat.client.clearStore();
      }
      setAuthState(next);
    },
    [chat],
  );
  return (
    <ApolloProvider client={chat.client}>
      {auth ? (
        <>
          <TokenRefresher auth={auth} onAuth={setAuth} />
          <Main key={auth.user.id} me={auth.user} chat={chat} onLogout={() => setAuth(null)} />
        </>
      ) : (
        <Login onSignedIn={setAuth} />
      )}
    </ApolloProvider>
  );
}

/**
 * Trades the refresh token for a new pair a minute before the access token expires (the old
 * refresh token stops working); logs out when that fails. The socket picks up the new token
 * when it reconnects (the server closes it when the old one expires).
 */
function TokenRefresher({ auth, onAuth }: { auth: AuthFieldsFragment; onAuth: (a: AuthFieldsFragment | null) => void }) {
  const [refresh] = useMutation(RefreshTokenDocument);
  useEffect(() => {
    const inMs = Math.max(0, Date.parse(auth.accessTokenExpiresAt) - Date.now() - 60_000);
    const timer = setTimeout(() => {
      refresh({ variables: { refreshToken: auth.refreshToken } }).then(
        ({ data }) => onAuth(data?.refreshToken ?? null),
        () => onAuth(null),
      );
    }, inMs);
    return () => clearTimeout(timer);
  }, [auth, onAuth, refresh]);
  return null;
}

const root = document.getElementById('root');
if (root)
  createRoot(root).render(
    <StrictMode>
      <Root />
    </StrictMode>,
  );
