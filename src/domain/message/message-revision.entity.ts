import { Entity, Index, ManyToOne, PrimaryKey, Property } from '@mikro-orm/core';
import { User } from '../user/user.entity';
import { Message } from './message.entity';

/**
 * An earlier version of an edited message (issue 31, contract MessageRevision): written by the
 * edit that replaced it, in the edit's transaction. `editedAt`/`editor` are when and by whom that
 * version was written (the message's createdAt and sender for the original; a moderator may edit).
 * A deleted message's rows are shown to staff only; its sender's account deletion erases them.
 */
@Entity({ tableName: 'message_revisions' })
export class MessageRevision {
  @PrimaryKey({ type: 'integer', autoincrement: true })
  id!: number;

  @Index()
  @ManyToOne(() => Message, { deleteRule: 'cascade' })
  message!: Message;

  @Property({ type: 'text' })
  content!: string;

  @Property({ type: 'datetime' })
  editedAt!: Date;

  @ManyToOne(() => User, { nullable: true, deleteRule: 'set null' })
  editor?: User | null;
}
