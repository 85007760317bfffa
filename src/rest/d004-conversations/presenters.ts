import type { UserRecord } from '../../domain/user/user-cache';
import { z } from 'zod';
import type { Attachment } from '../../domain/attachment/attachment.entity';
import type { Conversation } from '../../domain/conversation/conversation.entity';
import type { MessageView } from '../../domain/shared/events';
import type { RestContext } from '../common/route.registry';
import { attachmentsOf, iso, isReadByOthers, lastMessageOf, mediaUrlOf, membersOf, userOf } from '../common/views.helpers';
import { refId } from '../../domain/shared/refs';
import { avatarOf } from '../common/avatars';

/** Seed 004 shapes: User, Conversation, Message, Attachment. */

export const userSchema = z.object({
  id: z.number().int(),
  username: z.string(),
  first_name: z.string(),
  last_name: z.string(),
  profile_picture: z.string().nullable(),
  score: z.number().int(),
  rank: z.string().nullable(),
  role: z.string().nullable(),
  in_game_ids: z.array(z.unknown()),
});
export const attachmentSchema = z.object({ id: z.number().int(), message: z.number().int(), file: z.string(), uploaded_at: z.string() });
export const messageSchema = z.object({
  id: z.number().int(),
  conversation: z.number().int(),
  sender: userSchema.nullable(),
  content: z.string(),
  timestamp: z.string(),
  is_read: z.boolean(),
  is_edited: z.boolean(),
  is_deleted: z.boolean(),
  attachments: z.array(attachmentSchema),
});
export const conversationSchema = z.object({
  id: z.number().int(),
  participants: z.array(userSchema),
  created_at: z.string(),
  last_message: messageSchema.nullable(),
});

/** `{id, username, first_name, last_name, profile_picture, score, rank, role, in_game_ids}`; `profile_picture` is the avatar's signed URL (absolute), or null. */
export function presentUser(ctx: RestContext, u: UserRecord): z.output<typeof userSchema> {
  return {
    id: u.id,
    username: u.username,
    first_name: u.firstName ?? '',
    last_name: u.lastName ?? '',
    profile_picture: avatarOf(ctx, u).url,
    score: u.score ?? 0,
    rank: u.rank ?? null,
    role: u.role ?? null,
    in_game_ids: u.inGameIds ?? [],
  };
}

/** The Attachment model `{id, message, file, uploaded_at}`; `file` is a signed download URL. */
export function presentAttachment(ctx: RestContext, a: Attachment): z.output<typeof attachmentSchema> {
  return { id: a.id, message: refId(a.message)!, file: mediaUrlOf(ctx, a)!, uploaded_at: iso(a.createdAt)! };
}

/** The full Message model; `is_read`: a member other than the sender has read it. */
export async function presentMessage(ctx: RestContext, m: MessageView): Promise<z.output<typeof messageSchema>> {
  const sender = await userOf(ctx, m.senderId);
  return {
    id: m.id,
    conversation: m.conversationId,
    sender: sender ? presentUser(ctx, sender) : null,
    content: m.content,
    timestamp: m.createdAt,
    is_read: await isReadByOthers(ctx, m),
    is_edited: m.editedAt != null,
    is_deleted: m.deletedAt != null,
    attachments: (await attachmentsOf(ctx, m)).map((a) => presentAttachment(ctx, a)),
  };
}

/** `{id, participants, created_at, last_message}`. */
export async function presentConversation(ctx: RestContext, c: Conversation): Promise<z.output<typeof conversationSchema>> {
  const last = await lastMessageOf(ctx, c);
  return {
    id: c.id,
    participants: (await membersOf(ctx, c)).map((m) => presentUser(ctx, m.user)),
    created_at: iso(c.createdAt)!,
    last_message: last ? await presentMessage(ctx, last) : null,
  };
}
