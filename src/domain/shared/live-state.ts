import type { DomainEventType, EventPublisher, DomainEvent } from './events';
import type { RateLimiter } from './rate-limit';

/**
 * The shared live state the domain reaches (issue 29: the domain owns these interfaces; the
 * realtime layer implements them in src/realtime/state/, in memory or over Redis, and the
 * composition root hands them to createServices). No domain module imports src/realtime.
 */

type Handler = (event: DomainEvent) => void;

/**
 * Carries domain events from the services that commit them to the subscriptions that deliver
 * them. Listeners register for an event type, optionally narrowed to one conversation, so a
 * message reaches only the listeners of its conversation plus the "all my conversations" ones.
 */
export interface EventBus extends EventPublisher {
  /**
   * Calls `handler` for every event of `type`; with `key`, only for those of that conversation
   * (conversation events) or that recipient (`notification.added`). Returns the unsubscribe function.
   */
  on(type: DomainEventType, handler: Handler, key?: number): () => void;
  /** False while the transport between instances is down (readiness reports "degraded"). */
  healthy(): boolean;
  /**
   * Calls `handler` each time the transport between instances comes back after an outage
   * (events published elsewhere meanwhile were lost: re-check state against PostgreSQL), with
   * the time (ms since the epoch) the outage began. Returns the unsubscribe function. An
   * in-memory bus never loses events and never calls it.
   */
  onResync(handler: (downSinceMs: number) => void): () => void;
  close(): Promise<void>;
}

/**
 * Who is online: a user is ONLINE while at least one of their sockets is open (on any instance),
 * OFFLINE once the last closes; then `onOffline` records lastSeenAt and a presence event is
 * published, once, by the instance that saw the change.
 */
export interface PresenceTracker {
  /**
   * A socket of `userId` opened. `socketId` is unique per socket. Resolves with the user's open
   * sockets now, this one included: on every instance with Redis, on this one without (or while
   * Redis cannot answer).
   */
  connected(userId: number, socketId: string): Promise<number>;
  /** A socket of `userId` closed. */
  disconnected(userId: number, socketId: string): Promise<void>;
  isOnline(userId: number): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * Who is watching a conversation live: the open `messageAdded` subscriptions per user, for one
 * conversation or for all of theirs. A member who watches a conversation gets its messages live
 * and needs no MESSAGE notification for them (seed 003 notifications).
 */
export interface WatcherRegistry {
  /** Registers one live subscription of `userId` (conversationId null: all of theirs); returns its release function (idempotent). */
  watch(userId: number, conversationId: number | null): () => void;
  /**
   * Those of `candidates` (the conversation's members who could be notified) who watch
   * `conversationId` live, on any instance. Costs O(candidates): lookups in memory, and for
   * other instances' watchers one pipelined Redis round trip.
   */
  watchersOf(conversationId: number, candidates: readonly number[]): Promise<number[]>;
  close(): Promise<void>;
}

/** Typing indicators with expiry (MessageService's TypingIndicators, and stopping their timers at shutdown). */
export interface TypingState {
  start(conversationId: number, userId: number): void;
  stop(conversationId: number, userId: number): void;
  close(): void;
}

/** The shared live state createServices is given (built by src/realtime/state/index.ts createLiveState). */
export interface LiveState {
  presence: PresenceTracker;
  typing: TypingState;
  watchers: WatcherRegistry;
  /** Rate limits (memory, or Redis shared by instances). */
  limits: RateLimiter;
}
