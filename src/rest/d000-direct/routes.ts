import { z } from 'zod';
import { ConversationKind } from '../../domain/conversation/conversation.entity';
import { intQuery, pathId } from '../common/fields.schemas';
import { defineRoute, type AnyRoute } from '../common/route.registry';
import {
  connectionSchema,
  historyItemSchema,
  markReadSchema,
  presentConnection,
  presentHistory,
  presentRecent,
  presentUnread,
  recentConversationSchema,
  statusSchema,
  unreadCountSchema,
} from './presenters';

const TAG = 'seed 000: direct chat by username';
const username = z.object({ username: z.string().min(1).max(64) });
const userId = z.object({ user_id: pathId });
const connectionId = z.object({ connection_id: pathId });

/**
 * Seed 000 (music-app chat): 1:1 chat addressed by username, unread counts, mark-read, recent
 * conversations, connections. `GET /api/chat/conversations/` is shared with seed 002 (see
 * ../conflicts). The WebSocket `/ws/chat/<username>/` is served by src/realtime/transports/legacy (seed 000 frames).
 */
export const directRoutes: AnyRoute[] = [
  defineRoute({
    method: 'get',
    path: '/chat/history/:username',
    tag: TAG,
    summary: 'Messages with a user, oldest first; ?limit=&before=<message_id> pages back. Opens the chat on first use (403 when blocked).',
    params: username,
    query: z.object({
      limit: intQuery(0, 100).optional().describe('At most this many (default 50, at most 100)'),
      before: pathId.optional().describe('Only messages older than this message id'),
    }),
    refusals: ['FORBIDDEN'],
    responses: { 200: { description: 'History', schema: z.array(historyItemSchema) } },
    async handler(ctx, { params, query }) {
      const r = await ctx.services.messages.directHistory(ctx.scope(), params.username, { limit: query.limit, before: query.before });
      return { status: 200, body: await presentHistory(ctx, r.conversationId, r.messages) };
    },
  }),
  defineRoute({
    method: 'get',
    path: '/chat/unread/count',
    tag: TAG,
    summary: 'Unread messages of the caller, in total and by sender',
    responses: { 200: { description: 'Counts', schema: unreadCountSchema } },
    async handler(ctx) {
      return { status: 200, body: await presentUnread(ctx, await ctx.services.readState.unreadSummary(ctx.scope())) };
    },
  }),
  defineRoute({
    method: 'post',
    path: '/chat/mark-read/:username',
    tag: TAG,
    summary: "Mark every message from that user read (publishes a read receipt); marked_count = that user's messages that were unread",
    params: username,
    responses: { 200: { description: 'Marked', schema: markReadSchema } },
    async handler(ctx, { params }) {
      const r = await ctx.services.readState.markDirectRead(ctx.scope(), params.username);
      return { status: 200, body: { status: 'success', marked_count: r.markedCount } };
    },
  }),
  defineRoute({
    method: 'get',
    path: '/chat/recent-conversations',
    tag: TAG,
    summary: 'Direct conversations, newest activity first, at most ?limit (default 10)',
    query: z.object({ limit: intQuery(0, 100).optional().describe('At most this many (default 10, at most 100)') }),
    responses: { 200: { description: 'Conversations', schema: z.array(recentConversationSchema) } },
    async handler(ctx, { query }) {
      const r = await ctx.services.conversationQueries.listRange(ctx.scope(), { kinds: [ConversationKind.DIRECT], limit: query.limit ?? 10 });
      return { status: 200, body: await Promise.all(r.conversations.map((c) => presentRecent(ctx, c))) };
    },
  }),
  defineRoute({
    method: 'get',
    path: '/accounts/connections/users',
    tag: TAG,
    summary: "The caller's connections (blocks only where the caller blocked)",
    responses: { 200: { description: 'Connections', schema: z.array(connectionSchema) } },
    async handler(ctx) {
      const rows = await ctx.services.contacts.list(ctx.scope());
      return { status: 200, body: await Promise.all(rows.map((c) => presentConnection(ctx, c))) };
    },
  }),
  defineRoute({
    method: 'post',
    path: '/accounts/connections/request/:user_id',
    tag: TAG,
    summary: 'Ask a user to connect (403 when either blocked the other)',
    params: userId,
    refusals: ['FORBIDDEN'],
    responses: { 201: { description: 'The connection', schema: connectionSchema } },
    fieldNames: { userId: 'user_id' },
    async handler(ctx, { params }) {
      return { status: 201, body: await presentConnection(ctx, await ctx.services.contacts.request(ctx.scope(), params.user_id)) };
    },
  }),
  defineRoute({
    method: 'post',
    path: '/accounts/connections/accept/:connection_id',
    tag: TAG,
    summary: 'Accept a request (addressee only)',
    params: connectionId,
    refusals: ['FORBIDDEN'],
    responses: { 200: { description: 'The connection', schema: connectionSchema } },
    async handler(ctx, { params }) {
      return { status: 200, body: await presentConnection(ctx, await ctx.services.contacts.accept(ctx.scope(), params.connection_id)) };
    },
  }),
  defineRoute({
    method: 'post',
    path: '/accounts/connections/decline/:connection_id',
    tag: TAG,
    summary: 'Decline a request (addressee only)',
    params: connectionId,
    refusals: ['FORBIDDEN'],
    responses: { 200: { description: 'The connection', schema: connectionSchema } },
    async handler(ctx, { params }) {
      return { status: 200, body: await presentConnection(ctx, await ctx.services.contacts.decline(ctx.scope(), params.connection_id)) };
    },
  }),
  defineRoute({
    method: 'post',
    path: '/accounts/connections/block/:user_id',
    tag: TAG,
    summary: 'Block a user (ends any connection)',
    params: userId,
    responses: { 200: { description: 'The connection, status "blocked"', schema: connectionSchema } },
    fieldNames: { userId: 'user_id' },
    async handler(ctx, { params }) {
      return { status: 200, body: await presentConnection(ctx, await ctx.services.contacts.block(ctx.scope(), params.user_id)) };
    },
  }),
  defineRoute({
    method: 'post',
    path: '/accounts/connections/unblock/:user_id',
    tag: TAG,
    summary: "Lift the caller's block of a user",
    params: userId,
    responses: { 200: { description: 'Done', schema: statusSchema } },
    fieldNames: { userId: 'user_id' },
    async handler(ctx, { params }) {
      await ctx.services.contacts.unblock(ctx.scope(), params.user_id);
      return { status: 200, body: { status: 'success' } };
    },
  }),
];
