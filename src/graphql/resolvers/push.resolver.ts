import { Arg, Ctx, Extensions, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { Membership } from '../../domain/conversation/membership.entity';
import { NotificationLevel, notificationLevelOf } from '../../domain/push/push.policy';
import { refId } from '../../domain/shared/refs';
import { MembershipType } from '../types/conversation.type';
import { MAX_DEVICES_PER_USER } from '../../domain/push/push-device.service';
import { MAX_ITEMS } from '../../security/query-cost';
import type { GraphQLContext } from '../context';
import { PushDeviceType, RegisterPushDeviceInput } from '../types/push.type';

/** Contract "Push notifications and webhooks": the viewer's push devices (issue 34 delivers to them). */
@Resolver(() => PushDeviceType)
export class PushDeviceResolver {
  @Query(() => [PushDeviceType], { description: "The viewer's push devices, oldest first" })
  @Extensions({ [MAX_ITEMS]: MAX_DEVICES_PER_USER })
  pushDevices(@Ctx() ctx: GraphQLContext) {
    return ctx.services.pushDevices.list(ctx.scope());
  }

  @Mutation(() => PushDeviceType, { description: 'Idempotent per FCM token / Web Push endpoint; registering one held by another user moves it to the viewer' })
  async registerPushDevice(@Arg('input', () => RegisterPushDeviceInput) input: RegisterPushDeviceInput, @Ctx() ctx: GraphQLContext) {
    return (
      await ctx.services.pushDevices.register(ctx.scope(), {
        platform: input.platform,
        fcmToken: input.fcmToken,
        webPush: input.webPush ? { ...input.webPush } : null,
        name: input.name,
      })
    ).device;
  }

  @Query(() => String, { nullable: true, description: 'VAPID public key for PushManager.subscribe; null when Web Push is not configured' })
  webPushPublicKey(@Ctx() ctx: GraphQLContext) {
    return ctx.services.pushDevices.webPushPublicKey();
  }

  @Mutation(() => MembershipType, { description: "The viewer's level in a conversation they are a member of; muting never hides messages, only pushes" })
  setNotificationLevel(
    @Arg('conversationId', () => ID) conversationId: string,
    @Arg('level', () => NotificationLevel) level: NotificationLevel,
    @Ctx() ctx: GraphQLContext,
  ) {
    return ctx.services.notificationLevels.set(ctx.scope(), conversationId, level);
  }

  @Mutation(() => Boolean, { description: "NOT_FOUND for a device that is not the viewer's" })
  unregisterPushDevice(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext) {
    return ctx.services.pushDevices.unregister(ctx.scope(), id);
  }
}

/** Membership.notificationLevel (issue 34): the member's level, or the conversation kind's default. */
@Resolver(() => MembershipType)
export class MembershipPushResolver {
  @FieldResolver(() => NotificationLevel, {
    description: "What reaches the member's devices while offline; default ALL (DIRECT, GROUP, SUPPORT) or MENTIONS (ROOM)",
  })
  async notificationLevel(@Root() m: Membership, @Ctx() ctx: GraphQLContext): Promise<NotificationLevel> {
    if (m.notificationLevel) return notificationLevelOf(m.conversation?.kind, m.notificationLevel);
    const conversation = await ctx.loaders.conversation.load(refId(m.conversation));
    return notificationLevelOf(conversation!.kind, null);
  }
}
