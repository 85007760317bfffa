import { ConversationKind } from '../../domain/conversation/conversation.entity';
import { z } from 'zod';
import { pathId } from '../common/fields.schemas';
import { defineRoute, type AnyRoute } from '../common/route.registry';
import { SENT_MESSAGE_EXAMPLE } from '../d001-groups/routes';
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

/**
 * Seed 001's PATCH /api/messages/3/ example (seed 004 shows none), with seed 004's keys the union
 * adds: its user fields on `sender` (`profile_picture` = `avatar`, names from `full_name`, score 0),
 * `conversation`, `timestamp`, the read/edit/delete flags and `media` as `attachments`.
 */
const EDIT_EXAMPLE = {
  body: { content: 'Đã chỉnh sửa: Phòng này có wifi không ạ?' },
  answer: {
    ...SENT_MESSAGE_EXAMPLE,
    sender: {
      ...SENT_MESSAGE_EXAMPLE.sender,
      first_name: 'Renter',
      last_name: 'One',
      profile_picture: SENT_MESSAGE_EXAMPLE.sender.avatar,
      score: 0,
      rank: null,
      in_game_ids: [],
    },
    content: 'Đã chỉnh sửa: Phòng này có wifi không ạ?',
    updated_at: '2023-07-15T10:45:00Z',
    conversation: 1,
    timestamp: '2023-07-15T10:40:00Z',
    is_read: false,
    is_edited: true,
    is_deleted: false,
    attachments: [{ id: 1, message: 3, file: 'https://res.cloudinary.com/example/image1.jpg', uploaded_at: '2023-07-15T10:40:00Z' }],
  },
};

/** The message resource's PUT and PATCH: `{content}` → 200 the message (examples: PATCH, seed 001's). */
function editRoute(method: 'put' | 'patch', example?: typeof EDIT_EXAMPLE) {
  return defineRoute({
    method,
    path: '/messages/:id',
    tag: SHARED_001_004,
    summary: "Edit a message's content (its sender, or staff); 400 once deleted",
    params: id,
    body: z.object({ content: z.string() }),
    ...(example ? { bodyExample: example.body } : {}),
    refusals: ['FORBIDDEN'],
    responses: { 200: { description: 'The edited message', schema: unionMessageSchema, ...(example ? { example: example.answer } : {}) } },
    errors: EDIT_ERRORS,
    async handler(ctx, { params, body }) {
      return { status: 200, body: await presentUnionMessage(ctx, await ctx.services.messages.edit(ctx.scope(), params.id, body.content)) };
    },
  });
}

/**
 * Routes two seeds share, decided in rest-compat.md "Conflicts":
 * - `GET /api/chat/conversations/` (seeds 000 and 002): one list in seed 002's shape plus `kind`,
 *   `title`, `participants`, and seed 000's keys in `last_message`; for staff it is seed 002's
 *   staff inbox: every SUPPORT thread, each with its customer, and nothing else (issue 28 item 4).
 * - `/api/messages/{id}/` (seeds 001 and 004): one resource with the union of both message objects;
 *   PATCH/PUT 200, DELETE 204 (soft).
 */
export const sharedRoutes: AnyRoute[] = [
  defineRoute({
    method: 'get',
    path: '/chat/conversations',
    tag: SHARED_000_002,
    summary: `The caller's conversations, newest activity first (at most ${LIST_LIMIT}); for staff, seed 002's staff inbox: every support conversation (each with its customer_info) and nothing else`,
    // Seed 002's example (seed 000 shows none), plus what the shared list adds: seed 000's keys in
    // `last_message`, `kind`, `title` (as staff see it) and `participants`.
    responses: {
      200: {
        description: 'Conversations',
        schema: z.array(conversationSchema),
        example: [
          {
            id: 1,
            customer: 123,
            customer_info: { id: 123, username: 'customer1', ho_ten: 'Nguyễn Văn A', loai_nguoi_dung: 'khach_hang' },
            is_staff_group: true,
            created_at: '2025-11-03T10:00:00',
            last_message_at: '2025-11-03T10:30:00',
            last_message: {
              id: 5,
              noi_dung: 'Cảm ơn nhà hàng',
              thoi_gian: '2025-11-03T10:30:00',
              nguoi_goi_name: 'Nguyễn Văn A',
              message_id: 5,
              message: 'Cảm ơn nhà hàng',
              username: 'customer1',
              timestamp: '2025-11-03T10:30:00',
            },
            unread_count: 0,
            kind: 'SUPPORT',
            title: 'Support: Nguyễn Văn A',
            participants: [{ id: 123, username: 'customer1' }],
          },
        ],
      },
    },
    async handler(ctx) {
      const scope = ctx.scope();
      // Seed 002's staff inbox reads `customer_info.ho_ten` of every item: staff get the support threads only (issue 28 item 4).
      const kinds = scope.actor.isStaff ? [ConversationKind.SUPPORT] : null;
      const r = await ctx.services.conversationQueries.listRange(scope, { kinds, limit: LIST_LIMIT });
      return { status: 200, body: await Promise.all(r.conversations.map((c) => presentConversation(ctx, c))) };
    },
  }),
  defineRoute({
    method: 'get',
    path: '/messages/:id',
    tag: SHARED_001_004,
    summary: 'One message',
    params: id,
    responses: { 200: { description: 'The message', schema: unionMessageSchema } },
    async handler(ctx, { params }) {
      return { status: 200, body: await presentUnionMessage(ctx, await ctx.services.messages.get(ctx.scope(), params.id)) };
    },
  }),
  editRoute('put'),
  editRoute('patch', EDIT_EXAMPLE),
  defineRoute({
    method: 'delete',
    path: '/messages/:id',
    tag: SHARED_001_004,
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
