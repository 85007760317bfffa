import { GraphQLUpload, type FileUpload } from 'graphql-upload-ts';
import { ArgsType, Field, ID, InputType, Int } from 'type-graphql';
import { PresenceVisibility, RoomVisibility } from './enums';

@InputType('RegisterInput')
export class RegisterInput {
  @Field(() => String) username!: string;
  @Field(() => String) password!: string;
  @Field(() => String, { nullable: true }) firstName?: string | null;
  @Field(() => String, { nullable: true }) lastName?: string | null;
  @Field(() => String, { nullable: true }) email?: string | null;
}

@InputType('CreateGroupInput')
export class CreateGroupInput {
  @Field(() => String) name!: string;
  @Field(() => String, { nullable: true }) description?: string | null;
  @Field(() => [ID]) memberIds!: string[];
}

@InputType('CreateRoomInput')
export class CreateRoomInput {
  @Field(() => String) name!: string;
  @Field(() => String, { nullable: true }) description?: string | null;
  @Field(() => RoomVisibility, { defaultValue: RoomVisibility.PUBLIC }) visibility!: RoomVisibility;
  @Field(() => Int, { nullable: true, defaultValue: 50 }) maxMembers?: number | null;
}

@InputType('UpdateConversationInput')
export class UpdateConversationInput {
  @Field(() => String, { nullable: true }) name?: string | null;
  @Field(() => String, { nullable: true }) description?: string | null;
  @Field(() => Int, { nullable: true }) maxMembers?: number | null;
}

@InputType('SendMessageInput')
export class SendMessageInput {
  @Field(() => ID, { nullable: true, description: 'Exactly one of conversationId, recipientId and toSupport' }) conversationId?: string | null;
  @Field(() => ID, { nullable: true, description: 'Opens (or reuses) the DIRECT conversation with that user (seed 004)' }) recipientId?: string | null;
  @Field(() => Boolean, { nullable: true, description: "True: the viewer's own SUPPORT thread, created on first use (seed 002); customers only" }) toSupport?:
    boolean | null;
  @Field(() => String, { description: '1..4000 characters after trimming, unless attachments are given' }) content!: string;
  @Field(() => ID, { nullable: true, description: 'Must belong to the same conversation' }) replyToId?: string | null;
  @Field(() => String, { nullable: true, description: 'Idempotency key: a retry with the same key returns the first message' }) clientMessageId?: string | null;
  @Field(() => [GraphQLUpload], { nullable: true, description: 'At most 10 files, 10 MB each, jpg/jpeg/png/gif/webp/heic/avif/mp4/mov' }) attachments?:
    Promise<FileUpload>[] | null;
  @Field(() => ID, {
    nullable: true,
    description: "Issue 32: reply in the thread of this root (a reply's id means its root); the root must be in the same conversation",
  })
  threadRootId?: string | null;
  @Field(() => Boolean, { nullable: true, description: 'Issue 32: show the thread reply in the main timeline too (default: only in its thread)' })
  alsoSendToConversation?: boolean | null;
}

/**
 * addAttachment's arguments. As an args class, type-graphql passes the upload's promise through
 * untouched (it awaits promise-valued `@Arg`s itself, so a broken multipart part would fail before
 * the resolver, as an unmapped internal error); the domain awaits it and maps a transport failure
 * to BAD_USER_INPUT or PAYLOAD_TOO_LARGE, as it does for sendMessage's attachments.
 */
@ArgsType()
export class AddAttachmentArgs {
  @Field(() => ID) messageId!: string;
  @Field(() => GraphQLUpload) file!: Promise<FileUpload>;
}

// --- Issue 18 (profile and avatar; src/domain/user/user.service.ts) ---

/** updateProfile's input: omitted fields stay as they are; null or "" clears one. */
@InputType('UpdateProfileInput')
export class UpdateProfileInput {
  @Field(() => String, { nullable: true, description: 'At most 150 characters after cleaning (as at register); null or "" clears it' }) firstName?:
    string | null;
  @Field(() => String, { nullable: true, description: 'At most 150 characters after cleaning (as at register); null or "" clears it' }) lastName?:
    string | null;
}

/** Contract UserAttributesInput (issue 28 item 9): staff set seed 004's attributes; every field optional (absent: unchanged). */
@InputType('UserAttributesInput')
export class UserAttributesInput {
  @Field(() => String, { nullable: true, description: 'Free-form application role (seeds 001, 004), at most 64 characters; null or "" clears it' }) role?:
    string | null;
  @Field(() => Int, { nullable: true, description: 'Seed 004 score (32-bit integer); null sets 0' }) score?: number | null;
  @Field(() => String, { nullable: true, description: 'Seed 004 rank, at most 64 characters; null or "" clears it' }) rank?: string | null;
  @Field(() => [String], {
    nullable: true,
    description: 'Seed 004 in_game_ids: at most 20 non-empty strings of at most 100 characters (duplicates dropped); null clears',
  })
  inGameIds?: string[] | null;
}

/** updatePrivacy's input (contract PrivacySettingsInput; issue 27 §5): omitted or null fields stay as they are. */
@InputType('PrivacySettingsInput')
export class PrivacySettingsInput {
  @Field(() => Boolean, { nullable: true }) sendReadReceipts?: boolean | null;
  @Field(() => PresenceVisibility, { nullable: true }) presenceVisibility?: PresenceVisibility | null;
}

/** setAvatar's arguments: an args class for the same reason as {@link AddAttachmentArgs} (the domain awaits the upload and maps its failures). */
@ArgsType()
export class SetAvatarArgs {
  @Field(() => GraphQLUpload, { description: 'jpg/jpeg/png/gif/webp/avif, at most UPLOAD_MAX_BYTES and UPLOAD_MAX_PIXELS' }) file!: Promise<FileUpload>;
}
