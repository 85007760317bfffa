import { Arg, Ctx, FieldResolver, ID, Resolver, Root, Subscription } from 'type-graphql';
import { badInput, parseId } from '../../domain/shared/errors';
import type { DomainEvent, EventOf } from '../../domain/shared/events';
import type { LiveSocket } from '../../realtime/live';
import { CLOSE_TOO_FAR_BEHIND } from '../../realtime/live';
import type { GraphQLContext } from '../context';
import { MessageType } from '../types/message.type';
import { UserType } from '../types/user.type';
import { userRecordOf } from '../../domain/user/user-cache';
import { NotificationType } from '../types/contact.type';
import { deliversReadReceipt, showsPresence } from '../../domain/user/user.policy';
import { MessageDeletedEventType, PresenceEventType, ReadReceiptEventType, TypingEventType } from '../types/payload.type';

type ConversationEventType = 'message.added' | 'message.edited' | 'message.deleted' | 'typing' | 'read.receipt';

/** The socket's realtime state. @throws BAD_USER_INPUT outside graphql-ws (subscriptions need a WebSocket). */
function liveOf(ctx: GraphQLContext): LiveSocket {
  if (!ctx.live) throw badInput('Subscriptions run over WebSocket (graphql-transport-ws) at /graphql');
  return ctx.live;
}

/**
 * Registers the subscriber with the hub, which writes each result (serialised once per group) as
 * a graphql-transport-ws `next` message; the returned stream is only the subscription's lifecycle.
 * A subscriber too far behind closes its socket (4507).
 */
function register(live: LiveSocket, topic: string, accept: (e: DomainEvent) => boolean | Promise<boolean>, onEnd?: () => void) {
  const prefix = `{"id":${JSON.stringify(live.operationId)},"type":"next","payload":`;
  return live.hub.subscribe({
    topic, actor: live.viewer.actor, operation: live.operation, accept, onEnd,
    write: (payload) => live.send(`${prefix}${payload}}`),
    onOverflow: () => live.close(CLOSE_TOO_FAR_BEHIND, 'Too far behind: reconnect and catch up'),
  });
}

/**
 * Events of one conversation (or, without `conversationId`, of every conversation the viewer
 * follows: their memberships, plus every SUPPORT thread for staff). Access is checked when the
 * subscription starts (NOT_FOUND otherwise) and for every event from the instance's live
 * audience (memory, kept current by membership, staff and block events), so a member removed,
 * banned or demoted mid-stream stops receiving at once. `messageAdded` streams register the
 * viewer as watching live (no MESSAGE notifications then).
 */
async function conversationEvents(
  ctx: GraphQLContext, type: ConversationEventType, conversationId: string | null | undefined, skip?: (e: DomainEvent) => boolean | Promise<boolean>,
) {
  const live = liveOf(ctx);
  const scope = ctx.scope();
  const { viewer, audience } = live;
  let id: number | undefined;
  if (conversationId != null) {
    const asked = parseId(conversationId, 'conversationId');
    if (viewer.member.get(asked) === true) {
      // Known from memory (events keep it current): an active member, no query.
      id = asked;
    } else {
      const before = viewer.version;
      const access = await ctx.services.conversationQueries.access(scope, asked);
      id = access.conversation.id;
      audience.noteMembership(viewer, id, access.membership != null, before);
    }
  } else {
    await audience.ensureComplete(viewer);
  }
  const allowed = (c: number) => (id != null ? audience.canRead(viewer, c) : audience.follows(viewer, c));
  const accept = !skip
    ? (e: DomainEvent) => allowed((e as { conversationId: number }).conversationId)
    : (e: DomainEvent) => {
      const ok = allowed((e as { conversationId: number }).conversationId);
      if (ok === false) return false;
      if (ok === true) return Promise.resolve(skip(e)).then((s) => !s);
      return ok.then((yes) => (yes ? Promise.resolve(skip(e)).then((s) => !s) : false));
    };
  const unwatch = type === 'message.added' ? ctx.services.watchers.watch(scope.actor.id, id ?? null) : undefined;
  return register(live, `${type}:${id ?? '*'}`, accept, unwatch);
}

/** Contract: the Subscription type, over graphql-ws. */
@Resolver()
export class SubscriptionResolver {
  @Subscription(() => MessageType, {
    description: 'conversationId omitted: every conversation the viewer belongs to (staff: and every SUPPORT conversation)',
    subscribe: ({ args, context }) => conversationEvents(context, 'message.added', args.conversationId),
  })
  messageAdded(@Root() e: EventOf<'message.added'>, @Arg('conversationId', () => ID, { nullable: true }) _conversationId?: string) {
    return e.message;
  }

  @Subscription(() => MessageType, {
    subscribe: ({ args, context }) => conversationEvents(context, 'message.edited', args.conversationId),
  })
  messageEdited(@Root() e: EventOf<'message.edited'>, @Arg('conversationId', () => ID, { nullable: true }) _conversationId?: string) {
    return e.message;
  }

  @Subscription(() => MessageDeletedEventType, {
    subscribe: ({ args, context }) => conversationEvents(context, 'message.deleted', args.conversationId),
  })
  messageDeleted(@Root() e: EventOf<'message.deleted'>, @Arg('conversationId', () => ID, { nullable: true }) _conversationId?: string): MessageDeletedEventType {
    return { conversationId: e.conversationId, messageId: e.message.id, seq: e.message.seq, deletedAt: e.message.deletedAt! };
  }

  @Subscription(() => TypingEventType, {
    description: 'Not the viewer\'s own, nor of users blocked either way; isTyping=false comes by itself 5 s after the last refresh',
    subscribe: ({ args, context }) => {
      const ctx = context as GraphQLContext;
      const live = liveOf(ctx);
      const me = live.viewer.actor.id;
      return conversationEvents(ctx, 'typing', args.conversationId, (e) => {
        const from = (e as EventOf<'typing'>).userId;
        if (from === me) return true;
        return live.audience.blockedIds(live.viewer).then((b) => b.has(from));
      });
    },
  })
  typing(@Root() e: EventOf<'typing'>, @Arg('conversationId', () => ID) _conversationId: string) {
    return e;
  }

  @Subscription(() => ReadReceiptEventType, {
    description: "Not of readers who turned privacy.sendReadReceipts off (their own sessions still get theirs)",
    subscribe: ({ args, context }) => {
      const ctx = context as GraphQLContext;
      const me = liveOf(ctx).viewer.actor.id;
      const { userCache } = ctx.services;
      // Issue 27 §5: the reader's sendReadReceipts, from the user cache (dropped on every instance by updatePrivacy).
      return conversationEvents(ctx, 'read.receipt', args.conversationId, async (e) => {
        const from = (e as EventOf<'read.receipt'>).userId;
        if (from === me) return false;
        const reader = await userCache.get(ctx.em, from);
        ctx.release();
        return !reader || !deliversReadReceipt(me, reader);
      });
    },
  })
  readReceipt(@Root() e: EventOf<'read.receipt'>, @Arg('conversationId', () => ID) _conversationId: string) {
    return e;
  }

  @Subscription(() => PresenceEventType, {
    description: "userIds omitted: the viewer's contacts and co-members. Never users blocked either way. At most WS_MAX_PRESENCE_IDS (default 1000) ids, and WS_MAX_PRESENCE_IDS_PER_SOCKET (default 5000) in all presence and userUpdated subscriptions of a socket",
    subscribe: async ({ args, context }) => {
      const ctx = context as GraphQLContext;
      const live = liveOf(ctx);
      const ids = idsArg(live, args.userIds);
      const release = live.holdUserIds(ids?.size ?? 0);
      const users = await liveUsers(ctx, live, ids ? { wanted: ids, related: true } : {}).catch((err: unknown) => { release(); throw err; });
      const { userCache } = ctx.services;
      // Each user's privacy.presenceVisibility (issue 27 §5), from the user cache (dropped on every instance by updatePrivacy).
      const visible = async (userId: number) => {
        const target = await userCache.get(ctx.em, userId);
        ctx.release();
        return Boolean(target) && showsPresence(live.viewer.actor.id, target!, { related: await users.related(userId), blocked: false });
      };
      const accept = (e: DomainEvent) => {
        const userId = (e as EventOf<'presence'>).userId;
        const shown = users.shows(userId);
        return shown instanceof Promise ? shown.then((ok) => ok && visible(userId)) : shown && visible(userId);
      };
      return register(live, 'presence', accept, () => { users.off?.(); release(); });
    },
  })
  presence(@Root() e: EventOf<'presence'>, @Arg('userIds', () => [ID], { nullable: true }) _userIds?: string[]) {
    return e;
  }

  @Subscription(() => NotificationType, {
    description: "The viewer's new notifications",
    subscribe: ({ context }) => {
      const live = liveOf(context as GraphQLContext);
      return register(live, `notification.added:${live.viewer.actor.id}`, () => true);
    },
  })
  notificationAdded(@Root() e: EventOf<'notification.added'>) {
    return e.notification;
  }

  @Subscription(() => UserType, {
    description: "Profile changes (updateProfile, setAvatar, removeAvatar, setUserStaff) of the viewer and of their contacts and co-members, never of users blocked either way; userIds narrows them to those users (at most WS_MAX_PRESENCE_IDS ids)",
    subscribe: async ({ args, context }) => {
      const ctx = context as GraphQLContext;
      const live = liveOf(ctx);
      const ids = idsArg(live, args.userIds);
      const release = live.holdUserIds(ids?.size ?? 0);
      const users = await liveUsers(ctx, live, { only: ids, self: true }).catch((err: unknown) => { release(); throw err; });
      return register(live, 'user.updated', (e) => users.shows((e as EventOf<'user.changed'>).userId), () => { users.off?.(); release(); });
    },
  })
  userUpdated(@Root() e: EventOf<'user.changed'>, @Arg('userIds', () => [ID], { nullable: true }) _userIds?: string[]) {
    // Executed outside graphql-ws (a subscription document POSTed over HTTP), there is no event.
    if (!e?.user) throw badInput('Subscriptions run over WebSocket (graphql-transport-ws) at /graphql');
    // The row as committed, carried by the event: rendering reads nothing from the database.
    return userRecordOf(e.user);
  }
}

/** The `userIds` argument of presence and userUpdated as ids (null when omitted or empty). @throws BAD_USER_INPUT past WS_MAX_PRESENCE_IDS. */
function idsArg(live: LiveSocket, raw: unknown): Set<number> | null {
  const ids = (raw as string[] | null | undefined) ?? [];
  if (ids.length > live.maxPresenceIds) throw badInput(`userIds may list at most ${live.maxPresenceIds} users`, 'userIds');
  return ids.length ? new Set(ids.map(Number).filter((n) => Number.isSafeInteger(n))) : null;
}

/**
 * Which users' events a presence or userUpdated subscriber gets, answered from memory per event:
 * `wanted` (presence's explicit ids) or else the viewer's presence audience (contacts and
 * co-members, ConversationQueries.presenceAudience), kept current while the subscription lives
 * (a new co-member, the viewer joining a conversation, a contact accepted: reloaded at the next
 * event); then narrowed
 * to `only` when given; never a user blocked either way (reloaded after a block changes); plus
 * the viewer themselves when `self`. `off` stops the tracking.
 */
async function liveUsers(ctx: GraphQLContext, live: LiveSocket, opts: { wanted?: Set<number>; only?: Set<number> | null; self?: boolean; related?: boolean }) {
  const scope = ctx.scope();
  const { viewer, audience } = live;
  const { conversationQueries: conversations, bus } = ctx.services;
  // The audience (contacts and co-members) is kept when it decides who is shown, or asked for (`related`: presence rules).
  const tracked = !opts.wanted || opts.related === true;
  // Listening starts before the audience is read: a contact accepted or a member joining while it
  // loads marks it stale (reloaded at the next event) instead of being missed.
  let audienceStale = false;
  const me = viewer.actor.id;
  const offMembers = !tracked ? undefined : bus.on('membership.changed', (e) => {
    if (e.type === 'membership.changed' && e.active && (e.userId === me || viewer.member.get(e.conversationId) === true)) audienceStale = true;
  });
  // A contact accepted while the subscription lives (contactRequest answered, a DIRECT chat opened).
  const offContacts = !tracked ? undefined : bus.on('contact.changed', (e) => {
    if (e.type === 'contact.changed' && e.connected && e.userIds.includes(me)) audienceStale = true;
  });
  const off = !tracked ? undefined : () => { offMembers!(); offContacts!(); };
  let wanted: Set<number>;
  let audienceIds = new Set<number>();
  let blockedFrom: Promise<Set<number>>;
  let blocked: Set<number>;
  try {
    if (tracked) audienceIds = await conversations.presenceAudience(scope);
    wanted = opts.wanted ?? audienceIds;
    if (tracked) await audience.ensureComplete(viewer);
    blockedFrom = audience.blockedIds(viewer);
    blocked = await blockedFrom;
  } catch (err) {
    off?.();
    throw err;
  }
  ctx.release();
  let reloading: Promise<void> | null = null;
  const reload = async () => {
    if (audienceStale) {
      audienceStale = false;
      audienceIds = await conversations.presenceAudience({ actor: viewer.actor, em: ctx.em });
      wanted = opts.wanted ?? audienceIds;
      ctx.release();
    }
    blockedFrom = audience.blockedIds(viewer);
    blocked = await blockedFrom;
  };
  const shown = (userId: number) => (!opts.only || opts.only.has(userId))
    && ((opts.self === true && userId === me) || (wanted.has(userId) && !blocked.has(userId)));
  return {
    off,
    shows(userId: number): boolean | Promise<boolean> {
      // Steady state: both sets in memory.
      if (!audienceStale && viewer.blocked === blockedFrom) return shown(userId);
      reloading ??= reload().finally(() => { reloading = null; });
      return reloading.then(() => shown(userId));
    },
    /** Whether `userId` is one of the viewer's contacts or co-members now (only with `related` or without `wanted`). */
    related(userId: number): boolean | Promise<boolean> {
      if (!audienceStale) return audienceIds.has(userId);
      reloading ??= reload().finally(() => { reloading = null; });
      return reloading.then(() => audienceIds.has(userId));
    },
  };
}

/** `user` of TypingEvent, PresenceEvent and ReadReceiptEvent, from the event's userId. */
function eventUserResolver(type: Function) {
  @Resolver(() => type)
  class EventUserResolver {
    @FieldResolver(() => UserType)
    user(@Root() e: { userId: number }, @Ctx() ctx: GraphQLContext) {
      return ctx.loaders.user.load(e.userId);
    }
  }
  return EventUserResolver;
}

export const TypingEventResolver = eventUserResolver(TypingEventType);
export const PresenceEventResolver = eventUserResolver(PresenceEventType);
export const ReadReceiptEventResolver = eventUserResolver(ReadReceiptEventType);
