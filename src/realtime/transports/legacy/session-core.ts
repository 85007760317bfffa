import type { Scope } from '../../../domain/shared/actor';
import type { DomainEvent } from '../../../domain/shared/events';
import type { TransportDeps } from '../../deps';
import type { AudienceSpec } from '../../delivery/audiences';
import { DELIVERY_QUERY, type EventScope, type FrameRenderer } from '../../delivery/hub';
import type { Viewer } from '../../state/live-registry';
import { TYPING_REFRESH_MS } from '../../state/typing';
import { CloseCode, OPEN, truncateReason, type GateSocket } from '../sockets';
import type { SeedConnection, Stream } from './dialect';

/** How many client frames a session may have waiting (see {@link SessionCore.receive}). */
export interface SessionLimits {
  /** Past this many waiting frames the socket is closed with 1008 (POLICY). */
  maxWaiting: number;
  /** From this many waiting frames the socket stops reading (TCP back-pressure, {@link SessionCore.flow}) until fewer than half wait; unset: never. */
  pauseAt?: number;
  /** The close reason when {@link maxWaiting} is passed. */
  overflowReason: string;
}

/**
 * The session core of one legacy socket, shared by the seeds' WebSocket dialects
 * (legacy/router.ts) and seed 002's Socket.IO (legacy/socketio.ts); each adapter subclasses it and
 * keeps only its framing (how a frame is read, encoded, answered):
 * - **frame queue and pump**: client frames (`F`: raw data, a Socket.IO event) wait in order and
 *   are handled one at a time ({@link process}) once the session is ready ({@link markReady});
 *   past {@link SessionLimits.maxWaiting} the socket is closed (1008), from `pauseAt` it stops
 *   reading until fewer than half wait;
 * - **typing throttle**: at most one `typing: true` a second (TYPING_REFRESH_MS) reaches the domain;
 * - **subscriptions**: the socket's streams registered with the delivery hub as topic + audience
 *   (delivery/audiences.ts decides who receives), written through the gate's bounded sends
 *   (WS_MAX_BUFFERED_BYTES, WS_MAX_QUEUED_EVENTS: 4507), ended by {@link stop};
 * - a {@link Scope} per domain call.
 */
export abstract class SessionCore<S extends GateSocket, F> implements SeedConnection {
  /** The socket's user (set once admitted). */
  viewer!: Viewer;
  readonly services: TransportDeps['services'];
  private readonly waiting: F[] = [];
  private busy = false;
  private ready = false;
  private stopped = false;
  private lastTyping = 0;
  private readonly offs: (() => void)[] = [];

  constructor(
    protected readonly deps: TransportDeps,
    readonly socket: S,
    private readonly limits: SessionLimits,
  ) {
    this.services = deps.services;
  }

  /** Handles one client frame (never throws for a refused or invalid frame: the adapter answers it as its protocol does). */
  protected abstract process(frame: F): Promise<void>;

  /** Sends one server frame (`{type, ...}`) in the adapter's encoding. */
  abstract send(frame: object): void;

  /** A scope for one domain call: the viewer's actor and a fresh EntityManager fork. */
  scope(): Scope {
    return { actor: this.viewer.actor, em: this.deps.rootEm.fork() };
  }

  typingAllowed(isTyping: boolean): boolean {
    return !isTyping || Date.now() - this.lastTyping >= TYPING_REFRESH_MS;
  }

  typingSent(isTyping: boolean): void {
    this.lastTyping = isTyping ? Date.now() : 0;
  }

  typingDue(isTyping: boolean): boolean {
    if (!this.typingAllowed(isTyping)) return false;
    this.typingSent(isTyping);
    return true;
  }

  /** Closes the socket with a CloseCode and a reason (cut to a close reason's size), unless it is closing already. */
  close(code: number, reason: string): void {
    if (this.socket.readyState === OPEN || this.socket.readyState === 0) this.socket.close(code, truncateReason(reason));
  }

  /** A client frame arrived: it waits its turn (frames are handled one at a time, in order). */
  receive(frame: F): void {
    if (!this.accepting()) return;
    if (this.waiting.length >= this.limits.maxWaiting) {
      this.close(CloseCode.POLICY, this.limits.overflowReason);
      return;
    }
    this.waiting.push(frame);
    if (this.limits.pauseAt !== undefined && this.waiting.length >= this.limits.pauseAt) this.flow(false);
    void this.pump();
  }

  /** Whether client frames are still taken and handled (until {@link stop}; an adapter may end it sooner). */
  protected accepting(): boolean {
    return !this.stopped;
  }

  /** Back-pressure: stop (`false`) or resume (`true`) reading from the socket. Nothing by default (a transport that cannot pause). */
  protected flow(_reading: boolean): void {}

  /** Whether frames are handled now ({@link markReady}, until {@link stop}). */
  protected get isReady(): boolean {
    return this.ready;
  }

  /** From now on frames are handled (those that arrive; {@link drain} handles those that waited). */
  protected markReady(): void {
    this.ready = true;
  }

  /** Handles the frames that waited, in order (nothing before {@link markReady}). */
  protected drain(): void {
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.busy || !this.ready) return;
    this.busy = true;
    try {
      while (this.waiting.length && this.accepting()) {
        const frame = this.waiting.shift()!;
        if (this.limits.pauseAt !== undefined && this.waiting.length < this.limits.pauseAt / 2) this.flow(true);
        await this.process(frame);
      }
    } finally {
      this.busy = false;
    }
  }

  /**
   * Registers one stream with the hub for this socket: its topic and its audience, as data
   * (delivery/audiences.ts decides who receives); each frame goes through the gate's bounded send.
   */
  protected follow(topic: string, renderer: FrameRenderer, audience: AudienceSpec): void {
    const { gate, hub } = this.deps;
    this.offs.push(
      hub.subscribeFrames({
        topic,
        actor: this.viewer.actor,
        renderer,
        audience,
        write: (frame) => gate.send(this.socket, frame),
        onOverflow: () => gate.closeTooFarBehind(this.socket, 'Too far behind: reconnect and catch up'),
      }),
    );
  }

  /** The socket closed: ends its subscriptions and drops the frames that waited. Returns false when it had stopped already. */
  protected stop(): boolean {
    if (this.stopped) return false;
    this.stopped = true;
    this.ready = false;
    this.waiting.length = 0;
    for (const off of this.offs.splice(0)) off();
    return true;
  }
}

/**
 * The hub's renderers of a dialect's streams, one per stream, shared by every socket of the
 * dialect: each event is rendered once per renderer (key `<keyPrefix>:<event type>`, e.g.
 * `legacy:003:typing`) and `encode`d once (a frame object → the bytes every subscriber is sent).
 * A render reads through the event's scope (RenderTools); null sends nothing.
 */
export function frameRenderers(
  deps: TransportDeps,
  dialect: { streams: readonly Stream[] },
  keyPrefix: string,
  encode: (frame: object) => string,
): Map<Stream, FrameRenderer> {
  const { services, rootEm } = deps;
  /** SUPPORT threads' customers (they never change): one query per thread, then memory. */
  const customers = new Map<number, number | null>();
  const supportCustomer = async (conversationId: number): Promise<number | null> => {
    if (customers.has(conversationId)) return customers.get(conversationId)!;
    const [row] = await rootEm
      .fork()
      .execute<{ customer_id: number | null }[]>('select "customer_id" from "conversations" where "id" = ?', [conversationId], 'all', DELIVERY_QUERY);
    if (customers.size >= 100_000) customers.clear();
    customers.set(conversationId, row?.customer_id ?? null);
    return row?.customer_id ?? null;
  };
  const renderers = new Map<Stream, FrameRenderer>();
  for (const s of dialect.streams) {
    renderers.set(s, {
      key: `${keyPrefix}:${s.type}`,
      render: async (e: DomainEvent, scope: EventScope) => {
        const frame = await s.render(e as never, {
          user: async (id) => (id == null ? null : deps.userOf(scope, id)),
          attachments: (messageId) => deps.attachmentsOf(scope, messageId),
          fileUrl: (a) => services.attachments.fileUrlOf(a),
          avatarUrl: (u) => services.users.avatarUrlsOf(u).url,
          supportCustomer,
        });
        return frame ? encode(frame) : null;
      },
    });
  }
  return renderers;
}
