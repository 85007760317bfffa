import { Arg, Ctx, Extensions, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { MessageView } from '../../domain/shared/events';
import type { ThreadView } from '../../domain/message/thread.service';
import { PAGE_MAX } from '../../domain/shared/pagination';
import { DEFAULT_ITEMS, MAX_ITEMS } from '../../security/query-cost';
import { nextTurn } from '../../domain/shared/turns';
import type { GraphQLContext } from '../context';
import { DateTimeScalar } from '../scalars';
import { MessageConnection, MessageType } from '../types/message.type';
import { ThreadConnection, ThreadType } from '../types/thread.type';
import { UserType } from '../types/user.type';

/** Most participants a Thread lists (its `first` argument's cap). */
const PARTICIPANTS_MAX = 20;

/**
 * Contract (issue 32, "Threads and seen by"): threadReplies, threads, followThread,
 * markThreadRead, and Message.threadRootId/thread. The rules are ThreadService's (and
 * MessageService.send's for replies).
 */
@Resolver(() => ThreadType)
export class ThreadResolver {
  @Extensions({ [MAX_ITEMS]: PAGE_MAX, [DEFAULT_ITEMS]: 50 })
  @Query(() => MessageConnection, { description: "A thread's replies, ascending seq (a reply's id means its root); `last` pages back from the newest" })
  async threadReplies(
    @Arg('rootId', () => ID) rootId: string,
    @Ctx() ctx: GraphQLContext,
    @Arg('first', () => Int, { nullable: true }) first?: number,
    @Arg('after', () => String, { nullable: true }) after?: string,
    @Arg('last', () => Int, { nullable: true }) last?: number,
    @Arg('before', () => String, { nullable: true }) before?: string,
  ) {
    const page = await ctx.services.threads.replies(ctx.scope(), rootId, { first, after, last, before });
    for (const r of page.replies) ctx.loaders.message.prime(r.id, r);
    await nextTurn();
    return page;
  }

  @Extensions({ [MAX_ITEMS]: PAGE_MAX, [DEFAULT_ITEMS]: 20 })
  @Query(() => ThreadConnection, {
    description:
      "The viewer's threads, newest reply first: of one conversation, or of every conversation they are a member of; followingOnly: those they follow; unreadOnly: those with replies they have not read",
  })
  threads(
    @Ctx() ctx: GraphQLContext,
    @Arg('conversationId', () => ID, { nullable: true }) conversationId?: string,
    @Arg('followingOnly', () => Boolean, { nullable: true, defaultValue: true }) followingOnly?: boolean,
    @Arg('unreadOnly', () => Boolean, { nullable: true, defaultValue: false }) unreadOnly?: boolean,
    @Arg('first', () => Int, { nullable: true, defaultValue: 20 }) first?: number,
    @Arg('after', () => String, { nullable: true }) after?: string,
  ) {
    return ctx.services.threads.list(ctx.scope(), { conversationId, followingOnly, unreadOnly, first, after });
  }

  @Mutation(() => ThreadType, { description: "Follow or stop following (also before the first reply); replies and mentions later don't override the choice" })
  followThread(@Arg('rootId', () => ID) rootId: string, @Arg('following', () => Boolean) following: boolean, @Ctx() ctx: GraphQLContext) {
    return ctx.services.threads.follow(ctx.scope(), rootId, following);
  }

  @Mutation(() => ThreadType, { description: "The viewer's thread read position, up to upToSeq (default: the newest reply); never backwards" })
  markThreadRead(@Arg('rootId', () => ID) rootId: string, @Ctx() ctx: GraphQLContext, @Arg('upToSeq', () => Int, { nullable: true }) upToSeq?: number) {
    return ctx.services.threads.markRead(ctx.scope(), rootId, upToSeq);
  }

  @FieldResolver(() => MessageType)
  root(@Root() t: ThreadView) {
    return t.root;
  }

  @FieldResolver(() => Int, { description: 'Replies not deleted' })
  replyCount(@Root() t: ThreadView) {
    return t.root.threadReplyCount ?? 0;
  }

  @FieldResolver(() => DateTimeScalar, { nullable: true })
  lastReplyAt(@Root() t: ThreadView) {
    return t.root.threadLastReplyAt ?? null;
  }

  @Extensions({ [MAX_ITEMS]: PARTICIPANTS_MAX, [DEFAULT_ITEMS]: 3 })
  @FieldResolver(() => [UserType], { description: `The root's author and the repliers, most recent first; at most ${PARTICIPANTS_MAX}` })
  async participants(@Root() t: ThreadView, @Ctx() ctx: GraphQLContext, @Arg('first', () => Int, { nullable: true, defaultValue: 3 }) first?: number) {
    const n = Math.max(0, Math.min(first ?? 3, PARTICIPANTS_MAX));
    if (!n) return [];
    const ids = await ctx.loaders.threadParticipants.load(`${t.root.id}:${n}`);
    return (await ctx.loaders.user.loadMany(ids)).filter((u) => u && !(u instanceof Error));
  }

  @Extensions({ perViewer: true })
  @FieldResolver(() => Boolean, { description: 'For the viewer' })
  async isFollowing(@Root() t: ThreadView, @Ctx() ctx: GraphQLContext) {
    return (await ctx.loaders.threadState.load(t.root.id)).following;
  }

  @Extensions({ perViewer: true })
  @FieldResolver(() => Int, {
    description: "For the viewer: others' replies after their thread read position (never their own; reading the main timeline does not clear it)",
  })
  async unreadReplyCount(@Root() t: ThreadView, @Ctx() ctx: GraphQLContext) {
    return (await ctx.loaders.threadState.load(t.root.id)).unread;
  }
}

/** Message.threadRootId and Message.thread (issue 32). */
@Resolver(() => MessageType)
export class MessageThreadResolver {
  @FieldResolver(() => ID, { nullable: true, description: 'Set on a thread reply' })
  threadRootId(@Root() m: MessageView) {
    return m.threadRootId ?? null;
  }

  @FieldResolver(() => ThreadType, { nullable: true, description: 'Set on a thread root (a message that has had a reply)' })
  thread(@Root() m: MessageView): ThreadView | null {
    return m.threadLastReplyAt ? { root: m } : null;
  }
}
