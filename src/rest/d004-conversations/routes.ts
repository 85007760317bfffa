import { z } from 'zod';
import { idField, pathId, uploadField } from '../common/fields.schemas';
import { messagePage, pageOf, pageQuery, pageSchema } from '../common/pagination.helpers';
import { defineRoute, type AnyRoute } from '../common/route.registry';
import { attachmentSchema, conversationSchema, messageSchema, presentAttachment, presentConversation, presentMessage } from './presenters';

const TAG = 'seed 004: conversations';
const id = z.object({ id: pathId });

/** How many conversations GET /api/conversations/ lists at most (the seed shows no pagination). */
const LIST_LIMIT = 100;

// Examples: seed 004's own, where it elides (`[ ... ]`, `{ ... }`) filled from its other examples
// (the users of its WebSocket events, its `new_message`) and its data model's fields (`score` 0,
// `rank` and `role` null, no `in_game_ids`, no attachments).
const user = (userId: number, username: string, profilePicture: string | null) => ({
  id: userId,
  username,
  first_name: '',
  last_name: '',
  profile_picture: profilePicture,
  score: 0,
  rank: null,
  role: null,
  in_game_ids: [],
});
const USER1 = user(1, 'user1', 'url/to/image.jpg');
const USER2 = user(2, 'user2', null);
const CONVERSATION_EXAMPLE = {
  id: 1,
  participants: [USER1, USER2],
  created_at: '2023-10-27T10:00:00Z',
  last_message: {
    id: 124,
    conversation: 1,
    sender: USER2,
    content: 'محتوای پیام جدید.',
    timestamp: '2023-10-27T14:00:00Z',
    is_read: false,
    is_edited: false,
    is_deleted: false,
    attachments: [],
  },
};

/**
 * Seed 004 (gaming-community chat): conversations with participants, send-to-recipient that
 * opens the conversation, paginated messages. `GET PUT PATCH DELETE /api/messages/{id}/` are
 * shared with seed 001 (see ../conflicts). Attachments: one `file` per request, the same limits
 * and sniffing as GraphQL uploads (413 over 10 MB, 415 other formats), the sender only. Staff read every conversation by id and edit or delete any message (domain rules).
 */
export const conversationRoutes: AnyRoute[] = [
  defineRoute({
    method: 'get',
    path: '/conversations',
    tag: TAG,
    summary: `The conversations the caller takes part in (staff: every conversation), newest activity first (at most ${LIST_LIMIT})`,
    responses: { 200: { description: 'Conversations', schema: z.array(conversationSchema), example: [CONVERSATION_EXAMPLE] } },
    async handler(ctx) {
      const r = await ctx.services.conversationQueries.listRange(ctx.scope(), { reach: 'readable', limit: LIST_LIMIT });
      return { status: 200, body: await Promise.all(r.conversations.map((c) => presentConversation(ctx, c))) };
    },
  }),
  defineRoute({
    method: 'get',
    path: '/conversations/:id',
    tag: TAG,
    summary: 'One conversation (participants or staff)',
    params: id,
    // The seed: "the same structure as one object of the list above".
    responses: { 200: { description: 'The conversation', schema: conversationSchema, example: CONVERSATION_EXAMPLE } },
    async handler(ctx, { params }) {
      const { conversation } = await ctx.services.conversationQueries.access(ctx.scope(), params.id, 'id');
      return { status: 200, body: await presentConversation(ctx, conversation) };
    },
  }),
  defineRoute({
    method: 'post',
    path: '/messages',
    tag: TAG,
    summary: 'Send to a user; the conversation with them is created when needed',
    body: z.object({ content: z.string(), recipient_id: idField }),
    bodyExample: { content: 'سلام، این یک پیام آزمایشی است.', recipient_id: 2 },
    refusals: ['FORBIDDEN', 'RATE_LIMITED'],
    responses: { 201: { description: 'The message', schema: messageSchema } },
    fieldNames: { recipientId: 'recipient_id', userId: 'recipient_id' },
    async handler(ctx, { body }) {
      const m = await ctx.services.messages.send(ctx.scope(), { recipientId: body.recipient_id, content: body.content });
      return { status: 201, body: await presentMessage(ctx, m) };
    },
  }),
  defineRoute({
    method: 'get',
    path: '/conversations/:id/messages',
    tag: TAG,
    summary: 'Messages of a conversation, oldest first (paginated)',
    params: id,
    query: pageQuery,
    responses: {
      200: {
        description: 'A page of messages',
        schema: pageSchema(messageSchema),
        example: {
          count: 100,
          next: 'url/to/next/page',
          previous: 'url/to/previous/page',
          results: [
            {
              id: 1,
              conversation: 1,
              sender: USER1,
              content: '...',
              timestamp: '2023-10-27T10:00:00Z',
              is_read: false,
              is_edited: false,
              is_deleted: false,
              attachments: [],
            },
          ],
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
    path: '/conversations/:cid/messages/:mid/attachments',
    tag: TAG,
    summary: 'Attach a file to your message: multipart `file` (jpg/jpeg/png/mp4/mov/webp/gif/heic/avif, at most 10 MB)',
    description:
      'The sender only (403); 413 over the size limit or past the files-per-message limit, 415 for other types (sniffed from the bytes, and it must agree with the extension). A message not in that conversation is 404.',
    params: z.object({ cid: pathId, mid: pathId }),
    body: z.object({ file: uploadField }),
    files: { file: 'one' },
    refusals: ['FORBIDDEN', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE'],
    responses: { 201: { description: 'The attachment', schema: attachmentSchema } },
    fieldNames: { messageId: 'mid', attachments: 'file' },
    async handler(ctx, { params, body }) {
      // The nested URL names the conversation too: a message of another conversation is not here.
      const attachment = await ctx.services.messages.addAttachment(ctx.scope(), params.mid, body.file, params.cid);
      return { status: 201, body: presentAttachment(ctx, attachment) };
    },
  }),
];
