import { z } from 'zod';
import { ConversationKind, MemberRole } from '../../domain/conversation/conversation.entity';
import { boolField, idField, listOf, pathId, uploadField } from '../common/fields.schemas';
import { messagePage, pageOf, pageQuery, pageSchema, pageWindow } from '../common/pagination.helpers';
import { defineRoute, type AnyRoute } from '../common/route.registry';
import { chatDetailSchema, chatSchema, messageSchema, presentChat, presentChatDetail, presentMessage, successSchema } from './presenters';

const TAG = 'seed 001: chat groups';
const chatId = z.object({ id: pathId });

/**
 * Seed 001 (rental-app chat groups): 1:1 and group chats, members, add/remove/leave, paginated
 * messages with replies, send (with `medias` files). `PATCH`/`DELETE /api/messages/{id}/` are shared with seed 004
 * (see ../conflicts). Error messages are the seed's own (Vietnamese) in `error`; `detail` keeps
 * the domain's message.
 */
export const groupRoutes: AnyRoute[] = [
  defineRoute({
    method: 'get', path: '/chats', tag: TAG,
    summary: "The caller's 1:1 and group chats, newest activity first (paginated)",
    query: pageQuery,
    responses: { 200: { description: 'A page of chats', schema: pageSchema(chatSchema) } },
    async handler(ctx, { query }) {
      const win = pageWindow(query);
      const r = await ctx.services.conversationQueries.listRange(ctx.scope(), { kinds: [ConversationKind.DIRECT, ConversationKind.GROUP], offset: win.offset, limit: win.limit });
      return { status: 200, body: pageOf(ctx, win, r.total, await Promise.all(r.conversations.map((c) => presentChat(ctx, c)))) };
    },
  }),
  defineRoute({
    method: 'post', path: '/chats', tag: TAG,
    summary: 'Create a group chat (JSON or multipart with repeated `members`); the caller becomes its admin',
    body: z.object({ name: z.string(), description: z.string().nullish(), members: listOf(idField).optional() }),
    responses: { 201: { description: 'The group', schema: chatSchema } },
    fieldNames: { memberIds: 'members' },
    async handler(ctx, { body }) {
      const c = await ctx.services.conversations.createGroup(ctx.scope(), { name: body.name, description: body.description || null, memberIds: body.members ?? [] });
      return { status: 201, body: await presentChat(ctx, c) };
    },
  }),
  defineRoute({
    method: 'post', path: '/chats/create_direct_chat', tag: TAG,
    summary: 'Get (200) or create (201) the 1:1 chat with a user',
    body: z.object({ user_id: idField }),
    refusals: ['FORBIDDEN'],
    responses: { 200: { description: 'The existing chat', schema: chatSchema }, 201: { description: 'A new chat', schema: chatSchema } },
    errors: { NOT_FOUND: { message: 'User không tồn tại' } },
    fieldNames: { userId: 'user_id' },
    async handler(ctx, { body }) {
      const r = await ctx.services.conversations.getOrCreateDirect(ctx.scope(), { userId: body.user_id });
      return { status: r.created ? 201 : 200, body: await presentChat(ctx, r.conversation) };
    },
  }),
  defineRoute({
    method: 'get', path: '/chats/:id', tag: TAG,
    summary: 'A chat with its members',
    params: chatId,
    responses: { 200: { description: 'The chat', schema: chatDetailSchema } },
    async handler(ctx, { params }) {
      const { conversation } = await ctx.services.conversationQueries.access(ctx.scope(), params.id, 'id');
      return { status: 200, body: await presentChatDetail(ctx, conversation) };
    },
  }),
  defineRoute({
    method: 'post', path: '/chats/:id/add_member', tag: TAG,
    summary: 'Add a member (admins; only the owner adds admins)',
    params: chatId,
    body: z.object({ user_id: idField, is_admin: boolField.optional() }),
    responses: { 200: { description: 'Added', schema: successSchema } },
    errors: { FORBIDDEN: { message: 'Không có quyền thêm thành viên' } },
    fieldNames: { userId: 'user_id' },
    async handler(ctx, { params, body }) {
      await ctx.services.memberships.addMember(ctx.scope(), params.id, String(body.user_id), body.is_admin ? MemberRole.ADMIN : MemberRole.MEMBER);
      return { status: 200, body: { status: 'success' } };
    },
  }),
  defineRoute({
    method: 'post', path: '/chats/:id/remove_member', tag: TAG,
    summary: 'Remove a member (admins)',
    params: chatId,
    body: z.object({ user_id: idField }),
    responses: { 200: { description: 'Removed', schema: successSchema } },
    errors: { FORBIDDEN: { message: 'Không có quyền xóa thành viên' } },
    fieldNames: { userId: 'user_id' },
    async handler(ctx, { params, body }) {
      await ctx.services.memberships.removeMember(ctx.scope(), params.id, String(body.user_id));
      return { status: 200, body: { status: 'success' } };
    },
  }),
  defineRoute({
    method: 'post', path: '/chats/:id/leave_group', tag: TAG,
    summary: 'Leave a group (400 for a 1:1 chat)',
    params: chatId,
    responses: { 200: { description: 'Left', schema: successSchema } },
    errors: { BAD_USER_INPUT: { message: 'Không thể rời khỏi chat trực tiếp' } },
    async handler(ctx, { params }) {
      await ctx.services.memberships.leave(ctx.scope(), params.id);
      return { status: 200, body: { status: 'success' } };
    },
  }),
  defineRoute({
    method: 'get', path: '/chats/:id/messages', tag: TAG,
    summary: 'Messages of a chat, oldest first (paginated)',
    params: chatId,
    query: pageQuery,
    responses: { 200: { description: 'A page of messages', schema: pageSchema(messageSchema) } },
    async handler(ctx, { params, query }) {
      const { win, total, messages } = await messagePage(ctx, params.id, query);
      return { status: 200, body: pageOf(ctx, win, total, await Promise.all(messages.map((m) => presentMessage(ctx, m)))) };
    },
  }),
  defineRoute({
    method: 'post', path: '/chats/:id/send-message', tag: TAG,
    summary: 'Send a message: JSON, or multipart with `medias` files (repeated key; images and videos, the upload limits of GraphQL: 413 too large or too many, 415 other types)',
    description: 'A caller who is not a member gets 403, whether or not the chat exists. With files, `content` may be empty.',
    params: chatId,
    body: z.object({ content: z.string().optional(), replied_to: idField.nullish(), medias: listOf(uploadField).optional() }),
    files: { medias: 'many' },
    refusals: ['FORBIDDEN', 'RATE_LIMITED', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE'],
    responses: { 201: { description: 'The message', schema: messageSchema } },
    errors: { NOT_FOUND: { status: 403, message: 'Bạn không phải là thành viên của nhóm chat này' } },
    fieldNames: { replyToId: 'replied_to', attachments: 'medias' },
    async handler(ctx, { params, body }) {
      const m = await ctx.services.messages.send(ctx.scope(), {
        conversationId: params.id, content: body.content ?? '', replyToId: body.replied_to ?? null, attachments: body.medias ?? [],
      });
      return { status: 201, body: await presentMessage(ctx, m) };
    },
  }),
];
