import { Arg, Ctx, FieldResolver, ID, Resolver, Root, Subscription } from 'type-graphql';
import type { EventOf } from '../../domain/shared/events';
import { eventStream } from '../../realtime/event-bus';
import { filterStream } from '../../realtime/streams';
import type { GraphQLContext } from '../context';
import { MessageType } from '../types/message.type';
import { UserType } from '../types/user.type';
import { MessageDeletedEventType, PresenceEventType, ReadReceiptEventType, TypingEventType } from '../types/payload.type';

type ConversationEventType = 'message.added' | 'message.edited' | 'message.deleted' | 'typing' | 'read.receipt';

/**
 * Events of one conversation (or, without `conversationId`, of every conversation the viewer
 * may read). Access is checked when the subscription starts (NOT_FOUND otherwise) and for every
 * event, so a member removed mid-stream stops receiving. The per-event answer is remembered per
 * conversation and forgotten whenever the viewer's membership there changes (membership events
 * are published, in commit order, before the messages that follow them), so a steady stream
 * costs no query per event.
 */
async function conversationEvents<T extends ConversationEventType>(
  ctx: GraphQLContext, type: T, conversationId: string | null | undefined, skip?: (e: EventOf<T>) => boolean,
): Promise<AsyncIterableIterator<EventOf<T>>> {
  const scope = ctx.scope();
  const id = conversationId != null ? (await ctx.services.conversations.access(scope, conversationId)).conversation.id : undefined;
  const allowed = new Map<number, boolean>();
  if (id != null) allowed.set(id, true);
  const bus = ctx.services.bus;
  const source = eventStream<EventOf<T>>((push) => {
    const offEvents = bus.on(type, push as (e: unknown) => void, id);
    const offMembership = bus.on('membership.changed', (e) => {
      if (e.type === 'membership.changed' && e.userId === scope.actor.id) allowed.delete(e.conversationId);
    }, id);
    return () => { offEvents(); offMembership(); };
  });
  return filterStream(source, async (e) => {
    if (skip?.(e)) return false;
    const conversation = (e as { conversationId: number }).conversationId;
    ctx.renew();
    let ok = allowed.get(conversation);
    if (ok === undefined) {
      ok = await ctx.services.conversations.access(ctx.scope(), conversation).then(() => true, () => false);
      allowed.set(conversation, ok);
    }
    return ok;
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
    subscribe: ({ args, context }) =>
      conversationEvents(context, 'typing', args.conversationId, (e) => e.userId === (context as GraphQLContext).actor?.id),
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
    description: "userIds omitted: the viewer's co-members",
    subscribe: async ({ args, context }) => {
      const ctx = context as GraphQLContext;
      ctx.scope();
      const wanted: Set<number> = args.userIds?.length
        ? new Set((args.userIds as string[]).map(Number).filter((n) => Number.isSafeInteger(n)))
        : await ctx.services.conversations.coMemberIds(ctx.scope());
      const source = eventStream<EventOf<'presence'>>((push) => ctx.services.bus.on('presence', push as (e: unknown) => void));
      return filterStream(source, (e) => { ctx.renew(); return wanted.has(e.userId); });
    },
  })
  presence(@Root() e: EventOf<'presence'>, @Arg('userIds', () => [ID], { nullable: true }) _userIds?: string[]) {
    return e;
  }
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
