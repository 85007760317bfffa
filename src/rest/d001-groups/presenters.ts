import type { UserRecord } from '../../domain/user/user-cache';
import { z } from 'zod';
import { ConversationKind, MemberRole, type Conversation } from '../../domain/conversation/conversation.entity';
import type { Membership } from '../../domain/conversation/membership.entity';
import type { MessageView } from '../../domain/shared/events';
import { fullNameOf } from '../../domain/user/user.entity';
import type { RestContext } from '../common/route.registry';
import { attachmentsOf, canReadContentOf, iso, mediaUrlOf, membersOf, titleOf, unreadOf, userOf } from '../common/views.helpers';
import { refId } from '../../domain/shared/refs';
import { avatarOf } from '../common/avatars';
import { showsReply } from '../../domain/message/message.policy';

/** Seed 001 shapes: chat groups (list, detail with members) and messages. */

export const userSummarySchema = z.object({
  id: z.number().int(),
  username: z.string(),
  full_name: z.string(),
  avatar_thumbnail: z.string().nullable(),
  role: z.string().nullable(),
});
export const senderSchema = userSummarySchema.extend({ avatar: z.string().nullable() });
export const chatLastMessageSchema = z.object({
  id: z.number().int(),
  sender: userSummarySchema.nullable(),
  content: z.string(),
  created_at: z.string(),
  is_removed: z.boolean(),
});
export const chatSchema = z.object({
  id: z.number().int(),
  name: z.string(),
  description: z.string().nullable(),
  is_group: z.boolean(),
  members_summary: z.array(userSummarySchema),
  created_by: z.number().int().nullable(),
  created_at: z.string(),
  updated_at: z.string(),
  last_message: chatLastMessageSchema.nullable(),
  unread_count: z.number().int(),
});
export const memberSchema = z.object({
  id: z.number().int(),
  chat_group: z.number().int(),
  user: userSummarySchema,
  is_admin: z.boolean(),
  nickname: z.string().nullable(),
  last_read_at: z.string().nullable(),
  unread_count: z.number().int(),
  created_at: z.string(),
  updated_at: z.string(),
});
export const chatDetailSchema = chatSchema.extend({ members: z.array(memberSchema) });
/** `media_type` "file": a seed-003 file message's attachment that is neither image nor video (seed 001 uploads are only those two). */
export const mediaSchema = z.object({
  id: z.number().int(),
  url: z.string(),
  thumbnail: z.string().nullable(),
  media_type: z.enum(['image', 'video', 'file']),
});
export const repliedPreviewSchema = z.object({ id: z.number().int(), sender: userSummarySchema.nullable(), content: z.string(), created_at: z.string() });
export const messageSchema = z.object({
  id: z.number().int(),
  chat_group: z.number().int(),
  sender: senderSchema.nullable(),
  content: z.string(),
  is_system_message: z.boolean(),
  is_removed: z.boolean(),
  replied_to: z.number().int().nullable(),
  replied_to_preview: repliedPreviewSchema.nullable(),
  created_at: z.string(),
  updated_at: z.string(),
  media: z.array(mediaSchema),
});
export const successSchema = z.object({ status: z.literal('success') });

/**
 * The sender seed 001's shapes show for a SYSTEM notice nobody's action caused (notices record
 * their actor since issue 19; older ones have none): its clients read `sender.full_name` of every
 * message, so it is never null there. Documented in docs/rest-compat.md.
 */
export const SYSTEM_SENDER: z.output<typeof senderSchema> = {
  id: 0,
  username: 'system',
  full_name: 'System',
  avatar_thumbnail: null,
  role: 'system',
  avatar: null,
};

/** Who seed 001 shows as a message's sender: its sender, for a SYSTEM notice the user whose action it reports, else {@link SYSTEM_SENDER}. */
async function senderOf(ctx: RestContext, m: MessageView): Promise<z.output<typeof senderSchema>> {
  const u = await userOf(ctx, m.senderId ?? m.actorId);
  return u ? presentSender(ctx, u) : SYSTEM_SENDER;
}

/** `{id, username, full_name, avatar_thumbnail, role}`; `avatar_thumbnail` is the avatar's 150x150 thumbnail (signed, absolute), or null. */
export function presentUserSummary(ctx: RestContext, u: UserRecord, avatar = avatarOf(ctx, u)): z.output<typeof userSummarySchema> {
  return { id: u.id, username: u.username, full_name: fullNameOf(u), avatar_thumbnail: avatar.thumbnailUrl, role: u.role ?? null };
}

/** A message sender: the summary plus `avatar` (the avatar's signed URL, absolute, or null). */
export function presentSender(ctx: RestContext, u: UserRecord): z.output<typeof senderSchema> {
  const avatar = avatarOf(ctx, u); // signed once for both fields
  return { ...presentUserSummary(ctx, u, avatar), avatar: avatar.url };
}

const later = (a: Date, b: Date) => (a > b ? a : b);

/** The summary fields of a sender (no `avatar`). */
const summaryOf = ({ avatar: _avatar, ...summary }: z.output<typeof senderSchema>): z.output<typeof userSummarySchema> => summary;

/** A chat's name: its own, "A và B" for a 1:1 chat (as the legacy backend named them), else the title. */
async function nameOf(ctx: RestContext, c: Conversation, members: Membership[]): Promise<string> {
  if (c.name) return c.name;
  if (c.kind === ConversationKind.DIRECT && members.length) return members.map((m) => fullNameOf(m.user)).join(' và ');
  return titleOf(ctx, c);
}

/** A chat group as GET /api/chats/ lists it. */
export async function presentChat(ctx: RestContext, c: Conversation): Promise<z.output<typeof chatSchema>> {
  const members = await membersOf(ctx, c);
  // The newest posted message: SYSTEM notices ("x created the group") are not a chat's preview here (seed 001 shows null for a new group).
  const last = (await canReadContentOf(ctx, c)) && c.lastSeq > 0 ? await ctx.loaders.lastPostedMessage.load(c.id) : null;
  const lastSender = last ? await senderOf(ctx, last) : null;
  return {
    id: c.id,
    name: await nameOf(ctx, c, members),
    description: c.description ?? null,
    is_group: c.kind !== ConversationKind.DIRECT,
    members_summary: members.map((m) => presentUserSummary(ctx, m.user)),
    created_by: refId(c.createdBy),
    created_at: iso(c.createdAt)!,
    updated_at: iso(later(c.updatedAt, c.lastActivityAt))!,
    last_message: last
      ? { id: last.id, sender: summaryOf(lastSender!), content: last.content, created_at: last.createdAt, is_removed: last.deletedAt != null }
      : null,
    unread_count: await unreadOf(ctx, c),
  };
}

/** A chat group with its `members` (GET /api/chats/{id}/). */
export async function presentChatDetail(ctx: RestContext, c: Conversation): Promise<z.output<typeof chatDetailSchema>> {
  const members = await membersOf(ctx, c);
  return {
    ...(await presentChat(ctx, c)),
    members: await Promise.all(
      members.map(async (m) => ({
        id: m.id,
        chat_group: c.id,
        user: presentUserSummary(ctx, m.user),
        is_admin: m.role === MemberRole.OWNER || m.role === MemberRole.ADMIN,
        nickname: m.nickname ?? null,
        last_read_at: iso(m.lastReadAt),
        unread_count: await ctx.loaders.unread.load(m.id),
        created_at: iso(m.joinedAt)!,
        updated_at: iso(m.lastReadAt && m.lastReadAt > m.joinedAt ? m.lastReadAt : m.joinedAt)!,
      })),
    ),
  };
}

/** A message in seed 001's shape; `media` are its attachments (signed URLs; `thumbnail` for images). */
export async function presentMessage(ctx: RestContext, m: MessageView): Promise<z.output<typeof messageSchema>> {
  const sender = await senderOf(ctx, m);
  let preview: z.output<typeof repliedPreviewSchema> | null = null;
  if (m.replyToId != null) {
    const target = await ctx.loaders.message.load(m.replyToId);
    if (target && showsReply(m, target)) {
      preview = { id: target.id, sender: summaryOf(await senderOf(ctx, target)), content: target.content, created_at: target.createdAt };
    }
  }
  return {
    id: m.id,
    chat_group: m.conversationId,
    sender,
    content: m.content,
    is_system_message: m.kind === 'SYSTEM',
    is_removed: m.deletedAt != null,
    replied_to: m.replyToId,
    replied_to_preview: preview,
    created_at: m.createdAt,
    updated_at: m.deletedAt ?? m.editedAt ?? m.createdAt,
    media: (await attachmentsOf(ctx, m)).map((a) => ({
      id: a.id,
      url: mediaUrlOf(ctx, a)!,
      thumbnail: mediaUrlOf(ctx, a, 'thumbnail'),
      media_type: a.mimeType.startsWith('image/') ? ('image' as const) : a.mimeType.startsWith('video/') ? ('video' as const) : ('file' as const),
    })),
  };
}
