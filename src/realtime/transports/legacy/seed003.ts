import { DomainError } from '../../../domain/shared/errors';
import { showsContent } from '../../../domain/message/message.policy';
import type { UserRecord } from '../../../domain/user/user-cache';
import { messageInDialect } from '../../../rest/common/field-names';
import { DELETED_CONTENT, fileReferenceOf, senderOfMessage, SEND_FIELD_NAMES } from '../../../rest/d003-rooms/presenters';
import { idIn, InvalidFrame, stream, textIn, type ClientFrame, type Dialect, type LegacyConnection } from './dialect';
import { typing } from './seed000';

/** `{id, username}` (seed 003's `user` of typing and join/leave frames). */
const userRef = (u: UserRecord | null) => (u ? { id: u.id, username: u.username } : null);

/** A refused send with the seed's field name leading its message, as REST answers it (`file_url ...`). */
function inSeedTerms(err: unknown): unknown {
  if (!(err instanceof DomainError)) return err;
  const message = messageInDialect(err, SEND_FIELD_NAMES);
  return message === err.message ? err : new DomainError(err.code, message, err.field);
}

/**
 * A `chat_message` frame as a send (seed 003 "发送聊天消息", plus the REST send's file fields):
 * `content`, `message_type` text/image/file/system (system: a notice, from the room's OWNER or an
 * ADMIN only, issue 28 item 6), `reply_to`; for image and file, `file_url`,
 * `file_name`, `file_size` (the same domain call as `POST /api/chat/rooms/{id}/messages/`, so the
 * same checks: http/https only, this server's own /media/ URL linked when the sender may see it).
 * `content` may be left out of a file message. @throws InvalidFrame (message_type, reply_to,
 * content not a string), DomainError from the send (its field named as the seed names it).
 */
async function sendChatMessage(conn: LegacyConnection, frame: ClientFrame): Promise<void> {
  const kind = frame.message_type ?? 'text';
  if (kind !== 'text' && kind !== 'image' && kind !== 'file' && kind !== 'system') throw new InvalidFrame('message_type must be text, image, file or system');
  let replyToId: string | null = null;
  if (frame.reply_to != null) {
    replyToId = idIn(frame.reply_to) ?? null;
    if (replyToId === null) throw new InvalidFrame('reply_to must be a message id');
  }
  const fileRef = fileReferenceOf(frame);
  const content = fileRef && frame.content == null ? '' : textIn(frame, 'content');
  try {
    await conn.services.messages.send(conn.scope(), {
      conversationId: conn.conversationId,
      content,
      replyToId,
      fileRef,
      serverHost: conn.host,
      notice: kind === 'system',
    });
  } catch (err) {
    throw inSeedTerms(err);
  }
}

/** What seed 003 says when the socket is ready. */
export const CONNECTION_ESTABLISHED = { type: 'connection_established', message: '连接成功' } as const;

/**
 * Seed 003 (team chat rooms), `ws://host/ws/chat/<room_id>/`: a ROOM, GROUP or SUPPORT
 * conversation the caller may read. `connection_established` when the socket is ready. Client
 * frames `chat_message` (`content`, `message_type` "text" (the default), "system" (a notice: the
 * room's OWNER or an ADMIN only), "image" or "file" with
 * `file_url`, `file_name`, `file_size` as the REST send takes them, `reply_to`), `typing` (`is_typing`), and `user_join` /
 * `user_leave` (accepted; they change nothing: connecting is being there, and membership is
 * REST's join/leave). Server frames `chat_message` (`message`: `id`, `sender` `{id, username,
 * first_name, last_name}` (of a system notice: its actor; never null), `content`, `message_type`, `created_at`, `reply_to`, `file_url`,
 * `file_name`, `file_size` (the ChatMessage model's; null without a file; a file stored here has
 * its signed URL, a path unless PUBLIC_URL is set), and `timestamp`
 * (= `created_at`) for clients written against the seed's first example), `typing` (`user`
 * `{id, username}`, `is_typing`; not the socket's own, never of a user blocked either way),
 * `user_join` / `user_leave` (`user`) when a member joins or leaves the room, and `error`
 * (`message`) for invalid JSON, unknown types and refused sends.
 */
export const seed003: Dialect = {
  name: '003',
  streams: [
    stream({
      type: 'message.added',
      render: async (e, t) => {
        const m = e.message;
        const sender = await senderOfMessage(m, (id) => t.user(id));
        const [file] = m.kind === 'IMAGE' || m.kind === 'FILE' ? (showsContent(m) ? await t.attachments(m.id) : []) : [];
        return {
          type: 'chat_message',
          message: {
            id: m.id,
            sender,
            content: m.deletedAt ? DELETED_CONTENT : m.content,
            message_type: m.kind.toLowerCase(),
            created_at: m.createdAt,
            timestamp: m.createdAt,
            reply_to: m.replyToId,
            file_url: file ? t.fileUrl(file) : null,
            file_name: file?.fileName ?? null,
            file_size: file?.size ?? null,
          },
        };
      },
    }),
    stream({
      type: 'typing',
      render: async (e, t) => ({ type: 'typing', user: userRef(await t.user(e.userId)), is_typing: e.isTyping }),
    }),
  ],
  opened(conn) {
    conn.send(CONNECTION_ESTABLISHED);
  },
  async handle(conn, frame) {
    switch (frame.type) {
      case 'chat_message':
        await sendChatMessage(conn, frame);
        return;
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
  refuse(conn, { message }) {
    conn.send({ type: 'error', message });
  },
  membership(user, active) {
    return { type: active ? 'user_join' : 'user_leave', user: userRef(user) };
  },
};
