import { Arg, Args, Ctx, Extensions, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { MessageView } from '../../domain/shared/events';
import type { GraphQLContext } from '../context';
import { MembershipType } from '../types/conversation.type';
import { AddAttachmentArgs, SendMessageInput } from '../types/inputs';
import { AttachmentType, MessageConnection, MessageType } from '../types/message.type';
import { ConversationType, UnreadByConversationType, UnreadBySenderType, UnreadSummaryType } from '../types/payload.type';
import { UserConnection, UserType } from '../types/user.type';
import { showsContent, showsReply } from '../../domain/message/message.policy';
import { MENTIONS_MAX, PAGE_MAX, pageSize } from '../../domain/shared/pagination';
import { DEFAULT_ITEMS, MAX_ITEMS } from '../../security/query-cost';
import type { UnreadSummary } from '../../domain/message/read-state.service';
import { nextTurn } from '../../domain/shared/turns';
import { attachmentsOf, isReadOf } from '../../read-model/views';
import { connectionFrom, decodeCursor, encodeCursor } from '../../domain/shared/pagination';
import { badInput } from '../../domain/shared/errors';

/** Contract: message queries and mutations, and Message's resolved fields. */
@Resolver(() => MessageType)
export class MessageResolver {
  @Extensions({ [MAX_ITEMS]: PAGE_MAX, [DEFAULT_ITEMS]: 50 })
  @Query(() => MessageConnection, { description: 'Ascending seq; `last` pages back from the newest' })
  async messages(
    @Arg('conversationId', () => ID) conversationId: string,
    @Ctx() ctx: GraphQLContext,
    @Arg('first', () => Int, { nullable: true }) first?: number,
    @Arg('after', () => String, { nullable: true }) after?: string,
    @Arg('last', () => Int, { nullable: true }) last?: number,
    @Arg('before', () => String, { nullable: true }) before?: string,
  ) {
    const page = await ctx.services.messages.list(ctx.scope(), conversationId, { first, after, last, before });
    // The reply previews came with the page: replyTo costs no query.
    for (const r of page.replies) ctx.loaders.message.prime(r.id, r);
    // The page is completed on a turn of its own (issue 27: aliases of 100 messages are short blocks of the loop, not one long one).
    await nextTurn();
    return page;
  }

  @Query(() => MessageType, { nullable: true })
  message(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext) {
    return ctx.services.messages.get(ctx.scope(), id);
  }

  @Extensions({ [MAX_ITEMS]: PAGE_MAX })
  @Query(() => [MessageType], { description: 'Catch-up after reconnect: newer messages plus later edits/deletes of older ones, in change order' })
  messagesSince(
    @Arg('conversationId', () => ID) conversationId: string,
    @Arg('afterSeq', () => Int) afterSeq: number,
    @Ctx() ctx: GraphQLContext,
    @Arg('limit', () => Int, { nullable: true, defaultValue: 100 }) limit?: number,
  ) {
    return ctx.services.messages.since(ctx.scope(), conversationId, afterSeq, limit ?? 100);
  }

  @Query(() => UnreadSummaryType)
  unreadSummary(@Ctx() ctx: GraphQLContext) {
    return ctx.services.readState.unreadSummary(ctx.scope());
  }

  @Mutation(() => MessageType)
  sendMessage(@Arg('input', () => SendMessageInput) input: SendMessageInput, @Ctx() ctx: GraphQLContext) {
    return ctx.services.messages.send(ctx.scope(), input);
  }

  @Mutation(() => MessageType, { description: 'Sender or staff; never SYSTEM; BAD_USER_INPUT once deleted' })
  editMessage(@Arg('id', () => ID) id: string, @Arg('content', () => String) content: string, @Ctx() ctx: GraphQLContext) {
    return ctx.services.messages.edit(ctx.scope(), id, content);
  }

  @Mutation(() => MessageType, { description: 'Soft delete; sender, room OWNER/ADMIN, or staff; never SYSTEM' })
  deleteMessage(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext) {
    return ctx.services.messages.delete(ctx.scope(), id);
  }

  @Mutation(() => MembershipType, { description: 'Default: everything up to now' })
  markRead(
    @Arg('conversationId', () => ID) conversationId: string,
    @Ctx() ctx: GraphQLContext,
    @Arg('upToSeq', () => Int, { nullable: true }) upToSeq?: number,
  ) {
    return ctx.services.readState.markRead(ctx.scope(), conversationId, upToSeq);
  }

  @Mutation(() => Boolean)
  setTyping(@Arg('conversationId', () => ID) conversationId: string, @Arg('isTyping', () => Boolean) isTyping: boolean, @Ctx() ctx: GraphQLContext) {
    return ctx.services.messages.setTyping(ctx.scope(), conversationId, isTyping);
  }

  @FieldResolver(() => UserType, { nullable: true, description: 'Null for SYSTEM messages' })
  sender(@Root() m: MessageView, @Ctx() ctx: GraphQLContext) {
    return m.senderId == null ? null : ctx.loaders.user.load(m.senderId);
  }

  @FieldResolver(() => MessageType, { nullable: true, description: 'Null when the replied-to message is unknown to the viewer' })
  async replyTo(@Root() m: MessageView, @Ctx() ctx: GraphQLContext) {
    if (m.replyToId == null) return null;
    const target = await ctx.loaders.message.load(m.replyToId);
    return showsReply(m, target) ? target : null;
  }

  @Extensions({ [MAX_ITEMS]: 'uploadMaxFiles' })
  @FieldResolver(() => [AttachmentType], { description: 'Empty once the message is deleted; at most UPLOAD_MAX_FILES (default 10)' })
  attachments(@Root() m: MessageView, @Ctx() ctx: GraphQLContext) {
    return attachmentsOf(ctx, m);
  }

  @Extensions({ [MAX_ITEMS]: MENTIONS_MAX })
  @FieldResolver(() => [UserType], { description: `Members named with @username, in order of appearance; at most ${MENTIONS_MAX}` })
  async mentions(@Root() m: MessageView, @Ctx() ctx: GraphQLContext) {
    if (!m.mentionIds?.length || !showsContent(m)) return [];
    return (await ctx.loaders.user.loadMany(m.mentionIds.slice(0, MENTIONS_MAX))).filter((u) => u && !(u instanceof Error));
  }

  @FieldResolver(() => Boolean)
  isEdited(@Root() m: MessageView) {
    return m.editedAt != null;
  }

  @FieldResolver(() => Boolean, {
    description:
      'Whether an active member other than its sender has read it (their read position reached it; seed 004 is_read); members who turned privacy.sendReadReceipts off do not count',
  })
  isRead(@Root() m: MessageView, @Ctx() ctx: GraphQLContext) {
    return isReadOf(ctx, m);
  }

  @FieldResolver(() => Boolean)
  isDeleted(@Root() m: MessageView) {
    return m.deletedAt != null;
  }

  @Extensions({ perViewer: true, [MAX_ITEMS]: PAGE_MAX, [DEFAULT_ITEMS]: 20 })
  @FieldResolver(() => UserConnection, {
    description:
      'Active members whose read position covers it, in the order they joined (issue 32); never its sender, nor members who turned privacy.sendReadReceipts off, nor users blocked either way with the viewer. Empty for a viewer who is not a member, and in conversations above SEEN_BY_MAX_MEMBERS (default 100) active members (read seenCount there)',
  })
  async seenBy(
    @Root() m: MessageView,
    @Ctx() ctx: GraphQLContext,
    @Arg('first', () => Int, { nullable: true, defaultValue: 20, description: `At most ${PAGE_MAX}` }) first?: number,
    @Arg('after', () => String, { nullable: true }) after?: string,
  ) {
    const size = pageSize(first, 20, PAGE_MAX, 'first');
    const afterId = after == null ? 0 : Number(decodeCursor(after, 'seen', 'after', 1)[0]);
    if (!Number.isSafeInteger(afterId) || afterId < 0 || afterId > 2 ** 31 - 1) throw badInput('after is not a valid cursor', 'after');
    if ((await seenByModeOf(m, ctx)) !== 'list') return connectionFrom([], size, () => '', 0, false);
    const [rows, total] = await Promise.all([ctx.loaders.seenByPage.load(`${m.id}:${afterId}:${size + 1}`), ctx.loaders.seenCount.load(m.id)]);
    const users = await ctx.loaders.user.loadMany(rows.map((r) => r.userId));
    const page = connectionFrom(rows, size, (r) => encodeCursor('seen', r.membershipId), total, after != null);
    return { ...page, edges: page.edges.map((e, i) => ({ cursor: e.cursor, node: users[i] })).filter((e) => e.node && !(e.node instanceof Error)) };
  }

  @Extensions({ perViewer: true })
  @FieldResolver(() => Int, { description: 'How many readers seenBy counts (issue 32), also above SEEN_BY_MAX_MEMBERS; 0 for a viewer who is not a member' })
  async seenCount(@Root() m: MessageView, @Ctx() ctx: GraphQLContext) {
    return (await seenByModeOf(m, ctx)) === 'none' ? 0 : ctx.loaders.seenCount.load(m.id);
  }
}

/** How the viewer sees message `m`'s seen-by (ReadStateService.seenByMode), from the request's loaders. */
async function seenByModeOf(m: MessageView, ctx: GraphQLContext) {
  const mine = await ctx.loaders.viewerMembership.load(m.conversationId);
  return ctx.services.readState.seenByMode(mine != null, () => ctx.loaders.memberCount.load(m.conversationId));
}

/** UnreadSummary's lists: the conversations and senders with the most unread messages first, at most `first` (default and cap PAGE_MAX) of each. */
@Resolver(() => UnreadSummaryType)
export class UnreadSummaryResolver {
  @Extensions({ [MAX_ITEMS]: PAGE_MAX })
  @FieldResolver(() => [UnreadByConversationType], { description: `Most unread first; at most \`first\` (default and cap ${PAGE_MAX}); total counts them all` })
  byConversation(
    @Root() s: UnreadSummary,
    @Arg('first', () => Int, { nullable: true, defaultValue: PAGE_MAX, description: `At most ${PAGE_MAX}` }) first?: number,
  ) {
    return s.byConversation.slice(0, pageSize(first, PAGE_MAX, PAGE_MAX, 'first'));
  }

  @Extensions({ [MAX_ITEMS]: PAGE_MAX })
  @FieldResolver(() => [UnreadBySenderType], { description: `Most unread first; at most \`first\` (default and cap ${PAGE_MAX}); total counts them all` })
  bySender(@Root() s: UnreadSummary, @Arg('first', () => Int, { nullable: true, defaultValue: PAGE_MAX, description: `At most ${PAGE_MAX}` }) first?: number) {
    return s.bySender.slice(0, pageSize(first, PAGE_MAX, PAGE_MAX, 'first'));
  }
}

/** UnreadByConversation.conversation. */
@Resolver(() => UnreadByConversationType)
export class UnreadByConversationResolver {
  @FieldResolver(() => ConversationType)
  conversation(@Root() r: { conversationId: number }, @Ctx() ctx: GraphQLContext) {
    return ctx.loaders.conversation.load(r.conversationId);
  }
}

/** UnreadBySender.sender. */
@Resolver(() => UnreadBySenderType)
export class UnreadBySenderResolver {
  @FieldResolver(() => UserType)
  sender(@Root() r: { senderId: number }, @Ctx() ctx: GraphQLContext) {
    return ctx.loaders.user.load(r.senderId);
  }
}

/** Attachment download URLs (signed, short-lived: usable as `<img src>`), and addAttachment. */
@Resolver(() => AttachmentType)
export class AttachmentResolver {
  @Mutation(() => AttachmentType, { description: 'Sender only (seed 004)' })
  addAttachment(@Args(() => AddAttachmentArgs) { messageId, file }: AddAttachmentArgs, @Ctx() ctx: GraphQLContext) {
    return ctx.services.messages.addAttachment(ctx.scope(), messageId, file);
  }

  @FieldResolver(() => String, {
    description:
      'Authenticated download URL served by this server: signed, valid for MEDIA_URL_TTL_S seconds (default 12 h; query it again for a fresh one); for an external link (isExternal), that link',
  })
  url(@Root() a: { id: number; externalUrl?: string | null }, @Ctx() ctx: GraphQLContext) {
    return ctx.services.attachments.fileUrlOf(a);
  }

  @FieldResolver(() => Int, { description: 'Bytes; for an external link (isExternal), as its sender declared it (0 when not given)' })
  size(@Root() a: { size?: number | null }) {
    return a.size ?? 0;
  }

  @FieldResolver(() => Boolean, {
    description:
      'A link its sender gave (seed 003 file_url of another site), not a file stored here: url is that link, never fetched by this server; no thumbnail or dimensions',
  })
  isExternal(@Root() a: { externalUrl?: string | null }) {
    return a.externalUrl != null;
  }

  @FieldResolver(() => String, { nullable: true, description: 'Images only (256 px on the long side, WebP)' })
  thumbnailUrl(@Root() a: { id: number; thumbnailKey?: string | null }, @Ctx() ctx: GraphQLContext) {
    return a.thumbnailKey ? ctx.services.attachments.urlFor(a.id, 'thumbnail') : null;
  }
}
