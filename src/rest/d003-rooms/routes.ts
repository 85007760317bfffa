import { z } from 'zod';
import { ConversationKind, RoomVisibility } from '../../domain/conversation/conversation.entity';
import { idField, intField, pathId, uploadField } from '../common/fields.schemas';
import { mediaUrlOf } from '../common/views.helpers';
import { messagePage, pageQuery } from '../common/pagination.helpers';
import { defineRoute, type AnyRoute } from '../common/route.registry';
import {
  fileReferenceOf,
  SEND_FIELD_NAMES,
  notificationSchema,
  okMessageSchema,
  presentMembers,
  presentNotification,
  presentRoomCreated,
  presentRoomDetail,
  presentRoomListItem,
  presentRoomMessage,
  roomCreatedSchema,
  roomDetailSchema,
  roomListItemSchema,
  roomMemberSchema,
  roomMessageSchema,
  roomMessagesSchema,
  uploadSchema,
} from './presenters';

const TAG = 'seed 003: rooms';
const id = z.object({ id: pathId });

/** How many rooms and notifications the lists show at most (the seed shows no pagination). */
const LIST_LIMIT = 100;

// Examples: seed 003's own (its developer user and 开发讨论 room), as its documents show them.
const DEVELOPER = { id: 1, username: 'developer', first_name: 'Developer', last_name: 'User' };
const DEV_ROOM = { id: 1, name: '开发讨论' };
const message = (text: string) => ({ message: text });

/**
 * Seed 003 (team chat rooms): public/private/group rooms with max_members, join/leave, members,
 * page/page_size history, send with replies and files by URL, read marks, soft delete, notifications. Answers
 * carry `{"message": "..."}` in Chinese as the seed does; errors `{"error","detail"}`.
 * `/ws/chat/{room_id}/` is served by src/realtime/transports/legacy (seed 003 frames), beside GraphQL subscriptions.
 */
export const roomRoutes: AnyRoute[] = [
  defineRoute({
    method: 'get',
    path: '/chat/rooms',
    tag: TAG,
    summary: `Rooms the caller belongs to plus every public room, newest activity first (at most ${LIST_LIMIT})`,
    responses: {
      200: {
        description: 'Rooms',
        schema: z.array(roomListItemSchema),
        example: [
          {
            id: 1,
            name: '开发讨论',
            description: '开发团队讨论群',
            room_type: 'public',
            created_by: DEVELOPER,
            member_count: 5,
            last_message: { id: 10, content: '大家好！', sender: 'developer', created_at: '2024-01-01T12:00:00Z' },
            created_at: '2024-01-01T10:00:00Z',
          },
        ],
      },
    },
    async handler(ctx) {
      const r = await ctx.services.conversationQueries.listRange(ctx.scope(), {
        kinds: [ConversationKind.GROUP, ConversationKind.ROOM],
        withPublicRooms: true,
        limit: LIST_LIMIT,
      });
      return { status: 200, body: await Promise.all(r.conversations.map((c) => presentRoomListItem(ctx, c))) };
    },
  }),
  defineRoute({
    method: 'post',
    path: '/chat/rooms',
    tag: TAG,
    summary: 'Create a room: room_type public/private (a ROOM of that visibility) or group (a GROUP); the caller owns it',
    body: z.object({
      name: z.string(),
      description: z.string().nullish(),
      room_type: z.enum(['public', 'private', 'group']),
      max_members: intField.nullish().describe('Default 50 (rooms only)'),
    }),
    bodyExample: { name: '新房间', description: '房间描述', room_type: 'public', max_members: 50 },
    responses: {
      201: {
        description: 'The room',
        schema: roomCreatedSchema,
        example: {
          id: 2,
          name: '新房间',
          description: '房间描述',
          room_type: 'public',
          created_by: { id: 1, username: 'developer' },
          member_count: 1,
          is_active: true,
          max_members: 50,
          created_at: '2024-01-01T12:00:00Z',
        },
      },
    },
    fieldNames: { maxMembers: 'max_members' },
    async handler(ctx, { body }) {
      const c =
        body.room_type === 'group'
          ? await ctx.services.conversations.createGroup(ctx.scope(), { name: body.name, description: body.description || null, memberIds: [] })
          : await ctx.services.conversations.createRoom(ctx.scope(), {
              name: body.name,
              description: body.description || null,
              maxMembers: body.max_members ?? null,
              visibility: body.room_type === 'public' ? RoomVisibility.PUBLIC : RoomVisibility.PRIVATE,
            });
      return { status: 201, body: await presentRoomCreated(ctx, c) };
    },
  }),
  defineRoute({
    method: 'get',
    path: '/chat/rooms/:id',
    tag: TAG,
    summary: 'A room with its members (a public room seen from outside: no members)',
    params: id,
    responses: {
      200: {
        description: 'The room',
        schema: roomDetailSchema,
        example: {
          id: 1,
          name: '开发讨论',
          description: '开发团队讨论群',
          room_type: 'public',
          created_by: DEVELOPER,
          members: [DEVELOPER],
          member_count: 1,
          is_active: true,
          max_members: 50,
          created_at: '2024-01-01T10:00:00Z',
          updated_at: '2024-01-01T12:00:00Z',
        },
      },
    },
    async handler(ctx, { params }) {
      const r = await ctx.services.conversationQueries.visible(ctx.scope(), params.id, 'id');
      return { status: 200, body: await presentRoomDetail(ctx, r.conversation, r.canReadContent) };
    },
  }),
  defineRoute({
    method: 'patch',
    path: '/chat/rooms/:id',
    tag: TAG,
    summary: 'Deactivate or reactivate a room ({"is_active": false|true}; OWNER/ADMIN or staff), and/or change name, description, max_members (OWNER/ADMIN)',
    description: [
      "Seed 003 `is_active` (its ChatRoom model; a DRF viewset's partial update). An inactive (archived) room keeps its history readable,",
      'but sends (REST and `/ws/chat/{room_id}/`), joins, member additions and edits answer 403 `This conversation is archived (inactive): ...`',
      'until it is reactivated. The same state is GraphQL `Conversation.isArchived` (`archiveConversation`). A direct chat cannot be archived (400).',
    ].join(' '),
    params: id,
    body: z.object({
      is_active: z.boolean().optional(),
      name: z.string().optional(),
      description: z.string().nullish(),
      max_members: intField.optional(),
    }),
    bodyExample: { is_active: false },
    refusals: ['FORBIDDEN'],
    responses: {
      200: {
        description: 'The room',
        schema: roomDetailSchema,
        example: {
          id: 1,
          name: '开发讨论',
          description: '开发团队讨论群',
          room_type: 'public',
          created_by: DEVELOPER,
          members: [DEVELOPER],
          member_count: 1,
          is_active: false,
          max_members: 50,
          created_at: '2024-01-01T10:00:00Z',
          updated_at: '2024-01-01T12:00:00Z',
        },
      },
    },
    fieldNames: { maxMembers: 'max_members' },
    async handler(ctx, { params, body }) {
      if (body.name !== undefined || body.description !== undefined || body.max_members !== undefined) {
        await ctx.services.conversations.update(ctx.scope(), params.id, { name: body.name, description: body.description, maxMembers: body.max_members });
      }
      if (body.is_active !== undefined) await ctx.services.conversations.setArchived(ctx.scope(), params.id, !body.is_active);
      const r = await ctx.services.conversationQueries.visible(ctx.scope(), params.id, 'id');
      return { status: 200, body: await presentRoomDetail(ctx, r.conversation, r.canReadContent) };
    },
  }),
  defineRoute({
    method: 'post',
    path: '/chat/upload',
    tag: TAG,
    summary: 'Upload a file for a later file message (note 7): multipart `file` → 201 {file_url, file_name, file_size}',
    description: [
      'Seed 003 note 7: "文件消息需要先上传文件获取URL，然后发送消息" (upload the file first to get a URL, then send the message).',
      'The file is checked like every attachment (at most UPLOAD_MAX_BYTES, 10 MB by default: 413; jpg/jpeg/png/mp4/mov/webp/gif/heic/avif',
      "sniffed from the bytes and agreeing with the extension: 415) and stored. `file_url` is this server's signed media URL: send it as",
      '`file_url` with `message_type` image or file (POST /api/chat/rooms/{id}/messages/ or a `chat_message` frame) and the message takes',
      "this file (its real size and type). Only the uploader may link it; anyone else's send naming it is 400 `file_url names a file of",
      'this server that you may not see`. An upload never sent is deleted after UPLOAD_ORPHAN_TTL (24 h by default); one user holds at most',
      'UPLOAD_PENDING_MAX unsent uploads (400 past it).',
    ].join(' '),
    body: z.object({ file: uploadField }),
    files: { file: 'one' },
    refusals: ['PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE'],
    responses: {
      201: {
        description: 'The stored file',
        schema: uploadSchema,
        example: { file_url: 'http://localhost:8000/media/1?exp=1704110400&sig=9QXm2Hc1c4lq0I3cJm4Uq6sB3qQm0a4W', file_name: 'image.jpg', file_size: 1024 },
      },
    },
    fieldNames: { attachments: 'file' },
    async handler(ctx, { body }) {
      const a = await ctx.services.attachments.upload(ctx.scope(), body.file);
      return { status: 201, body: { file_url: mediaUrlOf(ctx, a)!, file_name: a.fileName, file_size: a.size ?? 0 } };
    },
  }),
  defineRoute({
    method: 'post',
    path: '/chat/rooms/:id/join',
    tag: TAG,
    summary: 'Join a public room; 403 private (or no such room) or inactive (is_active false), 400 full or banned',
    params: id,
    responses: { 200: { description: 'Joined', schema: okMessageSchema, example: message('成功加入房间') } },
    errors: {
      NOT_FOUND: { status: 403, message: '无法加入该房间（私有房间或房间不存在）' },
      FORBIDDEN: { status: 400, message: '您已被禁止加入该房间', field: 'id' },
      CONFLICT: { status: 400, message: '房间已满' },
    },
    async handler(ctx, { params }) {
      await ctx.services.memberships.joinRoom(ctx.scope(), params.id);
      return { status: 200, body: { message: '成功加入房间' } };
    },
  }),
  defineRoute({
    method: 'post',
    path: '/chat/rooms/:id/leave',
    tag: TAG,
    summary: 'Leave a room',
    params: id,
    responses: { 200: { description: 'Left', schema: okMessageSchema, example: message('成功离开房间') } },
    async handler(ctx, { params }) {
      await ctx.services.memberships.leave(ctx.scope(), params.id);
      return { status: 200, body: { message: '成功离开房间' } };
    },
  }),
  defineRoute({
    method: 'get',
    path: '/chat/rooms/:id/members',
    tag: TAG,
    summary: 'Members with role, read mark, mute and ban flags (members and staff)',
    params: id,
    responses: {
      200: {
        description: 'Members',
        schema: z.array(roomMemberSchema),
        example: [
          {
            id: 1,
            room: DEV_ROOM,
            user: DEVELOPER,
            role: 'admin',
            joined_at: '2024-01-01T10:00:00Z',
            last_read_at: '2024-01-01T12:00:00Z',
            is_muted: false,
            is_banned: false,
          },
        ],
      },
    },
    async handler(ctx, { params }) {
      const { conversation } = await ctx.services.conversationQueries.access(ctx.scope(), params.id, 'id');
      return { status: 200, body: await presentMembers(ctx, conversation, await ctx.loaders.membersWithBanned.load(conversation.id)) };
    },
  }),
  defineRoute({
    method: 'get',
    path: '/chat/rooms/:id/messages',
    tag: TAG,
    summary: 'Messages, oldest first: {messages, page, page_size, total}',
    params: id,
    query: pageQuery,
    responses: {
      200: {
        description: 'A page of messages',
        schema: roomMessagesSchema,
        example: {
          messages: [
            {
              id: 1,
              room: DEV_ROOM,
              sender: DEVELOPER,
              message_type: 'text',
              content: '大家好！',
              file_url: null,
              file_name: null,
              file_size: null,
              is_edited: false,
              is_deleted: false,
              reply_to: null,
              created_at: '2024-01-01T12:00:00Z',
              updated_at: '2024-01-01T12:00:00Z',
            },
          ],
          page: 1,
          page_size: 20,
          total: 1,
        },
      },
    },
    async handler(ctx, { params, query }) {
      const { win, total, messages } = await messagePage(ctx, params.id, query);
      return {
        status: 200,
        body: { messages: await Promise.all(messages.map((m) => presentRoomMessage(ctx, m))), page: win.page, page_size: win.size, total },
      };
    },
  }),
  defineRoute({
    method: 'post',
    path: '/chat/rooms/:id/messages',
    tag: TAG,
    summary:
      "Send a message: text, or message_type image/file with file_url (http/https, never fetched; this server's own /media/ URL links that file), file_name, file_size",
    description: [
      'Seed 003 "2.2 发送消息" (and note 7: upload first, then send the URL). `message_type` `image` or `file` makes an IMAGE or FILE message',
      'whose one attachment is `file_url`: an absolute `http:`/`https:` URL of at most 2048 characters (`javascript:`, `data:` and other schemes,',
      "credentials in the URL: 400 naming file_url). Another site's URL is kept as an external link, never fetched; `file_name` (checked as",
      "uploads' names: 1..255 characters, no path separators or control characters; default: the URL's last path segment) and `file_size`",
      "(0..2147483647, as the sender declares it) are kept as given. A URL of this server's own media (`/media/<id>`, as file_url shows it) links",
      'that file, when the sender may see it (else 400): its real size and type. `content` may be empty for a file message.',
      "With `message_type` `text` (the default) the file fields are ignored, as the seed's own example answers them null.",
      '`message_type` `system` posts a notice (a system message, its `sender` the poster as for join/leave notices; file fields ignored):',
      "allowed to the room's owner and admins (and staff); any other member gets 403 naming the rule.",
    ].join(' '),
    params: id,
    body: z.object({
      content: z.string().describe('The text; may be empty for image and file messages'),
      message_type: z
        .enum(['text', 'image', 'file', 'system'])
        .optional()
        .describe(
          "system: a notice in the room (a system message showing the sender as its actor), from the room's owner or an admin only (403 for other members)",
        ),
      file_url: z.string().nullish().describe("image/file: an http(s) URL (at most 2048 characters), or a URL of this server's media"),
      file_name: z.string().nullish().describe('1..255 characters, no path separators or control characters'),
      file_size: intField.nullish().describe('Bytes, 0..2147483647, as declared by the sender'),
      reply_to: idField.nullish(),
    }),
    refusals: ['FORBIDDEN', 'RATE_LIMITED'],
    bodyExample: { content: '消息内容', message_type: 'text', file_url: 'https://example.com/file.jpg', file_name: 'image.jpg', file_size: 1024, reply_to: 1 },
    responses: {
      201: {
        description: 'The message (a file message shows its file_url, file_name, file_size)',
        schema: roomMessageSchema,
        example: {
          id: 2,
          room: DEV_ROOM,
          sender: DEVELOPER,
          message_type: 'text',
          content: '消息内容',
          file_url: null,
          file_name: null,
          file_size: null,
          is_edited: false,
          is_deleted: false,
          reply_to: null,
          created_at: '2024-01-01T12:05:00Z',
          updated_at: '2024-01-01T12:05:00Z',
        },
      },
    },
    fieldNames: SEND_FIELD_NAMES,
    async handler(ctx, { params, body }) {
      const m = await ctx.services.messages.send(ctx.scope(), {
        conversationId: params.id,
        content: body.content,
        replyToId: body.reply_to ?? null,
        fileRef: fileReferenceOf(body),
        serverHost: ctx.url.host,
        notice: body.message_type === 'system',
      });
      return { status: 201, body: await presentRoomMessage(ctx, m) };
    },
  }),
  defineRoute({
    method: 'post',
    path: '/chat/messages/:id/read',
    tag: TAG,
    summary: 'Mark read up to this message',
    params: id,
    responses: { 200: { description: 'Marked', schema: okMessageSchema, example: message('消息已标记为已读') } },
    async handler(ctx, { params }) {
      await ctx.services.readState.markReadUpTo(ctx.scope(), params.id);
      return { status: 200, body: { message: '消息已标记为已读' } };
    },
  }),
  defineRoute({
    method: 'delete',
    path: '/chat/messages/:id/delete',
    tag: TAG,
    summary: `Soft-delete a message (its content then reads "[消息已删除]" here)`,
    params: id,
    refusals: ['FORBIDDEN'],
    responses: { 200: { description: 'Deleted', schema: okMessageSchema, example: message('消息已删除') } },
    async handler(ctx, { params }) {
      await ctx.services.messages.delete(ctx.scope(), params.id);
      return { status: 200, body: { message: '消息已删除' } };
    },
  }),
  defineRoute({
    method: 'get',
    path: '/chat/notifications',
    tag: TAG,
    summary: `The caller's notifications, newest first (at most ${LIST_LIMIT})`,
    responses: {
      200: {
        description: 'Notifications',
        schema: z.array(notificationSchema),
        example: [
          {
            id: 1,
            notification_type: 'message',
            title: '新消息来自 developer',
            content: '大家好！',
            room: {
              id: 1,
              name: '开发讨论',
              description: '开发团队讨论群',
              room_type: 'public',
              created_by: { id: 1, username: 'developer' },
              member_count: 5,
              is_active: true,
              max_members: 50,
              created_at: '2024-01-01T10:00:00Z',
              updated_at: '2024-01-01T12:00:00Z',
            },
            message: { id: 1, content: '大家好！', message_type: 'text', created_at: '2024-01-01T12:00:00Z' },
            is_read: false,
            created_at: '2024-01-01T12:00:00Z',
          },
        ],
      },
    },
    async handler(ctx) {
      const page = await ctx.services.notifications.list(ctx.scope(), { first: LIST_LIMIT });
      return { status: 200, body: await Promise.all(page.edges.map((e) => presentNotification(ctx, e.node))) };
    },
  }),
  defineRoute({
    method: 'post',
    path: '/chat/notifications/:id/read',
    tag: TAG,
    summary: 'Mark a notification read',
    params: id,
    responses: { 200: { description: 'Marked', schema: okMessageSchema, example: message('通知已标记为已读') } },
    async handler(ctx, { params }) {
      await ctx.services.notifications.markRead(ctx.scope(), params.id);
      return { status: 200, body: { message: '通知已标记为已读' } };
    },
  }),
];
