import DataLoader from 'dataloader';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Attachment } from '../domain/attachment/attachment.entity';
import { Conversation } from '../domain/conversation/conversation.entity';
import { Membership } from '../domain/conversation/membership.entity';
import type { MessageView } from '../domain/shared/events';
import { Message } from '../domain/message/message.entity';
import { messageColumnsSql, rowToMessageView, toMessageView, type MessageRow } from '../domain/message/message.writer';
import { ThreadService, type ThreadState } from '../domain/message/thread.service';
import { reactionSummaries, type ReactionSummaryView } from '../domain/message/reaction.service';
import type { UserCache, UserRecord } from '../domain/user/user-cache';
import { refId } from '../domain/shared/refs';
import { ACTIVE_MEMBERSHIP, activeMembershipSql, unreadMessageSql } from '../domain/conversation/conversation.policy';
import { seenBySql } from '../domain/message/message.policy';

const byId = <T extends { id: number }>(keys: readonly number[], rows: T[]) => {
  const map = new Map(rows.map((r) => [r.id, r]));
  return keys.map((k) => map.get(k) ?? null);
};
const groupBy = <T>(keys: readonly number[], rows: T[], keyOf: (r: T) => number) => {
  const map = new Map<number, T[]>();
  for (const r of rows) {
    const k = keyOf(r);
    let list = map.get(k);
    if (!list) map.set(k, (list = []));
    list.push(r);
  }
  return keys.map((k) => map.get(k) ?? []);
};
/** Most revisions Message.revisions shows (issue 31): the original and the newest others. */
export const REVISIONS_MAX = 100;

/** A stored earlier version of a message (table message_revisions). */
export interface RevisionRow {
  message_id: number;
  content: string;
  edited_at: Date | string;
  editor_id: number | null;
}
const placeholders = (n: number) => Array.from({ length: n }, () => '?').join(', ');

/**
 * Batch loaders for one request (or one subscription event): each turns the N lookups of a page
 * into one query, so a page of messages with senders, replies and attachments costs a constant
 * number of queries. Access checks happen before anything reaches them.
 */
export function createLoaders(em: EntityManager, viewerId: number | null, users: UserCache) {
  return {
    /** Users by id, from the instance's user cache (memory in the steady state; see UserCache). */
    user: new DataLoader<number, UserRecord | null>((ids) => users.load(em, ids)),
    conversation: new DataLoader<number, Conversation | null>(async (ids) => byId(ids, await em.find(Conversation, { id: { $in: [...ids] } }))),
    message: new DataLoader<number, MessageView | null>(async (ids) => byId(ids, (await em.find(Message, { id: { $in: [...ids] } })).map(toMessageView))),
    /** Active members of each conversation, with their users, oldest first. */
    members: new DataLoader<number, Membership[]>(async (ids) =>
      groupBy(ids, await em.find(Membership, { conversation: { $in: [...ids] }, ...ACTIVE_MEMBERSHIP }, { populate: ['user'], orderBy: { id: 'asc' } }), (m) =>
        refId(m.conversation),
      ),
    ),
    /**
     * One page of active members by "conversationId:afterMembershipId:size" (issue 27: a group of
     * thousands is never read whole for a page): oldest first, one statement for every key.
     */
    memberPage: new DataLoader<string, Membership[]>(async (keys) => {
      const parsed = keys.map((k) => k.split(':').map(Number));
      const rows = await em.execute<Record<string, unknown>[]>(
        `select p.* from (values ${parsed.map(() => '(?::int, ?::int, ?::int, ?::int)').join(', ')}) as k("i", "cid", "after_id", "lim")
           cross join lateral (select k."i" as "page_key", m.* from "memberships" m
             where m."conversation_id" = k."cid" and m."id" > k."after_id" and ${activeMembershipSql('m')}
             order by m."id" limit k."lim") p`,
        parsed.flatMap(([cid, after, lim], i) => [i, cid, after, lim]),
      );
      const pages: Membership[][] = keys.map(() => []);
      for (const { page_key, ...row } of rows) pages[Number(page_key)].push(em.map(Membership, row));
      return pages;
    }),
    memberCount: new DataLoader<number, number>(async (ids) => {
      const rows = await em.execute<{ conversation_id: number; n: string }[]>(
        `select "conversation_id", count(*) as n from "memberships" m where "conversation_id" in (${placeholders(ids.length)}) and ${activeMembershipSql('m')} group by "conversation_id"`,
        [...ids],
      );
      const map = new Map(rows.map((r) => [r.conversation_id, Number(r.n)]));
      return ids.map((id) => map.get(id) ?? 0);
    }),
    /** The viewer's active membership in each conversation. */
    viewerMembership: new DataLoader<number, Membership | null>(async (ids) => {
      if (viewerId == null) return ids.map(() => null);
      const rows = await em.find(Membership, { conversation: { $in: [...ids] }, user: viewerId, ...ACTIVE_MEMBERSHIP });
      const map = new Map(rows.map((m) => [refId(m.conversation), m]));
      return ids.map((id) => map.get(id) ?? null);
    }),
    /** Unread messages of a membership: after its read position, not its own, not deleted. */
    unread: new DataLoader<number, number>(async (ids) => {
      const rows = await em.execute<{ id: number; n: string }[]>(
        `select m."id", (select count(*) from "messages" msg where msg."conversation_id" = m."conversation_id" and ${unreadMessageSql('msg', 'm')}) as n
           from "memberships" m where m."id" in (${placeholders(ids.length)})`,
        [...ids],
      );
      const map = new Map(rows.map((r) => [r.id, Number(r.n)]));
      return ids.map((id) => map.get(id) ?? 0);
    }),
    /** Unread messages of a conversation for a viewer without a membership (staff in a SUPPORT thread they never opened): all but their own. */
    unreadAll: new DataLoader<number, number>(async (ids) => {
      const rows = await em.execute<{ conversation_id: number; n: string }[]>(
        `select "conversation_id", count(*) as n from "messages" where "conversation_id" in (${placeholders(ids.length)})
            and "deleted_at" is null and "sender_id" is distinct from ? group by "conversation_id"`,
        [...ids, viewerId],
      );
      const map = new Map(rows.map((r) => [r.conversation_id, Number(r.n)]));
      return ids.map((id) => map.get(id) ?? 0);
    }),
    /** Issue 32: the viewer's state in each thread (following, unread replies) by root id, one statement per batch. */
    threadState: new DataLoader<number, ThreadState>(async (ids) => {
      const states = viewerId == null ? new Map<number, ThreadState>() : await ThreadService.states(em, viewerId, ids);
      return ids.map((id) => states.get(id) ?? { following: false, unread: 0 });
    }),
    /** Issue 32: each thread's participants (root author and repliers, most recent first) by "rootId:n", one statement per batch. */
    threadParticipants: new DataLoader<string, number[]>(async (keys) => {
      const found = await ThreadService.participants(em, keys);
      return keys.map((k) => found.get(k) ?? []);
    }),
    /** Issue 32: the newest message of each conversation's main timeline (not a reply shown only in its thread), by conversation id. */
    lastTimelineMessage: new DataLoader<number, MessageView | null>(async (ids) => {
      const rows = await em.execute<MessageRow[]>(
        `select distinct on (m."conversation_id") ${messageColumnsSql('m')} from "messages" m
          where m."conversation_id" in (${placeholders(ids.length)}) and not m."thread_only"
          order by m."conversation_id", m."seq" desc`,
        [...ids],
      );
      const map = new Map(rows.map((r) => [Number(r.conversation_id), rowToMessageView(r)]));
      return ids.map((id) => map.get(id) ?? null);
    }),
    /** Message by "conversationId:seq". */
    messageAt: new DataLoader<string, MessageView | null>(async (keys) => {
      const pairs = keys.map((k) => k.split(':').map(Number));
      const rows = await em.find(Message, { $or: pairs.map(([c, s]) => ({ conversation: c, seq: s })) });
      const map = new Map(rows.map((m) => [`${refId(m.conversation)}:${m.seq}`, toMessageView(m)]));
      return keys.map((k) => map.get(k) ?? null);
    }),
    /**
     * Issue 31: the stored earlier versions of each message, oldest first: its original and the
     * newest REVISIONS_MAX - 1 (a message edited thousands of times is not read whole).
     */
    revisions: new DataLoader<number, RevisionRow[]>(async (ids) => {
      const rows = await em.execute<RevisionRow[]>(
        `select r."message_id", r."content", r."edited_at", r."editor_id" from (
           select x.*, row_number() over (partition by x."message_id" order by x."id") as "n", row_number() over (partition by x."message_id" order by x."id" desc) as "back"
             from "message_revisions" x where x."message_id" in (${placeholders(ids.length)})) r
          where r."n" = 1 or r."back" < ? order by r."message_id", r."id"`,
        [...ids, REVISIONS_MAX],
      );
      return groupBy(ids, rows, (r) => Number(r.message_id));
    }),
    /** Reaction summaries of each message (issue 31), with the viewer's own marked: one statement per page. */
    reactions: new DataLoader<number, ReactionSummaryView[]>((ids) => reactionSummaries(em, ids, viewerId)),
    /**
     * "Seen by" counts (issue 32, message.policy.ts seenBySql) by message id, as shown to the
     * viewer: one statement for every message of a page; 0 without a viewer.
     */
    seenCount: new DataLoader<number, number>(async (ids) => {
      if (viewerId == null) return ids.map(() => 0);
      const rows = await em.execute<{ id: number; n: string }[]>(
        `select msg."id", (select count(*) from "memberships" m join "users" u on u."id" = m."user_id"
            where m."conversation_id" = msg."conversation_id" and ${seenBySql('msg', 'm', 'u', viewerId)}) as n
           from "messages" msg where msg."id" in (${placeholders(ids.length)})`,
        [...ids],
      );
      const map = new Map(rows.map((r) => [r.id, Number(r.n)]));
      return ids.map((id) => map.get(id) ?? 0);
    }),
    /**
     * One page of a message's "seen by" readers by "messageId:afterMembershipId:size", as shown to
     * the viewer: membership id order (stable cursors), one statement for every key; [] without a viewer.
     */
    seenByPage: new DataLoader<string, { membershipId: number; userId: number }[]>(async (keys) => {
      if (viewerId == null) return keys.map(() => []);
      const parsed = keys.map((k) => k.split(':').map(Number));
      const rows = await em.execute<{ page_key: number; id: number; user_id: number }[]>(
        `select p.* from (values ${parsed.map(() => '(?::int, ?::int, ?::int, ?::int)').join(', ')}) as k("i", "mid", "after_id", "lim")
           join "messages" msg on msg."id" = k."mid"
           cross join lateral (select k."i" as "page_key", m."id", m."user_id" from "memberships" m join "users" u on u."id" = m."user_id"
             where m."conversation_id" = msg."conversation_id" and m."id" > k."after_id" and ${seenBySql('msg', 'm', 'u', viewerId)}
             order by m."id" limit k."lim") p`,
        parsed.flatMap(([mid, after, lim], i) => [i, mid, after, lim]),
      );
      const pages: { membershipId: number; userId: number }[][] = keys.map(() => []);
      for (const r of rows) pages[Number(r.page_key)].push({ membershipId: r.id, userId: r.user_id });
      return pages;
    }),
    attachments: new DataLoader<number, Attachment[]>(async (ids) =>
      groupBy(ids, await em.find(Attachment, { message: { $in: [...ids] } }, { orderBy: { id: 'asc' } }), (a) => refId(a.message)!),
    ),
  };
}

export type Loaders = ReturnType<typeof createLoaders>;
