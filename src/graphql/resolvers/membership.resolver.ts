import { Ctx, FieldResolver, Int, Resolver, Root } from 'type-graphql';
import type { Membership } from '../../domain/conversation/membership.entity';
import type { GraphQLContext } from '../context';
import { MembershipType } from '../types/conversation.type';
import { UserType } from '../types/user.type';

/** Membership's resolved fields. */
@Resolver(() => MembershipType)
export class MembershipResolver {
  @FieldResolver(() => UserType)
  user(@Root() m: Membership, @Ctx() ctx: GraphQLContext) {
    return ctx.loaders.user.load(typeof m.user === 'object' ? m.user.id : Number(m.user));
  }

  @FieldResolver(() => Int)
  unreadCount(@Root() m: Membership, @Ctx() ctx: GraphQLContext) {
    return ctx.loaders.unread.load(m.id);
  }
}
