import { Arg, Ctx, Extensions, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { MessageView } from '../../domain/shared/events';
import { canReadContent } from '../../domain/conversation/conversation.policy';
import { showsRevisions } from '../../domain/message/message.policy';
import { MAX_ITEMS } from '../../security/query-cost';
import type { GraphQLContext } from '../context';
import { REVISIONS_MAX } from '../../read-model/loaders';
import { DateTimeScalar } from '../scalars';
import { MessageRevisionType, MessageType } from '../types/message.type';
import { UserType } from '../types/user.type';

/** A version of a message as Message.revisions shows it (issue 31). */
interface RevisionView {
  content: string;
  editedAt: string;
  editorId: number | null;
}

const iso = (d: Date | string) => (d instanceof Date ? d : new Date(d)).toISOString();

/**
 * Issue 31 (contract "Message interactions"): edit history (Message.revisions), pins
 * (pinMessage, pinnedMessages, Message.isPinned/pinnedBy/pinnedAt) and forwarding (forwardMessage,
 * Message.forwardedFrom/isForwarded). The rules are MessageService's and message.policy's.
 */
@Resolver(() => MessageType)
export class MessageHistoryResolver {
  @Extensions({ [MAX_ITEMS]: 'maxPinsPerConversation' })
  @Query(() => [MessageType], { description: 'Newest pin first; at most MAX_PINS_PER_CONVERSATION (default 50)' })
  pinnedMessages(@Arg('conversationId', () => ID) conversationId: string, @Ctx() ctx: GraphQLContext) {
    return ctx.services.messages.pinned(ctx.scope(), conversationId);
  }

  @Mutation(() => MessageType, {
    description: 'Idempotent. DIRECT, GROUP, SUPPORT: any member (not muted); ROOM: OWNER/ADMIN; staff anywhere. CONFLICT past MAX_PINS_PER_CONVERSATION',
  })
  pinMessage(@Arg('id', () => ID) id: string, @Arg('pinned', () => Boolean) pinned: boolean, @Ctx() ctx: GraphQLContext) {
    return ctx.services.messages.pin(ctx.scope(), id, pinned);
  }

  @Mutation(() => MessageType, {
    description: 'A copy (content, attachments sharing the stored files) sent under every send rule; idempotent by clientMessageId',
  })
  forwardMessage(
    @Arg('id', () => ID) id: string,
    @Arg('toConversationId', () => ID) toConversationId: string,
    @Ctx() ctx: GraphQLContext,
    @Arg('clientMessageId', () => String, { nullable: true }) clientMessageId?: string,
  ) {
    return ctx.services.messages.forward(ctx.scope(), id, toConversationId, clientMessageId);
  }

  @Extensions({ perViewer: true, [MAX_ITEMS]: REVISIONS_MAX })
  @FieldResolver(() => [MessageRevisionType], {
    description: `Oldest first, the original included (then the newest, at most ${REVISIONS_MAX} in all); [] once deleted (staff keep them)`,
  })
  async revisions(@Root() m: MessageView, @Ctx() ctx: GraphQLContext): Promise<RevisionView[]> {
    if (!showsRevisions(ctx.actor, m)) return [];
    const stored: RevisionView[] = (await ctx.loaders.revisions.load(m.id)).map((r) => ({
      content: r.content,
      editedAt: iso(r.edited_at),
      editorId: r.editor_id == null ? null : Number(r.editor_id),
    }));
    // The current version, unless deleted (its last version was stored by the deletion when it had been edited).
    const all = m.deletedAt
      ? stored
      : [...stored, { content: m.content, editedAt: m.editedAt ?? m.createdAt, editorId: m.editedAt ? (m.editedById ?? m.senderId) : m.senderId }];
    return all.length > REVISIONS_MAX ? [all[0], ...all.slice(all.length - REVISIONS_MAX + 1)] : all;
  }

  @FieldResolver(() => Boolean)
  isPinned(@Root() m: MessageView) {
    return m.pinnedAt != null;
  }

  @FieldResolver(() => UserType, { nullable: true })
  pinnedBy(@Root() m: MessageView, @Ctx() ctx: GraphQLContext) {
    return m.pinnedAt != null && m.pinnedById != null ? ctx.loaders.user.load(m.pinnedById) : null;
  }

  @FieldResolver(() => DateTimeScalar, { nullable: true })
  pinnedAt(@Root() m: MessageView) {
    return m.pinnedAt ?? null;
  }

  @Extensions({ perViewer: true })
  @FieldResolver(() => MessageType, { nullable: true, description: 'The original when the viewer may still see it, else null' })
  async forwardedFrom(@Root() m: MessageView, @Ctx() ctx: GraphQLContext) {
    if (m.forwardedFromId == null) return null;
    const original = await ctx.loaders.message.load(m.forwardedFromId);
    if (!original) return null;
    const membership = await ctx.loaders.viewerMembership.load(original.conversationId);
    return canReadContent(ctx.actor, membership != null) ? original : null;
  }

  @FieldResolver(() => Boolean)
  isForwarded(@Root() m: MessageView) {
    return m.forwardedFromId != null;
  }
}

/** MessageRevision.editedBy. */
@Resolver(() => MessageRevisionType)
export class MessageRevisionResolver {
  @FieldResolver(() => UserType, { nullable: true, description: 'Who wrote this version (a moderator may edit)' })
  editedBy(@Root() r: RevisionView, @Ctx() ctx: GraphQLContext) {
    return r.editorId == null ? null : ctx.loaders.user.load(r.editorId);
  }
}
