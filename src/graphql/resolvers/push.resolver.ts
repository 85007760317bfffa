import { Arg, Ctx, Extensions, ID, Mutation, Query, Resolver } from 'type-graphql';
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

  @Mutation(() => Boolean, { description: "NOT_FOUND for a device that is not the viewer's" })
  unregisterPushDevice(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext) {
    return ctx.services.pushDevices.unregister(ctx.scope(), id);
  }
}
