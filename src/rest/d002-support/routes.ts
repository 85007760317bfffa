import { z } from 'zod';
import { notFound } from '../../domain/shared/errors';
import { pathId } from '../common/fields.schemas';
import { limitOffsetQuery } from '../common/pagination.helpers';
import { defineRoute, type AnyRoute } from '../common/route.registry';
import { PushPlatform } from '../../domain/push/push-device.entity';
import { conversationSchema, fcmDeviceSchema, presentConversation, presentFcmDevice, presentSupportMessage, supportMessageSchema } from './presenters';

const DEVICES_TAG = 'seed 002: push devices (fcm-django)';

/** fcm-django's example device (the seed's customer 123's phone). */
const DEVICE_EXAMPLE = {
  id: 1,
  name: 'Điện thoại của Nguyễn Văn A',
  registration_id: 'fcm-token-of-customer-123',
  device_id: 'android-123',
  active: true,
  date_created: '2025-11-03T10:00:00Z',
  type: 'android' as const,
};

/**
 * fcm-django's device API (seed 002 "Push Notifications": `FCMDevice.objects.filter(...)`): the
 * routes its `FCMDeviceAuthorizedViewSet` serves on a DRF router at `devices/`, over the same table
 * as GraphQL `registerPushDevice` (issue 28 item 10; issue 34 delivers the pushes).
 */
export const deviceRoutes: AnyRoute[] = [
  defineRoute({
    method: 'get',
    path: '/devices',
    tag: DEVICES_TAG,
    summary: "The caller's push devices, oldest first (fcm-django's list)",
    responses: { 200: { description: 'Devices', schema: z.array(fcmDeviceSchema), example: [DEVICE_EXAMPLE] } },
    async handler(ctx) {
      return { status: 200, body: (await ctx.services.pushDevices.list(ctx.scope())).map(presentFcmDevice) };
    },
  }),
  defineRoute({
    method: 'post',
    path: '/devices',
    tag: DEVICES_TAG,
    summary: 'Register an FCM device: {registration_id, type: android|ios|web, name?, device_id?, active?} → 201 new, 200 already registered',
    description: [
      "fcm-django's create, with its UPDATE_ON_DUPLICATE_REG_ID behaviour: one device per `registration_id` (the FCM token). Registering a",
      'token again updates that device (200) and moves it to the caller when another user had it (the phone changed hands); a new token is',
      '201. `active: false` keeps it registered but sends it nothing. At most 50 devices per user (400 past it).',
    ].join(' '),
    body: z.object({
      registration_id: z.string().describe('The FCM registration token: 1..4096 visible ASCII characters'),
      type: z.enum(['android', 'ios', 'web']),
      name: z.string().nullish(),
      device_id: z.string().nullish(),
      active: z.boolean().optional(),
    }),
    bodyExample: {
      registration_id: DEVICE_EXAMPLE.registration_id,
      type: 'android',
      name: DEVICE_EXAMPLE.name,
      device_id: DEVICE_EXAMPLE.device_id,
      active: true,
    },
    responses: {
      201: { description: 'Registered', schema: fcmDeviceSchema, example: DEVICE_EXAMPLE },
      200: { description: "Already registered: updated (and now the caller's)", schema: fcmDeviceSchema, example: DEVICE_EXAMPLE },
    },
    fieldNames: { fcmToken: 'registration_id', fcmType: 'type', deviceId: 'device_id' },
    async handler(ctx, { body }) {
      const { device, created } = await ctx.services.pushDevices.register(ctx.scope(), {
        platform: PushPlatform.FCM,
        fcmToken: body.registration_id,
        fcmType: body.type,
        name: body.name,
        deviceId: body.device_id,
        active: body.active,
      });
      return { status: created ? 201 : 200, body: presentFcmDevice(device) };
    },
  }),
  defineRoute({
    method: 'delete',
    path: '/devices/:registration_id',
    tag: DEVICES_TAG,
    summary: "Unregister one of the caller's devices by its registration_id (fcm-django's lookup field) → 204; 404 for anyone else's",
    params: z.object({ registration_id: z.string().min(1).max(4096) }),
    responses: { 204: { description: 'Unregistered' } },
    async handler(ctx, { params }) {
      await ctx.services.pushDevices.unregisterToken(ctx.scope(), params.registration_id);
      return { status: 204 };
    },
  }),
];

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
    method: 'get',
    path: '/chat/conversations/my_conversation',
    tag: TAG,
    summary: "The caller's own support conversation, created on first use (404 for staff: they answer, they have none)",
    responses: { 200: { description: 'The conversation', schema: conversationSchema } },
    async handler(ctx) {
      const c = await ctx.services.conversations.supportThread(ctx.scope());
      if (!c) throw notFound('Support conversation');
      return { status: 200, body: await presentConversation(ctx, c) };
    },
  }),
  defineRoute({
    method: 'get',
    path: '/chat/conversations/:id',
    tag: TAG,
    summary: "One conversation, in the list's shape (the router the seed registers implies the detail route): its customer, or staff",
    params: conversationId,
    responses: { 200: { description: 'The conversation', schema: conversationSchema } },
    async handler(ctx, { params }) {
      const { conversation } = await ctx.services.conversationQueries.access(ctx.scope(), params.id, 'id');
      return { status: 200, body: await presentConversation(ctx, conversation) };
    },
  }),
  defineRoute({
    method: 'get',
    path: '/chat/messages',
    tag: TAG,
    summary:
      "The caller's visible messages across conversations, oldest first; ?limit=50&offset=0 (the seed's router registers ChatMessageViewSet at messages/)",
    description: [
      'Seed 002 registers `ChatMessageViewSet` as `messages` on the router it mounts at `api/chat/`: this is its list. The messages of every',
      'conversation the caller lists (their own support thread and other conversations they are a member of; staff: every support thread',
      'too), oldest first, `limit` (default 50, more than 100 clamped to 100) and `offset` as the conversation history takes them.',
      'Nothing is marked read by this list.',
    ].join(' '),
    query: limitOffsetQuery,
    responses: {
      200: {
        description: 'Messages',
        schema: z.array(supportMessageSchema),
        example: [
          { id: 1, conversation_id: 5, nguoi_goi_id: 123, nguoi_goi_name: 'Nguyễn Văn A', noi_dung: 'Nội dung tin nhắn', thoi_gian: '2025-11-03T10:30:00' },
        ],
      },
    },
    async handler(ctx, { query }) {
      const messages = await ctx.services.messages.listVisible(ctx.scope(), { limit: query.limit ?? 50, offset: query.offset ?? 0 });
      return { status: 200, body: await Promise.all(messages.map((m) => presentSupportMessage(ctx, m))) };
    },
  }),
  defineRoute({
    method: 'get',
    path: '/chat/messages/:id',
    tag: TAG,
    summary: "One message in the list's shape (the router's detail route); 404 for a message the caller may not read",
    params: conversationId,
    responses: {
      200: {
        description: 'The message',
        schema: supportMessageSchema,
        example: {
          id: 1,
          conversation_id: 5,
          nguoi_goi_id: 123,
          nguoi_goi_name: 'Nguyễn Văn A',
          noi_dung: 'Nội dung tin nhắn',
          thoi_gian: '2025-11-03T10:30:00',
        },
      },
    },
    async handler(ctx, { params }) {
      return { status: 200, body: await presentSupportMessage(ctx, await ctx.services.messages.get(ctx.scope(), params.id)) };
    },
  }),
  defineRoute({
    method: 'get',
    path: '/chat/conversations/:id/messages',
    tag: TAG,
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
    method: 'post',
    path: '/chat/conversations/:id/send_message',
    tag: TAG,
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
