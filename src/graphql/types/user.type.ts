import { Field, ID, Int, ObjectType } from 'type-graphql';
import { connectionOf } from './page.type';
import { DateTimeScalar } from '../scalars';
import { PresenceVisibility } from './enums';

/** Contract type User. The source object is the User entity (or a UserRecord); fullName, presence and the avatar URLs are resolved. */
@ObjectType('User')
export class UserType {
  @Field(() => ID) id!: number;
  @Field(() => String) username!: string;
  @Field(() => String, { nullable: true }) firstName?: string | null;
  @Field(() => String, { nullable: true }) lastName?: string | null;
  // avatarUrl and avatarThumbnailUrl (issue 18): field resolvers in user.resolver.ts (signed URLs of the uploaded avatar).
  @Field(() => String, { nullable: true, description: 'Free-form application role: "renter", "owner", "customer", "staff", ...' }) role?: string | null;
  @Field(() => Boolean, { description: 'Staff see and moderate every conversation and answer support threads' }) isStaff!: boolean;
  @Field(() => Int, { description: 'Seed 004 gaming score' }) score!: number;
  @Field(() => String, { nullable: true, description: 'Seed 004 gaming rank' }) rank?: string | null;

  // --- Issue 18 (account deletion; src/domain/auth/account.service.ts) ---
  @Field(() => DateTimeScalar, {
    nullable: true,
    description: 'Set when the account was deleted: username is then "deleted-user-<id>" and every other profile field empty',
  })
  deletedAt?: Date | null;
}

export const UserConnection = connectionOf(UserType, 'User');

/** Contract type PrivacySettings (issue 27 §5): a user's own privacy settings. */
@ObjectType('PrivacySettings')
export class PrivacySettingsType {
  @Field(() => Boolean, { description: "False: the user's read receipts reach only their own sessions (default true)" }) sendReadReceipts!: boolean;
  @Field(() => PresenceVisibility, { description: 'Who sees the presence and lastSeenAt (default CONTACTS)' }) presenceVisibility!: PresenceVisibility;
}
