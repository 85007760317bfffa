import { Arg, Ctx, Extensions, FieldResolver, ID, Int, Mutation, Resolver, Root } from 'type-graphql';
import type { MessageView } from '../../domain/shared/events';
import type { ReactionSummaryView, ReactionView } from '../../domain/message/reaction.service';
import { showsContent } from '../../domain/message/message.policy';
import { PAGE_MAX } from '../../domain/shared/pagination';
import { MAX_ITEMS } from '../../security/query-cost';
import type { GraphQLContext } from '../context';
import { MessageType } from '../types/message.type';
import { ReactionConnection, ReactionSummaryType, ReactionType } from '../types/reaction.type';
import { UserType } from '../types/user.type';

/** Newest reactors shown per emoji (contract: at most 3). */
const LATEST_USERS = 3;

/** Contract (issue 31): addReaction, removeReaction, Message.reactions and Message.reactors. */
@Resolver(() => MessageType)
export class MessageReactionResolver {
  @Mutation(() => MessageType, { description: 'Idempotent per (message, user, emoji): a reaction already there changes nothing' })
  addReaction(@Arg('messageId', () => ID) messageId: string, @Arg('emoji', () => String) emoji: string, @Ctx() ctx: GraphQLContext) {
    return ctx.services.reactions.add(ctx.scope(), messageId, emoji);
  }

  @Mutation(() => MessageType, { description: 'Idempotent' })
  removeReaction(@Arg('messageId', () => ID) messageId: string, @Arg('emoji', () => String) emoji: string, @Ctx() ctx: GraphQLContext) {
    return ctx.services.reactions.remove(ctx.scope(), messageId, emoji);
  }

  @Extensions({ [MAX_ITEMS]: 'reactionsMaxEmoji' })
  @FieldResolver(() => [ReactionSummaryType], {
    description: 'Most used first (ties: the emoji used first); at most REACTIONS_MAX_EMOJI_PER_MESSAGE (default 50); empty once deleted',
  })
  async reactions(@Root() m: MessageView, @Ctx() ctx: GraphQLContext) {
    if (!showsContent(m)) return [];
    return (await ctx.loaders.reactions.load(m.id)).slice(0, ctx.services.reactions.maxEmojiPerMessage);
  }

  @Extensions({ [MAX_ITEMS]: PAGE_MAX })
  @FieldResolver(() => ReactionConnection, { description: `Who reacted with \`emoji\`, first reactions first; at most ${PAGE_MAX} a page` })
  reactors(
    @Root() m: MessageView,
    @Arg('emoji', () => String) emoji: string,
    @Ctx() ctx: GraphQLContext,
    @Arg('first', () => Int, { nullable: true, defaultValue: 20 }) first?: number,
    @Arg('after', () => String, { nullable: true }) after?: string,
  ) {
    return ctx.services.reactions.reactors(ctx.em, m, emoji, { first, after });
  }
}

/** ReactionSummary's per-viewer and user fields. */
@Resolver(() => ReactionSummaryType)
export class ReactionSummaryResolver {
  @Extensions({ perViewer: true })
  @FieldResolver(() => Boolean, { description: 'Whether the viewer reacted with this emoji' })
  reactedByViewer(@Root() s: ReactionSummaryView) {
    return s.reactedByViewer;
  }

  @Extensions({ [MAX_ITEMS]: LATEST_USERS })
  @FieldResolver(() => [UserType], { description: 'At most 3, newest first' })
  async latestUsers(@Root() s: ReactionSummaryView, @Ctx() ctx: GraphQLContext) {
    return (await ctx.loaders.user.loadMany(s.latestUserIds.slice(0, LATEST_USERS))).filter((u) => u && !(u instanceof Error));
  }
}

/** Reaction.user. */
@Resolver(() => ReactionType)
export class ReactionResolver {
  @FieldResolver(() => UserType)
  user(@Root() r: ReactionView, @Ctx() ctx: GraphQLContext) {
    return ctx.loaders.user.load(r.userId);
  }
}
