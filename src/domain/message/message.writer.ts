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
 * Appends a message inside the caller's transaction `tx`: takes the conversation's next `seq`
 * and change number with one atomic UPDATE (the row lock serialises concurrent senders, and a
 * rollback gives the number back, so seq stays gap-free), then inserts the message.
 * Must run inside `em.transactional`; the caller publishes the event after commit.
 */
export async function appendMessage(tx: EntityManager, data: NewMessage): Promise<Message> {
  const now = new Date();
  const [row] = await tx.execute<{ last_seq: number; change_seq: number }[]>(
    'update "conversations" set "last_seq" = "last_seq" + 1, "change_seq" = "change_seq" + 1, "last_activity_at" = ?::timestamptz, "updated_at" = ?::timestamptz where "id" = ? returning "last_seq", "change_seq"',
    [now.toISOString(), now.toISOString(), data.conversationId],
  );
  const message = tx.create(Message, {
    conversation: data.conversationId,
    seq: row.last_seq,
    sender: data.senderId,
    kind: data.kind,
    content: data.content,
    replyTo: data.replyToId ?? null,
    clientMessageId: data.clientMessageId ?? null,
    createdChange: row.change_seq,
    changeSeq: row.change_seq,
    createdAt: now,
  });
  await tx.flush();
  return message;
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
