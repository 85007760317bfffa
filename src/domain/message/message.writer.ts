import type { EntityManager } from '@mikro-orm/postgresql';
import { indexedDocument } from '../search/search.index';
import type { MessageView } from '../shared/events';
import { Message, MessageKind } from './message.entity';
import { activeMembershipSql } from '../conversation/conversation.policy';
import { refId } from '../shared/refs';
import { unauthenticated } from '../shared/errors';
import { executePrepared } from '../../db/prepared';

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
  /** A user's send: its rules checked again under the conversation's row lock (issue 27 §3). */
  guard?: SendGuard;
  /** A forwarded copy: the original (issue 31). */
  forwardedFromId?: number | null;
  /** Issue 32: a reply in a thread (see {@link ThreadReply}). */
  thread?: ThreadReply | null;
}

/**
 * A reply in a thread (issue 32): `rootId`, its root (never a reply itself); `only`: shown only in
 * the thread (not sent with alsoSendToConversation); `followers`: users who start following the
 * thread unless they chose otherwise before (the root's author, the users the reply mentions;
 * never the sender, who always follows it and has read it up to the reply).
 */
export interface ThreadReply {
  rootId: number;
  only: boolean;
  followers: number[];
}

/**
 * The send rules {@link appendMessage} checks again once it holds the conversation's row lock, so
 * a ban, mute, removal, demotion or block committed while the send waited on that lock refuses it
 * (issue 27 §3) instead of letting one message through.
 */
export interface SendGuard {
  /** The sender must hold an active (not left, not banned), unmuted membership (false: staff answering a SUPPORT thread, seed 002). */
  member: boolean;
  /** ...and be its OWNER or an ADMIN (a notice from someone who is not staff: message.policy canPostNotice). */
  manager: boolean;
  /**
   * DIRECT chats: the other member. No block may stand either way and their account must not be
   * deleted. A block is a new row, which a statement sees only when its snapshot is taken after
   * the block's commit: the caller must already hold the conversation's row lock from an earlier
   * statement of its transaction ({@link lockForSend}).
   */
  partnerId: number | null;
}

/** {@link appendMessage} found a send's rule (SendGuard) broken under the lock: the caller says which, as its early check would. */
export class RefusedUnderLock extends Error {
  constructor() {
    super("send refused under the conversation's row lock");
  }
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
  /** A thread reply's root as the reply left it (its counters changed in the same statement), as a row. */
  threadRoot: MessageRow | null;
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
 * With `guard` (a user's send) the send's rules are checked again under the conversation's row
 * lock (issue 27 §3; see SendGuard).
 * @throws the driver's unique-violation error on a duplicate (sender, clientMessageId);
 *   UNAUTHENTICATED when the author's account was deleted; RefusedUnderLock when a guard's rule
 *   no longer holds.
 */
export async function appendMessage(em: EntityManager, data: NewMessage): Promise<Appended> {
  const now = new Date().toISOString();
  const n = data.notices;
  // The author (the sender, or the actor of a SYSTEM notice) holds their own row FOR SHARE for the
  // statement, taken BEFORE the conversation's row (the order of the account deletion, which locks
  // the user's row first: no deadlock), and must still exist: a deletion committing meanwhile
  // either waits for this send (and erases it) or is waited for (and the send writes nothing).
  const authorId = data.senderId ?? data.actorId ?? null;
  // With a guard (issue 27 §3): `l` takes the conversation's row lock first (after the author's
  // row, via `a`), then `g` locks the sender's membership FOR SHARE with the send's conditions.
  // Locking a row reads its newest committed version (PostgreSQL re-checks the conditions on it,
  // READ COMMITTED), so a ban, mute, removal or demotion committed while the send waited on the
  // conversation is seen: `c` then updates nothing and nothing is written. Same statement, no
  // extra round trip; the cost is one index lookup of the membership row `r` reads anyway. The
  // conversation's own row is re-read by `c` the same way: archived meanwhile, nothing is written.
  // A block is a new row (no version to follow): see SendGuard.partnerId.
  const g = data.guard;
  const t = data.thread ?? null;
  const member = g?.member ? (data.senderId ?? data.actorId ?? null) : null;
  // Bound parameters, a prepared statement (issue 35): PostgreSQL parses each of its few shapes once per connection.
  const [row] = await executePrepared(
    em,
    `with ${
      authorId != null
        ? `a as (select "id" from "users" where "id" = ? and "deleted_at" is null for share),
     `
        : ''
    }${
      member != null
        ? `l as (select "id" from "conversations" where "id" = ?${authorId != null ? ' and exists (select 1 from a)' : ''} for no key update),
     g as (select gm."id" from "memberships" gm where gm."conversation_id" = (select "id" from l) and gm."user_id" = ?
              and ${activeMembershipSql('gm')} and not gm."is_muted"${g?.manager ? ` and gm."role" in ('OWNER', 'ADMIN')` : ''} for share),
     `
        : ''
    }c as (
       update "conversations" set "last_seq" = "last_seq" + 1, "change_seq" = "change_seq" + ${t ? 2 : 1}${t?.only ? ', "thread_only_count" = "thread_only_count" + 1' : ''},
              "last_activity_at" = ?::timestamptz, "updated_at" = ?::timestamptz
        where "id" = ?${authorId != null ? ' and exists (select 1 from a)' : ''}${g ? ' and "archived_at" is null' : ''}${member != null ? ' and exists (select 1 from g)' : ''}${
          g?.partnerId != null
            ? `
          and not exists (select 1 from "contacts" k where k."status" = 'BLOCKED'
                and ((k."requester_id" = ? and k."addressee_id" = ?) or (k."requester_id" = ? and k."addressee_id" = ?)))
          and not exists (select 1 from "users" p where p."id" = ? and p."deleted_at" is not null)`
            : ''
        } returning "last_seq", "change_seq"),
     r as (
       update "memberships" m set "last_read_seq" = c."last_seq", "last_read_at" = ?::timestamptz from c
        where m."conversation_id" = ? and m."user_id" = ? and m."last_read_seq" < c."last_seq"${t?.only ? ' and false' : ''} returning m."id"),
     ins as (
       insert into "messages" ("conversation_id", "seq", "sender_id", "actor_id", "kind", "content", "reply_to_id", "client_message_id", "created_change", "change_seq", "created_at", "mention_ids", "search_document", "forwarded_from_id", "thread_root_id", "thread_only")
       select ?, c."last_seq", ?, ?, ?::"message_kind", ?, ?, ?, c."change_seq" - ${t ? 1 : 0}, c."change_seq" - ${t ? 1 : 0}, ?::timestamptz, ?::jsonb, ?::tsvector, ?, ?, ? from c
       returning ${messageColumnsSql()})${
         t
           ? `,
     t as (
       update "messages" tr set "thread_reply_count" = tr."thread_reply_count" + 1, "thread_last_reply_at" = ?::timestamptz,
              "thread_last_reply_seq" = c."last_seq", "change_seq" = c."change_seq", "changed_at" = ?::timestamptz
         from c where tr."id" = ? and tr."conversation_id" = ?
       returning ${messageColumnsSql('tr')}),
     fs as (
       insert into "thread_reads" ("root_id", "conversation_id", "user_id", "following", "last_read_seq", "updated_at")
       select ?, ?, ?, true, c."last_seq", ?::timestamptz from c
       on conflict ("root_id", "user_id") do update set "following" = true,
          "last_read_seq" = greatest("thread_reads"."last_read_seq", excluded."last_read_seq"), "updated_at" = excluded."updated_at"
       returning "id")${
         t.followers.length
           ? `,
     fo as (
       insert into "thread_reads" ("root_id", "conversation_id", "user_id", "following", "last_read_seq", "updated_at")
       select ?, ?, f.id, true, 0, ?::timestamptz from c, (select distinct (jsonb_array_elements_text(?::jsonb))::int as id) f
       on conflict ("root_id", "user_id") do update set "following" = coalesce("thread_reads"."following", true)
       returning "id")`
           : ''
       }`
           : ''
       }${
         n
           ? `,
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
       returning *)`
           : ''
       }
     select ins.*, exists (select 1 from r) as "sender_read_moved"${n ? `, (select coalesce(json_agg(n), '[]'::json) from n) as "notifications"` : ''}${
       t ? `, (select row_to_json(t) from t) as "thread_root"` : ''
     } from ins`,
    [
      ...(authorId != null ? [authorId] : []),
      ...(member != null ? [data.conversationId, member] : []),
      now,
      now,
      data.conversationId,
      ...(g?.partnerId != null ? [authorId, g.partnerId, g.partnerId, authorId, g.partnerId] : []),
      now,
      data.conversationId,
      data.senderId ?? data.actorId ?? null,
      data.conversationId,
      data.senderId,
      data.actorId ?? null,
      data.kind,
      data.content,
      data.replyToId ?? null,
      data.clientMessageId ?? null,
      now,
      JSON.stringify(data.mentionIds ?? []),
      indexedDocument(data.content),
      data.forwardedFromId ?? null,
      t?.rootId ?? null,
      Boolean(t?.only),
      ...(t
        ? [
            now,
            now,
            t.rootId,
            data.conversationId,
            t.rootId,
            data.conversationId,
            authorId,
            now,
            ...(t.followers.length ? [t.rootId, data.conversationId, now, JSON.stringify(t.followers)] : []),
          ]
        : []),
      ...(n
        ? [
            n.mentionTitle,
            n.messageTitle,
            n.body,
            now,
            JSON.stringify(data.mentionIds ?? []),
            JSON.stringify([...new Set([...(data.mentionIds ?? []), ...n.notify])]),
          ]
        : []),
    ],
  );
  if (!row) {
    if (authorId != null && !(await isLiveUser(em, authorId))) throw unauthenticated('This account was deleted');
    if (g) throw new RefusedUnderLock();
    throw new Error(`conversation ${data.conversationId} does not exist`);
  }
  const { sender_read_moved: moved, notifications, thread_root: threadRoot, ...columns } = row as Record<string, unknown>;
  return {
    message: em.map(Message, columns),
    senderReadMoved: Boolean(moved),
    notifications: (notifications as Record<string, unknown>[] | undefined) ?? [],
    threadRoot: (threadRoot as MessageRow | null | undefined) ?? null,
  };
}

/** True while the user exists and has not deleted their account (a plain read, no lock). */
async function isLiveUser(em: EntityManager, userId: number): Promise<boolean> {
  const rows = await executePrepared<{ id: number }[]>(em, 'select "id" from "users" where "id" = ? and "deleted_at" is null', [userId]);
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
  const rows = await executePrepared<{ id: number }[]>(tx, 'select "id" from "users" where "id" = ? and "deleted_at" is null for share', [userId]);
  if (!rows.length) throw unauthenticated('This account was deleted');
}

/**
 * Inside `tx`, as the transaction's first locks: the author's `users` row FOR SHARE (the account
 * deletion's order, as {@link lockLiveAuthor}), then the conversation's row, in one statement. A
 * send into a DIRECT chat takes it before {@link appendMessage}, whose statement then reads what
 * committed while it waited (a block: SendGuard.partnerId). Costs one statement (and the
 * transaction's begin and commit) on such sends.
 * @throws UNAUTHENTICATED when the author's account was deleted.
 */
export async function lockForSend(tx: EntityManager, authorId: number, conversationId: number): Promise<void> {
  const rows = await executePrepared<{ id: number }[]>(
    tx,
    `with a as (select "id" from "users" where "id" = ? and "deleted_at" is null for share)
     select "id" from "conversations" where "id" = ? and exists (select 1 from a) for no key update`,
    [authorId, conversationId],
  );
  if (!rows.length) {
    if (!(await isLiveUser(tx, authorId))) throw unauthenticated('This account was deleted');
    throw new Error(`conversation ${conversationId} does not exist`);
  }
}

/**
 * Takes the conversation's next change number for an edit or delete, inside `tx`.
 */
export async function nextChange(tx: EntityManager, conversationId: number): Promise<number> {
  const [row] = await tx.execute<{ change_seq: number }[]>('update "conversations" set "change_seq" = "change_seq" + 1 where "id" = ? returning "change_seq"', [
    conversationId,
  ]);
  return row.change_seq;
}

/**
 * Marks message `messageId` of `conversationId` changed, inside `tx` (issue 31: a reaction, a pin;
 * any change besides creation, edit or deletion, which write their own columns): records the
 * conversation's next change number (`change`, from {@link nextChange} when the caller already
 * took the conversation's lock; else taken here) and the time (`changed_at`) on the message, so
 * `messagesSince` returns it and the outage replay (realtime/delivery/replay.ts) re-sends it.
 * Returns the message as it now is, or null when it is deleted (or not in that conversation):
 * the caller refuses then (its transaction rolls back). After the commit, publish the view with
 * MessageService.publishUpdated (`message.updated`, subscription messageUpdated).
 */
export async function markChanged(tx: EntityManager, conversationId: number, messageId: number, change?: number): Promise<MessageView | null> {
  const seq = change ?? (await nextChange(tx, conversationId));
  const [row] = await tx.execute<MessageRow[]>(
    `update "messages" set "change_seq" = ?, "changed_at" = now() where "id" = ? and "conversation_id" = ? and "deleted_at" is null returning *`,
    [seq, messageId, conversationId],
  );
  return row ? rowToMessageView(row) : null;
}

/**
 * Issue 32: counts again the replies (not deleted) of thread roots `rootIds`, inside `tx` after
 * replies were deleted; each root whose count changed takes its conversation's next change number
 * (messagesSince and replay report it). One statement. After the commit, publish each returned
 * root with MessageService.publishUpdated.
 */
export async function recountThreads(tx: EntityManager, rootIds: readonly number[]): Promise<MessageView[]> {
  if (!rootIds.length) return [];
  const rows = await changeMessages(
    tx,
    `"id" in (select (jsonb_array_elements_text(?::jsonb))::int) and "thread_reply_count" <> (select count(*) from "messages" x where x."thread_root_id" = "messages"."id" and x."deleted_at" is null)`,
    `"thread_reply_count" = (select count(*) from "messages" x where x."thread_root_id" = m."id" and x."deleted_at" is null), "changed_at" = now()`,
    [JSON.stringify([...new Set(rootIds)])],
  );
  return rows.map(rowToMessageView);
}

/**
 * The bulk form of {@link nextChange}, inside `tx`, in one statement: changes every message that
 * `which` chooses (an SQL condition over "messages", no alias) with the assignments `set` (SQL over
 * alias `m`, without "change_seq"), each message taking its own next change number of its
 * conversation, in seq order (so messagesSince and replay report each change like a single edit or
 * delete). `params` are `which`'s placeholders, then `set`'s. Used by the account deletion (an
 * account in 1000 conversations costs one statement, not one per message).
 * @returns the changed rows, as committed by the statement.
 */
export function changeMessages(tx: EntityManager, which: string, set: string, params: unknown[]): Promise<MessageRow[]> {
  return tx.execute<MessageRow[]>(
    `with chosen as (
       select "id", "conversation_id", row_number() over (partition by "conversation_id" order by "seq") as n from "messages" where ${which}),
     counts as (select "conversation_id", count(*) as k from chosen group by "conversation_id"),
     bumped as (
       update "conversations" c set "change_seq" = c."change_seq" + counts.k from counts
        where c."id" = counts."conversation_id" returning c."id", c."change_seq" - counts.k as base)
     update "messages" m set ${set}, "change_seq" = bumped.base + chosen.n
       from chosen join bumped on bumped."id" = chosen."conversation_id"
      where m."id" = chosen."id"
      returning m.*`,
    params,
  );
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
    editedById: refId(m.editedBy),
    pinnedAt: m.pinnedAt ? m.pinnedAt.toISOString() : null,
    pinnedById: refId(m.pinnedBy),
    forwardedFromId: refId(m.forwardedFrom),
    threadRootId: refId(m.threadRoot),
    threadOnly: m.threadOnly ?? false,
    threadReplyCount: m.threadReplyCount ?? 0,
    threadLastReplyAt: m.threadLastReplyAt ? m.threadLastReplyAt.toISOString() : null,
    threadLastReplySeq: m.threadLastReplySeq ?? null,
  };
}

/**
 * The columns of "messages" that a {@link MessageRow} (and the Message entity) holds, as a SQL
 * select list, each prefixed with `alias` when given. Reads and the send's RETURNING name these
 * instead of `*`: `search_document` (issue 33, the message's normalised words, several times the
 * size of its content) is written, never read back.
 */
export function messageColumnsSql(alias?: string): string {
  return MESSAGE_COLUMNS.map((c) => (alias ? `${alias}."${c}"` : `"${c}"`)).join(', ');
}

const MESSAGE_COLUMNS = [
  'id',
  'conversation_id',
  'seq',
  'sender_id',
  'actor_id',
  'kind',
  'content',
  'reply_to_id',
  'client_message_id',
  'created_change',
  'change_seq',
  'created_at',
  'edited_at',
  'deleted_at',
  'mention_ids',
  'edited_by_id',
  'pinned_at',
  'pinned_by_id',
  'forwarded_from_id',
  'thread_root_id',
  'thread_only',
  'thread_reply_count',
  'thread_last_reply_at',
  'thread_last_reply_seq',
] as const satisfies readonly (keyof MessageRow)[];

/** A row of "messages" as the driver returns it (snake_case columns). */
export interface MessageRow {
  id: number;
  conversation_id: number;
  seq: number;
  sender_id: number | null;
  actor_id?: number | null;
  kind: MessageView['kind'];
  content: string;
  reply_to_id: number | null;
  client_message_id: string | null;
  created_change: number;
  change_seq: number;
  created_at: Date | string;
  edited_at: Date | string | null;
  deleted_at: Date | string | null;
  mention_ids: number[] | string | null;
  edited_by_id?: number | null;
  pinned_at?: Date | string | null;
  pinned_by_id?: number | null;
  forwarded_from_id?: number | null;
  thread_root_id?: number | null;
  thread_only?: boolean | null;
  thread_reply_count?: number | null;
  thread_last_reply_at?: Date | string | null;
  thread_last_reply_seq?: number | null;
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
    editedById: r.edited_by_id == null ? null : Number(r.edited_by_id),
    pinnedAt: r.pinned_at ? iso(r.pinned_at) : null,
    pinnedById: r.pinned_by_id == null ? null : Number(r.pinned_by_id),
    forwardedFromId: r.forwarded_from_id == null ? null : Number(r.forwarded_from_id),
    threadRootId: r.thread_root_id == null ? null : Number(r.thread_root_id),
    threadOnly: Boolean(r.thread_only),
    threadReplyCount: Number(r.thread_reply_count ?? 0),
    threadLastReplyAt: r.thread_last_reply_at ? iso(r.thread_last_reply_at) : null,
    threadLastReplySeq: r.thread_last_reply_seq == null ? null : Number(r.thread_last_reply_seq),
  };
}
