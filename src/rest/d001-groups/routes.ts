import { z } from 'zod';
import { ConversationKind, MemberRole } from '../../domain/conversation/conversation.entity';
import { boolField, idField, listOf, pathId, uploadField } from '../common/fields.schemas';
import { messagePage, pageOf, pageQuery, pageSchema, pageWindow } from '../common/pagination.helpers';
import { defineRoute, type AnyRoute } from '../common/route.registry';
import { chatDetailSchema, chatSchema, messageSchema, presentChat, presentChatDetail, presentMessage, successSchema } from './presenters';

const TAG = 'seed 001: chat groups';
const chatId = z.object({ id: pathId });

// Examples: seed 001's own (its users, chats and messages), as its documents show them.
const RENTER1 = { id: 123, username: 'renter1', full_name: 'Renter One', avatar_thumbnail: 'https://example.com/avatars/renter1_thumb.jpg', role: 'renter' };
const OWNER1 = { id: 456, username: 'owner1', full_name: 'Owner One', avatar_thumbnail: 'https://example.com/avatars/owner1_thumb.jpg', role: 'owner' };
const USER3 = { id: 789, username: 'user3', full_name: 'User Three', avatar_thumbnail: 'https://example.com/avatars/user3_thumb.jpg', role: 'renter' };
const RENTER1_SENDER = { ...RENTER1, avatar: 'https://example.com/avatars/renter1.jpg' };
const OWNER1_SENDER = { ...OWNER1, avatar: 'https://example.com/avatars/owner1.jpg' };
const SUCCESS_EXAMPLE = { status: 'success' };
/** The 1:1 chat of seed 001's examples (GET /api/chats/, create_direct_chat). */
const DIRECT_CHAT_EXAMPLE = {
  id: 1,
  name: 'Owner One và Renter One',
  description: null,
  is_group: false,
  members_summary: [RENTER1, OWNER1],
  created_by: 456,
  created_at: '2023-07-15T10:30:00Z',
  updated_at: '2023-07-15T11:45:00Z',
  last_message: { id: 10, sender: RENTER1, content: 'Phòng còn trống không ạ?', created_at: '2023-07-15T11:45:00Z', is_removed: false },
  unread_count: 1,
};
const FIRST_MESSAGE_EXAMPLE = {
  id: 1,
  chat_group: 1,
  sender: OWNER1_SENDER,
  content: 'Chào bạn, bạn quan tâm đến phòng nào?',
  is_system_message: false,
  is_removed: false,
  replied_to: null,
  replied_to_preview: null,
  created_at: '2023-07-15T10:30:00Z',
  updated_at: '2023-07-15T10:30:00Z',
  media: [],
};
const REPLY_MESSAGE_EXAMPLE = {
  id: 2,
  chat_group: 1,
  sender: RENTER1_SENDER,
  content: 'Tôi quan tâm đến Phòng 101',
  is_system_message: false,
  is_removed: false,
  replied_to: 1,
  replied_to_preview: { id: 1, sender: OWNER1, content: 'Chào bạn, bạn quan tâm đến phòng nào?', created_at: '2023-07-15T10:30:00Z' },
  created_at: '2023-07-15T10:35:00Z',
  updated_at: '2023-07-15T10:35:00Z',
  media: [],
};
/** The message POST /api/chats/1/send-message/ answers in seed 001 (PATCH /api/messages/3/ edits it, ../conflicts). */
export const SENT_MESSAGE_EXAMPLE = {
  id: 3,
  chat_group: 1,
  sender: RENTER1_SENDER,
  content: 'Phòng này có wifi không ạ?',
  is_system_message: false,
  is_removed: false,
  replied_to: 2,
  replied_to_preview: { id: 2, sender: RENTER1, content: 'Tôi quan tâm đến Phòng 101', created_at: '2023-07-15T10:35:00Z' },
  created_at: '2023-07-15T10:40:00Z',
  updated_at: '2023-07-15T10:40:00Z',
  media: [
    {
      id: 1,
      url: 'https://res.cloudinary.com/example/image1.jpg',
      thumbnail: 'https://res.cloudinary.com/example/c_fill,h_150,w_150/image1.jpg',
      media_type: 'image',
    },
  ],
};

/**
 * Seed 001 (rental-app chat groups): 1:1 and group chats, members, add/remove/leave, paginated
 * messages with replies, send (with `medias` files). `PATCH`/`DELETE /api/messages/{id}/` are shared with seed 004
 * (see ../conflicts). Error messages are the seed's own (Vietnamese) in `error`; `detail` keeps
 * the domain's message.
 */
export const groupRoutes: AnyRoute[] = [
  defineRoute({
    method: 'get',
    path: '/chats',
    tag: TAG,
    summary: "The caller's 1:1 and group chats, newest activity first (paginated)",
    query: pageQuery,
    responses: {
      200: {
        description: 'A page of chats',
        schema: pageSchema(chatSchema),
        example: { count: 5, next: null, previous: null, results: [DIRECT_CHAT_EXAMPLE] },
      },
    },
    async handler(ctx, { query }) {
      const win = pageWindow(query);
      const r = await ctx.services.conversationQueries.listRange(ctx.scope(), {
        kinds: [ConversationKind.DIRECT, ConversationKind.GROUP],
        offset: win.offset,
        limit: win.limit,
      });
      return { status: 200, body: pageOf(ctx, win, r.total, await Promise.all(r.conversations.map((c) => presentChat(ctx, c)))) };
    },
  }),
  defineRoute({
    method: 'post',
    path: '/chats',
    tag: TAG,
    summary: 'Create a group chat (JSON or multipart with repeated `members`); the caller becomes its admin',
    body: z.object({ name: z.string(), description: z.string().nullish(), members: listOf(idField).optional() }),
    bodyExample: { name: 'Nhóm thảo luận dự án', description: 'Nhóm chat thảo luận về dự án xây dựng', members: [123, 456, 789] },
    responses: {
      201: {
        description: 'The group',
        schema: chatSchema,
        example: {
          id: 2,
          name: 'Nhóm thảo luận dự án',
          description: 'Nhóm chat thảo luận về dự án xây dựng',
          is_group: true,
          members_summary: [RENTER1, OWNER1, USER3],
          created_by: 123,
          created_at: '2023-07-15T13:30:00Z',
          updated_at: '2023-07-15T13:30:00Z',
          last_message: null,
          unread_count: 0,
        },
      },
    },
    fieldNames: { memberIds: 'members' },
    async handler(ctx, { body }) {
      const c = await ctx.services.conversations.createGroup(ctx.scope(), {
        name: body.name,
        description: body.description || null,
        memberIds: body.members ?? [],
      });
      return { status: 201, body: await presentChat(ctx, c) };
    },
  }),
  defineRoute({
    method: 'post',
    path: '/chats/create_direct_chat',
    tag: TAG,
    summary: 'Get or create the 1:1 chat with a user: 200 both ways, as the seed documents',
    body: z.object({ user_id: idField }),
    bodyExample: { user_id: 456 },
    refusals: ['FORBIDDEN'],
    responses: { 200: { description: 'The chat (existing or new)', schema: chatSchema, example: DIRECT_CHAT_EXAMPLE } },
    errors: { NOT_FOUND: { message: 'User không tồn tại' } },
    fieldNames: { userId: 'user_id' },
    async handler(ctx, { body }) {
      const conversation = await ctx.services.conversations.openDirectWith(ctx.scope(), { userId: body.user_id });
      return { status: 200, body: await presentChat(ctx, conversation) };
    },
  }),
  defineRoute({
    method: 'get',
    path: '/chats/:id',
    tag: TAG,
    summary: 'A chat with its members',
    params: chatId,
    responses: {
      200: {
        description: 'The chat',
        schema: chatDetailSchema,
        example: {
          ...DIRECT_CHAT_EXAMPLE,
          members: [
            {
              id: 1,
              chat_group: 1,
              user: OWNER1,
              is_admin: true,
              nickname: null,
              last_read_at: '2023-07-15T11:45:00Z',
              unread_count: 0,
              created_at: '2023-07-15T10:30:00Z',
              updated_at: '2023-07-15T10:30:00Z',
            },
            {
              id: 2,
              chat_group: 1,
              user: RENTER1,
              is_admin: false,
              nickname: null,
              last_read_at: '2023-07-15T10:45:00Z',
              unread_count: 1,
              created_at: '2023-07-15T10:30:00Z',
              updated_at: '2023-07-15T10:30:00Z',
            },
          ],
        },
      },
    },
    async handler(ctx, { params }) {
      const { conversation } = await ctx.services.conversationQueries.access(ctx.scope(), params.id, 'id');
      return { status: 200, body: await presentChatDetail(ctx, conversation) };
    },
  }),
  defineRoute({
    method: 'post',
    path: '/chats/:id/add_member',
    tag: TAG,
    summary: 'Add a member (admins; only the owner adds admins)',
    params: chatId,
    body: z.object({ user_id: idField, is_admin: boolField.optional() }),
    bodyExample: { user_id: 789, is_admin: false },
    responses: { 200: { description: 'Added', schema: successSchema, example: SUCCESS_EXAMPLE } },
    errors: { FORBIDDEN: { message: 'Không có quyền thêm thành viên' } },
    fieldNames: { userId: 'user_id' },
    async handler(ctx, { params, body }) {
      await ctx.services.memberships.addMember(ctx.scope(), params.id, String(body.user_id), body.is_admin ? MemberRole.ADMIN : MemberRole.MEMBER);
      return { status: 200, body: { status: 'success' } };
    },
  }),
  defineRoute({
    method: 'post',
    path: '/chats/:id/remove_member',
    tag: TAG,
    summary: 'Remove a member (admins)',
    params: chatId,
    body: z.object({ user_id: idField }),
    bodyExample: { user_id: 789 },
    responses: { 200: { description: 'Removed', schema: successSchema, example: SUCCESS_EXAMPLE } },
    errors: { FORBIDDEN: { message: 'Không có quyền xóa thành viên' } },
    fieldNames: { userId: 'user_id' },
    async handler(ctx, { params, body }) {
      await ctx.services.memberships.removeMember(ctx.scope(), params.id, String(body.user_id));
      return { status: 200, body: { status: 'success' } };
    },
  }),
  defineRoute({
    method: 'post',
    path: '/chats/:id/leave_group',
    tag: TAG,
    summary: 'Leave a group (400 for a 1:1 chat)',
    params: chatId,
    responses: { 200: { description: 'Left', schema: successSchema, example: SUCCESS_EXAMPLE } },
    errors: { BAD_USER_INPUT: { message: 'Không thể rời khỏi chat trực tiếp' } },
    async handler(ctx, { params }) {
      await ctx.services.memberships.leave(ctx.scope(), params.id);
      return { status: 200, body: { status: 'success' } };
    },
  }),
  defineRoute({
    method: 'get',
    path: '/chats/:id/messages',
    tag: TAG,
    summary: 'Messages of a chat, oldest first (paginated)',
    params: chatId,
    query: pageQuery,
    responses: {
      200: {
        description: 'A page of messages',
        schema: pageSchema(messageSchema),
        example: {
          count: 20,
          next: 'https://api.example.com/api/chats/1/messages/?page=2',
          previous: null,
          results: [FIRST_MESSAGE_EXAMPLE, REPLY_MESSAGE_EXAMPLE],
        },
      },
    },
    async handler(ctx, { params, query }) {
      const { win, total, messages } = await messagePage(ctx, params.id, query, { markShown: true });
      return { status: 200, body: pageOf(ctx, win, total, await Promise.all(messages.map((m) => presentMessage(ctx, m)))) };
    },
  }),
  defineRoute({
    method: 'post',
    path: '/chats/:id/send-message',
    tag: TAG,
    summary:
      'Send a message: JSON, or multipart with `medias` files (repeated key; images and videos, the upload limits of GraphQL: 413 too large or too many, 415 other types)',
    description: 'A caller who is not a member gets 403, whether or not the chat exists. With files, `content` may be empty.',
    params: chatId,
    body: z.object({ content: z.string().optional(), replied_to: idField.nullish(), medias: listOf(uploadField).optional() }),
    files: { medias: 'many' },
    // The seed's multipart form without its `medias` files (a JSON example cannot carry them).
    bodyExample: { content: 'Phòng này có wifi không ạ?', replied_to: 2 },
    refusals: ['FORBIDDEN', 'RATE_LIMITED', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE'],
    responses: { 201: { description: 'The message', schema: messageSchema, example: SENT_MESSAGE_EXAMPLE } },
    errors: { NOT_FOUND: { status: 403, message: 'Bạn không phải là thành viên của nhóm chat này' } },
    fieldNames: { replyToId: 'replied_to', attachments: 'medias' },
    async handler(ctx, { params, body }) {
      const m = await ctx.services.messages.send(ctx.scope(), {
        conversationId: params.id,
        content: body.content ?? '',
        replyToId: body.replied_to ?? null,
        attachments: body.medias ?? [],
      });
      return { status: 201, body: await presentMessage(ctx, m) };
    },
  }),
];
