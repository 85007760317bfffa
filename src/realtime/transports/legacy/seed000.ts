import { showsPresence } from '../../../domain/user/user.policy';
import { InvalidFrame, stream, textIn, type ClientFrame, type Dialect, type LegacyConnection } from './dialect';

/**
 * `is_typing` of a typing frame (seeds 000, 003, 004): a boolean; absent means true (the frame
 * itself says the user types). @throws InvalidFrame for anything else.
 */
export function isTypingIn(frame: ClientFrame): boolean {
  const v = frame.is_typing;
  if (v === undefined) return true;
  if (typeof v !== 'boolean') throw new InvalidFrame('is_typing must be true or false');
  return v;
}

/** A typing frame: at most one `true` a second reaches the domain (SeedConnection.typingDue); `false` always does. */
export async function typing(conn: LegacyConnection, frame: ClientFrame): Promise<void> {
  const isTyping = isTypingIn(frame);
  if (!conn.typingDue(isTyping)) return;
  await conn.services.messages.setTyping(conn.scope(), String(conn.conversationId), isTyping);
}

/**
 * Seed 000 (music-app chat), `ws://host/ws/chat/<recipient_username>/`: the DIRECT chat with that
 * user. Client frames `message` (`message`; the seed's `username` is the sender's own and is not
 * trusted: the token says who sends), `typing` (`is_typing`) and `read` (marks the chat read).
 * Server frames `message` (`message`, `username`, `timestamp`, `message_id`), `typing`
 * (`username`, `is_typing`; not the socket's own, never of a user blocked either way), `read`
 * (`username`, `timestamp`: the other side's read receipts) and `status` (`username`,
 * `status: online|offline`: the other user's presence, sent once when the socket is ready and on
 * every change, hidden by a block). The seed has no error frame: anything refused or invalid is
 * ignored.
 */
export const seed000: Dialect = {
  name: '000',
  streams: [
    stream({
      type: 'message.added',
      render: async (e, t) => ({
        type: 'message',
        message: e.message.content,
        username: (await t.user(e.message.senderId))?.username ?? null,
        timestamp: e.message.createdAt,
        message_id: e.message.id,
      }),
    }),
    stream({
      type: 'typing',
      render: async (e, t) => ({ type: 'typing', username: (await t.user(e.userId))?.username ?? null, is_typing: e.isTyping }),
    }),
    stream({
      type: 'read.receipt',
      narrowing: 'othersOnly',
      render: async (e, t) => ({ type: 'read', username: (await t.user(e.userId))?.username ?? null, timestamp: e.readAt }),
    }),
    stream({
      type: 'presence',
      narrowing: 'peerOnly',
      render: async (e, t) => ({ type: 'status', username: (await t.user(e.userId))?.username ?? null, status: e.status === 'ONLINE' ? 'online' : 'offline' }),
    }),
  ],
  async opened(conn) {
    const peer = conn.peer;
    if (!peer || (await conn.blocked()).has(peer.id)) return;
    // Issue 27 §5: the peer's privacy.presenceVisibility (NOBODY: always offline, and no status
    // frames after this one; the peer is a co-member, so CONTACTS shows).
    const record = await conn.services.userCache.get(conn.scope().em, peer.id);
    const shown = Boolean(record) && showsPresence(conn.viewer.actor.id, record!, { related: true, blocked: false });
    const online = shown && (await conn.services.presence.isOnline(peer.id));
    conn.send({ type: 'status', username: peer.username, status: online ? 'online' : 'offline' });
  },
  async handle(conn, frame) {
    switch (frame.type) {
      case 'message':
        await conn.services.messages.send(conn.scope(), { conversationId: conn.conversationId, content: textIn(frame, 'message') });
        return;
      case 'typing':
        await typing(conn, frame);
        return;
      case 'read':
        await conn.services.readState.markRead(conn.scope(), String(conn.conversationId));
        return;
      default:
        throw new InvalidFrame('Unknown message type');
    }
  },
  refuse() {
    // Seed 000 documents no error frame.
  },
};
