import type { Scope } from '../shared/actor';
import { badInput, conflict, forbidden, isUniqueViolation, notFound, parseId } from '../shared/errors';
import type { EventPublisher, MessageView } from '../shared/events';
import { connectionFrom, decodeCursor, encodeCursor, pageSize, type Page } from '../shared/pagination';
import { validate, z } from '../shared/validate';
import { ConversationKind, MemberRole } from '../conversation/conversation.entity';
import { canSend } from '../conversation/conversation.policy';
import type { ConversationService } from '../conversation/conversation.service';
import { Membership } from '../conversation/membership.entity';
import { Message, MessageKind } from './message.entity';
import { appendMessage, nextChange, toMessageView } from './message.writer';

/** Longest message, in characters (Unicode code points), after trimming. */
export const MAX_CONTENT_LENGTH = 4000;

const content = z
  .string()
  .trim()
  .refine((s) => s.length > 0, 'must not be empty')
  .refine((s) => [...s].length <= MAX_CONTENT_LENGTH, `must be at most ${MAX_CONTENT_LENGTH} characters`);

const sendSchema = z.object({
  conversationId: z.union([z.string(), z.number()]).nullish(),
  recipientId: z.union([z.string(), z.number()]).nullish(),
  content,
  replyToId: z.union([z.string(), z.number()]).nullish(),
  clientMessageId: z.string().trim().min(1).max(128).nullish(),
});

/** What sendMessage takes (contract: SendMessageInput, attachments aside). */
export type SendInput = z.input<typeof sendSchema>;

/** Unread counts of one user (contract: UnreadSummary), ids as numbers. */
export interface UnreadSummary {
  total: number;
  byConversation: { conversationId: number; count: number }[];
  bySender: { senderId: number; count: number }[];
}

const MSG_CURSOR = 'msg';

/**
 * Messages: send (idempotent by clientMessageId), edit, soft delete, history by seq, catch-up,
 * read positions, unread counts and typing. Rules from api-contract.graphql and architecture.md.
 */
export class MessageService {
  constructor(
    private readonly events: EventPublisher,
    private readonly conversations: ConversationService,
  ) {}

  /**
   * Sends a message to `conversationId`, or to `recipientId` through the DIRECT chat with that
   * user (created when needed, seed 004). A retry with the same clientMessageId returns the
   * first message, also when the two race.
   * @throws BAD_USER_INPUT (content, reply, ids), NOT_FOUND, FORBIDDEN (muted), CONFLICT (key reused elsewhere).
   */
  async send(scope: Scope, input: SendInput): Promise<MessageView> {
    const data = validate(sendSchema, input);
    if ((data.conversationId == null) === (data.recipientId == null)) throw badInput('Give exactly one of conversationId and recipientId', 'conversationId');
    if (data.clientMessageId) {
      const prior = await this.findByKey(scope, data.clientMessageId);
      if (prior) return this.checkRetry(scope, prior, data);
    }
    const conversationId = data.conversationId != null
      ? parseId(data.conversationId, 'conversationId')
      : (await this.conversations.openDirectWith(scope, { userId: data.recipientId })).id;
    const { conversation, membership } = await this.conversations.access(scope, conversationId);
    if (!canSend(scope.actor, conversation, membership)) throw forbidden(membership?.isMuted ? 'You are muted in this conversation' : 'You cannot send here');
    let replyToId: number | null = null;
    if (data.replyToId != null) {
      replyToId = parseId(data.replyToId, 'replyToId');
      const target = await scope.em.findOne(Message, { id: replyToId }, { fields: ['id', 'conversation'] });
      if (!target || (target.conversation as { id: number }).id !== conversation.id) throw badInput('replyToId must be a message of the same conversation', 'replyToId');
    }
    try {
      const { message, senderReadMoved } = await appendMessage(scope.em, {
        conversationId: conversation.id, senderId: scope.actor.id, kind: MessageKind.TEXT,
        content: data.content, replyToId, clientMessageId: data.clientMessageId ?? null,
      });
      const view = toMessageView(message);
      this.events.publish({ type: 'message.added', conversationId: view.conversationId, message: view });
      if (senderReadMoved) {
        this.events.publish({ type: 'read.receipt', conversationId: view.conversationId, userId: scope.actor.id, lastReadSeq: view.seq, readAt: view.createdAt });
      }
      return view;
    } catch (err) {
      if (!data.clientMessageId || !isUniqueViolation(err)) throw err;
      // A concurrent retry with the same key committed first: answer with its message.
      const prior = await this.findByKey({ ...scope, em: scope.em.fork() }, data.clientMessageId);
      if (!prior) throw err;
      return this.checkRetry(scope, prior, data);
    }
  }

  /** Replaces the content of the actor's own message. @throws FORBIDDEN (not the sender), BAD_USER_INPUT (deleted, bad content), NOT_FOUND. */
  async edit(scope: Scope, id: string, newContent: string): Promise<MessageView> {
    const message = await this.requireVisible(scope, id);
    if (message.sender?.id !== scope.actor.id) throw forbidden('Only the sender can edit a message');
    if (message.deletedAt) throw badInput('A deleted message cannot be edited', 'id');
    const text = validate(content, newContent);
    await scope.em.transactional(async (tx) => {
      const change = await nextChange(tx, message.conversation.id);
      await tx.nativeUpdate(Message, { id: message.id }, { content: text, editedAt: new Date(), changeSeq: change });
    });
    await scope.em.refresh(message);
    const view = toMessageView(message);
    this.events.publish({ type: 'message.edited', conversationId: view.conversationId, message: view });
    return view;
  }

  /**
   * Soft-deletes: content becomes "", the row (and its seq) stays. Sender, GROUP/ROOM OWNER/ADMIN,
   * or staff; never SYSTEM messages. Deleting twice returns the tombstone.
   * @throws FORBIDDEN, BAD_USER_INPUT (SYSTEM), NOT_FOUND.
   */
  async delete(scope: Scope, id: string): Promise<MessageView> {
    const message = await this.requireVisible(scope, id);
    if (message.kind === MessageKind.SYSTEM) throw badInput('System messages cannot be deleted', 'id');
    if (message.deletedAt) return toMessageView(message);
    if (message.sender?.id !== scope.actor.id && !scope.actor.isStaff) {
      const m = await scope.em.findOne(Membership, { conversation: message.conversation.id, user: scope.actor.id, leftAt: null, isBanned: false });
      const moderated = message.conversation.kind === ConversationKind.GROUP || message.conversation.kind === ConversationKind.ROOM;
      if (!moderated || !m || m.role === MemberRole.MEMBER) throw forbidden('You cannot delete this message');
    }
    await scope.em.transactional(async (tx) => {
      const change = await nextChange(tx, message.conversation.id);
      await tx.nativeUpdate(Message, { id: message.id }, { content: '', deletedAt: new Date(), changeSeq: change });
    });
    await scope.em.refresh(message);
    const view = toMessageView(message);
    this.events.publish({ type: 'message.deleted', conversationId: view.conversationId, message: view });
    return view;
  }

  /** One message the actor may see. @throws NOT_FOUND. */
  async get(scope: Scope, id: string): Promise<MessageView> {
    return toMessageView(await this.requireVisible(scope, id));
  }

  /**
   * History in ascending seq. `first`/`after` page forward, `last`/`before` page back;
   * with neither first nor last, the newest 50. At most 100 a page. Deleted messages are tombstones.
   */
  async list(scope: Scope, conversationId: string, args: { first?: number | null; after?: string | null; last?: number | null; before?: string | null }): Promise<Page<MessageView>> {
    const { conversation } = await this.conversations.access(scope, conversationId);
    if (args.first != null && args.last != null) throw badInput('Give first or last, not both', 'last');
    const seqOf = (cursor: string, field: string) => {
      const [s] = decodeCursor(cursor, MSG_CURSOR, field, 1);
      if (!/^\d+$/.test(s)) throw badInput(`${field} is not a valid cursor`, field);
      return Number(s);
    };
    const after = args.after ? seqOf(args.after, 'after') : null;
    const before = args.before ? seqOf(args.before, 'before') : null;
    const backward = args.last != null || (args.first == null && after == null);
    const size = backward ? pageSize(args.last, 50, 100, 'last') : pageSize(args.first, 50, 100, 'first');
    const seq: Record<string, number> = {};
    if (after != null) seq.$gt = after;
    if (before != null) seq.$lt = before;
    const rows = await scope.em.find(
      Message,
      { conversation: conversation.id, ...(Object.keys(seq).length ? { seq } : {}) },
      { orderBy: { seq: backward ? 'desc' : 'asc' }, limit: size + 1 },
    );
    const more = rows.length > size;
    const nodes = (more ? rows.slice(0, size) : rows).map(toMessageView);
    if (backward) nodes.reverse();
    const cursor = (m: MessageView) => encodeCursor(MSG_CURSOR, m.seq);
    // seq is gap-free from 1 to lastSeq, so the neighbours' existence is known without a query.
    const lastSeq = conversation.lastSeq;
    const firstSeqShown = nodes[0]?.seq;
    const lastSeqShown = nodes[nodes.length - 1]?.seq;
    const page = connectionFrom(nodes, nodes.length, cursor, lastSeq, false);
    page.pageInfo.hasPreviousPage = backward ? more : firstSeqShown != null ? firstSeqShown > 1 : (after ?? 0) > 0;
    page.pageInfo.hasNextPage = backward ? (lastSeqShown != null ? lastSeqShown < lastSeq : (before ?? lastSeq + 1) <= lastSeq) : more;
    return page;
  }

  /**
   * Catch-up after a reconnect: messages with seq > afterSeq, plus older ones edited or deleted
   * after message `afterSeq` was written (deleted as tombstones), in change order, at most `limit`.
   */
  async since(scope: Scope, conversationId: string, afterSeq: number, limit = 100): Promise<MessageView[]> {
    const { conversation } = await this.conversations.access(scope, conversationId);
    if (!Number.isInteger(afterSeq) || afterSeq < 0) throw badInput('afterSeq must be 0 or more', 'afterSeq');
    const size = pageSize(limit, 100, 500, 'limit');
    if (size === 0) return [];
    let since = 0;
    if (afterSeq > 0) {
      const mark = await scope.em.findOne(Message, { conversation: conversation.id, seq: afterSeq }, { fields: ['createdChange'] });
      since = mark ? mark.createdChange : Number.MAX_SAFE_INTEGER;
      if (!mark) return [];
    }
    const rows = await scope.em.find(
      Message,
      { conversation: conversation.id, $or: [{ seq: { $gt: afterSeq } }, { changeSeq: { $gt: since } }] },
      { orderBy: { changeSeq: 'asc' }, limit: size },
    );
    return rows.map(toMessageView);
  }

  /**
   * Moves the actor's read position forward to `upToSeq` (default: the newest message) and
   * publishes a read receipt when it moved. Never moves backward.
   * @throws NOT_FOUND, BAD_USER_INPUT (not a member, negative seq).
   */
  async markRead(scope: Scope, conversationId: string, upToSeq?: number | null): Promise<Membership> {
    const { conversation, membership } = await this.conversations.access(scope, conversationId);
    if (!membership) throw badInput('You are not a member of this conversation', 'conversationId');
    if (upToSeq != null && (!Number.isInteger(upToSeq) || upToSeq < 0)) throw badInput('upToSeq must be 0 or more', 'upToSeq');
    const lastSeq = conversation.lastSeq; // fresh: access() loaded it in this request
    const target = Math.min(upToSeq ?? lastSeq, lastSeq);
    if (target <= membership.lastReadSeq) return membership;
    const readAt = new Date();
    const moved = await scope.em.nativeUpdate(Membership, { id: membership.id, lastReadSeq: { $lt: target } }, { lastReadSeq: target, lastReadAt: readAt });
    await scope.em.refresh(membership);
    if (moved) {
      this.events.publish({ type: 'read.receipt', conversationId: conversation.id, userId: scope.actor.id, lastReadSeq: membership.lastReadSeq, readAt: readAt.toISOString() });
    }
    return membership;
  }

  /** Unread counts of the actor: messages after their read position, not their own, not deleted. */
  async unreadSummary(scope: Scope): Promise<UnreadSummary> {
    const rows = await scope.em.execute<{ conversation_id: number; sender_id: number | null; n: string }[]>(
      `select msg."conversation_id", msg."sender_id", count(*) as n
         from "memberships" m
         join "messages" msg on msg."conversation_id" = m."conversation_id" and msg."seq" > m."last_read_seq"
        where m."user_id" = ? and m."left_at" is null and not m."is_banned"
          and msg."deleted_at" is null and (msg."sender_id" is null or msg."sender_id" <> ?)
        group by msg."conversation_id", msg."sender_id"`,
      [scope.actor.id, scope.actor.id],
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
      byConversation: [...byConversation].map(([conversationId, count]) => ({ conversationId, count })).sort((a, b) => b.count - a.count || a.conversationId - b.conversationId),
      bySender: [...bySender].map(([senderId, count]) => ({ senderId, count })).sort((a, b) => b.count - a.count || a.senderId - b.senderId),
    };
  }

  /** Tells the other members the actor is (or stopped) typing. Nothing is stored. @throws NOT_FOUND, FORBIDDEN. */
  async setTyping(scope: Scope, conversationId: string, isTyping: boolean): Promise<boolean> {
    const { conversation, membership } = await this.conversations.access(scope, conversationId);
    if (!canSend(scope.actor, conversation, membership)) throw forbidden('You cannot send here');
    this.events.publish({ type: 'typing', conversationId: conversation.id, userId: scope.actor.id, isTyping: Boolean(isTyping) });
    return true;
  }

  private async findByKey(scope: Scope, key: string): Promise<Message | null> {
    return scope.em.findOne(Message, { sender: scope.actor.id, clientMessageId: key });
  }

  /** A retry must target the same conversation as the first send; then it gets the first message back. */
  private async checkRetry(scope: Scope, prior: Message, data: z.output<typeof sendSchema>): Promise<MessageView> {
    const view = toMessageView(prior);
    if (data.conversationId != null && parseId(data.conversationId, 'conversationId') !== view.conversationId) {
      throw conflict('clientMessageId was already used for another conversation');
    }
    return view;
  }

  private async requireVisible(scope: Scope, id: string): Promise<Message> {
    const message = await scope.em.findOne(Message, { id: parseId(id, 'id') }, { populate: ['conversation', 'sender'] });
    if (!message) throw notFound('Message');
    try {
      await this.conversations.access(scope, message.conversation.id);
    } catch {
      throw notFound('Message');
    }
    return message;
  }
}
