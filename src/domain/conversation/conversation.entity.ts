import { OptionalProps, Entity, Enum, Index, ManyToOne, PrimaryKey, Property, Unique } from '@mikro-orm/core';
import { User } from '../user/user.entity';

export enum ConversationKind {
  DIRECT = 'DIRECT',
  GROUP = 'GROUP',
  ROOM = 'ROOM',
  SUPPORT = 'SUPPORT',
}
export enum RoomVisibility {
  PUBLIC = 'PUBLIC',
  PRIVATE = 'PRIVATE',
}
export enum MemberRole {
  OWNER = 'OWNER',
  ADMIN = 'ADMIN',
  MEMBER = 'MEMBER',
}

/** Default room capacity (seed 003 `max_members`). */
export const DEFAULT_MAX_MEMBERS = 50;

/**
 * A conversation of one of four kinds (architecture.md): DIRECT (two members, one per pair),
 * GROUP (seed 001, seed 003 room_type=group), ROOM (seed 003 public/private), SUPPORT (seed 002).
 */
@Entity({ tableName: 'conversations' })
@Index({ properties: ['lastActivityAt', 'id'] })
export class Conversation {
  [OptionalProps]?: 'lastSeq' | 'threadOnlyCount' | 'changeSeq' | 'lastActivityAt' | 'createdAt' | 'updatedAt';

  @PrimaryKey({ type: 'integer', autoincrement: true })
  id!: number;

  @Enum({ items: () => ConversationKind, nativeEnumName: 'conversation_kind' })
  kind!: ConversationKind;

  @Property({ type: 'string', length: 255, nullable: true })
  name?: string | null;

  @Property({ type: 'text', nullable: true })
  description?: string | null;

  @Enum({ items: () => RoomVisibility, nativeEnumName: 'room_visibility', nullable: true })
  visibility?: RoomVisibility | null;

  @Property({ type: 'integer', nullable: true })
  maxMembers?: number | null;

  @ManyToOne(() => User, { nullable: true, deleteRule: 'set null' })
  createdBy?: User | null;

  /** SUPPORT only: the customer; one SUPPORT conversation per customer. */
  @ManyToOne(() => User, { nullable: true, unique: true, deleteRule: 'cascade' })
  customer?: User | null;

  /** DIRECT only: "<smaller user id>:<larger user id>", unique, so a pair has one DIRECT. */
  @Unique()
  @Property({ type: 'string', length: 64, nullable: true })
  directKey?: string | null;

  /** Highest message seq given out; the next message gets lastSeq + 1 in its insert's transaction. */
  @Property({ type: 'integer', default: 0 })
  lastSeq: number = 0;

  /** Issue 32: how many of its seqs are thread-only replies (not in the main timeline). */
  @Property({ type: 'integer', default: 0 })
  threadOnlyCount: number = 0;

  /** Change counter: bumped by every message insert, edit and delete (drives messagesSince). */
  @Property({ type: 'integer', default: 0 })
  changeSeq: number = 0;

  @Property({ type: 'datetime' })
  lastActivityAt: Date = new Date();

  /** When an OWNER/ADMIN or staff archived it (seed 003 `is_active: false`); null: active. Archived: readable, no sends, joins or edits. */
  @Property({ type: 'datetime', nullable: true })
  archivedAt?: Date | null;

  @Property({ type: 'datetime' })
  createdAt: Date = new Date();

  @Property({ type: 'datetime', onUpdate: () => new Date() })
  updatedAt: Date = new Date();
}

/** The {@link Conversation.directKey} of the DIRECT chat between two users: "<smaller id>:<larger id>". */
export function directKeyOf(a: number, b: number): string {
  return a < b ? `${a}:${b}` : `${b}:${a}`;
}
