import { Arg, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import type { GraphQLContext } from '../context';
import { PushDeviceType, RegisterPushDeviceInput } from '../types/push.type';

/** Contract "Push notifications and webhooks": the viewer's push devices (issue 34 delivers to them). */
@Resolver(() => PushDeviceType)
export class PushDeviceResolver {
  @Query(() => [PushDeviceType], { description: "The viewer's push devices, oldest first" })
  pushDevices(@Ctx() ctx: GraphQLContext) {
    return ctx.services.pushDevices.list(ctx.scope());
  }

  @Mutation(() => PushDeviceType, { description: 'Idempotent per FCM token / Web Push endpoint; registering one held by another user moves it to the viewer' })
  async registerPushDevice(@Arg('input', () => RegisterPushDeviceInput) input: RegisterPushDeviceInput, @Ctx() ctx: GraphQLContext) {
    return (await ctx.services.pushDevices.register(ctx.scope(), { platform: input.platform, fcmToken: input.fcmToken, webPush: input.webPush ? { ...input.webPush } : null, name: input.name })).device;
  }

  @Mutation(() => Boolean, { description: "NOT_FOUND for a device that is not the viewer's" })
  unregisterPushDevice(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext) {
    return ctx.services.pushDevices.unregister(ctx.scope(), id);
  }
}
