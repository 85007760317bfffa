import { OptionalProps, Entity, Enum, Index, ManyToOne, PrimaryKey, Property } from '@mikro-orm/core';
import { Conversation } from '../conversation/conversation.entity';
import { Message } from '../message/message.entity';
import { User } from '../user/user.entity';

export enum NotificationKind {
  MESSAGE = 'MESSAGE',
  MENTION = 'MENTION',
  ROOM_INVITE = 'ROOM_INVITE',
  SYSTEM = 'SYSTEM',
}

/** Something a user should know about (seed 003 notifications). */
@Entity({ tableName: 'notifications' })
@Index({ properties: ['user', 'readAt'] })
@Index({ properties: ['user', 'id'] })
export class Notification {
  [OptionalProps]?: 'createdAt';

  @PrimaryKey({ type: 'integer', autoincrement: true })
  id!: number;

  @ManyToOne(() => User, { deleteRule: 'cascade' })
  user!: User;

  @Enum({ items: () => NotificationKind, nativeEnumName: 'notification_kind' })
  kind!: NotificationKind;

  @Property({ type: 'string', length: 255 })
  title!: string;

  @Property({ type: 'text' })
  body!: string;

  @ManyToOne(() => Conversation, { nullable: true, deleteRule: 'cascade' })
  conversation?: Conversation | null;

  @ManyToOne(() => Message, { nullable: true, deleteRule: 'cascade' })
  message?: Message | null;

  @Property({ type: 'datetime', nullable: true })
  readAt?: Date | null;

  @Property({ type: 'datetime' })
  createdAt: Date = new Date();
}
