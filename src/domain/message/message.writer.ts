import type { EntityManager } from '@mikro-orm/postgresql';
import type { MessageView } from '../shared/events';
import { Message, MessageKind } from './message.entity';
import { activeMembershipSql } from '../conversation/conversation.policy';
import { refId } from '../shared/refs';
import { unauthenticated } from '../shared/errors';

/** The data of a new message, ids as numbers. */
export interface NewMessage {
  conversationId: number;
  senderId: number | null;
  /** SYSTEM messages: the user whose action it reports; their read position moves past it as a sender's does. */
  actorId?: number | null;
  kind: MessageKind;
  content: string;
  replyToId?: number | null;
  clientMessageId?: string | null;
  /** Members named with @username (see mentionsIn). */
  mentionIds?: number[];
  /** The message's notifications, written in the same statement (NotificationService.noticesFor). */
  notices?: MessageNotices;
}

/**
 * The notifications of a new message: MENTION (`mentionTitle`) for mentioned active members,
 * MESSAGE (`messageTitle`) for the members of `notify` (not watching live) who are still active
 * and not muted; never the sender. `body` is the preview of both. Only those users' rows are
 * touched: a room whose members all watch live writes nothing.
 */
export interface MessageNotices {
  mentionTitle: string;
  messageTitle: string;
  body: string;
  notify: readonly number[];
}

/** A message just appended, and whether its sender's read position moved up to it. */
export interface Appended {
  message: Message;
  /** True when the sender's lastReadSeq advanced (publish a read receipt). */
  senderReadMoved: boolean;
  /** The notification rows written with it (see NewMessage.notices), as raw columns. */
  notifications: Record<string, unknown>[];
}

/**
 * Appends a message with one SQL statement: a CTE takes the conversation's next `seq` and change
 * number (the row lock serialises concurrent senders), another moves the sender's read position
 * up to the new message (whoever writes has read what came before), and the message is inserted.
 * With `notices`, the message's notifications are inserted by the same statement: a send is one
 * commit (on this machine a durable commit, its fsync, is most of a send's time).
 * The author (sender, or actor of a SYSTEM notice) holds their `users` row FOR SHARE before the
 * conversation's row is taken, and must not be deleted (issue 27: a send racing its sender's
 * account deletion commits before it, and is erased, or is refused).
 * One statement is atomic on its own, so a failure (e.g. a duplicate clientMessageId) gives the
 * number back and seq stays gap-free; inside a caller's transaction it joins that transaction.
 * The caller publishes the events after commit.
 * @throws the driver's unique-violation error on a duplicate (sender, clientMessageId);
 *   UNAUTHENTICATED when the author's account was deleted.
 */
export async function appendMessage(em: EntityManager, data: NewMessage): Promise<Appended> {
  const now = new Date().toISOString();
  const n = data.notices;
  // The author (the sender, or the actor of a SYSTEM notice) holds their own row FOR SHARE for the
  // statement, taken BEFORE the conversation's row (the order of the account deletion, which locks
  // the user's row first: no deadlock), and must still exist: a deletion committing meanwhile
  // either waits for this send (and erases it) or is waited for (and the send writes nothing).
  const authorId = data.senderId ?? data.actorId ?? null;
  const [row] = await em.execute(
    `with ${authorId != null ? `a as (select "id" from "users" where "id" = ? and "deleted_at" is null for share),
     ` : ''}c as (
       update "conversations" set "last_seq" = "last_seq" + 1, "change_seq" = "change_seq" + 1,
              "last_activity_at" = ?::timestamptz, "updated_at" = ?::timestamptz
        where "id" = ?${authorId != null ? ' and exists (select 1 from a)' : ''} returning "last_seq", "change_seq"),
     r as (
       update "memberships" m set "last_read_seq" = c."last_seq", "last_read_at" = ?::timestamptz from c
        where m."conversation_id" = ? and m."user_id" = ? and m."last_read_seq" < c."last_seq" returning m."id"),
     ins as (
       insert into "messages" ("conversation_id", "seq", "sender_id", "actor_id", "kind", "content", "reply_to_id", "client_message_id", "created_change", "change_seq", "created_at", "mention_ids")
       select ?, c."last_seq", ?, ?, ?::"message_kind", ?, ?, ?, c."change_seq", c."change_seq", ?::timestamptz, ?::jsonb from c
       returning *)${n ? `,
     n as (
       insert into "notifications" ("user_id", "kind", "title", "body", "conversation_id", "message_id", "created_at")
       select m."user_id",
              case when mentioned.id is not null then 'MENTION'::"notification_kind" else 'MESSAGE'::"notification_kind" end,
              case when mentioned.id is not null then ? else ? end, ?, ins."conversation_id", ins."id", ?::timestamptz
         from ins join "memberships" m on m."conversation_id" = ins."conversation_id"
         left join (select distinct (jsonb_array_elements_text(?::jsonb))::int as id) mentioned on mentioned.id = m."user_id"
        where m."user_id" in (select (jsonb_array_elements_text(?::jsonb))::int)
          and ${activeMembershipSql('m')} and m."user_id" <> ins."sender_id"
          and (mentioned.id is not null or not m."is_muted")
       returning *)` : ''}
     select ins.*, exists (select 1 from r) as "sender_read_moved"${n ? `, (select coalesce(json_agg(n), '[]'::json) from n) as "notifications"` : ''} from ins`,
    [
      ...(authorId != null ? [authorId] : []),
      now, now, data.conversationId,
      now, data.conversationId, data.senderId ?? data.actorId ?? null,
      data.conversationId, data.senderId, data.actorId ?? null, data.kind, data.content, data.replyToId ?? null, data.clientMessageId ?? null, now,
      JSON.stringify(data.mentionIds ?? []),
      ...(n ? [n.mentionTitle, n.messageTitle, n.body, now, JSON.stringify(data.mentionIds ?? []), JSON.stringify([...new Set([...(data.mentionIds ?? []), ...n.notify])])] : []),
    ],
  );
  if (!row) {
    if (authorId != null && !(await isLiveUser(em, authorId))) throw unauthenticated('This account was deleted');
    throw new Error(`conversation ${data.conversationId} does not exist`);
  }
  const { sender_read_moved: moved, notifications, ...columns } = row as Record<string, unknown>;
  return { message: em.map(Message, columns), senderReadMoved: Boolean(moved), notifications: (notifications as Record<string, unknown>[] | undefined) ?? [] };
}

/** True while the user exists and has not deleted their account (a plain read, no lock). */
async function isLiveUser(em: EntityManager, userId: number): Promise<boolean> {
  const rows = await em.execute<{ id: number }[]>('select "id" from "users" where "id" = ? and "deleted_at" is null', [userId]);
  return rows.length > 0;
}

/**
 * Inside `tx`, before any other lock of the transaction: holds the author's own `users` row FOR
 * SHARE until the commit and checks the account still exists. The account deletion locks that row
 * first (FOR NO KEY UPDATE, account.service.ts), so a write of the user's (an edit, an attachment,
 * a group they create) either commits before the deletion starts (which then erases it) or waits
 * for the deletion and is refused (issue 27: nothing of a deleted account is written after its
 * erasure). Concurrent writes of one user do not wait for each other (FOR SHARE).
 * @throws UNAUTHENTICATED when the account was deleted (its tokens are dead from then on too).
 */
export async function lockLiveAuthor(tx: EntityManager, userId: number): Promise<void> {
  const rows = await tx.execute<{ id: number }[]>('select "id" from "users" where "id" = ? and "deleted_at" is null for share', [userId]);
  if (!rows.length) throw unauthenticated('This account was deleted');
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
  return {
    id: m.id,
    conversationId: refId(m.conversation),
    seq: m.seq,
    senderId: refId(m.sender),
    actorId: refId(m.actor),
    kind: m.kind,
    content: m.deletedAt ? '' : m.content,
    replyToId: refId(m.replyTo),
    clientMessageId: m.clientMessageId ?? null,
    changeSeq: m.changeSeq,
    createdAt: m.createdAt.toISOString(),
    editedAt: m.editedAt ? m.editedAt.toISOString() : null,
    deletedAt: m.deletedAt ? m.deletedAt.toISOString() : null,
    mentionIds: m.mentionIds ?? [],
  };
}

/** A row of "messages" as the driver returns it (snake_case columns). */
export interface MessageRow {
  id: number; conversation_id: number; seq: number; sender_id: number | null; actor_id?: number | null; kind: MessageView['kind']; content: string;
  reply_to_id: number | null; client_message_id: string | null; created_change: number; change_seq: number;
  created_at: Date | string; edited_at: Date | string | null; deleted_at: Date | string | null; mention_ids: number[] | string | null;
}

const iso = (d: Date | string) => (d instanceof Date ? d : new Date(d)).toISOString();

/**
 * The same view as {@link toMessageView}, straight from a raw row (no ORM entity): for reads of
 * many messages where hydrating entities would cost more than the query (messagesSince, replay).
 */
export function rowToMessageView(r: MessageRow): MessageView {
  const mentions = typeof r.mention_ids === 'string' ? (JSON.parse(r.mention_ids) as number[]) : r.mention_ids;
  return {
    id: Number(r.id),
    conversationId: Number(r.conversation_id),
    seq: Number(r.seq),
    senderId: r.sender_id == null ? null : Number(r.sender_id),
    actorId: r.actor_id == null ? null : Number(r.actor_id),
    kind: r.kind,
    content: r.deleted_at ? '' : r.content,
    replyToId: r.reply_to_id == null ? null : Number(r.reply_to_id),
    clientMessageId: r.client_message_id ?? null,
    changeSeq: Number(r.change_seq),
    createdAt: iso(r.created_at),
    editedAt: r.edited_at ? iso(r.edited_at) : null,
    deletedAt: r.deleted_at ? iso(r.deleted_at) : null,
    mentionIds: mentions ?? [],
  };
}
