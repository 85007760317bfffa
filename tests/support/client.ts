import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { operationSignature, registrationsOf, serverAt, type HubHolder } from './readiness';

export { waitFor, finishedCalls, type HubHolder } from './readiness';

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
export interface TestUser {
  id: string;
  username: string;
  token: string;
  refreshToken: string;
}

/** Registers a new user through the real `register` mutation. */
export async function registerUser(url: string, prefix = 'user', extra: Record<string, unknown> = {}): Promise<TestUser> {
  const username = `${prefix}${++counter}_${process.pid}`.slice(0, 32);
  const data = await gqlOk(url, `mutation($input: RegisterInput!) { register(input: $input) { accessToken refreshToken user { id username } } }`, {
    input: { username, password: 'correct-horse-battery', ...extra },
  });
  return { id: data.register.user.id, username, token: data.register.accessToken, refreshToken: data.register.refreshToken };
}

/** What the test side knows of a client made by {@link wsClient}: its URL and the user of its token. */
const clientInfo = new WeakMap<Client, { url: string; userId: string | null }>();

/** The `sub` claim (user id) of an access token (unverified), or null when it is not one. */
export function userIdOf(token: string | undefined): string | null {
  if (!token) return null;
  try {
    const sub = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')).sub;
    return typeof sub === 'string' ? sub : null;
  } catch {
    return null;
  }
}

/** A graphql-ws client over `ws`, authenticating in connection_init. Close it with `dispose()`. */
export function wsClient(wsUrl: string, token: string | undefined, extra: Partial<Parameters<typeof createClient>[0]> = {}): Client {
  const client = createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: token === undefined ? {} : { authorization: `Bearer ${token}` },
    retryAttempts: 0,
    lazy: true,
    ...extra,
  });
  clientInfo.set(client, { url: wsUrl, userId: userIdOf(token) });
  return client;
}

/** A live subscription collecting what the server sends. */
export interface LiveSubscription<T = any> {
  /** Everything received so far (data payloads). */
  events: T[];
  /** Errors the server sent (the subscription ends after one). */
  errors: unknown[];
  /** Resolves with the next event not yet taken, or rejects after `timeoutMs`. */
  next(timeoutMs?: number): Promise<T>;
  /**
   * Takes events in order until one satisfies `isLast` (taken too) and resolves with all of them.
   * This is how a test checks that something did NOT arrive: after the forbidden action it causes
   * an allowed control event on the same subscription and expects exactly `[control]`. Each
   * subscriber gets its events in bus order, so a forbidden event, had it been delivered, comes
   * first; no timer decides. Rejects like {@link next} (naming what arrived instead).
   */
  until(isLast: (event: T) => boolean, timeoutMs?: number): Promise<T[]>;
  /**
   * Resolves once the server has registered this subscription with its delivery hub (so an event
   * published from now on reaches it). Needs the server (see {@link SubscribeOptions.server});
   * rejects loudly when the subscription ends first or nothing registers within `timeoutMs`.
   */
  ready(timeoutMs?: number): Promise<void>;
  /**
   * For a server in another process (no hub to observe): calls `cause`, which must make the
   * server send this subscription an event, until one arrives; resolves with it (taken). The
   * timer only paces the attempts. Later attempts' events may still arrive afterwards.
   */
  readyBy(cause: () => Promise<unknown>, opts?: { timeoutMs?: number; everyMs?: number }): Promise<T>;
  stop(): void;
  done: Promise<void>;
}

/** Options of {@link subscribe}. */
export interface SubscribeOptions {
  /**
   * The in-process server the client talks to (a TestServer, or the right instance of a
   * cluster), whose hub `ready()` observes. Default: the server test-server.ts started at the
   * client's URL (clients made by {@link wsClient}).
   */
  server?: HubHolder | (() => HubHolder);
}

/** Subscribes with graphql-ws and collects events. */
export function subscribe<T = any>(
  client: Client,
  query: string,
  variables: Record<string, unknown> = {},
  options: SubscribeOptions = {},
): LiveSubscription<T> {
  const events: T[] = [];
  const errors: unknown[] = [];
  let taken = 0;
  const waiters: (() => void)[] = [];
  let ended = false;
  let finish!: () => void;
  const done = new Promise<void>(
    (r) =>
      (finish = () => {
        ended = true;
        r();
      }),
  );
  // Each waiter runs once per wake; one that is still unsatisfied re-queues for the next wake.
  const wake = () => {
    for (const w of waiters.splice(0)) w();
  };
  // Observe the server's hub before the subscribe message can leave (the client sends it later).
  const info = clientInfo.get(client);
  const server = typeof options.server === 'function' ? options.server() : (options.server ?? serverAt(info?.url));
  const listening = serverAt(info?.url);
  if (options.server && listening && listening.realtime.hub !== server?.realtime.hub) {
    throw new Error(`subscribe(): the server given is not the one listening at ${info?.url}`);
  }
  const pending = server ? registrationsOf(server).expect(info?.userId ?? null, operationSignature(query, undefined, variables)) : undefined;
  const stop = client.subscribe<T>(
    { query, variables },
    {
      next: (v) => {
        if (v.errors?.length) errors.push(...v.errors);
        else events.push(v.data as T);
        wake();
      },
      error: (e) => {
        errors.push(e);
        pending?.abandon();
        finish();
        wake();
      },
      complete: () => {
        pending?.abandon();
        finish();
        wake();
      },
    },
  );
  const describe = () => `${query.replace(/\s+/g, ' ').slice(0, 120)} ${JSON.stringify(variables)}`;
  const take = (timeoutMs: number, accept: (e: T) => boolean, label: () => string) =>
    new Promise<T[]>((resolve, reject) => {
      const got: T[] = [];
      // Set once the first check fails (the check may clear it from a waiter before then).
      let timer: NodeJS.Timeout | undefined = undefined;
      let timedOut = false;
      const check = () => {
        if (timedOut) return true; // a take that timed out consumes nothing more
        while (taken < events.length) {
          const e = events[taken++];
          got.push(e);
          if (accept(e)) {
            resolve(got);
            return true;
          }
        }
        const seen = got.length ? `; got instead: ${JSON.stringify(got).slice(0, 500)}` : '';
        if (errors.length) {
          reject(new Error(`subscription error: ${JSON.stringify(errors)}${seen}`));
          return true;
        }
        if (ended) {
          reject(new Error(`subscription completed without ${label()}${seen}`));
          return true;
        }
        return false;
      };
      if (check()) return;
      timer = setTimeout(() => {
        timedOut = true;
        reject(new Error(`no ${label()} within ${timeoutMs} ms${got.length ? `; got instead: ${JSON.stringify(got).slice(0, 500)}` : ''}`));
      }, timeoutMs);
      const waiter = () => {
        if (check()) clearTimeout(timer);
        else waiters.push(waiter);
      };
      waiters.push(waiter);
    });
  return {
    events,
    errors,
    done,
    stop,
    ready(timeoutMs = 10_000) {
      if (!pending) {
        return Promise.reject(
          new Error(`ready() needs the in-process server of ${describe()}: pass { server } to subscribe() (or use readyBy() for a server in another process)`),
        );
      }
      if (pending.isRegistered() || events.length) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`ready(): the server did not register ${describe()} within ${timeoutMs} ms`)), timeoutMs);
        void pending.registered.then(() => {
          clearTimeout(timer);
          resolve();
        });
        void done.then(() => {
          if (pending.isRegistered()) return;
          clearTimeout(timer);
          reject(new Error(`ready(): ${describe()} ended before the server registered it: ${JSON.stringify(errors)}`));
        });
      });
    },
    async readyBy(cause, { timeoutMs = 10_000, everyMs = 100 } = {}) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        await cause();
        try {
          return (
            await take(
              everyMs,
              () => true,
              () => 'event',
            )
          )[0];
        } catch (err) {
          if (errors.length || ended || Date.now() > deadline) throw err;
        }
      }
    },
    async next(timeoutMs = 3000) {
      return (
        await take(
          timeoutMs,
          () => true,
          () => 'event',
        )
      )[0];
    },
    until(isLast, timeoutMs = 5000) {
      return take(timeoutMs, isLast, () => `event matching ${isLast.toString().slice(0, 120)}`);
    },
  };
}

/**
 * For a test file: opens graphql-ws clients and subscriptions that are all stopped and disposed
 * after each test (registers a jest afterEach). `wsUrl` is read when a client is opened, `server`
 * (the TestServer whose hub `ready()` observes) when a subscription is made.
 */
export function trackRealtime(wsUrl: () => string, server?: () => HubHolder) {
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
      const s = subscribe<T>(c, query, variables, server ? { server } : {});
      subs.push(s);
      return s;
    },
  };
}
