import type { EntityManager } from '@mikro-orm/postgresql';
import { executePrepared } from '../../db/prepared';
import { PushOutbox } from '../push/outbox';
import type { Scope } from '../shared/actor';
import { badInput, conflict, forbidden, isUniqueViolation, notFound, parseId, retryOnDeadlock } from '../shared/errors';
import type { EventPublisher, MessageView } from '../shared/events';
import { MENTIONS_MAX, pageSize, type Page } from '../shared/pagination';
import { pageBySeq, type SeqPageArgs } from './seq-page';
import { cleanText, hasControlChars } from '../shared/text';
import { validate, z } from '../shared/validate';
import { ConversationKind } from '../conversation/conversation.entity';
import { activeMembershipSql, listedConversationSql, ARCHIVED_MESSAGE, canReadContent, canSend, isArchived } from '../conversation/conversation.policy';
import type { ConversationService } from '../conversation/conversation.service';
import type { ConversationQueries, SendTarget } from '../conversation/conversation.queries';
import type { NotificationService } from '../notification/notification.service';
import { Message, MessageKind } from './message.entity';
import { mentionedNames } from './mentions';
import { canAttach, canDelete, canEdit, canPin, canPostNotice, isIn, isOwn, isSystem, withinEditWindow } from './message.policy';
import type { MemberRole } from '../conversation/conversation.entity';
import type { RateLimiter } from '../shared/rate-limit';
import { reindexMessage, unindexMessage } from '../search/search.index';
import { Attachment } from '../attachment/attachment.entity';
import { AttachmentService, type CheckedReference, type ExternalFile, type StoredFile, type UploadedFile } from '../attachment/attachment.service';
import {
  appendMessage,
  changeMessages,
  type SendGuard,
  type ThreadReply,
  lockForSend,
  lockLiveAuthor,
  nextChange,
  messageColumnsSql,
  recountThreads,
  RefusedUnderLock,
  rowToMessageView,
  toMessageView,
  type MessageRow,
} from './message.writer';

/** Longest message, in characters (Unicode code points), after removing control characters and trimming. */
export const MAX_CONTENT_LENGTH = 4000;

/**
 * Message text: stored as given (no HTML escaping; clients escape) except control characters
 * other than newline and tab, noncharacters and lone surrogates, which are removed
 * (shared/text.ts); then 1..4000 characters. Only control characters is empty, so refused.
 */
const content = cleanText({ min: 1, max: MAX_CONTENT_LENGTH, multiline: true });

const sendSchema = z.object({
  conversationId: z.union([z.string(), z.number()]).nullish(),
  recipientId: z.union([z.string(), z.number()]).nullish(),
  toSupport: z.boolean().nullish(),
  content: z.string(),
  replyToId: z.union([z.string(), z.number()]).nullish(),
  clientMessageId: z
    .string()
    .trim()
    .min(1)
    .max(128)
    .refine((s) => !hasControlChars(s), 'must not contain control characters')
    .nullish(),
  /** Files (GraphQL Upload promises or REST uploads); checked by AttachmentService. */
  attachments: z.array(z.any()).nullish(),
  /**
   * A file by reference instead of bytes (seed 003 `file_url`, `file_name`, `file_size`,
   * `message_type` image/file): the message is an IMAGE or FILE message with that one
   * attachment. Checked by AttachmentService.checkReference.
   */
  fileRef: z.object({ url: z.unknown(), fileName: z.unknown().optional(), size: z.unknown().optional(), kind: z.enum(['IMAGE', 'FILE']) }).nullish(),
  /** The host (host[:port]) the request reached this server by: a fileRef URL on it under /media/ is this server's own media. */
  serverHost: z.string().max(300).nullish(),
  /**
   * A notice: a SYSTEM message whose actor is the sender (seed 003 `message_type: "system"`), from
   * a room's OWNER or ADMIN only (message.policy.ts canPostNotice); no files.
   */
  notice: z.boolean().nullish(),
  /** Issue 32: reply in the thread of this root (a reply's id means its root). */
  threadRootId: z.union([z.string(), z.number()]).nullish(),
  /** Issue 32: show the thread reply in the main timeline too. */
  alsoSendToConversation: z.boolean().nullish(),
});

/** Content beside attachments: may be empty; cleaned like {@link content}. */
const captionContent = cleanText({ max: MAX_CONTENT_LENGTH, multiline: true });

/** What sendMessage takes (contract: SendMessageInput, attachments aside). */
export type SendInput = z.input<typeof sendSchema>;

/**
 * The one rule for new content (a send, an edit of one's own message, an attachment): the actor
 * may send there (canSend: not muted, an active member or staff in SUPPORT) and no block stands in
 * a DIRECT chat (SendTarget.blocked), and the other member of a DIRECT chat has not deleted
 * their account (issue 18: nobody would receive it; the chat stays readable). @throws FORBIDDEN.
 */
export function requireWritable(scope: Scope, target: SendTarget, what: 'send' | 'write'): void {
  const { conversation, membership } = target;
  if (isArchived(conversation)) throw forbidden(ARCHIVED_MESSAGE);
  if (!canSend(scope.actor, conversation, membership)) throw forbidden(membership?.isMuted ? 'You are muted in this conversation' : `You cannot ${what} here`);
  if (target.blocked) throw forbidden('You cannot chat with this user');
  if (target.partnerDeleted) throw forbidden('This user deleted their account: the chat is read-only');
}

/**
 * The rules of a send that passed its early checks, for appendMessage to check again under the
 * conversation's row lock (issue 27 §3): the membership (active, unmuted) the send relied on, the
 * notice's OWNER/ADMIN role unless staff, and in a DIRECT chat the other member (blocks, deletion).
 */
function sendGuard(scope: Scope, target: SendTarget, notice: boolean): SendGuard {
  const { conversation } = target;
  const ids = conversation.kind === ConversationKind.DIRECT ? (conversation.directKey ?? '').split(':').map(Number) : [];
  const partnerId = ids.find((id) => id !== scope.actor.id && Number.isInteger(id) && id > 0) ?? null;
  return { member: target.membership != null, manager: notice && !scope.actor.isStaff, partnerId };
}

/** A send whose checks passed (MessageService.checkSend). */
interface CheckedSend {
  data: z.output<typeof sendSchema>;
  files: (UploadedFile | Promise<UploadedFile>)[];
  /** The fileRef's attachment: an external link, or the facts of this server's file it links (shared bytes); with its kind. */
  reference: { file: ExternalFile | StoredFile; kind: 'IMAGE' | 'FILE' } | null;
  replyToId: number | null;
  target: SendTarget;
  /** Issue 32: a thread reply, and the thread's followers before it (who its notifications are for). */
  thread: { reply: ThreadReply; following: number[] } | null;
}

/** A send that forwards `from` (issue 31): its kind, its attachments (bytes shared) and forwardedFrom. */
interface Forward {
  from: Message;
}

const PIN_REFUSED = "You cannot pin here: in a room only its owner and admins pin, and muted members don't";

/** Typing indicators with expiry (realtime/state/typing.ts implements it). */
export interface TypingIndicators {
  start(conversationId: number, userId: number): void;
  stop(conversationId: number, userId: number): void;
}

/**
 * The bulk form of {@link MessageService.delete} for the account deletion (issue 18), inside its
 * transaction `tx`: every message `senderId` sent becomes a deleted one (content "", no mentions,
 * no idempotency key; `deletedAt` = `at` unless deleted already), each with its own next change
 * number of its conversation (changeMessages), so messagesSince and replay report the erasure like
 * any deletion. Messages already erased are left alone. One statement, however many messages.
 * No event: the caller publishes `message.deleted` for each row after commit.
 * @returns the erased rows.
 */
export function eraseMessagesOf(tx: EntityManager, senderId: number, at: Date): Promise<MessageRow[]> {
  return changeMessages(
    tx,
    `"sender_id" = ? and ("deleted_at" is null or "content" <> '' or "mention_ids" <> '[]'::jsonb or "client_message_id" is not null)`,
    `"content" = '', "mention_ids" = '[]'::jsonb, "client_message_id" = null, "pinned_at" = null, "pinned_by_id" = null, "deleted_at" = coalesce(m."deleted_at", ?::timestamptz)`,
    [senderId, at],
  );
}

/**
 * Messages: send (idempotent by clientMessageId), edit, soft delete, attachments added later,
 * history by seq (cursor pages, and offset ranges for the REST dialects), catch-up after a
 * reconnect, and typing. Read positions and unread counts are ReadStateService's. Who may do what
 * is decided by message.policy.ts and conversation.policy.ts.
 */
export class MessageService {
  constructor(
    private readonly events: EventPublisher,
    private readonly queries: ConversationQueries,
    private readonly conversations: ConversationService,
    private readonly notifications: NotificationService,
    private readonly typing: TypingIndicators,
    private readonly attachments: AttachmentService,
    private readonly limits: RateLimiter,
    /** Issue 31: MESSAGE_EDIT_WINDOW_S (null: none) and MAX_PINS_PER_CONVERSATION (default 50). */
    private readonly rules: { editWindowSec?: number | null; maxPins?: number } = {},
    /** Issue 34: the pushes and webhook events of sends, edits and deletions, queued in their transactions (inactive without push or webhooks). */
    private readonly pushes: PushOutbox = new PushOutbox(false),
  ) {}

  /**
   * Sends a message to `conversationId`, to `recipientId` through the DIRECT chat with that user
   * (created when needed, seed 004), or with `toSupport` to the actor's own SUPPORT thread
   * (created when needed, seed 002). A retry with the same clientMessageId returns the first
   * message, also when the two race. `@username` of a member is a mention (seed 003). Two
   * statements in the steady state (issue 12): the checks (SendTarget), then the message with the
   * sender's read position and the notifications, one commit. After it: message.added, the
   * sender's read receipt, and notificationAdded for each notification.
   * With `fileRef` (seed 003 file messages) the message is of its kind (IMAGE or FILE) with that
   * one attachment, written in the same transaction, and its content may be empty: an external
   * link (never fetched), or this server's own file when the URL names one the sender may see.
   * With `notice` the message is a SYSTEM notice with the actor as its actor (no sender), allowed
   * to a GROUP's or ROOM's OWNER and ADMINs (and staff): canPostNotice.
   * @throws BAD_USER_INPUT (content, reply, ids; fileUrl, fileName, fileSize: see
   *   AttachmentService.checkReference and linkOwnMedia), NOT_FOUND, FORBIDDEN (muted, blocked, a notice
   *   from a plain member), CONFLICT (key reused elsewhere),
   *   RATE_LIMITED (more than RATE_MESSAGES_PER_SEC a second).
   */
  async send(scope: Scope, input: SendInput, forward?: Forward): Promise<MessageView> {
    // The limiter's round trip (Redis) runs while the checks are read: nothing is written, and
    // nothing answered, before it allows the send (a refused send stays RATE_LIMITED whatever else).
    const allowance = this.limits.consume('message', String(scope.actor.id));
    allowance.catch(() => undefined);
    let checked: CheckedSend | { retry: MessageView };
    try {
      checked = await this.checkSend(scope, input, forward);
    } catch (err) {
      await allowance;
      throw err;
    }
    await allowance;
    if ('retry' in checked) return checked.retry;
    const { data, files, reference, replyToId, target, thread } = checked;
    const { conversation } = target;
    if (!target.membership && conversation.kind === ConversationKind.SUPPORT) await this.conversations.joinSupportAsStaff(scope, conversation);
    const mentionIds = await this.mentionsIn(scope, conversation.id, data.content);
    if (thread) thread.reply.followers = [...new Set([...thread.reply.followers, ...mentionIds])].filter((u) => u !== scope.actor.id);
    // Issue 32: a reply only in its thread notifies the thread's followers (mentions aside), not every member.
    const following = thread?.reply.only ? new Set(thread.following) : null;
    const notices = await this.notifications.noticesFor(
      scope.em,
      conversation.id,
      data.content,
      scope.actor.id,
      conversation.kind === ConversationKind.DIRECT ? null : (conversation.name ?? null),
      following ? target.recipients.filter((u) => following.has(u)) : target.recipients,
    );
    const stored = files.length ? await this.attachments.storeAll(files) : [];
    try {
      const newMessage = {
        conversationId: conversation.id,
        // A notice is the actor's SYSTEM message: no sender, the actor recorded (their read position moves past it).
        ...(data.notice ? { senderId: null, actorId: scope.actor.id } : { senderId: scope.actor.id }),
        kind: data.notice
          ? MessageKind.SYSTEM
          : forward
            ? forward.from.kind
            : reference
              ? MessageKind[reference.kind]
              : stored.length
                ? MessageKind[AttachmentService.kindOf(stored)]
                : MessageKind.TEXT,
        content: data.content,
        replyToId,
        clientMessageId: data.clientMessageId ?? null,
        mentionIds,
        notices,
        guard: sendGuard(scope, target, Boolean(data.notice)),
        forwardedFromId: forward?.from.id ?? null,
        thread: thread?.reply ?? null,
      };
      const direct = newMessage.guard.partnerId != null;
      // One statement (and one commit): the message, the sender's read position and the notifications.
      // With files, their rows join the same transaction: a message never lacks its attachment.
      // A DIRECT chat's send takes the conversation's lock first, so its statement sees a block
      // committed while it waited (issue 27 §3; SendGuard.partnerId).
      const { message, senderReadMoved, notifications, threadRoot } =
        !stored.length && !reference && !direct && !forward && !this.pushes.active
          ? await appendMessage(scope.em, newMessage)
          : // A forward locks the original's rows too: when an account deletion naming both chose it
            // as a deadlock's victim, the whole transaction runs again (issue 31).
            await retryOnDeadlock(() =>
              scope.em.transactional(async (tx) => {
                if (direct) await lockForSend(tx, scope.actor.id, conversation.id);
                const appended = await appendMessage(tx, newMessage);
                this.attachments.addRows(tx, appended.message.id, scope.actor.id, stored);
                if (reference) await this.attachments.addReference(tx, appended.message.id, scope.actor.id, reference.file);
                if (forward) await this.copyForwarded(tx, forward.from.id, appended.message.id, scope.actor.id);
                await this.pushes.messageAdded(tx, appended.message);
                return appended;
              }),
            );
      const view = toMessageView(message);
      this.typing.stop(view.conversationId, scope.actor.id);
      this.events.publish({ type: 'message.added', conversationId: view.conversationId, message: view });
      if (senderReadMoved) {
        this.events.publish({
          type: 'read.receipt',
          conversationId: view.conversationId,
          userId: scope.actor.id,
          lastReadSeq: view.seq,
          readAt: view.createdAt,
        });
      }
      this.notifications.published(notifications);
      // Issue 32: the root's thread summary changed with the reply (subscription messageUpdated).
      if (threadRoot) this.publishUpdated(rowToMessageView(threadRoot));
      return view;
    } catch (err) {
      await this.attachments.discard(stored);
      if (err instanceof RefusedUnderLock) await this.refuseAsChecked(scope, conversation.id, data);
      if (!data.clientMessageId || !isUniqueViolation(err)) throw err;
      // A concurrent retry with the same key committed first: answer with its message.
      const prior = await this.findByKey({ ...scope, em: scope.em.fork() }, data.clientMessageId);
      if (!prior) throw err;
      return this.checkRetry(scope, prior, data);
    }
  }

  /**
   * A send refused under the conversation's lock (RefusedUnderLock): throws what the send's early
   * checks now throw, read again (the rule that changed while it waited: NOT_FOUND after a
   * removal or ban from a conversation one may not read, FORBIDDEN when muted, blocked...);
   * FORBIDDEN when they pass again by now (e.g. unmuted right after).
   */
  private async refuseAsChecked(scope: Scope, conversationId: number, data: CheckedSend['data']): Promise<never> {
    const target = await this.queries.sendTarget({ ...scope, em: scope.em.fork() }, conversationId);
    requireWritable(scope, target, 'send');
    if (data.notice && !canPostNotice(scope.actor, target.conversation, target.membership)) {
      throw forbidden('Only the room\'s owner or an admin may send a system message (message_type "system"); send it as "text"');
    }
    throw forbidden('You cannot send here');
  }

  /**
   * The reads and checks of a send, before anything is written: validation, the conversation,
   * the one-statement SendTarget; a retry of an earlier send answers `retry`.
   * @throws as {@link send}.
   */
  private async checkSend(scope: Scope, input: SendInput, forward?: Forward): Promise<CheckedSend | { retry: MessageView }> {
    const data = validate(sendSchema, input);
    const files = (data.attachments ?? []) as (UploadedFile | Promise<UploadedFile>)[];
    if (files.length && data.fileRef) throw badInput('Give attachments or a file reference, not both', 'fileUrl');
    if (data.notice && (files.length || data.fileRef)) throw badInput('A notice carries no file', 'notice');
    // Pure checks of the reference first (scheme, lengths, name, size): nothing is read for a bad one.
    const checkedRef: CheckedReference | null = data.fileRef ? this.attachments.checkReference(data.fileRef, data.serverHost) : null;
    // A forwarded file message may have no caption, as its original.
    const withFile = files.length || checkedRef || (forward && forward.from.kind !== MessageKind.TEXT);
    data.content = withFile ? validate(captionContent, data.content, 'content') : validate(content, data.content, 'content');
    const targets = [data.conversationId != null, data.recipientId != null, Boolean(data.toSupport)].filter(Boolean).length;
    if (targets !== 1) throw badInput('Give exactly one of conversationId, recipientId and toSupport', 'conversationId');
    const replyToId = data.replyToId != null ? parseId(data.replyToId, 'replyToId') : null;
    let conversationId: number;
    if (data.conversationId != null) conversationId = parseId(data.conversationId, 'conversationId');
    else {
      // Addressed by recipient or to support: the retry is recognised before the conversation is opened.
      if (data.clientMessageId) {
        const prior = await this.findByKey(scope, data.clientMessageId);
        if (prior) return { retry: await this.checkRetry(scope, prior, data) };
      }
      if (data.recipientId != null) conversationId = (await this.conversations.openDirectWith(scope, { userId: data.recipientId })).id;
      else {
        const thread = await this.conversations.supportThread(scope);
        if (!thread) throw badInput('Staff answer support threads; they have none of their own', 'toSupport');
        conversationId = thread.id;
      }
    }
    // One statement: access, block, idempotency key, reply target and who could be notified.
    let target: SendTarget;
    try {
      target = await this.queries.sendTarget(scope, conversationId, { clientMessageId: data.clientMessageId, replyToId });
    } catch (err) {
      // A retry is answered with its first message even where the actor can no longer read.
      const prior = data.clientMessageId && data.conversationId != null ? await this.findByKey(scope, data.clientMessageId) : null;
      if (prior) return { retry: await this.checkRetry(scope, prior, data) };
      throw err;
    }
    if (target.prior) return { retry: await this.checkRetry(scope, target.prior, data) };
    const { conversation } = target;
    requireWritable(scope, target, 'send');
    if (data.notice && !canPostNotice(scope.actor, conversation, target.membership)) {
      throw forbidden('Only the room\'s owner or an admin may send a system message (message_type "system"); send it as "text"');
    }
    if (replyToId != null && target.replyConversationId !== conversation.id)
      throw badInput('replyToId must be a message of the same conversation', 'replyToId');
    const thread = await this.checkThread(scope, data, conversation.id);
    let reference: CheckedSend['reference'] = null;
    if (checkedRef) {
      if ('external' in checkedRef) {
        reference = { file: checkedRef.external, kind: checkedRef.kind };
      } else {
        // A file of this server has a sniffed type: its kind follows it (the uploads' rule), not the sender's message_type.
        const file = await this.attachments.linkOwnMedia(scope.em, scope.actor, checkedRef.ownMediaId, checkedRef.fileName);
        reference = { file, kind: AttachmentService.kindOf([file]) };
      }
    }
    return { data, files, reference, replyToId, target, thread };
  }

  /**
   * Issue 32: the thread a send replies in. `threadRootId` names the root or one of its replies
   * (then its root); the root must be a message of the send's conversation (deleted or not), not a
   * SYSTEM message. Reads the root and the thread's followers in one statement (the root's author
   * follows by default until they choose). Without threadRootId: null (alsoSendToConversation then refused).
   * @throws BAD_USER_INPUT (threadRootId: unknown, another conversation's, SYSTEM; a notice in a thread;
   *   alsoSendToConversation without threadRootId).
   */
  private async checkThread(scope: Scope, data: CheckedSend['data'], conversationId: number): Promise<CheckedSend['thread']> {
    if (data.threadRootId == null) {
      if (data.alsoSendToConversation) throw badInput('alsoSendToConversation needs threadRootId', 'alsoSendToConversation');
      return null;
    }
    const id = parseId(data.threadRootId, 'threadRootId');
    if (data.notice) throw badInput('A notice cannot be a thread reply', 'threadRootId');
    const [root] = await scope.em.execute<
      { id: number; conversation_id: number; kind: string; sender_id: number | null; following: number[]; author_chose: boolean }[]
    >(
      `select r."id", r."conversation_id", r."kind", r."sender_id",
              (select coalesce(json_agg(x."user_id"), '[]'::json) from "thread_reads" x where x."root_id" = r."id" and x."following") as "following",
              exists (select 1 from "thread_reads" x where x."root_id" = r."id" and x."user_id" = r."sender_id" and x."following" is not null) as "author_chose"
         from "messages" m join "messages" r on r."id" = coalesce(m."thread_root_id", m."id")
        where m."id" = ?`,
      [id],
    );
    if (!root || Number(root.conversation_id) !== conversationId) throw badInput('threadRootId must be a message of the same conversation', 'threadRootId');
    if (root.kind === MessageKind.SYSTEM) throw badInput('A system message has no thread', 'threadRootId');
    const author = root.sender_id == null ? null : Number(root.sender_id);
    const following = (root.following ?? []).map(Number);
    if (author != null && !root.author_chose) following.push(author);
    return {
      reply: { rootId: Number(root.id), only: !data.alsoSendToConversation, followers: author != null && author !== scope.actor.id ? [author] : [] },
      following: following.filter((u) => u !== scope.actor.id),
    };
  }

  /**
   * Replaces the content of a message: the sender's own, or any as staff (seed 004). Mentions are
   * recomputed (no new notifications). @throws FORBIDDEN (someone else's; SYSTEM), BAD_USER_INPUT
   * (deleted, also meanwhile; bad content), NOT_FOUND, UNAUTHENTICATED (the editor's account was
   * deleted meanwhile); FORBIDDEN in an archived conversation (conversation.policy isArchived).
   */
  async edit(scope: Scope, id: string, newContent: string): Promise<MessageView> {
    const { message, conversation } = await this.queries.visibleMessage(scope, id);
    const facts = toMessageView(message);
    if (isSystem(facts)) throw forbidden('System messages cannot be edited');
    // Archived: no edits, staff's included (its history is kept as it was).
    if (isArchived(conversation)) throw forbidden(ARCHIVED_MESSAGE);
    if (!canEdit(scope.actor, facts)) throw forbidden('Only the sender can edit a message');
    // The sender's own edit is new content: it needs what a send needs (staff moderating others' messages do not).
    if (isOwn(scope.actor, facts)) await this.requireMayWrite(scope, message);
    if (message.deletedAt) throw badInput('A deleted message cannot be edited', 'id');
    if (!withinEditWindow(scope.actor, facts, this.rules.editWindowSec)) {
      throw forbidden(`A message can be edited only within ${this.rules.editWindowSec} seconds of sending (MESSAGE_EDIT_WINDOW_S)`);
    }
    const text = validate(content, newContent, 'content');
    const mentionIds = await this.mentionsIn(scope, message.conversation.id, text, message.sender?.id);
    await scope.em.transactional(async (tx) => {
      // The editor's row first (the account deletion's order), then the conversation's: an edit
      // racing the editor's deletion is refused; one racing the erasure of the message (its
      // sender's deletion, or a delete) finds it deleted and writes nothing (issue 27).
      await lockLiveAuthor(tx, scope.actor.id);
      const change = await nextChange(tx, message.conversation.id);
      // Issue 27 §3: the send rights again under the conversation's lock (a mute, ban, removal or
      // block committed while the edit waited refuses it, as the early check would).
      if (isOwn(scope.actor, facts)) await this.requireMayWrite({ ...scope, em: tx }, message);
      // Issue 31: the version being replaced becomes a revision (read under the lock: a concurrent edit's text is kept).
      await this.keepRevision(tx, message.id);
      const changed = await tx.nativeUpdate(
        Message,
        { id: message.id, deletedAt: null },
        { content: text, editedAt: new Date(), editedBy: scope.actor.id, changeSeq: change, mentionIds },
      );
      if (!changed) throw badInput('A deleted message cannot be edited', 'id');
      await reindexMessage(tx, message.id, text);
      await this.notifications.messageChanged(tx, message.id, text);
      // Issue 34: message.updated to webhooks, in this transaction (an edit that rolls back queues nothing).
      await this.pushes.messageChanged(tx, 'message.updated', message.id);
    });
    await scope.em.refresh(message);
    const view = toMessageView(message);
    this.events.publish({ type: 'message.edited', conversationId: view.conversationId, message: view });
    this.publishUpdated(view);
    return view;
  }

  /**
   * Soft-deletes: content becomes "", the row (and its seq) stays. Sender, GROUP/ROOM OWNER/ADMIN,
   * or staff; never SYSTEM messages. Deleting twice returns the tombstone. An OWNER's or ADMIN's
   * right is read again under the conversation's row lock (issue 27 §3: demoted meanwhile, refused).
   * @throws FORBIDDEN, BAD_USER_INPUT (SYSTEM), NOT_FOUND.
   */
  async delete(scope: Scope, id: string): Promise<MessageView> {
    const { message, conversation, membership } = await this.queries.visibleMessage(scope, id);
    const facts = toMessageView(message);
    if (isSystem(facts)) throw badInput('System messages cannot be deleted', 'id');
    if (message.deletedAt) return facts;
    if (!canDelete(scope.actor, facts, conversation, membership)) throw forbidden('You cannot delete this message');
    // Only an OWNER's or ADMIN's right (not their own message, not staff) can change meanwhile.
    const asModerator = !isOwn(scope.actor, facts) && !scope.actor.isStaff;
    const roots = await scope.em.transactional(async (tx) => {
      const change = await nextChange(tx, message.conversation.id);
      // Issue 27 §3: under the conversation's lock (nextChange), a moderator demoted, removed or
      // banned while the delete waited (setRole and the others take that lock) is refused.
      if (asModerator) {
        const [still] = await tx.execute<{ id: number }[]>(
          `select "id" from "memberships" m where m."conversation_id" = ? and m."user_id" = ? and ${activeMembershipSql('m')} and m."role" in ('OWNER', 'ADMIN')`,
          [message.conversation.id, scope.actor.id],
        );
        if (!still) throw forbidden('You cannot delete this message');
      }
      // Issue 31: an edited message's last version joins its history (shown to staff only from now on); unpinned.
      await this.keepRevision(tx, message.id, true);
      await tx.nativeUpdate(Message, { id: message.id }, { content: '', deletedAt: new Date(), changeSeq: change, pinnedAt: null, pinnedBy: null });
      await unindexMessage(tx, message.id);
      await this.notifications.messageChanged(tx, message.id, null);
      await this.pushes.messageChanged(tx, 'message.deleted', message.id);
      // Issue 32: a thread's replyCount counts the replies not deleted.
      return message.threadRoot ? recountThreads(tx, [message.threadRoot.id]) : [];
    });
    await scope.em.refresh(message);
    const view = toMessageView(message);
    this.events.publish({ type: 'message.deleted', conversationId: view.conversationId, message: view });
    this.publishUpdated(view);
    for (const root of roots) this.publishUpdated(root);
    return view;
  }

  /**
   * Pins or unpins a message (issue 31, contract pinMessage); who may: message.policy canPin, read
   * again under the conversation's row lock (issue 27 §3). Idempotent: a message already in that
   * state is returned as it is (nothing written). A change takes the conversation's next change
   * number (messagesSince returns the re-pinned message). A deleted message is unpinned by its deletion.
   * @throws NOT_FOUND, FORBIDDEN (canPin; archived), BAD_USER_INPUT (pinning a deleted message),
   *   CONFLICT (MAX_PINS_PER_CONVERSATION messages pinned already).
   */
  async pin(scope: Scope, id: string, pinned: boolean): Promise<MessageView> {
    const { message, conversation, membership } = await this.queries.visibleMessage(scope, id);
    if (isArchived(conversation)) throw forbidden(ARCHIVED_MESSAGE);
    if (!canPin(scope.actor, conversation, membership)) throw forbidden(PIN_REFUSED);
    if (pinned && message.deletedAt) throw badInput('A deleted message cannot be pinned', 'id');
    if (Boolean(message.pinnedAt) === pinned) return toMessageView(message);
    const max = this.rules.maxPins ?? 50;
    const changed = await scope.em.transactional(async (tx) => {
      // The conversation's row lock (edits and deletes take it too), then the rule's facts again under
      // it, in a statement of their own: one statement that locks and reads would, on PostgreSQL,
      // re-read only the locked row after the wait and see the message's pin as it was before.
      await tx.execute('select 1 from "conversations" where "id" = ? for no key update', [conversation.id]);
      const [now] = await tx.execute<
        {
          archived_at: unknown;
          role: MemberRole | null;
          left_at: Date | null;
          is_banned: boolean;
          is_muted: boolean;
          pinned_at: unknown;
          deleted_at: unknown;
          pins: string;
        }[]
      >(
        `select c."archived_at", ms."role", ms."left_at", ms."is_banned", ms."is_muted", msg."pinned_at", msg."deleted_at",
                (select count(*) from "messages" p where p."conversation_id" = c."id" and p."pinned_at" is not null and p."deleted_at" is null) as "pins"
           from "conversations" c join "messages" msg on msg."id" = ? and msg."conversation_id" = c."id"
           left join "memberships" ms on ms."conversation_id" = c."id" and ms."user_id" = ?
          where c."id" = ?`,
        [message.id, scope.actor.id, conversation.id],
      );
      if (now.archived_at) throw forbidden(ARCHIVED_MESSAGE);
      const m = now.role == null ? null : { role: now.role, leftAt: now.left_at, isBanned: now.is_banned, isMuted: now.is_muted };
      if (!canPin(scope.actor, conversation, m)) throw forbidden(PIN_REFUSED);
      if (Boolean(now.pinned_at) === pinned) return false;
      if (pinned && now.deleted_at) throw badInput('A deleted message cannot be pinned', 'id');
      if (pinned && Number(now.pins) >= max) {
        throw conflict(`At most ${max} messages can be pinned in a conversation (MAX_PINS_PER_CONVERSATION): unpin one first`);
      }
      const change = await nextChange(tx, conversation.id);
      await tx.nativeUpdate(
        Message,
        { id: message.id },
        { pinnedAt: pinned ? new Date() : null, pinnedBy: pinned ? scope.actor.id : null, changeSeq: change, changedAt: new Date() },
      );
      return true;
    });
    await scope.em.refresh(message);
    const view = toMessageView(message);
    // Live (messageUpdated) and after reconnect (messagesSince, the outage replay: its change number and changed_at).
    if (changed) this.publishUpdated(view);
    return view;
  }

  /**
   * The pinned messages of a conversation the actor may read, newest pin first, at most
   * MAX_PINS_PER_CONVERSATION (issue 31, contract pinnedMessages); deleted ones are never pinned.
   * @throws NOT_FOUND.
   */
  async pinned(scope: Scope, conversationId: string): Promise<MessageView[]> {
    const { conversation } = await this.queries.access(scope, conversationId);
    const rows = await scope.em.execute<MessageRow[]>(
      `select * from "messages" where "conversation_id" = ? and "pinned_at" is not null and "deleted_at" is null order by "pinned_at" desc, "id" desc limit ?`,
      [conversation.id, this.rules.maxPins ?? 50],
    );
    return rows.map(rowToMessageView);
  }

  /**
   * Forwards a message the actor may see into `toConversationId` (issue 31, contract
   * forwardMessage) through {@link send}: every send rule applies there (bans, mutes, blocks,
   * archived, the rate limit) and clientMessageId makes it idempotent. The copy has the original's
   * kind, content and attachments (new rows sharing the stored bytes: AttachmentService.copyRows)
   * and forwardedFrom; the original is checked again under a lock in the send's transaction.
   * @throws NOT_FOUND (original or target not visible), BAD_USER_INPUT (deleted or SYSTEM original), and as send.
   */
  async forward(scope: Scope, id: string, toConversationId: string, clientMessageId?: string | null): Promise<MessageView> {
    const { message } = await this.queries.visibleMessage(scope, id);
    if (message.kind === MessageKind.SYSTEM) throw badInput('System messages cannot be forwarded', 'id');
    if (message.deletedAt) throw badInput('A deleted message cannot be forwarded', 'id');
    return this.send(scope, { conversationId: toConversationId, content: message.content, clientMessageId }, { from: message });
  }

  /** Inside a forward's transaction: the original, still not deleted (held FOR SHARE: a delete waits), lends its attachments. */
  private async copyForwarded(tx: EntityManager, fromId: number, toId: number, uploaderId: number): Promise<void> {
    const live = await tx.execute<{ id: number }[]>('select "id" from "messages" where "id" = ? and "deleted_at" is null for share', [fromId]);
    if (!live.length) throw badInput('A deleted message cannot be forwarded', 'id');
    await this.attachments.copyRows(tx, fromId, toId, uploaderId);
  }

  /**
   * Inside an edit's or delete's transaction, under the conversation's lock: the message's current
   * version becomes a revision (issue 31: its text, when and by whom it was written); for a delete
   * (`onlyEdited`) only when it was edited, so staff keep the whole history. Nothing for a deleted message.
   */
  private async keepRevision(tx: EntityManager, messageId: number, onlyEdited = false): Promise<void> {
    await tx.execute(
      `insert into "message_revisions" ("message_id", "content", "edited_at", "editor_id")
       select "id", "content", coalesce("edited_at", "created_at"), coalesce("edited_by_id", "sender_id") from "messages"
        where "id" = ? and "deleted_at" is null${onlyEdited ? ' and "edited_at" is not null' : ''}`,
      [messageId],
    );
  }

  /**
   * Announces a committed change of a message (issue 31): `message.updated` with the message as
   * it now is (subscription messageUpdated, once per change by its changeSeq). Call after the
   * commit of a change that took a change number (nextChange / markChanged in message.writer.ts):
   * reactions, edits, deletions, attachments, pins.
   */
  publishUpdated(view: MessageView): void {
    this.events.publish({ type: 'message.updated', conversationId: view.conversationId, message: view });
  }

  /**
   * Adds a file to the actor's own message (seed 004 attachments endpoint), within the per-message
   * file limit; the message counts as changed (messageEdited, messagesSince).
   * @throws NOT_FOUND (also when `inConversation` is given and the message is not in it), FORBIDDEN (not the sender), BAD_USER_INPUT (deleted message, file name),
   *   PAYLOAD_TOO_LARGE, UNSUPPORTED_MEDIA_TYPE.
   */
  async addAttachment(scope: Scope, messageId: string, file: UploadedFile | Promise<UploadedFile>, inConversation?: string | number): Promise<Attachment> {
    const { message, conversation } = await this.queries.visibleMessage(scope, messageId, 'messageId');
    if (isArchived(conversation)) throw forbidden(ARCHIVED_MESSAGE);
    // A URL naming the conversation too (seed 004) addresses only a message of that conversation.
    if (inConversation != null && !isIn(toMessageView(message), Number(inConversation))) throw notFound('Message');
    const facts = toMessageView(message);
    if (!canAttach(scope.actor, facts)) throw forbidden('Only the sender can add attachments');
    if (message.deletedAt) throw badInput('A deleted message cannot get attachments', 'messageId');
    // The sender's own attachment is new content (send rights); staff moderating do not need them, as for edits.
    if (isOwn(scope.actor, facts)) await this.requireMayWrite(scope, message);
    const existing = await scope.em.count(Attachment, { message: message.id });
    const [stored] = await this.attachments.storeAll([file], existing);
    let row: Attachment;
    try {
      row = await scope.em.transactional(async (tx) => {
        // As for edits: the uploader's row first, then the conversation's; a message erased
        // meanwhile (deleted, or its sender's account) gets no file (issue 27).
        await lockLiveAuthor(tx, scope.actor.id);
        const change = await nextChange(tx, message.conversation.id);
        // Issue 27 §3: the send rights again under the conversation's lock, as for edits.
        if (isOwn(scope.actor, facts)) await this.requireMayWrite({ ...scope, em: tx }, message);
        const changed = await tx.nativeUpdate(Message, { id: message.id, deletedAt: null }, { changeSeq: change, changedAt: new Date() });
        if (!changed) throw badInput('A deleted message cannot get attachments', 'messageId');
        const [created] = this.attachments.addRows(tx, message.id, scope.actor.id, [stored]);
        await this.pushes.messageChanged(tx, 'message.updated', message.id);
        return created;
      });
    } catch (err) {
      await this.attachments.discard([stored]);
      throw err;
    }
    await scope.em.refresh(message);
    const view = toMessageView(message);
    this.events.publish({ type: 'message.edited', conversationId: view.conversationId, message: view });
    this.publishUpdated(view);
    return row;
  }

  /** One message the actor may see. @throws NOT_FOUND. */
  async get(scope: Scope, id: string): Promise<MessageView> {
    return toMessageView((await this.queries.visibleMessage(scope, id)).message);
  }

  /**
   * History in ascending seq (seq-page.ts pageBySeq). `first`/`after` page forward, `last`/`before` page back;
   * with neither first nor last, the newest 50. At most 100 a page. Deleted messages are tombstones;
   * replies shown only in their thread are not in it (issue 32).
   * `replies` carries the messages the page replies to (read by the same statement), so a page
   * with its reply previews costs the access check and one query (issue 12: at most 4 with
   * senders and attachments).
   */
  async list(scope: Scope, conversationId: string, args: SeqPageArgs): Promise<Page<MessageView> & { replies: MessageView[] }> {
    const { conversation } = await this.queries.access(scope, conversationId);
    // Issue 32: the main timeline leaves out the replies shown only in their thread.
    const threads = (conversation.threadOnlyCount ?? 0) > 0;
    return pageBySeq(
      scope.em,
      {
        where: `m."conversation_id" = ?${threads ? ' and not m."thread_only"' : ''}`,
        params: [conversation.id],
        total: conversation.lastSeq - (conversation.threadOnlyCount ?? 0),
      },
      args,
    );
  }

  /**
   * Catch-up after a reconnect: messages with seq > afterSeq, plus older ones edited or deleted
   * after message `afterSeq` was written (deleted as tombstones), in change order, at most `limit`.
   */
  async since(scope: Scope, conversationId: string, afterSeq: number, limit = 100): Promise<MessageView[]> {
    const id = parseId(conversationId, 'conversationId');
    if (!Number.isInteger(afterSeq) || afterSeq < 0) throw badInput('afterSeq must be 0 or more', 'afterSeq');
    const size = pageSize(limit, 100, 100, 'limit');
    // One statement with its access check, rows mapped without ORM entities (a reconnect storm
    // asks this of every client): whether the conversation exists and the actor is an active
    // member there (the rule itself is conversation.policy's canReadContent), and the changes after the one that created
    // message `afterSeq` (none when there is no such message).
    // A prepared statement (src/db/prepared.ts): PostgreSQL parses and plans it once per connection.
    const [row] = await executePrepared<{ found: boolean; member: boolean; rows: MessageRow[] | null }[]>(
      scope.em,
      `with mark as (select "created_change" from "messages" where "conversation_id" = ? and "seq" = ?)
       select exists (select 1 from "conversations" where "id" = ?) as found,
              exists (select 1 from "memberships" ms where ms."conversation_id" = ? and ms."user_id" = ? and ${activeMembershipSql('ms')}) as member,
              (select json_agg(x order by x."change_seq") from (
                 select ${messageColumnsSql('m')} from "messages" m
                  where m."conversation_id" = ? and (?::int = 0 or exists (select 1 from mark))
                    and (m."seq" > ? or m."change_seq" > coalesce((select "created_change" from mark), 0))
                  order by m."change_seq" asc limit ?::int) x) as rows`,
      [id, afterSeq, id, id, scope.actor.id, id, afterSeq, afterSeq, size],
    );
    if (!row.found || !canReadContent(scope.actor, Boolean(row.member))) throw notFound('Conversation');
    return (row.rows ?? []).map(rowToMessageView);
  }

  /**
   * Tells the other members the actor is (or stopped) typing; an indicator not refreshed expires
   * after 5 s by itself (TypingTracker). Nothing is stored. @throws NOT_FOUND, FORBIDDEN.
   */
  async setTyping(scope: Scope, conversationId: string, isTyping: boolean): Promise<boolean> {
    const { conversation, membership } = await this.queries.access(scope, conversationId);
    if (!canSend(scope.actor, conversation, membership)) throw forbidden('You cannot send here');
    if (isTyping) this.typing.start(conversation.id, scope.actor.id);
    else this.typing.stop(conversation.id, scope.actor.id);
    return true;
  }

  /**
   * History with one user addressed by username (seed 000 `GET /api/chat/history/<username>/`):
   * the DIRECT conversation with them, opened on first use like {@link ConversationService.openDirectWith}
   * (which refuses a block either way), oldest first: at most `limit` (default 50, at most 100)
   * messages, those before message `before` (an id in that conversation) when given.
   * Returns `{ conversationId, messages }`.
   * @throws NOT_FOUND (no such user), FORBIDDEN (blocked), BAD_USER_INPUT (oneself, limit, before).
   */
  async directHistory(
    scope: Scope,
    username: string,
    args: { limit?: number | null; before?: string | number | null } = {},
  ): Promise<{ conversationId: number; messages: MessageView[] }> {
    const size = pageSize(args.limit, 50, 100, 'limit');
    const conversation = await this.conversations.openDirectWith(scope, { username: String(username ?? '') });
    let below: number | null = null;
    if (args.before != null) {
      const mark = await scope.em.findOne(Message, { id: parseId(args.before, 'before'), conversation: conversation.id }, { fields: ['seq'] });
      if (!mark) throw badInput('before must be a message of this conversation', 'before');
      below = mark.seq;
    }
    if (size === 0) return { conversationId: conversation.id, messages: [] };
    const rows = await scope.em.find(
      Message,
      { conversation: conversation.id, threadOnly: false, ...(below != null ? { seq: { $lt: below } } : {}) },
      { orderBy: { seq: 'desc' }, limit: size },
    );
    return { conversationId: conversation.id, messages: rows.reverse().map(toMessageView) };
  }

  /**
   * History by offset (the REST dialects' page/page_size and limit/offset): oldest first,
   * at most `limit` (default 20, at most 100) messages after skipping `offset`. `total` is the
   * conversation's message count (deleted ones included, as tombstones; thread-only replies not,
   * issue 32). seq is gap-free from 1, so a page is a seq range (no OFFSET scan) while the
   * conversation has no thread-only replies.
   * @throws NOT_FOUND (not the actor's to see), BAD_USER_INPUT (limit, offset).
   */
  async listRange(
    scope: Scope,
    conversationId: string,
    args: { offset?: number | null; limit?: number | null } = {},
  ): Promise<{ total: number; messages: MessageView[] }> {
    const { conversation } = await this.queries.access(scope, conversationId);
    const size = pageSize(args.limit, 20, 100, 'limit');
    const offset = args.offset ?? 0;
    if (!Number.isSafeInteger(offset) || offset < 0) throw badInput('offset must be 0 or more', 'offset');
    // Issue 32: replies shown only in their thread are not in the timeline; while there are none, a page is a seq range.
    const hidden = conversation.threadOnlyCount ?? 0;
    const total = conversation.lastSeq - hidden;
    if (size === 0 || offset >= total) return { total, messages: [] };
    const rows = hidden
      ? await scope.em.find(Message, { conversation: conversation.id, threadOnly: false }, { orderBy: { seq: 'asc' }, limit: size, offset })
      : await scope.em.find(Message, { conversation: conversation.id, seq: { $gt: offset, $lte: offset + size } }, { orderBy: { seq: 'asc' } });
    return { total, messages: rows.map(toMessageView) };
  }

  /**
   * Every message the actor may list, across conversations, oldest first by id: those of the
   * conversations the actor lists (an active member's, and for staff every SUPPORT thread; seed 002
   * `staff_room`), as seed 002's `ChatMessageViewSet` (its DRF router's `/api/chat/messages/`).
   * Deleted messages stay as tombstones (content ""), as in a conversation's history.
   * @param args `limit` (default 50, at most 100) and `offset` (DRF's LimitOffsetPagination).
   * @throws BAD_USER_INPUT (limit, offset).
   */
  async listVisible(scope: Scope, args: { offset?: number | null; limit?: number | null } = {}): Promise<MessageView[]> {
    const size = pageSize(args.limit, 50, 100, 'limit');
    const offset = args.offset ?? 0;
    if (!Number.isSafeInteger(offset) || offset < 0) throw badInput('offset must be 0 or more', 'offset');
    if (size === 0) return [];
    const rows = await scope.em.execute<MessageRow[]>(
      `select msg.* from "messages" msg
         join "conversations" c on c."id" = msg."conversation_id"
         left join "memberships" m on m."conversation_id" = c."id" and m."user_id" = ? and ${activeMembershipSql('m')}
        where ${listedConversationSql(scope.actor)} and not msg."thread_only"
        order by msg."id" asc limit ? offset ?`,
      [scope.actor.id, size, offset],
    );
    return rows.map(rowToMessageView);
  }

  /**
   * Ids of the active members named with `@username` in `text`, in order of first appearance,
   * the author excluded, at most MENTIONS_MAX (issue 27: each is a notification). One query, and
   * only when the text contains "@".
   */
  private async mentionsIn(scope: Scope, conversationId: number, text: string, authorId: number = scope.actor.id): Promise<number[]> {
    const names = mentionedNames(text);
    if (!names.length) return [];
    const rows = await scope.em.execute<{ id: number; username_key: string }[]>(
      `select u."id", u."username_key" from "users" u
         join "memberships" m on m."user_id" = u."id" and m."conversation_id" = ? and ${activeMembershipSql('m')}
        where u."username_key" in (select jsonb_array_elements_text(?::jsonb)) and u."id" <> ? and u."deleted_at" is null /* issue 18: a deleted account is mentioned by nobody */
          and not exists (select 1 from "contacts" k where k."status" = 'BLOCKED'
                and ((k."requester_id" = u."id" and k."addressee_id" = ?) or (k."requester_id" = ? and k."addressee_id" = u."id")))`,
      [conversationId, JSON.stringify(names), authorId, authorId, authorId],
    );
    const byName = new Map(rows.map((r) => [r.username_key, r.id]));
    return names
      .map((n) => byName.get(n))
      .filter((id): id is number => id != null)
      .slice(0, MENTIONS_MAX);
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

  /**
   * New content in the message's conversation from the actor (an edit, an attachment): allowed
   * where a send would be (not muted, an active member or staff in SUPPORT), and never in a
   * DIRECT chat with a block between the two (issue 13: muted means no new content of any kind,
   * and a block stops every way one user reaches the other). @throws FORBIDDEN.
   */
  private async requireMayWrite(scope: Scope, message: Message): Promise<void> {
    requireWritable(scope, await this.queries.sendTarget(scope, message.conversation.id), 'write');
  }
}
