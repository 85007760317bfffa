import { Extensions, Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { ConversationKind, MemberRole, type Conversation } from '../../domain/conversation/conversation.entity';
import type { GraphQLContext } from '../context';
import { ConversationConnection, ConversationType, MembershipType } from '../types/conversation.type';
import { CreateGroupInput, CreateRoomInput, UpdateConversationInput } from '../types/inputs';
import { MessageType } from '../types/message.type';
import { UserType } from '../types/user.type';
import { refId } from '../../domain/shared/refs';
import { isArchived } from '../../domain/conversation/conversation.policy';
import { PAGE_MAX, pageSize } from '../../domain/shared/pagination';
import { nextTurn } from '../../domain/shared/turns';
import { parseId } from '../../domain/shared/errors';
import { MAX_ITEMS } from '../../security/query-cost';
import { canReadContentOf, lastMessageOf, titleOf, unreadCountOf } from '../../read-model/views';

/** Contract: conversation queries and mutations, and Conversation's resolved fields. */
@Resolver(() => ConversationType)
export class ConversationResolver {
  @Extensions({ [MAX_ITEMS]: PAGE_MAX })
  @Query(() => ConversationConnection, { description: 'Newest activity first' })
  conversations(
    @Ctx() ctx: GraphQLContext,
    @Arg('kind', () => ConversationKind, { nullable: true }) kind?: ConversationKind,
    @Arg('first', () => Int, { nullable: true, defaultValue: 20 }) first?: number,
    @Arg('after', () => String, { nullable: true }) after?: string,
    @Arg('everyReadable', () => Boolean, {
      nullable: true,
      defaultValue: false,
      description:
        'Staff: every conversation they may read (all of them, as seed 004 lists), not only their memberships and SUPPORT threads; no effect for others',
    })
    everyReadable?: boolean,
  ) {
    return ctx.services.conversationQueries.list(ctx.scope(), { kind, first, after, reach: everyReadable ? 'readable' : 'listed' });
  }

  @Query(() => ConversationType, { nullable: true })
  async conversation(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext) {
    return (await ctx.services.conversationQueries.access(ctx.scope(), id, 'id')).conversation;
  }

  @Extensions({ [MAX_ITEMS]: PAGE_MAX })
  @Query(() => ConversationConnection)
  publicRooms(
    @Ctx() ctx: GraphQLContext,
    @Arg('search', () => String, { nullable: true }) search?: string,
    @Arg('first', () => Int, { nullable: true, defaultValue: 20 }) first?: number,
    @Arg('after', () => String, { nullable: true }) after?: string,
  ) {
    return ctx.services.conversationQueries.publicRooms(ctx.scope(), { search, first, after });
  }

  @Query(() => ConversationType, { nullable: true, description: "The viewer's own support thread; created on first use" })
  supportConversation(@Ctx() ctx: GraphQLContext) {
    return ctx.services.conversations.supportThread(ctx.scope());
  }

  @Mutation(() => ConversationType, { description: 'Get-or-create; one DIRECT per pair of users' })
  openDirectChat(
    @Ctx() ctx: GraphQLContext,
    @Arg('userId', () => ID, { nullable: true }) userId?: string,
    @Arg('username', () => String, { nullable: true }) username?: string,
  ) {
    return ctx.services.conversations.openDirectWith(ctx.scope(), { userId, username });
  }

  @Mutation(() => ConversationType, { description: 'Creator becomes OWNER' })
  createGroup(@Arg('input', () => CreateGroupInput) input: CreateGroupInput, @Ctx() ctx: GraphQLContext) {
    return ctx.services.conversations.createGroup(ctx.scope(), input);
  }

  @Mutation(() => ConversationType)
  createRoom(@Arg('input', () => CreateRoomInput) input: CreateRoomInput, @Ctx() ctx: GraphQLContext) {
    return ctx.services.conversations.createRoom(ctx.scope(), input);
  }

  @Mutation(() => ConversationType)
  updateConversation(@Arg('id', () => ID) id: string, @Arg('input', () => UpdateConversationInput) input: UpdateConversationInput, @Ctx() ctx: GraphQLContext) {
    return ctx.services.conversations.update(ctx.scope(), id, input);
  }

  @Mutation(() => ConversationType, {
    description:
      'OWNER/ADMIN or staff; not DIRECT. Archived (seed 003 is_active false): history readable; sends, joins, member additions and edits refused (FORBIDDEN). archived: false reactivates',
  })
  archiveConversation(@Arg('id', () => ID) id: string, @Arg('archived', () => Boolean) archived: boolean, @Ctx() ctx: GraphQLContext) {
    return ctx.services.conversations.setArchived(ctx.scope(), id, archived);
  }

  @Mutation(() => ConversationType, { description: 'PUBLIC rooms; CONFLICT when full' })
  joinRoom(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext) {
    return ctx.services.memberships.joinRoom(ctx.scope(), id);
  }

  @Mutation(() => Boolean, { description: 'BAD_USER_INPUT for DIRECT' })
  leaveConversation(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext) {
    return ctx.services.memberships.leave(ctx.scope(), id);
  }

  @Mutation(() => MembershipType, { description: 'OWNER/ADMIN only' })
  addMember(
    @Arg('conversationId', () => ID) conversationId: string,
    @Arg('userId', () => ID) userId: string,
    @Ctx() ctx: GraphQLContext,
    @Arg('role', () => MemberRole, { nullable: true, defaultValue: MemberRole.MEMBER }) role?: MemberRole,
  ) {
    return ctx.services.memberships.addMember(ctx.scope(), conversationId, userId, role ?? MemberRole.MEMBER);
  }

  @Mutation(() => Boolean, { description: 'OWNER/ADMIN only' })
  removeMember(@Arg('conversationId', () => ID) conversationId: string, @Arg('userId', () => ID) userId: string, @Ctx() ctx: GraphQLContext) {
    return ctx.services.memberships.removeMember(ctx.scope(), conversationId, userId);
  }

  @Mutation(() => MembershipType, { description: 'OWNER (or staff) only; the last OWNER cannot step down (BAD_USER_INPUT)' })
  setMemberRole(
    @Arg('conversationId', () => ID) conversationId: string,
    @Arg('userId', () => ID) userId: string,
    @Arg('role', () => MemberRole) role: MemberRole,
    @Ctx() ctx: GraphQLContext,
  ) {
    return ctx.services.memberships.setRole(ctx.scope(), conversationId, userId, role);
  }

  @Mutation(() => MembershipType, { description: 'Muted members cannot send' })
  muteMember(
    @Arg('conversationId', () => ID) conversationId: string,
    @Arg('userId', () => ID) userId: string,
    @Arg('muted', () => Boolean) muted: boolean,
    @Ctx() ctx: GraphQLContext,
  ) {
    return ctx.services.memberships.setMuted(ctx.scope(), conversationId, userId, muted);
  }

  @Mutation(() => MembershipType, { description: 'Banned members lose access' })
  banMember(
    @Arg('conversationId', () => ID) conversationId: string,
    @Arg('userId', () => ID) userId: string,
    @Arg('banned', () => Boolean) banned: boolean,
    @Ctx() ctx: GraphQLContext,
  ) {
    return ctx.services.memberships.setBanned(ctx.scope(), conversationId, userId, banned);
  }

  @Mutation(() => MembershipType)
  setNickname(
    @Arg('conversationId', () => ID) conversationId: string,
    @Ctx() ctx: GraphQLContext,
    @Arg('nickname', () => String, { nullable: true }) nickname?: string,
  ) {
    return ctx.services.memberships.setNickname(ctx.scope(), conversationId, nickname);
  }

  @Extensions({ perViewer: true })
  @FieldResolver(() => String, { description: "Group/room name; for DIRECT the other member's fullName as seen by the viewer" })
  title(@Root() c: Conversation, @Ctx() ctx: GraphQLContext) {
    return titleOf(ctx, c);
  }

  @FieldResolver(() => Boolean, { description: 'seed 003 is_active = !isArchived; archived: readable, no sends, joins, edits or reactions' })
  isArchived(@Root() c: Conversation) {
    return isArchived(c);
  }

  @FieldResolver(() => UserType, { nullable: true })
  createdBy(@Root() c: Conversation, @Ctx() ctx: GraphQLContext) {
    const id = refId(c.createdBy);
    return id == null ? null : ctx.loaders.user.load(id);
  }

  @FieldResolver(() => UserType, { nullable: true, description: 'SUPPORT only: the customer this conversation belongs to' })
  customer(@Root() c: Conversation, @Ctx() ctx: GraphQLContext) {
    const id = refId(c.customer);
    return id == null ? null : ctx.loaders.user.load(id);
  }

  @Extensions({ perViewer: true })
  @FieldResolver(() => MessageType, { nullable: true, description: 'Null for a PUBLIC room the viewer is not in (metadata only)' })
  lastMessage(@Root() c: Conversation, @Ctx() ctx: GraphQLContext) {
    return lastMessageOf(ctx, c);
  }

  @Extensions({ perViewer: true, [MAX_ITEMS]: PAGE_MAX })
  @FieldResolver(() => [MembershipType], {
    description: `Active members, oldest first, at most \`first\` (default and cap ${PAGE_MAX}) after the membership whose id is \`after\`; memberCount tells how many there are. Empty for a PUBLIC room the viewer is not in`,
  })
  async members(
    @Root() c: Conversation,
    @Ctx() ctx: GraphQLContext,
    @Arg('first', () => Int, { nullable: true, defaultValue: PAGE_MAX, description: `At most ${PAGE_MAX}` }) first?: number,
    @Arg('after', () => String, { nullable: true, description: 'A Membership id: the members after it' }) after?: string,
  ) {
    const size = pageSize(first, PAGE_MAX, PAGE_MAX, 'first');
    const afterId = after == null ? 0 : parseId(after, 'after');
    if (size === 0 || !(await canReadContentOf(ctx, c))) return [];
    const page = await ctx.loaders.memberPage.load(`${c.id}:${afterId}:${size}`);
    // Each page is completed (users and all) on a turn of its own: 15 aliases of 100 members are
    // 15 short blocks of the event loop with other requests served between them, not one long one.
    await nextTurn();
    return page;
  }

  @FieldResolver(() => Int)
  memberCount(@Root() c: Conversation, @Ctx() ctx: GraphQLContext) {
    return ctx.loaders.memberCount.load(c.id);
  }

  @Extensions({ perViewer: true })
  @FieldResolver(() => MembershipType, { nullable: true, description: 'Null for staff viewing a conversation they are not in' })
  viewerMembership(@Root() c: Conversation, @Ctx() ctx: GraphQLContext) {
    return ctx.loaders.viewerMembership.load(c.id);
  }

  @Extensions({ perViewer: true })
  @FieldResolver(() => Int, { description: 'For the viewer' })
  unreadCount(@Root() c: Conversation, @Ctx() ctx: GraphQLContext) {
    return unreadCountOf(ctx, c);
  }
}
