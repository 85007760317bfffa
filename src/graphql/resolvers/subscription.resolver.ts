import { Arg, Ctx, FieldResolver, ID, Resolver, Root, Subscription } from 'type-graphql';
import type { EventOf } from '../../domain/shared/events';
import { eventStream } from '../../realtime/event-bus';
import { filterStream } from '../../realtime/streams';
import type { GraphQLContext } from '../context';
import { MessageType } from '../types/message.type';
import { UserType } from '../types/user.type';
import { NotificationType } from '../types/contact.type';
import { MessageDeletedEventType, PresenceEventType, ReadReceiptEventType, TypingEventType } from '../types/payload.type';

type ConversationEventType = 'message.added' | 'message.edited' | 'message.deleted' | 'typing' | 'read.receipt';

/**
 * Events of one conversation (or, without `conversationId`, of every conversation the viewer
 * follows: their memberships, plus every SUPPORT thread for staff). Access is checked when the
 * subscription starts (NOT_FOUND otherwise) and for every event, so a member removed mid-stream
 * stops receiving. The per-event answer is remembered per conversation and forgotten whenever
 * the viewer's membership there changes (membership events are published, in commit order,
 * before the messages that follow them), so a steady stream costs no query per event.
 * `messageAdded` streams register the viewer as watching live (no MESSAGE notifications then).
 */
async function conversationEvents<T extends ConversationEventType>(
  ctx: GraphQLContext, type: T, conversationId: string | null | undefined, skip?: (e: EventOf<T>) => boolean | Promise<boolean>,
): Promise<AsyncIterableIterator<EventOf<T>>> {
  const scope = ctx.scope();
  const id = conversationId != null ? (await ctx.services.conversations.access(scope, conversationId)).conversation.id : undefined;
  const allowed = new Map<number, boolean>();
  if (id != null) allowed.set(id, true);
  const { bus, conversations, watchers } = ctx.services;
  const source = eventStream<EventOf<T>>((push) => {
    const offEvents = bus.on(type, push as (e: unknown) => void, id);
    const offMembership = bus.on('membership.changed', (e) => {
      if (e.type === 'membership.changed' && e.userId === scope.actor.id) allowed.delete(e.conversationId);
    }, id);
    const unwatch = type === 'message.added' ? watchers.watch(scope.actor.id, id ?? null) : () => undefined;
    return () => { offEvents(); offMembership(); unwatch(); };
  });
  return filterStream(source, async (e) => {
    const conversation = (e as { conversationId: number }).conversationId;
    ctx.renew();
    let ok = allowed.get(conversation);
    if (ok === undefined) {
      const s = ctx.scope();
      ok = id != null
        ? await conversations.access(s, conversation).then(() => true, () => false)
        : await conversations.follows(s, conversation);
      allowed.set(conversation, ok);
    }
    return ok && !(await skip?.(e));
  });
}

/** Calls `onChange` whenever a block involving `userId` is added or lifted. Returns the unsubscribe function. */
function onBlocksChanged(ctx: GraphQLContext, userId: number, onChange: () => void): () => void {
  return ctx.services.bus.on('contact.changed', (e) => {
    if (e.type === 'contact.changed' && e.userIds.includes(userId)) onChange();
  });
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
    subscribe: async ({ args, context }) => {
      const ctx = context as GraphQLContext;
      let blocked: Promise<Set<number>> | undefined;
      const me = ctx.scope().actor.id;
      const stream = await conversationEvents(ctx, 'typing', args.conversationId, async (e) => {
        if (e.userId === me) return true;
        blocked ??= ctx.services.contacts.blockedIds(ctx.em, me);
        return (await blocked).has(e.userId);
      });
      return withCleanup(stream, onBlocksChanged(ctx, me, () => { blocked = undefined; }));
    },
  })
  typing(@Root() e: EventOf<'typing'>, @Arg('conversationId', () => ID) _conversationId: string) {
    return e;
  }

  @Subscription(() => ReadReceiptEventType, {
    subscribe: ({ args, context }) => conversationEvents(context, 'read.receipt', args.conversationId),
  })
  readReceipt(@Root() e: EventOf<'read.receipt'>, @Arg('conversationId', () => ID) _conversationId: string) {
    return e;
  }

  @Subscription(() => PresenceEventType, {
    description: "userIds omitted: the viewer's contacts and co-members. Never users blocked either way",
    subscribe: async ({ args, context }) => {
      const ctx = context as GraphQLContext;
      const scope = ctx.scope();
      const explicit = Boolean(args.userIds?.length);
      const me = scope.actor.id;
      const { conversations, contacts, bus } = ctx.services;
      let wanted: Set<number> = explicit
        ? new Set((args.userIds as string[]).map(Number).filter((n) => Number.isSafeInteger(n)))
        : await conversations.presenceAudience(scope);
      let blocked = await contacts.blockedIds(scope.em, me);
      let stale = false;
      const source = eventStream<EventOf<'presence'>>((push) => {
        const offPresence = bus.on('presence', push as (e: unknown) => void);
        const offBlocks = onBlocksChanged(ctx, me, () => { stale = true; });
        // A new co-member or contact joins the default audience.
        const offMembership = explicit ? () => undefined : bus.on('membership.changed', (e) => { if (e.type === 'membership.changed' && e.active) stale = true; });
        return () => { offPresence(); offBlocks(); offMembership(); };
      });
      return filterStream(source, async (e) => {
        ctx.renew();
        if (stale) {
          stale = false;
          blocked = await contacts.blockedIds(ctx.em, me);
          if (!explicit) wanted = await conversations.presenceAudience(ctx.scope());
        }
        return wanted.has(e.userId) && !blocked.has(e.userId);
      });
    },
  })
  presence(@Root() e: EventOf<'presence'>, @Arg('userIds', () => [ID], { nullable: true }) _userIds?: string[]) {
    return e;
  }

  @Subscription(() => NotificationType, {
    description: "The viewer's new notifications",
    subscribe: ({ context }) => {
      const ctx = context as GraphQLContext;
      const me = ctx.scope().actor.id;
      const source = eventStream<EventOf<'notification.added'>>((push) => ctx.services.bus.on('notification.added', push as (e: unknown) => void, me));
      return filterStream(source, (e) => { ctx.renew(); return e.recipientId === me; });
    },
  })
  notificationAdded(@Root() e: EventOf<'notification.added'>) {
    return e.notification;
  }
}

/** Runs `cleanup` once when the stream ends (client unsubscribes or the socket closes). */
function withCleanup<T>(stream: AsyncIterableIterator<T>, cleanup: () => void): AsyncIterableIterator<T> {
  let done = false;
  const once = () => { if (!done) { done = true; cleanup(); } };
  return {
    next: () => stream.next().then((r) => { if (r.done) once(); return r; }),
    return: () => { once(); return stream.return ? stream.return() : Promise.resolve({ value: undefined, done: true }); },
    throw: (err?: unknown) => { once(); return stream.throw ? stream.throw(err) : Promise.reject(err); },
    [Symbol.asyncIterator]() { return this; },
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
