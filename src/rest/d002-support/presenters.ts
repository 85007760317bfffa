import type { UserRecord } from '../../domain/user/user-cache';
import { z } from 'zod';
import { ConversationKind, type Conversation } from '../../domain/conversation/conversation.entity';
import type { MessageView } from '../../domain/shared/events';
import { fullNameOf } from '../../domain/user/user.entity';
import type { RestContext } from '../common/route.registry';
import type { PushDevice } from '../../domain/push/push-device.entity';
import { iso, lastMessageOf, membersOf, titleOf, unreadOf, userOf } from '../common/views.helpers';
import { refId } from '../../domain/shared/refs';

import escapeHtml from 'escape-html';

/**
 * Seed 002's text as HTML text (issue 28 item 12; docs/rest-compat.md "Seed 002: HTML-safe text"):
 * its security note 4 asks the server to sanitise `noi_dung` against XSS, and its own browser
 * sample inserts `nguoi_goi_name` and `noi_dung` with `innerHTML`. Messages are stored as sent
 * (every other dialect and GraphQL get the text itself); seed 002's answers and events carry these
 * two fields HTML-escaped (`&`, `<`, `>`, `"`, `'`; the escape-html library), which that sample
 * then shows exactly as typed and never runs as markup.
 */
export function htmlText(s: string): string {
  return escapeHtml(s);
}

/** Seed 002 shapes: support conversations (also the shared GET /api/chat/conversations/ item) and messages. */

export const customerInfoSchema = z.object({
  id: z.number().int(),
  username: z.string(),
  ho_ten: z.string(),
  loai_nguoi_dung: z.enum(['khach_hang', 'nhan_vien']),
});
export const conversationLastMessageSchema = z.object({
  id: z.number().int(),
  noi_dung: z.string(),
  thoi_gian: z.string(),
  nguoi_goi_name: z.string(),
  message_id: z.number().int(),
  message: z.string(),
  username: z.string().nullable(),
  timestamp: z.string(),
});
export const conversationSchema = z.object({
  id: z.number().int(),
  customer: z.number().int().nullable(),
  customer_info: customerInfoSchema.nullable(),
  is_staff_group: z.boolean(),
  created_at: z.string(),
  last_message_at: z.string().nullable(),
  last_message: conversationLastMessageSchema.nullable(),
  unread_count: z.number().int(),
  kind: z.enum(['DIRECT', 'GROUP', 'ROOM', 'SUPPORT']),
  title: z.string(),
  participants: z.array(z.object({ id: z.number().int(), username: z.string() })),
});
export const supportMessageSchema = z.object({
  id: z.number().int(),
  conversation_id: z.number().int(),
  nguoi_goi_id: z.number().int().nullable(),
  nguoi_goi_name: z.string(),
  noi_dung: z.string(),
  thoi_gian: z.string(),
});

/** `{id, username, ho_ten, loai_nguoi_dung}`: staff are "nhan_vien", everyone else "khach_hang". */
export function presentCustomerInfo(u: UserRecord): z.output<typeof customerInfoSchema> {
  return { id: u.id, username: u.username, ho_ten: fullNameOf(u), loai_nguoi_dung: u.isStaff ? 'nhan_vien' : 'khach_hang' };
}

/** The sender's display name (staff by their own name); SYSTEM messages: "". */
function senderName(u: UserRecord | null): string {
  return u ? fullNameOf(u) : '';
}

/** A message `{id, conversation_id, nguoi_goi_id, nguoi_goi_name, noi_dung, thoi_gian}`, the two texts HTML-escaped ({@link htmlText}). */
export async function presentSupportMessage(ctx: RestContext, m: MessageView): Promise<z.output<typeof supportMessageSchema>> {
  return supportMessageOf(m, await userOf(ctx, m.senderId));
}

/**
 * {@link presentSupportMessage} with its sender already read (`sender`: null for SYSTEM
 * messages): the same shape for REST, the Socket.IO `new_message` event and its acknowledgement.
 */
export function supportMessageOf(m: MessageView, sender: UserRecord | null): z.output<typeof supportMessageSchema> {
  return {
    id: m.id,
    conversation_id: m.conversationId,
    nguoi_goi_id: m.senderId,
    nguoi_goi_name: htmlText(senderName(sender)),
    noi_dung: htmlText(m.content),
    thoi_gian: m.createdAt,
  };
}

/**
 * A conversation in seed 002's shape plus `kind`, `title`, `participants`, and seed 000's keys
 * in `last_message` (rest-compat.md "Conflicts": one GET /api/chat/conversations/ for both).
 */
export async function presentConversation(ctx: RestContext, c: Conversation): Promise<z.output<typeof conversationSchema>> {
  const customer = await userOf(ctx, refId(c.customer));
  const last = await lastMessageOf(ctx, c);
  const sender = await userOf(ctx, last?.senderId);
  const members = await membersOf(ctx, c);
  return {
    id: c.id,
    customer: customer?.id ?? null,
    customer_info: customer ? presentCustomerInfo(customer) : null,
    is_staff_group: c.kind === ConversationKind.SUPPORT,
    created_at: iso(c.createdAt)!,
    last_message_at: last ? last.createdAt : null,
    last_message: last
      ? {
          id: last.id,
          noi_dung: htmlText(last.content),
          thoi_gian: last.createdAt,
          nguoi_goi_name: htmlText(senderName(sender)),
          message_id: last.id,
          message: last.content,
          username: sender?.username ?? null,
          timestamp: last.createdAt,
        }
      : null,
    unread_count: await unreadOf(ctx, c),
    kind: c.kind,
    title: await titleOf(ctx, c),
    participants: members.map((m) => ({ id: m.user.id, username: m.user.username })),
  };
}

/** fcm-django's FCMDevice serializer: `{id, name, registration_id, device_id, active, date_created, type}`. */
export const fcmDeviceSchema = z.object({
  id: z.number().int(),
  name: z.string().nullable(),
  registration_id: z.string(),
  device_id: z.string().nullable(),
  active: z.boolean(),
  date_created: z.string(),
  type: z.enum(['android', 'ios', 'web']),
});

/** A push device in fcm-django's shape; a Web Push subscription (registered through GraphQL) shows its endpoint as `registration_id`, type `web`. */
export function presentFcmDevice(d: PushDevice): z.output<typeof fcmDeviceSchema> {
  return {
    id: d.id,
    name: d.name ?? null,
    registration_id: d.token,
    device_id: d.deviceId ?? null,
    active: d.active,
    date_created: iso(d.createdAt)!,
    type: (d.fcmType as 'android' | 'ios' | 'web' | null) ?? 'web',
  };
}
