import { Field, ID, Int, ObjectType } from 'type-graphql';
import { connectionOf } from './page.type';

/** Contract type User. The source object is the User entity; fullName and presence are resolved. */
@ObjectType('User')
export class UserType {
  @Field(() => ID) id!: number;
  @Field(() => String) username!: string;
  @Field(() => String, { nullable: true }) firstName?: string | null;
  @Field(() => String, { nullable: true }) lastName?: string | null;
  @Field(() => String, { nullable: true }) avatarUrl?: string | null;
  @Field(() => String, { nullable: true, description: 'Free-form application role: "renter", "owner", "customer", "staff", ...' }) role?: string | null;
  @Field(() => Boolean, { description: 'Staff see and moderate every conversation and answer support threads' }) isStaff!: boolean;
  @Field(() => Int, { description: 'Seed 004 gaming score' }) score!: number;
  @Field(() => String, { nullable: true, description: 'Seed 004 gaming rank' }) rank?: string | null;
}

export const UserConnection = connectionOf(UserType, 'User');
