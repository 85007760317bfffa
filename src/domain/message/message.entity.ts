import { OptionalProps, Entity, Enum, Index, ManyToOne, PrimaryKey, Property, Unique } from '@mikro-orm/core';
import { Conversation } from '../conversation/conversation.entity';
import { User } from '../user/user.entity';

export enum MessageKind {
  TEXT = 'TEXT',
  IMAGE = 'IMAGE',
  FILE = 'FILE',
  SYSTEM = 'SYSTEM',
}

/**
 * One message. `seq` is per conversation, gap-free, assigned in the insert's transaction.
 * `createdChange`/`changeSeq` are the conversation's change counter at insert and at the last change.
 */
@Entity({ tableName: 'messages' })
@Unique({ properties: ['conversation', 'seq'] })
@Unique({ properties: ['sender', 'clientMessageId'] })
@Index({ properties: ['conversation', 'changeSeq'] })
export class Message {
  [OptionalProps]?: 'kind' | 'createdAt' | 'mentionIds' | 'threadOnly' | 'threadReplyCount';

  @PrimaryKey({ type: 'integer', autoincrement: true })
  id!: number;

  @ManyToOne(() => Conversation, { deleteRule: 'cascade' })
  conversation!: Conversation;

  @Property({ type: 'integer' })
  seq!: number;

  /** Null for SYSTEM messages. */
  @ManyToOne(() => User, { nullable: true, deleteRule: 'set null' })
  sender?: User | null;

  /** SYSTEM messages: the user whose action it reports ("alice added bob"); null for others and when unknown. */
  @ManyToOne(() => User, { nullable: true, deleteRule: 'set null' })
  actor?: User | null;

  @Enum({ items: () => MessageKind, nativeEnumName: 'message_kind', default: MessageKind.TEXT })
  kind: MessageKind = MessageKind.TEXT;

  @Property({ type: 'text' })
  content!: string;

  @ManyToOne(() => Message, { nullable: true, deleteRule: 'set null' })
  replyTo?: Message | null;

  /** The sender's idempotency key; unique per sender. */
  @Property({ type: 'string', length: 128, nullable: true })
  clientMessageId?: string | null;

  @Property({ type: 'integer' })
  createdChange!: number;

  @Property({ type: 'integer' })
  changeSeq!: number;

  @Property({ type: 'datetime' })
  createdAt: Date = new Date();

  @Property({ type: 'datetime', nullable: true })
  editedAt?: Date | null;

  @Property({ type: 'datetime', nullable: true })
  deletedAt?: Date | null;

  /** When it last changed other than by creation, edit or deletion (a reaction; issue 31): the outage replay reads it. */
  @Property({ type: 'datetime', nullable: true })
  changedAt?: Date | null;

  /** Ids of the members named with `@username` in the content (seed 003 mentions), in order of appearance. */
  @Property({ type: 'json', default: '[]' })
  mentionIds: number[] = [];

  /** Issue 31: who wrote the current version when it is an edit (a moderator may edit); null: its sender. */
  @ManyToOne(() => User, { nullable: true, deleteRule: 'set null' })
  editedBy?: User | null;

  /** Issue 31: pinned (when, by whom); a deleted message is unpinned. */
  @Property({ type: 'datetime', nullable: true })
  pinnedAt?: Date | null;

  @ManyToOne(() => User, { nullable: true, deleteRule: 'set null' })
  pinnedBy?: User | null;

  /** Issue 31: the original of a forwarded copy. */
  @ManyToOne(() => Message, { nullable: true, deleteRule: 'set null' })
  forwardedFrom?: Message | null;

  /** Issue 32: a thread reply's root (null: not a reply in a thread). */
  @ManyToOne(() => Message, { nullable: true, deleteRule: 'set null' })
  threadRoot?: Message | null;

  /** Issue 32: a thread reply shown only in its thread (not sent with alsoSendToConversation): not in the main timeline. */
  @Property({ type: 'boolean', default: false })
  threadOnly: boolean = false;

  /** Issue 32, on a thread root: its replies not deleted, and its newest reply (when, which seq); written in the reply's transaction. */
  @Property({ type: 'integer', default: 0 })
  threadReplyCount: number = 0;

  @Property({ type: 'datetime', nullable: true })
  threadLastReplyAt?: Date | null;

  @Property({ type: 'integer', nullable: true })
  threadLastReplySeq?: number | null;
}
