import type { EntityManager } from '@mikro-orm/postgresql';
import type { Actor } from '../shared/actor';
import { readableConversationSql } from '../conversation/conversation.policy';
import { messageColumnsSql, type MessageRow } from '../message/message.writer';
import { searchDocument } from './normalize';

/** What the search service asks an index for: one page of the viewer's matching messages. */
export interface IndexQuery {
  /** tsquery-syntax match of the words (normalize.ts lexemes), or null: filters only. */
  match: string | null;
  /** The included terms' exact forms (rank first), or null. */
  exact: string | null;
  /** Only these conversations (every one already passed ConversationQueries.access), or null. */
  conversationIds: number[] | null;
  /** Only messages of these users (lower-case usernames), or null. */
  senders: string[] | null;
  before: Date | null;
  after: Date | null;
  hasFile: boolean;
  hasImage: boolean;
  /** Only messages pinned now (is:pinned). */
  pinned?: boolean;
  /** Only thread roots (replied to) and thread replies (is:thread, issue 32). */
  thread?: boolean;
  order: 'RELEVANCE' | 'NEWEST';
  /** Keyset: the last hit of the previous page (score is ignored for NEWEST). */
  cursor: { score: number; id: number } | null;
  /** Page size; the index returns one more row when there is a next page. */
  size: number;
}

/** A hit: the message's row and its relevance score (an integer, stable for a message and a query). */
export type IndexHit = MessageRow & { score: number };

/**
 * The interface SearchService calls (issue 33). The PostgreSQL implementation below is the only
 * one shipped; docs/search.md says how an OpenSearch or Meilisearch one would take its place.
 * Readability is decided by conversation.policy.ts (readableConversationSql), never by the index.
 */
export interface MessageSearchIndex {
  /** One page of hits, with the number of all hits. */
  find(em: EntityManager, actor: Actor, query: IndexQuery): Promise<{ hits: IndexHit[]; total: number }>;
}

/* The write side: called inside the message's own transaction (synchronous: SEARCH_INDEX_LAG_MS is 0). */

/** The value of messages.search_document for new content (appendMessage writes it with the message). Pure. */
export function indexedDocument(content: string): string {
  return searchDocument(content);
}

/** Re-indexes a message whose content changed (an edit), inside its transaction `tx`. */
export async function reindexMessage(tx: EntityManager, messageId: number, content: string): Promise<void> {
  await tx.execute('update "messages" set "search_document" = ?::tsvector where "id" = ?', [searchDocument(content), messageId]);
}

/** Removes a deleted message from the index, inside its transaction `tx`. */
export async function unindexMessage(tx: EntityManager, messageId: number): Promise<void> {
  await tx.execute('update "messages" set "search_document" = null where "id" = ?', [messageId]);
}

/**
 * Account deletion (issue 18), inside its transaction `tx`: the user's messages leave the index,
 * and the SYSTEM notices rewritten to name the tombstone (`rewritten`) are indexed again.
 */
export async function unindexAccount(tx: EntityManager, userId: number, rewritten: readonly Pick<MessageRow, 'id' | 'content'>[]): Promise<void> {
  await tx.execute('update "messages" set "search_document" = null where "sender_id" = ? and "search_document" is not null', [userId]);
  if (!rewritten.length) return;
  await tx.execute(`update "messages" m set "search_document" = v.d::tsvector from json_to_recordset(?::json) as v(id int, d text) where m."id" = v.id`, [
    JSON.stringify(rewritten.map((r) => ({ id: Number(r.id), d: searchDocument(r.content) }))),
  ]);
}

/**
 * The PostgreSQL index: messages.search_document (a tsvector written by the message's own
 * statements, GIN-indexed: messages_search_document_idx), matched with `@@`, ranked with
 * ts_rank (plus a bonus when the exact forms match), restricted to what the viewer may read now
 * (conversation.policy.ts readableConversationSql) and never deleted messages. One statement.
 */
export class PostgresSearchIndex implements MessageSearchIndex {
  async find(em: EntityManager, actor: Actor, q: IndexQuery): Promise<{ hits: IndexHit[]; total: number }> {
    const { sql, params } = this.statement(actor, q);
    const rows = await em.execute<(IndexHit & { total: string | number })[]>(sql, params);
    const total = rows.length ? Number(rows[0].total) : 0;
    return { hits: rows.map((r) => ({ ...r, score: Number(r.score) })), total };
  }

  /** The statement of {@link find} (tests EXPLAIN it). */
  statement(actor: Actor, q: IndexQuery): { sql: string; params: unknown[] } {
    const where = ['m."deleted_at" is null', readableConversationSql(actor, 'm."conversation_id"')];
    const params: unknown[] = [];
    const score = q.match
      ? `(round(ts_rank(m."search_document", ?::tsquery) * 1000000)${q.exact ? ` + case when m."search_document" @@ ?::tsquery then 1000000000 else 0 end` : ''})::bigint`
      : '0::bigint';
    if (q.match) params.push(q.match, ...(q.exact ? [q.exact] : []));
    if (q.match) {
      where.push(`m."search_document" @@ ?::tsquery`);
      params.push(q.match);
    }
    if (q.conversationIds) {
      where.push(`m."conversation_id" in (${q.conversationIds.map(() => '?').join(', ') || 'null'})`);
      params.push(...q.conversationIds);
    }
    if (q.senders) {
      where.push(
        `m."sender_id" in (select u."id" from "users" u where u."username_key" in (${q.senders.map(() => '?').join(', ')}) and u."deleted_at" is null)`,
      );
      params.push(...q.senders);
    }
    if (q.before) {
      where.push(`m."created_at" < ?::timestamptz`);
      params.push(q.before.toISOString());
    }
    if (q.after) {
      where.push(`m."created_at" >= ?::timestamptz`);
      params.push(q.after.toISOString());
    }
    if (q.hasFile) where.push(`(m."kind" in ('FILE', 'IMAGE') or exists (select 1 from "attachments" a where a."message_id" = m."id"))`);
    if (q.pinned) where.push(`m."pinned_at" is not null`);
    if (q.thread) where.push(`(m."thread_root_id" is not null or m."thread_last_reply_at" is not null)`);
    if (q.hasImage) where.push(`(m."kind" = 'IMAGE' or exists (select 1 from "attachments" a where a."message_id" = m."id" and a."mime_type" like 'image/%'))`);
    let page = '';
    if (q.cursor) {
      page = q.order === 'NEWEST' ? 'where h."id" < ?' : 'where (h.score, h."id") < (?::bigint, ?)';
      params.push(...(q.order === 'NEWEST' ? [q.cursor.id] : [q.cursor.score, q.cursor.id]));
    }
    const order = q.order === 'NEWEST' ? 'h."id" desc' : 'h.score desc, h."id" desc';
    const sql = `with hits as (
        select ${messageColumnsSql('m')}, ${score} as score
          from "messages" m
         where ${where.join(' and ')})
      select h.*, (select count(*) from hits) as total from hits h ${page} order by ${order} limit ${q.size + 1}`;
    return { sql, params };
  }
}
