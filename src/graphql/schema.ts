import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import { createPubSub } from '@graphql-yoga/subscription';
import { buildSchemaSync } from 'type-graphql';
import { AuthResolver } from './resolvers/auth.resolver';
import { ContactResolver, NotificationResolver } from './resolvers/contact.resolver';
import { ConversationResolver } from './resolvers/conversation.resolver';
import { MembershipResolver } from './resolvers/membership.resolver';
import { AttachmentResolver, MessageResolver, UnreadByConversationResolver, UnreadBySenderResolver, UnreadSummaryResolver } from './resolvers/message.resolver';
import {
  PresenceEventResolver,
  ReadReceiptCoalescingResolver,
  ReadReceiptEventResolver,
  SubscriptionResolver,
  TypingEventResolver,
} from './resolvers/subscription.resolver';
import { UserResolver } from './resolvers/user.resolver';
import { MessageHistoryResolver, MessageRevisionResolver } from './resolvers/message-history.resolver';
import { MembershipPushResolver, PushDeviceResolver } from './resolvers/push.resolver';
import { WebhookResolver } from './resolvers/webhook.resolver';
import { SearchResolver } from './resolvers/search.resolver';
import { MessageThreadResolver, ThreadResolver } from './resolvers/thread.resolver';
import { MessageReactionResolver, ReactionResolver, ReactionSummaryResolver } from './resolvers/reaction.resolver';
import { DateTimeScalar } from './scalars';

let cached: GraphQLSchema | undefined;

/**
 * Builds (once) the executable schema from the type-graphql resolvers. Input validation lives in
 * the domain (zod), page sizes (`first`/`last`/`limit`, at most 100) included.
 */
export function buildGraphQLSchema(): GraphQLSchema {
  cached ??= buildSchemaSync({
    resolvers: [
      AuthResolver,
      UserResolver,
      ContactResolver,
      NotificationResolver,
      ConversationResolver,
      MembershipResolver,
      MessageResolver,
      MessageHistoryResolver,
      ThreadResolver,
      MessageThreadResolver,
      MessageRevisionResolver,
      UnreadByConversationResolver,
      UnreadBySenderResolver,
      UnreadSummaryResolver,
      AttachmentResolver,
      SubscriptionResolver,
      TypingEventResolver,
      ReadReceiptCoalescingResolver,
      PresenceEventResolver,
      ReadReceiptEventResolver,
      PushDeviceResolver,
      WebhookResolver,
      SearchResolver,
      MessageReactionResolver,
      ReactionSummaryResolver,
      ReactionResolver,
      MembershipPushResolver,
    ],
    scalarsMap: [{ type: Date, scalar: DateTimeScalar }],
    validate: false,
    // Required by type-graphql for the Subscription type; our subscriptions bring their own streams (realtime/).
    pubSub: createPubSub(),
  });
  return cached;
}

/** The SDL committed as schema/schema.graphql (sorted, so diffs stay small). */
export function printGraphQLSchema(): string {
  return printSchema(lexicographicSortSchema(buildGraphQLSchema())) + '\n';
}

/** Writes schema/schema.graphql. */
export function emitSchema(path: string): void {
  writeFileSync(path, printGraphQLSchema());
}
