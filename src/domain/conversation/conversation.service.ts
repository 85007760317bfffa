import type { UserRecord } from '../user/user-cache';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Scope } from '../shared/actor';
import { badInput, conflict, forbidden, isUniqueViolation, notFound, parseId } from '../shared/errors';
import type { DomainEvent, EventPublisher } from '../shared/events';
import { connectionFrom, decodeCursor, encodeCursor, pageSize, type Page } from '../shared/pagination';
import { cleanText, stripControlChars } from '../shared/text';
import { validate, z } from '../shared/validate';
import type { ContactService } from '../contact/contact.service';
import type { NotificationService } from '../notification/notification.service';
import { Message, MessageKind } from '../message/message.entity';
import { appendMessage, toMessageView } from '../message/message.writer';
import { User, fullNameOf } from '../user/user.entity';
import { usernameLookupKey } from '../user/username';
import { Conversation, ConversationKind, DEFAULT_MAX_MEMBERS, MemberRole, RoomVisibility } from './conversation.entity';
import { Membership } from './membership.entity';
import { canManage, canRead, isActive, outranks } from './conversation.policy';

/** A conversation the actor may read, with the actor's membership (null for staff outside it). */
export interface Access {
  conversation: Conversation;
  membership: Membership | null;
}

/** {@link ConversationService.sendTarget}: access plus the facts a send checks. */
export interface SendTarget extends Access {
  /** A block stands between the two members of a DIRECT chat (either way). */
  blocked: boolean;
  /** The actor's earlier message with the send's clientMessageId, in any conversation. */
  prior: Message | null;
  /** The conversation of the message replied to; null when there is no such message (or no reply). */
  replyConversationId: number | null;
  /** Active members other than the actor who are not muted: who could get a MESSAGE notification. */
  recipients: number[];
}

// Free text is cleaned of control characters before its limits apply (shared/text.ts).
const name = cleanText({ min: 1, max: 255 });
const description = cleanText({ max: 2000, multiline: true }).nullish();
const maxMembers = z.number().int().min(2).max(100000);

/**
 * Users one createGroup call may add (issue 13: every message of a group writes a notification per
 * member, so a call adding thousands of strangers is a write amplifier). More come by addMember.
 */
export const MAX_MEMBERS_PER_CALL = 100;

const groupSchema = z.object({ name, description, memberIds: z.array(z.union([z.string(), z.number()])).max(MAX_MEMBERS_PER_CALL, `memberIds may list at most ${MAX_MEMBERS_PER_CALL} users`) });
const roomSchema = z.object({
  name,
  description,
  visibility: z.enum(RoomVisibility).default(RoomVisibility.PUBLIC),
  maxMembers: maxMembers.nullish(),
});
const updateSchema = z.object({ name: name.nullish(), description, maxMembers: maxMembers.nullish() });
const nicknameSchema = cleanText({ max: 150 }).nullish();

const LIST_CURSOR = 'conv';

/**
 * Conversations and memberships: direct chats, groups, rooms, support threads; joining,
 * leaving and member management. Every method takes the request scope (actor + EntityManager),
 * checks the policy, writes in one transaction and publishes events after commit.
 */
export class ConversationService {
  constructor(
    private readonly events: EventPublisher,
    private readonly contacts: ContactService,
    private readonly notifications: NotificationService,
  ) {}

  /**
   * Loads a conversation the actor may read. @throws NOT_FOUND when it does not exist or the
   * actor may not see it (no existence leak).
   */
  async access(scope: Scope, conversationId: string | number, field = 'conversationId'): Promise<Access> {
    const id = parseId(conversationId, field);
    // One statement whoever asks (staff outside the conversation too), rows mapped without the query builder.
    const [row] = await scope.em.execute<{ c: Record<string, unknown>; m: Record<string, unknown> | null }[]>(
      `select row_to_json(c) as c, row_to_json(m) as m from "conversations" c
         left join "memberships" m on m."conversation_id" = c."id" and m."user_id" = ?
        where c."id" = ?`, [scope.actor.id, id]);
    if (!row) throw notFound('Conversation');
    const conversation = scope.em.map(Conversation, row.c);
    const membership = row.m ? scope.em.map(Membership, row.m) : null;
    if (!canRead(scope.actor, conversation, membership)) throw notFound('Conversation');
    return { conversation, membership: isActive(membership) ? membership : null };
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
    const [row] = await scope.em.execute<{ c: Record<string, unknown>; m: Record<string, unknown> | null; blocked: boolean; prior: Record<string, unknown> | null; reply_conversation_id: number | null; recipients: number[] }[]>(
      `select row_to_json(c) as c, row_to_json(m) as m,
              (c."kind" = 'DIRECT' and exists (
                 select 1 from "contacts" k where k."status" = 'BLOCKED'
                    and ((k."requester_id" = ? and k."addressee_id" = d.other) or (k."requester_id" = d.other and k."addressee_id" = ?)))) as blocked,
              (select row_to_json(p) from "messages" p where p."sender_id" = ? and p."client_message_id" = ?::varchar) as prior,
              (select r."conversation_id" from "messages" r where r."id" = ?::int) as reply_conversation_id,
              (select coalesce(json_agg(n."user_id"), '[]'::json) from "memberships" n
                where n."conversation_id" = c."id" and n."left_at" is null and not n."is_banned" and not n."is_muted" and n."user_id" <> ?) as recipients
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
    if (!canRead(scope.actor, conversation, found)) throw notFound('Conversation');
    return {
      conversation,
      membership: isActive(found) ? found : null,
      blocked: Boolean(row.blocked),
      prior: row.prior ? scope.em.map(Message, row.prior) : null,
      replyConversationId: row.reply_conversation_id == null ? null : Number(row.reply_conversation_id),
      recipients: (row.recipients ?? []).map(Number),
    };
  }

  /** The viewer's conversations, newest activity first (staff: plus every SUPPORT thread). */
  async list(scope: Scope, args: { kind?: ConversationKind | null; first?: number | null; after?: string | null }): Promise<Page<Conversation>> {
    const size = pageSize(args.first, 20, 100, 'first');
    const params: unknown[] = [scope.actor.id];
    let where = `(m."id" is not null${scope.actor.isStaff ? ` or c."kind" = 'SUPPORT'` : ''})`;
    if (args.kind) { where += ' and c."kind" = ?'; params.push(args.kind); }
    const from = `from "conversations" c left join "memberships" m on m."conversation_id" = c."id" and m."user_id" = ? and m."left_at" is null and not m."is_banned" where ${where}`;
    return this.page(scope.em, from, params, size, args.after);
  }

  /** PUBLIC rooms, optionally filtered by name, newest activity first. */
  async publicRooms(scope: Scope, args: { search?: string | null; first?: number | null; after?: string | null }): Promise<Page<Conversation>> {
    const size = pageSize(args.first, 20, 100, 'first');
    const params: unknown[] = [];
    let from = `from "conversations" c where c."kind" = 'ROOM' and c."visibility" = 'PUBLIC'`;
    // As users(search:): control characters never match a stored name (and a NUL broke PGlite's connection).
    const q = args.search == null ? '' : stripControlChars(String(args.search)).trim();
    if (q) { from += ` and c."name" ilike ?`; params.push(`%${q.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`); }
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
   * Get-or-create the DIRECT conversation with the user named by id or username (exactly one).
   * @throws NOT_FOUND (no such user), BAD_USER_INPUT (both/neither given, or oneself).
   */
  async openDirectWith(scope: Scope, ref: { userId?: string | number | null; username?: string | null }): Promise<Conversation> {
    if ((ref.userId == null) === (ref.username == null)) throw badInput('Give exactly one of userId and username', 'userId');
    const usernameKey = ref.userId != null ? null : usernameLookupKey(ref.username);
    const other = ref.userId != null
      ? await scope.em.findOne(User, { id: parseId(ref.userId, 'userId') })
      : usernameKey === null ? null : await scope.em.findOne(User, { usernameKey });
    if (!other) throw notFound('User');
    return this.openDirect(scope, other);
  }

  /**
   * Get-or-create the one DIRECT conversation between the actor and another user, connecting
   * them as contacts when they were not (seed 000 "automatic connection").
   * @throws BAD_USER_INPUT for oneself, FORBIDDEN when either has blocked the other.
   */
  async openDirect(scope: Scope, other: User): Promise<Conversation> {
    if (other.id === scope.actor.id) throw badInput('You cannot open a direct chat with yourself', 'userId');
    if (await this.contacts.isBlockedBetween(scope.em, scope.actor.id, other.id)) throw forbidden('You cannot chat with this user');
    await this.contacts.connectOnOpen(scope.em, scope.actor.id, other.id);
    const directKey = [scope.actor.id, other.id].sort((a, b) => a - b).join(':');
    const existing = await scope.em.findOne(Conversation, { directKey });
    if (existing) return existing;
    try {
      const created = await scope.em.transactional(async (tx) => {
        const c = tx.create(Conversation, { kind: ConversationKind.DIRECT, directKey, createdBy: scope.actor.id });
        tx.create(Membership, { conversation: c, user: scope.actor.id, role: MemberRole.MEMBER });
        tx.create(Membership, { conversation: c, user: other.id, role: MemberRole.MEMBER });
        return c;
      });
      this.publish(
        { type: 'membership.changed', conversationId: created.id, userId: scope.actor.id, active: true },
        { type: 'membership.changed', conversationId: created.id, userId: other.id, active: true },
      );
      return created;
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      // Opened concurrently by the other side: theirs won.
      const again = await scope.em.fork().findOne(Conversation, { directKey });
      if (!again) throw err;
      return scope.em.merge(again);
    }
  }

  /**
   * Nobody adds a user with whom a block stands, either way (issue 13: a block stops every way one
   * user reaches the other, ROOM_INVITE notifications included). @throws FORBIDDEN.
   */
  private async refuseBlocked(scope: Scope, userIds: readonly number[]): Promise<void> {
    if (!userIds.length) return;
    const blocked = await this.contacts.blockedIds(scope.em, scope.actor.id);
    if (userIds.some((id) => blocked.has(id))) throw forbidden('You cannot add this user');
  }

  /** Creates a GROUP; the creator becomes OWNER, `memberIds` MEMBERs. @throws BAD_USER_INPUT, NOT_FOUND for unknown members, FORBIDDEN for a member with whom a block stands. */
  async createGroup(scope: Scope, input: { name: string; description?: string | null; memberIds: (string | number)[] }): Promise<Conversation> {
    const data = validate(groupSchema, input);
    const ids = [...new Set(data.memberIds.map((id, i) => parseId(id, `memberIds.${i}`)))].filter((id) => id !== scope.actor.id);
    const found = ids.length ? await scope.em.find(User, { id: { $in: ids } }, { fields: ['id'] }) : [];
    if (found.length !== ids.length) throw notFound('User');
    await this.refuseBlocked(scope, ids);
    const { conv: c, message } = await scope.em.transactional(async (tx) => {
      const conv = tx.create(Conversation, { kind: ConversationKind.GROUP, name: data.name, description: data.description ?? null, createdBy: scope.actor.id });
      const members = [tx.create(Membership, { conversation: conv, user: scope.actor.id, role: MemberRole.OWNER })];
      for (const id of ids) members.push(tx.create(Membership, { conversation: conv, user: id, role: MemberRole.MEMBER }));
      await tx.flush();
      const { message: msg } = await appendMessage(tx, { conversationId: conv.id, senderId: null, kind: MessageKind.SYSTEM, content: `${scope.actor.username} created the group "${data.name}"` });
      // Everyone starts with the creation notice read.
      await tx.nativeUpdate(Membership, { conversation: conv.id }, { lastReadSeq: msg.seq });
      conv.lastSeq = msg.seq;
      return { conv, message: msg };
    });
    this.publish(
      ...[scope.actor.id, ...ids].map((userId) => ({ type: 'membership.changed' as const, conversationId: c.id, userId, active: true })),
      { type: 'message.added', conversationId: c.id, message: toMessageView(message) },
    );
    await this.notifications.onInvite(scope.em, c, ids, scope.actor.username);
    return c;
  }

  /** Creates a ROOM (seed 003), PUBLIC unless told otherwise, 50 members by default; creator is OWNER. */
  async createRoom(scope: Scope, input: { name: string; description?: string | null; visibility?: RoomVisibility | null; maxMembers?: number | null }): Promise<Conversation> {
    const data = validate(roomSchema, { ...input, visibility: input.visibility ?? undefined });
    const c = await scope.em.transactional(async (tx) => {
      const conv = tx.create(Conversation, {
        kind: ConversationKind.ROOM, name: data.name, description: data.description ?? null,
        visibility: data.visibility, maxMembers: data.maxMembers ?? DEFAULT_MAX_MEMBERS, createdBy: scope.actor.id,
      });
      tx.create(Membership, { conversation: conv, user: scope.actor.id, role: MemberRole.OWNER });
      return conv;
    });
    this.publish({ type: 'membership.changed', conversationId: c.id, userId: scope.actor.id, active: true });
    return c;
  }

  /** Renames or re-describes a GROUP/ROOM, or changes a room's capacity. OWNER/ADMIN only. */
  async update(scope: Scope, id: string, input: { name?: string | null; description?: string | null; maxMembers?: number | null }): Promise<Conversation> {
    const { conversation: c, membership } = await this.access(scope, id, 'id');
    if (!canManage(scope.actor, c, membership)) throw forbidden('Only the owner or an admin can change this conversation');
    const data = validate(updateSchema, input);
    if (data.name != null) c.name = data.name;
    if (data.description !== undefined) c.description = data.description ?? null;
    if (data.maxMembers != null) {
      if (c.kind !== ConversationKind.ROOM) throw badInput('maxMembers applies to rooms only', 'maxMembers');
      if (data.maxMembers < (await this.activeCount(scope.em, c.id))) throw badInput('maxMembers is below the current member count', 'maxMembers');
      c.maxMembers = data.maxMembers;
    }
    await scope.em.flush();
    return c;
  }

  /** Joins a PUBLIC room. @throws NOT_FOUND (private or none), FORBIDDEN when banned, CONFLICT when full. */
  async joinRoom(scope: Scope, id: string): Promise<Conversation> {
    const roomId = parseId(id, 'id');
    const existing = await scope.em.findOne(Membership, { conversation: roomId, user: scope.actor.id }, { populate: ['conversation'] });
    const c = existing?.conversation ?? (await scope.em.findOne(Conversation, { id: roomId }));
    if (!c || c.kind !== ConversationKind.ROOM) throw notFound('Room');
    if (isActive(existing)) return c;
    if (existing?.isBanned) throw forbidden('You are banned from this room');
    if (c.visibility !== RoomVisibility.PUBLIC && !scope.actor.isStaff) throw notFound('Room');
    await this.addOrReactivate(scope.em, c, scope.actor.id, MemberRole.MEMBER, `${scope.actor.username} joined`);
    return c;
  }

  /** Leaves a GROUP or ROOM; an OWNER's role passes to the longest-standing member. @throws BAD_USER_INPUT for DIRECT and SUPPORT. */
  async leave(scope: Scope, id: string): Promise<boolean> {
    const { conversation: c, membership } = await this.access(scope, id, 'id');
    if (c.kind === ConversationKind.DIRECT) throw badInput('You cannot leave a direct chat', 'id');
    if (c.kind === ConversationKind.SUPPORT && c.customer && (c.customer as User).id === scope.actor.id) throw badInput('You cannot leave your own support thread', 'id');
    if (!membership) throw badInput('You are not a member of this conversation', 'id');
    await this.deactivate(scope.em, c, membership, `${scope.actor.username} left`);
    return true;
  }

  /** Adds a user (OWNER/ADMIN only; only an OWNER adds OWNER/ADMIN; never one with whom a block stands: FORBIDDEN). Already a member: returns the membership. */
  async addMember(scope: Scope, conversationId: string, userId: string, role: MemberRole = MemberRole.MEMBER): Promise<Membership> {
    const { conversation: c, membership } = await this.access(scope, conversationId);
    if (!canManage(scope.actor, c, membership)) throw forbidden('Only the owner or an admin can add members');
    if (role !== MemberRole.MEMBER && !(scope.actor.isStaff || membership?.role === MemberRole.OWNER)) throw forbidden('Only the owner can add owners or admins');
    const user = await scope.em.findOne(User, { id: parseId(userId, 'userId') });
    if (!user) throw notFound('User');
    const current = await scope.em.findOne(Membership, { conversation: c.id, user: user.id });
    if (isActive(current)) return current;
    await this.refuseBlocked(scope, [user.id]);
    if (current?.isBanned) throw conflict('That user is banned here; unban them first');
    const added = await this.addOrReactivate(scope.em, c, user.id, role, `${scope.actor.username} added ${user.username}`);
    await this.notifications.onInvite(scope.em, c, [user.id], scope.actor.username);
    return added;
  }

  /** Removes a member (OWNER/ADMIN; admins remove only MEMBERs). @throws FORBIDDEN, NOT_FOUND. */
  async removeMember(scope: Scope, conversationId: string, userId: string): Promise<boolean> {
    const { conversation: c, membership } = await this.access(scope, conversationId);
    if (!canManage(scope.actor, c, membership)) throw forbidden('Only the owner or an admin can remove members');
    const target = await this.requireMember(scope.em, c.id, userId);
    if (target.user.id !== scope.actor.id && !outranks(scope.actor, membership, target)) throw forbidden('You cannot remove this member');
    await this.deactivate(scope.em, c, target, `${scope.actor.username} removed ${target.user.username}`);
    return true;
  }

  /**
   * Changes a member's role; OWNER (or staff) only. The last OWNER cannot step down (a GROUP or
   * ROOM always has an OWNER): make someone else OWNER first, or leave (which hands ownership over).
   * @throws FORBIDDEN, NOT_FOUND, BAD_USER_INPUT (demoting the last OWNER).
   */
  async setRole(scope: Scope, conversationId: string, userId: string, role: MemberRole): Promise<Membership> {
    const { conversation: c, membership } = await this.access(scope, conversationId);
    if (!canManage(scope.actor, c, membership) || !(scope.actor.isStaff || membership?.role === MemberRole.OWNER)) throw forbidden('Only the owner can change roles');
    const target = await this.requireMember(scope.em, c.id, userId);
    if (target.role === role) return target;
    await scope.em.transactional(async (tx) => {
      // Under the conversation's row lock, so two OWNERs demoting each other cannot both succeed.
      await tx.execute('select "id" from "conversations" where "id" = ? for update', [c.id]);
      if (target.role === MemberRole.OWNER) {
        const owners = await tx.count(Membership, { conversation: c.id, role: MemberRole.OWNER, leftAt: null, isBanned: false });
        if (owners <= 1) throw badInput('The last owner cannot step down; make another member OWNER first', 'role');
      }
      tx.merge(target).role = role;
      await tx.flush();
    });
    return target;
  }

  /** Mutes (cannot send) or unmutes a member. OWNER/ADMIN over lower ranks. */
  async setMuted(scope: Scope, conversationId: string, userId: string, muted: boolean): Promise<Membership> {
    const { conversation: c, membership } = await this.access(scope, conversationId);
    const target = await this.requireMember(scope.em, c.id, userId);
    if (!canManage(scope.actor, c, membership) || !outranks(scope.actor, membership, target)) throw forbidden('You cannot mute this member');
    target.isMuted = Boolean(muted);
    await scope.em.flush();
    return target;
  }

  /**
   * Bans (loses access, cannot rejoin) or unbans a member. OWNER/ADMIN over lower ranks (staff
   * over anyone); a banned OWNER hands ownership over as when leaving.
   */
  async setBanned(scope: Scope, conversationId: string, userId: string, banned: boolean): Promise<Membership> {
    const { conversation: c, membership } = await this.access(scope, conversationId);
    if (!canManage(scope.actor, c, membership)) throw forbidden('You cannot ban members here');
    const uid = parseId(userId, 'userId');
    const target = await scope.em.findOne(Membership, { conversation: c.id, user: uid }, { populate: ['user'] });
    if (!target) throw notFound('Member');
    if (!outranks(scope.actor, membership, target) || target.user.id === scope.actor.id) throw forbidden('You cannot ban this member');
    const wasActive = isActive(target);
    const notice = await scope.em.transactional(async (tx) => {
      const t = tx.merge(target);
      t.isBanned = Boolean(banned);
      if (!banned) t.leftAt = t.leftAt ?? new Date(); // unbanned users rejoin on their own
      if (banned && wasActive) await this.handOverOwnership(tx, c.id, t);
      await tx.flush();
      if (!banned || !wasActive) return null;
      return (await appendMessage(tx, { conversationId: c.id, senderId: null, kind: MessageKind.SYSTEM, content: `${scope.actor.username} banned ${target.user.username}` })).message;
    });
    this.publish({ type: 'membership.changed', conversationId: c.id, userId: uid, active: isActive(target) });
    if (notice) this.publish({ type: 'message.added', conversationId: c.id, message: toMessageView(notice) });
    return target;
  }

  /** Sets the actor's own nickname in a conversation (null clears it). */
  async setNickname(scope: Scope, conversationId: string, nickname: string | null | undefined): Promise<Membership> {
    const { membership } = await this.access(scope, conversationId);
    if (!membership) throw badInput('You are not a member of this conversation', 'conversationId');
    membership.nickname = validate(nicknameSchema, nickname) || null;
    await scope.em.flush();
    return membership;
  }

  /** The actor's own SUPPORT thread (seed 002), created on first use; null for staff (they answer, not ask). */
  async supportThread(scope: Scope): Promise<Conversation | null> {
    if (scope.actor.isStaff) return null;
    const existing = await scope.em.findOne(Conversation, { kind: ConversationKind.SUPPORT, customer: scope.actor.id });
    if (existing) return existing;
    try {
      const c = await scope.em.transactional(async (tx) => {
        const conv = tx.create(Conversation, { kind: ConversationKind.SUPPORT, name: null, customer: scope.actor.id, createdBy: scope.actor.id });
        tx.create(Membership, { conversation: conv, user: scope.actor.id, role: MemberRole.OWNER });
        return conv;
      });
      this.publish({ type: 'membership.changed', conversationId: c.id, userId: scope.actor.id, active: true });
      return c;
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      const again = await scope.em.fork().findOne(Conversation, { kind: ConversationKind.SUPPORT, customer: scope.actor.id });
      if (!again) throw err;
      return scope.em.merge(again);
    }
  }

  /**
   * The actor's conversations by offset (the REST dialects' lists), newest activity first:
   * active memberships of the given `kinds` (every kind when empty), for staff also every SUPPORT
   * thread (when SUPPORT is among the kinds), and with `publicRooms` every PUBLIC room as well
   * (seed 003 room list: "rooms the caller belongs to plus PUBLIC rooms"), and with `allForStaff`
   * every conversation when the actor is staff (seed 004: staff see all conversations). At most
   * `limit` (default 20, at most 100) after skipping `offset`. Returns `{ total, conversations }`.
   * @throws BAD_USER_INPUT (limit, offset).
   */
  async listByOffset(
    scope: Scope,
    args: { kinds?: ConversationKind[] | null; publicRooms?: boolean | null; allForStaff?: boolean | null; offset?: number | null; limit?: number | null } = {},
  ): Promise<{ total: number; conversations: Conversation[] }> {
    const size = pageSize(args.limit, 20, 100, 'limit');
    const offset = args.offset ?? 0;
    if (!Number.isSafeInteger(offset) || offset < 0) throw badInput('offset must be 0 or more', 'offset');
    const kinds = [...new Set(args.kinds ?? [])].filter((k) => Object.values(ConversationKind).includes(k));
    const params: unknown[] = [scope.actor.id];
    const visible = ['m."id" is not null'];
    if (scope.actor.isStaff && (!kinds.length || kinds.includes(ConversationKind.SUPPORT))) visible.push(`c."kind" = 'SUPPORT'`);
    if (args.publicRooms) visible.push(`(c."kind" = 'ROOM' and c."visibility" = 'PUBLIC')`);
    if (args.allForStaff && scope.actor.isStaff) visible.push('true');
    let where = `(${visible.join(' or ')})`;
    if (kinds.length) { where += ` and c."kind" in (${kinds.map(() => '?').join(', ')})`; params.push(...kinds); }
    const from = `from "conversations" c left join "memberships" m on m."conversation_id" = c."id" and m."user_id" = ? and m."left_at" is null and not m."is_banned" where ${where}`;
    const [{ n }] = await scope.em.execute<{ n: string }[]>(`select count(*) as n ${from}`, params);
    if (size === 0) return { total: Number(n), conversations: [] };
    const rows = await scope.em.execute(`select c.* ${from} order by c."last_activity_at" desc, c."id" desc limit ${size} offset ${offset}`, params);
    return { total: Number(n), conversations: rows.map((r) => scope.em.map(Conversation, r)) };
  }

  /**
   * A conversation as the actor may see it: what {@link access} allows (`canReadContent` true),
   * and also a PUBLIC room the actor is not in, as metadata only (`canReadContent` false; seed 003
   * room details before joining). @throws NOT_FOUND.
   */
  async peek(scope: Scope, id: string | number, field = 'id'): Promise<Access & { canReadContent: boolean }> {
    const cid = parseId(id, field);
    const membership = await scope.em.findOne(Membership, { conversation: cid, user: scope.actor.id }, { populate: ['conversation'] });
    const conversation = membership?.conversation ?? (await scope.em.findOne(Conversation, { id: cid }));
    if (conversation && canRead(scope.actor, conversation, membership)) {
      return { conversation, membership: isActive(membership) ? membership : null, canReadContent: true };
    }
    if (conversation?.kind === ConversationKind.ROOM && conversation.visibility === RoomVisibility.PUBLIC) {
      return { conversation, membership: null, canReadContent: false };
    }
    throw notFound('Conversation');
  }

  /**
   * {@link openDirectWith}, also telling whether this call created the conversation (seed 001
   * `create_direct_chat` answers 201 for a new chat, 200 for an existing one).
   * @throws like openDirectWith.
   */
  async openDirectTracked(scope: Scope, ref: { userId?: string | number | null; username?: string | null }): Promise<{ conversation: Conversation; created: boolean }> {
    const startedAt = Date.now();
    const conversation = await this.openDirectWith(scope, ref);
    return { conversation, created: conversation.createdAt.getTime() >= startedAt };
  }

  /** Ids of everyone the actor shares an active conversation with (whose presence they see by default). */
  async coMemberIds(scope: Scope): Promise<Set<number>> {
    const rows = await scope.em.execute<{ user_id: number }[]>(
      `select distinct o."user_id" from "memberships" me join "memberships" o on o."conversation_id" = me."conversation_id"
        where me."user_id" = ? and me."left_at" is null and not me."is_banned" and o."left_at" is null and not o."is_banned" and o."user_id" <> ?`,
      [scope.actor.id, scope.actor.id],
    );
    return new Set(rows.map((r) => r.user_id));
  }

  /**
   * Staff who answer or read a SUPPORT thread get a quiet membership in it (no SYSTEM message),
   * so each staff user has their own read position and unread count (seed 002 staff inbox).
   * Returns the membership (existing or new). @throws BAD_USER_INPUT for other kinds.
   */
  async joinSupportAsStaff(scope: Scope, c: Conversation): Promise<Membership> {
    if (c.kind !== ConversationKind.SUPPORT || !scope.actor.isStaff) throw badInput('Only staff join support threads', 'conversationId');
    await scope.em.execute(
      `insert into "memberships" ("conversation_id", "user_id", "role", "joined_at", "last_read_seq", "is_muted", "is_banned")
       values (?, ?, 'MEMBER', now(), 0, false, false)
       on conflict ("conversation_id", "user_id") do update set "left_at" = null where "memberships"."left_at" is not null and not "memberships"."is_banned"`,
      [c.id, scope.actor.id],
    );
    const m = await scope.em.findOneOrFail(Membership, { conversation: c.id, user: scope.actor.id }, { refresh: true });
    this.publish({ type: 'membership.changed', conversationId: c.id, userId: scope.actor.id, active: isActive(m) });
    return m;
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

  private async requireMember(em: EntityManager, conversationId: number, userId: string): Promise<Membership> {
    const target = await em.findOne(Membership, { conversation: conversationId, user: parseId(userId, 'userId') }, { populate: ['user'] });
    if (!isActive(target)) throw notFound('Member');
    return target;
  }

  private async activeCount(em: EntityManager, conversationId: number): Promise<number> {
    return em.count(Membership, { conversation: conversationId, leftAt: null, isBanned: false });
  }

  /** Adds or reactivates a membership under the conversation's row lock (capacity is checked race-free), with a SYSTEM message. */
  private async addOrReactivate(em: EntityManager, c: Conversation, userId: number, role: MemberRole, note: string): Promise<Membership> {
    const { membership, message } = await em.transactional(async (tx) => {
      await tx.execute('select "id" from "conversations" where "id" = ? for update', [c.id]);
      if (c.kind === ConversationKind.ROOM && c.maxMembers && (await this.activeCount(tx, c.id)) >= c.maxMembers) throw conflict('This room is full');
      let m = await tx.findOne(Membership, { conversation: c.id, user: userId });
      if (m) Object.assign(m, { leftAt: null, role, joinedAt: new Date(), isMuted: false });
      else m = tx.create(Membership, { conversation: c.id, user: userId, role });
      await tx.flush();
      const { message: msg } = await appendMessage(tx, { conversationId: c.id, senderId: null, kind: MessageKind.SYSTEM, content: note });
      // The new member starts with nothing unread.
      m.lastReadSeq = msg.seq;
      await tx.flush();
      return { membership: m, message: msg };
    });
    this.publish(
      { type: 'membership.changed', conversationId: c.id, userId, active: true },
      { type: 'message.added', conversationId: c.id, message: toMessageView(message) },
    );
    return membership;
  }

  private async deactivate(em: EntityManager, c: Conversation, m: Membership, note: string): Promise<void> {
    const userId = (m.user as User).id;
    const message = await em.transactional(async (tx) => {
      const mm = tx.merge(m);
      mm.leftAt = new Date();
      await this.handOverOwnership(tx, c.id, mm);
      await tx.flush();
      return (await appendMessage(tx, { conversationId: c.id, senderId: null, kind: MessageKind.SYSTEM, content: note })).message;
    });
    this.publish(
      { type: 'membership.changed', conversationId: c.id, userId, active: false },
      { type: 'message.added', conversationId: c.id, message: toMessageView(message) },
    );
  }

  /**
   * An OWNER losing their place (leaving, removed, banned) becomes a MEMBER; when they were the
   * last OWNER, the oldest ADMIN, else the oldest member, becomes OWNER (another OWNER, when there
   * is one, comes first and nothing changes). Inside the caller's transaction; the caller flushes.
   */
  private async handOverOwnership(tx: EntityManager, conversationId: number, leaving: Membership): Promise<void> {
    if (leaving.role !== MemberRole.OWNER) return;
    const heir = await tx.findOne(
      Membership,
      { conversation: conversationId, leftAt: null, isBanned: false, user: { $ne: (leaving.user as User).id } },
      { orderBy: [{ role: 'asc' }, { joinedAt: 'asc' }] },
    );
    if (heir) heir.role = MemberRole.OWNER;
    leaving.role = MemberRole.MEMBER;
  }

  private publish(...events: DomainEvent[]): void {
    for (const e of events) this.events.publish(e);
  }
}
