import { Arg, Args, Ctx, Extensions, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { fullNameOf, type User } from '../../domain/user/user.entity';
import type { AvatarFields } from '../../domain/user/avatar.service';
import { PrivacySettingsInput, SetAvatarArgs, UpdateProfileInput, UserAttributesInput } from '../types/inputs';
import { privacyOf } from '../../domain/user/user.service';
import { presenceNeedsRelation, showsPresence, showsPrivacy, type PresenceTarget } from '../../domain/user/user.policy';
import type { GraphQLContext } from '../context';
import { PresenceStatus } from '../types/enums';
import { DateTimeScalar } from '../scalars';
import { PrivacySettingsType, UserConnection, UserType } from '../types/user.type';
import { PAGE_MAX } from '../../domain/shared/pagination';
import { MAX_ITEMS } from '../../security/query-cost';
import { MAX_IN_GAME_IDS } from '../../domain/user/profile';

/** Whether the context's viewer may see `user`'s presence and last-seen time (user.policy.ts showsPresence). */
async function presenceShown(user: PresenceTarget, ctx: GraphQLContext): Promise<boolean> {
  const viewerId = ctx.actor?.id;
  if (viewerId == null) return false;
  const blocked = (await ctx.blockedIds()).has(user.id);
  const related = !blocked && presenceNeedsRelation(viewerId, user) ? (await ctx.presenceAudience()).has(user.id) : false;
  return showsPresence(viewerId, user, { related, blocked });
}

/** Contract: me, user, users, setUserStaff, setUserAttributes, updateProfile, setAvatar, removeAvatar, and User's computed fields. */
@Resolver(() => UserType)
export class UserResolver {
  @Query(() => UserType)
  me(@Ctx() ctx: GraphQLContext) {
    return ctx.services.users.me(ctx.readScope());
  }

  @Query(() => UserType, { nullable: true })
  user(@Ctx() ctx: GraphQLContext, @Arg('id', () => ID, { nullable: true }) id?: string, @Arg('username', () => String, { nullable: true }) username?: string) {
    return ctx.services.users.find(ctx.scope(), { id, username });
  }

  @Extensions({ [MAX_ITEMS]: PAGE_MAX })
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

  @Mutation(() => UserType, {
    description: "Staff only: sets a user's role, score, rank and inGameIds (seed 004; absent fields unchanged); publishes userUpdated",
  })
  setUserAttributes(@Arg('userId', () => ID) userId: string, @Arg('input', () => UserAttributesInput) input: UserAttributesInput, @Ctx() ctx: GraphQLContext) {
    return ctx.services.users.setAttributes(ctx.scope(), userId, input);
  }

  @Mutation(() => UserType, { description: "Changes the viewer's own names (the rules of register); publishes userUpdated" })
  updateProfile(@Arg('input', () => UpdateProfileInput) input: UpdateProfileInput, @Ctx() ctx: GraphQLContext) {
    return ctx.services.users.updateProfile(ctx.scope(), input);
  }

  @Mutation(() => PrivacySettingsType, { description: "Changes the viewer's own privacy settings (omitted fields stay); publishes userUpdated" })
  updatePrivacy(@Arg('input', () => PrivacySettingsInput) input: PrivacySettingsInput, @Ctx() ctx: GraphQLContext) {
    return ctx.services.users.updatePrivacy(ctx.scope(), input);
  }

  @Extensions({ perViewer: true })
  @FieldResolver(() => PrivacySettingsType, { nullable: true, description: "The viewer's own only; null for others" })
  privacy(@Root() user: User, @Ctx() ctx: GraphQLContext) {
    return showsPrivacy(ctx.actor?.id, user.id) ? privacyOf(user) : null;
  }

  @Mutation(() => UserType, {
    description: "Sets the viewer's avatar (an image; a 150x150 thumbnail is made); the previous one's files are deleted; publishes userUpdated",
  })
  setAvatar(@Args(() => SetAvatarArgs) { file }: SetAvatarArgs, @Ctx() ctx: GraphQLContext) {
    return ctx.services.users.setAvatar(ctx.scope(), file);
  }

  @Mutation(() => UserType, { description: "Removes the viewer's avatar and its files; publishes userUpdated (nothing when there was none)" })
  removeAvatar(@Ctx() ctx: GraphQLContext) {
    return ctx.services.users.removeAvatar(ctx.scope());
  }

  @FieldResolver(() => String, {
    nullable: true,
    description: 'The avatar: a signed URL of this server (/media/avatars/..., valid at least MEDIA_URL_TTL_S seconds, for any viewer), or null',
  })
  avatarUrl(@Root() user: AvatarFields, @Ctx() ctx: GraphQLContext) {
    return ctx.services.users.avatarUrlsOf(user).url;
  }

  @FieldResolver(() => String, { nullable: true, description: "The avatar's 150x150 square thumbnail (signed like avatarUrl), or null" })
  avatarThumbnailUrl(@Root() user: AvatarFields, @Ctx() ctx: GraphQLContext) {
    return ctx.services.users.avatarUrlsOf(user).thumbnailUrl;
  }

  @FieldResolver(() => [String], { description: 'Seed 004 in_game_ids (set by staff: setUserAttributes); entries imported as objects show as their JSON' })
  @Extensions({ [MAX_ITEMS]: MAX_IN_GAME_IDS })
  inGameIds(@Root() user: Pick<User, 'inGameIds'>) {
    return (user.inGameIds ?? []).map((v) => (typeof v === 'string' ? v : JSON.stringify(v)));
  }

  @FieldResolver(() => String, { description: '"first last", or username when both are empty' })
  fullName(@Root() user: User) {
    return fullNameOf(user);
  }

  @Extensions({ perViewer: true })
  @FieldResolver(() => PresenceStatus, {
    description: "OFFLINE for a user the viewer blocked or is blocked by, and where the user's privacy.presenceVisibility hides it from the viewer",
  })
  async presence(@Root() user: User, @Ctx() ctx: GraphQLContext) {
    if (!(await presenceShown(user, ctx)) || !(await ctx.services.presence.isOnline(user.id))) return PresenceStatus.OFFLINE;
    return PresenceStatus.ONLINE;
  }

  @Extensions({ perViewer: true })
  @FieldResolver(() => DateTimeScalar, {
    nullable: true,
    description: "Null for a user the viewer blocked or is blocked by, and where the user's privacy.presenceVisibility hides it from the viewer",
  })
  async lastSeenAt(@Root() user: User, @Ctx() ctx: GraphQLContext) {
    return (await presenceShown(user, ctx)) ? (user.lastSeenAt ?? null) : null;
  }
}
