import { ConversationKind } from '../../domain/conversation/conversation.entity';
import { deliversReadReceipt, showsPresence } from '../../domain/user/user.policy';
import type { Scope } from '../../domain/shared/actor';
import type { DomainEvent } from '../../domain/shared/events';
import type { AudienceRegistry, Viewer } from '../state/live-registry';
import type { EventBus } from '../state/event-bus';

/**
 * Who receives a live event: the realtime counterpart of conversation.policy.ts (issue 29). Every
 * transport (graphql-ws, the legacy WebSocket dialects, Socket.IO) declares what a subscription
 * follows as data ({@link AudienceSpec}); the delivery hub asks {@link mayReceive} for each event
 * and subscriber. The rules, one case per delivered event type:
 *
 * | event | receives it |
 * |---|---|
 * | message.added / edited / deleted / updated | readers of the conversation (staff, or an active member); "every conversation": those who follow it by default (followsByDefault); a `timelineOnly` subscriber (the legacy sockets) never a reply shown only in its thread (issue 32) |
 * | typing | readers, never the typist themselves, never across a block (either way); "every conversation" (typing without conversationId, issue 32): as for messages |
 * | read.receipt | readers, while the reader sends read receipts (privacy, user.policy.ts deliversReadReceipt; their own sessions always; `othersOnly`: not the reader themselves), never across a block (issue 32: seen-by hides them too); "every conversation" (readReceipt without conversationId): as for messages, so one's own reach only one's own other sessions |
 * | presence | the watched users (GraphQL: asked ids or the presence audience, never across a block); `peerOnly`: the DIRECT chat's other user, when a reader and not blocked; either way as the user's privacy.presenceVisibility allows (user.policy.ts showsPresence) |
 * | user.changed (with its row) | the watched users, plus oneself with `self` |
 * | notification.added | its recipient |
 *
 * Facts come from the live registry ({@link AudienceRegistry}: memberships, staff, blocks, kinds),
 * so in the steady state every answer is a lookup in memory; the first question about something
 * the registry has not seen costs one query (a promise).
 */

/** A small narrowing a seed asks for, on top of the event's rule. */
export type Narrowing =
  /** Not the event's own user (seed 000's read receipts: one's own are not echoed). */
  | 'othersOnly'
  /** Only the socket's peer (seed 000's `status`: the DIRECT chat's other user). */
  | 'peerOnly'
  /** Only SUPPORT threads (seed 002's Socket.IO follows the support desk, nothing else). */
  | 'supportOnly';

/**
 * What one subscription follows, declared by its transport as data (no closures): its viewer,
 * the one conversation it is bound to (or null: every conversation the viewer follows), the
 * users it watches (presence, userUpdated), and a seed's {@link Narrowing}.
 */
export interface AudienceSpec {
  /** The subscriber (rights as of now, shared by the user's sockets on this instance). */
  viewer: Viewer;
  /** The conversation the subscription is bound to; null or absent: every conversation the viewer follows. */
  conversationId?: number | null;
  /** presence and userUpdated: whose events (see {@link WatchedUsers}). */
  users?: WatchedUsers;
  /** Seed 000's peer (`peerOnly`). */
  peerId?: number | null;
  narrowing?: Narrowing;
  /**
   * Issue 32: the subscriber shows only the main timeline (the seeds' legacy sockets know no
   * threads): message events of replies shown only in their thread do not reach it.
   */
  timelineOnly?: boolean;
}

/**
 * The conversations whose message changes this instance's subscribers may receive (what a replay
 * after a bus outage reads back, replay.ts): those subscribed by id, every active membership of
 * the "every conversation" subscribers, and every SUPPORT thread when one of them is staff
 * (followsByDefault). Loads memberships not yet complete (one query per such viewer).
 */
export async function followedBy(
  registry: AudienceRegistry,
  interest: { conversations: Set<number>; followers: readonly { id: number }[] },
): Promise<{ conversations: Set<number>; supportThreads: boolean }> {
  const conversations = new Set(interest.conversations);
  let supportThreads = false;
  for (const actor of interest.followers) {
    const viewer = registry.viewerOf(actor.id);
    if (!viewer) continue;
    await registry.ensureComplete(viewer);
    for (const [c, member] of viewer.member) if (member) conversations.add(c);
    if (viewer.actor.isStaff) supportThreads = true;
  }
  return { conversations, supportThreads };
}

/** A boolean, or a promise of one, combined with a further check only when it is true. */
export function and(first: boolean | Promise<boolean>, next: () => boolean | Promise<boolean>): boolean | Promise<boolean> {
  if (first === false) return false;
  if (first === true) return next();
  return first.then((ok) => (ok ? next() : false));
}

/**
 * Whether the subscriber declared by `spec` receives event `e` now (the table above).
 * @returns a boolean from memory in the steady state; a promise when a fact must be read once.
 */
export function mayReceive(registry: AudienceRegistry, spec: AudienceSpec, e: DomainEvent): boolean | Promise<boolean> {
  const me = spec.viewer.actor.id;
  switch (e.type) {
    case 'message.added':
    case 'message.edited':
    case 'message.deleted':
    case 'message.updated':
      if (spec.timelineOnly && e.message.threadOnly) return false;
      return reads(registry, spec, e.conversationId);
    case 'typing':
      if (e.userId === me) return false;
      return and(reads(registry, spec, e.conversationId), () => notBlocked(registry, spec.viewer, e.userId));
    case 'read.receipt': {
      if (e.userId === me) return spec.narrowing === 'othersOnly' ? false : reads(registry, spec, e.conversationId);
      const reader = e.userId;
      // Issue 27 §5: the reader's sendReadReceipts, from the user cache (dropped on every instance by updatePrivacy).
      return and(
        and(reads(registry, spec, e.conversationId), () => notBlocked(registry, spec.viewer, reader)),
        () => registry.userRecord(reader).then((u) => Boolean(u) && deliversReadReceipt(me, u!)),
      );
    }
    case 'presence': {
      const userId = e.userId;
      const users = spec.users;
      if (users) return and(users.shows(userId), () => presenceVisible(registry, me, userId, users.related(userId)));
      if (spec.narrowing !== 'peerOnly' || userId !== spec.peerId || spec.conversationId == null) return false;
      // The peer is a co-member of the DIRECT chat: related.
      return and(
        and(reads(registry, spec, spec.conversationId), () => notBlocked(registry, spec.viewer, userId)),
        () => presenceVisible(registry, me, userId, true),
      );
    }
    case 'user.changed':
      return spec.users ? spec.users.shows(e.userId) : false;
    case 'notification.added':
      return e.recipientId === me;
    default:
      return false;
  }
}

/**
 * Does the subscriber read this conversation's events now: bound to it, staff or an active
 * member (canReadContent); following "every conversation", followsByDefault (with
 * `supportOnly`, SUPPORT threads only).
 */
function reads(registry: AudienceRegistry, spec: AudienceSpec, conversationId: number): boolean | Promise<boolean> {
  if (spec.conversationId != null) return registry.canRead(spec.viewer, conversationId);
  if (spec.narrowing === 'supportOnly') return and(isSupport(registry, conversationId), () => registry.follows(spec.viewer, conversationId));
  return registry.follows(spec.viewer, conversationId);
}

function isSupport(registry: AudienceRegistry, conversationId: number): boolean | Promise<boolean> {
  const k = registry.conversationKind(conversationId);
  return k instanceof Promise ? k.then((kind) => kind === ConversationKind.SUPPORT) : k === ConversationKind.SUPPORT;
}

/**
 * Whether `viewerId` may see `userId`'s presence by the user's privacy.presenceVisibility
 * (issue 27 §5, user.policy.ts showsPresence), the user read from the user cache.
 */
async function presenceVisible(registry: AudienceRegistry, viewerId: number, userId: number, related: boolean | Promise<boolean>): Promise<boolean> {
  const target = await registry.userRecord(userId);
  return Boolean(target) && showsPresence(viewerId, target!, { related: await related, blocked: false });
}

/** Neither blocked the other (memory after the first question). */
function notBlocked(registry: AudienceRegistry, viewer: Viewer, userId: number): boolean | Promise<boolean> {
  const known = registry.blockedNow(viewer);
  if (known) return !known.has(userId);
  return registry.blockedIds(viewer).then((b) => !b.has(userId));
}

/** What a presence or userUpdated subscription watches. */
export interface WatchedUsersOptions {
  /** presence(userIds:): exactly these users (never across a block). Absent: the viewer's presence audience, kept current. */
  wanted?: Set<number> | null;
  /** userUpdated(userIds:): narrows to these users. */
  only?: Set<number> | null;
  /** userUpdated: the viewer's own changes too. */
  self?: boolean;
  /** Keep the presence audience (contacts and co-members) for {@link WatchedUsers.related} even with `wanted` (presence rules). */
  related?: boolean;
}

/**
 * The users a presence or userUpdated subscriber hears about, answered from memory per event:
 * `wanted` or else the viewer's presence audience (contacts and co-members,
 * ConversationQueries.presenceAudience), kept current while the subscription lives (a new
 * co-member, the viewer joining a conversation, a contact accepted: reloaded at the next event);
 * then narrowed to `only` when given; never a user blocked either way (reloaded after a block
 * changes); plus the viewer themselves with `self`. {@link stop} ends the tracking.
 */
export class WatchedUsers {
  private wanted: Set<number> = new Set();
  /** The viewer's presence audience (contacts and co-members), when tracked. */
  private audienceIds: Set<number> = new Set();
  private blocked: Set<number> = new Set();
  private blockedFrom?: Promise<Set<number>>;
  private audienceStale = false;
  private reloading: Promise<void> | null = null;
  private readonly offs: (() => void)[] = [];

  private constructor(
    private readonly registry: AudienceRegistry,
    private readonly viewer: Viewer,
    private readonly opts: WatchedUsersOptions,
    private readonly loadAudience: (scope: Scope) => Promise<Set<number>>,
    private readonly newScope: () => Scope,
  ) {}

  /**
   * Starts watching for `viewer`: listens to membership and contact changes first (a change while
   * the audience loads marks it stale instead of being missed), then loads it and the blocks.
   * `loadAudience` is ConversationQueries.presenceAudience; `scope` serves the first load,
   * `newScope` the reloads. @throws what the loads throw (the tracking is stopped then).
   */
  static async start(
    registry: AudienceRegistry,
    bus: EventBus,
    viewer: Viewer,
    opts: WatchedUsersOptions,
    loadAudience: (scope: Scope) => Promise<Set<number>>,
    scope: Scope,
    newScope: () => Scope,
  ): Promise<WatchedUsers> {
    const w = new WatchedUsers(registry, viewer, opts, loadAudience, newScope);
    const me = viewer.actor.id;
    if (w.tracked) {
      w.offs.push(
        bus.on('membership.changed', (e) => {
          if (e.type === 'membership.changed' && e.active && (e.userId === me || viewer.member.get(e.conversationId) === true)) w.audienceStale = true;
        }),
        // A contact accepted while the subscription lives (contactRequest answered, a DIRECT chat opened).
        bus.on('contact.changed', (e) => {
          if (e.type === 'contact.changed' && e.connected && e.userIds.includes(me)) w.audienceStale = true;
        }),
      );
    }
    try {
      if (w.tracked) w.audienceIds = await loadAudience(scope);
      w.wanted = opts.wanted ?? w.audienceIds;
      if (w.tracked) await registry.ensureComplete(viewer);
      w.blockedFrom = registry.blockedIds(viewer);
      w.blocked = await w.blockedFrom;
    } catch (err) {
      w.stop();
      throw err;
    }
    return w;
  }

  /** Whether events of `userId` reach the subscriber (memory in the steady state). */
  shows(userId: number): boolean | Promise<boolean> {
    if (!this.audienceStale && this.viewer.blocked === this.blockedFrom) return this.shown(userId);
    this.reloading ??= this.reload().finally(() => {
      this.reloading = null;
    });
    return this.reloading.then(() => this.shown(userId));
  }

  /** Whether `userId` is one of the viewer's contacts or co-members now (tracked: without `wanted`, or with `related`). */
  related(userId: number): boolean | Promise<boolean> {
    if (!this.audienceStale) return this.audienceIds.has(userId);
    this.reloading ??= this.reload().finally(() => {
      this.reloading = null;
    });
    return this.reloading.then(() => this.audienceIds.has(userId));
  }

  /** Whether the presence audience is loaded and kept current (it decides who is shown, or `related` asked for it). */
  private get tracked(): boolean {
    return !this.opts.wanted || this.opts.related === true;
  }

  /** Stops following membership and contact changes (the subscription ended). */
  stop(): void {
    for (const off of this.offs.splice(0)) off();
  }

  private shown(userId: number): boolean {
    const { only, self } = this.opts;
    return (!only || only.has(userId)) && ((self === true && userId === this.viewer.actor.id) || (this.wanted.has(userId) && !this.blocked.has(userId)));
  }

  private async reload(): Promise<void> {
    if (this.audienceStale) {
      this.audienceStale = false;
      this.audienceIds = await this.loadAudience(this.newScope());
      this.wanted = this.opts.wanted ?? this.audienceIds;
    }
    this.blockedFrom = this.registry.blockedIds(this.viewer);
    this.blocked = await this.blockedFrom;
  }
}
