import type { EntityManager } from '@mikro-orm/postgresql';
import type { Scope } from '../shared/actor';
import { badInput, conflict, forbidden, notFound, parseId } from '../shared/errors';
import type { EventPublisher } from '../shared/events';
import { validate } from '../shared/validate';
import { cleanText } from '../shared/text';
import type { ContactService } from '../contact/contact.service';
import type { NotificationService } from '../notification/notification.service';
import { MessageKind } from '../message/message.entity';
import { appendMessage, toMessageView } from '../message/message.writer';
import { User } from '../user/user.entity';
import { Conversation, ConversationKind, MemberRole } from './conversation.entity';
import { Membership } from './membership.entity';
import { ACTIVE_MEMBERSHIP, canAddAs, canAssignRoles, canManage, canSeeMetadata, isActive, outranks } from './conversation.policy';
import type { ConversationQueries } from './conversation.queries';
import type { RateLimiter } from '../shared/rate-limit';

const nicknameSchema = cleanText({ max: 150 }).nullish();

/** Active members of a conversation now (capacity checks). */
export function activeMemberCount(em: EntityManager, conversationId: number): Promise<number> {
  return em.count(Membership, { conversation: conversationId, ...ACTIVE_MEMBERSHIP });
}

/**
 * Memberships of groups and rooms: joining and leaving, adding and removing members, roles,
 * mutes, bans and nicknames. Each method checks conversation.policy.ts, writes in one transaction
 * (with its SYSTEM message) and publishes `membership.changed` (and `message.added`) after commit.
 */
export class MembershipService {
  constructor(
    private readonly events: EventPublisher,
    private readonly queries: ConversationQueries,
    private readonly contacts: ContactService,
    private readonly notifications: NotificationService,
    /** RATE_MEMBER_ADDS_PER_HOUR (limit `memberAdd`): people one actor may add to conversations. */
    private readonly limits?: RateLimiter,
  ) {}

  /** Joins a PUBLIC room. @throws NOT_FOUND (private or none), FORBIDDEN when banned, CONFLICT when full. */
  async joinRoom(scope: Scope, id: string): Promise<Conversation> {
    const roomId = parseId(id, 'id');
    const existing = await scope.em.findOne(Membership, { conversation: roomId, user: scope.actor.id }, { populate: ['conversation'] });
    const c = existing?.conversation ?? (await scope.em.findOne(Conversation, { id: roomId }));
    if (!c || c.kind !== ConversationKind.ROOM) throw notFound('Room');
    if (isActive(existing)) return c;
    if (existing?.isBanned) throw forbidden('You are banned from this room');
    if (!canSeeMetadata(c) && !scope.actor.isStaff) throw notFound('Room');
    await this.addOrReactivate(scope.em, c, scope.actor.id, MemberRole.MEMBER, `${scope.actor.username} joined`, scope.actor.id);
    return c;
  }

  /** Leaves a GROUP or ROOM; an OWNER's role passes to the longest-standing member. @throws BAD_USER_INPUT for DIRECT and SUPPORT. */
  async leave(scope: Scope, id: string): Promise<boolean> {
    const { conversation: c, membership } = await this.queries.access(scope, id, 'id');
    if (c.kind === ConversationKind.DIRECT) throw badInput('You cannot leave a direct chat', 'id');
    if (c.kind === ConversationKind.SUPPORT && c.customer && (c.customer as User).id === scope.actor.id) throw badInput('You cannot leave your own support thread', 'id');
    if (!membership) throw badInput('You are not a member of this conversation', 'id');
    await this.deactivate(scope.em, c, membership, `${scope.actor.username} left`, scope.actor.id);
    return true;
  }

  /**
   * Adds a user (OWNER/ADMIN only; only an OWNER adds OWNER/ADMIN; never one with whom a block
   * stands: FORBIDDEN). Already a member: returns the membership. Adding someone else counts toward
   * the actor's RATE_MEMBER_ADDS_PER_HOUR (issue 27: RATE_LIMITED past it).
   */
  async addMember(scope: Scope, conversationId: string, userId: string, role: MemberRole = MemberRole.MEMBER): Promise<Membership> {
    const { conversation: c, membership } = await this.queries.access(scope, conversationId);
    if (!canManage(scope.actor, c, membership)) throw forbidden('Only the owner or an admin can add members');
    if (!canAddAs(scope.actor, c, membership, role)) throw forbidden('Only the owner can add owners or admins');
    const user = await scope.em.findOne(User, { id: parseId(userId, 'userId') });
    if (!user || user.deletedAt /* issue 18: a deleted account joins nothing */) throw notFound('User');
    const current = await scope.em.findOne(Membership, { conversation: c.id, user: user.id });
    if (isActive(current)) return current;
    await this.contacts.refuseBlocked(scope, [user.id]);
    if (current?.isBanned) throw conflict('That user is banned here; unban them first');
    if (user.id !== scope.actor.id) await this.limits?.consume('memberAdd', String(scope.actor.id));
    const added = await this.addOrReactivate(scope.em, c, user.id, role, `${scope.actor.username} added ${user.username}`, scope.actor.id);
    await this.notifications.onInvite(scope.em, c, [user.id], scope.actor.username);
    return added;
  }

  /** Removes a member (OWNER/ADMIN; admins remove only MEMBERs). @throws FORBIDDEN, NOT_FOUND. */
  async removeMember(scope: Scope, conversationId: string, userId: string): Promise<boolean> {
    const { conversation: c, membership } = await this.queries.access(scope, conversationId);
    if (!canManage(scope.actor, c, membership)) throw forbidden('Only the owner or an admin can remove members');
    const target = await this.requireMember(scope.em, c.id, userId);
    if (target.user.id !== scope.actor.id && !outranks(scope.actor, membership, target)) throw forbidden('You cannot remove this member');
    await this.deactivate(scope.em, c, target, `${scope.actor.username} removed ${target.user.username}`, scope.actor.id);
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
      // Under the conversation's row lock, so two OWNERs demoting each other cannot both succeed.
      await tx.execute('select "id" from "conversations" where "id" = ? for update', [c.id]);
      if (target.role === MemberRole.OWNER) {
        const owners = await tx.count(Membership, { conversation: c.id, role: MemberRole.OWNER, ...ACTIVE_MEMBERSHIP });
        if (owners <= 1) throw badInput('The last owner cannot step down; make another member OWNER first', 'role');
      }
      tx.merge(target).role = role;
      await tx.flush();
    });
    return target;
  }

  /** Mutes (cannot send) or unmutes a member. OWNER/ADMIN over lower ranks. */
  async setMuted(scope: Scope, conversationId: string, userId: string, muted: boolean): Promise<Membership> {
    const { conversation: c, membership } = await this.queries.access(scope, conversationId);
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
    const { conversation: c, membership } = await this.queries.access(scope, conversationId);
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
      return (await appendMessage(tx, { conversationId: c.id, senderId: null, actorId: scope.actor.id, kind: MessageKind.SYSTEM, content: `${scope.actor.username} banned ${target.user.username}` })).message;
    });
    this.events.publish({ type: 'membership.changed', conversationId: c.id, userId: uid, active: isActive(target) });
    if (notice) this.events.publish({ type: 'message.added', conversationId: c.id, message: toMessageView(notice) });
    return target;
  }

  /** Sets the actor's own nickname in a conversation (null clears it). */
  async setNickname(scope: Scope, conversationId: string, nickname: string | null | undefined): Promise<Membership> {
    const { membership } = await this.queries.access(scope, conversationId);
    if (!membership) throw badInput('You are not a member of this conversation', 'conversationId');
    membership.nickname = validate(nicknameSchema, nickname) || null;
    await scope.em.flush();
    return membership;
  }

  private async requireMember(em: EntityManager, conversationId: number, userId: string): Promise<Membership> {
    const target = await em.findOne(Membership, { conversation: conversationId, user: parseId(userId, 'userId') }, { populate: ['user'] });
    if (!isActive(target)) throw notFound('Member');
    return target;
  }

  /** Adds or reactivates a membership under the conversation's row lock (capacity is checked race-free), with a SYSTEM message. */
  /** `actorId`: who caused it (their own action is not unread for them: appendMessage moves their read position). */
  private async addOrReactivate(em: EntityManager, c: Conversation, userId: number, role: MemberRole, note: string, actorId: number): Promise<Membership> {
    const { membership, message } = await em.transactional(async (tx) => {
      await tx.execute('select "id" from "conversations" where "id" = ? for update', [c.id]);
      if (c.kind === ConversationKind.ROOM && c.maxMembers && (await activeMemberCount(tx, c.id)) >= c.maxMembers) throw conflict('This room is full');
      let m = await tx.findOne(Membership, { conversation: c.id, user: userId });
      if (m) Object.assign(m, { leftAt: null, role, joinedAt: new Date(), isMuted: false });
      else m = tx.create(Membership, { conversation: c.id, user: userId, role });
      await tx.flush();
      const { message: msg } = await appendMessage(tx, { conversationId: c.id, senderId: null, actorId, kind: MessageKind.SYSTEM, content: note });
      // The new member starts with nothing unread.
      m.lastReadSeq = msg.seq;
      await tx.flush();
      return { membership: m, message: msg };
    });
    this.events.publish({ type: 'membership.changed', conversationId: c.id, userId, active: true });
    this.events.publish({ type: 'message.added', conversationId: c.id, message: toMessageView(message) });
    return membership;
  }

  private async deactivate(em: EntityManager, c: Conversation, m: Membership, note: string, actorId: number): Promise<void> {
    const userId = (m.user as User).id;
    const message = await em.transactional(async (tx) => {
      const mm = tx.merge(m);
      mm.leftAt = new Date();
      await this.handOverOwnership(tx, c.id, mm);
      await tx.flush();
      return (await appendMessage(tx, { conversationId: c.id, senderId: null, actorId, kind: MessageKind.SYSTEM, content: note })).message;
    });
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
      { orderBy: [{ role: 'asc' }, { joinedAt: 'asc' }] },
    );
    if (heir) heir.role = MemberRole.OWNER;
    leaving.role = MemberRole.MEMBER;
  }
}
