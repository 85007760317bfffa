import type { EntityManager } from '@mikro-orm/postgresql';
import type { Scope } from '../shared/actor';
import { badInput, forbidden, isUniqueViolation, notFound, parseId, unauthenticated } from '../shared/errors';
import type { EventPublisher } from '../shared/events';
import { cleanText } from '../shared/text';
import { validate, z } from '../shared/validate';
import type { ContactService } from '../contact/contact.service';
import type { NotificationService } from '../notification/notification.service';
import { MessageKind } from '../message/message.entity';
import { appendMessage, toMessageView } from '../message/message.writer';
import { User } from '../user/user.entity';
import { usernameLookupKey } from '../user/username';
import { Conversation, ConversationKind, DEFAULT_MAX_MEMBERS, directKeyOf, MemberRole, RoomVisibility } from './conversation.entity';
import { Membership } from './membership.entity';
import { canArchive, canManage, isActive, isArchived } from './conversation.policy';
import type { ConversationQueries } from './conversation.queries';
import type { RateLimiter } from '../shared/rate-limit';
import { activeMemberCount } from './membership.service';
import { PushOutbox } from '../push/outbox';

// Free text is cleaned of control characters before its limits apply (shared/text.ts).
const name = cleanText({ min: 1, max: 255 });
const description = cleanText({ max: 2000, multiline: true }).nullish();
const maxMembers = z.number().int().min(2).max(100000);

/**
 * Users one createGroup call may add (issue 13: every message of a group writes a notification per
 * member, so a call adding thousands of strangers is a write amplifier). More come by addMember.
 */
export const MAX_MEMBERS_PER_CALL = 100;

const groupSchema = z.object({
  name,
  description,
  memberIds: z.array(z.union([z.string(), z.number()])).max(MAX_MEMBERS_PER_CALL, `memberIds may list at most ${MAX_MEMBERS_PER_CALL} users`),
});
const roomSchema = z.object({
  name,
  description,
  visibility: z.enum(RoomVisibility).default(RoomVisibility.PUBLIC),
  maxMembers: maxMembers.nullish(),
});
const updateSchema = z.object({ name: name.nullish(), description, maxMembers: maxMembers.nullish() });
/**
 * Conversations' lifecycle: opening direct chats (get-or-create), creating groups and rooms,
 * changing a group's or room's settings, and support threads (the customer's own, created on
 * first use; staff's quiet membership when they answer). Memberships afterwards are
 * MembershipService's, reads ConversationQueries'. Events are published after commit; with
 * webhooks enabled, a creation's `conversation.created` and `member.added` webhook rows are
 * written in its transaction (issue 34).
 */
export class ConversationService {
  constructor(
    private readonly events: EventPublisher,
    private readonly queries: ConversationQueries,
    private readonly contacts: ContactService,
    private readonly notifications: NotificationService,
    /** RATE_MEMBER_ADDS_PER_HOUR (limit `memberAdd`): people one actor may add to conversations. */
    private readonly limits?: RateLimiter,
    /** Issue 34: webhook events of conversations created (and staff joining support threads), queued in their transactions. */
    private readonly outbox: PushOutbox = new PushOutbox(false),
  ) {}

  /**
   * Get-or-create the DIRECT conversation with the user named by id or username (exactly one).
   * @throws NOT_FOUND (no such user), BAD_USER_INPUT (both/neither given, or oneself), FORBIDDEN (a block).
   */
  async openDirectWith(scope: Scope, ref: { userId?: string | number | null; username?: string | null }): Promise<Conversation> {
    return (await this.getOrCreateDirect(scope, ref)).conversation;
  }

  /**
   * {@link openDirectWith}, also telling whether this call created the conversation: `created`
   * is true only for the call whose transaction inserted it. @throws like openDirectWith.
   */
  async getOrCreateDirect(
    scope: Scope,
    ref: { userId?: string | number | null; username?: string | null },
  ): Promise<{ conversation: Conversation; created: boolean }> {
    if ((ref.userId == null) === (ref.username == null)) throw badInput('Give exactly one of userId and username', 'userId');
    const usernameKey = ref.userId != null ? null : usernameLookupKey(ref.username);
    const other =
      ref.userId != null
        ? await scope.em.findOne(User, { id: parseId(ref.userId, 'userId') })
        : usernameKey === null
          ? null
          : await scope.em.findOne(User, { usernameKey });
    if (!other) throw notFound('User');
    return this.openDirect(scope, other);
  }

  /**
   * Get-or-create the one DIRECT conversation between the actor and another user, connecting
   * them as contacts when they were not (seed 000 "automatic connection"). Two users opening it
   * at once get the same conversation (the unique direct key decides; the loser reads the winner's).
   * @throws BAD_USER_INPUT for oneself, FORBIDDEN when either has blocked the other.
   */
  async openDirect(scope: Scope, other: User): Promise<{ conversation: Conversation; created: boolean }> {
    if (other.id === scope.actor.id) throw badInput('You cannot open a direct chat with yourself', 'userId');
    // Issue 18: a deleted account (tombstone) gets no new chat and no contact; an existing DIRECT with it stays readable.
    if (other.deletedAt) {
      const kept = await scope.em.findOne(Conversation, { directKey: directKeyOf(scope.actor.id, other.id) });
      if (kept) return { conversation: kept, created: false };
      throw notFound('User');
    }
    if (await this.contacts.isBlockedBetween(scope.em, scope.actor.id, other.id)) throw forbidden('You cannot chat with this user');
    await this.contacts.connectOnOpen(scope.em, scope.actor.id, other.id);
    const directKey = directKeyOf(scope.actor.id, other.id);
    const existing = await scope.em.findOne(Conversation, { directKey });
    if (existing) return { conversation: existing, created: false };
    try {
      const created = await scope.em.transactional(async (tx) => {
        const c = tx.create(Conversation, { kind: ConversationKind.DIRECT, directKey, createdBy: scope.actor.id });
        const members = [
          tx.create(Membership, { conversation: c, user: scope.actor.id, role: MemberRole.MEMBER }),
          tx.create(Membership, { conversation: c, user: other.id, role: MemberRole.MEMBER }),
        ];
        await this.outbox.conversationCreated(tx, c, members);
        return c;
      });
      this.events.publish({ type: 'membership.changed', conversationId: created.id, userId: scope.actor.id, active: true });
      this.events.publish({ type: 'membership.changed', conversationId: created.id, userId: other.id, active: true });
      return { conversation: created, created: true };
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      // Opened concurrently by the other side: theirs won.
      const again = await scope.em.fork().findOne(Conversation, { directKey });
      if (!again) throw err;
      return { conversation: scope.em.merge(again), created: false };
    }
  }

  /**
   * Creates a GROUP; the creator becomes OWNER, `memberIds` MEMBERs, each counting toward the
   * creator's RATE_MEMBER_ADDS_PER_HOUR (issue 27).
   * @throws BAD_USER_INPUT, NOT_FOUND for unknown members, FORBIDDEN for a member with whom a block stands, RATE_LIMITED past the hour's adds (nothing created).
   */
  async createGroup(scope: Scope, input: { name: string; description?: string | null; memberIds: (string | number)[] }): Promise<Conversation> {
    const data = validate(groupSchema, input);
    const ids = [...new Set(data.memberIds.map((id, i) => parseId(id, `memberIds.${i}`)))].filter((id) => id !== scope.actor.id);
    const found = ids.length ? await scope.em.find(User, { id: { $in: ids }, deletedAt: null /* issue 18: not deleted accounts */ }, { fields: ['id'] }) : [];
    if (found.length !== ids.length) throw notFound('User');
    await this.contacts.refuseBlocked(scope, ids);
    if (ids.length) await this.limits?.consume('memberAdd', String(scope.actor.id), ids.length);
    const { conv: c, message } = await scope.em.transactional(async (tx) => {
      // Issue 27: the creator's and members' rows FOR SHARE (id order; the account deletion locks a
      // user's row first too), then deletions and blocks read again: a member who deleted their
      // account, or a block committed, since the checks above stops the creation.
      const locked = await tx.execute<{ id: number; deleted_at: Date | null }[]>(
        `select "id", "deleted_at" from "users" where "id" in (select (jsonb_array_elements_text(?::jsonb))::int) order by "id" for share`,
        [JSON.stringify([scope.actor.id, ...ids])],
      );
      if (locked.find((r) => Number(r.id) === scope.actor.id)?.deleted_at !== null) throw unauthenticated('This account was deleted');
      if (locked.filter((r) => Number(r.id) !== scope.actor.id && !r.deleted_at).length !== ids.length) throw notFound('User');
      await this.contacts.refuseBlocked({ ...scope, em: tx }, ids);
      const conv = tx.create(Conversation, { kind: ConversationKind.GROUP, name: data.name, description: data.description ?? null, createdBy: scope.actor.id });
      const members = [tx.create(Membership, { conversation: conv, user: scope.actor.id, role: MemberRole.OWNER })];
      for (const id of ids) members.push(tx.create(Membership, { conversation: conv, user: id, role: MemberRole.MEMBER }));
      await tx.flush();
      const { message: msg } = await appendMessage(tx, {
        conversationId: conv.id,
        senderId: null,
        actorId: scope.actor.id,
        kind: MessageKind.SYSTEM,
        content: `${scope.actor.username} created the group "${data.name}"`,
      });
      // Everyone starts with the creation notice read.
      await tx.nativeUpdate(Membership, { conversation: conv.id }, { lastReadSeq: msg.seq });
      conv.lastSeq = msg.seq;
      await this.outbox.conversationCreated(tx, conv, members);
      return { conv, message: msg };
    });
    for (const userId of [scope.actor.id, ...ids]) this.events.publish({ type: 'membership.changed', conversationId: c.id, userId, active: true });
    this.events.publish({ type: 'message.added', conversationId: c.id, message: toMessageView(message) });
    await this.notifications.onInvite(scope.em, c, ids, scope.actor.username);
    return c;
  }

  /** Creates a ROOM (seed 003), PUBLIC unless told otherwise, 50 members by default; creator is OWNER. */
  async createRoom(
    scope: Scope,
    input: { name: string; description?: string | null; visibility?: RoomVisibility | null; maxMembers?: number | null },
  ): Promise<Conversation> {
    const data = validate(roomSchema, { ...input, visibility: input.visibility ?? undefined });
    const c = await scope.em.transactional(async (tx) => {
      const conv = tx.create(Conversation, {
        kind: ConversationKind.ROOM,
        name: data.name,
        description: data.description ?? null,
        visibility: data.visibility,
        maxMembers: data.maxMembers ?? DEFAULT_MAX_MEMBERS,
        createdBy: scope.actor.id,
      });
      const owner = tx.create(Membership, { conversation: conv, user: scope.actor.id, role: MemberRole.OWNER });
      await this.outbox.conversationCreated(tx, conv, [owner]);
      return conv;
    });
    this.events.publish({ type: 'membership.changed', conversationId: c.id, userId: scope.actor.id, active: true });
    return c;
  }

  /** Renames or re-describes a GROUP/ROOM, or changes a room's capacity. OWNER/ADMIN only. */
  async update(scope: Scope, id: string, input: { name?: string | null; description?: string | null; maxMembers?: number | null }): Promise<Conversation> {
    const { conversation: c, membership } = await this.queries.access(scope, id, 'id');
    if (!canManage(scope.actor, c, membership)) throw forbidden('Only the owner or an admin can change this conversation');
    const data = validate(updateSchema, input);
    if (data.name != null) c.name = data.name;
    if (data.description !== undefined) c.description = data.description ?? null;
    if (data.maxMembers != null) {
      if (c.kind !== ConversationKind.ROOM) throw badInput('maxMembers applies to rooms only', 'maxMembers');
      if (data.maxMembers < (await activeMemberCount(scope.em, c.id))) throw badInput('maxMembers is below the current member count', 'maxMembers');
      c.maxMembers = data.maxMembers;
    }
    await scope.em.flush();
    return c;
  }

  /**
   * Archives (`archived` true) or reactivates a conversation (seed 003 `PATCH /api/chat/rooms/{id}/
   * {"is_active": false}`; contract `archiveConversation`). Archived: readable, no sends, joins or
   * edits (conversation.policy isArchived). Setting the state it already has changes nothing.
   * @throws NOT_FOUND (not visible), BAD_USER_INPUT (a DIRECT chat), FORBIDDEN (not an OWNER/ADMIN or staff: canArchive).
   */
  async setArchived(scope: Scope, id: string | number, archived: boolean): Promise<Conversation> {
    const { conversation: c, membership } = await this.queries.access(scope, id, 'id');
    if (c.kind === ConversationKind.DIRECT) throw badInput('A direct chat cannot be archived', 'id');
    if (!canArchive(scope.actor, c, membership)) throw forbidden('Only the owner, an admin or staff can archive or reactivate this conversation');
    if (isArchived(c) === archived) return c;
    // One conditional statement: two concurrent calls leave the first time it was archived.
    await scope.em.nativeUpdate(
      Conversation,
      { id: c.id, archivedAt: archived ? null : { $ne: null } },
      { archivedAt: archived ? new Date() : null, updatedAt: new Date() },
    );
    await scope.em.refresh(c);
    return c;
  }

  /** The actor's own SUPPORT thread (seed 002), created on first use; null for staff (they answer, not ask). */
  async supportThread(scope: Scope): Promise<Conversation | null> {
    if (scope.actor.isStaff) return null;
    return this.openSupport(scope, scope.actor.id);
  }

  /**
   * A customer's SUPPORT thread as staff find it to answer (seed 002's Socket.IO `send_message`
   * with `customer_id`: "Lấy Conversation của customer đó"), created when the customer has none
   * yet, so staff can write first.
   * @throws FORBIDDEN for non-staff, NOT_FOUND for no such user, BAD_USER_INPUT for a staff user
   *   (staff have no thread of their own) or a malformed id.
   */
  async supportThreadFor(scope: Scope, customerId: string | number, field = 'customer_id'): Promise<Conversation> {
    if (!scope.actor.isStaff) throw forbidden('Only staff answer support threads');
    const id = parseId(String(customerId), field);
    const customer = await scope.em.findOne(User, { id }, { fields: ['id', 'isStaff', 'deletedAt'] });
    if (!customer) throw notFound('User');
    // Issue 18: a deleted customer's thread stays readable and answerable; none is opened for them.
    if (customer.deletedAt) {
      const kept = await scope.em.findOne(Conversation, { kind: ConversationKind.SUPPORT, customer: id });
      if (kept) return kept;
      throw notFound('User');
    }
    if (customer.isStaff) throw badInput('Staff users have no support thread', field);
    return this.openSupport(scope, id);
  }

  /** Gets or creates `customerId`'s SUPPORT thread (the customer its OWNER); a concurrent creation wins the unique index and is read back. */
  private async openSupport(scope: Scope, customerId: number): Promise<Conversation> {
    const existing = await scope.em.findOne(Conversation, { kind: ConversationKind.SUPPORT, customer: customerId });
    if (existing) return existing;
    try {
      const c = await scope.em.transactional(async (tx) => {
        const conv = tx.create(Conversation, { kind: ConversationKind.SUPPORT, name: null, customer: customerId, createdBy: scope.actor.id });
        const owner = tx.create(Membership, { conversation: conv, user: customerId, role: MemberRole.OWNER });
        await this.outbox.conversationCreated(tx, conv, [owner]);
        return conv;
      });
      this.events.publish({ type: 'membership.changed', conversationId: c.id, userId: customerId, active: true });
      return c;
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      const again = await scope.em.fork().findOne(Conversation, { kind: ConversationKind.SUPPORT, customer: customerId });
      if (!again) throw err;
      return scope.em.merge(again);
    }
  }

  /**
   * Staff who answer or read a SUPPORT thread get a quiet membership in it (no SYSTEM message),
   * so each staff user has their own read position and unread count (seed 002 staff inbox).
   * Returns the membership (existing or new). A membership that begins (new, or one left before:
   * its `joinedAt` is then the new join's, as MembershipService's rejoin) is, with webhooks
   * enabled, a `member.added` webhook row in the same transaction (issue 34).
   * @throws BAD_USER_INPUT for other kinds.
   */
  async joinSupportAsStaff(scope: Scope, c: Conversation): Promise<Membership> {
    if (c.kind !== ConversationKind.SUPPORT || !scope.actor.isStaff) throw badInput('Only staff join support threads', 'conversationId');
    const join = async (em: EntityManager) => {
      const began = await em.execute<{ joined_at: Date | string }[]>(
        `insert into "memberships" ("conversation_id", "user_id", "role", "joined_at", "last_read_seq", "is_muted", "is_banned")
         values (?, ?, 'MEMBER', now(), 0, false, false)
         on conflict ("conversation_id", "user_id") do update set "left_at" = null, "joined_at" = now()
           where "memberships"."left_at" is not null and not "memberships"."is_banned"
         returning "joined_at"`,
        [c.id, scope.actor.id],
      );
      if (began.length)
        await this.outbox.membersChanged(em, [{ conversationId: c.id, userId: scope.actor.id, joinedAt: new Date(began[0].joined_at), added: true }]);
    };
    // Without webhooks one statement, as before; with them, the row and its event in one transaction.
    if (this.outbox.webhooks) await scope.em.transactional(join);
    else await join(scope.em);
    const m = await scope.em.findOneOrFail(Membership, { conversation: c.id, user: scope.actor.id }, { refresh: true });
    this.events.publish({ type: 'membership.changed', conversationId: c.id, userId: scope.actor.id, active: isActive(m) });
    return m;
  }
}
