import { Arg, Ctx, Extensions, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { fullNameOf, type User } from '../../domain/user/user.entity';
import type { GraphQLContext } from '../context';
import { PresenceStatus } from '../types/enums';
import { DateTimeScalar } from '../scalars';
import { UserConnection, UserType } from '../types/user.type';

/** Contract: me, user, users, setUserStaff, and User's computed fields. */
@Resolver(() => UserType)
export class UserResolver {
  @Query(() => UserType)
  me(@Ctx() ctx: GraphQLContext) {
    return ctx.services.users.me(ctx.scope());
  }

  @Query(() => UserType, { nullable: true })
  user(
    @Ctx() ctx: GraphQLContext,
    @Arg('id', () => ID, { nullable: true }) id?: string,
    @Arg('username', () => String, { nullable: true }) username?: string,
  ) {
    return ctx.services.users.find(ctx.scope(), { id, username });
  }

  @Query(() => UserConnection)
  users(
    @Ctx() ctx: GraphQLContext,
    @Arg('search', () => String, { nullable: true }) search?: string,
    @Arg('first', () => Int, { nullable: true, defaultValue: 20 }) first?: number,
    @Arg('after', () => String, { nullable: true }) after?: string,
  ) {
    return ctx.services.users.search(ctx.scope(), { search, first, after });
  }

  @Mutation(() => UserType, { description: 'Staff only' })
  setUserStaff(@Arg('userId', () => ID) userId: string, @Arg('isStaff', () => Boolean) isStaff: boolean, @Ctx() ctx: GraphQLContext) {
    return ctx.services.users.setStaff(ctx.scope(), userId, isStaff);
  }

  @FieldResolver(() => String, { description: '"first last", or username when both are empty' })
  fullName(@Root() user: User) {
    return fullNameOf(user);
  }

  @Extensions({ perViewer: true })
  @FieldResolver(() => PresenceStatus, { description: 'OFFLINE for a user the viewer blocked or is blocked by' })
  async presence(@Root() user: User, @Ctx() ctx: GraphQLContext) {
    if ((await ctx.blockedIds()).has(user.id) || !(await ctx.services.presence.isOnline(user.id))) return PresenceStatus.OFFLINE;
    return PresenceStatus.ONLINE;
  }

  @Extensions({ perViewer: true })
  @FieldResolver(() => DateTimeScalar, { nullable: true, description: 'Null for a user the viewer blocked or is blocked by' })
  async lastSeenAt(@Root() user: User, @Ctx() ctx: GraphQLContext) {
    return (await ctx.blockedIds()).has(user.id) ? null : user.lastSeenAt ?? null;
  }
}
