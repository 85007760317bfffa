/**
 * The web client's screens: log in, the conversation list with unread badges, and a
 * conversation with history paging, live messages, typing, read receipts and attachments.
 * Every operation is a generated TypedDocumentNode (../../gql) used with Apollo's React hooks.
 */
import { useApolloClient, useMutation, useQuery, useSubscription } from '@apollo/client/react';
import { useCallback, useEffect, useLayoutEffect, useRef, useState, type FormEvent } from 'react';
import {
  ChatMessageFragmentDoc,
  ConversationListDocument,
  ConversationMembersDocument,
  LoginDocument,
  MarkReadDocument,
  MessagePageDocument,
  MessagesSinceDocument,
  NewMessagesDocument,
  OpenDirectChatDocument,
  ReadReceiptsDocument,
  RefreshMediaDocument,
  RegisterDocument,
  SendChatMessageDocument,
  SetTypingDocument,
  TypingDocument,
  type AuthFieldsFragment,
  type ChatAttachmentFragment,
  type ChatMessageFragment,
  type ConversationSummaryFragment,
} from '../../gql/graphql';
import { addMessages, PAGE, type Chat, type ConnectionState } from './apollo';

type Me = AuthFieldsFragment['user'];

/** Login and registration (a new account is signed in at once). */
export function Login({ onSignedIn }: { onSignedIn: (auth: AuthFieldsFragment) => void }) {
  const [login, loggingIn] = useMutation(LoginDocument);
  const [register, registering] = useMutation(RegisterDocument);
  const [error, setError] = useState('');
  const submit = async (e: FormEvent<HTMLFormElement>, mode: 'login' | 'register') => {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    const username = String(form.get('username') ?? '');
    const password = String(form.get('password') ?? '');
    setError('');
    try {
      const auth =
        mode === 'login'
          ? (await login({ variables: { username, password } })).data?.login
          : (await register({ variables: { input: { username, password } } })).data?.register;
      if (auth) onSignedIn(auth);
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    }
  };
  const busy = loggingIn.loading || registering.loading;
  return (
    // Two submit buttons: the one pressed (the event's submitter) says which.
    <form className="login" onSubmit={(e) => submit(e, (e.nativeEvent as SubmitEvent).submitter?.getAttribute('value') === 'register' ? 'register' : 'login')}>
      <h1>Chat</h1>
      <input name="username" placeholder="username" autoComplete="username" required />
      <input name="password" type="password" placeholder="password" autoComplete="current-password" required />
      <button type="submit" value="login" disabled={busy}>
        Log in
      </button>
      <button type="submit" value="register" disabled={busy}>
        Create account
      </button>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </form>
  );
}

/** The signed-in screen: header, conversation list, the open conversation. */
export function Main({ me, chat, onLogout }: { me: Me; chat: Chat; onLogout: () => void }) {
  const client = useApolloClient();
  const [openId, setOpenId] = useState<string>();
  const [state, setState] = useState<ConnectionState>('connecting');
  const openRef = useRef(openId);
  openRef.current = openId;
  useEffect(() => chat.onState(setState), [chat]);
  // Unread counts come from the server: the list is loaded again (once at a time, and once more
  // if asked meanwhile, so the last load follows the last message) when a message arrives for a
  // conversation that is not open, and after a reconnect (whatever happened while the socket was down).
  const reload = useRef({ running: false, again: false });
  const reloadList = useCallback(() => {
    const r = reload.current;
    if (r.running) {
      r.again = true;
      return;
    }
    r.running = true;
    void client
      .refetchQueries({ include: [ConversationListDocument] })
      .catch(() => undefined)
      .finally(() => {
        r.running = false;
        if (r.again) {
          r.again = false;
          reloadList();
        }
      });
  }, [client]);
  useEffect(() => chat.onReconnect(reloadList), [chat, reloadList]);

  const list = useQuery(ConversationListDocument, { fetchPolicy: 'cache-and-network' });
  // One subscription for every conversation: it feeds the open conversation and moves the list.
  useSubscription(NewMessagesDocument, {
    onData: ({ client: c, data }) => {
      const m = data.data?.messageAdded;
      if (!m) return;
      addMessages(c, m.conversationId, [m]);
      // The newest message of a conversation in the list (a late or repeated one changes nothing).
      const ref = c.cache.writeFragment({ fragment: ChatMessageFragmentDoc, fragmentName: 'ChatMessage', data: m });
      const known = c.cache.modify<ConversationSummaryFragment>({
        id: c.cache.identify({ __typename: 'Conversation', id: m.conversationId }),
        fields: {
          lastMessage: (last, { readField }) => (ref && m.seq > (readField<number>('lastSeq') ?? 0) ? ref : last),
          lastActivityAt: (at, { readField }) => (m.seq > (readField<number>('lastSeq') ?? 0) ? m.createdAt : at),
          lastSeq: (seq) => Math.max(seq, m.seq),
        },
      });
      if (!known || (m.sender?.id !== me.id && m.conversationId !== openRef.current)) reloadList();
    },
  });

  const conversations = [...(list.data?.conversations.edges ?? [])].map((e) => e.node).sort((a, b) => b.lastActivityAt.localeCompare(a.lastActivityAt));
  const [openDirect, opening] = useMutation(OpenDirectChatDocument);
  const [newChatError, setNewChatError] = useState('');
  const startChat = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = e.currentTarget;
    const username = String(new FormData(form).get('username') ?? '').trim();
    setNewChatError('');
    try {
      const { data } = await openDirect({ variables: { username } });
      if (!data) return;
      await client.refetchQueries({ include: [ConversationListDocument] });
      setOpenId(data.openDirectChat.id);
      form.reset();
    } catch (err) {
      setNewChatError(err instanceof Error ? err.message : String(err));
    }
  };

  return (
    <div className="app">
      <header>
        <strong>{me.fullName}</strong> <span className="muted">@{me.username}</span>
        <span className={`state ${state}`} data-testid="connection">
          {state}
        </span>
        <button onClick={onLogout}>Log out</button>
      </header>
      <aside>
        <form className="new-chat" onSubmit={startChat}>
          <input name="username" placeholder="chat with username…" required />
          <button disabled={opening.loading}>Open</button>
        </form>
        {newChatError && (
          <p className="error" role="alert">
            {newChatError}
          </p>
        )}
        <ul className="conversations">
          {conversations.map((c) => (
            <li key={c.id}>
              <button className={c.id === openId ? 'open' : ''} data-conversation={c.id} onClick={() => setOpenId(c.id)}>
                <span className="title">{c.title}</span>
                {c.unreadCount > 0 && c.id !== openId && (
                  <span className="badge" data-testid="unread">
                    {c.unreadCount}
                  </span>
                )}
                <span className="preview">{c.lastMessage ? preview(c.lastMessage) : 'no messages yet'}</span>
              </button>
            </li>
          ))}
        </ul>
      </aside>
      <main>{openId ? <Conversation key={openId} conversationId={openId} me={me} chat={chat} /> : <p className="muted">Pick a conversation.</p>}</main>
    </div>
  );
}

const preview = (m: ChatMessageFragment) =>
  `${m.sender?.username ?? 'system'}: ${m.isDeleted ? '(deleted)' : m.content || `${m.attachments.length} attachment(s)`}`;

/** One conversation: history (older pages on demand), live messages, typing, receipts, composer. */
function Conversation({ conversationId, me, chat }: { conversationId: string; me: Me; chat: Chat }) {
  const client = useApolloClient();
  const page = useQuery(MessagePageDocument, { variables: { conversationId, last: PAGE }, fetchPolicy: 'cache-and-network' });
  const members = useQuery(ConversationMembersDocument, { variables: { id: conversationId }, fetchPolicy: 'cache-and-network' });
  const refetchMembers = members.refetch;
  const edges = page.data?.messages.edges ?? [];
  const lastSeq = edges.at(-1)?.node.seq ?? 0;
  const lastSeqRef = useRef(lastSeq);
  lastSeqRef.current = lastSeq;

  // After a reconnect: what was sent, edited or deleted here meanwhile, and how far others read.
  useEffect(
    () =>
      chat.onReconnect(async () => {
        for (let afterSeq = lastSeqRef.current; ;) {
          const { data } = await client.query({ query: MessagesSinceDocument, variables: { conversationId, afterSeq }, fetchPolicy: 'network-only' });
          const since = data?.messagesSince ?? [];
          addMessages(client, conversationId, since);
          const top = Math.max(afterSeq, ...since.map((m) => m.seq));
          if (since.length < 100 || top === afterSeq) break;
          afterSeq = top;
        }
        await refetchMembers();
      }),
    [chat, client, conversationId, refetchMembers],
  );

  // Read receipts: mine as I read; theirs as they come.
  const [markRead] = useMutation(MarkReadDocument);
  useEffect(() => {
    if (!lastSeq) return;
    void markRead({ variables: { conversationId, upToSeq: lastSeq } }).then(
      ({ data }) => {
        client.cache.modify({
          id: client.cache.identify({ __typename: 'Conversation', id: conversationId }),
          fields: { unreadCount: () => data?.markRead.unreadCount ?? 0 },
        });
      },
      () => undefined,
    );
  }, [client, conversationId, lastSeq, markRead]);
  useSubscription(ReadReceiptsDocument, {
    variables: { conversationId },
    onData: ({ client: c, data }) => {
      const r = data.data?.readReceipt;
      const membership = members.data?.conversation?.members.find((m) => m.user.id === r?.user.id);
      if (r && membership) c.cache.modify({ id: c.cache.identify(membership), fields: { lastReadSeq: () => r.lastReadSeq } });
    },
  });
  const readByOthers = Math.max(0, ...(members.data?.conversation?.members ?? []).filter((m) => m.user.id !== me.id).map((m) => m.lastReadSeq));

  // Who is typing (isTyping=false comes by itself 5 s after their last keystroke).
  const [typing, setTyping] = useState<Record<string, string>>({});
  useSubscription(TypingDocument, {
    variables: { conversationId },
    onData: ({ data }) => {
      const t = data.data?.typing;
      if (!t) return;
      setTyping(({ [t.user.id]: _gone, ...rest }) => (t.isTyping ? { ...rest, [t.user.id]: t.user.fullName } : rest));
    },
  });

  // Stay at the newest message as messages come; not when older ones are put on top.
  const list = useRef<HTMLOListElement>(null);
  useLayoutEffect(() => {
    list.current?.scrollTo({ top: list.current.scrollHeight });
  }, [lastSeq]);
  const loadOlder = () => {
    const before = page.data?.messages.pageInfo.startCursor;
    if (before) void page.fetchMore({ variables: { before } });
  };

  return (
    <section className="conversation">
      <ol className="messages" ref={list}>
        {page.data?.messages.pageInfo.hasPreviousPage && (
          <li className="older">
            <button onClick={loadOlder} disabled={page.loading}>
              Older messages
            </button>
          </li>
        )}
        {edges.map(({ node: m }) => (
          <li key={m.id} className={m.sender?.id === me.id ? 'mine' : 'theirs'} data-seq={m.seq}>
            <span className="who">{m.sender?.fullName ?? 'system'}</span>
            <span className="text">{m.isDeleted ? <em>deleted</em> : m.content}</span>
            {m.isEdited && !m.isDeleted && <span className="muted"> (edited)</span>}
            <span className="attachments">
              {m.attachments.map((a) => (
                <Attachment key={a.id} a={a} messageId={m.id} />
              ))}
            </span>
            <span className="meta">
              {new Date(m.createdAt).toLocaleTimeString()}
              {m.sender?.id === me.id && (
                <span className="receipt" data-testid="receipt" data-status={m.seq <= readByOthers ? 'read' : 'sent'}>
                  {m.seq <= readByOthers ? ' ✓✓ read' : ' ✓ sent'}
                </span>
              )}
            </span>
          </li>
        ))}
      </ol>
      <p className="typing" data-testid="typing">
        {Object.values(typing).length ? `${Object.values(typing).join(', ')} typing…` : ' '}
      </p>
      <Composer conversationId={conversationId} />
    </section>
  );
}

/**
 * An attachment: a thumbnail (images) linking to the file. Signed URLs expire (MEDIA_URL_TTL_S):
 * when one fails to load, the message's attachments are fetched again for new URLs (at most
 * twice per attachment, so a file that is really gone is not asked for forever).
 */
function Attachment({ a, messageId }: { a: ChatAttachmentFragment; messageId: string }) {
  const client = useApolloClient();
  const refreshes = useRef(0);
  const refresh = () => {
    if (refreshes.current++ >= 2) return;
    void client.query({ query: RefreshMediaDocument, variables: { id: messageId }, fetchPolicy: 'network-only' }).catch(() => undefined);
  };
  const image = a.thumbnailUrl ?? (a.mimeType.startsWith('image/') ? a.url : null);
  return (
    <a className="attachment" href={a.url} target="_blank" rel="noreferrer" title={a.fileName}>
      {image ? <img src={image} alt={a.fileName} onError={refresh} /> : <span>📎 {a.fileName}</span>}
    </a>
  );
}

/** Text and files; says "typing" while the user types (at most every 2 s). */
function Composer({ conversationId }: { conversationId: string }) {
  const client = useApolloClient();
  const [send, sending] = useMutation(SendChatMessageDocument);
  const [setTyping] = useMutation(SetTypingDocument);
  const [text, setText] = useState('');
  const [files, setFiles] = useState<{ file: File; preview: string }[]>([]);
  const [error, setError] = useState('');
  const typedAt = useRef(0);
  const fileInput = useRef<HTMLInputElement>(null);
  useEffect(() => () => files.forEach((f) => URL.revokeObjectURL(f.preview)), [files]);

  const typed = (value: string) => {
    setText(value);
    if (value && Date.now() - typedAt.current > 2000) {
      typedAt.current = Date.now();
      void setTyping({ variables: { conversationId, isTyping: true } }).catch(() => undefined);
    }
  };
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!text.trim() && !files.length) return;
    setError('');
    try {
      const { data } = await send({
        variables: {
          input: { conversationId, content: text, clientMessageId: crypto.randomUUID(), attachments: files.length ? files.map((f) => f.file) : undefined },
        },
      });
      if (data) addMessages(client, conversationId, [data.sendMessage]);
      setText('');
      setFiles([]);
      if (fileInput.current) fileInput.current.value = '';
      typedAt.current = 0;
      void setTyping({ variables: { conversationId, isTyping: false } }).catch(() => undefined);
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    }
  };

  return (
    <form className="composer" onSubmit={submit}>
      {files.length > 0 && (
        <div className="previews">
          {files.map((f) => (
            <img key={f.preview} src={f.preview} alt={f.file.name} title={f.file.name} />
          ))}
        </div>
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <input
        ref={fileInput}
        type="file"
        multiple
        accept="image/*,video/mp4,video/quicktime"
        aria-label="attach files"
        onChange={(e) => setFiles([...(e.currentTarget.files ?? [])].map((file) => ({ file, preview: URL.createObjectURL(file) })))}
      />
      <input value={text} onChange={(e) => typed(e.currentTarget.value)} placeholder="Message" aria-label="message" />
      <button type="submit" disabled={sending.loading}>
        Send
      </button>
    </form>
  );
}
