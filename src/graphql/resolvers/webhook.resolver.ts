import { Arg, Ctx, Extensions, ID, Mutation, Query, Resolver } from 'type-graphql';
import { MAX_WEBHOOKS } from '../../domain/webhook/webhook.service';
import { MAX_ITEMS } from '../../security/query-cost';
import type { GraphQLContext } from '../context';
import { WebhookType, WebhookWithSecretType } from '../types/webhook.type';

/** Contract "Push notifications and webhooks": webhooks (issue 34), staff only (FORBIDDEN otherwise). */
@Resolver(() => WebhookType)
export class WebhookResolver {
  @Query(() => [WebhookType], { description: 'Staff only' })
  @Extensions({ [MAX_ITEMS]: MAX_WEBHOOKS })
  webhooks(@Ctx() ctx: GraphQLContext) {
    return ctx.services.webhooks.list(ctx.scope());
  }

  @Mutation(() => WebhookWithSecretType, { description: 'Staff only; the URL must be https:// and resolve only to public addresses' })
  createWebhook(@Arg('url', () => String) url: string, @Arg('eventTypes', () => [String]) eventTypes: string[], @Ctx() ctx: GraphQLContext) {
    return ctx.services.webhooks.create(ctx.scope(), { url, eventTypes });
  }

  @Mutation(() => WebhookType, { description: 'Staff only; re-enabling clears consecutiveFailures' })
  updateWebhook(
    @Arg('id', () => ID) id: string,
    @Arg('url', () => String, { nullable: true }) url: string | null,
    @Arg('eventTypes', () => [String], { nullable: true }) eventTypes: string[] | null,
    @Arg('isEnabled', () => Boolean, { nullable: true }) isEnabled: boolean | null,
    @Ctx() ctx: GraphQLContext,
  ) {
    return ctx.services.webhooks.update(ctx.scope(), id, { url, eventTypes, isEnabled });
  }

  @Mutation(() => WebhookWithSecretType, { description: 'Staff only; the old secret keeps signing for WEBHOOK_SECRET_OVERLAP_S' })
  rotateWebhookSecret(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext) {
    return ctx.services.webhooks.rotateSecret(ctx.scope(), id);
  }

  @Mutation(() => Boolean, { description: 'Staff only; its pending deliveries are dropped' })
  deleteWebhook(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext) {
    return ctx.services.webhooks.delete(ctx.scope(), id);
  }
}
