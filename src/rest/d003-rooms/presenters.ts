import type { UserRecord } from '../../domain/user/user-cache';
import { z } from 'zod';
import { ConversationKind, RoomVisibility, type Conversation } from '../../domain/conversation/conversation.entity';
import type { Membership } from '../../domain/conversation/membership.entity';
import type { SendInput } from '../../domain/message/message.service';
import type { MessageView, NotificationView } from '../../domain/shared/events';
import type { RestContext } from '../common/route.registry';
import { attachmentsOf, canReadContentOf, iso, lastMessageOf, mediaUrlOf, membersOf, titleOf, userOf } from '../common/views.helpers';
import { refId } from '../../domain/shared/refs';
import { isArchived } from '../../domain/conversation/conversation.policy';

/** Seed 003 shapes: rooms (list, created, detail), members, messages, notifications. */

/** How a deleted message's content reads in this dialect (seed 003 "注意事项" 8). */
export const DELETED_CONTENT = '[消息已删除]';

const roomType = z.enum(['public', 'private', 'group']);
export const userSchema = z.object({ id: z.number().int(), username: z.string(), first_name: z.string(), last_name: z.string() });
export const userRefSchema = z.object({ id: z.number().int(), username: z.string() });
export const roomListItemSchema = z.object({
  id: z.number().int(),
  name: z.string(),
  description: z.string().nullable(),
  room_type: roomType,
  created_by: userSchema.nullable(),
  member_count: z.number().int(),
  last_message: z.object({ id: z.number().int(), content: z.string(), sender: z.string().nullable(), created_at: z.string() }).nullable(),
  created_at: z.string(),
});
export const roomCreatedSchema = z.object({
  id: z.number().int(),
  name: z.string(),
  description: z.string().nullable(),
  room_type: roomType,
  created_by: userRefSchema.nullable(),
  member_count: z.number().int(),
  is_active: z.boolean(),
  max_members: z.number().int().nullable(),
  created_at: z.string(),
});
export const roomDetailSchema = z.object({
  id: z.number().int(),
  name: z.string(),
  description: z.string().nullable(),
  room_type: roomType,
  created_by: userSchema.nullable(),
  members: z.array(userSchema),
  member_count: z.number().int(),
  is_active: z.boolean(),
  max_members: z.number().int().nullable(),
  created_at: z.string(),
  updated_at: z.string(),
});
export const roomMemberSchema = z.object({
  id: z.number().int(),
  room: z.object({ id: z.number().int(), name: z.string() }),
  user: userSchema,
  role: z.enum(['admin', 'member']),
  joined_at: z.string(),
  last_read_at: z.string().nullable(),
  is_muted: z.boolean(),
  is_banned: z.boolean(),
});
export const roomMessageSchema = z.object({
  id: z.number().int(),
  room: z.object({ id: z.number().int(), name: z.string() }),
  sender: userSchema,
  message_type: z.enum(['text', 'image', 'file', 'system']),
  content: z.string(),
  file_url: z.string().nullable(),
  file_name: z.string().nullable(),
  file_size: z.number().int().nullable(),
  is_edited: z.boolean(),
  is_deleted: z.boolean(),
  reply_to: z.number().int().nullable(),
  created_at: z.string(),
  updated_at: z.string(),
});
export const roomMessagesSchema = z.object({
  messages: z.array(roomMessageSchema),
  page: z.number().int(),
  page_size: z.number().int(),
  total: z.number().int(),
});
export const notificationSchema = z.object({
  id: z.number().int(),
  notification_type: z.enum(['message', 'mention', 'room_invite', 'system']),
  title: z.string(),
  content: z.string(),
  room: roomCreatedSchema.omit({ created_by: true }).extend({ created_by: userRefSchema.nullable(), updated_at: z.string() }).nullable(),
  message: z
    .object({ id: z.number().int(), content: z.string(), message_type: z.enum(['text', 'image', 'file', 'system']), created_at: z.string() })
    .nullable(),
  is_read: z.boolean(),
  created_at: z.string(),
});
export const okMessageSchema = z.object({ message: z.string() });
/** POST /api/chat/upload/ (seed 003 note 7): what a file message's send then takes. */
export const uploadSchema = z.object({ file_url: z.string(), file_name: z.string(), file_size: z.number().int() });

/** Seed 003's names of a send's domain input fields (its refusals name them so, over REST and the socket). */
export const SEND_FIELD_NAMES: Readonly<Record<string, string>> = { replyToId: 'reply_to', fileUrl: 'file_url', fileName: 'file_name', fileSize: 'file_size' };

/**
 * The domain's file reference of a seed-003 send (a chat_message frame or the REST body): for
 * `message_type` image or file, its `file_url`, `file_name`, `file_size`; null for text, whose
 * file fields are ignored (the seed's own example sends them with "text" and answers them null).
 */
export function fileReferenceOf(body: Record<string, unknown>): SendInput['fileRef'] {
  if (body.message_type !== 'image' && body.message_type !== 'file') return null;
  return { url: body.file_url, fileName: body.file_name, size: body.file_size, kind: body.message_type === 'image' ? 'IMAGE' : 'FILE' };
}

/** `{id, username, first_name, last_name}`. */
export function presentUser(u: UserRecord): z.output<typeof userSchema> {
  return { id: u.id, username: u.username, first_name: u.firstName ?? '', last_name: u.lastName ?? '' };
}

/** GROUP → "group", ROOM → "public"/"private"; DIRECT and SUPPORT (members only) → "private". */
export function roomTypeOf(c: Conversation): z.output<typeof roomType> {
  if (c.kind === ConversationKind.GROUP) return 'group';
  if (c.kind === ConversationKind.ROOM && c.visibility === RoomVisibility.PUBLIC) return 'public';
  return 'private';
}

const typeOf = (m: MessageView) => m.kind.toLowerCase() as z.output<typeof roomMessageSchema>['message_type'];
const contentOf = (m: MessageView) => (m.deletedAt ? DELETED_CONTENT : m.content);

/**
 * The sender seed 003 shows for a system notice nobody's action caused (notices record their
 * actor since issue 19; older ones have none): its clients read `message.sender.username` of
 * every message, so it is never null (issue 28 item 5; seed 001 does the same).
 */
export const SYSTEM_SENDER: z.output<typeof userSchema> = { id: 0, username: 'system', first_name: 'System', last_name: '' };

/**
 * Whom seed 003 shows as a message's sender: its sender; for a system notice (join, leave, add,
 * ban, an admin's notice) the user whose action it reports; else {@link SYSTEM_SENDER}.
 * `user` reads a user by id (the request's loaders, or an event's).
 */
export async function senderOfMessage(
  m: Pick<MessageView, 'senderId' | 'actorId'>,
  user: (id: number | null) => Promise<UserRecord | null>,
): Promise<z.output<typeof userSchema>> {
  const u = await user(m.senderId ?? m.actorId);
  return u ? presentUser(u) : SYSTEM_SENDER;
}

/** A room as GET /api/chat/rooms/ lists it (`last_message` null for a PUBLIC room seen from outside). */
export async function presentRoomListItem(ctx: RestContext, c: Conversation): Promise<z.output<typeof roomListItemSchema>> {
  const creator = await userOf(ctx, refId(c.createdBy));
  const last = await lastMessageOf(ctx, c, await canReadContentOf(ctx, c));
  return {
    id: c.id,
    name: await titleOf(ctx, c),
    description: c.description ?? null,
    room_type: roomTypeOf(c),
    created_by: creator ? presentUser(creator) : null,
    member_count: await ctx.loaders.memberCount.load(c.id),
    last_message: last
      ? { id: last.id, content: contentOf(last), sender: (await senderOfMessage(last, (uid) => userOf(ctx, uid))).username, created_at: last.createdAt }
      : null,
    created_at: iso(c.createdAt)!,
  };
}

/** A room as POST /api/chat/rooms/ answers. */
export async function presentRoomCreated(ctx: RestContext, c: Conversation): Promise<z.output<typeof roomCreatedSchema>> {
  const creator = await userOf(ctx, refId(c.createdBy));
  return {
    id: c.id,
    name: await titleOf(ctx, c),
    description: c.description ?? null,
    room_type: roomTypeOf(c),
    created_by: creator ? { id: creator.id, username: creator.username } : null,
    member_count: await ctx.loaders.memberCount.load(c.id),
    is_active: !isArchived(c),
    max_members: c.maxMembers ?? null,
    created_at: iso(c.createdAt)!,
  };
}

/** A room with `members` (empty for a PUBLIC room seen from outside). */
export async function presentRoomDetail(ctx: RestContext, c: Conversation, canReadContent: boolean): Promise<z.output<typeof roomDetailSchema>> {
  const creator = await userOf(ctx, refId(c.createdBy));
  const members = canReadContent ? await membersOf(ctx, c) : [];
  return {
    id: c.id,
    name: await titleOf(ctx, c),
    description: c.description ?? null,
    room_type: roomTypeOf(c),
    created_by: creator ? presentUser(creator) : null,
    members: members.map((m) => presentUser(m.user)),
    member_count: await ctx.loaders.memberCount.load(c.id),
    is_active: !isArchived(c),
    max_members: c.maxMembers ?? null,
    created_at: iso(c.createdAt)!,
    updated_at: iso(c.updatedAt > c.lastActivityAt ? c.updatedAt : c.lastActivityAt)!,
  };
}

/** Members (banned ones too, flagged), with role admin/member: seed 003's vocabulary has `admin` for a room's manager, so an OWNER shows as admin (GraphQL keeps OWNER/ADMIN/MEMBER). */
export async function presentMembers(ctx: RestContext, c: Conversation, members: Membership[]): Promise<z.output<typeof roomMemberSchema>[]> {
  const room = { id: c.id, name: await titleOf(ctx, c) };
  return members.map((m) => ({
    id: m.id,
    room,
    user: presentUser(m.user),
    role: m.role === 'MEMBER' ? 'member' : 'admin',
    joined_at: iso(m.joinedAt)!,
    last_read_at: iso(m.lastReadAt),
    is_muted: m.isMuted,
    is_banned: m.isBanned,
  }));
}

/**
 * A message in seed 003's shape ("2.1 获取房间消息"); `file_url`/`file_name`/`file_size` describe its
 * first attachment, null without one: a file stored here (uploaded through seed 001 or 004 or
 * GraphQL, or linked by a seed-003 send naming this server's media) has its signed URL and real
 * size; an external link sent through seed 003 its own URL and the declared size (null when none
 * was given).
 */
export async function presentRoomMessage(ctx: RestContext, m: MessageView): Promise<z.output<typeof roomMessageSchema>> {
  const c = await ctx.loaders.conversation.load(m.conversationId);
  const sender = await senderOfMessage(m, (uid) => userOf(ctx, uid));
  const [file] = await attachmentsOf(ctx, m);
  return {
    id: m.id,
    room: { id: m.conversationId, name: c ? await titleOf(ctx, c) : '' },
    sender,
    message_type: typeOf(m),
    content: contentOf(m),
    file_url: file ? mediaUrlOf(ctx, file) : null,
    file_name: file?.fileName ?? null,
    file_size: file?.size ?? null,
    is_edited: m.editedAt != null,
    is_deleted: m.deletedAt != null,
    reply_to: m.replyToId,
    created_at: m.createdAt,
    updated_at: m.deletedAt ?? m.editedAt ?? m.createdAt,
  };
}

/** A notification's title in seed 003's pattern: a new message's is `新消息来自 <sender's username>`; others keep theirs. */
async function seedTitleOf(ctx: RestContext, n: NotificationView, m: MessageView | null): Promise<string> {
  if (n.kind !== 'MESSAGE' || !m) return n.title;
  const sender = await userOf(ctx, m.senderId);
  return sender ? `新消息来自 ${sender.username}` : n.title;
}

/** A notification with its room and message (null when it has none). */
export async function presentNotification(ctx: RestContext, n: NotificationView): Promise<z.output<typeof notificationSchema>> {
  const c = n.conversationId == null ? null : await ctx.loaders.conversation.load(n.conversationId);
  const m = n.messageId == null ? null : await ctx.loaders.message.load(n.messageId);
  let room: z.output<typeof notificationSchema>['room'] = null;
  if (c) room = { ...(await presentRoomCreated(ctx, c)), updated_at: iso(c.updatedAt)! };
  return {
    id: n.id,
    notification_type: n.kind.toLowerCase() as z.output<typeof notificationSchema>['notification_type'],
    title: await seedTitleOf(ctx, n, m),
    content: n.body,
    room,
    message: m ? { id: m.id, content: contentOf(m), message_type: typeOf(m), created_at: m.createdAt } : null,
    is_read: n.readAt != null,
    created_at: n.createdAt,
  };
}
