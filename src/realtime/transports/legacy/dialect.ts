import type { Attachment } from '../../../domain/attachment/attachment.entity';
import type { Scope } from '../../../domain/shared/actor';
import { DomainError } from '../../../domain/shared/errors';
import type { EventOf } from '../../../domain/shared/events';
import type { UserRecord } from '../../../domain/user/user-cache';
import type { Services } from '../../../services';
import type { Viewer } from '../../state/live-registry';
import type { Narrowing } from '../../delivery/audiences';

/** The seeds whose WebSocket dialects are served at `/ws/chat/<x>/`. */
export type DialectName = '000' | '003' | '004';

/** Every seed dialect of the legacy sockets: the three at `/ws/chat/<x>/` and seed 002 on Socket.IO (`/socket.io/`). */
export type SeedName = DialectName | '002';

/** The event types legacy sockets are fed from the delivery hub (all conversation-scoped but presence). */
export type StreamType = 'message.added' | 'message.edited' | 'message.deleted' | 'typing' | 'read.receipt' | 'presence';

/** What a renderer may read while making one event's frame (the event's shared loaders). */
export interface RenderTools {
  /** A user by id, from the instance's user cache (null when there is none). */
  user(id: number | null | undefined): Promise<UserRecord | null>;
  /** A message's attachments, oldest first (the event's loaders). */
  attachments(messageId: number): Promise<Attachment[]>;
  /** The URL of an attachment's file: an external link's own, else this server's signed URL (a path unless PUBLIC_URL is set). */
  fileUrl(a: Attachment): string;
  /** A user's avatar URL (UserService.avatarUrlsOf: signed, a path unless PUBLIC_URL is set), or null (issue 18). */
  avatarUrl(u: UserRecord): string | null;
  /** The customer of a SUPPORT thread (seed 002's `customer_id`), null for other conversations: one query per thread, then memory. */
  supportCustomer(conversationId: number): Promise<number | null>;
}

/**
 * One kind of server frame: the bus events it comes from, its shape, and the narrowing the seed
 * asks for. Who receives it is the event's audience rule (realtime/audiences.ts: readers of the
 * socket's conversation; typing never one's own nor across a block), narrowed by `narrowing`.
 */
export interface Stream<T extends StreamType = StreamType> {
  type: T;
  narrowing?: Narrowing;
  /** The frame for one event (made once per event for every socket of the dialect); null sends nothing. */
  render(event: EventOf<T>, tools: RenderTools): Promise<object | null> | object | null;
}

/** Declares a {@link Stream} (keeps the event type of `render` tied to `type`). */
export function stream<T extends StreamType>(s: Stream<T>): Stream {
  return s as unknown as Stream;
}

/**
 * One socket of a seed dialect as the dialect sees it (the legacy WebSocket dialects and Socket.IO
 * alike; implemented by the session core, legacy/session-core.ts): authenticated as `viewer`.
 */
export interface SeedConnection {
  /** The socket's user (rights as of now, shared with their other sockets on this instance). */
  readonly viewer: Viewer;
  readonly services: Services;
  /** A scope for one domain call (a fresh EntityManager fork). */
  scope(): Scope;
  /** Sends one frame (`{type, ...}`, encoded by the transport), never waiting for the network. */
  send(frame: object): void;
  /**
   * Whether a `typing: true` from this socket should reach the domain now: at most one a second
   * (TYPING_REFRESH_MS; the domain publishes refreshes at most that often anyway), so a client
   * sending one per keystroke costs one access check a second, not one per key. `false` always may.
   * Asks only: {@link typingSent} records.
   */
  typingAllowed(isTyping: boolean): boolean;
  /** Records that a typing state reached the domain (`true` starts the second, `false` ends it). */
  typingSent(isTyping: boolean): void;
  /** {@link typingAllowed}, recorded at once with {@link typingSent} when it is (the WebSocket dialects' rule). */
  typingDue(isTyping: boolean): boolean;
}

/** One legacy WebSocket (`/ws/chat/<x>/`) as a dialect sees it: bound to one conversation. */
export interface LegacyConnection extends SeedConnection {
  readonly dialect: DialectName;
  readonly conversationId: number;
  /** Seed 000: the other member of the DIRECT chat; null for the other dialects. */
  readonly peer: { id: number; username: string } | null;
  /** The Host the socket's upgrade request named (seed 003 file URLs on it under /media/ are this server's), if any. */
  readonly host: string | null;
  /** Users the socket's user blocked or is blocked by (memory after the first question). */
  blocked(): Promise<Set<number>>;
}

/** A client frame: a JSON object with a string `type`. */
export type ClientFrame = Record<string, unknown> & { type: string };

/** Why a client frame was refused: a contract code and a message a client may read (see {@link refusalOf}). */
export interface Refusal {
  /** BAD_USER_INPUT for an invalid frame, a DomainError's code, else INTERNAL_SERVER_ERROR. */
  code: string;
  message: string;
  /** The refused frame's `type` (Socket.IO: its event), null when it had none (invalid JSON). */
  type: string | null;
}

/**
 * One seed dialect: its server frames, what it says when the socket is ready, and its client
 * frames. `C` is the connection it is given: a {@link LegacyConnection} at `/ws/chat/<x>/`, a
 * {@link SeedConnection} on Socket.IO (seed 002). Frames are objects with a `type`; the transport
 * encodes them (JSON for the WebSocket dialects, an event named `type` for Socket.IO).
 */
export interface Dialect<C extends SeedConnection = LegacyConnection> {
  name: SeedName;
  streams: readonly Stream[];
  /** Called once the socket's subscriptions are registered (seed 003 `connection_established`, seed 000 the peer's status). */
  opened?(conn: C): void | Promise<void>;
  /**
   * Handles one client frame; an InvalidFrame or DomainError it throws (a refused send) goes to
   * {@link refuse}. Returns the answer where the transport acknowledges frames (Socket.IO's
   * acknowledgement callback), else nothing.
   */
  handle(conn: C, frame: ClientFrame): Promise<object | void>;
  /** Invalid JSON, an unknown type, a refused call: the seed's error frame where it has one, else nothing. */
  refuse(conn: C, refusal: Refusal): void;
  /** A member joined (`active`) or left the conversation: the seed's frame for it, if it has one (seed 003 `user_join`/`user_leave`). */
  membership?(user: UserRecord, active: boolean): object | null;
}

/** The message of an error a client may read (a DomainError's), else a generic one. */
export function publicMessage(err: unknown): string {
  return err instanceof DomainError ? err.message : 'Internal server error';
}

/** An id given in a frame: a positive integer or a string of digits; else undefined. */
export function idIn(value: unknown): string | undefined {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value > 0) return String(value);
  if (typeof value === 'string' && /^\d{1,15}$/.test(value)) return value;
  return undefined;
}

/** Thrown by a handler for a client frame that does not make sense (seed 003 answers it with `error`). */
export class InvalidFrame extends Error {}

/** The {@link Refusal} of an error thrown while handling a frame of type `type` (internals never show: "Internal server error"). */
export function refusalOf(err: unknown, type: string | null): Refusal {
  if (err instanceof InvalidFrame) return { code: 'BAD_USER_INPUT', message: err.message, type };
  if (err instanceof DomainError) return { code: err.code, message: err.message, type };
  return { code: 'INTERNAL_SERVER_ERROR', message: publicMessage(err), type };
}

/** Text given in a frame: the string, or an InvalidFrame naming the field. */
export function textIn(frame: ClientFrame, field: string): string {
  const v = frame[field];
  if (typeof v !== 'string') throw new InvalidFrame(`${field} must be a string`);
  return v;
}
