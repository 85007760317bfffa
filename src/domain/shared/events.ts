/**
 * Domain events, published after commit by the service that made the change, carried by the
 * realtime bus (in memory, or Redis between instances). Payloads are plain JSON-safe data.
 */
export interface MessageView {
  id: number;
  conversationId: number;
  seq: number;
  senderId: number | null;
  /** SYSTEM messages: the user whose action it reports (null when none is recorded). */
  actorId: number | null;
  kind: 'TEXT' | 'IMAGE' | 'FILE' | 'SYSTEM';
  /** "" once deleted. */
  content: string;
  replyToId: number | null;
  clientMessageId: string | null;
  changeSeq: number;
  createdAt: string;
  editedAt: string | null;
  deletedAt: string | null;
  /** Users named with @username in the content. */
  mentionIds: number[];
  /** Issue 31: who wrote the current version when edited (null: the sender); pinned; the original of a forward. */
  editedById?: number | null;
  pinnedAt?: string | null;
  pinnedById?: number | null;
  forwardedFromId?: number | null;
  /** Issue 32: a thread reply's root; `threadOnly`: shown only in its thread (not in the main timeline). */
  threadRootId?: number | null;
  threadOnly?: boolean;
  /** Issue 32, on a thread root: replies not deleted, and the newest reply (when; its seq). Absent or null: never replied to. */
  threadReplyCount?: number;
  threadLastReplyAt?: string | null;
  threadLastReplySeq?: number | null;
}

/** A notification as events carry it (contract: Notification). */
export interface NotificationView {
  id: number;
  userId: number;
  kind: 'MESSAGE' | 'MENTION' | 'ROOM_INVITE' | 'SYSTEM';
  title: string;
  body: string;
  conversationId: number | null;
  messageId: number | null;
  readAt: string | null;
  createdAt: string;
}

/**
 * A user as `user.changed` events carry it (issue 18): the columns the User type and the dialects'
 * user shapes show, no password hash and no e-mail. Times are ISO strings.
 */
export interface UserView {
  id: number;
  username: string;
  firstName: string | null;
  lastName: string | null;
  /** Legacy external avatar URL (imported data). */
  avatarUrl: string | null;
  avatarKey: string | null;
  avatarThumbnailKey: string | null;
  avatarVersion: number;
  role: string | null;
  isStaff: boolean;
  score: number;
  rank: string | null;
  inGameIds: unknown[];
  lastSeenAt: string | null;
  createdAt: string;
  /** Issue 27 §5 (privacy): who sees the user's presence; whether their read receipts reach others. */
  presenceVisibility?: 'EVERYONE' | 'CONTACTS' | 'NOBODY';
  sendReadReceipts?: boolean;
  /** Issue 18 (account deletion, auth/account.service.ts): set (ISO) on a deleted account's tombstone; absent otherwise. */
  deletedAt?: string | null;
}

export type DomainEvent =
  | { type: 'message.added'; conversationId: number; message: MessageView }
  | { type: 'message.edited'; conversationId: number; message: MessageView }
  | { type: 'message.deleted'; conversationId: number; message: MessageView }
  /**
   * Issue 31: any change to what a message shows besides its creation (reactions, edits, deletion,
   * attachments; pins later), once per change (`message.changeSeq`), carrying the message as it now
   * is. Edits and deletions publish it besides message.edited / message.deleted.
   */
  | { type: 'message.updated'; conversationId: number; message: MessageView }
  | { type: 'typing'; conversationId: number; userId: number; isTyping: boolean }
  | {
      type: 'read.receipt';
      conversationId: number;
      userId: number;
      lastReadSeq: number;
      readAt: string;
      /** Issue 32: set on a receipt the delivery hub coalesced (large conversations): how many receipts of the last window it stands for, this one the newest. */
      coalescedCount?: number;
    }
  | { type: 'presence'; userId: number; status: 'ONLINE' | 'OFFLINE'; lastSeenAt: string | null }
  | { type: 'membership.changed'; conversationId: number; userId: number; active: boolean }
  /** A block between the two users was added or lifted. */
  | {
      type: 'contact.changed';
      userIds: [number, number];
      /** A connection was accepted (no block changed): the two are now in each other's presence audience. */ connected?: true;
    }
  /**
   * A user's row changed: rights (setUserStaff: open sockets act with the new rights at once) or
   * profile (updateProfile, setAvatar, removeAvatar). Every instance drops the user from its user
   * cache. `user` (the row as committed) is delivered to `userUpdated` subscribers; an event
   * without it is not. `profile: true` marks a profile change: its `isStaff` is only what the
   * row said, and live rights ignore it (a profile write racing setUserStaff must not undo it).
   */
  | { type: 'user.changed'; userId: number; isStaff: boolean; user?: UserView; profile?: true }
  /** A login was revoked (logout, refresh-token reuse): its open sockets close. */
  | { type: 'session.revoked'; sessionId: string; userId: number }
  /** Delivered to `recipientId` only. */
  | { type: 'notification.added'; recipientId: number; notification: NotificationView };

export type DomainEventType = DomainEvent['type'];
export type EventOf<T extends DomainEventType> = Extract<DomainEvent, { type: T }>;

/** Publishes domain events to every subscriber on every instance. */
export interface EventPublisher {
  publish(event: DomainEvent): void;
}
