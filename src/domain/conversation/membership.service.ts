import type { EntityManager } from '@mikro-orm/postgresql';
import type { Actor, Scope } from '../shared/actor';
import { badInput, conflict, DomainError, forbidden, notFound, parseId, unauthenticated } from '../shared/errors';
import type { EventPublisher, NotificationView } from '../shared/events';
import { validate } from '../shared/validate';
import { cleanText } from '../shared/text';
import type { ContactService } from '../contact/contact.service';
import type { NotificationService } from '../notification/notification.service';
import { MessageKind } from '../message/message.entity';
import { appendMessage, lockLiveAuthor, toMessageView } from '../message/message.writer';
import { User } from '../user/user.entity';
import { Conversation, ConversationKind, MemberRole } from './conversation.entity';
import { Membership } from './membership.entity';
import {
  ACTIVE_MEMBERSHIP,
  ARCHIVED_MESSAGE,
  canAddAs,
  canAssignRoles,
  canManage,
  canSeeMetadata,
  isActive,
  activeMembershipSql,
  isArchived,
  outranks,
} from './conversation.policy';
import type { ConversationQueries } from './conversation.queries';
import type { RateLimiter } from '../shared/rate-limit';
import { PushOutbox } from '../push/outbox';

const nicknameSchema = cleanText({ max: 150 }).nullish();

/** A `users` row as locked by addOrReactivate (raw columns). */
interface LockedUser {
  id: number;
  is_staff: boolean;
  deleted_at: Date | string | null;
}

/** Active members of a conversation now (capacity checks). */
export function activeMemberCount(em: EntityManager, conversationId: number): Promise<number> {
  return em.count(Membership, { conversation: conversationId, ...ACTIVE_MEMBERSHIP });
}

/**
 * Who inherits ownership (handOverOwnership): the oldest ADMIN, else the oldest member (roles sort
 * OWNER, ADMIN, MEMBER). The same order for the ORM and, over membership alias `m`, for SQL.
 */
const HEIR_ORDER: [{ role: 'asc' }, { joinedAt: 'asc' }] = [{ role: 'asc' }, { joinedAt: 'asc' }];
const heirOrderSql = (m: string) => `${m}."role" asc, ${m}."joined_at" asc`;

/**
 * The account deletion's end of a user's places (issue 18; AccountService.deleteAccount), inside
 * its transaction `tx`, set-based (an account in 1000 conversations costs the same four
 * statements): user `userId` leaves, at `at`, every GROUP, ROOM and SUPPORT thread they are an
 * active member of (rows locked FOR UPDATE), as MembershipService.leave would, without its notice.
 * Where they were the only OWNER of a group or room, the heir of handOverOwnership becomes OWNER
 * (another active OWNER, when there is one, keeps it alone); a SUPPORT thread's OWNER is its
 * customer: no heir (the staff answer it as before). Their DIRECT places are kept, muted (the other
 * person's chat keeps its two members and its title); their nicknames are cleared everywhere.
 * No event: the caller publishes `membership.changed` for each conversation after commit.
 * @returns the conversations left (each once).
 */
export async function endPlacesOfErasedUser(tx: EntityManager, userId: number, at: Date): Promise<number[]> {
  const places = await tx.execute<{ id: number; conversation_id: number; role: string; kind: string }[]>(
    `select m."id", m."conversation_id", m."role", c."kind" from "memberships" m join "conversations" c on c."id" = m."conversation_id"
      where m."user_id" = ? and c."kind" <> 'DIRECT' and ${activeMembershipSql('m')} for update of m`,
    [userId],
  );
  const owned = places.filter((p) => p.role === MemberRole.OWNER && p.kind !== ConversationKind.SUPPORT).map((p) => Number(p.conversation_id));
  if (owned.length) {
    await tx.execute(
      `update "memberships" h set "role" = 'OWNER' from (
         select distinct on (m."conversation_id") m."id" from "memberships" m
          where m."conversation_id" in (select (jsonb_array_elements_text(?::jsonb))::int) and ${activeMembershipSql('m')} and m."user_id" <> ?
            and not exists (select 1 from "memberships" o where o."conversation_id" = m."conversation_id" and o."role" = 'OWNER' and ${activeMembershipSql('o')} and o."user_id" <> ?)
          order by m."conversation_id", ${heirOrderSql('m')}) heir
        where h."id" = heir."id"`,
      [JSON.stringify(owned), userId, userId],
    );
  }
  if (places.length) {
    await tx.execute(`update "memberships" set "left_at" = ?, "role" = 'MEMBER' where "id" in (select (jsonb_array_elements_text(?::jsonb))::int)`, [
      at,
      JSON.stringify(places.map((p) => Number(p.id))),
    ]);
  }
  await tx.execute(
    `update "memberships" m set "nickname" = null,
            "is_muted" = (m."is_muted" or exists (select 1 from "conversations" c where c."id" = m."conversation_id" and c."kind" = 'DIRECT'))
      where m."user_id" = ?`,
    [userId],
  );
  return [...new Set(places.map((p) => Number(p.conversation_id)))];
}

/**
 * Memberships of groups and rooms: joining and leaving, adding and removing members, roles,
 * mutes, bans and nicknames. Each method checks conversation.policy.ts, writes in one transaction
 * (with its SYSTEM message, and with webhooks enabled the `member.added` or `member.removed`
 * webhook rows: issue 34) and publishes `membership.changed` (and `message.added`) after commit.
 */
export class MembershipService {
  constructor(
    private readonly events: EventPublisher,
    private readonly queries: ConversationQueries,
    private readonly contacts: ContactService,
    private readonly notifications: NotificationService,
    /** RATE_MEMBER_ADDS_PER_HOUR (limit `memberAdd`): people one actor may add to conversations. */
    private readonly limits?: RateLimiter,
    /** Issue 34: webhook events of memberships begun and ended, queued in their transactions (nothing without webhooks). */
    private readonly outbox: PushOutbox = new PushOutbox(false),
  ) {}

  /** Joins a PUBLIC room. @throws NOT_FOUND (private or none), FORBIDDEN when banned or archived (isArchived), CONFLICT when full. */
  async joinRoom(scope: Scope, id: string): Promise<Conversation> {
    const roomId = parseId(id, 'id');
    const existing = await scope.em.findOne(Membership, { conversation: roomId, user: scope.actor.id }, { populate: ['conversation'] });
    const c = existing?.conversation ?? (await scope.em.findOne(Conversation, { id: roomId }));
    if (!c || c.kind !== ConversationKind.ROOM) throw notFound('Room');
    if (isActive(existing)) return c;
    // Naming the room (`id`): seed 003's join answers this refusal, and only this one, with its own 400.
    if (existing?.isBanned) throw new DomainError('FORBIDDEN', 'You are banned from this room', 'id');
    if (!canSeeMetadata(c) && !scope.actor.isStaff) throw notFound('Room');
    if (isArchived(c)) throw forbidden(ARCHIVED_MESSAGE);
    await this.addOrReactivate(scope.em, c, scope.actor.id, MemberRole.MEMBER, `${scope.actor.username} joined`, scope.actor.id, {
      lockUsers: [scope.actor.id],
      banned: () => new DomainError('FORBIDDEN', 'You are banned from this room', 'id'),
      recheck: async (_tx, users) => {
        if (users.get(scope.actor.id)?.deleted_at !== null) throw unauthenticated('This account was deleted');
      },
    });
    return c;
  }

  /** Leaves a GROUP or ROOM; an OWNER's role passes to the longest-standing member. @throws BAD_USER_INPUT for DIRECT and SUPPORT. */
  async leave(scope: Scope, id: string): Promise<boolean> {
    const { conversation: c, membership } = await this.queries.access(scope, id, 'id');
    if (c.kind === ConversationKind.DIRECT) throw badInput('You cannot leave a direct chat', 'id');
    if (c.kind === ConversationKind.SUPPORT && c.customer && (c.customer as User).id === scope.actor.id)
      throw badInput('You cannot leave your own support thread', 'id');
    if (!membership) throw badInput('You are not a member of this conversation', 'id');
    // Under the lock: already gone (a concurrent leave, removal or ban won) writes nothing more.
    await this.deactivate(scope.em, c, membership, `${scope.actor.username} left`, scope.actor.id, async (tx) => {
      const { mine } = await this.underLock(tx, scope, c, null);
      return mine;
    });
    return true;
  }

  /**
   * Adds a user (OWNER/ADMIN only; only an OWNER adds OWNER/ADMIN; never one with whom a block
   * stands, nor to an archived conversation: FORBIDDEN). Already a member: returns the membership,
   * and writes nothing (no notice, no invitation). Every rule a concurrent write can change is
   * checked again under the locks the write takes (issue 27): the actor's and the user's rows
   * (FOR SHARE, id order, before the conversation's: the account deletion's order), then the
   * conversation's row; under them the actor's staff flag and role, the user's deletion, a block
   * either way, a ban and an active membership are read afresh. So of 20 concurrent adds of one
   * user exactly one writes (one SYSTEM notice, one ROOM_INVITE), and a block committed while the
   * add waited stops it.
   * @throws FORBIDDEN (not a manager, role, block, archived), NOT_FOUND (user), CONFLICT (banned;
   *   full room), UNAUTHENTICATED (the actor's account was deleted meanwhile), RATE_LIMITED (adding
   *   someone else counts toward the actor's RATE_MEMBER_ADDS_PER_HOUR, issue 27).
   */
  async addMember(scope: Scope, conversationId: string, userId: string, role: MemberRole = MemberRole.MEMBER): Promise<Membership> {
    const { conversation: c, membership } = await this.queries.access(scope, conversationId);
    if (!canManage(scope.actor, c, membership)) throw forbidden('Only the owner or an admin can add members');
    if (!canAddAs(scope.actor, c, membership, role)) throw forbidden('Only the owner can add owners or admins');
    if (isArchived(c)) throw forbidden(ARCHIVED_MESSAGE);
    const user = await scope.em.findOne(User, { id: parseId(userId, 'userId') });
    if (!user || user.deletedAt /* issue 18: a deleted account joins nothing */) throw notFound('User');
    const current = await scope.em.findOne(Membership, { conversation: c.id, user: user.id });
    if (isActive(current)) return current;
    await this.contacts.refuseBlocked(scope, [user.id]);
    if (current?.isBanned) throw conflict('That user is banned here; unban them first');
    if (user.id !== scope.actor.id) await this.limits?.consume('memberAdd', String(scope.actor.id));
    let invites: NotificationView[] = [];
    const added = await this.addOrReactivate(scope.em, c, user.id, role, `${scope.actor.username} added ${user.username}`, scope.actor.id, {
      lockUsers: [scope.actor.id, user.id],
      banned: () => conflict('That user is banned here; unban them first'),
      recheck: async (tx, users) => {
        // The same rules as above, on what is committed now that the locks are held.
        const me = users.get(scope.actor.id);
        if (!me || me.deleted_at) throw unauthenticated('This account was deleted');
        const other = users.get(user.id);
        if (!other || other.deleted_at) throw notFound('User');
        const actor = { ...scope.actor, isStaff: Boolean(me.is_staff) };
        const mine = await tx.findOne(Membership, { conversation: c.id, user: actor.id }, { refresh: true });
        const active = isActive(mine) ? mine : null;
        if (!canManage(actor, c, active)) throw forbidden('Only the owner or an admin can add members');
        if (!canAddAs(actor, c, active, role)) throw forbidden('Only the owner can add owners or admins');
        if (await this.contacts.isBlockedBetween(tx, actor.id, user.id)) throw forbidden('You cannot add this user');
      },
      written: async (tx) => {
        invites = await this.notifications.writeInvites(tx, c, [user.id], scope.actor.username);
      },
    });
    this.notifications.publishViews(invites);
    return added;
  }

  /** Removes a member (OWNER/ADMIN; admins remove only MEMBERs). @throws FORBIDDEN, NOT_FOUND. */
  async removeMember(scope: Scope, conversationId: string, userId: string): Promise<boolean> {
    const { conversation: c, membership } = await this.queries.access(scope, conversationId);
    if (!canManage(scope.actor, c, membership)) throw forbidden('Only the owner or an admin can remove members');
    const target = await this.requireMember(scope.em, c.id, userId);
    if (target.user.id !== scope.actor.id && !outranks(scope.actor, membership, target)) throw forbidden('You cannot remove this member');
    await this.deactivate(scope.em, c, target, `${scope.actor.username} removed ${target.user.username}`, scope.actor.id, async (tx) => {
      // The same rules on what is committed now: the actor's rights and rank, the target still a member.
      const { actor, mine, other } = await this.underLock(tx, scope, c, target.user.id);
      if (!canManage(actor, c, mine)) throw forbidden('Only the owner or an admin can remove members');
      if (!other) return null;
      if (other.user.id !== actor.id && !outranks(actor, mine, other)) throw forbidden('You cannot remove this member');
      return other;
    });
    return true;
  }

  /**
   * Changes a member's role; OWNER (or staff) only. The last OWNER cannot step down (a GROUP or
   * ROOM always has an OWNER): make someone else OWNER first, or leave (which hands ownership over).
   * @throws FORBIDDEN, NOT_FOUND, BAD_USER_INPUT (demoting the last OWNER).
   */
  async setRole(scope: Scope, conversationId: string, userId: string, role: MemberRole): Promise<Membership> {
    const { conversation: c, membership } = await this.queries.access(scope, conversationId);
    if (!canAssignRoles(scope.actor, c, membership)) throw forbidden('Only the owner can change roles');
    const target = await this.requireMember(scope.em, c.id, userId);
    if (target.role === role) return target;
    await scope.em.transactional(async (tx) => {
      // Under the conversation's row lock, so two OWNERs demoting each other cannot both succeed;
      // the actor's rights and the target's role are read afresh under it (issue 27).
      const { actor, mine, other } = await this.underLock(tx, scope, c, target.user.id);
      if (!canAssignRoles(actor, c, mine)) throw forbidden('Only the owner can change roles');
      if (!other) throw notFound('Member');
      if (other.role === role) return;
      if (other.role === MemberRole.OWNER) {
        const owners = await tx.count(Membership, { conversation: c.id, role: MemberRole.OWNER, ...ACTIVE_MEMBERSHIP });
        if (owners <= 1) throw badInput('The last owner cannot step down; make another member OWNER first', 'role');
      }
      other.role = role;
      await tx.flush();
    });
    target.role = role;
    return target;
  }

  /** Mutes (cannot send) or unmutes a member. OWNER/ADMIN over lower ranks. */
  async setMuted(scope: Scope, conversationId: string, userId: string, muted: boolean): Promise<Membership> {
    const { conversation: c, membership } = await this.queries.access(scope, conversationId);
    const target = await this.requireMember(scope.em, c.id, userId);
    if (!canManage(scope.actor, c, membership) || !outranks(scope.actor, membership, target)) throw forbidden('You cannot mute this member');
    await scope.em.transactional(async (tx) => {
      // Rights and ranks read afresh under the conversation's lock (issue 27).
      const { actor, mine, other } = await this.underLock(tx, scope, c, target.user.id);
      if (!other) throw notFound('Member');
      if (!canManage(actor, c, mine) || !outranks(actor, mine, other)) throw forbidden('You cannot mute this member');
      other.isMuted = Boolean(muted);
      await tx.flush();
    });
    target.isMuted = Boolean(muted);
    return target;
  }

  /**
   * Bans (loses access, cannot rejoin) or unbans a member. OWNER/ADMIN over lower ranks (staff
   * over anyone); a banned OWNER hands ownership over as when leaving.
   */
  async setBanned(scope: Scope, conversationId: string, userId: string, banned: boolean): Promise<Membership> {
    const { conversation: c, membership } = await this.queries.access(scope, conversationId);
    if (!canManage(scope.actor, c, membership)) throw forbidden('You cannot ban members here');
    const uid = parseId(userId, 'userId');
    const target = await scope.em.findOne(Membership, { conversation: c.id, user: uid }, { populate: ['user'] });
    if (!target) throw notFound('Member');
    if (!outranks(scope.actor, membership, target) || target.user.id === scope.actor.id) throw forbidden('You cannot ban this member');
    let wasActive = isActive(target);
    const notice = await scope.em.transactional(async (tx) => {
      // Rights, ranks and the target's state read afresh under the conversation's lock (issue 27).
      const { actor, mine } = await this.underLock(tx, scope, c, null);
      const t = await tx.findOne(Membership, { conversation: c.id, user: uid }, { populate: ['user'], refresh: true });
      if (!t) throw notFound('Member');
      if (!canManage(actor, c, mine)) throw forbidden('You cannot ban members here');
      if (!outranks(actor, mine, t)) throw forbidden('You cannot ban this member');
      wasActive = isActive(t);
      if (t.isBanned === Boolean(banned)) return null;
      target.isBanned = Boolean(banned);
      t.isBanned = Boolean(banned);
      if (!banned) t.leftAt = t.leftAt ?? new Date(); // unbanned users rejoin on their own
      if (banned && wasActive) await this.handOverOwnership(tx, c.id, t);
      await tx.flush();
      target.leftAt = t.leftAt;
      target.role = t.role;
      if (!banned || !wasActive) return null;
      // Issue 34: a ban ends an active membership (an unban, or a ban of a member already gone, ends none).
      await this.outbox.membersChanged(tx, [{ conversationId: c.id, userId: uid, joinedAt: t.joinedAt, added: false, leftAt: t.leftAt ?? null, banned: true }]);
      return (
        await appendMessage(tx, {
          conversationId: c.id,
          senderId: null,
          actorId: scope.actor.id,
          kind: MessageKind.SYSTEM,
          content: `${scope.actor.username} banned ${target.user.username}`,
        })
      ).message;
    });
    this.events.publish({ type: 'membership.changed', conversationId: c.id, userId: uid, active: isActive(target) });
    if (notice) this.events.publish({ type: 'message.added', conversationId: c.id, message: toMessageView(notice) });
    return target;
  }

  /** Sets the actor's own nickname in a conversation (null clears it). */
  async setNickname(scope: Scope, conversationId: string, nickname: string | null | undefined): Promise<Membership> {
    const { membership } = await this.queries.access(scope, conversationId);
    if (!membership) throw badInput('You are not a member of this conversation', 'conversationId');
    const value = validate(nicknameSchema, nickname) || null;
    await scope.em.transactional(async (tx) => {
      // Issue 27: never a nickname on the place of an account deleted meanwhile (the deletion clears them).
      await lockLiveAuthor(tx, scope.actor.id);
      const changed = await tx.nativeUpdate(Membership, { id: membership.id, ...ACTIVE_MEMBERSHIP }, { nickname: value });
      if (!changed) throw badInput('You are not a member of this conversation', 'conversationId');
    });
    membership.nickname = value;
    return membership;
  }

  /**
   * Inside `tx`: holds the actor's `users` row FOR SHARE (refused when the account was deleted),
   * then the conversation's row FOR UPDATE (the account deletion's order), and reads afresh what
   * concurrent writes change: the actor's staff flag, the actor's active membership (`mine`) and,
   * for `targetUserId`, theirs (`other`, null when not active). Every membership change takes the
   * same conversation lock, so these stay true until the commit (issue 27: rules checked under the
   * lock of the write, not before it).
   * @throws UNAUTHENTICATED (the actor's account was deleted).
   */
  private async underLock(
    tx: EntityManager,
    scope: Scope,
    c: Conversation,
    targetUserId: number | null,
  ): Promise<{ actor: Actor; mine: Membership | null; other: Membership | null }> {
    const [me] = await tx.execute<LockedUser[]>('select "id", "is_staff", "deleted_at" from "users" where "id" = ? for share', [scope.actor.id]);
    if (!me || me.deleted_at) throw unauthenticated('This account was deleted');
    await tx.execute('select "id" from "conversations" where "id" = ? for update', [c.id]);
    const actor: Actor = { ...scope.actor, isStaff: Boolean(me.is_staff) };
    const ids = targetUserId != null && targetUserId !== actor.id ? [actor.id, targetUserId] : [actor.id];
    const rows = await tx.find(Membership, { conversation: c.id, user: { $in: ids } }, { populate: ['user'], refresh: true });
    const active = (id: number | null) => rows.find((r) => isActive(r) && (r.user as User).id === id) ?? null;
    return { actor, mine: active(actor.id), other: targetUserId == null ? null : active(targetUserId) };
  }

  private async requireMember(em: EntityManager, conversationId: number, userId: string): Promise<Membership> {
    const target = await em.findOne(Membership, { conversation: conversationId, user: parseId(userId, 'userId') }, { populate: ['user'] });
    if (!isActive(target)) throw notFound('Member');
    return target;
  }

  /**
   * Adds or reactivates a membership under the conversation's row lock (capacity is checked
   * race-free), with a SYSTEM message. `actorId`: who caused it (their own action is not unread for
   * them: appendMessage moves their read position). Under the lock the membership is read afresh:
   * already active, it is returned and nothing is written (no notice, no event: a concurrent add or
   * join won); banned meanwhile, `opts.banned` is thrown (issue 27). `opts.lockUsers` are locked
   * FOR SHARE in id order before the conversation (the account deletion's order) and handed to
   * `opts.recheck`, which re-checks the caller's rules under the locks; `opts.written` adds writes
   * to the same transaction (invitations).
   */
  private async addOrReactivate(
    em: EntityManager,
    c: Conversation,
    userId: number,
    role: MemberRole,
    note: string,
    actorId: number,
    opts: {
      lockUsers?: number[];
      banned?: () => Error;
      recheck?: (tx: EntityManager, users: Map<number, LockedUser>) => Promise<void>;
      written?: (tx: EntityManager) => Promise<void>;
    } = {},
  ): Promise<Membership> {
    const { membership, message } = await em.transactional(async (tx) => {
      const ids = [...new Set(opts.lockUsers ?? [])].sort((a, b) => a - b);
      const users = new Map<number, LockedUser>();
      if (ids.length) {
        const rows = await tx.execute<LockedUser[]>(
          `select "id", "is_staff", "deleted_at" from "users" where "id" in (select (jsonb_array_elements_text(?::jsonb))::int) order by "id" for share`,
          [JSON.stringify(ids)],
        );
        for (const r of rows) users.set(Number(r.id), r);
      }
      await tx.execute('select "id" from "conversations" where "id" = ? for update', [c.id]);
      await opts.recheck?.(tx, users);
      let m = await tx.findOne(Membership, { conversation: c.id, user: userId }, { refresh: true });
      if (isActive(m)) return { membership: m, message: null };
      if (m?.isBanned) throw (opts.banned ?? (() => forbidden('You are banned from this conversation')))();
      if (c.kind === ConversationKind.ROOM && c.maxMembers && (await activeMemberCount(tx, c.id)) >= c.maxMembers) throw conflict('This room is full');
      if (m) Object.assign(m, { leftAt: null, role, joinedAt: new Date(), isMuted: false });
      else m = tx.create(Membership, { conversation: c.id, user: userId, role });
      await tx.flush();
      const { message: msg } = await appendMessage(tx, { conversationId: c.id, senderId: null, actorId, kind: MessageKind.SYSTEM, content: note });
      // The new member starts with nothing unread.
      m.lastReadSeq = msg.seq;
      await tx.flush();
      await opts.written?.(tx);
      await this.outbox.membersChanged(tx, [{ conversationId: c.id, userId, joinedAt: m.joinedAt, added: true }]);
      return { membership: m, message: msg };
    });
    if (!message) return membership;
    this.events.publish({ type: 'membership.changed', conversationId: c.id, userId, active: true });
    this.events.publish({ type: 'message.added', conversationId: c.id, message: toMessageView(message) });
    return membership;
  }

  /**
   * Ends membership `m` with a SYSTEM notice. `recheck` runs first in the transaction and takes the
   * locks (underLock): it answers the membership as committed now, or null when it is no longer
   * active (a concurrent leave, removal or ban won: nothing is written, no event), or throws.
   */
  private async deactivate(
    em: EntityManager,
    c: Conversation,
    m: Membership,
    note: string,
    actorId: number,
    recheck: (tx: EntityManager) => Promise<Membership | null>,
  ): Promise<void> {
    const userId = (m.user as User).id;
    const message = await em.transactional(async (tx) => {
      const mm = await recheck(tx);
      if (!mm) return null;
      mm.leftAt = new Date();
      await this.handOverOwnership(tx, c.id, mm);
      await tx.flush();
      await this.outbox.membersChanged(tx, [{ conversationId: c.id, userId, joinedAt: mm.joinedAt, added: false, leftAt: mm.leftAt, banned: mm.isBanned }]);
      return (await appendMessage(tx, { conversationId: c.id, senderId: null, actorId, kind: MessageKind.SYSTEM, content: note })).message;
    });
    if (!message) return;
    this.events.publish({ type: 'membership.changed', conversationId: c.id, userId, active: false });
    this.events.publish({ type: 'message.added', conversationId: c.id, message: toMessageView(message) });
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
      { conversation: conversationId, ...ACTIVE_MEMBERSHIP, user: { $ne: (leaving.user as User).id } },
      { orderBy: HEIR_ORDER },
    );
    if (heir) heir.role = MemberRole.OWNER;
    leaving.role = MemberRole.MEMBER;
  }
}
