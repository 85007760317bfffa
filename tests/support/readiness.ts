/**
 * Deterministic readiness for tests (issue 20): instead of sleeping after `subscribe`, a test
 * waits until the server has registered the subscription with its delivery hub. graphql-ws has
 * no "subscribed" acknowledgement, so the test side observes the hub itself: the first
 * subscription made against a server wraps that server's `hub.subscribe` (calling through, so
 * nothing about delivery changes) and records each registration by the viewer's id and the
 * exact operation (document, operation name, variables). A client-side subscription is ready
 * once a registration with its own viewer and operation has been matched to it; identical
 * subscriptions (same user, same operation and variables, same server) are interchangeable and
 * are matched in the order they were made. Counting subscribers instead (`subscriberCount()`)
 * is not enough: two subscriptions made at once would both be satisfied by the first one to
 * register, and a subscription still ending elsewhere hides a new one.
 *
 * Also: the servers started by test-server.ts by WebSocket URL (so a subscription finds its
 * server from its client), a condition poller that fails loudly, and a counter of finished calls
 * of a service method (to know the server has processed something, e.g. a socket's disconnect).
 */
import { parse, print, type DocumentNode } from 'graphql';
import type { DeliveryHub, SubscriptionSpec } from '../../src/realtime/delivery/hub';

/** Anything with a running server's delivery hub: a TestServer, an instance of a TestCluster. */
export interface HubHolder {
  realtime: { hub: DeliveryHub };
}

// ---- servers by WebSocket URL -------------------------------------------------------------

const servers = new Map<string, HubHolder>();

/** Records a started server under its WebSocket URL (test-server.ts does it for every server it starts). */
export function registerServer(wsUrl: string, server: HubHolder): void {
  servers.set(wsUrl, server);
}
/** Forgets a stopped server (its port may be reused by the next one). */
export function unregisterServer(wsUrl: string, server: HubHolder): void {
  if (servers.get(wsUrl) === server) servers.delete(wsUrl);
}
/** The in-process server listening at `wsUrl`, if test-server.ts started it. */
export function serverAt(wsUrl: string | undefined): HubHolder | undefined {
  return wsUrl === undefined ? undefined : servers.get(wsUrl);
}

// ---- registrations with the hub -------------------------------------------------------------

/** JSON with object keys sorted, so that `{a, b}` and `{b, a}` compare equal. */
function stableJson(value: unknown): string {
  return JSON.stringify(value ?? {}, (_k, v: unknown) => {
    if (!v || typeof v !== 'object' || Array.isArray(v)) return v;
    return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  });
}

const printed = new WeakMap<DocumentNode, string>();
function printOnce(doc: DocumentNode): string {
  let text = printed.get(doc);
  if (text === undefined) printed.set(doc, (text = print(doc)));
  return text;
}

/** What identifies an operation on both sides: operation name, variables and the printed document. */
export function operationSignature(document: DocumentNode | string, operationName: string | null | undefined, variables: unknown): string {
  const doc = typeof document === 'string' ? parse(document) : document;
  return `${operationName ?? ''}\u0000${stableJson(variables)}\u0000${printOnce(doc)}`;
}

/** One client-side subscription waiting for its registration. */
export interface PendingRegistration {
  /** Resolves once the server registered a subscription of this viewer with this operation. */
  readonly registered: Promise<void>;
  readonly isRegistered: () => boolean;
  /** The subscription ended on the client before registering (refused): it never will. */
  abandon(): void;
}

class HubRegistrations {
  /** Pending subscriptions by `<user id or *>\u0001<signature>`, in the order they were made. */
  private readonly queues = new Map<string, { done: boolean; resolve: () => void }[]>();
  /** Registrations seen since the hub was first observed (every one, also of raw sockets). */
  readonly seen: { userId: number; signature: string; topic: string }[] = [];

  constructor(hub: DeliveryHub) {
    const original = hub.subscribe;
    hub.subscribe = (spec: SubscriptionSpec) => {
      const lifecycle = original.call(hub, spec);
      this.registered(spec);
      return lifecycle;
    };
  }

  expect(userId: string | null, signature: string): PendingRegistration {
    const key = `${userId ?? '*'}\u0001${signature}`;
    let resolve!: () => void;
    const registered = new Promise<void>((r) => (resolve = r));
    const entry = {
      done: false,
      resolve: () => {
        entry.done = true;
        resolve();
      },
    };
    let queue = this.queues.get(key);
    if (!queue) this.queues.set(key, (queue = []));
    queue.push(entry);
    return {
      registered,
      isRegistered: () => entry.done,
      abandon: () => {
        const q = this.queues.get(key);
        const i = q?.indexOf(entry) ?? -1;
        if (q && i >= 0 && !entry.done) q.splice(i, 1);
      },
    };
  }

  private registered(spec: SubscriptionSpec): void {
    const { operation } = spec;
    const signature = operationSignature(operation.document, operation.operationName, operation.variableValues);
    this.seen.push({ userId: spec.actor.id, signature, topic: spec.topic });
    for (const key of [`${spec.actor.id}\u0001${signature}`, `*\u0001${signature}`]) {
      const queue = this.queues.get(key);
      const next = queue?.shift();
      if (next) {
        if (!queue!.length) this.queues.delete(key);
        next.resolve();
        return;
      }
    }
  }
}

const observed = new WeakMap<DeliveryHub, HubRegistrations>();

/** The registration log of `server`'s hub, observing it from now on. */
export function registrationsOf(server: HubHolder): HubRegistrations {
  const hub = server.realtime.hub;
  let log = observed.get(hub);
  if (!log) observed.set(hub, (log = new HubRegistrations(hub)));
  return log;
}

// ---- conditions -----------------------------------------------------------------------------

/**
 * Resolves once `check()` is true, checking at once and then every `everyMs` (5 ms by default);
 * rejects naming `what` after `timeoutMs`. The timer only paces the checks: the outcome is the
 * condition.
 */
export async function waitFor(check: () => boolean | Promise<boolean>, what: string, { timeoutMs = 10_000, everyMs = 5 } = {}): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * Records the finished calls of `target[method]` (an async method of a running server's service),
 * calling through unchanged. `reached(n, where)` resolves once `n` calls whose arguments satisfy
 * `where` have finished since `finishedCalls` (rejects after `timeoutMs`). `restore()` puts the
 * method back.
 */
export function finishedCalls<T extends object, K extends keyof T>(target: T, method: K, what = String(method)) {
  const original = target[method] as unknown as (...args: unknown[]) => unknown;
  const finished: unknown[][] = [];
  const waiters: (() => void)[] = [];
  (target as Record<K, unknown>)[method] = function (this: unknown, ...args: unknown[]) {
    const out = original.apply(this, args);
    void Promise.resolve(out)
      .catch(() => undefined)
      .then(() => {
        finished.push(args);
        for (const w of waiters.splice(0)) w();
      });
    return out;
  };
  const count = (where: (...args: any[]) => boolean) => finished.filter((args) => where(...args)).length;
  return {
    count,
    reached(n: number, where: (...args: any[]) => boolean = () => true, timeoutMs = 10_000): Promise<void> {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${what}: ${count(where)} of ${n} matching calls finished within ${timeoutMs} ms`)), timeoutMs);
        const check = () => {
          if (count(where) >= n) {
            clearTimeout(timer);
            resolve();
          } else waiters.push(check);
        };
        check();
      });
    },
    restore() {
      (target as Record<K, unknown>)[method] = original;
    },
  };
}
