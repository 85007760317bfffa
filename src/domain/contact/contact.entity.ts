import { OptionalProps, Entity, Enum, Index, ManyToOne, PrimaryKey, Property, Unique } from '@mikro-orm/core';
import { User } from '../user/user.entity';

export enum ContactStatus {
  PENDING = 'PENDING',
  ACCEPTED = 'ACCEPTED',
  DECLINED = 'DECLINED',
  BLOCKED = 'BLOCKED',
}

/** A connection between two users (seed 000): request, accept, decline, block. */
@Entity({ tableName: 'contacts' })
@Unique({ properties: ['requester', 'addressee'] })
@Index({ properties: ['addressee', 'status'] })
export class Contact {
  [OptionalProps]?: 'createdAt' | 'updatedAt';

  @PrimaryKey({ type: 'integer', autoincrement: true })
  id!: number;

  @ManyToOne(() => User, { deleteRule: 'cascade' })
  requester!: User;

  @ManyToOne(() => User, { deleteRule: 'cascade' })
  addressee!: User;

  @Enum({ items: () => ContactStatus, nativeEnumName: 'contact_status' })
  status!: ContactStatus;

  @Property({ type: 'datetime' })
  createdAt: Date = new Date();

  @Property({ type: 'datetime', onUpdate: () => new Date() })
  updatedAt: Date = new Date();
}
