import { Entity, OptionalProps, PrimaryKey, Property } from '@mikro-orm/core';

/**
 * The lower-case username of a deleted account (issue 18): nobody registers it again, so no one
 * can pass for the person others talked to. Deliberately not linked to the tombstone (no user id):
 * it tells only that some account once had this name.
 */
@Entity({ tableName: 'reserved_usernames' })
export class ReservedUsername {
  [OptionalProps]?: 'reservedAt';

  @PrimaryKey({ type: 'string', length: 64 })
  usernameKey!: string;

  @Property({ type: 'datetime' })
  reservedAt: Date = new Date();
}
