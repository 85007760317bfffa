import type { EntityManager } from '@mikro-orm/postgresql';
import type { Scope } from '../shared/actor';
import { forbidden, notFound, parseId } from '../shared/errors';
import type { EventPublisher, NotificationView } from '../shared/events';
import { connectionFrom, decodeCursor, encodeCursor, pageSize, type Page } from '../shared/pagination';
import { cleanText } from '../shared/text';
import { validate, z } from '../shared/validate';
import { User, fullNameOf } from '../user/user.entity';
import { Notification } from './notification.entity';
import type { MessageNotices } from '../message/message.writer';
import type { UserCache } from '../user/user-cache';
import { activeMembershipSql } from '../conversation/conversation.policy';

/** A page of notifications plus the viewer's unread total (contract: NotificationConnection). */
export type NotificationPage = Page<NotificationView> & { unreadCount: number };

/** Longest notification body taken from a message, in characters. */
const PREVIEW_LENGTH = 200;
const CURSOR = 'ntf';

const noticeSchema = z.object({
  title: cleanText({ min: 1, max: 255 }),
  body: cleanText({ max: 4000, multiline: true }),
});

/** Row of the notifications table as raw SQL returns it. */
interface NotificationRow {
  id: number;
  user_id: number;
  kind: NotificationView['kind'];
  title: string;
  body: string;
  conversation_id: number | null;
  message_id: number | null;
  read_at: Date | string | null;
  created_at: Date | string;
}

const iso = (d: Date | string) => new Date(d).toISOString();

/** The plain view of a notification that queries and events share. */
export function toNotificationView(n: Notification | NotificationRow): NotificationView {
  if (n instanceof Notification) {
    const ref = (x: unknown) => (x == null ? null : (x as { id: number }).id);
    return {
      id: n.id,
      userId: ref(n.user)!,
      kind: n.kind,
      title: n.title,
      body: n.body,
      conversationId: ref(n.conversation),
      messageId: ref(n.message),
      readAt: n.readAt ? n.readAt.toISOString() : null,
      createdAt: n.createdAt.toISOString(),
    };
  }
  return {
    id: n.id,
    userId: n.user_id,
    kind: n.kind,
    title: n.title,
    body: n.body,
    conversationId: n.conversation_id,
    messageId: n.message_id,
    readAt: n.read_at ? iso(n.read_at) : null,
    createdAt: iso(n.created_at),
  };
}

/**
 * Notifications (seed 003): MESSAGE for members who are not watching the conversation live,
 * MENTION for members named with @username, ROOM_INVITE when added to a group or room, SYSTEM for
 * staff notices. A message's are written by the send's own statement (one INSERT ... SELECT
 * whatever the member count); each new one is published to its recipient (`notificationAdded`).
 */
export class NotificationService {
  /**
   * @param watchersOf users watching a conversation live on any instance (they get no MESSAGE
   *   notification; mentions notify them anyway); `candidates` lists the members who could get one.
   */
  constructor(
    private readonly events: EventPublisher,
    private readonly watchersOf: (conversationId: number, candidates: readonly number[]) => Promise<number[]>,
    /** Senders' names from memory (UserCache); without it, read from PostgreSQL. */
    private readonly users?: UserCache,
  ) {}

  /** The actor's notifications, newest first. @throws BAD_USER_INPUT (page size, cursor). */
  async list(scope: Scope, args: { unreadOnly?: boolean | null; first?: number | null; after?: string | null }): Promise<NotificationPage> {
    const size = pageSize(args.first, 20, 100, 'first');
    const where: Record<string, unknown> = { user: scope.actor.id, ...(args.unreadOnly ? { readAt: null } : {}) };
    const [totalCount, unreadCount] = await Promise.all([
      scope.em.count(Notification, where),
      scope.em.count(Notification, { user: scope.actor.id, readAt: null }),
    ]);
    const page: Record<string, unknown> = { ...where };
    if (args.after) {
      const [id] = decodeCursor(args.after, CURSOR, 'after', 1);
      page.id = { $lt: parseId(id, 'after') };
    }
    const rows = await scope.em.find(Notification, page, { orderBy: { id: 'desc' }, limit: size + 1 });
    const views = await this.withoutUnreadable(scope, rows.map(toNotificationView));
    const conn = connectionFrom(views, size, (n) => encodeCursor(CURSOR, n.id), totalCount, Boolean(args.after));
    return { ...conn, unreadCount };
  }

  /**
   * The views with `conversationId`/`messageId` cleared where the actor can no longer read that
   * conversation (removed, banned, left; staff read everything), so no adapter shows a
   * conversation the actor lost access to.
   */
  private async withoutUnreadable(scope: Scope, views: NotificationView[]): Promise<NotificationView[]> {
    if (scope.actor.isStaff) return views;
    const ids = [...new Set(views.map((v) => v.conversationId).filter((c): c is number => c != null))];
    if (!ids.length) return views;
    const rows = await scope.em.execute<{ conversation_id: number }[]>(
      `select m."conversation_id" from "memberships" m
        where m."user_id" = ? and ${activeMembershipSql('m')} and m."conversation_id" in (${ids.map(() => '?').join(', ')})`,
      [scope.actor.id, ...ids],
    );
    const readable = new Set(rows.map((r) => Number(r.conversation_id)));
    return views.map((v) => (v.conversationId == null || readable.has(v.conversationId) ? v : { ...v, conversationId: null, messageId: null }));
  }

  /** Marks one of the actor's notifications read (idempotent). @throws NOT_FOUND for anyone else's. */
  async markRead(scope: Scope, id: string): Promise<NotificationView> {
    const n = await scope.em.findOne(Notification, { id: parseId(id, 'id'), user: scope.actor.id });
    if (!n) throw notFound('Notification');
    if (!n.readAt) {
      n.readAt = new Date();
      await scope.em.flush();
    }
    return (await this.withoutUnreadable(scope, [toNotificationView(n)]))[0];
  }

  /** Marks all of the actor's notifications read; returns how many changed. */
  async markAllRead(scope: Scope): Promise<number> {
    return scope.em.nativeUpdate(Notification, { user: scope.actor.id, readAt: null }, { readAt: new Date() });
  }

  /** A staff notice to one user (kind SYSTEM). @throws FORBIDDEN unless staff, NOT_FOUND, BAD_USER_INPUT. */
  async notice(scope: Scope, userId: string, input: { title: string; body: string }): Promise<NotificationView> {
    if (!scope.actor.isStaff) throw forbidden('Only staff can send notices');
    const data = validate(noticeSchema, input);
    const user = await scope.em.findOne(
      User,
      { id: parseId(userId, 'userId'), deletedAt: null /* issue 18: no notice to a deleted account */ },
      { fields: ['id'] },
    );
    if (!user) throw notFound('User');
    // Issue 27: written only while the account still exists (the deletion erases notifications; one inserted after it would stay).
    const [row] = await scope.em.execute<NotificationRow[]>(
      `insert into "notifications" ("user_id", "kind", "title", "body", "created_at")
       select "id", 'SYSTEM', ?, ?, now() from "users" where "id" = ? and "deleted_at" is null for share returning *`,
      [data.title, data.body, user.id],
    );
    if (!row) throw notFound('User');
    const view = toNotificationView(row);
    this.publish([view]);
    return view;
  }

  /**
   * The notifications of a message about to be sent (seed 003), written by the send's own
   * statement (appendMessage with `notices`): MENTION for mentioned active members, MESSAGE for
   * the other active members who are not muted and not watching live; never the sender.
   * `recipients` are the members who could get a MESSAGE notification (active, not muted, not the
   * sender: SendTarget.recipients); those not watching live go to `notify` (who watches: memory,
   * plus one pipelined Redis lookup for watchers on other instances).
   */
  async noticesFor(
    em: EntityManager,
    conversationId: number,
    content: string,
    senderId: number,
    conversationName: string | null,
    recipients: readonly number[],
  ): Promise<MessageNotices> {
    const sender =
      (this.users ? await this.users.get(em, senderId) : null) ??
      (await em.findOneOrFail(User, { id: senderId }, { fields: ['username', 'firstName', 'lastName'] }));
    const who = fullNameOf(sender);
    const where = conversationName ? ` in ${conversationName}` : '';
    return {
      mentionTitle: `${who} mentioned you${where}`,
      messageTitle: `${who}${where}`,
      body: [...content].slice(0, PREVIEW_LENGTH).join(''),
      notify: await this.notWatching(conversationId, recipients),
    };
  }

  private async notWatching(conversationId: number, recipients: readonly number[]): Promise<number[]> {
    if (!recipients.length) return [];
    const watching = new Set(await this.watchersOf(conversationId, recipients));
    return recipients.filter((u) => !watching.has(u));
  }

  /**
   * A message's text changed: its notifications' copies follow (issue 13: an edit shows the new
   * preview, a deletion leaves no text behind). Call inside the edit's or deletion's transaction.
   * `content` null: deleted (the body becomes empty).
   */
  async messageChanged(tx: EntityManager, messageId: number, content: string | null): Promise<void> {
    await tx.nativeUpdate(Notification, { message: messageId }, { body: content == null ? '' : [...content].slice(0, PREVIEW_LENGTH).join('') });
  }

  /**
   * Whether `userId` watches `conversationId` live on any instance (a messageAdded subscription):
   * such a user gets no reaction notification (issue 31).
   */
  async isWatching(conversationId: number, userId: number): Promise<boolean> {
    return (await this.watchersOf(conversationId, [userId])).includes(userId);
  }

  /**
   * A reaction to `recipientId`'s message (issue 31), inside the reaction's transaction (under the
   * conversation's lock, so two reactions never both insert): coalesced per message, one unread
   * notification (kind MESSAGE, the message's own sender as recipient: never a send's
   * notification) whose title names the latest reactor; a new one only when none is unread.
   * Nobody is notified while not an active member, nor across a block either way. The reactor's
   * name comes from the user cache. Returns the new notification to publish after the commit
   * (null when an unread one was updated or nobody is notified). Two statements at most.
   */
  async reacted(
    tx: EntityManager,
    n: { recipientId: number; reactorId: number; emoji: string; conversationId: number; messageId: number; content: string },
  ): Promise<NotificationView | null> {
    const reactor =
      (this.users ? await this.users.get(tx, n.reactorId) : null) ??
      (await tx.findOneOrFail(User, { id: n.reactorId }, { fields: ['username', 'firstName', 'lastName'] }));
    const title = [...`${fullNameOf(reactor)} reacted ${n.emoji} to your message`].slice(0, 255).join('');
    const rows = await tx.execute<NotificationRow[]>(
      `with ok as (select 1 from "memberships" m where m."conversation_id" = ? and m."user_id" = ? and ${activeMembershipSql('m')}
                     and not exists (select 1 from "contacts" k where k."status" = 'BLOCKED'
                       and ((k."requester_id" = ? and k."addressee_id" = ?) or (k."requester_id" = ? and k."addressee_id" = ?)))),
            prior as (update "notifications" set "title" = ? where "user_id" = ? and "message_id" = ? and "kind" = 'MESSAGE' and "read_at" is null
                        and exists (select 1 from ok) returning "id")
       insert into "notifications" ("user_id", "kind", "title", "body", "conversation_id", "message_id", "created_at")
       select ?, 'MESSAGE', ?, ?, ?, ?, now() where exists (select 1 from ok) and not exists (select 1 from prior)
       returning *`,
      [
        n.conversationId,
        n.recipientId,
        n.recipientId,
        n.reactorId,
        n.reactorId,
        n.recipientId,
        title,
        n.recipientId,
        n.messageId,
        n.recipientId,
        title,
        [...n.content].slice(0, PREVIEW_LENGTH).join(''),
        n.conversationId,
        n.messageId,
      ],
    );
    return rows.length ? toNotificationView(rows[0]) : null;
  }

  /** Publishes notifications a send wrote (raw rows of appendMessage), each to its recipient. */
  published(rows: readonly Record<string, unknown>[]): void {
    this.publish(rows.map((r) => toNotificationView(r as unknown as NotificationRow)));
  }

  /** ROOM_INVITE for users added to a group or room by `inviter`, published at once. One statement. */
  async onInvite(em: EntityManager, conversation: { id: number; name?: string | null }, userIds: number[], inviter: string): Promise<void> {
    this.publish(await this.writeInvites(em, conversation, userIds, inviter));
  }

  /**
   * Writes the ROOM_INVITE notifications of {@link onInvite} inside the caller's transaction `tx`
   * and returns them unpublished: the caller hands them to {@link publishViews} after its commit
   * (issue 27: an add refused or rolled back under its lock invites nobody). One statement.
   */
  async writeInvites(tx: EntityManager, conversation: { id: number; name?: string | null }, userIds: number[], inviter: string): Promise<NotificationView[]> {
    if (!userIds.length) return [];
    const name = conversation.name ?? 'a conversation';
    const rows = await tx.execute<NotificationRow[]>(
      `insert into "notifications" ("user_id", "kind", "title", "body", "conversation_id", "created_at")
       select (u.id)::int, 'ROOM_INVITE', ?, ?, ?, now() from (select jsonb_array_elements_text(?::jsonb) as id) u
       returning *`,
      [`${inviter} added you to ${name}`, name, conversation.id, JSON.stringify(userIds)],
    );
    return rows.map(toNotificationView);
  }

  /** Publishes notifications written by {@link writeInvites}, each to its recipient (after the commit). */
  publishViews(views: readonly NotificationView[]): void {
    this.publish([...views]);
  }

  private publish(views: NotificationView[]): void {
    for (const notification of views) this.events.publish({ type: 'notification.added', recipientId: notification.userId, notification });
  }
}
