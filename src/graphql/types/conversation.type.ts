import { Field, ID, Int, ObjectType } from 'type-graphql';
import { DateTimeScalar } from '../scalars';
import { ConversationKind, MemberRole, RoomVisibility } from './enums';
import { connectionOf } from './page.type';

/** Contract type Conversation. The source object is the Conversation entity; relations are resolved with loaders. */
@ObjectType('Conversation')
export class ConversationType {
  @Field(() => ID) id!: number;
  @Field(() => ConversationKind) kind!: ConversationKind;
  @Field(() => String, { nullable: true }) name?: string | null;
  @Field(() => String, { nullable: true }) description?: string | null;
  @Field(() => RoomVisibility, { nullable: true, description: 'ROOM only' }) visibility?: RoomVisibility | null;
  @Field(() => Int, { nullable: true, description: 'ROOM only, default 50' }) maxMembers?: number | null;
  @Field(() => DateTimeScalar) createdAt!: Date;
  @Field(() => DateTimeScalar) updatedAt!: Date;
  @Field(() => DateTimeScalar, { description: 'Time of the last message, or createdAt' }) lastActivityAt!: Date;
  @Field(() => Int, { description: 'Highest message seq in this conversation (0 when empty)' }) lastSeq!: number;
}

/** Contract type Membership. The source object is the Membership entity. */
@ObjectType('Membership')
export class MembershipType {
  @Field(() => ID) id!: number;
  @Field(() => MemberRole) role!: MemberRole;
  @Field(() => String, { nullable: true }) nickname?: string | null;
  @Field(() => DateTimeScalar) joinedAt!: Date;
  @Field(() => DateTimeScalar, { nullable: true }) lastReadAt?: Date | null;
  @Field(() => Int, { description: 'Highest conversation seq this member has read' }) lastReadSeq!: number;
  @Field(() => Boolean) isMuted!: boolean;
  @Field(() => Boolean) isBanned!: boolean;
}

export const ConversationConnection = connectionOf(ConversationType, 'Conversation');
