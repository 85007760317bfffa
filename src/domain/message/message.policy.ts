import type { Actor } from '../shared/actor';
import type { MessageView } from '../shared/events';
import type { Conversation } from '../conversation/conversation.entity';
import { activeMembershipSql, canManage } from '../conversation/conversation.policy';
import type { Membership } from '../conversation/membership.entity';

/**
 * Who may change a message, and what of it is shown: pure functions, the one place these rules
 * are decided (issue 14). Visibility of the conversation itself is conversation.policy.ts's.
 * Sources: api-contract.graphql (editMessage, deleteMessage, Message fields), seed 004 (staff
 * edit and delete any message), seed 001/003 (admins delete in groups and rooms).
 */

/** The facts of a message these rules read. */
export type MessageFacts = Pick<MessageView, 'kind' | 'senderId' | 'deletedAt' | 'conversationId'>;

/** SYSTEM messages are the server's: nobody edits or deletes them. */
export function isSystem(m: Pick<MessageView, 'kind'>): boolean {
  return m.kind === 'SYSTEM';
}

/** The actor wrote it. */
export function isOwn(actor: Actor, m: Pick<MessageView, 'senderId'>): boolean {
  return m.senderId === actor.id;
}

/** Editing: the sender, or staff (seed 004); never a SYSTEM message. An own edit is new content and also needs the send rights (canSend). */
export function canEdit(actor: Actor, m: MessageFacts): boolean {
  return !isSystem(m) && (isOwn(actor, m) || actor.isStaff);
}

/**
 * Deleting: the sender, staff in any conversation (seed 004), or an OWNER/ADMIN of the GROUP or
 * ROOM (conversation.policy's canManage); never a SYSTEM message.
 */
export function canDelete(actor: Actor, m: MessageFacts, c: Conversation, membership: Membership | null | undefined): boolean {
  return !isSystem(m) && (isOwn(actor, m) || actor.isStaff || canManage(actor, c, membership));
}

/**
 * Posting a notice (a SYSTEM message in one's own name; seed 003 `message_type: "system"`, issue 28
 * item 6): whoever manages the GROUP or ROOM (conversation.policy's canManage: its OWNER or an
 * ADMIN, or staff); never in a DIRECT or SUPPORT chat. The send rights (canSend) apply too.
 */
export function canPostNotice(actor: Actor, c: Conversation, membership: Membership | null | undefined): boolean {
  return canManage(actor, c, membership);
}

/** Adding attachments to a message: its sender, or staff (seed 004: staff are exempt from ownership checks, as for edits); never a SYSTEM message. */
export function canAttach(actor: Actor, m: MessageFacts): boolean {
  return !isSystem(m) && (isOwn(actor, m) || actor.isStaff);
}

/** A deleted message shows no attachments and no mentions (its content is ""). */
export function showsContent(m: Pick<MessageView, 'deletedAt'>): boolean {
  return m.deletedAt == null;
}

/** The reply target is shown only when it is a message of the same conversation (sends enforce it; old rows and forged ids are not trusted). */
export function showsReply(m: Pick<MessageView, 'conversationId'>, target: Pick<MessageView, 'conversationId'> | null | undefined): boolean {
  return target != null && target.conversationId === m.conversationId;
}

/**
 * Read by someone else: an active member other than its sender whose read position reached it
 * (seed 004 `is_read`; GraphQL Message.isRead), not counting members who turned read receipts off
 * (`sendsReceipts` false; issue 27 §5: their reading is not shown to others).
 */
export function isReadByOthers(
  m: Pick<MessageView, 'senderId' | 'seq'>,
  readers: readonly { userId: number; lastReadSeq: number; sendsReceipts?: boolean | null }[],
): boolean {
  return readers.some((r) => r.userId !== m.senderId && r.sendsReceipts !== false && r.lastReadSeq >= m.seq);
}

/**
 * "Seen by" (issue 32, contract Message.seenBy/seenCount), derived from read positions (no row per
 * message): `reader` has seen message `m`, as shown to the viewer, when they are an active member
 * now (a member removed, departed or banned after reading no longer counts), their read position
 * covers the message, they are not its sender, they send read receipts (privacy.sendReadReceipts;
 * issue 27 §5) and no block stands between them and the viewer, either way. The viewer themselves
 * counts like anyone else. The same rule in SQL: {@link seenBySql} (which also skips deleted accounts).
 */
export function isSeenBy(
  m: Pick<MessageView, 'senderId' | 'seq'>,
  reader: { userId: number; lastReadSeq: number; active: boolean; sendsReceipts?: boolean | null; blockedWithViewer: boolean },
): boolean {
  return reader.active && reader.userId !== m.senderId && reader.lastReadSeq >= m.seq && reader.sendsReceipts !== false && !reader.blockedWithViewer;
}

/**
 * Who sees a message's seen-by (issue 32 "only members see seen-by"): active members of its
 * conversation. Staff reading a conversation without a membership see none (empty seenBy,
 * seenCount 0): their moderation reads no one's reading.
 */
export function showsSeenBy(viewerIsActiveMember: boolean): boolean {
  return viewerIsActiveMember;
}

/**
 * Whether seenBy lists the readers (issue 32 "large conversations"): only in a conversation of at
 * most `maxMembers` active members (SEEN_BY_MAX_MEMBERS, default 100); above it seenBy is empty
 * and only seenCount is given.
 */
export function listsSeenBy(activeMembers: number, maxMembers: number): boolean {
  return activeMembers <= maxMembers;
}

/**
 * SQL of {@link isSeenBy}: membership `m` (its user joined as `u`) has seen message `msg` (same
 * conversation assumed), as shown to the user `viewerId`.
 */
export function seenBySql(msg: string, m: string, u: string, viewerId: number): string {
  const viewer = Number(viewerId);
  return `${activeMembershipSql(m)} and ${m}."last_read_seq" >= ${msg}."seq" and ${m}."user_id" is distinct from ${msg}."sender_id"
    and ${u}."send_read_receipts" and ${u}."deleted_at" is null
    and not exists (select 1 from "contacts" sk where sk."status" = 'BLOCKED'
          and ((sk."requester_id" = ${viewer} and sk."addressee_id" = ${m}."user_id") or (sk."requester_id" = ${m}."user_id" and sk."addressee_id" = ${viewer})))`;
}

/** A URL that names both a conversation and a message (seed 004 `/conversations/{cid}/messages/{mid}/...`) addresses it only when the message is in that conversation. */
export function isIn(m: Pick<MessageView, 'conversationId'>, conversationId: number): boolean {
  return m.conversationId === conversationId;
}

/**
 * Pinning (issue 31): in DIRECT, GROUP and SUPPORT chats any active member; in a ROOM its OWNER
 * or an ADMIN; staff anywhere. A muted member does not pin (issue 13: muted changes nothing the
 * others see). The membership may be a partial row read under a lock.
 */
export function canPin(
  actor: Actor,
  c: Pick<Conversation, 'kind'>,
  m: Pick<Membership, 'role' | 'leftAt' | 'isBanned' | 'isMuted'> | null | undefined,
): boolean {
  if (actor.isStaff) return true;
  if (!m || m.leftAt || m.isBanned || m.isMuted) return false;
  return c.kind !== 'ROOM' || m.role === 'OWNER' || m.role === 'ADMIN';
}

/**
 * The edit window (issue 31, MESSAGE_EDIT_WINDOW_S): a sender edits within `windowSec` seconds of
 * sending (null: no limit, as the seeds allow); staff moderating are not limited.
 */
export function withinEditWindow(actor: Actor, m: Pick<MessageView, 'createdAt'>, windowSec: number | null | undefined, now = Date.now()): boolean {
  return actor.isStaff || windowSec == null || now - Date.parse(m.createdAt) <= windowSec * 1000;
}

/** Edit history (issue 31): shown while the message is not deleted; staff keep seeing a deleted message's history (moderation). */
export function showsRevisions(actor: Pick<Actor, 'isStaff'> | null | undefined, m: Pick<MessageView, 'deletedAt'>): boolean {
  return m.deletedAt == null || Boolean(actor?.isStaff);
}
