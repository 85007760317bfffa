import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

/** One GraphQL response as the client sees it. */
export interface GqlResult<T = any> {
  status: number;
  data?: T;
  errors?: { message: string; extensions?: { code?: string; [k: string]: unknown }; path?: string[] }[];
}

/** POSTs a GraphQL operation to `url` with an optional bearer token (real fetch, real HTTP). */
export async function gql<T = any>(url: string, query: string, variables: Record<string, unknown> = {}, token?: string): Promise<GqlResult<T>> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as Omit<GqlResult<T>, 'status'>;
  return { status: res.status, ...body };
}

/** Like {@link gql} but fails the test on any error and returns `data`. */
export async function gqlOk<T = any>(url: string, query: string, variables: Record<string, unknown> = {}, token?: string): Promise<T> {
  const r = await gql<T>(url, query, variables, token);
  if (r.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(r.errors)}`);
  return r.data as T;
}

/** The first error code of a response (undefined when there is none). */
export const codeOf = (r: GqlResult) => r.errors?.[0]?.extensions?.code;

/** The REST URL of `path` (e.g. `/chats/`) on the server whose GraphQL endpoint is `graphqlUrl`: `.../graphql` becomes `.../api${path}`. */
export const restUrl = (graphqlUrl: string, path = '') => `${graphqlUrl.replace(/\/graphql$/, '')}/api${path}`;

let counter = 0;
/** A registered user with tokens. */
export interface TestUser { id: string; username: string; token: string; refreshToken: string }

/** Registers a new user through the real `register` mutation. */
export async function registerUser(url: string, prefix = 'user', extra: Record<string, unknown> = {}): Promise<TestUser> {
  const username = `${prefix}${++counter}_${process.pid}`.slice(0, 32);
  const data = await gqlOk(url, `mutation($input: RegisterInput!) { register(input: $input) { accessToken refreshToken user { id username } } }`, {
    input: { username, password: 'correct-horse-battery', ...extra },
  });
  return { id: data.register.user.id, username, token: data.register.accessToken, refreshToken: data.register.refreshToken };
}

/** A graphql-ws client over `ws`, authenticating in connection_init. Close it with `dispose()`. */
export function wsClient(wsUrl: string, token: string | undefined, extra: Partial<Parameters<typeof createClient>[0]> = {}): Client {
  return createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: token === undefined ? {} : { authorization: `Bearer ${token}` },
    retryAttempts: 0,
    lazy: true,
    ...extra,
  });
}

/** A live subscription collecting what the server sends. */
export interface LiveSubscription<T = any> {
  /** Everything received so far (data payloads). */
  events: T[];
  /** Errors the server sent (the subscription ends after one). */
  errors: unknown[];
  /** Resolves with the next event not yet taken, or rejects after `timeoutMs`. */
  next(timeoutMs?: number): Promise<T>;
  /** Resolves true if no new event arrives within `ms`. */
  quiet(ms?: number): Promise<boolean>;
  /** Resolves when the server has acknowledged the subscription and the bus listens (short settle). */
  ready(): Promise<void>;
  stop(): void;
  done: Promise<void>;
}

/** Subscribes with graphql-ws and collects events. */
export function subscribe<T = any>(client: Client, query: string, variables: Record<string, unknown> = {}): LiveSubscription<T> {
  const events: T[] = [];
  const errors: unknown[] = [];
  let taken = 0;
  const waiters: (() => void)[] = [];
  let ended = false;
  let finish!: () => void;
  const done = new Promise<void>((r) => (finish = () => { ended = true; r(); }));
  // Each waiter runs once per wake; one that is still unsatisfied re-queues for the next wake.
  const wake = () => { for (const w of waiters.splice(0)) w(); };
  const stop = client.subscribe<T>({ query, variables }, {
    next: (v) => {
      if (v.errors?.length) errors.push(...v.errors);
      else events.push(v.data as T);
      wake();
    },
    error: (e) => { errors.push(e); finish(); wake(); },
    complete: () => { finish(); wake(); },
  });
  return {
    events,
    errors,
    done,
    stop,
    async ready() {
      // graphql-ws has no "subscribed" ack; the subscribe() resolver runs within a few ms of the message.
      await new Promise((r) => setTimeout(r, 150));
    },
    next(timeoutMs = 3000) {
      return new Promise<T>((resolve, reject) => {
        const check = () => {
          if (taken < events.length) { resolve(events[taken++]); return true; }
          if (errors.length) { reject(new Error(`subscription error: ${JSON.stringify(errors)}`)); return true; }
          if (ended) { reject(new Error('subscription completed without this event')); return true; }
          return false;
        };
        if (check()) return;
        const timer = setTimeout(() => reject(new Error(`no event within ${timeoutMs} ms`)), timeoutMs);
        const waiter = () => { if (check()) clearTimeout(timer); else waiters.push(waiter); };
        waiters.push(waiter);
      });
    },
    quiet(ms = 300) {
      const before = events.length;
      return new Promise((r) => setTimeout(() => r(events.length === before), ms));
    },
  };
}

/**
 * For a test file: opens graphql-ws clients and subscriptions that are all stopped and disposed
 * after each test (registers a jest afterEach). `wsUrl` is read when a client is opened.
 */
export function trackRealtime(wsUrl: () => string) {
  let clients: Client[] = [];
  let subs: LiveSubscription[] = [];
  afterEach(async () => {
    for (const s of subs) s.stop();
    await Promise.all(clients.map((c) => c.dispose()));
    subs = [];
    clients = [];
  });
  return {
    client(user: TestUser): Client {
      const c = wsClient(wsUrl(), user.token);
      clients.push(c);
      return c;
    },
    sub<T = any>(c: Client, query: string, variables: Record<string, unknown> = {}): LiveSubscription<T> {
      const s = subscribe<T>(c, query, variables);
      subs.push(s);
      return s;
    },
  };
}
