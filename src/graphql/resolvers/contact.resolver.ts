import { Extensions, Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { Contact } from '../../domain/contact/contact.entity';
import type { NotificationView } from '../../domain/shared/events';
import type { GraphQLContext } from '../context';
import { ContactType, NotificationConnection, NotificationType } from '../types/contact.type';
import { ConversationType } from '../types/conversation.type';
import { ContactStatus } from '../types/enums';
import { MessageType } from '../types/message.type';
import { UserType } from '../types/user.type';
import { refId } from '../../domain/shared/refs';
import { canReadContent } from '../../domain/conversation/conversation.policy';
import { PAGE_MAX, pageSize } from '../../domain/shared/pagination';
import { MAX_ITEMS } from '../../security/query-cost';

/** Contract: contacts and blocking (seed 000), and Contact's users. */
@Resolver(() => ContactType)
export class ContactResolver {
  @Extensions({ [MAX_ITEMS]: PAGE_MAX })
  @Query(() => [ContactType], { description: `Newest change first, at most \`first\` (default and cap ${PAGE_MAX}) after the contact whose id is \`after\`` })
  contacts(
    @Ctx() ctx: GraphQLContext,
    @Arg('status', () => ContactStatus, { nullable: true }) status?: ContactStatus,
    @Arg('first', () => Int, { nullable: true, defaultValue: PAGE_MAX, description: `At most ${PAGE_MAX}` }) first?: number,
    @Arg('after', () => String, { nullable: true, description: 'A Contact id: the contacts after it in this order' }) after?: string,
  ) {
    return ctx.services.contacts.list(ctx.scope(), status, { first: pageSize(first, PAGE_MAX, PAGE_MAX, 'first'), after });
  }

  @Mutation(() => ContactType)
  requestContact(@Arg('userId', () => ID) userId: string, @Ctx() ctx: GraphQLContext) {
    return ctx.services.contacts.request(ctx.scope(), userId);
  }

  @Mutation(() => ContactType)
  acceptContact(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext) {
    return ctx.services.contacts.accept(ctx.scope(), id);
  }

  @Mutation(() => ContactType)
  declineContact(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext) {
    return ctx.services.contacts.decline(ctx.scope(), id);
  }

  @Mutation(() => ContactType, { description: 'Blocked users cannot open or send in a DIRECT with the blocker, nor see their presence' })
  blockUser(@Arg('userId', () => ID) userId: string, @Ctx() ctx: GraphQLContext) {
    return ctx.services.contacts.block(ctx.scope(), userId);
  }

  @Mutation(() => Boolean)
  unblockUser(@Arg('userId', () => ID) userId: string, @Ctx() ctx: GraphQLContext) {
    return ctx.services.contacts.unblock(ctx.scope(), userId);
  }

  @FieldResolver(() => UserType)
  requester(@Root() c: Contact, @Ctx() ctx: GraphQLContext) {
    return ctx.loaders.user.load(refId(c.requester));
  }

  @FieldResolver(() => UserType)
  addressee(@Root() c: Contact, @Ctx() ctx: GraphQLContext) {
    return ctx.loaders.user.load(refId(c.addressee));
  }
}

/** Contract: notifications (seed 003), and Notification's resolved fields. */
@Resolver(() => NotificationType)
export class NotificationResolver {
  @Extensions({ [MAX_ITEMS]: PAGE_MAX })
  @Query(() => NotificationConnection, { description: 'Newest first' })
  notifications(
    @Ctx() ctx: GraphQLContext,
    @Arg('unreadOnly', () => Boolean, { nullable: true, defaultValue: false }) unreadOnly?: boolean,
    @Arg('first', () => Int, { nullable: true, defaultValue: 20 }) first?: number,
    @Arg('after', () => String, { nullable: true }) after?: string,
  ) {
    return ctx.services.notifications.list(ctx.scope(), { unreadOnly, first, after });
  }

  @Mutation(() => NotificationType)
  markNotificationRead(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext) {
    return ctx.services.notifications.markRead(ctx.scope(), id);
  }

  @Mutation(() => Int, { description: 'How many were marked read' })
  markAllNotificationsRead(@Ctx() ctx: GraphQLContext) {
    return ctx.services.notifications.markAllRead(ctx.scope());
  }

  @Mutation(() => NotificationType, { description: 'Staff only: a SYSTEM notification to one user' })
  sendNotice(
    @Arg('userId', () => ID) userId: string,
    @Arg('title', () => String) title: string,
    @Arg('body', () => String) body: string,
    @Ctx() ctx: GraphQLContext,
  ) {
    return ctx.services.notifications.notice(ctx.scope(), userId, { title, body });
  }

  @FieldResolver(() => Boolean)
  isRead(@Root() n: NotificationView) {
    return n.readAt != null;
  }

  @Extensions({ perViewer: true })
  @FieldResolver(() => ConversationType, { nullable: true, description: 'Null when the viewer can no longer read it' })
  async conversation(@Root() n: NotificationView, @Ctx() ctx: GraphQLContext) {
    if (n.conversationId == null || !(await this.canRead(ctx, n.conversationId))) return null;
    return ctx.loaders.conversation.load(n.conversationId);
  }

  @Extensions({ perViewer: true })
  @FieldResolver(() => MessageType, { nullable: true, description: 'Null when the viewer can no longer read it' })
  async message(@Root() n: NotificationView, @Ctx() ctx: GraphQLContext) {
    if (n.messageId == null || n.conversationId == null || !(await this.canRead(ctx, n.conversationId))) return null;
    return ctx.loaders.message.load(n.messageId);
  }

  private async canRead(ctx: GraphQLContext, conversationId: number): Promise<boolean> {
    return canReadContent(ctx.actor, Boolean(await ctx.loaders.viewerMembership.load(conversationId)));
  }
}
