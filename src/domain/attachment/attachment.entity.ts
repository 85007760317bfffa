import { OptionalProps, Check, Entity, Index, ManyToOne, PrimaryKey, Property } from '@mikro-orm/core';
import { Message } from '../message/message.entity';
import { User } from '../user/user.entity';

/**
 * A file attached to a message. Two kinds of row (constraint `attachments_stored_or_external`):
 * - **stored** (uploads, seeds 001/004 and GraphQL: 10 MB, images and videos): the bytes live in
 *   storage under `storageKey`; `mimeType` is sniffed from them and `size` is what was stored;
 *   served at `/media/<id>`. A seed-003 `file_url` naming this server's own media makes a stored
 *   row too, sharing the source's bytes (same `storageKey`, never copied or deleted by it);
 * - **external** (seed 003 `file_url` of another site): `externalUrl` is the sender's http(s) link,
 *   never fetched by this server; no `storageKey`, no thumbnail, no dimensions; `size` is the
 *   sender's claim (`file_size`, null when not given) and `mimeType` a guess from `fileName`.
 *   `/media/<id>` answers 404 for it: the link is the file.
 *
 * A stored row without a message (`message` null) is an **upload** (seed 003 note 7, "upload first
 * to get a URL, then send the message"): only its uploader may link it, in a later file message,
 * which then takes the row; unlinked ones are purged after UPLOAD_ORPHAN_TTL.
 */
@Entity({ tableName: 'attachments' })
@Check({
  name: 'attachments_stored_or_external',
  // As PostgreSQL prints it back (so the schema comparison finds no difference); the migration wrote it.
  expression: '((storage_key IS NOT NULL) AND (external_url IS NULL) AND (size IS NOT NULL)) OR ((storage_key IS NULL) AND (external_url IS NOT NULL))',
})
export class Attachment {
  [OptionalProps]?: 'createdAt';

  @PrimaryKey({ type: 'integer', autoincrement: true })
  id!: number;

  @Index()
  @ManyToOne(() => Message, { deleteRule: 'cascade', nullable: true })
  message?: Message | null;

  @ManyToOne(() => User, { nullable: true, deleteRule: 'set null' })
  uploader?: User | null;

  @Property({ type: 'string', length: 255 })
  fileName!: string;

  /** Stored: sniffed from the bytes. External: guessed from the file name's extension (application/octet-stream when unknown). */
  @Property({ type: 'string', length: 127 })
  mimeType!: string;

  /** Bytes. Stored: measured. External: as the sender declared it (null: not given). */
  @Property({ type: 'integer', nullable: true })
  size?: number | null;

  @Property({ type: 'integer', nullable: true })
  width?: number | null;

  @Property({ type: 'integer', nullable: true })
  height?: number | null;

  /** Stored rows only (null for external ones). */
  @Property({ type: 'string', length: 255, nullable: true })
  storageKey?: string | null;

  @Property({ type: 'string', length: 255, nullable: true })
  thumbnailKey?: string | null;

  /** External rows only: the sender's http(s) link (WHATWG-serialised, at most 2048 characters), never fetched. */
  @Property({ type: 'string', length: 2048, nullable: true })
  externalUrl?: string | null;

  @Property({ type: 'datetime' })
  createdAt: Date = new Date();
}
