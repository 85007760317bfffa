import { OptionalProps, Entity, type Opt, Index, PrimaryKey, Property, Unique } from '@mikro-orm/core';

/** A person who chats. Profile fields are the union of the five seeds' user shapes. */
@Entity({ tableName: 'users' })
export class User {
  [OptionalProps]?: 'isStaff' | 'score' | 'inGameIds' | 'createdAt' | 'updatedAt';

  @PrimaryKey({ type: 'integer', autoincrement: true })
  id!: number;

  /** As typed at registration; unique regardless of case (see usernameKey). */
  @Property({ type: 'string', length: 64 })
  username!: string;

  /** lower(username): the uniqueness and lookup key. */
  @Unique()
  @Property({ type: 'string', length: 64 })
  usernameKey!: string;

  @Property({ type: 'string', length: 254, nullable: true })
  email?: string | null;

  @Property({ type: 'string', length: 255, hidden: true })
  passwordHash!: string;

  @Property({ type: 'string', length: 150, nullable: true })
  firstName?: string | null;

  @Property({ type: 'string', length: 150, nullable: true })
  lastName?: string | null;

  @Property({ type: 'string', length: 1024, nullable: true })
  avatarUrl?: string | null;

  // --- Uploaded avatar (issue 18 items 2-3; src/domain/user/avatar.service.ts) ---
  // `avatarUrl` above is legacy: an external URL from imported data, never set by the API, shown
  // only while no avatar is uploaded; setAvatar and removeAvatar clear it.

  /** BlobStorage key of the uploaded avatar (WebP, at most 512x512); null: none uploaded. */
  @Property({ type: 'string', length: 64, nullable: true })
  avatarKey?: string | null;

  /** BlobStorage key of its 150x150 square thumbnail (WebP). */
  @Property({ type: 'string', length: 64, nullable: true })
  avatarThumbnailKey?: string | null;

  /** Bumped by every setAvatar/removeAvatar: names the avatar in its URL, so old URLs stop working. */
  @Property({ type: 'integer', default: 0 })
  avatarVersion: Opt<number> = 0;

  // --- end of uploaded avatar ---

  /** Free-form application role from the seeds: "renter", "owner", "customer", "staff", ... */
  @Property({ type: 'string', length: 64, nullable: true })
  role?: string | null;

  /** Staff read and moderate every conversation (seed 004) and answer support threads (seed 002). */
  @Index()
  @Property({ type: 'boolean', default: false })
  isStaff: boolean = false;

  /** Seed 004 gaming profile. */
  @Property({ type: 'integer', default: 0 })
  score: number = 0;

  @Property({ type: 'string', length: 64, nullable: true })
  rank?: string | null;

  /** Seed 004: a list of `{game, id}`-like objects, kept as given. */
  @Property({ type: 'json', default: '[]' })
  inGameIds: unknown[] = [];

  @Property({ type: 'datetime', nullable: true })
  lastSeenAt?: Date | null;

  @Property({ type: 'datetime' })
  createdAt: Date = new Date();

  @Property({ type: 'datetime', onUpdate: () => new Date() })
  updatedAt: Date = new Date();

  // --- Account deletion and password change (issue 18 items 4-5; src/domain/auth/account.service.ts) ---

  /** When the account was deleted (the row is a tombstone: username `deleted-user-<id>`, personal columns empty); null while it lives. */
  @Property({ type: 'datetime', nullable: true })
  deletedAt?: Date | null;

  /** After a password change: access tokens issued before this instant are refused (except those of {@link tokensKeptSession}). */
  @Property({ type: 'datetime', nullable: true })
  tokensValidAfter?: Date | null;

  /** The login (refresh-token family id) that changed the password: its access tokens stay valid. */
  @Property({ type: 'string', length: 36, nullable: true })
  tokensKeptSession?: string | null;

  // --- Privacy (issue 27 §5; user.policy.ts, UserService.updatePrivacy) ---

  /** Who sees this user's presence and last-seen time: EVERYONE, CONTACTS (contacts and co-members) or NOBODY. */
  @Property({ type: 'string', length: 16, default: 'CONTACTS' })
  presenceVisibility: Opt<PresenceVisibility> = 'CONTACTS';

  /** False: this user's read receipts reach only their own sessions. */
  @Property({ type: 'boolean', default: true })
  sendReadReceipts: Opt<boolean> = true;
}

/** Who sees a user's presence (contract: PresenceVisibility). */
export type PresenceVisibility = 'EVERYONE' | 'CONTACTS' | 'NOBODY';

/** "first last", or the username when both are empty (contract: User.fullName). */
export function fullNameOf(u: Pick<User, 'username' | 'firstName' | 'lastName'>): string {
  const name = [u.firstName, u.lastName]
    .filter((s) => s && s.trim())
    .join(' ')
    .trim();
  return name || u.username;
}
