import { Field, ID, Int, ObjectType } from 'type-graphql';
import { DateTimeScalar } from '../scalars';
import { ConversationType } from './conversation.type';
import { PresenceStatus } from './enums';
import { UserType } from './user.type';

@ObjectType('AuthPayload')
export class AuthPayloadType {
  @Field(() => String) accessToken!: string;
  @Field(() => String) refreshToken!: string;
  @Field(() => DateTimeScalar) accessTokenExpiresAt!: Date;
  @Field(() => UserType) user!: UserType;
}

/** Source: `{conversationId, count}`; the conversation is resolved. */
@ObjectType('UnreadByConversation')
export class UnreadByConversationType {
  @Field(() => Int) count!: number;
  conversationId!: number;
}

/** Source: `{senderId, count}`; the sender is resolved. */
@ObjectType('UnreadBySender')
export class UnreadBySenderType {
  @Field(() => Int) count!: number;
  senderId!: number;
}

@ObjectType('UnreadSummary')
export class UnreadSummaryType {
  @Field(() => Int) total!: number;
}

/** Source: the typing domain event. */
@ObjectType('TypingEvent')
export class TypingEventType {
  @Field(() => ID) conversationId!: number;
  @Field(() => Boolean) isTyping!: boolean;
  userId!: number;
}

/** Source: the presence domain event. */
@ObjectType('PresenceEvent')
export class PresenceEventType {
  @Field(() => PresenceStatus) status!: PresenceStatus;
  @Field(() => DateTimeScalar, { nullable: true }) lastSeenAt!: string | null;
  userId!: number;
}

/** Source: the read-receipt domain event. */
@ObjectType('ReadReceiptEvent')
export class ReadReceiptEventType {
  @Field(() => ID) conversationId!: number;
  @Field(() => Int) lastReadSeq!: number;
  @Field(() => DateTimeScalar) readAt!: string;
  userId!: number;
}

@ObjectType('MessageDeletedEvent')
export class MessageDeletedEventType {
  @Field(() => ID) conversationId!: number;
  @Field(() => ID) messageId!: number;
  @Field(() => Int) seq!: number;
  @Field(() => DateTimeScalar) deletedAt!: string;
}

export { ConversationType };
