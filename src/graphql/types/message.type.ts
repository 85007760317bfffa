import { Field, ID, Int, ObjectType } from 'type-graphql';
import { DateTimeScalar } from '../scalars';
import { MessageKind } from './enums';
import { connectionOf } from './page.type';

/** Contract type Message. The source object is a MessageView (plain data shared with events). */
@ObjectType('Message')
export class MessageType {
  @Field(() => ID) id!: number;
  @Field(() => ID) conversationId!: number;
  @Field(() => Int, { description: '1, 2, 3... per conversation, gap-free, assigned at commit; the order of truth' }) seq!: number;
  @Field(() => String, { nullable: true, description: "The sender's idempotency key, echoed back" }) clientMessageId!: string | null;
  @Field(() => MessageKind) kind!: MessageKind;
  @Field(() => String, { description: '"" once deleted' }) content!: string;
  @Field(() => DateTimeScalar) createdAt!: string;
  @Field(() => DateTimeScalar, { nullable: true }) editedAt!: string | null;
  @Field(() => DateTimeScalar, { nullable: true }) deletedAt!: string | null;
}

/** Contract type Attachment. The source object is the Attachment entity. */
@ObjectType('Attachment')
export class AttachmentType {
  @Field(() => ID) id!: number;
  @Field(() => String) fileName!: string;
  @Field(() => String, { description: 'Sniffed from the bytes, not taken from the client; for an external link (isExternal), guessed from fileName' })
  mimeType!: string;
  @Field(() => Int, { nullable: true }) width?: number | null;
  @Field(() => Int, { nullable: true }) height?: number | null;
  @Field(() => DateTimeScalar) createdAt!: Date;
}

/** Contract type MessageRevision (issue 31): a version of a message; the source object is a RevisionView. */
@ObjectType('MessageRevision')
export class MessageRevisionType {
  @Field(() => String, { description: 'The text as it was' }) content!: string;
  @Field(() => DateTimeScalar, { description: "When this version was written (the first: the message's createdAt)" }) editedAt!: string;
}

export const MessageConnection = connectionOf(MessageType, 'Message');
