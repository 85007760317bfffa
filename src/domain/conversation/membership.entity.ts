import { OptionalProps, Entity, Enum, Index, ManyToOne, PrimaryKey, Property, Unique } from '@mikro-orm/core';
import { User } from '../user/user.entity';
import { Conversation, MemberRole } from './conversation.entity';

/**
 * A user's place in a conversation. A member who leaves or is removed keeps the row with
 * `leftAt` set (history, rejoin); a banned member keeps it with `isBanned`. Active = not left, not banned.
 */
@Entity({ tableName: 'memberships' })
@Unique({ properties: ['conversation', 'user'] })
@Index({ properties: ['user', 'leftAt'] })
export class Membership {
  [OptionalProps]?: 'role' | 'joinedAt' | 'lastReadSeq' | 'isMuted' | 'isBanned';

  @PrimaryKey({ type: 'integer', autoincrement: true })
  id!: number;

  @ManyToOne(() => Conversation, { deleteRule: 'cascade' })
  conversation!: Conversation;

  @ManyToOne(() => User, { deleteRule: 'cascade' })
  user!: User;

  @Enum({ items: () => MemberRole, nativeEnumName: 'member_role', default: MemberRole.MEMBER })
  role: MemberRole = MemberRole.MEMBER;

  @Property({ type: 'string', length: 150, nullable: true })
  nickname?: string | null;

  @Property({ type: 'datetime' })
  joinedAt: Date = new Date();

  @Property({ type: 'datetime', nullable: true })
  leftAt?: Date | null;

  /** Highest conversation seq this member has read. */
  @Property({ type: 'integer', default: 0 })
  lastReadSeq: number = 0;

  @Property({ type: 'datetime', nullable: true })
  lastReadAt?: Date | null;

  @Property({ type: 'boolean', default: false })
  isMuted: boolean = false;

  @Property({ type: 'boolean', default: false })
  isBanned: boolean = false;

  /** What reaches the member's devices (issue 34): ALL, MENTIONS or NONE; null = the kind's default (push.policy.ts notificationLevelOf). */
  @Property({ type: 'string', length: 8, nullable: true })
  notificationLevel?: 'ALL' | 'MENTIONS' | 'NONE' | null;
}
