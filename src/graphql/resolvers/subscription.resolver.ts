import { Arg, Ctx, FieldResolver, ID, Int, Resolver, Root, Subscription } from 'type-graphql';
import { badInput, parseId } from '../../domain/shared/errors';
import type { EventOf } from '../../domain/shared/events';
import { WatchedUsers, type AudienceSpec, type WatchedUsersOptions } from '../../realtime/delivery/audiences';
import { CLOSE_TOO_FAR_BEHIND, LiveContext, type LiveSocket } from '../../realtime/transports/live';
import type { GraphQLContext } from '../context';
import { MessageType } from '../types/message.type';
import { UserType } from '../types/user.type';
import { userRecordOf } from '../../domain/user/user-cache';
import { NotificationType } from '../types/contact.type';
import { MessageDeletedEventType, PresenceEventType, ReadReceiptEventType, TypingEventType } from '../types/payload.type';

type ConversationEventType = 'message.added' | 'message.edited' | 'message.deleted' | 'message.updated' | 'typing' | 'read.receipt';

/** The socket's realtime state. @throws BAD_USER_INPUT outside graphql-ws (subscriptions need a WebSocket). */
function liveOf(ctx: GraphQLContext): LiveSocket {
  if (!(ctx instanceof LiveContext)) throw badInput('Subscriptions run over WebSocket (graphql-transport-ws) at /graphql');
  return ctx.live;
}

/**
 * Registers the subscriber with the hub, which writes each result (serialised once per group) as
 * a graphql-transport-ws `next` message; the returned stream is only the subscription's lifecycle.
 * Who receives which event is the audience's (realtime/delivery/audiences.ts): the subscription declares
 * only its topic and audience. A subscriber too far behind closes its socket (4507).
 */
function register(live: LiveSocket, topic: string, audience: AudienceSpec, onEnd?: () => void) {
  const prefix = `{"id":${JSON.stringify(live.operationId)},"type":"next","payload":`;
  return live.hub.subscribe({
    topic,
    actor: live.viewer.actor,
    operation: live.operation,
    audience,
    onEnd,
    write: (payload) => live.sendShared(prefix, payload),
    onOverflow: () => live.close(CLOSE_TOO_FAR_BEHIND, 'Too far behind: reconnect and catch up'),
  });
}

/**
 * Events of one conversation (or, without `conversationId`, of every conversation the viewer
 * follows: their memberships, plus every SUPPORT thread for staff). Access is checked when the
 * subscription starts (NOT_FOUND otherwise) and for every event by the audience rules from the
 * instance's live registry (memory, kept current by membership, staff and block events), so a
 * member removed, banned or demoted mid-stream stops receiving at once. `messageAdded` streams
 * register the viewer as watching live (no MESSAGE notifications then).
 */
async function conversationEvents(ctx: GraphQLContext, type: ConversationEventType, conversationId: string | null | undefined) {
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
  const unwatch = type === 'message.added' ? ctx.services.watchers.watch(scope.actor.id, id ?? null) : undefined;
  return register(live, `${type}:${id ?? '*'}`, { viewer, conversationId: id ?? null }, unwatch);
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
  messageDeleted(
    @Root() e: EventOf<'message.deleted'>,
    @Arg('conversationId', () => ID, { nullable: true }) _conversationId?: string,
  ): MessageDeletedEventType {
    return { conversationId: e.conversationId, messageId: e.message.id, seq: e.message.seq, deletedAt: e.message.deletedAt! };
  }

  @Subscription(() => MessageType, {
    description:
      'Any change to what a message shows besides its creation (reactions, edits, deletion, attachments), once per change; the payload is the message as it is now. conversationId omitted: every conversation the viewer belongs to (staff: and every SUPPORT conversation)',
    subscribe: ({ args, context }) => conversationEvents(context, 'message.updated', args.conversationId),
  })
  messageUpdated(@Root() e: EventOf<'message.updated'>, @Arg('conversationId', () => ID, { nullable: true }) _conversationId?: string) {
    return e.message;
  }

  @Subscription(() => TypingEventType, {
    description:
      "conversationId omitted: every conversation the viewer belongs to (staff: and every SUPPORT conversation). Not the viewer's own, nor of users blocked either way; isTyping=false comes by itself 5 s after the last refresh",
    subscribe: ({ args, context }) => conversationEvents(context, 'typing', args.conversationId),
  })
  typing(@Root() e: EventOf<'typing'>, @Arg('conversationId', () => ID, { nullable: true }) _conversationId?: string) {
    return e;
  }

  @Subscription(() => ReadReceiptEventType, {
    description:
      'conversationId omitted: every conversation the viewer belongs to (staff: and every SUPPORT conversation). Not of readers who turned privacy.sendReadReceipts off (their own sessions still get theirs), nor of users blocked either way. A receipt moves the reader into Message.seenBy of every message up to lastReadSeq that is not their own',
    subscribe: ({ args, context }) => conversationEvents(context, 'read.receipt', args.conversationId),
  })
  readReceipt(@Root() e: EventOf<'read.receipt'>, @Arg('conversationId', () => ID, { nullable: true }) _conversationId?: string) {
    return e;
  }

  @Subscription(() => PresenceEventType, {
    description:
      "userIds omitted: the viewer's contacts and co-members. Never users blocked either way. At most WS_MAX_PRESENCE_IDS (default 1000) ids, and WS_MAX_PRESENCE_IDS_PER_SOCKET (default 5000) in all presence and userUpdated subscriptions of a socket",
    subscribe: async ({ args, context }) => {
      const ctx = context as GraphQLContext;
      const live = liveOf(ctx);
      const ids = idsArg(live, args.userIds);
      const release = live.holdUserIds(ids?.size ?? 0);
      // `related`: presence rules need the viewer's contacts and co-members even for asked ids.
      const users = await watchUsers(ctx, live, ids ? { wanted: ids, related: true } : {}).catch((err: unknown) => {
        release();
        throw err;
      });
      return register(live, 'presence', { viewer: live.viewer, users }, () => {
        users.stop();
        release();
      });
    },
  })
  presence(@Root() e: EventOf<'presence'>, @Arg('userIds', () => [ID], { nullable: true }) _userIds?: string[]) {
    return e;
  }

  @Subscription(() => NotificationType, {
    description: "The viewer's new notifications",
    subscribe: ({ context }) => {
      const live = liveOf(context as GraphQLContext);
      return register(live, `notification.added:${live.viewer.actor.id}`, { viewer: live.viewer });
    },
  })
  notificationAdded(@Root() e: EventOf<'notification.added'>) {
    return e.notification;
  }

  @Subscription(() => UserType, {
    description:
      'Profile changes (updateProfile, setAvatar, removeAvatar, setUserStaff) of the viewer and of their contacts and co-members, never of users blocked either way; userIds narrows them to those users (at most WS_MAX_PRESENCE_IDS ids)',
    subscribe: async ({ args, context }) => {
      const ctx = context as GraphQLContext;
      const live = liveOf(ctx);
      const ids = idsArg(live, args.userIds);
      const release = live.holdUserIds(ids?.size ?? 0);
      const users = await watchUsers(ctx, live, { only: ids, self: true }).catch((err: unknown) => {
        release();
        throw err;
      });
      return register(live, 'user.updated', { viewer: live.viewer, users }, () => {
        users.stop();
        release();
      });
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
 * The users a presence or userUpdated subscriber hears about ({@link WatchedUsers}): the first
 * load runs in the operation's scope, reloads (a new co-member, a contact accepted) in a fresh one.
 */
async function watchUsers(ctx: GraphQLContext, live: LiveSocket, opts: WatchedUsersOptions): Promise<WatchedUsers> {
  const { viewer, audience } = live;
  const { conversationQueries: conversations, bus } = ctx.services;
  const users = await WatchedUsers.start(
    audience,
    bus,
    viewer,
    opts,
    (scope) => conversations.presenceAudience(scope),
    ctx.scope(),
    // Each reload gets its own EntityManager; the context does not keep it (idle memory).
    () => {
      const em = ctx.em;
      ctx.release();
      return { actor: viewer.actor, em };
    },
  );
  ctx.release();
  return users;
}

/** `user` of TypingEvent, PresenceEvent and ReadReceiptEvent, from the event's userId. */
function eventUserResolver(type: abstract new (...args: never[]) => object) {
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

/** ReadReceiptEvent.coalescedCount (issue 32). */
@Resolver(() => ReadReceiptEventType)
export class ReadReceiptCoalescingResolver {
  @FieldResolver(() => Int, {
    description:
      'How many read receipts this event stands for: 1, or in a conversation above SEEN_BY_MAX_MEMBERS active members (issue 32) those of the last second, this one the newest (refetch seenCount)',
  })
  coalescedCount(@Root() e: { coalescedCount?: number }) {
    return e.coalescedCount ?? 1;
  }
}
