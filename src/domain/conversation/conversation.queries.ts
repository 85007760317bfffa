import type { EntityManager } from '@mikro-orm/postgresql';
import type { Scope } from '../shared/actor';
import { badInput, DomainError, notFound, parseId, unauthenticated } from '../shared/errors';
import { connectionFrom, decodeCursor, encodeCursor, pageSize, type Page } from '../shared/pagination';
import { stripControlChars } from '../shared/text';
import { executePrepared } from '../../db/prepared';
import type { ContactService } from '../contact/contact.service';
import { Message } from '../message/message.entity';
import { User, fullNameOf } from '../user/user.entity';
import type { UserRecord } from '../user/user-cache';
import { Conversation, ConversationKind } from './conversation.entity';
import { Membership } from './membership.entity';
import { activeMembershipSql, canRead, canSeeMetadata, isActive, listedConversationSql } from './conversation.policy';

/** A conversation the actor may read, with the actor's membership (null for staff outside it). */
export interface Access {
  conversation: Conversation;
  membership: Membership | null;
}

/** {@link ConversationQueries.sendTarget}: access plus the facts a send checks. */
export interface SendTarget extends Access {
  /** A block stands between the two members of a DIRECT chat (either way). */
  blocked: boolean;
  /** The other member of a DIRECT chat deleted their account (issue 18): the chat is read-only. */
  partnerDeleted: boolean;
  /** The actor's earlier message with the send's clientMessageId, in any conversation. */
  prior: Message | null;
  /** The conversation of the message replied to; null when there is no such message (or no reply). */
  replyConversationId: number | null;
  /** Active members other than the actor who are not muted: who could get a MESSAGE notification. */
  recipients: number[];
}

const LIST_CURSOR = 'conv';

/**
 * Reading conversations: the access check every service starts with ({@link access}), the
 * one-statement facts of a send, the viewer's lists (cursor pages for GraphQL, offset ranges for
 * the REST dialects), and whose presence the viewer sees. Writes nothing. Visibility is decided
 * by conversation.policy.ts (in SQL by its fragments).
 */
export class ConversationQueries {
  constructor(private readonly contacts: ContactService) {}

  /**
   * The SUPPORT thread of customer `customerId` if it exists (seed 002: a typing indicator goes to
   * a thread, it never opens one). Only the customer and staff may ask; anyone else gets null,
   * as for a customer without a thread (no existence leak).
   */
  async existingSupportThread(scope: Scope, customerId: number): Promise<Conversation | null> {
    if (!scope.actor.isStaff && scope.actor.id !== customerId) return null;
    return scope.em.findOne(Conversation, { kind: ConversationKind.SUPPORT, customer: customerId });
  }

  /**
   * Loads a conversation the actor may read: the access check every read and write starts with. @throws NOT_FOUND when it does not exist or the
   * actor may not see it (no existence leak).
   */
  async access(scope: Scope, conversationId: string | number, field = 'conversationId'): Promise<Access> {
    const id = parseId(conversationId, field);
    // One statement whoever asks (staff outside the conversation too), rows mapped without the query builder.
    const [row] = await scope.em.execute<{ c: Record<string, unknown>; m: Record<string, unknown> | null }[]>(
      `select row_to_json(c) as c, row_to_json(m) as m from "conversations" c
         left join "memberships" m on m."conversation_id" = c."id" and m."user_id" = ?
        where c."id" = ?`,
      [scope.actor.id, id],
    );
    if (!row) throw notFound('Conversation');
    const conversation = scope.em.map(Conversation, row.c);
    const membership = row.m ? scope.em.map(Membership, row.m) : null;
    if (!canRead(scope.actor, conversation, membership)) throw await this.refusal(scope);
    return { conversation, membership: isActive(membership) ? membership : null };
  }

  /**
   * The refusal of a conversation the actor may not read: NOT_FOUND, or UNAUTHENTICATED when the
   * actor's own account was deleted after the request authenticated (the deletion ended their
   * memberships; issue 27 §2: a write racing the deletion is refused as unauthenticated, not as a
   * missing conversation). One statement, on the refusal path only.
   */
  private async refusal(scope: Scope): Promise<DomainError> {
    const live = await scope.em.execute<{ id: number }[]>('select "id" from "users" where "id" = ? and "deleted_at" is null', [scope.actor.id]);
    return live.length ? notFound('Conversation') : unauthenticated('This account was deleted');
  }

  /**
   * Loads a message the actor may see (its conversation passes {@link access}), with the sender
   * and the conversation, and the actor's membership there. @throws NOT_FOUND (no existence leak).
   */
  async visibleMessage(scope: Scope, messageId: string | number, field = 'id'): Promise<Access & { message: Message }> {
    const message = await scope.em.findOne(Message, { id: parseId(messageId, field) }, { populate: ['conversation', 'sender'] });
    if (!message) throw notFound('Message');
    try {
      return { message, ...(await this.access(scope, message.conversation.id)) };
    } catch (err) {
      if (err instanceof DomainError && err.code === 'UNAUTHENTICATED') throw err;
      throw notFound('Message');
    }
  }

  /**
   * What a send into `conversationId` must know, read in one statement (issue 12): the
   * conversation and the actor's membership (as {@link access}), whether a block stands between
   * the two members of a DIRECT chat, the actor's earlier message with `clientMessageId` (an
   * idempotent retry), the conversation of `replyToId`, and the members who could be notified
   * (active, not muted, not the actor). @throws NOT_FOUND like {@link access}.
   */
  async sendTarget(scope: Scope, conversationId: number, opts: { clientMessageId?: string | null; replyToId?: number | null } = {}): Promise<SendTarget> {
    const me = scope.actor.id;
    // Bound parameters, a prepared statement (issue 35): PostgreSQL parses it once per connection.
    const [row] = await executePrepared<
      {
        c: Record<string, unknown>;
        m: Record<string, unknown> | null;
        blocked: boolean;
        partner_deleted: boolean;
        prior: Record<string, unknown> | null;
        reply_conversation_id: number | null;
        recipients: number[];
      }[]
    >(
      scope.em,
      `select row_to_json(c) as c, row_to_json(m) as m,
              (c."kind" = 'DIRECT' and exists (
                 select 1 from "contacts" k where k."status" = 'BLOCKED'
                    and ((k."requester_id" = ? and k."addressee_id" = d.other) or (k."requester_id" = d.other and k."addressee_id" = ?)))) as blocked,
              (c."kind" = 'DIRECT' and exists (select 1 from "users" u where u."id" = d.other and u."deleted_at" is not null)) as partner_deleted,
              (select row_to_json(p) from "messages" p where p."sender_id" = ? and p."client_message_id" = ?::varchar) as prior,
              (select r."conversation_id" from "messages" r where r."id" = ?::int) as reply_conversation_id,
              (select coalesce(json_agg(n."user_id"), '[]'::json) from "memberships" n
                where n."conversation_id" = c."id" and ${activeMembershipSql('n')} and not n."is_muted" and n."user_id" <> ?) as recipients
         from "conversations" c
         left join "memberships" m on m."conversation_id" = c."id" and m."user_id" = ?
         cross join lateral (select case when split_part(c."direct_key", ':', 1) = ?::text
                                         then nullif(split_part(c."direct_key", ':', 2), '')::int
                                         else nullif(split_part(c."direct_key", ':', 1), '')::int end as other) d
        where c."id" = ?`,
      [me, me, me, opts.clientMessageId ?? null, opts.replyToId ?? null, me, me, String(me), conversationId],
    );
    if (!row) throw notFound('Conversation');
    const conversation = scope.em.map(Conversation, row.c);
    const found = row.m ? scope.em.map(Membership, row.m) : null;
    if (!canRead(scope.actor, conversation, found)) throw await this.refusal(scope);
    return {
      conversation,
      membership: isActive(found) ? found : null,
      blocked: Boolean(row.blocked),
      partnerDeleted: Boolean(row.partner_deleted),
      prior: row.prior ? scope.em.map(Message, row.prior) : null,
      replyConversationId: row.reply_conversation_id == null ? null : Number(row.reply_conversation_id),
      recipients: (row.recipients ?? []).map(Number),
    };
  }

  /** The viewer's conversations, newest activity first (staff: plus every SUPPORT thread; with `reach: 'readable'`, every conversation). */
  async list(
    scope: Scope,
    args: { kind?: ConversationKind | null; first?: number | null; after?: string | null; reach?: 'listed' | 'readable' },
  ): Promise<Page<Conversation>> {
    const size = pageSize(args.first, 20, 100, 'first');
    const params: unknown[] = [scope.actor.id];
    // 'readable': staff see every conversation (they may read all: conversation.policy's canReadContent).
    let where = args.reach === 'readable' && scope.actor.isStaff ? 'true' : listedConversationSql(scope.actor);
    if (args.kind) {
      where += ' and c."kind" = ?';
      params.push(args.kind);
    }
    const from = `from "conversations" c left join "memberships" m on m."conversation_id" = c."id" and m."user_id" = ? and ${activeMembershipSql('m')} where ${where}`;
    return this.page(scope.em, from, params, size, args.after);
  }

  /** PUBLIC rooms, optionally filtered by name, newest activity first. */
  async publicRooms(scope: Scope, args: { search?: string | null; first?: number | null; after?: string | null }): Promise<Page<Conversation>> {
    const size = pageSize(args.first, 20, 100, 'first');
    const params: unknown[] = [];
    let from = `from "conversations" c where c."kind" = 'ROOM' and c."visibility" = 'PUBLIC'`;
    // As users(search:): control characters never match a stored name (and a NUL broke PGlite's connection).
    const q = args.search == null ? '' : stripControlChars(String(args.search)).trim();
    if (q) {
      from += ` and c."name" ilike ?`;
      params.push(`%${q.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`);
    }
    return this.page(scope.em, from, params, size, args.after);
  }

  private async page(em: EntityManager, from: string, params: unknown[], size: number, after?: string | null): Promise<Page<Conversation>> {
    const [{ n }] = await em.execute<{ n: string }[]>(`select count(*) as n ${from}`, params);
    let sql = `select c.* ${from}`;
    const pageParams = [...params];
    if (after) {
      const [at, id] = decodeCursor(after, LIST_CURSOR, 'after', 2);
      // Digits only, and a time a Date can hold (a forged 20-digit time was a RangeError, a 500).
      if (!/^\d{1,15}$/.test(at) || !/^\d{1,15}$/.test(id)) throw badInput('after is not a valid cursor', 'after');
      sql += ` and (c."last_activity_at", c."id") < (?::timestamptz, ?)`;
      pageParams.push(new Date(Number(at)).toISOString(), Number(id));
    }
    sql += ` order by c."last_activity_at" desc, c."id" desc limit ${size + 1}`;
    const rows = await em.execute(sql, pageParams);
    const list = rows.map((r) => em.map(Conversation, r));
    return connectionFrom(list, size, (c) => encodeCursor(LIST_CURSOR, c.lastActivityAt.getTime(), c.id), Number(n), Boolean(after));
  }

  /**
   * The actor's conversations by position (offset and limit: the REST dialects' pages), newest
   * activity first: those of the given `kinds` (every kind when empty) that the actor's lists show
   * (conversation.policy.ts listedConversationSql: memberships, and for staff every SUPPORT thread),
   * with `reach: 'readable'` every conversation the actor may read (for staff: all of them, seed
   * 004), and with `withPublicRooms` also every PUBLIC room (seed 003 room list: "rooms the caller
   * belongs to plus PUBLIC rooms"). At most `limit` (default 20, at most 100) after skipping
   * `offset`. Returns `{ total, conversations }`. @throws BAD_USER_INPUT (limit, offset).
   */
  async listRange(
    scope: Scope,
    args: {
      kinds?: ConversationKind[] | null;
      reach?: 'listed' | 'readable';
      withPublicRooms?: boolean | null;
      offset?: number | null;
      limit?: number | null;
    } = {},
  ): Promise<{ total: number; conversations: Conversation[] }> {
    const size = pageSize(args.limit, 20, 100, 'limit');
    const offset = args.offset ?? 0;
    if (!Number.isSafeInteger(offset) || offset < 0) throw badInput('offset must be 0 or more', 'offset');
    const kinds = [...new Set(args.kinds ?? [])].filter((k) => Object.values(ConversationKind).includes(k));
    const params: unknown[] = [scope.actor.id];
    const visible = [listedConversationSql(scope.actor, !kinds.length || kinds.includes(ConversationKind.SUPPORT))];
    if (args.withPublicRooms) visible.push(`(c."kind" = 'ROOM' and c."visibility" = 'PUBLIC')`);
    if (args.reach === 'readable' && scope.actor.isStaff) visible.push('true');
    let where = `(${visible.join(' or ')})`;
    if (kinds.length) {
      where += ` and c."kind" in (${kinds.map(() => '?').join(', ')})`;
      params.push(...kinds);
    }
    const from = `from "conversations" c left join "memberships" m on m."conversation_id" = c."id" and m."user_id" = ? and ${activeMembershipSql('m')} where ${where}`;
    const [{ n }] = await scope.em.execute<{ n: string }[]>(`select count(*) as n ${from}`, params);
    if (size === 0) return { total: Number(n), conversations: [] };
    const rows = await scope.em.execute(`select c.* ${from} order by c."last_activity_at" desc, c."id" desc limit ${size} offset ${offset}`, params);
    return { total: Number(n), conversations: rows.map((r) => scope.em.map(Conversation, r)) };
  }

  /**
   * A conversation as far as the actor may see it: what {@link access} allows (`canReadContent`
   * true), and also what conversation.policy.ts canSeeMetadata allows a stranger (a PUBLIC room,
   * `canReadContent` false; seed 003 room details before joining). @throws NOT_FOUND.
   */
  async visible(scope: Scope, id: string | number, field = 'id'): Promise<Access & { canReadContent: boolean }> {
    const cid = parseId(id, field);
    const membership = await scope.em.findOne(Membership, { conversation: cid, user: scope.actor.id }, { populate: ['conversation'] });
    const conversation = membership?.conversation ?? (await scope.em.findOne(Conversation, { id: cid }));
    if (conversation && canRead(scope.actor, conversation, membership)) {
      return { conversation, membership: isActive(membership) ? membership : null, canReadContent: true };
    }
    if (conversation && canSeeMetadata(conversation)) {
      return { conversation, membership: null, canReadContent: false };
    }
    throw notFound('Conversation');
  }

  /** Ids of everyone the actor shares an active conversation with (whose presence they see by default). */
  async coMemberIds(scope: Scope): Promise<Set<number>> {
    const rows = await scope.em.execute<{ user_id: number }[]>(
      `select distinct o."user_id" from "memberships" me join "memberships" o on o."conversation_id" = me."conversation_id"
        where me."user_id" = ? and ${activeMembershipSql('me')} and ${activeMembershipSql('o')} and o."user_id" <> ?`,
      [scope.actor.id, scope.actor.id],
    );
    return new Set(rows.map((r) => r.user_id));
  }

  /** Whose presence the actor sees by default: co-members and ACCEPTED contacts, minus blocks either way. */
  async presenceAudience(scope: Scope): Promise<Set<number>> {
    const [co, contacts, blocked] = await Promise.all([
      this.coMemberIds(scope),
      this.contacts.acceptedIds(scope.em, scope.actor.id),
      this.contacts.blockedIds(scope.em, scope.actor.id),
    ]);
    const out = new Set([...co, ...contacts]);
    for (const id of blocked) out.delete(id);
    return out;
  }

  /** Title as the viewer sees it: the name, the other member's full name (DIRECT), or the customer's (SUPPORT). */
  static titleOf(c: Conversation, viewerId: number, members: UserRecord[]): string {
    if (c.name) return c.name;
    if (c.kind === ConversationKind.DIRECT) {
      const other = members.find((u) => u.id !== viewerId) ?? members[0];
      return other ? fullNameOf(other) : 'Direct chat';
    }
    if (c.kind === ConversationKind.SUPPORT) {
      const customer = members.find((u) => u.id === (c.customer as User | null)?.id);
      return customer && customer.id !== viewerId ? `Support: ${fullNameOf(customer)}` : 'Support';
    }
    return 'Conversation';
  }
}
