import { Extensions, Field, ID, Int, ObjectType } from 'type-graphql';
import { WEBHOOK_EVENT_TYPES } from '../../domain/webhook/webhook-events';
import { MAX_ITEMS } from '../../security/query-cost';
import { DateTimeScalar } from '../scalars';

/** Contract type Webhook (issue 34). The source object is a WebhookView. */
@ObjectType('Webhook')
export class WebhookType {
  @Field(() => ID) id!: number;
  @Field(() => String) url!: string;
  @Field(() => [String], {
    description: 'message.created, message.updated, message.deleted, conversation.created, member.added, member.removed, user.deleted; [] = all',
  })
  @Extensions({ [MAX_ITEMS]: WEBHOOK_EVENT_TYPES.length })
  eventTypes!: string[];
  @Field(() => Boolean) isEnabled!: boolean;
  @Field(() => DateTimeScalar) createdAt!: Date;
  @Field(() => DateTimeScalar, { nullable: true }) lastSuccessAt?: Date | null;
  @Field(() => DateTimeScalar, { nullable: true }) lastFailureAt?: Date | null;
  @Field(() => Int, { description: 'Deliveries failed for good (schedule spent, 410, refused address) since the last success' })
  consecutiveFailures!: number;
}

/** Contract type WebhookWithSecret: the secret (whsec_...) is shown only here. */
@ObjectType('WebhookWithSecret')
export class WebhookWithSecretType {
  @Field(() => WebhookType) webhook!: WebhookType;
  @Field(() => String, { description: 'whsec_<base64>: verify webhook-signature with it (docs/webhooks.md); shown only here' }) secret!: string;
}
