import type { UserRecord } from '../../domain/user/user-cache';
import { z } from 'zod';
import type { Contact } from '../../domain/contact/contact.entity';
import type { Conversation } from '../../domain/conversation/conversation.entity';
import type { MessageView } from '../../domain/shared/events';
import type { UnreadSummary } from '../../domain/message/read-state.service';
import type { RestContext } from '../common/route.registry';
import { iso, isReadByOthers, lastMessageOf, membersOf, unreadOf, userOf } from '../common/views.helpers';
import { avatarOf } from '../common/avatars';
import { refId } from '../../domain/shared/refs';

/** Seed 000 shapes: history items, unread counts, recent conversations, connections. */

export const userSchema = z.object({
  id: z.number().int(),
  username: z.string(),
  first_name: z.string(),
  last_name: z.string(),
  avatar: z.string().nullable(),
  // Issue 28 item 9: the application attributes staff set (setUserAttributes), as seed 004 names them (seed 000 shows no user shape).
  role: z.string().nullable(),
  score: z.number().int(),
  rank: z.string().nullable(),
  in_game_ids: z.array(z.unknown()),
});
export const historyItemSchema = z.object({
  message_id: z.number().int(),
  message: z.string(),
  username: z.string().nullable(),
  recipient: z.string().nullable(),
  timestamp: z.string(),
  is_read: z.boolean(),
  is_edited: z.boolean(),
  is_deleted: z.boolean(),
});
export const unreadCountSchema = z.object({
  total_unread: z.number().int(),
  by_sender: z.array(z.object({ user_id: z.number().int(), username: z.string(), count: z.number().int() })),
});
export const lastMessageSchema = z.object({ message_id: z.number().int(), message: z.string(), username: z.string().nullable(), timestamp: z.string() });
export const recentConversationSchema = z.object({
  id: z.number().int(),
  other_user: userSchema.nullable(),
  last_message: lastMessageSchema.nullable(),
  unread_count: z.number().int(),
  updated_at: z.string(),
});
export const connectionSchema = z.object({
  id: z.number().int(),
  user: userSchema,
  status: z.enum(['pending', 'accepted', 'declined', 'blocked']),
  direction: z.enum(['incoming', 'outgoing']),
  created_at: z.string(),
});
export const statusSchema = z.object({ status: z.literal('success') });
export const markReadSchema = z.object({ status: z.literal('success'), marked_count: z.number().int() });

/**
 * `{id, username, first_name, last_name, avatar, role, score, rank, in_game_ids}`; `avatar` is the
 * avatar's signed URL (absolute), or null; the last four as seed 004 shows them (setUserAttributes).
 */
export function presentUser(ctx: RestContext, u: UserRecord): z.output<typeof userSchema> {
  return {
    id: u.id,
    username: u.username,
    first_name: u.firstName ?? '',
    last_name: u.lastName ?? '',
    avatar: avatarOf(ctx, u).url,
    role: u.role ?? null,
    score: u.score ?? 0,
    rank: u.rank ?? null,
    in_game_ids: u.inGameIds ?? [],
  };
}

/** History items of a DIRECT conversation, oldest first; `username` is the sender, `recipient` the other member. */
export async function presentHistory(ctx: RestContext, conversationId: number, messages: MessageView[]): Promise<z.output<typeof historyItemSchema>[]> {
  const members = await ctx.loaders.members.load(conversationId);
  return Promise.all(
    messages.map(async (m) => {
      const sender = await userOf(ctx, m.senderId);
      const recipient = members.find((x) => refId(x.user) !== m.senderId)?.user ?? null;
      return {
        message_id: m.id,
        message: m.content,
        username: sender?.username ?? null,
        recipient: recipient?.username ?? null,
        timestamp: m.createdAt,
        is_read: await isReadByOthers(ctx, m),
        is_edited: m.editedAt != null,
        is_deleted: m.deletedAt != null,
      };
    }),
  );
}

/** `{total_unread, by_sender: [{user_id, username, count}]}`. */
export async function presentUnread(ctx: RestContext, s: UnreadSummary): Promise<z.output<typeof unreadCountSchema>> {
  const bySender = await Promise.all(
    s.bySender.map(async (b) => ({ user_id: b.senderId, username: (await userOf(ctx, b.senderId))?.username ?? '', count: b.count })),
  );
  return { total_unread: s.total, by_sender: bySender };
}

/** `{message_id, message, username, timestamp}` (seed 000's WebSocket `message` event keys). */
export async function presentLastMessage(ctx: RestContext, m: MessageView | null): Promise<z.output<typeof lastMessageSchema> | null> {
  if (!m) return null;
  return { message_id: m.id, message: m.content, username: (await userOf(ctx, m.senderId))?.username ?? null, timestamp: m.createdAt };
}

/** A recent DIRECT conversation: the other user, the last message, the viewer's unread count. */
export async function presentRecent(ctx: RestContext, c: Conversation): Promise<z.output<typeof recentConversationSchema>> {
  const other = (await membersOf(ctx, c)).find((m) => refId(m.user) !== ctx.actor?.id)?.user ?? null;
  return {
    id: c.id,
    other_user: other ? presentUser(ctx, other) : null,
    last_message: await presentLastMessage(ctx, await lastMessageOf(ctx, c)),
    unread_count: await unreadOf(ctx, c),
    updated_at: iso(c.lastActivityAt)!,
  };
}

/** A connection from the viewer's side: the other user, lower-case status, incoming/outgoing. */
export async function presentConnection(ctx: RestContext, c: Contact): Promise<z.output<typeof connectionSchema>> {
  const outgoing = refId(c.requester) === ctx.actor?.id;
  const other = await userOf(ctx, refId(outgoing ? c.addressee : c.requester));
  return {
    id: c.id,
    user: other
      ? presentUser(ctx, other)
      : { id: 0, username: '', first_name: '', last_name: '', avatar: null, role: null, score: 0, rank: null, in_game_ids: [] },
    status: c.status.toLowerCase() as z.output<typeof connectionSchema>['status'],
    direction: outgoing ? 'outgoing' : 'incoming',
    created_at: iso(c.createdAt)!,
  };
}
