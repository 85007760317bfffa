import type { Scope } from '../shared/actor';
import { badInput, notFound } from '../shared/errors';
import type { EventPublisher } from '../shared/events';
import { ConversationKind, directKeyOf, type Conversation } from '../conversation/conversation.entity';
import { activeMembershipSql, unreadMessageSql } from '../conversation/conversation.policy';
import type { ConversationService } from '../conversation/conversation.service';
import type { Access, ConversationQueries } from '../conversation/conversation.queries';
import { Membership } from '../conversation/membership.entity';
import { listsSeenBy, showsSeenBy } from './message.policy';
import { User } from '../user/user.entity';
import { usernameLookupKey } from '../user/username';

/** Unread counts of one user (contract: UnreadSummary), ids as numbers. */
export interface UnreadSummary {
  total: number;
  byConversation: { conversationId: number; count: number }[];
  bySender: { senderId: number; count: number }[];
}

/**
 * Read state: each member's read position (`lastReadSeq`, never moving backwards), read receipts
 * published when it moves, and unread counts (what counts as unread: conversation.policy.ts
 * unreadMessageSql).
 */
export class ReadStateService {
  constructor(
    private readonly events: EventPublisher,
    private readonly queries: ConversationQueries,
    private readonly conversations: ConversationService,
    /** seenByMaxMembers: SEEN_BY_MAX_MEMBERS (issue 32; message.policy.ts listsSeenBy). */
    private readonly options: { seenByMaxMembers: number } = { seenByMaxMembers: 100 },
  ) {}

  /**
   * How `viewer` sees the "seen by" of a conversation's messages (issue 32; message.policy.ts
   * showsSeenBy, listsSeenBy): 'none' (not an active member: empty seenBy, seenCount 0), 'count'
   * (more than SEEN_BY_MAX_MEMBERS active members: seenCount only, seenBy empty) or 'list'.
   * `activeMembers` is asked only for a member. The readers themselves come from the request's
   * loaders (one statement per page of messages: seenBySql).
   */
  async seenByMode(viewerIsActiveMember: boolean, activeMembers: () => Promise<number>): Promise<'none' | 'count' | 'list'> {
    if (!showsSeenBy(viewerIsActiveMember)) return 'none';
    return listsSeenBy(await activeMembers(), this.options.seenByMaxMembers) ? 'list' : 'count';
  }

  /**
   * Moves the actor's read position forward to `upToSeq` (default: the newest message) and
   * publishes a read receipt when it moved. Never moves backward.
   * @throws NOT_FOUND, BAD_USER_INPUT (not a member, negative seq).
   */
  async markRead(scope: Scope, conversationId: string, upToSeq?: number | null): Promise<Membership> {
    const access = await this.queries.access(scope, conversationId);
    const membership = await this.readerMembership(scope, access);
    if (!membership) throw badInput('You are not a member of this conversation', 'conversationId');
    if (upToSeq != null && (!Number.isInteger(upToSeq) || upToSeq < 0)) throw badInput('upToSeq must be 0 or more', 'upToSeq');
    return this.moveReadPosition(scope, access.conversation, membership, upToSeq);
  }

  /** The actor's membership to keep a read position in: their own, or staff's quiet one in a SUPPORT thread (made on first use); null for other readers. */
  private async readerMembership(scope: Scope, { conversation, membership }: Access): Promise<Membership | null> {
    if (membership) return membership;
    if (conversation.kind === ConversationKind.SUPPORT && scope.actor.isStaff) return this.conversations.joinSupportAsStaff(scope, conversation);
    return null;
  }

  /**
   * Moves `membership`'s read position up to `upToSeq` (default: the newest message), never
   * backwards and never past the newest (`conversation` as loaded in this request); one read
   * receipt when it moved.
   */
  private async moveReadPosition(scope: Scope, conversation: Conversation, membership: Membership, upToSeq?: number | null): Promise<Membership> {
    const lastSeq = conversation.lastSeq;
    const target = Math.min(upToSeq ?? lastSeq, lastSeq);
    if (target <= membership.lastReadSeq) return membership;
    const readAt = new Date();
    const moved = await scope.em.nativeUpdate(Membership, { id: membership.id, lastReadSeq: { $lt: target } }, { lastReadSeq: target, lastReadAt: readAt });
    await scope.em.refresh(membership);
    if (moved) {
      this.events.publish({
        type: 'read.receipt',
        conversationId: conversation.id,
        userId: scope.actor.id,
        lastReadSeq: membership.lastReadSeq,
        readAt: readAt.toISOString(),
      });
    }
    return membership;
  }

  /**
   * What a client that has no mark-read call of its own has shown its user (seeds 001, 002 and
   * 004: Django's usual rule, fetching a page of history): marks read up to the newest message of
   * `shown` (never backwards; read receipt when it moved). Nothing happens for a reader without a
   * membership there, except staff in a SUPPORT thread, who get their quiet membership as markRead
   * gives it. Returns whether the read position moved.
   */
  async markShown(scope: Scope, conversationId: number, shown: readonly { seq: number }[]): Promise<boolean> {
    if (!shown.length) return false;
    const upTo = Math.max(...shown.map((m) => m.seq));
    const access = await this.queries.access(scope, conversationId);
    if (access.membership && access.membership.lastReadSeq >= upTo) return false;
    const membership = await this.readerMembership(scope, access);
    if (!membership) return false;
    const before = membership.lastReadSeq;
    const after = await this.moveReadPosition(scope, access.conversation, membership, upTo);
    return after.lastReadSeq > before;
  }

  /**
   * Marks read up to and including message `messageId` (seed 003 `POST /api/chat/messages/{id}/read/`):
   * {@link markRead} with that message's seq (never backwards; read receipt when it moved).
   * @throws NOT_FOUND (no such message, or not the actor's to see), BAD_USER_INPUT (not a member).
   */
  async markReadUpTo(scope: Scope, messageId: string): Promise<Membership> {
    const { message } = await this.queries.visibleMessage(scope, messageId);
    return this.markRead(scope, String(message.conversation.id), message.seq);
  }

  /**
   * Marks read everything in the actor's DIRECT conversation with the user named `username`
   * (seed 000 `POST /api/chat/mark-read/<username>/`), as {@link markRead} does (read receipt
   * when it moved). `markedCount` = how many of that user's messages stopped being unread; 0 when
   * the two have no conversation yet (none is created).
   * @throws NOT_FOUND (no such user), BAD_USER_INPUT (oneself).
   */
  async markDirectRead(scope: Scope, username: string): Promise<{ conversationId: number | null; markedCount: number }> {
    const usernameKey = usernameLookupKey(username);
    const other = usernameKey === null ? null : await scope.em.findOne(User, { usernameKey }, { fields: ['id'] });
    if (!other) throw notFound('User');
    if (other.id === scope.actor.id) throw badInput('That is you', 'username');
    const [conv] = await scope.em.execute<{ id: number }[]>('select "id" from "conversations" where "direct_key" = ?', [directKeyOf(scope.actor.id, other.id)]);
    if (!conv) return { conversationId: null, markedCount: 0 };
    const [{ n }] = await scope.em.execute<{ n: string }[]>(
      `select count(*) as n from "messages" msg
         join "memberships" m on m."conversation_id" = msg."conversation_id" and m."user_id" = ? and ${activeMembershipSql('m')}
        where msg."conversation_id" = ? and ${unreadMessageSql('msg', 'm')} and msg."sender_id" = ?`,
      [scope.actor.id, conv.id, other.id],
    );
    await this.markRead(scope, String(conv.id));
    return { conversationId: conv.id, markedCount: Number(n) };
  }

  /** Unread counts of the actor: messages after their read position, not their own, not deleted. */
  async unreadSummary(scope: Scope): Promise<UnreadSummary> {
    const rows = await scope.em.execute<{ conversation_id: number; sender_id: number | null; n: string }[]>(
      `select msg."conversation_id", msg."sender_id", count(*) as n
         from "memberships" m
         join "messages" msg on msg."conversation_id" = m."conversation_id" and ${unreadMessageSql('msg', 'm')}
        where m."user_id" = ? and ${activeMembershipSql('m')}
        group by msg."conversation_id", msg."sender_id"`,
      [scope.actor.id],
    );
    const byConversation = new Map<number, number>();
    const bySender = new Map<number, number>();
    let total = 0;
    for (const r of rows) {
      const n = Number(r.n);
      total += n;
      byConversation.set(r.conversation_id, (byConversation.get(r.conversation_id) ?? 0) + n);
      if (r.sender_id != null) bySender.set(r.sender_id, (bySender.get(r.sender_id) ?? 0) + n);
    }
    return {
      total,
      byConversation: [...byConversation]
        .map(([conversationId, count]) => ({ conversationId, count }))
        .sort((a, b) => b.count - a.count || a.conversationId - b.conversationId),
      bySender: [...bySender].map(([senderId, count]) => ({ senderId, count })).sort((a, b) => b.count - a.count || a.senderId - b.senderId),
    };
  }
}
