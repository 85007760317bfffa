import type { EntityManager } from '@mikro-orm/postgresql';
import type { Scope } from '../shared/actor';
import { badInput } from '../shared/errors';
import type { MessageView } from '../shared/events';
import { connectionFrom, decodeCursor, encodeCursor, pageSize, type Page } from '../shared/pagination';
import { activeMembershipSql } from '../conversation/conversation.policy';
import type { ConversationQueries } from '../conversation/conversation.queries';
import { messageColumnsSql, rowToMessageView, toMessageView, type MessageRow } from './message.writer';
import { pageBySeq, type SeqPageArgs } from './seq-page';

/** A thread as the API shows it (contract Thread): its root; the counters are the root's. */
export interface ThreadView {
  root: MessageView;
}

/** One user's state in one thread: following it, and how many replies of others they have not read there. */
export interface ThreadState {
  following: boolean;
  unread: number;
}

const THREAD_CURSOR = 'thr';

/**
 * SQL: the replies of thread `root` (alias of its root row) that are unread for user `viewer` (a
 * number or a placeholder) whose thread read position is `position` (SQL): after it, not
 * deleted, not the viewer's own (issue 32: never one's own, never below zero, never above
 * replyCount, which counts the replies not deleted).
 */
export function unreadRepliesSql(root: string, position: string, viewer: string): string {
  return `select count(*) from "messages" x where x."thread_root_id" = ${root}."id" and x."seq" > ${position}
            and x."deleted_at" is null and x."sender_id" is distinct from ${viewer}`;
}

/**
 * Threads (issue 32; contract "Threads and seen by"): a thread's replies, the viewer's threads
 * newest reply first, following, and the per-thread read position (table `thread_reads`, a
 * conversation seq that never moves backwards, separate from the conversation's read position).
 * Replies are sent by MessageService.send (threadRootId); who may read a thread is who may read
 * its conversation (ConversationQueries.access).
 */
export class ThreadService {
  constructor(private readonly queries: ConversationQueries) {}

  /**
   * The root of the thread `id` names (a root, or one of its replies: then its root), when the
   * viewer may read it. @throws NOT_FOUND (unknown, or not the viewer's to read), BAD_USER_INPUT
   * (a SYSTEM message has no thread).
   */
  async rootOf(scope: Scope, id: string, field = 'rootId'): Promise<MessageView> {
    const { message } = await this.queries.visibleMessage(scope, id, field);
    // A root is the message read already; only a reply's root is read again (same conversation, same access).
    const root = message.threadRoot
      ? rowToMessageView((await scope.em.execute<MessageRow[]>(`select ${messageColumnsSql()} from "messages" where "id" = ?`, [message.threadRoot.id]))[0])
      : toMessageView(message);
    if (root.kind === 'SYSTEM') throw badInput('A system message has no thread', field);
    return root;
  }

  /**
   * A thread's replies in ascending seq, paged like `messages` (first/after forward, last/before
   * back; neither: the newest 50; at most 100). @throws NOT_FOUND, BAD_USER_INPUT (arguments).
   */
  async replies(scope: Scope, rootId: string, args: SeqPageArgs): Promise<Page<MessageView> & { replies: MessageView[] }> {
    const root = await this.rootOf(scope, rootId);
    return pageBySeq(scope.em, { where: `m."thread_root_id" = ?`, params: [root.id], total: root.threadReplyCount ?? 0 }, args);
  }

  /**
   * The viewer's threads, newest reply first: those of `conversationId` (when given; the viewer must
   * read it) or of every conversation they are an active member of; `followingOnly` (default) those
   * they follow; `unreadOnly` those with replies they have not read. `totalCount` counts every
   * match. @throws NOT_FOUND (conversation), BAD_USER_INPUT (first, after).
   */
  async list(
    scope: Scope,
    args: { conversationId?: string | null; followingOnly?: boolean | null; unreadOnly?: boolean | null; first?: number | null; after?: string | null },
  ): Promise<Page<ThreadView>> {
    const size = pageSize(args.first, 20, 100, 'first');
    const me = scope.actor.id;
    const params: unknown[] = [me];
    let where: string;
    if (args.conversationId != null) {
      const { conversation } = await this.queries.access(scope, args.conversationId);
      where = 'r."conversation_id" = ?';
      params.push(conversation.id);
    } else {
      where = `r."conversation_id" in (select ms."conversation_id" from "memberships" ms where ms."user_id" = ? and ${activeMembershipSql('ms')})`;
      params.push(me);
    }
    if (args.followingOnly !== false) where += ' and tr."following"';
    if (args.unreadOnly) where += ` and (${unreadRepliesSql('r', 'coalesce(tr."last_read_seq", 0)', String(Number(me)))}) > 0`;
    let cursor = '';
    if (args.after) {
      const [at, id] = decodeCursor(args.after, THREAD_CURSOR, 'after', 2);
      if (Number.isNaN(Date.parse(at)) || !/^\d+$/.test(id)) throw badInput('after is not a valid cursor', 'after');
      cursor = 'where (t."thread_last_reply_at", t."id") < (?::timestamptz, ?)';
      params.push(at, Number(id));
    }
    const rows = await scope.em.execute<(MessageRow & { total: string | number })[]>(
      `select * from (
         select ${messageColumnsSql('r')}, count(*) over () as "total"
           from "messages" r left join "thread_reads" tr on tr."root_id" = r."id" and tr."user_id" = ?
          where r."thread_last_reply_at" is not null and ${where}) t
        ${cursor} order by t."thread_last_reply_at" desc, t."id" desc limit ${size + 1}`,
      params,
    );
    const total = rows.length ? Number(rows[0].total) : 0;
    const views = rows.map((r) => ({ root: rowToMessageView(r) }));
    return connectionFrom(views, size, (t) => encodeCursor(THREAD_CURSOR, t.root.threadLastReplyAt ?? '', t.root.id), total, args.after != null);
  }

  /**
   * Follows or stops following the thread `rootId` names (also before its first reply). A choice
   * stays: replies and mentions later follow only users who never chose. @throws as {@link rootOf}.
   */
  async follow(scope: Scope, rootId: string, following: boolean): Promise<ThreadView> {
    const root = await this.rootOf(scope, rootId);
    await scope.em.execute(
      `insert into "thread_reads" ("root_id", "conversation_id", "user_id", "following", "last_read_seq", "updated_at") values (?, ?, ?, ?, 0, now())
       on conflict ("root_id", "user_id") do update set "following" = excluded."following", "updated_at" = excluded."updated_at"`,
      [root.id, root.conversationId, scope.actor.id, following],
    );
    return { root };
  }

  /**
   * Moves the viewer's read position in the thread `rootId` names up to `upToSeq` (default: its
   * newest reply), never backwards and never past its newest reply; the conversation's own read
   * position is not touched. @throws as {@link rootOf}; BAD_USER_INPUT (upToSeq below 0).
   */
  async markRead(scope: Scope, rootId: string, upToSeq?: number | null): Promise<ThreadView> {
    if (upToSeq != null && (!Number.isSafeInteger(upToSeq) || upToSeq < 0)) throw badInput('upToSeq must be 0 or more', 'upToSeq');
    const root = await this.rootOf(scope, rootId);
    const newest = root.threadLastReplySeq ?? root.seq;
    const position = Math.min(upToSeq ?? newest, newest);
    await markThreadRead(scope.em, root.id, root.conversationId, scope.actor.id, position);
    return { root };
  }

  /**
   * The viewer's state in each thread of `rootIds`, in one statement: following (false when they
   * never chose or a reply never made them), and the replies of others they have not read there.
   */
  static async states(em: EntityManager, viewerId: number, rootIds: readonly number[]): Promise<Map<number, ThreadState>> {
    const rows = await em.execute<{ id: number; following: boolean | null; unread: string | number }[]>(
      `select r."id", tr."following", (${unreadRepliesSql('r', 'coalesce(tr."last_read_seq", 0)', '?')}) as "unread"
         from "messages" r left join "thread_reads" tr on tr."root_id" = r."id" and tr."user_id" = ?
        where r."id" in (select (jsonb_array_elements_text(?::jsonb))::int)`,
      [viewerId, viewerId, JSON.stringify(rootIds)],
    );
    return new Map(rows.map((r) => [Number(r.id), { following: Boolean(r.following), unread: Number(r.unread) }]));
  }

  /**
   * Participants of each thread (root author and repliers, most recent first, at most `n`), by
   * "rootId:n" keys, in one statement. Deleted replies do not count; the root's author does.
   */
  static async participants(em: EntityManager, keys: readonly string[]): Promise<Map<string, number[]>> {
    const wanted = keys.map((k) => {
      const [id, n] = k.split(':').map(Number);
      return { id, n };
    });
    const rows = await em.execute<{ id: number; n: number; users: number[] | null }[]>(
      `select k."id", k."n", (select json_agg(p."u" order by p."last" desc) from (
                select x."sender_id" as "u", max(x."seq") as "last" from "messages" x
                 where (x."id" = k."id" or (x."thread_root_id" = k."id" and x."deleted_at" is null)) and x."sender_id" is not null
                 group by x."sender_id" order by "last" desc limit k."n") p) as "users"
         from jsonb_to_recordset(?::jsonb) as k("id" int, "n" int)`,
      [JSON.stringify(wanted)],
    );
    return new Map(rows.map((r) => [`${r.id}:${r.n}`, (r.users ?? []).map(Number)]));
  }
}

/**
 * Moves `userId`'s read position in thread `rootId` up to `seq` (never backwards), inside `em`'s
 * transaction if any; creates the row (no following choice) when there is none.
 */
export async function markThreadRead(em: EntityManager, rootId: number, conversationId: number, userId: number, seq: number): Promise<void> {
  await em.execute(
    `insert into "thread_reads" ("root_id", "conversation_id", "user_id", "following", "last_read_seq", "updated_at") values (?, ?, ?, null, ?, now())
     on conflict ("root_id", "user_id") do update set "last_read_seq" = greatest("thread_reads"."last_read_seq", excluded."last_read_seq"), "updated_at" = excluded."updated_at"`,
    [rootId, conversationId, userId, seq],
  );
}
