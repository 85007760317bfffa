import type { EntityManager } from '@mikro-orm/postgresql';
import type { MessageView } from '../shared/events';
import { Message, MessageKind } from './message.entity';

/** The data of a new message, ids as numbers. */
export interface NewMessage {
  conversationId: number;
  senderId: number | null;
  kind: MessageKind;
  content: string;
  replyToId?: number | null;
  clientMessageId?: string | null;
}

/**
 * Appends a message with one SQL statement: a CTE takes the conversation's next `seq` and change
 * number (the row lock serialises concurrent senders) and inserts the message. One statement is
 * atomic on its own, so a failure (e.g. a duplicate clientMessageId) gives the number back and seq
 * stays gap-free; inside a caller's transaction it joins that transaction.
 * The caller publishes the event after commit.
 * @throws the driver's unique-violation error on a duplicate (sender, clientMessageId).
 */
export async function appendMessage(em: EntityManager, data: NewMessage): Promise<Message> {
  const now = new Date().toISOString();
  const [row] = await em.execute(
    `with c as (
       update "conversations" set "last_seq" = "last_seq" + 1, "change_seq" = "change_seq" + 1,
              "last_activity_at" = ?::timestamptz, "updated_at" = ?::timestamptz
        where "id" = ? returning "last_seq", "change_seq")
     insert into "messages" ("conversation_id", "seq", "sender_id", "kind", "content", "reply_to_id", "client_message_id", "created_change", "change_seq", "created_at")
     select ?, c."last_seq", ?, ?::"message_kind", ?, ?, ?, c."change_seq", c."change_seq", ?::timestamptz from c
     returning *`,
    [now, now, data.conversationId, data.conversationId, data.senderId, data.kind, data.content, data.replyToId ?? null, data.clientMessageId ?? null, now],
  );
  if (!row) throw new Error(`conversation ${data.conversationId} does not exist`);
  return em.map(Message, row);
}

/**
 * Takes the conversation's next change number for an edit or delete, inside `tx`.
 */
export async function nextChange(tx: EntityManager, conversationId: number): Promise<number> {
  const [row] = await tx.execute<{ change_seq: number }[]>(
    'update "conversations" set "change_seq" = "change_seq" + 1 where "id" = ? returning "change_seq"',
    [conversationId],
  );
  return row.change_seq;
}

/** The plain, JSON-safe view of a message that queries and events share. Deleted: content "". */
export function toMessageView(m: Message): MessageView {
  const ref = (x: unknown) => (x == null ? null : typeof x === 'object' ? (x as { id: number }).id : Number(x));
  return {
    id: m.id,
    conversationId: ref(m.conversation)!,
    seq: m.seq,
    senderId: ref(m.sender),
    kind: m.kind,
    content: m.deletedAt ? '' : m.content,
    replyToId: ref(m.replyTo),
    clientMessageId: m.clientMessageId ?? null,
    changeSeq: m.changeSeq,
    createdAt: m.createdAt.toISOString(),
    editedAt: m.editedAt ? m.editedAt.toISOString() : null,
    deletedAt: m.deletedAt ? m.deletedAt.toISOString() : null,
  };
}
