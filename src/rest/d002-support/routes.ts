import { z } from 'zod';
import { notFound } from '../../domain/shared/errors';
import { pathId } from '../common/fields.schemas';
import { limitOffsetQuery } from '../common/pagination.helpers';
import { defineRoute, type AnyRoute } from '../common/route.registry';
import { conversationSchema, presentConversation, presentSupportMessage, supportMessageSchema } from './presenters';

const TAG = 'seed 002: support desk';
const conversationId = z.object({ id: pathId });

/**
 * Seed 002 (restaurant support desk): one SUPPORT conversation per customer, answered by every
 * staff user. `GET /api/chat/conversations/` is shared with seed 000 (see ../conflicts).
 * Its Socket.IO half is served at /socket.io/ (src/realtime/transports/legacy/socketio.ts). The seed's
 * only REST example here is send_message's body (its Socket.IO payloads are not REST answers).
 */
export const supportRoutes: AnyRoute[] = [
  defineRoute({
    method: 'get', path: '/chat/conversations/my_conversation', tag: TAG,
    summary: "The caller's own support conversation, created on first use (404 for staff: they answer, they have none)",
    responses: { 200: { description: 'The conversation', schema: conversationSchema } },
    async handler(ctx) {
      const c = await ctx.services.conversations.supportThread(ctx.scope());
      if (!c) throw notFound('Support conversation');
      return { status: 200, body: await presentConversation(ctx, c) };
    },
  }),
  defineRoute({
    method: 'get', path: '/chat/conversations/:id', tag: TAG,
    summary: 'One conversation, in the list\'s shape (the router the seed registers implies the detail route): its customer, or staff',
    params: conversationId,
    responses: { 200: { description: 'The conversation', schema: conversationSchema } },
    async handler(ctx, { params }) {
      const { conversation } = await ctx.services.conversationQueries.access(ctx.scope(), params.id, 'id');
      return { status: 200, body: await presentConversation(ctx, conversation) };
    },
  }),
  defineRoute({
    method: 'get', path: '/chat/conversations/:id/messages', tag: TAG,
    summary: 'Messages, oldest first; ?limit=50&offset=0',
    params: conversationId,
    query: limitOffsetQuery,
    responses: { 200: { description: 'Messages', schema: z.array(supportMessageSchema) } },
    async handler(ctx, { params, query }) {
      const r = await ctx.services.messages.listRange(ctx.scope(), params.id, { limit: query.limit ?? 50, offset: query.offset ?? 0 });
      // The seed has no mark-read call: what the client fetched counts as read (ReadStateService.markShown).
      await ctx.services.readState.markShown(ctx.scope(), Number(params.id), r.messages);
      return { status: 200, body: await Promise.all(r.messages.map((m) => presentSupportMessage(ctx, m))) };
    },
  }),
  defineRoute({
    method: 'post', path: '/chat/conversations/:id/send_message', tag: TAG,
    summary: 'Send a message over HTTP (the Socket.IO fallback)',
    params: conversationId,
    body: z.object({ noi_dung: z.string() }),
    bodyExample: { noi_dung: 'Xin chào' },
    refusals: ['FORBIDDEN', 'RATE_LIMITED'],
    responses: { 201: { description: 'The message', schema: supportMessageSchema } },
    fieldNames: { content: 'noi_dung' },
    async handler(ctx, { params, body }) {
      const m = await ctx.services.messages.send(ctx.scope(), { conversationId: params.id, content: body.noi_dung });
      return { status: 201, body: await presentSupportMessage(ctx, m) };
    },
  }),
];
