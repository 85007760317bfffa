import type { UserRecord } from '../../domain/user/user-cache';
import { DELETED_CONTENT, presentUser } from '../../rest/d003-rooms/presenters';
import { idIn, InvalidFrame, stream, textIn, type Dialect } from './dialect';
import { typing } from './seed000';

/** `{id, username}` (seed 003's `user` of typing and join/leave frames). */
const userRef = (u: UserRecord | null) => (u ? { id: u.id, username: u.username } : null);

/** What seed 003 says when the socket is ready. */
export const CONNECTION_ESTABLISHED = { type: 'connection_established', message: '连接成功' } as const;

/**
 * Seed 003 (team chat rooms), `ws://host/ws/chat/<room_id>/`: a ROOM, GROUP or SUPPORT
 * conversation the caller may read. `connection_established` when the socket is ready. Client
 * frames `chat_message` (`content`, `message_type` "text" (the default; files are sent with
 * `POST /api/chat/rooms/{id}/messages/`), `reply_to`), `typing` (`is_typing`), and `user_join` /
 * `user_leave` (accepted; they change nothing: connecting is being there, and membership is
 * REST's join/leave). Server frames `chat_message` (`message`: `id`, `sender` `{id, username,
 * first_name, last_name}`, `content`, `message_type`, `created_at`, `reply_to`, and `timestamp`
 * (= `created_at`) for clients written against the seed's first example), `typing` (`user`
 * `{id, username}`, `is_typing`; not the socket's own, never of a user blocked either way),
 * `user_join` / `user_leave` (`user`) when a member joins or leaves the room, and `error`
 * (`message`) for invalid JSON, unknown types and refused sends.
 */
export const seed003: Dialect = {
  name: '003',
  streams: [
    stream({
      type: 'message.added', audience: 'readers',
      render: async (e, t) => {
        const m = e.message;
        const sender = await t.user(m.senderId);
        return {
          type: 'chat_message',
          message: {
            id: m.id, sender: sender ? presentUser(sender) : null, content: m.deletedAt ? DELETED_CONTENT : m.content,
            message_type: m.kind.toLowerCase(), created_at: m.createdAt, timestamp: m.createdAt, reply_to: m.replyToId,
          },
        };
      },
    }),
    stream({
      type: 'typing', audience: 'othersUnblocked',
      render: async (e, t) => ({ type: 'typing', user: userRef(await t.user(e.userId)), is_typing: e.isTyping }),
    }),
  ],
  opened(conn) {
    conn.send(CONNECTION_ESTABLISHED);
  },
  async handle(conn, frame) {
    switch (frame.type) {
      case 'chat_message': {
        const kind = frame.message_type ?? 'text';
        if (kind !== 'text') throw new InvalidFrame('Only text messages are sent over the WebSocket; send files with POST /api/chat/rooms/{id}/messages/');
        let replyToId: string | null = null;
        if (frame.reply_to != null) {
          replyToId = idIn(frame.reply_to) ?? null;
          if (replyToId === null) throw new InvalidFrame('reply_to must be a message id');
        }
        await conn.services.messages.send(conn.scope(), { conversationId: conn.conversationId, content: textIn(frame, 'content'), replyToId });
        return;
      }
      case 'typing':
        await typing(conn, frame);
        return;
      case 'user_join':
      case 'user_leave':
        return;
      default:
        throw new InvalidFrame(`Unknown message type: ${frame.type.slice(0, 64)}`);
    }
  },
  refuse(conn, message) {
    conn.send({ type: 'error', message });
  },
  membership(user, active) {
    return { type: active ? 'user_join' : 'user_leave', user: userRef(user) };
  },
};
