import type { Conversation } from '../../../domain/conversation/conversation.entity';
import { fullNameOf } from '../../../domain/user/user.entity';
import { supportMessageOf } from '../../../rest/d002-support/presenters';
import { idIn, InvalidFrame, stream, textIn, type ClientFrame, type Dialect, type SeedConnection } from './dialect';

/** Staff name the customer's thread with `customer_id`. @throws InvalidFrame when it is missing or malformed. */
function customerIdIn(payload: ClientFrame): string {
  const id = idIn(payload.customer_id);
  if (!id) throw new InvalidFrame('customer_id is required for staff (the customer whose thread this is)');
  return id;
}

/**
 * Seed 002 (restaurant support desk) on Socket.IO at `/socket.io/` (legacy/socketio.ts is its
 * transport: a frame `{type, ...fields}` is the event `type` with the other fields as its data,
 * an answer goes to the event's acknowledgement callback when it has one). A socket follows every
 * SUPPORT thread its user may read (their own; staff: all: the `supportOnly` narrowing of
 * delivery/audiences.ts), nothing else.
 * - **Client events**: `send_message` `{noi_dung}` (customer: to their thread, opened on first
 *   use; staff: `customer_id` names the thread, opened if the customer has none; optional
 *   `client_message_id` makes a resend idempotent), answered `{message}`; `typing`
 *   `{is_typing, customer_id}` (at most one `true` a second reaches the domain; no thread yet:
 *   nobody to tell), answered `{}`.
 * - **Server events**: `new_message` (the REST message shape of rest/d002-support/presenters.ts,
 *   to the sender's sockets too) and `user_typing` `{user_id, user_name, is_typing,
 *   conversation_id, customer_id}` (not one's own, never across a block); `error`
 *   `{code, message, event}` for a refused event that had no acknowledgement callback.
 */
export const seed002: Dialect<SeedConnection> = {
  name: '002',
  streams: [
    stream({
      type: 'message.added',
      narrowing: 'supportOnly',
      render: async (e, t) => ({ type: 'new_message', ...supportMessageOf(e.message, await t.user(e.message.senderId)) }),
    }),
    stream({
      type: 'typing',
      narrowing: 'supportOnly',
      render: async (e, t) => {
        const u = await t.user(e.userId);
        return {
          type: 'user_typing',
          user_id: e.userId,
          user_name: u ? fullNameOf(u) : '',
          is_typing: e.isTyping,
          conversation_id: e.conversationId,
          customer_id: await t.supportCustomer(e.conversationId),
        };
      },
    }),
  ],
  async handle(conn, frame) {
    const actor = conn.viewer.actor;
    switch (frame.type) {
      case 'send_message': {
        const content = textIn(frame, 'noi_dung');
        const cmid = frame.client_message_id;
        if (cmid !== undefined && typeof cmid !== 'string') throw new InvalidFrame('client_message_id must be a string');
        const scope = conn.scope();
        const { services } = conn;
        const m = actor.isStaff
          ? await services.messages.send(scope, {
              conversationId: (await services.conversations.supportThreadFor(scope, customerIdIn(frame))).id,
              content,
              clientMessageId: cmid,
            })
          : await services.messages.send(scope, { toSupport: true, content, clientMessageId: cmid });
        return { message: supportMessageOf(m, await services.userCache.get(scope.em, m.senderId ?? 0)) };
      }
      case 'typing': {
        const v = frame.is_typing;
        if (v !== undefined && typeof v !== 'boolean') throw new InvalidFrame('is_typing must be true or false');
        const isTyping = v ?? true;
        // At most one `true` a second reaches the domain (it publishes refreshes at most that often anyway).
        if (!conn.typingAllowed(isTyping)) return {};
        const scope = conn.scope();
        const customerId = actor.isStaff ? Number(customerIdIn(frame)) : actor.id;
        const thread: Conversation | null = await conn.services.conversationQueries.existingSupportThread(scope, customerId);
        // No thread yet: nobody to tell (typing never opens one).
        if (!thread) return {};
        await conn.services.messages.setTyping(scope, String(thread.id), isTyping);
        conn.typingSent(isTyping);
        return {};
      }
      default:
        throw new InvalidFrame(`Unknown event "${frame.type}"`);
    }
  },
  refuse(conn, { code, message, type }) {
    conn.send({ type: 'error', code, message, event: type });
  },
};
