import type { UserRecord } from '../../../domain/user/user-cache';
import { idIn, InvalidFrame, stream, textIn, type Dialect, type LegacyConnection, type RenderTools } from './dialect';
import { typing } from './seed000';

/** `{id, username, profile_picture}` (seed 004's `sender` and `user` in socket frames); `profile_picture` is the avatar's signed URL, or null. */
const brief = (u: UserRecord | null, t: RenderTools) => (u ? { id: u.id, username: u.username, profile_picture: t.avatarUrl(u) } : null);

/** The message a frame names, when it is one of this socket's conversation the user may see; else null (the frame is ignored). */
async function messageOfConversation(conn: LegacyConnection, value: unknown): Promise<string | null> {
  const id = idIn(value);
  if (!id) return null;
  const m = await conn.services.messages.get(conn.scope(), id);
  return m.conversationId === conn.conversationId ? id : null;
}

/**
 * Seed 004 (gaming-community chat), `ws://host/ws/chat/<conversation_id>/`: a DIRECT
 * conversation (or, with `?dialect=004`, any the caller may read). Client frames `chat_message`
 * (`content`), `edit_message` (`message_id`, `content`), `delete_message` (`message_id`) and
 * `typing` (`is_typing`). Server frames `new_message` (`message`: `id`, `sender` `{id, username,
 * profile_picture}`, `content`, `timestamp`; no `attachments`, as the seed says: fetch
 * `GET /api/messages/{id}/`), `message_edited` (`message`: `id`, `content`), `message_deleted`
 * (`message_id`) and `user_typing` (`user`, `is_typing`; not the socket's own, never of a user
 * blocked either way). An invalid event (editing someone else's message, a message of another
 * conversation, bad JSON, an unknown type) is ignored without an answer, as the seed says.
 */
export const seed004: Dialect = {
  name: '004',
  streams: [
    stream({
      type: 'message.added',
      render: async (e, t) => ({
        type: 'new_message',
        message: { id: e.message.id, sender: brief(await t.user(e.message.senderId), t), content: e.message.content, timestamp: e.message.createdAt },
      }),
    }),
    stream({ type: 'message.edited', render: (e) => ({ type: 'message_edited', message: { id: e.message.id, content: e.message.content } }) }),
    stream({ type: 'message.deleted', render: (e) => ({ type: 'message_deleted', message_id: e.message.id }) }),
    stream({
      type: 'typing',
      render: async (e, t) => ({ type: 'user_typing', user: brief(await t.user(e.userId), t), is_typing: e.isTyping }),
    }),
  ],
  async handle(conn, frame) {
    switch (frame.type) {
      case 'chat_message':
        await conn.services.messages.send(conn.scope(), { conversationId: conn.conversationId, content: textIn(frame, 'content') });
        return;
      case 'edit_message': {
        const content = textIn(frame, 'content');
        const id = await messageOfConversation(conn, frame.message_id);
        if (id) await conn.services.messages.edit(conn.scope(), id, content);
        return;
      }
      case 'delete_message': {
        const id = await messageOfConversation(conn, frame.message_id);
        if (id) await conn.services.messages.delete(conn.scope(), id);
        return;
      }
      case 'typing':
        await typing(conn, frame);
        return;
      default:
        throw new InvalidFrame('Unknown message type');
    }
  },
  refuse() {
    // Seed 004 §5.2: an invalid event gets no answer.
  },
};
