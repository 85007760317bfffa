import { OptionalProps, Entity, Index, ManyToOne, PrimaryKey, Property } from '@mikro-orm/core';
import { Message } from '../message/message.entity';
import { User } from '../user/user.entity';

/** A file attached to a message (seed 004: 10 MB, images and videos). Bytes live in storage under `storageKey`. */
@Entity({ tableName: 'attachments' })
export class Attachment {
  [OptionalProps]?: 'createdAt';

  @PrimaryKey({ type: 'integer', autoincrement: true })
  id!: number;

  @Index()
  @ManyToOne(() => Message, { deleteRule: 'cascade' })
  message!: Message;

  @ManyToOne(() => User, { nullable: true, deleteRule: 'set null' })
  uploader?: User | null;

  @Property({ type: 'string', length: 255 })
  fileName!: string;

  /** Sniffed from the bytes. */
  @Property({ type: 'string', length: 127 })
  mimeType!: string;

  /** Bytes. */
  @Property({ type: 'integer' })
  size!: number;

  @Property({ type: 'integer', nullable: true })
  width?: number | null;

  @Property({ type: 'integer', nullable: true })
  height?: number | null;

  @Property({ type: 'string', length: 255 })
  storageKey!: string;

  @Property({ type: 'string', length: 255, nullable: true })
  thumbnailKey?: string | null;

  @Property({ type: 'datetime' })
  createdAt: Date = new Date();
}
