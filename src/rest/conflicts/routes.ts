import { z } from 'zod';
import { pathId } from '../common/fields.schemas';
import { defineRoute, type AnyRoute } from '../common/route.registry';
import { conversationSchema, presentConversation } from '../d002-support/presenters';
import { presentUnionMessage, unionMessageSchema } from './presenters';

const SHARED_000_002 = 'shared: seeds 000 and 002';
const SHARED_001_004 = 'shared: seeds 001 and 004';
const id = z.object({ id: pathId });

/** How many conversations GET /api/chat/conversations/ lists at most (neither seed paginates it). */
const LIST_LIMIT = 100;

/** Seed 001's error messages for the message resource (`error`); `detail` keeps the domain's. */
const EDIT_ERRORS = {
  FORBIDDEN: { message: 'Bạn chỉ có thể cập nhật tin nhắn của mình' },
  BAD_USER_INPUT: { message: 'Tin nhắn này đã bị xóa', field: 'id' },
};

/** The message resource's PUT and PATCH: `{content}` → 200 the message. */
function editRoute(method: 'put' | 'patch') {
  return defineRoute({
    method, path: '/messages/:id', tag: SHARED_001_004,
    summary: "Edit a message's content (its sender, or staff); 400 once deleted",
    params: id,
    body: z.object({ content: z.string() }),
    refusals: ['FORBIDDEN'],
    responses: { 200: { description: 'The edited message', schema: unionMessageSchema } },
    errors: EDIT_ERRORS,
    async handler(ctx, { params, body }) {
      return { status: 200, body: await presentUnionMessage(ctx, await ctx.services.messages.edit(ctx.scope(), params.id, body.content)) };
    },
  });
}

/**
 * Routes two seeds share, decided in rest-compat.md "Conflicts":
 * - `GET /api/chat/conversations/` (seeds 000 and 002): one list in seed 002's shape plus `kind`,
 *   `title`, `participants`, and seed 000's keys in `last_message`; staff get every SUPPORT thread.
 * - `/api/messages/{id}/` (seeds 001 and 004): one resource with the union of both message objects;
 *   PATCH/PUT 200, DELETE 204 (soft).
 */
export const sharedRoutes: AnyRoute[] = [
  defineRoute({
    method: 'get', path: '/chat/conversations', tag: SHARED_000_002,
    summary: `The caller's conversations, newest activity first (at most ${LIST_LIMIT}); staff also every support conversation`,
    responses: { 200: { description: 'Conversations', schema: z.array(conversationSchema) } },
    async handler(ctx) {
      const r = await ctx.services.conversationQueries.listRange(ctx.scope(), { limit: LIST_LIMIT });
      return { status: 200, body: await Promise.all(r.conversations.map((c) => presentConversation(ctx, c))) };
    },
  }),
  defineRoute({
    method: 'get', path: '/messages/:id', tag: SHARED_001_004,
    summary: 'One message',
    params: id,
    responses: { 200: { description: 'The message', schema: unionMessageSchema } },
    async handler(ctx, { params }) {
      return { status: 200, body: await presentUnionMessage(ctx, await ctx.services.messages.get(ctx.scope(), params.id)) };
    },
  }),
  editRoute('put'),
  editRoute('patch'),
  defineRoute({
    method: 'delete', path: '/messages/:id', tag: SHARED_001_004,
    summary: 'Soft-delete a message (its sender, group/room admins, or staff); 400 for a system message',
    params: id,
    refusals: ['FORBIDDEN'],
    responses: { 204: { description: 'Deleted' } },
    errors: {
      FORBIDDEN: { message: 'Bạn chỉ có thể xóa tin nhắn của mình' },
      BAD_USER_INPUT: { message: 'Không thể xóa tin nhắn hệ thống', field: 'id' },
    },
    async handler(ctx, { params }) {
      await ctx.services.messages.delete(ctx.scope(), params.id);
      return { status: 204 };
    },
  }),
];
