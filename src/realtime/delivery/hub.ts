import { execute, GraphQLError, type DocumentNode, type ExecutionResult, type GraphQLSchema } from 'graphql';
import type { Actor } from '../../domain/shared/actor';
import type { DomainEvent, DomainEventType } from '../../domain/shared/events';
import type { AudienceSpec } from './audiences';
import type { EventBus } from '../state/event-bus';

/** A subscription operation as the client sent it, prepared once per distinct document. */
export interface PreparedOperation {
  document: DocumentNode;
  operationName?: string | null;
  variableValues?: Record<string, unknown> | null;
  /** Subscribers with equal keys share one execution per event: document text, operation name, variables. */
  key: string;
  /** True when the selection reaches a field whose value depends on the viewer (see `perViewer` in selection.ts). */
  perViewer: boolean;
}

/** Per-event resources shared by every execution of one event on this instance (one EntityManager fork and its loaders). */
export interface EventScope {
  readonly [key: string]: unknown;
}

/**
 * What every subscriber of the hub has, whatever makes its frames. `A` is what the subscription
 * declares about who it is (in the server: an {@link AudienceSpec}, matched by audiences.ts
 * `mayReceive`); the transport passes data, the hub asks {@link DeliveryOptions.mayReceive}.
 */
export interface HubSubscriberSpec<A = AudienceSpec> {
  /** Routing key: `<event type>:<conversation id | recipient id | *>`, or `presence`, or `user.updated` (user.changed events with their row). */
  topic: string;
  /** The viewer's live actor (rights as of now). */
  actor: Actor;
  /** Who the subscriber is and what it follows, matched per event by {@link DeliveryOptions.mayReceive}. */
  audience: A;
  /** Sends one result, serialised once for its whole group. */
  write(payloadJson: string): void;
  /** Called once when the subscription ends (client completes, socket closes, overflow). */
  onEnd?: () => void;
  /** Called when the subscriber has `maxQueue` results waiting on a slower access check (close its socket: never a silent drop). */
  onOverflow?: () => void;
}

/** One GraphQL subscriber of the hub: its frames are the JSON of an ExecutionResult of `operation`. */
export interface SubscriptionSpec<A = AudienceSpec> extends HubSubscriberSpec<A> {
  operation: PreparedOperation;
}

/**
 * Frames that are not a GraphQL execution (the legacy WebSocket dialects, src/realtime/legacy):
 * `render` makes one event's frame, once per event for every subscriber whose renderer has the
 * same `key`; null sends nothing.
 */
export interface FrameRenderer {
  key: string;
  render(event: DomainEvent, scope: EventScope): string | null | Promise<string | null>;
}

/** A subscriber whose frames come from a {@link FrameRenderer}. */
export interface FrameSubscriptionSpec<A = AudienceSpec> extends HubSubscriberSpec<A> {
  renderer: FrameRenderer;
}

/** Everything the hub needs from the GraphQL layer and the audience rules. */
export interface DeliveryOptions<A = AudienceSpec> {
  schema: GraphQLSchema;
  /**
   * Whether a subscriber declared as `audience` receives `event` now (audiences.ts `mayReceive`
   * over the live registry): a lookup in memory in the steady state, a promise when a fact must
   * be read once.
   */
  mayReceive(audience: A, event: DomainEvent): boolean | Promise<boolean>;
  /** A fresh per-event scope (created only when an event has at least one receiver). */
  newScope(event: DomainEvent): EventScope;
  /** The execution context: `actor` null for shared executions, the viewer for per-viewer ones. */
  contextFor(actor: Actor | null, scope: EventScope): unknown;
  /** The JSON-ready form of an execution result (errors mapped to the contract's shape). */
  present?(result: ExecutionResult): unknown;
  /** Results a subscriber may have waiting before `onOverflow` (default 1000). */
  maxQueue?: number;
  /**
   * The users who may follow a conversation (a superset of those whose "every conversation"
   * subscriptions accept its events): the hub asks only their subscribers instead of every
   * `<type>:*` subscriber. Absent: every such subscriber is asked.
   */
  followersOf?: (conversationId: number) => Iterable<number>;
  /**
   * Issue 32: whether read receipts of a conversation are coalesced (a large conversation: above
   * SEEN_BY_MAX_MEMBERS active members). Such a receipt reaches its reader's own sessions at once;
   * everyone else gets at most one receipt of that conversation per {@link coalesceWindowMs}: the
   * newest of the window, with `coalescedCount`. Absent: every receipt is delivered as it comes.
   */
  coalesceReceipts?: (conversationId: number) => boolean | Promise<boolean>;
  /** The coalescing window, ms (default 1000). */
  coalesceWindowMs?: number;
  /** Called once per event as it fans out on this instance (metrics: delivery latency). */
  onDispatch?: (event: DomainEvent) => void;
  onError?: (err: unknown) => void;
}

/** The event types that subscriptions deliver. */
export const DELIVERED: readonly DomainEventType[] = [
  'message.added',
  'message.edited',
  'message.deleted',
  'message.updated',
  'typing',
  'read.receipt',
  'presence',
  'notification.added',
  'user.changed',
];

/** Events held during a replay at most; past it, live delivery resumes without waiting for the replay. */
const MAX_HELD = 100_000;

interface Group {
  key: string;
  /** A GraphQL group executes this; a frame group ({@link FrameRenderer}) renders instead. */
  operation?: PreparedOperation;
  renderer?: FrameRenderer;
  actor: Actor | null;
  refs: number;
}

/**
 * One event's result for a group (or one subscriber's access check) while it is still being
 * made: the subscribers waiting on it are written in one pass when it settles, instead of one
 * promise reaction per subscriber (2000 per event in a 2000-socket room).
 */
class Slot<A> {
  settled = false;
  value: string | null = null;
  /** Subscribers whose queue head this is, and slots that settle with it. */
  waiters: (Subscriber<A> | Slot<A>)[] = [];
}

/** A serialised result, or one still being made (null: the event was not for this subscriber). */
type Pending<A> = string | Slot<A> | null;

interface Subscriber<A> {
  spec: HubSubscriberSpec<A>;
  group: Group;
  /** Results in event order that wait for an earlier one (an access check or an execution in flight). */
  queue: Pending<A>[];
  /** The head of the queue this subscriber waits on (it is among the slot's waiters). */
  awaiting: Slot<A> | null;
  done: boolean;
  /** Resolves the lifecycle iterator's pending next() when the subscription ends. */
  ended: (() => void) | null;
}

/** Routing keys of an event: its own key and the "every conversation" one. */
function topicsOf(e: DomainEvent): string[] {
  if (e.type === 'presence') return ['presence'];
  // Profile changes carry the row (userUpdated); a user.changed without it is for caches only.
  if (e.type === 'user.changed') return e.user ? ['user.updated'] : [];
  if ('conversationId' in e) return [`${e.type}:${e.conversationId}`, `${e.type}:*`];
  if ('recipientId' in e) return [`${e.type}:${e.recipientId}`];
  return [];
}

const isPromise = <T>(x: unknown): x is Promise<T> => typeof (x as Promise<T>)?.then === 'function';

type ReceiptEvent = Extract<DomainEvent, { type: 'read.receipt' }>;

/**
 * The realtime delivery hub (issue 11): one bus listener per event type for the whole instance,
 * subscribers indexed by topic, and one GraphQL execution and one serialised payload per event
 * per group of subscribers whose operation (document + variables) does not depend on the viewer,
 * whatever the group's size. Operations that select viewer-dependent fields execute once per
 * viewer, still sharing the event's scope (loaders, profile cache). Per subscriber and event,
 * what remains is the access check (memory) and the socket write of the shared payload. Each
 * subscriber receives its events in bus order. Message changes are delivered at most once
 * (`changeSeq` per conversation), also across a replay after an outage.
 */
export class DeliveryHub<A = AudienceSpec> {
  private readonly topics = new Map<string, Set<Subscriber<A>>>();
  /** The `<type>:*` subscribers again, by topic and user id (see DeliveryOptions.followersOf). */
  private readonly followers = new Map<string, Map<number, Set<Subscriber<A>>>>();
  private readonly groups = new Map<string, Group>();
  private readonly offs: (() => void)[];
  private readonly maxQueue: number;
  /** Executions run since start (tests and the benchmark read it). */
  executions = 0;
  /** Frames written to subscribers since start (metrics). */
  deliveredFrames = 0;
  /** Message changes delivered lately, per conversation (`changeSeq`s). */
  private readonly delivered = new Map<number, Set<number>>();
  /** The same for `message.updated`, which shares its change number with an edit's or deletion's own event. */
  private readonly deliveredUpdates = new Map<number, Set<number>>();
  /** While paused (a replay is being read), events from the bus wait here, in order. */
  private held: DomainEvent[] | null = null;
  /** Issue 32: read receipts of large conversations waiting for their window's end, by conversation. */
  private readonly receiptWindows = new Map<number, { latest: ReceiptEvent; count: number; timer: NodeJS.Timeout }>();

  constructor(
    bus: EventBus,
    private readonly opts: DeliveryOptions<A>,
  ) {
    this.maxQueue = opts.maxQueue ?? 1000;
    this.offs = DELIVERED.map((type) =>
      bus.on(type, (e) => {
        if (!this.held) this.dispatch(e);
        else if (this.held.length < MAX_HELD) this.held.push(e);
        else {
          this.resume();
          this.dispatch(e);
        }
      }),
    );
  }

  /**
   * Registers a subscriber; results go to `spec.write`. The returned iterator is the
   * subscription's lifecycle for graphql-ws: it yields nothing and ends when the subscription
   * does; `return()` (the client completes, the socket closes) unregisters at once.
   */
  subscribe(spec: SubscriptionSpec<A>): AsyncIterableIterator<ExecutionResult> {
    const actor = spec.operation.perViewer ? spec.actor : null;
    const key = actor ? `${spec.operation.key}\u0000viewer:${actor.id}` : spec.operation.key;
    return new Lifecycle(
      this,
      this.register(spec, key, () => ({ key, operation: spec.operation, actor, refs: 0 })),
    );
  }

  /**
   * Registers a subscriber whose frames come from `spec.renderer` (rendered once per event per
   * renderer key, whatever the number of subscribers), delivered like {@link subscribe}'s: in
   * bus order, its audience matched by `mayReceive`, `onOverflow` past `maxQueue`, each message
   * change once (also across a replay). Returns the function that unregisters it.
   */
  subscribeFrames(spec: FrameSubscriptionSpec<A>): () => void {
    const key = `\u0001frames:${spec.renderer.key}`;
    const sub = this.register(spec, key, () => ({ key, renderer: spec.renderer, actor: null, refs: 0 }));
    return () => this.end(sub);
  }

  private register(spec: HubSubscriberSpec<A>, key: string, newGroup: () => Group): Subscriber<A> {
    let group = this.groups.get(key);
    if (!group) this.groups.set(key, (group = newGroup()));
    group.refs++;
    const sub: Subscriber<A> = { spec, group, queue: [], awaiting: null, done: false, ended: null };
    let set = this.topics.get(spec.topic);
    if (!set) this.topics.set(spec.topic, (set = new Set()));
    set.add(sub);
    if (spec.topic.endsWith(':*')) {
      let byUser = this.followers.get(spec.topic);
      if (!byUser) this.followers.set(spec.topic, (byUser = new Map()));
      let mine = byUser.get(spec.actor.id);
      if (!mine) byUser.set(spec.actor.id, (mine = new Set()));
      mine.add(sub);
    }
    return sub;
  }

  /** Subscribers registered now (tests, metrics). */
  subscriberCount(): number {
    let n = 0;
    for (const s of this.topics.values()) n += s.size;
    return n;
  }

  /** Holds events from the bus (in order) until {@link resume}: a replay goes first. */
  pause(): void {
    this.held ??= [];
  }

  /**
   * Delivers `replayed` (changes read back from PostgreSQL after an outage) and then the events
   * held since {@link pause}, each change at most once: what subscribers already got is skipped.
   */
  resume(replayed: readonly DomainEvent[] = []): void {
    const held = this.held ?? [];
    this.held = null;
    for (const e of replayed) this.dispatch(e);
    for (const e of held) this.dispatch(e);
  }

  /**
   * What this instance's subscribers listen to: conversations subscribed by id, and the actors
   * of "every conversation" subscriptions (whose conversations the caller knows).
   */
  interest(): { conversations: Set<number>; followers: Actor[] } {
    const conversations = new Set<number>();
    const followers = new Map<number, Actor>();
    for (const [topic, set] of this.topics) {
      const [type, key] = topic.split(':');
      if (!type.startsWith('message.') || key === undefined) continue;
      if (key === '*') for (const sub of set) followers.set(sub.spec.actor.id, sub.spec.actor);
      else conversations.add(Number(key));
    }
    return { conversations, followers: [...followers.values()] };
  }

  close(): void {
    for (const w of this.receiptWindows.values()) clearTimeout(w.timer);
    this.receiptWindows.clear();
    for (const off of this.offs) off();
    for (const set of this.topics.values()) for (const sub of [...set]) this.end(sub);
  }

  /** True the first time a message change is seen; remembers the last 1000 changes of the 2000 busiest conversations. */
  private firstDelivery(conversationId: number, changeSeq: number, delivered = this.delivered): boolean {
    let seen = delivered.get(conversationId);
    if (seen?.has(changeSeq)) return false;
    if (!seen) {
      seen = new Set();
      if (delivered.size >= 2000) delivered.delete(delivered.keys().next().value!);
    } else {
      delivered.delete(conversationId);
    }
    delivered.set(conversationId, seen);
    seen.add(changeSeq);
    if (seen.size > 1000) seen.delete(seen.values().next().value!);
    return true;
  }

  /**
   * Issue 32: a read receipt of a large conversation (DeliveryOptions.coalesceReceipts): its
   * reader's own sessions now, the others with the window's newest receipt when it ends.
   */
  private coalesce(e: ReceiptEvent): void {
    this.fanOut(e, (sub) => sub.spec.actor.id === e.userId);
    const w = this.receiptWindows.get(e.conversationId);
    if (w) {
      if (e.lastReadSeq >= w.latest.lastReadSeq) w.latest = e;
      w.count++;
      return;
    }
    const timer = setTimeout(() => {
      const done = this.receiptWindows.get(e.conversationId);
      this.receiptWindows.delete(e.conversationId);
      if (!done) return;
      const latest = done.latest;
      this.fanOut({ ...latest, coalescedCount: done.count }, (sub) => sub.spec.actor.id !== latest.userId);
    }, this.opts.coalesceWindowMs ?? 1000);
    timer.unref?.();
    this.receiptWindows.set(e.conversationId, { latest: e, count: 1, timer });
  }

  /** Hands one event to every subscriber of its topics (read receipts of large conversations: {@link coalesce}). */
  private dispatch(e: DomainEvent): void {
    if (e.type === 'read.receipt' && this.opts.coalesceReceipts && e.coalescedCount == null) {
      // Nobody here listens to receipts of this conversation: nothing to deliver, nothing to ask.
      if (!topicsOf(e).some((t) => this.topics.get(t)?.size)) return;
      let large: boolean | Promise<boolean>;
      try {
        large = this.opts.coalesceReceipts(e.conversationId);
      } catch (err) {
        this.opts.onError?.(err);
        large = false;
      }
      if (large === true) return this.coalesce(e);
      if (large !== false) {
        large.then(
          (yes) => (yes ? this.coalesce(e) : this.fanOut(e)),
          (err) => {
            this.opts.onError?.(err);
            this.fanOut(e);
          },
        );
        return;
      }
    }
    this.fanOut(e);
  }

  /** Hands one event to every subscriber of its topics (those `only` accepts), executing and serialising once per group. */
  private fanOut(e: DomainEvent, only?: (sub: Subscriber<A>) => boolean): void {
    if (
      (e.type === 'message.added' || e.type === 'message.edited' || e.type === 'message.deleted') &&
      !this.firstDelivery(e.conversationId, e.message.changeSeq)
    )
      return;
    if (e.type === 'message.updated' && !this.firstDelivery(e.conversationId, e.message.changeSeq, this.deliveredUpdates)) return;
    this.opts.onDispatch?.(e);
    let scope: EventScope | undefined;
    const results = new Map<Group, Pending<A>>();
    const resultOf = (g: Group): Pending<A> => {
      let r = results.get(g);
      if (r === undefined) {
        scope ??= this.opts.newScope(e);
        const out = this.run(g, e, scope);
        r = isPromise<string | null>(out) ? this.slotOf(out) : out;
        results.set(g, r);
      }
      return r;
    };
    const offer = (sub: Subscriber<A>) => {
      if (only && !only(sub)) return;
      let ok: boolean | Promise<boolean>;
      try {
        ok = this.opts.mayReceive(sub.spec.audience, e);
      } catch (err) {
        this.opts.onError?.(err);
        ok = false;
      }
      if (ok === false) return;
      if (ok === true) this.push(sub, resultOf(sub.group));
      else
        this.push(
          sub,
          this.slotOf(
            ok.then(
              (yes) => (yes ? resultOf(sub.group) : null),
              (err) => {
                this.opts.onError?.(err);
                return null;
              },
            ),
          ),
        );
    };
    const conversationId = 'conversationId' in e ? e.conversationId : undefined;
    for (const topic of topicsOf(e)) {
      const set = this.topics.get(topic);
      if (!set) continue;
      const byUser = this.opts.followersOf && conversationId !== undefined ? this.followers.get(topic) : undefined;
      if (byUser && byUser.size > 8) {
        // "Every conversation" subscribers: only those of users who may follow this conversation.
        for (const userId of this.opts.followersOf!(conversationId!)) {
          const mine = byUser.get(userId);
          if (mine) for (const sub of mine) offer(sub);
        }
      } else {
        for (const sub of set) offer(sub);
      }
    }
  }

  /** Executes the group's operation for the event and serialises the result (or renders its frame), once. */
  private run(g: Group, e: DomainEvent, scope: EventScope): string | null | Promise<string | null> {
    if (g.renderer) return this.render(g.renderer, e, scope);
    this.executions++;
    const { document, operationName, variableValues } = g.operation!;
    try {
      const out = execute({
        schema: this.opts.schema,
        document,
        operationName,
        variableValues,
        rootValue: e,
        contextValue: this.opts.contextFor(g.actor, scope),
      });
      return isPromise<ExecutionResult>(out)
        ? out.then(
            (r) => this.serialise(r),
            (err) => this.serialise(this.failed(err)),
          )
        : this.serialise(out);
    } catch (err) {
      return this.serialise(this.failed(err));
    }
  }

  /** A frame group's frame for the event; a renderer that fails sends nothing (and is reported). */
  private render(renderer: FrameRenderer, e: DomainEvent, scope: EventScope): string | null | Promise<string | null> {
    const failed = (err: unknown) => {
      this.opts.onError?.(err);
      return null;
    };
    try {
      const out = renderer.render(e, scope);
      return isPromise<string | null>(out) ? out.catch(failed) : out;
    } catch (err) {
      return failed(err);
    }
  }

  private serialise(result: ExecutionResult): string {
    return JSON.stringify(this.opts.present ? this.opts.present(result) : result);
  }

  private failed(err: unknown): ExecutionResult {
    this.opts.onError?.(err);
    return { errors: [err instanceof GraphQLError ? err : new GraphQLError('Internal server error', { extensions: { code: 'INTERNAL_SERVER_ERROR' } })] };
  }

  /** A slot settled by `promise` (a rejection settles it with null; `run` and `render` report their own failures). */
  private slotOf(promise: Promise<Pending<A>>): Slot<A> {
    const slot = new Slot<A>();
    promise.then(
      (v) => {
        if (v instanceof Slot) {
          if (v.settled) this.settle(slot, v.value);
          else v.waiters.push(slot);
        } else this.settle(slot, v);
      },
      (err) => {
        this.opts.onError?.(err);
        this.settle(slot, null);
      },
    );
    return slot;
  }

  /** Settles a slot and writes, in one pass, every subscriber waiting on it (then the slots chained to it). */
  private settle(slot: Slot<A>, value: string | null): void {
    slot.settled = true;
    slot.value = value;
    const waiters = slot.waiters;
    slot.waiters = [];
    for (const w of waiters) {
      if (w instanceof Slot) this.settle(w, value);
      else {
        if (w.awaiting === slot) w.awaiting = null;
        this.pump(w);
      }
    }
  }

  /** Writes at once when nothing earlier waits; otherwise queues behind it, in event order. */
  private push(sub: Subscriber<A>, item: Pending<A>): void {
    if (sub.done) return;
    if (!sub.queue.length) {
      const ready = item instanceof Slot ? (item.settled ? item.value : undefined) : item;
      if (ready !== undefined) {
        if (ready !== null) {
          this.deliveredFrames++;
          sub.spec.write(ready);
        }
        return;
      }
    }
    sub.queue.push(item);
    if (sub.queue.length > this.maxQueue) {
      // Too far behind: never drop silently; the socket closes and the client catches up.
      this.end(sub);
      sub.spec.onOverflow?.();
      return;
    }
    this.pump(sub);
  }

  /** Writes the queued results that are ready, in order, stopping at the first still being made. */
  private pump(sub: Subscriber<A>): void {
    while (!sub.done && sub.queue.length) {
      let head = sub.queue[0];
      if (head instanceof Slot) {
        if (!head.settled) {
          if (sub.awaiting !== head) {
            sub.awaiting = head;
            head.waiters.push(sub);
          }
          return;
        }
        head = head.value;
      }
      sub.queue.shift();
      if (head !== null) {
        this.deliveredFrames++;
        sub.spec.write(head);
      }
    }
  }

  /** @internal Ends a subscriber (its lifecycle's return/throw, overflow, close). */
  end(sub: Subscriber<A>): void {
    if (sub.done) return;
    sub.done = true;
    sub.queue.length = 0;
    const set = this.topics.get(sub.spec.topic);
    if (set) {
      set.delete(sub);
      if (!set.size) this.topics.delete(sub.spec.topic);
    }
    const byUser = this.followers.get(sub.spec.topic);
    const mine = byUser?.get(sub.spec.actor.id);
    if (mine) {
      mine.delete(sub);
      if (!mine.size) byUser!.delete(sub.spec.actor.id);
      if (!byUser!.size) this.followers.delete(sub.spec.topic);
    }
    if (--sub.group.refs === 0) this.groups.delete(sub.group.key);
    try {
      sub.spec.onEnd?.();
    } catch (err) {
      this.opts.onError?.(err);
    }
    const ended = sub.ended;
    sub.ended = null;
    ended?.();
  }
}

const DONE: IteratorResult<ExecutionResult> = Object.freeze({ value: undefined, done: true }) as IteratorResult<ExecutionResult>;

/**
 * A subscription's lifecycle as graphql-ws sees it: an iterator that yields nothing and ends when
 * the subscription does. A class, not closures: one small object per subscription (idle memory).
 */
class Lifecycle<A> implements AsyncIterableIterator<ExecutionResult> {
  constructor(
    private readonly hub: DeliveryHub<A>,
    private readonly sub: Subscriber<A>,
  ) {}

  next(): Promise<IteratorResult<ExecutionResult>> {
    if (this.sub.done) return Promise.resolve(DONE);
    return new Promise((resolve) => {
      this.sub.ended = () => resolve(DONE);
    });
  }

  return(): Promise<IteratorResult<ExecutionResult>> {
    this.hub.end(this.sub);
    return Promise.resolve(DONE);
  }

  throw(err?: unknown): Promise<IteratorResult<ExecutionResult>> {
    this.hub.end(this.sub);
    return Promise.reject(err);
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<ExecutionResult> {
    return this;
  }
}

/** MikroORM logger context (its `label`) of every query the realtime delivery runs: the query-count test and the benchmark count them. */
export const DELIVERY_QUERY = { label: 'realtime delivery' };

/** Whether a logged query (its MikroORM LogContext) was run by realtime delivery. */
export function isDeliveryQuery(context: { label?: unknown } | undefined): boolean {
  return context?.label === DELIVERY_QUERY.label;
}
