import { z } from 'zod';
import { idField, pathId } from '../common/fields.schemas';
import { pageOf, pageQuery, pageSchema, pageWindow } from '../common/pagination.helpers';
import { defineRoute, type AnyRoute } from '../common/route.registry';
import { conversationSchema, messageSchema, presentConversation, presentMessage } from './presenters';

const TAG = 'seed 004: conversations';
const id = z.object({ id: pathId });

/** How many conversations GET /api/conversations/ lists at most (the seed shows no pagination). */
const LIST_LIMIT = 100;

/**
 * Seed 004 (gaming-community chat): conversations with participants, send-to-recipient that
 * opens the conversation, paginated messages. `GET PUT PATCH DELETE /api/messages/{id}/` are
 * shared with seed 001 (see ../conflicts); the attachments endpoint comes with the attachment
 * domain. Staff read every conversation by id and edit or delete any message (domain rules).
 */
export const conversationRoutes: AnyRoute[] = [
  defineRoute({
    method: 'get', path: '/conversations', tag: TAG,
    summary: `The conversations the caller takes part in, newest activity first (at most ${LIST_LIMIT})`,
    responses: { 200: { description: 'Conversations', schema: z.array(conversationSchema) } },
    async handler(ctx) {
      const r = await ctx.services.conversations.listByOffset(ctx.scope(), { limit: LIST_LIMIT });
      return { status: 200, body: await Promise.all(r.conversations.map((c) => presentConversation(ctx, c))) };
    },
  }),
  defineRoute({
    method: 'get', path: '/conversations/:id', tag: TAG,
    summary: 'One conversation (participants or staff)',
    params: id,
    responses: { 200: { description: 'The conversation', schema: conversationSchema } },
    async handler(ctx, { params }) {
      const { conversation } = await ctx.services.conversations.access(ctx.scope(), params.id, 'id');
      return { status: 200, body: await presentConversation(ctx, conversation) };
    },
  }),
  defineRoute({
    method: 'post', path: '/messages', tag: TAG,
    summary: 'Send to a user; the conversation with them is created when needed',
    body: z.object({ content: z.string(), recipient_id: idField }),
    responses: { 201: { description: 'The message', schema: messageSchema } },
    fieldNames: { recipientId: 'recipient_id', userId: 'recipient_id' },
    async handler(ctx, { body }) {
      const m = await ctx.services.messages.send(ctx.scope(), { recipientId: body.recipient_id, content: body.content });
      return { status: 201, body: await presentMessage(ctx, m) };
    },
  }),
  defineRoute({
    method: 'get', path: '/conversations/:id/messages', tag: TAG,
    summary: 'Messages of a conversation, oldest first (paginated)',
    params: id,
    query: pageQuery,
    responses: { 200: { description: 'A page of messages', schema: pageSchema(messageSchema) } },
    async handler(ctx, { params, query }) {
      const win = pageWindow(query);
      const r = await ctx.services.messages.listByOffset(ctx.scope(), params.id, { offset: win.offset, limit: win.limit });
      return { status: 200, body: pageOf(ctx, win, r.total, await Promise.all(r.messages.map((m) => presentMessage(ctx, m)))) };
    },
  }),
];
